"""Memory of one long stream: the session's KV state, the process's RSS and, on CUDA, allocated memory."""

from __future__ import annotations

import gc

import torch

from speech_proactive.bench.models import Plan, synthetic_audio
from speech_proactive.bench.runtime import MIB, Runtime, peak_rss_mib, rss_mib
from speech_proactive.bench.streaming import WINDOW_S, percentiles, stream
from speech_proactive.model import SpeechLLM


def memory(model: SpeechLLM, rt: Runtime, plan: Plan) -> dict:
    """One long stream, run first so that the process's peak is this stream's (after a short warm-up stream:
    the first one allocates ~40 MiB of lazily built state that is not the session's)."""
    stream(model, synthetic_audio(plan.warmup_s, seed=1), rt)
    gc.collect()
    cuda = rt.device.type == "cuda"
    before, cuda_before = rss_mib(), torch.cuda.memory_allocated(rt.device) / MIB if cuda else None
    if cuda:
        torch.cuda.reset_peak_memory_stats(rt.device)
    run = stream(model, synthetic_audio(plan.memory_stream_s, seed=2), rt)
    n_tail = round(2 * WINDOW_S * 1000 / model.cfg.encoder.chunk_ms)
    kv_mib = run.state_bytes / MIB
    return {"stream_s": plan.memory_stream_s, "window": None, "kv_state_mib": kv_mib,
            "kv_state_mib_per_min": kv_mib * 60 / plan.memory_stream_s,
            "rss_before_mib": before, "rss_end_mib": run.rss_end_mib, "rss_peak_mib": peak_rss_mib(),
            "cuda_allocated_before_mib": cuda_before,
            "cuda_max_allocated_mib": torch.cuda.max_memory_allocated(rt.device) / MIB if cuda else None,
            "p95_ms_at_end": percentiles(run.chunk_ms[-n_tail - 1:-1])["p95_ms"],
            "rtf": sum(run.chunk_ms) / (plan.memory_stream_s * 1000)}
