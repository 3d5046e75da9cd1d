"""Load test: many clients stream real-time audio to one server at once; every transcript must equal the same
client's audio served alone, with no errors, and the server's memory must stay flat.

    python -m speech_proactive.apps.serve.load --model BUNDLE --wav A.wav B.wav ... [--clients 16]
        [--seconds 120] [--policy wait-k:3] [--src-lang en --tgt-lang de] [--fast] [--no-batch] [--json OUT.json]

The server runs as its own process (`python -m speech_proactive.serve --port 0`). Client k streams the files
in turn (starting from file k), each followed by 1 s of silence, until --seconds of audio, in 100 ms frames
paced at real time, then stops. Afterwards each distinct audio is streamed once more alone, as fast as
possible, and the transcripts are compared. The server's resident memory is read every second from /proc.
Prints a summary; exit status 1 if a transcript differs, a client saw an error, memory grew by more than
10% from minute 1 to the end, or (streams of 6 minutes and more) the per-block compute of the last audio minute
is more than 20% off that of minute 5. A one-hour soak: --clients 1 --seconds 3600 --fast --no-compare.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from speech_proactive import audio

FRAME_MS = 100  # what a browser page sends per message
# Sending faster than real time, a client keeps at most this much audio ahead of what the server reports stepped
# (the server closes a client more than 5 minutes ahead: its overload bound)
FAST_AHEAD_MS = 20_000.0
PAUSE_MS = 1000  # between files: a pause that ends a segment
MEMORY_TOLERANCE = 0.10
COMPUTE_TOLERANCE = 0.20  # per-block compute of the last audio minute against minute 5 (streams of 6 min and more)


@dataclass(frozen=True)
class ClientResult:
    client: int
    audio_ms: float
    text: str
    n_errors: int
    mean_lag_ms: float  # audio sent minus audio the server reported stepped, when each status arrived
    max_lag_ms: float
    # model time per 320 ms block (status events), voice gate not included; with batching, the time of the
    # lockstep round that carried the block, shared with the streams stepped in it
    mean_compute_ms: float
    compute_ms_minute_5: float  # mean over the blocks of audio minute 5 (4-5 min; 0 for shorter streams)
    compute_ms_last_minute: float


def client_audio(files: list[np.ndarray], k: int, seconds: float) -> np.ndarray:
    pause = np.zeros(audio.ms_to_samples(PAUSE_MS), np.float32)
    pieces, n, i = [], 0, k
    while n < audio.ms_to_samples(seconds * 1000):
        piece = np.concatenate([files[i % len(files)], pause])
        pieces.append(piece)
        n += len(piece)
        i += 1
    return np.concatenate(pieces)[: audio.ms_to_samples(seconds * 1000)]


async def stream(url: str, x: np.ndarray, start: dict, k: int, real_time: bool) -> ClientResult:
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed

    pcm = (np.clip(x, -1, 1) * 32767).astype("<i2")
    frame = audio.ms_to_samples(FRAME_MS)
    text, n_errors, lags, sent, computes = "", 0, [], [0], []
    stepped_ms, progress, receiving = [0.0], asyncio.Event(), [True]
    # no keepalive pings: a client sending faster than real time (the "alone" runs) backs up behind the model,
    # and a ping queued behind its own audio would time out although the server is working through it
    async with connect(url, max_size=None, ping_interval=None) as ws:
        await ws.send(json.dumps({"type": "start", **start}))

        async def send_all():
            t0 = time.perf_counter()
            for i in range(0, len(pcm), frame):
                if real_time:
                    await asyncio.sleep(max(0.0, t0 + i / audio.SAMPLE_RATE - time.perf_counter()))
                while receiving[0] and audio.samples_to_ms(i) - stepped_ms[0] > FAST_AHEAD_MS:  # as the server steps
                    progress.clear()
                    await progress.wait()
                await ws.send(pcm[i : i + frame].tobytes())
                sent[0] = i + len(pcm[i : i + frame])
            await ws.send(json.dumps({"type": "stop"}))

        sender = asyncio.create_task(send_all())
        try:
            async for message in ws:
                e = json.loads(message)
                if e["event"] == "error":
                    n_errors += 1
                elif e["event"] == "status":
                    stepped_ms[0] = e["source_ms"]
                    progress.set()
                    lags.append(audio.samples_to_ms(sent[0]) - e["source_ms"])
                    computes.append((e["source_ms"], e["compute_ms"]))
                elif e["event"] == "final":
                    text = e["text"]
        except ConnectionClosed:
            n_errors += 1
        receiving[0] = False
        progress.set()
        try:
            await sender
        except ConnectionClosed:  # closed by the server while sending: counted above
            pass
    duration_ms = audio.samples_to_ms(len(x))
    return ClientResult(k, duration_ms, text, n_errors, float(np.mean(lags or [0])), float(np.max(lags or [0])),
                        mean_between(computes, 0, duration_ms), mean_between(computes, 240_000, 300_000),
                        mean_between(computes, duration_ms - 60_000, duration_ms))  # fmt: skip


def mean_between(points: list[tuple[float, float]], lo_ms: float, hi_ms: float) -> float:
    """Mean of the values whose time lies in (lo_ms, hi_ms]; 0 when none does."""
    values = [v for t, v in points if lo_ms < t <= hi_ms]
    return float(np.mean(values)) if values else 0.0


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


async def watch_memory(pid: int, samples: list[tuple[float, float]], stop: asyncio.Event) -> None:
    t0 = time.perf_counter()
    while not stop.is_set():
        samples.append((time.perf_counter() - t0, rss_mib(pid)))
        await asyncio.sleep(1.0)


def start_server(args: argparse.Namespace) -> tuple[subprocess.Popen, int]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "speech_proactive.serve", "--model", str(args.model), "--port", "0",
         "--policy", args.policy, "--max-streams", str(args.clients), *(["--no-batch"] if args.no_batch else [])],
        stdout=subprocess.PIPE, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )  # fmt: skip
    line = proc.stdout.readline()
    if not line.startswith("serving "):
        proc.kill()
        raise RuntimeError(f"the server did not start: {line!r}")
    return proc, int(line.split(":")[2].split("/")[0])


async def run(args: argparse.Namespace) -> dict:
    files = [audio.load_audio(f) for f in args.wav]
    start = {"src_lang": args.src_lang, "tgt_lang": args.tgt_lang, "policy": args.policy}
    start = {k: v for k, v in start.items() if v}
    proc, port = start_server(args)
    url = f"ws://127.0.0.1:{port}/"
    try:
        memory, stop = [], asyncio.Event()
        watcher = asyncio.create_task(watch_memory(proc.pid, memory, stop))
        streams = [client_audio(files, k, args.seconds) for k in range(args.clients)]
        t0 = time.perf_counter()
        paced = not args.fast
        together = await asyncio.gather(*(stream(url, x, start, k, paced) for k, x in enumerate(streams)))
        wall_s = time.perf_counter() - t0
        stop.set()
        await watcher
        distinct = min(len(files), args.clients)  # client k and k + len(files) stream the same audio
        alone = [await stream(url, streams[k], start, k, False) for k in range(distinct)] if args.compare else None
    finally:
        proc.terminate()
        proc.wait(30)
    return summary(together, alone, memory, wall_s, len(files))


def summary(together, alone, memory, wall_s, n_files) -> dict:
    after_1min = [m for t, m in memory if t >= 60] or [m for _, m in memory]
    growth = (memory[-1][1] - after_1min[0]) / after_1min[0]
    mismatched = None if alone is None else [r.client for r in together if r.text != alone[r.client % n_files].text]
    minute_5 = float(np.mean([r.compute_ms_minute_5 for r in together]))
    last = float(np.mean([r.compute_ms_last_minute for r in together]))
    compute_growth = last / minute_5 - 1 if minute_5 > 0 else None  # streams shorter than 5 min: not measured
    return {
        "clients": len(together),
        "audio_s_per_client": together[0].audio_ms / 1000,
        "wall_s": round(wall_s, 1),
        "errors": sum(r.n_errors for r in together),
        "transcripts_differing_from_alone": mismatched,
        "words_per_client": [len(r.text.split()) for r in together],
        "mean_lag_ms": round(float(np.mean([r.mean_lag_ms for r in together])), 1),
        "mean_compute_ms_per_block": round(float(np.mean([r.mean_compute_ms for r in together])), 2),
        "compute_ms_minute_5": round(float(np.mean([r.compute_ms_minute_5 for r in together])), 2),
        "compute_ms_last_minute": round(last, 2),
        "compute_growth_last_vs_minute_5": None if compute_growth is None else round(compute_growth, 4),
        "real_time_streams": round(sum(r.audio_ms for r in together) / 1000 / wall_s, 2),
        "max_lag_ms": round(max(r.max_lag_ms for r in together), 1),
        "rss_mib_at_1min": round(after_1min[0], 1),
        "rss_mib_at_end": round(memory[-1][1], 1),
        "rss_growth": round(growth, 4),
        "ok": not mismatched
        and not sum(r.n_errors for r in together)
        and growth <= MEMORY_TOLERANCE
        and (compute_growth is None or abs(compute_growth) <= COMPUTE_TOLERANCE),
        "results": [asdict(r) for r in together],
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", type=Path, required=True)
    p.add_argument("--wav", type=Path, nargs="+", required=True)
    p.add_argument("--clients", type=int, default=16)
    p.add_argument("--seconds", type=float, default=120.0)
    p.add_argument("--policy", default="wait-k:3")
    p.add_argument("--src-lang")
    p.add_argument("--tgt-lang")
    p.add_argument("--fast", action="store_true", help="clients send as fast as the server takes it (capacity)")
    p.add_argument("--no-batch", action="store_true", help="the server steps each stream alone (for comparison)")
    soak_help = "skip streaming each audio again alone (a soak run: memory and compute over time only)"
    p.add_argument("--no-compare", dest="compare", action="store_false", help=soak_help)
    p.add_argument("--json", type=Path, help="write the summary here too")
    args = p.parse_args(argv)
    result = asyncio.run(run(args))
    brief = {k: v for k, v in result.items() if k != "results"}
    print(json.dumps(brief, indent=1))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
