"""Invariant: streaming over graphed_lm's static cache gives what the lean forward gives, call for call; on a GPU,
a replayed CUDA graph gives what the uncaptured step gives."""

import numpy as np
import pytest
import torch
from helpers import hf_model, lm_session

from speech_proactive.model.llm import graphed_steps
from speech_proactive.model.llm.streaming_lm import LMState, StreamingLM
from speech_proactive.streaming.session import Session


def _assert_same_outputs(graphed: list, lean: list, atol: float = 1e-5) -> int:
    n_attn = 0
    for a, b in zip(graphed, lean, strict=True):
        if a is None or isinstance(a, torch.Tensor):
            assert (a is None) == (b is None)
            if a is not None:
                torch.testing.assert_close(a, b, atol=atol, rtol=1e-5)
            continue
        torch.testing.assert_close(a.logits, b.logits, atol=atol, rtol=1e-5)
        torch.testing.assert_close(a.hidden, b.hidden, atol=atol, rtol=1e-5)
        assert (a.attentions is None) == (b.attentions is None)
        for wa, wb in zip(a.attentions or (), b.attentions or (), strict=True):
            assert wa.shape == wb.shape  # sliced to the stream's keys, not the buffer's capacity
            torch.testing.assert_close(wa, wb, atol=1e-6, rtol=1e-5)
            n_attn += 1
    return n_attn


@pytest.mark.parametrize("family", ["qwen2", "llama"])
def test_static_cache_equals_lean(family):
    """Reads, peeks with attention weights, undos and writes, with a capacity small enough that the buffers
    grow twice during the stream (entries copied, rotary table rebuilt)."""
    model = hf_model(family)
    graphed = StreamingLM(model, lean=True)
    graphed.set_graphs(True, capacity=8)
    with torch.no_grad():
        a = lm_session(graphed, torch.Generator().manual_seed(1))
        b = lm_session(StreamingLM(model, lean=True), torch.Generator().manual_seed(1))
    assert graphed._graphs.capacity > 8
    assert _assert_same_outputs(a, b) >= 4


def test_a_new_stream_takes_the_cache_over():
    lm = StreamingLM(hf_model("qwen2"), lean=True)
    lm.set_graphs(True)
    first, second = LMState(), LMState()
    with torch.no_grad():
        lm.start(first, torch.tensor([1, 2, 3]))
        lm.read(first, torch.randn(2, 32))
        lm.start(second, torch.tensor([1, 2]))
        assert second.cache.get_seq_length() == 2
        with pytest.raises(RuntimeError, match="one stream per model"):
            lm.read(first, torch.randn(2, 32))
        with pytest.raises(RuntimeError, match="one stream per model"):
            first.cache.crop(-1)


def test_graphs_need_the_lean_forward():
    with pytest.raises(ValueError, match="lean"):
        StreamingLM(hf_model("qwen2"), lean=False).set_graphs(True)


def test_graphed_session_writes_what_a_plain_session_writes(model):
    """The whole streaming path (encoder, adapter, policy, peeks and undos) on the static cache."""
    from speech_proactive.streaming.policies import WaitK

    samples = np.random.default_rng(0).standard_normal(16000 * 3).astype(np.float32) * 0.1
    tokens = []
    for graphs in (False, True):
        model.lm.set_graphs(graphs, capacity=16)
        try:
            session = Session(model, WaitK(k=2))
            for start in range(0, len(samples), 5120):
                session.push_audio(samples[start : start + 5120], finished=start + 5120 >= len(samples))
            tokens.append(list(session.state.tokens))
        finally:
            model.lm.set_graphs(False)
    assert tokens[0] and tokens[0] == tokens[1]


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_replayed_graphs_equal_uncaptured_steps():
    model = hf_model("qwen2").cuda()
    lm = StreamingLM(model, lean=True)
    outs = []
    for capture in (True, False):
        lm._graphs = graphed_steps.GraphedSteps(model, lm._rope, 0, capacity=8, capture=capture)
        with torch.inference_mode():
            outs.append(lm_session(lm, torch.Generator().manual_seed(1), device="cuda"))
        if capture:
            assert lm._graphs._graphs, "no step was captured"
    _assert_same_outputs(*outs, atol=1e-4)
