"""Invariant: the lean streaming forward (lean_lm) gives what the Hugging Face forward gives, call for call."""

import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM, Qwen3Config, Qwen3ForCausalLM

from speech_proactive.model.llm import lean_forward
from speech_proactive.model.llm.streaming_lm import LMState, StreamingLM

D = 32
COMMON = dict(vocab_size=97, hidden_size=D, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
              num_key_value_heads=2, max_position_embeddings=512)


def _model(family: str):
    torch.manual_seed(0)
    if family == "qwen2":
        return Qwen2ForCausalLM(Qwen2Config(**COMMON)).eval()
    return LlamaForCausalLM(LlamaConfig(**COMMON)).eval()


def _session(lm: StreamingLM, g: torch.Generator, device: str = "cpu") -> list:
    """A policy's calls: prompt, reads, peeks with attention, undos, writes; every output kept."""
    st, outs = LMState(), []
    lm.start(st, torch.randint(0, 97, (3,), generator=g).to(device))
    for step in range(6):
        vectors = torch.randn(int(torch.randint(1, 5, (1,), generator=g)), D, generator=g).to(device)
        token = int(torch.randint(0, 97, (1,), generator=g))
        if step % 3 == 2:
            lm.read(st, vectors)
            peek = lm.write(st, token, attentions=True)
        else:
            peek = lm.read_and_write(st, vectors, token, attentions=step % 2 == 0)
        outs += [peek, lm.source_attention(st, peek) if peek.attentions else None]
        if step % 3 != 2:
            lm.unwrite(st)
            outs.append(lm.write(st, token))
    assert st.cache.get_seq_length() == len(st.entries)
    return outs


@pytest.mark.parametrize("family", ["qwen2", "llama"])
def test_lean_equals_hugging_face(family):
    model = _model(family)
    assert lean_forward.supports(model)
    with torch.no_grad():
        lean = _session(StreamingLM(model, lean=True), torch.Generator().manual_seed(1))
        hf = _session(StreamingLM(model, lean=False), torch.Generator().manual_seed(1))
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
    assert StreamingLM(_model("qwen2")).lean
    cfg = Qwen3Config(**COMMON, head_dim=8)
    qwen3 = Qwen3ForCausalLM(cfg).eval()
    assert not lean_forward.supports(qwen3)  # per-head q/k norms: not the layout lean_lm reproduces
    assert not StreamingLM(qwen3).lean
    with pytest.raises(ValueError, match="qwen3"):
        StreamingLM(qwen3, lean=True)


def test_sliding_window_layers_are_not_lean():
    cfg = Qwen2Config(**COMMON, use_sliding_window=True, sliding_window=8, max_window_layers=0)
    assert any(t == "sliding_attention" for t in cfg.layer_types)
    assert not lean_forward.supports(Qwen2ForCausalLM(cfg))


def test_rope_table_rows_equal_the_rotary_module():
    """The table is built once and indexed per step: its rows must be the module's own, also after it grows."""
    rotary = _model("qwen2").get_decoder().rotary_emb
    table = lean_forward.RopeTable(rotary)
    x = torch.zeros(1, 1, D)
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
    model = _model("qwen2")
    add_lora(model, LoRAConfig(r=4, alpha=8, targets=("q_proj", "v_proj", "gate_proj")))
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_B" in name:  # peft starts B at zero, which would hide a skipped update
                p.normal_(0, 0.5, generator=torch.Generator().manual_seed(2))
        lean = _session(StreamingLM(model, lean=True), torch.Generator().manual_seed(1))
        hf = _session(StreamingLM(model, lean=False), torch.Generator().manual_seed(1))
        base = _session(StreamingLM(_model("qwen2"), lean=False), torch.Generator().manual_seed(1))
    outputs = [(a, b, c) for a, b, c in zip(lean, hf, base) if a is not None and not isinstance(a, torch.Tensor)]
    for a, b, _ in outputs:
        torch.testing.assert_close(a.logits, b.logits, atol=1e-5, rtol=1e-5)
    assert not torch.allclose(outputs[-1][0].logits, outputs[-1][2].logits, atol=1e-3)  # the update shows
