"""The whole streaming path (audio chunks -> frontend -> encoder cache -> adapter -> LLM cache -> policy)
equals the batch model run on the whole utterance with the read schedule the session actually followed."""

import numpy as np
import pytest
import torch
from helpers import batch_logits, run

from speech_proactive import audio
from speech_proactive.config import DecodeOptions, TaskSpec
from speech_proactive.model.frontend import log_mel
from speech_proactive.streaming.policies import Attention, Entropy, HoldN, LocalAgreement, Offline, Oracle, WaitK
from speech_proactive.streaming.session import Session

POLICIES = [
    WaitK(k=2, per_chunk=1),
    WaitK(k=1, per_chunk=3),
    Offline(),
    Entropy(threshold=5.0),
    Attention(threshold=0.3),
    HoldN(n=1),
    LocalAgreement(),
    Oracle(ideal_ms=(700.0, 900.0, 1500.0)),
]


@pytest.mark.parametrize("granularity", ["word", "token"])
@pytest.mark.parametrize("policy", POLICIES, ids=lambda p: type(p).__name__)
def test_session_equals_batch(model, speech, policy, granularity):
    """Peeks (a READ after looking at the logits or attention, greedy continuations) leave no trace."""
    task = TaskSpec("st", "en", "de")
    options = DecodeOptions(max_tokens_per_chunk=3, max_tokens_extra=4, granularity=granularity)
    s = run(Session(model, policy, task, options), speech, [5120] * 3 + [777, 3000])
    tokens, n_source = s.state.tokens, s.state.token_n_source
    assert len(tokens) > 3, "the random model should write something for this test to mean anything"
    logits, n_total = batch_logits(model, speech, task, tokens, n_source)
    # greedy: each written token is the argmax of the batch model under the same schedule
    assert logits[: len(tokens)].argmax(-1).tolist() == tokens
    assert s.state.lm.n_source == n_total  # every chunk of the utterance was read, none twice


def test_push_sizes_do_not_matter(model, speech):
    policy = WaitK(k=2, per_chunk=2)
    a = run(Session(model, policy), speech, [])
    b = run(Session(model, policy), speech, list(np.random.default_rng(0).integers(0, 3000, 12)))
    assert a.state.tokens == b.state.tokens and a.state.token_n_source == b.state.token_n_source
    assert a.state.tokens


def test_wait_k_schedule_in_tokens(model, speech):
    options = DecodeOptions(max_tokens_per_chunk=2, granularity="token")
    s = run(Session(model, WaitK(k=3, per_chunk=1), options=options), speech, [5120] * 5)
    v = model.vectors_per_chunk
    # the first token waits for 3 chunks; then one token per chunk while the input lasts
    assert s.state.token_n_source[:3] == [3 * v, 4 * v, 5 * v]


def words_of(model, tokens: list[int], n_source: list[int]) -> list[tuple[list[int], set[int]]]:
    """Split written tokens into words; each with the set of source counts its tokens saw."""
    words = []
    for i, (t, n) in enumerate(zip(tokens, n_source)):
        if i == 0 or model.word_starts[t]:
            words.append(([], set()))
        words[-1][0].append(t)
        words[-1][1].add(n)
    return words


def test_wait_k_schedule_in_words(model, speech):
    s = run(Session(model, WaitK(k=3, per_chunk=1), options=DecodeOptions(max_tokens_per_chunk=8)), speech, [5120] * 5)
    v = model.vectors_per_chunk
    words = words_of(model, s.state.tokens, s.state.token_n_source)
    assert any(len(w) > 1 for w, _ in words[:3]), "the test needs a multi-token word among the first three"
    # a WRITE emits a whole word: every token of word i was written after the same chunk, 3 + i
    assert [seen for _, seen in words[:3]] == [{3 * v}, {4 * v}, {5 * v}]
    assert s.state.n_words == len(words)


def test_offline_reads_everything_first(model, speech):
    s = run(Session(model, Offline()), speech, [5120] * 4)
    assert set(s.state.token_n_source) == {s.state.lm.n_source}


def test_emissions_report_time_and_text(model, speech):
    session = Session(model, WaitK(k=1, per_chunk=1))
    step = audio.ms_to_samples(320)
    emissions = []
    for i in range(0, len(speech), step):
        emissions += session.push_audio(speech[i : i + step], finished=i + step >= len(speech))
    assert emissions and all(e.compute_ms >= 0 for e in emissions)
    assert [e.source_ms for e in emissions] == sorted(e.source_ms for e in emissions)
    assert "".join(e.text for e in emissions) == session.state.text
    assert sum(len(e.token_ids) for e in emissions) == len(session.state.tokens)


def test_prompt_selects_task(model, speech):
    """One model, several tasks: each session writes the batch model's greedy tokens under its own task's prompt,
    whose logits differ from those under any other task's prompt (same audio, same tokens, same schedule)."""
    tasks = [TaskSpec("st", "en", "de"), TaskSpec("st", "de", "en"), TaskSpec("asr", "en")]
    written = {}
    for task in tasks:
        s = run(Session(model, Offline(), task), speech, [])
        assert s.state.lm.n_prefix == len(model.prompt_ids(task)) and len(s.state.tokens) > 3
        written[task] = (s.state.tokens, s.state.token_n_source)
    for task, (tokens, n_source) in written.items():
        own = batch_logits(model, speech, task, tokens, n_source)[0]
        assert own[: len(tokens)].argmax(-1).tolist() == tokens
        for other in tasks:
            if other != task:
                assert not torch.allclose(own, batch_logits(model, speech, other, tokens, n_source)[0], atol=1e-3)
    assert written[tasks[0]][0] != written[tasks[2]][0]  # translation and transcription write different tokens


