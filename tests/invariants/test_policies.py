"""Policies are pure functions of hand-built views; the scores they read in a stream equal the batch model's."""

import dataclasses
import shutil

import pytest
import torch

from speech_proactive.config import DecodeOptions, TaskSpec
from speech_proactive.data.manifest import read_manifest
from speech_proactive.model.frontend import log_mel
from speech_proactive.streaming import calibrate
from speech_proactive.streaming.policies import (
    Action,
    Attention,
    Entropy,
    HoldN,
    LocalAgreement,
    Offline,
    Oracle,
    Policy,
    PolicyView,
    WaitK,
    make_policy,
    token_entropy,
)
from speech_proactive.streaming.session import Session

READ, WRITE = Action.READ, Action.WRITE


def view(**kw) -> PolicyView:
    return PolicyView(**{"n_chunks_read": 1, "source_finished": False, "n_written": 0, **kw})


def test_offline_and_wait_k():
    assert Offline().decide(view()) is READ and Offline().decide(view(source_finished=True)) is WRITE
    p = WaitK(k=2, per_chunk=2)
    assert p.decide(view(n_chunks_read=1)) is READ
    assert p.decide(view(n_chunks_read=2, n_written=1)) is WRITE
    assert p.decide(view(n_chunks_read=2, n_written=2)) is READ
    assert p.decide(view(n_chunks_read=3, n_written=3)) is WRITE
    assert p.decide(view(n_chunks_read=1, source_finished=True)) is WRITE
    with pytest.raises(ValueError, match="k >= 1"):
        WaitK(k=0)


def test_entropy_reads_while_uncertain():
    flat, peaked = torch.zeros(50), torch.tensor([10.0] + [0.0] * 49)
    assert abs(float(token_entropy(flat)) - torch.log(torch.tensor(50.0)).item()) < 1e-5
    p = Entropy(threshold=1.0)
    assert p.decide(view(next_logits=flat)) is READ
    assert p.decide(view(next_logits=peaked)) is WRITE
    assert p.decide(view(next_logits=flat, source_finished=True)) is WRITE


def test_attention_reads_while_looking_at_the_newest_audio():
    p = Attention(threshold=0.5, recent_vectors=2)
    on_new = torch.tensor([0.05, 0.05, 0.1, 0.8])
    settled = torch.tensor([0.6, 0.3, 0.05, 0.05])
    assert p.score(view(source_attention=on_new)) == pytest.approx(0.9)
    assert p.decide(view(source_attention=on_new)) is READ
    assert p.decide(view(source_attention=settled)) is WRITE


def test_re_decoding_baselines():
    a, b, c = (1, 2), (3,), (4, 5)
    assert HoldN(n=1).decide(view(continuation=(a, b))) is WRITE  # commits all but the last word
    assert HoldN(n=1).decide(view(continuation=(a,))) is READ
    la = LocalAgreement()
    assert la.decide(view(continuation=(a, b), previous_continuation=(a, c))) is WRITE
    assert la.decide(view(continuation=(a, b), previous_continuation=(c, b))) is READ
    assert la.decide(view(continuation=(a,), previous_continuation=())) is READ  # first chunk: nothing to agree with


def test_oracle_writes_each_word_at_its_ideal_time():
    p = Oracle(ideal_ms=(500.0, 1300.0))
    assert p.decide(view(heard_ms=320.0)) is READ
    assert p.decide(view(heard_ms=640.0)) is WRITE
    assert p.decide(view(heard_ms=640.0, n_words_written=1)) is READ
    assert p.decide(view(heard_ms=1600.0, n_words_written=2)) is READ  # beyond the reference: wait for the end


def test_make_policy_names_the_choices():
    assert make_policy("entropy", threshold=0.5) == Entropy(0.5)
    with pytest.raises(ValueError, match="local-agreement"):
        make_policy("wait_k")


@dataclasses.dataclass(frozen=True)
class Recording(Policy):
    """Records what it was shown (test only: a real policy has no side effects); mixes READs and WRITEs."""

    seen: list = dataclasses.field(default_factory=list, compare=False)
    needs_logits = True
    needs_attention = True

    def decide(self, v: PolicyView) -> Action:
        self.seen.append(v)
        return READ if v.n_written >= 2 * v.n_chunks_read - 3 else WRITE


