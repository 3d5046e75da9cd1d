"""Many streams on one model: the cost per stream of a 320 ms block, each stream stepped alone against all of
them stepped in lockstep (lockstep.py: like ops batched into one forward).

The streams join at different times (stream i has heard i mod 4 chunks more before the timing starts), so their
caches differ in length and the batched forwards run over right-padded caches under masks, as a server's do.
Both sets of streams step the same audio block by block, alone and together interleaved, so noise from the
machine falls on both; their tokens must come out equal (checked: `tokens_equal`).
"""

from __future__ import annotations

import time

import numpy as np

from speech_proactive import audio
from speech_proactive.bench.models import synthetic_audio
from speech_proactive.bench.runtime import Runtime
from speech_proactive.bench.streaming import BENCH_DECODE, bench_policy
from speech_proactive.model.speech_llm import SpeechLLM
from speech_proactive.streaming import model_ops
from speech_proactive.streaming.lockstep import run_lockstep
from speech_proactive.streaming.session import Session

STREAM_COUNTS = (1, 4, 16)
STAGGER_CHUNKS = 4  # stream i starts i mod 4 chunks ahead: ragged caches


def concurrent(model: SpeechLLM, rt: Runtime, seconds: float) -> dict:
    """Per stream and block: ms alone and batched at each count, the batched cost against one stream alone
    (the target: at most 0.25 at 16 streams) and how many real-time streams that makes."""
    _row(model, rt, STREAM_COUNTS[1], 1.0)  # warm-up: lazy inits, the RoPE table, the allocator
    rows = {str(n): _row(model, rt, n, seconds) for n in STREAM_COUNTS}
    one_alone_ms = rows["1"]["alone_ms"]
    for row in rows.values():
        row["batched_vs_one_alone"] = row["batched_ms"] / one_alone_ms
        row["realtime_streams"] = model.cfg.encoder.chunk_ms / row["batched_ms"]
    return {"seconds": seconds, "rows": rows}


def _row(model: SpeechLLM, rt: Runtime, n_streams: int, seconds: float) -> dict:
    block = audio.ms_to_samples(model.cfg.encoder.chunk_ms)
    sources = [synthetic_audio(seconds + STAGGER_CHUNKS * block / audio.SAMPLE_RATE, seed=i) for i in range(n_streams)]
    alone, together = _sessions(model, sources, block), _sessions(model, sources, block)
    n_blocks = int(seconds * audio.SAMPLE_RATE) // block
    alone_ms = batched_ms = 0.0
    n_forwards = n_ops = 0
    with rt.autocast():
        for b in range(n_blocks):
            pieces = [src[(b + STAGGER_CHUNKS) * block : (b + STAGGER_CHUNKS + 1) * block] for src in sources]
            alone_ms += sum(rt.time_ms(lambda s=s, p=p: s.push_audio(p)) for s, p in zip(alone, pieces))
            steps = [s.push_audio_steps(p) for s, p in zip(together, pieces)]
            rt.sync()
            t0 = time.perf_counter()
            _, stats = run_lockstep(model, steps)
            rt.sync()
            batched_ms += (time.perf_counter() - t0) * 1000
            n_forwards, n_ops = n_forwards + stats.n_forwards, n_ops + stats.n_ops
    equal = all(a.state.tokens == t.state.tokens for a, t in zip(alone, together))
    per = n_blocks * n_streams
    return {"n_streams": n_streams, "alone_ms": alone_ms / per, "batched_ms": batched_ms / per,
            "mean_batch": n_ops / max(n_forwards, 1), "tokens_equal": equal}  # fmt: skip


def _sessions(model: SpeechLLM, sources: list[np.ndarray], block: int) -> list[Session]:
    """One session per source, each having heard its stagger (i mod STAGGER_CHUNKS chunks) untimed."""
    sessions = []
    for i, src in enumerate(sources):
        session = Session(model, bench_policy(), options=BENCH_DECODE)
        first = STAGGER_CHUNKS - i % STAGGER_CHUNKS
        model_ops.drive(session.push_audio_steps(src[first * block : STAGGER_CHUNKS * block]), model)
        sessions.append(session)
    return sessions


def concurrent_table(c: dict) -> list[str]:
    lines = [f"concurrent streams ({c['seconds']:g} s each): ms per stream per 320 ms block"]
    lines.append(f"{'streams':>8} {'alone':>8} {'batched':>8} {'vs 1 alone':>10} {'real-time':>9} {'batch':>6} equal")
    for r in c["rows"].values():
        lines.append(
            f"{r['n_streams']:>8} {r['alone_ms']:>8.2f} {r['batched_ms']:>8.2f} {r['batched_vs_one_alone']:>9.2f}x "
            f"{r['realtime_streams']:>9.1f} {r['mean_batch']:>6.1f} {r['tokens_equal']}"
        )
    return lines
