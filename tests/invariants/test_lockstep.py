"""Many streams stepped together on one model (lockstep.py: like ops batched into one forward, each stream over
its own ragged caches, positions and masks) write exactly what each stream writes alone, token for token."""

import numpy as np
import pytest
import torch
from helpers import run

from speech_proactive.config import DecodeOptions, TaskSpec
from speech_proactive.model.encoder import EncoderState
from speech_proactive.model.llm.streaming_lm import LMState
from speech_proactive.streaming.lockstep import run_lockstep
from speech_proactive.streaming.policies import Attention, Entropy, HoldN, LocalAgreement, Offline, WaitK
from speech_proactive.streaming.session import Session

POLICIES = [WaitK(k=2, per_chunk=1), Offline(), Entropy(threshold=5.0), Attention(threshold=0.3), HoldN(n=1),
            LocalAgreement()]  # fmt: skip
OPTIONS = DecodeOptions(max_tokens_per_chunk=3, max_tokens_extra=4)


def utterance_steps(session: Session, samples: np.ndarray, push_sizes: list[int]):
    """`helpers.run` as steps: the pushes of one utterance, then its end."""
    session.reset()
    emissions, i = [], 0
    for n in push_sizes:
        emissions += yield from session.push_audio_steps(samples[i : i + n])
        i += n
    emissions += yield from session.push_audio_steps(samples[i:], finished=True)
    return emissions


def streams(model, speech: np.ndarray, n: int):
    """n streams that differ in audio (cut at different lengths), push sizes and policy: their caches, positions
    and decisions drift apart as they run."""
    rng = np.random.default_rng(1)
    out = []
    for i in range(n):
        samples = speech[: len(speech) - 1600 * (i % 4)]
        pushes = [5120] * (i % 3) + [int(x) for x in rng.integers(1000, 6000, 3)]
        out.append((Session(model, POLICIES[i % len(POLICIES)], TaskSpec("st", "en", "de"), OPTIONS), samples, pushes))
    return out


@pytest.mark.parametrize("n_streams", [1, 4, 9])
def test_lockstep_writes_what_each_stream_writes_alone(model, speech, n_streams):
    alone = []
    for session, samples, pushes in streams(model, speech, n_streams):
        run(session, samples, pushes)
        alone.append((list(session.state.tokens), list(session.state.token_n_source), session.final_text))
    together = streams(model, speech, n_streams)
    outcomes, stats = run_lockstep(model, [utterance_steps(*s) for s in together])
    assert all(o.error is None for o in outcomes)
    for (session, _, _), expected, outcome in zip(together, alone, outcomes):
        assert (list(session.state.tokens), list(session.state.token_n_source), session.final_text) == expected
        assert "".join(e.text for e in outcome.value).strip() == session.final_text
    assert sum(len(tokens) for tokens, _, _ in alone) > 5 * n_streams, "the random model should write"
    if n_streams > 1:  # the point of it: fewer forwards than ops
        assert stats.n_forwards < stats.n_ops


def test_one_streams_error_ends_that_stream_only(model, speech):
    good = Session(model, Offline())
    bad = Session(model, Offline())

    def failing():
        yield from bad.push_audio_steps(speech[:8000])
        yield from bad.push_audio_steps(np.full(100, np.nan, np.float32))  # NaN audio: an AudioError

    outcomes, _ = run_lockstep(model, [utterance_steps(good, speech, [5120]), failing()])
    assert outcomes[0].error is None and good.final_text
    assert "NaN" in str(outcomes[1].error) or "finite" in str(outcomes[1].error)


def test_a_stream_past_the_positional_table_fails_alone(model, speech):
    """A batched encoder step that one stream cannot take (positions past the table) leaves the others' states
    as they were and gives them their results."""
    enc = model.encoder
    n_mel = enc.cfg.chunk_mel_frames
    full = EncoderState()
    full.n_frames = enc.cfg.n_audio_ctx  # no positions left
    fresh, alone = EncoderState(), EncoderState()
    mel = torch.randn(2, enc.cfg.n_mels, n_mel)
    with pytest.raises(ValueError, match="positional table"):
        enc.step_streams(mel, [fresh, full])
    assert fresh.n_frames == 0 and fresh.mel_context is None and not fresh.caches
    torch.testing.assert_close(enc.step_streams(mel[:1], [fresh]), enc.step(mel[:1], alone))


def test_batched_steps_equal_single_steps_on_ragged_caches(model):
    """The batched encoder step and LLM read/peek/write, over caches of different lengths (right-padded under a
    mask), give each stream what its own step gives: frames, logits, hidden states and attention rows."""
    torch.manual_seed(0)
    enc, lm = model.encoder, model.lm
    n_mel, d = enc.cfg.chunk_mel_frames, lm.hidden_size
    prompt = model.prompt_ids(TaskSpec("st", "en", "de"))
    lengths = [1, 3, 2]  # chunks already heard by each stream
    batched = [(EncoderState(), LMState()) for _ in lengths]
    single = [(EncoderState(), LMState()) for _ in lengths]
    with torch.inference_mode():
        for states in (batched, single):
            for (e, s), n in zip(states, lengths):
                lm.start(s, prompt)
                g = torch.Generator().manual_seed(n)
                for _ in range(n):
                    enc.step(torch.randn(1, enc.cfg.n_mels, n_mel, generator=g), e)
                    lm.read(s, torch.randn(4, d, generator=g))
                lm.write(s, 5 + n)
        mel = torch.randn(len(lengths), enc.cfg.n_mels, n_mel)
        frames = enc.step_streams(mel, [e for e, _ in batched])
        vectors = torch.randn(len(lengths), 4, d)
        peeks = lm.read_and_write_streams([s for _, s in batched], vectors, [7, 8, 9], attentions=True)
        writes = lm.write_streams([s for _, s in batched], [3, 4, 5])
        for b, (e, s) in enumerate(single):
            torch.testing.assert_close(frames[b : b + 1], enc.step(mel[b : b + 1], e))
            peek = lm.read_and_write(s, vectors[b], 7 + b, attentions=True)
            write = lm.write(s, 3 + b)
            for got, want in ((peeks[b], peek), (writes[b], write)):
                torch.testing.assert_close(got.logits, want.logits)
                torch.testing.assert_close(got.hidden, want.hidden)
            for got, want in zip(peeks[b].attentions, peek.attentions):
                torch.testing.assert_close(got, want)
            assert batched[b][1].cache.get_seq_length() == s.cache.get_seq_length() == len(s.entries)
