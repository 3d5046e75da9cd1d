"""The baselines over whole utterances: re-encode everything heard at every chunk, or encode the prefix without a
cache; each against the incremental path, in time and in FLOPs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from speech_proactive import audio
from speech_proactive.bench.models import Plan, synthetic_audio
from speech_proactive.bench.runtime import Runtime, count_flops
from speech_proactive.bench.streaming import (
    BENCH_DECODE,
    MARKS_S,
    TOKENS_PER_CHUNK,
    WINDOW_S,
    StreamRun,
    bench_policy,
    stream,
)
from speech_proactive.config import TaskSpec
from speech_proactive.model.encoder import EncoderState
from speech_proactive.model.frontend import log_mel
from speech_proactive.model.speech_llm import SpeechLLM
from speech_proactive.streaming.session import Session


def naive_chunk(model: SpeechLLM, samples: np.ndarray, n_chunks: int, tokens: list[int]) -> None:
    """What whisper_streaming and SimulEval's example agents do when chunk `n_chunks` arrives: log-mel, Whisper's
    encoder and the LLM over everything heard and everything written so far, then this chunk's new tokens."""
    heard = samples[: n_chunks * audio.ms_to_samples(model.cfg.encoder.chunk_ms)]
    mel = log_mel(heard, model.cfg.frontend)[None].to(model.device)
    source = model.adapter(model.encoder.forward_full(mel))[0]
    prompt = model.prompt_ids(TaskSpec())
    out = [model.start_id, *tokens[: (n_chunks - 1) * TOKENS_PER_CHUNK]]
    # One LLM pass per new token, as the incremental path makes one forward per chunk: wait-k says WRITE
    # before the read is computed, so the chunk's source vectors and its token go in together.
    for _ in range(TOKENS_PER_CHUNK):
        target = torch.tensor(out, device=model.device)
        visible = torch.full((len(target),), len(source))
        out.append(int(model.lm.forward_sequence(prompt, source, target, visible).logits[0, -1].argmax()))


