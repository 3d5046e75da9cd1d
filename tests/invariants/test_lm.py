"""Invariant: the incremental READ/WRITE loop over one KV cache gives the batch logits of the streaming mask."""

import pytest
import torch
from helpers import HF_D, hf_model

from speech_proactive.model.llm import group_positions
from speech_proactive.model.llm.group_positions import Entries
from speech_proactive.model.llm.streaming_lm import LMState, StreamingLM

D = HF_D  # the hidden size of the LLMs hf_model builds


def _llm(family: str) -> StreamingLM:
    return StreamingLM(hf_model(family), target_position_offset=0)


def random_schedule(g: torch.Generator, n_source: int, n_target: int) -> torch.Tensor:
    return torch.sort(torch.randint(0, n_source + 1, (n_target,), generator=g)).values


def stream(lm: StreamingLM, prefix, source, target, vis, g) -> torch.Tensor:
    """Incremental loop: read source in random pieces, speculatively write and undo as a policy would."""
    st, n, outs = LMState(), 0, []
    lm.start(st, prefix)
    for t in range(len(target)):
        while n < int(vis[t]):
            k = min(int(vis[t]) - n, int(torch.randint(1, 4, (1,), generator=g)))
            lm.write(st, int(target[t]))  # peek at the next-token distribution ...
            lm.unwrite(st)  # ... then decide to READ: the peeked entry must leave no trace
            lm.read(st, source[n : n + k])
            n += k
        outs.append(lm.write(st, int(target[t])).logits[0, 0])
    lm.read(st, source[n:])  # trailing audio after the last token changes nothing already written
    return torch.stack(outs)


@pytest.mark.parametrize("family", ["qwen2", "llama"])
@pytest.mark.parametrize("seed", range(4))
def test_streaming_equals_batch(family, seed):
    lm = _llm(family)
    g = torch.Generator().manual_seed(seed)
    P, S, T = int(torch.randint(1, 6, (1,), generator=g)), int(torch.randint(1, 30, (1,), generator=g)), 8
    prefix, target = torch.randint(0, 97, (P,), generator=g), torch.randint(0, 97, (T,), generator=g)
    source = torch.randn(S, D, generator=g)
    vis = random_schedule(g, S, T)
    with torch.no_grad():
        batch = lm.forward_sequence(prefix, source, target, vis).logits[0]
        streamed = stream(lm, prefix, source, target, vis, g)
    torch.testing.assert_close(streamed, batch, atol=1e-5, rtol=1e-5)


def test_schedule_matters():
    """Guard against a mask that is silently ignored: different schedules must give different logits."""
    lm = _llm("qwen2")
    prefix, source, target = torch.tensor([1, 2]), torch.randn(12, D), torch.tensor([5, 6, 7])
    with torch.no_grad():
        early = lm.forward_sequence(prefix, source, target, torch.tensor([0, 1, 2])).logits
        late = lm.forward_sequence(prefix, source, target, torch.tensor([12, 12, 12])).logits
    assert not torch.allclose(early, late, atol=1e-4)


def test_shared_source_copies_equal_separate_passes():
    """[prompt ; source ; target copy 0 ; copy 1] in one pass == each copy in its own pass (used by training)."""
    lm = _llm("qwen2")
    prefix, source, target = torch.tensor([3, 4, 5]), torch.randn(10, D), torch.tensor([7, 8, 9, 10])
    full, partial = torch.full((4,), 10), torch.tensor([1, 3, 3, 8])
    entries = group_positions.sequence(3, 10, [full, partial])
    embeds = torch.cat([lm.embed(prefix), source, lm.embed(target), lm.embed(target)])[None]
    with torch.no_grad():
        shared = lm.run(embeds, [entries], [entries], [3]).logits[0, 13:]
        sep_full = lm.forward_sequence(prefix, source, target, full).logits[0]
        sep_partial = lm.forward_sequence(prefix, source, target, partial).logits[0]
    torch.testing.assert_close(shared[:4], sep_full, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(shared[4:], sep_partial, atol=1e-5, rtol=1e-5)


def test_mask_rules():
    e = group_positions.sequence(2, 3, [torch.tensor([1, 3])])
    a = group_positions.allowed(e, e)
    src, tgt = slice(2, 5), slice(5, 7)
    assert not a[src, tgt].any()  # source never sees target
    assert a[:, :2][2:].all()  # everyone after the prompt sees the whole prompt
    assert a[src, src].equal(torch.tril(torch.ones(3, 3, dtype=torch.bool)))  # source is causal
    assert a[5, src].tolist() == [True, False, False] and a[6, src].tolist() == [True, True, True]
    assert a[5, 6].item() is False and a[6, 5].item() is True  # target causal within its copy
    positions = e.positions(n_prefix=2)
    assert positions.tolist() == [0, 1, 2, 3, 4, 2, 3]  # source and target groups both start after the prompt


def test_pad_entries_are_invisible_and_safe():
    e = group_positions.sequence(1, 2, [torch.tensor([2])]).cat(Entries.group(group_positions.PAD, 2))
    a = group_positions.allowed(e, e)
    assert not a[:4, 4:].any() and a.any(dim=1).all()  # nobody sees PAD; every row sees something


@pytest.mark.parametrize("bad", [torch.tensor([2, 1]), torch.tensor([0, 4]), torch.tensor([-1, 0])])
def test_bad_schedule_rejected(bad):
    with pytest.raises(ValueError, match="schedule"):
        group_positions.sequence(1, 3, [bad])


def test_unwrite_refuses_source():
    lm = _llm("qwen2")
    st = LMState()
    with torch.no_grad():
        lm.start(st, torch.tensor([1]))
        lm.read(st, torch.randn(2, D))
    with pytest.raises(RuntimeError, match="not all target"):
        lm.unwrite(st)


@pytest.mark.parametrize("family", ["qwen2", "llama"])
def test_fused_read_and_peek_equals_read_then_write(family):
    """A session peeks right after each READ in one forward: outputs, attention rows and the cache after an
    unwrite must be those of read() then write()."""
    lm = _llm(family)
    g = torch.Generator().manual_seed(3)
    prefix, source = torch.tensor([1, 2, 3]), torch.randn(9, D, generator=g)
    with torch.no_grad():
        fused, split = LMState(), LMState()
        for st in (fused, split):
            lm.start(st, prefix)
            lm.read(st, source[:4])
            lm.write(st, 7)
        a = lm.read_and_write(fused, source[4:], 11, attentions=True)
        lm.read(split, source[4:])
        b = lm.write(split, 11, attentions=True)
        torch.testing.assert_close(a.logits, b.logits, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(a.hidden, b.hidden, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(lm.source_attention(fused, a), lm.source_attention(split, b), atol=1e-5, rtol=1e-5)
        assert (fused.n_source, fused.n_target) == (split.n_source, split.n_target) == (9, 2)
        lm.unwrite(fused)  # the policy said READ: the peeked token leaves no trace
        lm.unwrite(split)
        lm.read(fused, source[:2])
        lm.read(split, source[:2])
        torch.testing.assert_close(lm.write(fused, 5).logits, lm.write(split, 5).logits, atol=1e-5, rtol=1e-5)
