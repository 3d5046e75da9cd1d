"""The training losses: schedules, the shared-source pass, and the three terms."""

import pytest
import torch

from speech_proactive.config import TaskSpec
from speech_proactive.model.frontend import log_mel
from speech_proactive.training.batch import Example, collate, even_frames
from speech_proactive.training.losses import LossConfig, compute_losses, shared_forward, source_lengths, topk_kl
from speech_proactive.training.schedules import allocation_weights, sample_schedule, units_to_vectors


# -- schedules ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("m,n", [(0, 1), (1, 1), (7, 3), (30, 12), (3, 20)])
def test_schedule_monotone_and_complete(m, n):
    g = torch.Generator().manual_seed(0)
    for _ in range(50):
        phi = sample_schedule(m, n, g)
        assert len(phi) == n and int(phi[-1]) == m and int(phi[0]) >= 0
        assert bool((phi[1:] >= phi[:-1]).all())


def test_skew_shifts_mass():
    g = torch.Generator().manual_seed(0)
    mean = {
        s: torch.stack([sample_schedule(40, 10, g, s) for _ in range(300)]).float().mean(0)[:-1].mean()
        for s in (-2.0, 0.0, 2.0)
    }
    assert mean[2.0] > mean[0.0] + 3 and mean[0.0] > mean[-2.0] + 3  # positive skew reads earlier
    assert torch.isclose(allocation_weights(5, 0.0), torch.full((5,), 0.2)).all()


def test_random_allocation_spreads_a_short_targets_first_read():
    """One answer token + EOS over 20 chunks: the fixed allocation trains the answer on prefixes near half the
    audio only; the random one on every prefix length, equally often (uniform over monotone schedules)."""
    g = torch.Generator().manual_seed(0)
    n = 4000
    fixed = torch.stack([sample_schedule(20, 2, g) for _ in range(n)])[:, 0]
    spread = torch.stack([sample_schedule(20, 2, g, random_allocation=True) for _ in range(n)])
    assert bool((spread[:, 1] == 20).all())
    counts = torch.bincount(spread[:, 0], minlength=21).float()
    assert len(counts) == 21 and bool((counts > 0.6 * n / 21).all()) and bool((counts < 1.4 * n / 21).all())
    assert float(((fixed <= 4) | (fixed >= 16)).float().mean()) < 0.02  # the fixed w almost never goes there
    for m, k in [(0, 1), (7, 3), (30, 12)]:
        phi = sample_schedule(m, k, g, random_allocation=True)
        assert len(phi) == k and int(phi[-1]) == m and bool((phi[1:] >= phi[:-1]).all())


def test_units_to_vectors_caps_partial_last_chunk():
    assert units_to_vectors(torch.tensor([0, 1, 3]), 4, 10).tolist() == [0, 4, 10]