def test_reset_gives_a_fresh_stream(model, speech):
    session = Session(model, WaitK(k=2, per_chunk=1))
    first = list(run(session, speech, []).state.tokens)
    second = list(run(session, speech, []).state.tokens)
    assert first == second


def test_length_cap_for_models_that_never_stop(model, speech):
    s = run(Session(model, Offline(), options=DecodeOptions(max_tokens_per_chunk=1, max_tokens_extra=2)), speech, [])
    n_chunks = -(-len(speech) // audio.ms_to_samples(320))
    assert len(s.state.tokens) <= n_chunks + 2 and s.state.done


def test_length_cap_mid_stream_waits_instead_of_ending(model, speech):
    """A never-ending word hits the per-chunk cap: the session waits for audio, it does not stop for good."""
    options = DecodeOptions(max_tokens_per_chunk=1, max_tokens_extra=0)
    s = run(Session(model, WaitK(k=1, per_chunk=50), options=options), speech, [5120] * 4)
    # one token after each chunk (the cap), not one token and then silence
    assert s.state.token_n_source[:4] == [model.vectors_per_chunk * (i + 1) for i in range(4)]


def test_end_of_output_before_the_input_ends_means_wait(model, speech):
    """A model that says EOS on part of the input is not done: it READs on (simultaneous decoding)."""
    import copy

    m = copy.deepcopy(model)

    def always_eos(module, inputs, out):
        out = out.clone()
        out[..., m.eos_id] += 1e4
        return out

    m.lm.model.get_output_embeddings().register_forward_hook(always_eos)
    session = Session(m, WaitK(k=1, per_chunk=1))
    step = audio.ms_to_samples(320)
    last = (len(speech) - 1) // step * step  # start of the final piece
    for i in range(0, last, step):
        session.push_audio(speech[i : i + step])
    assert not session.state.done and session.state.n_chunks_read > 3
    assert session.state.lm.n_target == 0  # every peeked EOS was taken back
    session.push_audio(speech[last:], finished=True)
    assert session.state.done and session.state.tokens == []


def test_token_adapter_session_equals_batch_and_round_trips(speech, tmp_path):
    """adapter output='tokens': the source vectors are expected token embeddings; streaming still equals batch,
    and a saved bundle gives the same outputs."""
    from helpers import tiny_model

    from speech_proactive.model.bundle import load_model, save_bundle

    model = tiny_model(adapter_output="tokens")
    with torch.no_grad():
        frames = model.encoder.forward_blockwise(log_mel(speech, model.cfg.frontend)[None])
        vectors, logits = model.adapter.forward_with_logits(frames)
        emb = model.lm.model.get_input_embeddings().weight
        torch.testing.assert_close(vectors, torch.softmax(logits, -1) @ emb)
    task = TaskSpec("st", "en", "de")
    s = run(Session(model, WaitK(k=2, per_chunk=1), task, DecodeOptions(max_tokens_per_chunk=3)), speech, [5120] * 4)
    logits_b, _ = batch_logits(model, speech, task, s.state.tokens, s.state.token_n_source)
    assert s.state.tokens and logits_b[: len(s.state.tokens)].argmax(-1).tolist() == s.state.tokens
    again = load_model(save_bundle(model, tmp_path / "b"))
    s2 = run(Session(again, WaitK(k=2, per_chunk=1), task, DecodeOptions(max_tokens_per_chunk=3)), speech, [5120] * 4)
    assert s2.state.tokens == s.state.tokens


@pytest.mark.parametrize("granularity", ["word", "token"])
def test_words_counted_complete_are_final_and_word_writes_are_complete_at_once(model, speech, granularity):
    """`n_complete_words` never counts a word that later changes; with word granularity a written word is whole
    as soon as writing stops at the next word start, so the last one is ready without waiting for a space."""
    session = Session(
        model, WaitK(k=1, per_chunk=1), TaskSpec("st", "en", "de"), DecodeOptions(granularity=granularity)
    )
    step = audio.ms_to_samples(320)
    seen, last_ready_at_once = [], False
    for start in range(0, len(speech), step):
        session.push_audio(speech[start : start + step], finished=start + step >= len(speech))
        words = session.state.text.split()
        seen.append(words[: session.n_complete_words])
        if not session.state.source_finished and words and not session.state.text[-1].isspace():
            last_ready_at_once |= session.n_complete_words == len(words)
    final = session.final_text.split()
    assert final and all(ready == final[: len(ready)] for ready in seen)
    if granularity == "word":  # (with tokens, a word is also whole at once when the peeked token starts a word)
        assert last_ready_at_once


@pytest.mark.parametrize(
    "policy",
    [WaitK(k=2, per_chunk=1), WaitK(k=1, per_chunk=3), Oracle(ideal_ms=(700.0, 900.0, 1500.0))],
    ids=lambda p: type(p).__name__,
)
def test_a_policy_that_writes_after_a_read_gets_one_forward(model, speech, policy, monkeypatch):
    """A policy that decides without the model (no logits, no continuation) and says WRITE right after a
    read gets the read and its first token in one LLM forward: the same tokens as two forwards, fewer
    forwards."""
    samples = speech
    forwards, append = [], model.lm._append_streams
    monkeypatch.setattr(model.lm, "_append_streams", lambda *a, **k: forwards.append(1) or append(*a, **k))

    def decode() -> tuple[list[int], int]:
        forwards.clear()
        session = run(Session(model, policy), samples, [5120] * (len(samples) // 5120))
        return list(session.state.tokens), len(forwards)

    fused, n_fused = decode()
    monkeypatch.setattr(Session, "_feeds_pending", lambda self: self.policy.peeks)  # the flow before the fusion
    separate, n_separate = decode()
    assert fused == separate and fused
    assert n_fused < n_separate