def sampled_total(n_chunks: int, stride: int, cost: Callable[[int], float]) -> float:
    """Sum of cost(k) over chunks k = 1..n_chunks, measuring the middle chunk of every `stride` and counting it for
    all of them (exact when stride is 1; the cost is a smooth function of k)."""
    total = 0.0
    for start in range(1, n_chunks + 1, stride):
        width = min(stride, n_chunks + 1 - start)
        total += width * cost(start + width // 2)
    return total


def encoder_step_ms(model: SpeechLLM, mel: Tensor, rt: Runtime) -> list[float]:
    """Per-chunk times of the cached encoder step over a whole stream's log-mel [1, n_mels, T]."""
    state = EncoderState()
    return [
        rt.time_ms(lambda c=c: model.encoder.step(c, state))
        for c in mel.split(model.cfg.encoder.chunk_mel_frames, dim=2)
    ]


FLOP_STRIDE = 8  # FLOPs are exact functions of the chunk index: counting every 8th chunk is within 0.5%
REENCODE_KEYS = (
    "naive_total_s",
    "incremental_total_s",
    "naive_vs_incremental",
    "naive_gflop",
    "incremental_gflop",
    "naive_vs_incremental_flop",
    "repeats",
)
ENCODER_CACHE_KEYS = ("prefix_total_s", "cached_total_s", "prefix_vs_cached")


@dataclass(frozen=True)
class Utterance:
    """What the whole-utterance comparisons share: the audio, its log-mel, and the incremental path's output."""

    samples: np.ndarray
    mel: Tensor  # [1, n_mels, T]
    tokens: list[int]  # the naive path's "output so far" has the incremental one's length (the values do not matter)


def reencode_totals(model: SpeechLLM, rt: Runtime, plan: Plan, utt: Utterance, n_chunks: int) -> dict:
    """Each repeat times the incremental stream and then the naive baseline, back to back, and the ratio is
    the median of the repeats' ratios: on a shared machine the speed drifts between sections of a run
    (on a 2-core VM the 30 s ratio read 6.9x to 10.0x when the two were timed minutes apart, 6.4x paired)."""

    def naive(i: int) -> None:
        naive_chunk(model, utt.samples, i, utt.tokens)

    n = audio.ms_to_samples(model.cfg.encoder.chunk_ms)
    naive_ms, incremental_ms = [], []
    for _ in range(plan.repeats):
        # one chunk more than counted, so that no counted push is the one that finishes the stream
        incremental_ms.append(sum(stream(model, utt.samples[: (n_chunks + 1) * n], rt).chunk_ms[:n_chunks]))
        naive_ms.append(sampled_total(n_chunks, plan.stride, lambda i: rt.time_ms(lambda: naive(i))))
    naive_flop = sampled_total(n_chunks, max(plan.stride, FLOP_STRIDE), lambda i: count_flops(lambda: naive(i)))
    incremental_flop = incremental_flops(model, utt.samples, n_chunks, max(plan.stride, FLOP_STRIDE))
    return {
        "naive_total_s": float(np.median(naive_ms)) / 1000,
        "incremental_total_s": float(np.median(incremental_ms)) / 1000,
        "naive_vs_incremental": float(np.median([a / b for a, b in zip(naive_ms, incremental_ms)])),
        "naive_gflop": naive_flop / 1e9,
        "incremental_gflop": incremental_flop / 1e9,
        "naive_vs_incremental_flop": naive_flop / incremental_flop,
        "repeats": plan.repeats,
        "skipped": None,
    }


def incremental_flops(model: SpeechLLM, samples: np.ndarray, n_chunks: int, stride: int) -> float:
    """FLOPs of the Session over `n_chunks` chunks, counted at every stride-th chunk (the others run uncounted:
    counting is slow, and a stream must pass through every chunk). Always on the eager path: a replayed CUDA
    graph bypasses the operator dispatch the counter sees (and capture must not happen under it); the
    arithmetic is the same, less the graphed path's masked slots."""
    with model.lm.without_graphs():
        return _incremental_flops(model, samples, n_chunks, stride)


def _incremental_flops(model: SpeechLLM, samples: np.ndarray, n_chunks: int, stride: int) -> float:
    n = audio.ms_to_samples(model.cfg.encoder.chunk_ms)
    session = Session(model, bench_policy(), options=BENCH_DECODE)
    n_pushed = 0

    def chunk_flops(i: int) -> int:
        nonlocal n_pushed
        while n_pushed < i - 1:
            session.push_audio(samples[n_pushed * n : (n_pushed + 1) * n])
            n_pushed += 1
        n_pushed += 1
        return count_flops(lambda: session.push_audio(samples[(i - 1) * n : i * n]))

    return sampled_total(n_chunks, stride, chunk_flops)


def encoder_cache_totals(
    model: SpeechLLM, rt: Runtime, plan: Plan, utt: Utterance, step_ms: list[list[float]], n_chunks: int
) -> dict:
    f = model.cfg.encoder.chunk_mel_frames
    prefix_ms = sampled_total(
        n_chunks, plan.stride, lambda i: rt.time_ms(lambda: model.encoder.forward_blockwise(utt.mel[:, :, : i * f]))
    )
    cached_ms = float(np.median([sum(s[:n_chunks]) for s in step_ms]))
    return {
        "prefix_total_s": prefix_ms / 1000,
        "cached_total_s": cached_ms / 1000,
        "prefix_vs_cached": prefix_ms / cached_ms,
        "skipped": None,
    }


@torch.inference_mode()
def against_reencoding(model: SpeechLLM, rt: Runtime, plan: Plan, runs: list[StreamRun]) -> tuple[dict, dict]:
    """Totals over whole utterances: naive re-encoding vs the incremental Session, and the encoder without vs with
    its cache. Returns (reencode, encoder_cache), keyed by utterance length."""
    samples = synthetic_audio(max(MARKS_S) + WINDOW_S + 1)
    utt = Utterance(samples, log_mel(samples, model.cfg.frontend)[None].to(rt.device), runs[0].tokens)
    reencode, encoder_cache = {}, {}
    with rt.autocast():
        naive_chunk(model, samples, 1, utt.tokens)  # warm-ups
        model.encoder.forward_blockwise(utt.mel[:, :, : model.cfg.encoder.chunk_mel_frames])
        step_ms = [encoder_step_ms(model, utt.mel, rt) for _ in runs]
        for length_s in (30.0, 120.0):
            key = f"{length_s:.0f}s"
            if length_s not in plan.utterances_s:
                reencode[key], encoder_cache[key] = _skipped(REENCODE_KEYS), _skipped(ENCODER_CACHE_KEYS)
                continue
            n_chunks = round(length_s * 1000 / model.cfg.encoder.chunk_ms)
            reencode[key] = reencode_totals(model, rt, plan, utt, n_chunks)
            encoder_cache[key] = encoder_cache_totals(model, rt, plan, utt, step_ms, n_chunks)
    return reencode, encoder_cache


def _skipped(keys: tuple[str, ...], why: str = "--quick") -> dict:
    return {**{k: None for k in keys}, "skipped": why}