# -- shared pass --------------------------------------------------------------------------------------------
def make_batch(model, speech):
    task = TaskSpec("st", "en", "de")
    texts = ["der alte mann liest ein buch", "die kinder spielen"]
    cuts = [len(speech), len(speech) // 2]
    examples = [
        Example(
            even_frames(log_mel(speech[:c])),
            model.prompt_ids(task),
            model.target_ids(t),
            model.transcript_ids("the old man reads a book"),
        )
        for c, t in zip(cuts, texts)
    ]
    return collate(examples)


def test_shared_pass_equals_separate_passes(model, speech):
    batch = make_batch(model, speech)
    n_vec = source_lengths(model, batch.n_mel_frames)
    g = torch.Generator().manual_seed(3)
    schedules = [[sample_schedule(int(n), len(t) - 1, g) for _ in range(2)] for n, t in zip(n_vec, batch.targets)]
    with torch.no_grad():
        shared = shared_forward(model, batch, LossConfig(n_students=2), schedules=schedules)
        offset = 0
        for b in range(len(batch)):
            mel = batch.mel[b : b + 1, :, : int(batch.n_mel_frames[b])]
            source = model.adapter(model.encoder.forward_blockwise(mel))[0]
            assert len(source) == int(n_vec[b])
            inputs, t = batch.targets[b][:-1], len(batch.targets[b]) - 1
            full = torch.full((t,), len(source))
            alone = model.lm.forward_sequence(batch.prompts[b], source, inputs, full).logits[0]
            torch.testing.assert_close(shared.teacher[offset : offset + t], alone, atol=1e-5, rtol=1e-5)
            for c in range(2):
                alone = model.lm.forward_sequence(batch.prompts[b], source, inputs, schedules[b][c]).logits[0]
                torch.testing.assert_close(shared.students[c][offset : offset + t], alone, atol=1e-5, rtol=1e-5)
            offset += t


def test_spsd_zero_when_student_sees_everything(model, speech):
    batch = make_batch(model, speech)
    n_vec = source_lengths(model, batch.n_mel_frames)
    full = [[torch.full((len(t) - 1,), int(n))] for n, t in zip(n_vec, batch.targets)]
    with torch.no_grad():
        out = shared_forward(model, batch, LossConfig(), schedules=full)
    assert topk_kl(out.teacher, out.students[0], 100).abs() < 1e-5
    assert topk_kl(out.teacher, out.students[0] + torch.randn_like(out.students[0]), 100) > 1e-3


def test_ablation_switches(model, speech):
    batch = make_batch(model, speech)
    with torch.no_grad():
        only_batch = compute_losses(model, batch, LossConfig(mslm=False, spsd=False))
        full = compute_losses(model, batch, LossConfig(), torch.Generator().manual_seed(0))
    assert only_batch.mslm == 0 and only_batch.spsd == 0 and torch.isclose(only_batch.total, only_batch.batch)
    assert torch.isclose(full.batch, only_batch.batch)  # the teacher copy is the same whatever else runs
    assert full.mslm > 0 and full.spsd > 0
    assert torch.isclose(full.total, full.batch + full.mslm + 0.1 * full.spsd)
    with torch.no_grad():
        with_ctc = compute_losses(model, batch, LossConfig(ctc_weight=0.5), torch.Generator().manual_seed(0))
    assert with_ctc.ctc > 0 and torch.isclose(with_ctc.total, full.total + 0.5 * with_ctc.ctc)


def test_one_step_decreases_loss(speech):
    from helpers import tiny_model

    model = tiny_model(seed=1).train()
    batch = make_batch(model, speech)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    cfg = LossConfig()
    before = compute_losses(model, batch, cfg, torch.Generator().manual_seed(0)).total
    for _ in range(3):
        opt.zero_grad()
        compute_losses(model, batch, cfg, torch.Generator().manual_seed(0)).total.backward()
        opt.step()
    after = compute_losses(model, batch, cfg, torch.Generator().manual_seed(0)).total
    assert after < before - 0.1


def test_ctc_warmup_touches_only_the_audio_side(model, speech):
    from speech_proactive.training.losses import ctc_only

    batch = make_batch(model, speech)
    model.zero_grad(set_to_none=True)
    terms = ctc_only(model, batch)
    terms.total.backward()
    assert terms.total > 0 and torch.isclose(terms.total, terms.ctc)
    assert all(p.grad is None for p in model.lm.parameters())
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.encoder.parameters())
    model.zero_grad(set_to_none=True)


def test_text_warmup_is_the_llm_on_the_source_text(model, speech):
    """L_batch with the transcript's token embeddings as the source, as one forward_sequence per example
    computes it; only the LLM gets a gradient."""
    import torch.nn.functional as F

    from speech_proactive.training.losses import text_only

    task = TaskSpec("st", "en", "de")
    pairs = [("the old man reads a book", "der alte Mann liest ein Buch"), ("we play", "wir spielen")]
    examples = [
        Example(
            even_frames(log_mel(speech[:8000])),
            model.prompt_ids(task),
            model.target_ids(t),
            model.transcript_ids(s),
            model.text_ids(s),
        )
        for s, t in pairs
    ]
    batch = collate(examples)
    model.zero_grad(set_to_none=True)
    terms = text_only(model, batch)
    terms.total.backward()
    nll = []
    with torch.no_grad():
        for s, t in pairs:
            src, tgt = model.text_ids(s), model.target_ids(t)
            out = model.lm.forward_sequence(
                model.prompt_ids(task), model.lm.embed(src), tgt[:-1], torch.full((len(tgt) - 1,), len(src))
            )
            nll.append(F.cross_entropy(out.logits[0], tgt[1:], reduction="sum"))
    n_tokens = sum(len(model.target_ids(t)) - 1 for _, t in pairs)
    torch.testing.assert_close(terms.batch.detach(), sum(nll) / n_tokens, rtol=1e-5, atol=1e-5)
    assert all(p.grad is None for p in model.encoder.parameters())
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.lm.parameters())
    model.zero_grad(set_to_none=True)


def test_token_adapter_trains_its_vocabulary_head_with_ctc(speech):
    from helpers import tiny_model

    model = tiny_model(adapter_output="tokens").train()
    task = TaskSpec("st", "en", "de")
    src = "the old man reads a book"
    examples = [
        Example(
            even_frames(log_mel(speech)),
            model.prompt_ids(task),
            model.target_ids("der alte mann"),
            model.transcript_ids(src),
            model.text_ids(src),
        )
    ]
    terms = compute_losses(model, collate(examples), LossConfig(ctc_weight=1.0), torch.Generator().manual_seed(0))
    terms.total.backward()
    assert terms.ctc > 0
    assert model.adapter.to_vocab.weight.grad is not None and model.adapter.to_vocab.weight.grad.abs().sum() > 0
