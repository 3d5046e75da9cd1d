"""Memory of one long stream, unbounded and with the session window: the session's KV state, the process's RSS
and, on CUDA, allocated memory.

The session window is the live demo's: a segment ends at most `SegmenterConfig.max_segment_ms` into the stream
(or at a pause), its output is flushed and the session is reset (live/segmenter.py); here each segment
gets a fresh session, which holds the same state. The bench cuts at the
maximum length only: synthetic audio has no pauses, and the longest segment is the bound that matters.
"""

from __future__ import annotations

import gc

import numpy as np
import torch

from speech_proactive import audio
from speech_proactive.bench.models import Plan, synthetic_audio
from speech_proactive.bench.runtime import MIB, Runtime, peak_rss_mib, rss_mib
from speech_proactive.bench.streaming import WINDOW_S, percentiles, stream
from speech_proactive.model.speech_llm import SpeechLLM
from speech_proactive.streaming.segmenter import SegmenterConfig


def memory(model: SpeechLLM, rt: Runtime, plan: Plan) -> dict:
    """The windowed stream runs first and the unbounded one second, so that each one's RSS peak is the process's
    peak at its end (after a short warm-up stream: the first one allocates ~40 MiB of lazily built state that is
    not the session's)."""
    stream(model, synthetic_audio(plan.warmup_s, seed=1), rt)
    gc.collect()
    samples = synthetic_audio(plan.memory_stream_s, seed=2)
    windowed = _windowed(model, samples, rt)
    gc.collect()
    return {**_unbounded(model, samples, rt, plan.memory_stream_s), "window": windowed}


def _unbounded(model: SpeechLLM, samples: np.ndarray, rt: Runtime, stream_s: float) -> dict:
    cuda = rt.device.type == "cuda"
    before, cuda_before = rss_mib(), torch.cuda.memory_allocated(rt.device) / MIB if cuda else None
    if cuda:
        torch.cuda.reset_peak_memory_stats(rt.device)
    run = stream(model, samples, rt)
    n_tail = round(2 * WINDOW_S * 1000 / model.cfg.encoder.chunk_ms)
    kv_mib = run.state_bytes / MIB
    return {
        "stream_s": stream_s,
        "kv_state_mib": kv_mib,
        "kv_state_mib_per_min": kv_mib * 60 / stream_s,
        "rss_before_mib": before,
        "rss_end_mib": run.rss_end_mib,
        "rss_peak_mib": peak_rss_mib(),
        "cuda_allocated_before_mib": cuda_before,
        "cuda_max_allocated_mib": torch.cuda.max_memory_allocated(rt.device) / MIB if cuda else None,
        "p95_ms_at_end": percentiles(run.chunk_ms[-n_tail - 1 : -1])["p95_ms"],
        "rtf": sum(run.chunk_ms) / (stream_s * 1000),
    }


def _windowed(model: SpeechLLM, samples: np.ndarray, rt: Runtime) -> dict:
    """The same audio cut into segments of the live demo's maximum length, each through a fresh session (what
    the segmenter's reset gives)."""
    segment_ms = SegmenterConfig().max_segment_ms
    n_segment = audio.ms_to_samples(segment_ms)
    before = rss_mib()
    runs = [stream(model, samples[s0 : s0 + n_segment], rt) for s0 in range(0, len(samples), n_segment)]
    return {
        "segment_s": segment_ms / 1000,
        "n_segments": len(runs),
        "kv_state_max_mib": max(r.state_bytes for r in runs) / MIB,
        "rss_before_mib": before,
        "rss_end_mib": rss_mib(),
        "rss_peak_mib": peak_rss_mib(),
        "p95_ms_first_segment": percentiles(runs[0].chunk_ms)["p95_ms"],
        "p95_ms_last_segment": percentiles(runs[-1].chunk_ms)["p95_ms"],
        "rtf": sum(sum(r.chunk_ms) for r in runs) / (len(samples) / audio.SAMPLE_RATE * 1000),
    }
