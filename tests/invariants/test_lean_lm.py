"""Invariant: the lean streaming forward (lean_lm) gives what the Hugging Face forward gives, call for call."""

import pytest
import torch
from helpers import HF_COMMON, HF_D, hf_model, lm_session
from transformers import Qwen2Config, Qwen2ForCausalLM, Qwen3Config, Qwen3ForCausalLM

from speech_proactive.model.llm import lean_forward
from speech_proactive.model.llm.streaming_lm import StreamingLM


@pytest.mark.parametrize("family", ["qwen2", "llama"])
def test_lean_equals_hugging_face(family):
    model = hf_model(family)
    assert lean_forward.supports(model)
    with torch.no_grad():
        lean = lm_session(StreamingLM(model, lean=True), torch.Generator().manual_seed(1))
        hf = lm_session(StreamingLM(model, lean=False), torch.Generator().manual_seed(1))
    n_attn = 0
    for a, b in zip(lean, hf):
        if a is None or isinstance(a, torch.Tensor):
            assert (a is None) == (b is None)
            if a is not None:
                torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)
            continue
        torch.testing.assert_close(a.logits, b.logits, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(a.hidden, b.hidden, atol=1e-5, rtol=1e-5)
        assert (a.attentions is None) == (b.attentions is None)
        for wa, wb in zip(a.attentions or (), b.attentions or ()):
            assert wa.shape == wb.shape and wa.shape[2] == 1
            torch.testing.assert_close(wa, wb, atol=1e-6, rtol=1e-5)
            n_attn += 1
    assert n_attn >= 4  # the comparison covered attention weights, not only logits


def test_lean_is_the_default_where_supported():
    assert StreamingLM(hf_model("qwen2")).lean
    cfg = Qwen3Config(**HF_COMMON, head_dim=8)
    qwen3 = Qwen3ForCausalLM(cfg).eval()
    assert not lean_forward.supports(qwen3)  # per-head q/k norms: not the layout lean_lm reproduces
    assert not StreamingLM(qwen3).lean
    with pytest.raises(ValueError, match="qwen3"):
        StreamingLM(qwen3, lean=True)


def test_sliding_window_layers_are_not_lean():
    cfg = Qwen2Config(**HF_COMMON, use_sliding_window=True, sliding_window=8, max_window_layers=0)
    assert any(t == "sliding_attention" for t in cfg.layer_types)
    assert not lean_forward.supports(Qwen2ForCausalLM(cfg))


def test_rope_table_rows_equal_the_rotary_module():
    """The table is built once and indexed per step: its rows must be the module's own, also after it grows."""
    rotary = hf_model("qwen2").get_decoder().rotary_emb
    table = lean_forward.RopeTable(rotary)
    x = torch.zeros(1, 1, HF_D)
    for positions in (torch.tensor([0, 5, 2]), torch.arange(250, 260), torch.tensor([700, 3])):
        cos, sin = table(x, positions)
        ref_cos, ref_sin = rotary(x, positions[None])
        assert torch.equal(cos, ref_cos) and torch.equal(sin, ref_sin)
    assert len(table.cos) > 700  # it grew past its first allocation


def test_lean_computes_unmerged_lora_layers():
    """During a LoRA run the projections are peft wrappers whose `weight` is the frozen base weight: the lean
    path must run the wrapper (base + low-rank update), as the Hugging Face forward does. Dev evaluation
    streams through it while training."""
    from speech_proactive.model.lora import LoRAConfig, add_lora

    model = hf_model("qwen2")
    add_lora(model, LoRAConfig(r=4, alpha=8, targets=("q_proj", "v_proj", "gate_proj")))
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_B" in name:  # peft starts B at zero, which would hide a skipped update
                p.normal_(0, 0.5, generator=torch.Generator().manual_seed(2))
        lean = lm_session(StreamingLM(model, lean=True), torch.Generator().manual_seed(1))
        hf = lm_session(StreamingLM(model, lean=False), torch.Generator().manual_seed(1))
        base = lm_session(StreamingLM(hf_model("qwen2"), lean=False), torch.Generator().manual_seed(1))
    outputs = [(a, b, c) for a, b, c in zip(lean, hf, base) if a is not None and not isinstance(a, torch.Tensor)]
    for a, b, _ in outputs:
        torch.testing.assert_close(a.logits, b.logits, atol=1e-5, rtol=1e-5)
    assert not torch.allclose(outputs[-1][0].logits, outputs[-1][2].logits, atol=1e-3)  # the update shows