def test_stream_scores_equal_the_batch_model(model, speech):
    """The logits and source attention a head sees mid-stream are the batch model's under the same schedule."""
    from speech_proactive.model.llm import group_positions
    from speech_proactive.model.llm.streaming_lm import source_attention

    policy = Recording()
    task = TaskSpec("st", "en", "de")
    s = Session(model, policy, task, DecodeOptions(granularity="token"))
    step = 5120
    for i in range(0, len(speech), step):
        s.push_audio(speech[i : i + step], finished=i + step >= len(speech))
    mid = [v for v in policy.seen if not v.source_finished]
    assert any(v.n_written > 0 for v in mid), "no decision after a WRITE: the test would not cover the cache"
    tokens, n_seen = s.state.tokens, s.state.token_n_source
    with torch.no_grad():
        source = model.source_vectors(log_mel(speech, model.cfg.frontend)[None])[0]
        prompt = model.prompt_ids(task)
        for v in mid:
            n_src = v.source_attention.shape[0]
            target = torch.tensor([model.start_id, *tokens[: v.n_written]])
            vis = torch.tensor([*n_seen[: v.n_written], n_src])
            out = model.lm.forward_sequence(prompt, source, target, vis, attentions=True)
            kinds = group_positions.sequence(len(prompt), len(source), [vis]).kind
            batch_attn = source_attention(out.attentions, kinds, len(target) - 1)[:n_src]
            torch.testing.assert_close(v.next_logits, out.logits[0, -1], rtol=1e-4, atol=1e-4)
            torch.testing.assert_close(v.source_attention, batch_attn / batch_attn.sum(), rtol=1e-4, atol=1e-5)


def test_calibration_is_a_quantile_saved_with_the_bundle(model, bundle, tmp_path, speech):
    import json

    from speech_proactive import audio

    wav = tmp_path / "speech.wav"
    audio.write_wav(wav, speech)
    rows = [
        {
            "id": f"u{i}",
            "audio": str(wav),
            "n_samples": len(speech),
            "src_lang": "en",
            "src_text": "the old man reads a book",
            "tgt_lang": "de",
            "speaker": "espeak",
            "tgt_text": "der alte Mann liest ein Buch" if i else "ein Buch",
        }
        for i in range(3)
    ]
    path = tmp_path / "dev.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    dev = [read_manifest(path)]
    scores = calibrate.word_start_scores(model, Entropy(), dev, limit=10)
    # one score per word start of the three references (the first token always starts one)
    starts = [1 + sum(model.word_starts[i] for i in model.text_ids(r["tgt_text"]).tolist()[1:]) for r in rows]
    assert len(scores) == sum(starts) and sum(starts) >= 2 + 6 + 6
    bundle = shutil.copytree(bundle, tmp_path / "bundle")  # the shared fixture stays untouched
    p = calibrate.calibrated(Entropy(), 0.5, bundle, model, dev)
    assert p.threshold == pytest.approx(calibrate.quantile(scores, 0.5), rel=1e-5)
    assert min(scores) < p.threshold < max(scores)
    # read back from the bundle without a dev set; another quantile of the same scores
    again = calibrate.calibrated(Entropy(), 0.9, bundle, model, [])
    assert again.threshold == pytest.approx(calibrate.quantile(scores, 0.9), rel=1e-5)
    with pytest.raises(ValueError, match="no calibration for Attention"):
        calibrate.calibrated(Attention(), 0.9, bundle, model, [])
    other = tmp_path / "other.jsonl"  # a different dev set named explicitly: its own scores, not the stored ones
    other.write_text("".join(json.dumps({**r, "tgt_text": "ein alter Mann"}) + "\n" for r in rows[:2]))
    other_scores = calibrate.word_start_scores(model, Entropy(), [read_manifest(other)], limit=10)
    assert sorted(other_scores) != sorted(scores)
    moved = calibrate.calibrated(Entropy(), 0.5, bundle, model, [read_manifest(other)])
    assert moved.threshold == pytest.approx(calibrate.quantile(other_scores, 0.5), rel=1e-5)
