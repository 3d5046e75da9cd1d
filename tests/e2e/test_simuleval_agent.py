"""The SimulEval agent under the real `simuleval` CLI: every instance logged, the whole output written (no lost
tail, no duplicated word) with the timing a Session gives on the same audio; and the streaming resampler."""

import math
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from helpers import SIMULEVAL_SEGMENT_MS as SEGMENT_MS
from helpers import run_simuleval

from speech_proactive import audio
from speech_proactive.config import TaskSpec
from speech_proactive.evaluation.metrics.instances_log import read_instances, score_log
from speech_proactive.streaming.policy_spec import parse_policy
from speech_proactive.streaming.resample import StreamResampler
from speech_proactive.streaming.session import Session

UTTERANCES = [
    ("the old man reads a book in the garden", "der alte mann liest ein buch im garten", 16000),
    ("hello world", "hallo welt", 22050),  # left at espeak's own rate: the agent resamples it
    ("a small cat sleeps", "eine kleine katze schläft", 16000),
]


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models decode ~15x faster on one thread than on threads that fight over busy cores; the agent's
    process gets one thread too (OMP_NUM_THREADS), so both sides also compute in the same order."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    from helpers import espeak

    d = tmp_path_factory.mktemp("simuleval_corpus")
    wavs = []
    for i, (text, _, rate) in enumerate(UTTERANCES):
        wav = espeak(text, d / f"{i}.wav")
        if rate == audio.SAMPLE_RATE:
            audio.write_wav(wav, audio.load_audio(wav))
        assert sf.info(wav).samplerate == rate
        wavs.append(wav)
    (d / "source.txt").write_text("".join(f"{w}\n" for w in wavs))
    (d / "target.txt").write_text("".join(f"{ref}\n" for _, ref, _ in UTTERANCES))
    return d


def stream_with_session(
    model, policy: str, native: np.ndarray, rate: int, resampler: StreamResampler | None
) -> tuple[list[str], list[float]]:
    """Words and their delays (ms of native audio sent) from a Session fed as SimulEval feeds the agent:
    SEGMENT_MS pieces, converted to 16 kHz by `resampler`; without one, `native` must already be 16 kHz."""
    session = Session(model, parse_policy(policy).policy, TaskSpec("st", "en", "de"))
    piece = math.ceil(SEGMENT_MS / 1000 * rate)  # SimulEval's segment length in samples
    text, delays = "", []
    for start in range(0, len(native), piece):
        end = min(start + piece, len(native))
        samples = native[start:end] if resampler is None else resampler.push(native[start:end], end == len(native))
        for e in session.push_audio(samples, finished=end == len(native)):
            text += e.text
        n_ready = len(text.split()) if end == len(native) else session.n_complete_words
        delays += [end * 1000 / rate] * (n_ready - len(delays))
    return text.split(), delays


def test_offline_writes_exactly_what_a_session_writes_on_the_same_audio(corpus, bundle, model, tmp_path):
    # --exact-resampling: the 22.05 kHz file reaches the model exactly as audio.load_audio converts it
    log = run_simuleval(corpus, bundle, "offline", tmp_path / "out", "--exact-resampling")
    instances = read_instances(log)
    assert [i.index for i in instances] == list(range(len(UTTERANCES)))
    for ins, wav in zip(instances, (corpus / "source.txt").read_text().split()):
        words, _ = stream_with_session(model, "offline", audio.load_audio(wav), audio.SAMPLE_RATE, None)
        assert words, "the random model should write something for this test to mean anything"
        assert ins.prediction == " ".join(words)  # the whole output, flushed in the single final call
        assert set(ins.delays_ms) == {ins.source_ms}  # offline: everything once the input has ended
    scores = score_log(log, tgt_lang="de")
    assert scores.n == scores.n_scored == len(UTTERANCES) and scores.latency.al_ms > 0
    assert scores.latency_ca.al_ms >= scores.latency.al_ms


def test_wait_k_words_and_timing_equal_a_session(corpus, bundle, model, tmp_path):
    log = run_simuleval(corpus, bundle, "wait-k:1", tmp_path / "out")
    instances = read_instances(log)
    assert [i.index for i in instances] == list(range(len(UTTERANCES)))
    n_early = 0
    for ins, wav in zip(instances, (corpus / "source.txt").read_text().split()):
        native, rate = sf.read(wav, dtype="float32")
        resampler = None if rate == audio.SAMPLE_RATE else StreamResampler(rate)
        words, delays = stream_with_session(model, "wait-k:1", native, rate, resampler)
        assert ins.prediction == " ".join(words)  # no lost tail, no duplicated or split word
        # each word at the same moment: partial words wait for whitespace, and resampling costs no chunk
        assert ins.delays_ms == pytest.approx(delays)
        n_early += sum(d < ins.source_ms for d in ins.delays_ms)
    assert n_early > 0, "some words should be written before the input ends for this test to mean anything"
    scores = score_log(log, tgt_lang="de")
    assert scores.n_scored == len(UTTERANCES) and scores.latency.al_ms < scores.latency_ca.al_ms


@pytest.mark.parametrize("rate", [22050, 44100, 8000])
def test_stream_resampler(rate):
    rng = np.random.default_rng(rate)
    n = int(2.3 * rate)
    x = (0.5 * np.sin(np.arange(n) * 0.05) + 0.01 * rng.standard_normal(n)).astype(np.float32)
    whole = audio.resample(x, rate)
    piece = math.ceil(SEGMENT_MS / 1000 * rate)
    starts = range(0, n, piece)

    exact = StreamResampler(rate, exact=True)
    assert np.array_equal(np.concatenate([exact.push(x[s : s + piece], s + piece >= n) for s in starts]), whole)

    fast = StreamResampler(rate)
    pieces = [fast.push(x[s : s + piece], s + piece >= n) for s in starts]
    assert {len(p) for p in pieces[:-1]} == {audio.ms_to_samples(SEGMENT_MS)}  # a full chunk per segment, at once
    y = np.concatenate(pieces)
    assert y.shape == whole.shape
    # only the outputs whose filter reaches past the end of their piece were guessed; all others are exact
    n_guessed = math.ceil(fast.reach / fast.down)
    guessed = np.zeros(len(y), bool)
    for end in np.cumsum([len(p) for p in pieces[:-1]]):
        guessed[end - n_guessed : end] = True
    assert np.array_equal(y[~guessed], whole[~guessed])
    assert np.abs(y - whole).max() < 0.05


def test_sixteen_khz_passes_through_untouched():
    x = np.arange(100, dtype=np.float32)
    assert StreamResampler(audio.SAMPLE_RATE).push(x, finished=False) is x
