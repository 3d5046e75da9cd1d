"""Soak test of the live demo: resident memory and per-chunk compute over a long simulated stream.

    nice -n 19 .venv/bin/python scripts/live_soak.py --model BUNDLE [--minutes 60] [--policy SPEC]

Builds once (kept in --work-dir) a 16 kHz WAV of utterances from --manifest (default: the grammar corpus's
English test audio; espeak-ng speech of audio_samples/sentences.txt when it is not there), in groups of 1-10
joined by 250 ms gaps (one segment, up to a forced cut at --max-segment-s) and separated by 0.8-2 s pauses
(the segment ends). It is played through the live pipeline in this process at --speed 0 (as fast as the model
goes), recording resident memory (VmRSS) and the model time of every block. Printed: a line per minute of
audio, then minute --check-minute against the last minute, with the targets: memory within 10% and
per-chunk compute within 20% of their minute-5 values.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from speech_proactive import audio  # noqa: E402
from speech_proactive.apps.live.app import LiveConfig, load_session, prepare, run  # noqa: E402
from speech_proactive.config import TaskSpec  # noqa: E402
from speech_proactive.streaming.events import Event, Status  # noqa: E402
from speech_proactive.streaming.segmenter import SegmenterConfig  # noqa: E402

MINUTE_MS = 60_000
GAP_MS = 250  # inside a group: shorter than the pause, the segment goes on
PAUSE_MS = (800, 2000)  # between groups: longer than the pause, the segment ends
GROUP_SIZES = (1, 10)  # utterances per group: ~2.5 s to ~30 s of speech (past the 20 s forced cut)


def rss_mib() -> float:
    """Resident memory now (Linux /proc), else the peak so far (getrusage)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def utterance_files(manifest: Path, work_dir: Path) -> list[Path]:
    if manifest.is_file():
        from speech_proactive.data.manifest import read_manifest

        m = read_manifest(manifest, check_audio=False)
        return [m.audio_path(u) for u in m.rows]
    out = work_dir / "espeak"
    out.mkdir(parents=True, exist_ok=True)
    files = []
    for i, text in enumerate((REPO / "audio_samples" / "sentences.txt").read_text().splitlines()):
        f = out / f"{i:03d}.wav"
        if not f.is_file():
            subprocess.run(["espeak-ng", "-v", "en", "-w", str(f), text], check=True, capture_output=True)
        files.append(f)
    return files


def build_stream(path: Path, files: list[Path], minutes: float, seed: int) -> None:
    """Write the stream group by group (an hour of audio never sits in memory)."""
    import soundfile as sf

    rng = np.random.default_rng(seed)
    target_n = audio.ms_to_samples(minutes * MINUTE_MS)
    tmp = path.with_suffix(".tmp.wav")
    with sf.SoundFile(str(tmp), "w", samplerate=audio.SAMPLE_RATE, channels=1, subtype="PCM_16") as out:
        written, i = 0, 0
        while written < target_n:
            for k in range(int(rng.integers(GROUP_SIZES[0], GROUP_SIZES[1] + 1))):
                speech = audio.load_audio(files[i % len(files)])
                i += 1
                gap = np.zeros(audio.ms_to_samples(GAP_MS), np.float32) if k else np.zeros(0, np.float32)
                out.write(np.concatenate([gap, speech]))
                written += len(gap) + len(speech)
            pause = np.zeros(audio.ms_to_samples(rng.uniform(*PAUSE_MS)), np.float32)
            out.write(pause)
            written += len(pause)
    os.replace(tmp, path)


@dataclass
class MinuteStats:
    compute_ms: list[float] = field(default_factory=list)  # model time of each block fed to the model
    flush_ms: list[float] = field(default_factory=list)  # model time of each segment end (flush and reset)
    rss_mib: float = 0.0  # at the end of the minute
    max_lm_cache: int = 0
    max_encoder_frames: int = 0


class Probe:
    """An extra display: files every status event under its minute of audio."""

    def __init__(self):
        self.minutes: dict[int, MinuteStats] = {}

    def __call__(self, event: Event) -> None:
        if not isinstance(event, Status):
            return
        m = self.minutes.setdefault(int(event.heard_ms // MINUTE_MS), MinuteStats())
        if event.compute_ms > 0:
            m.compute_ms.append(event.compute_ms)
        if event.flush_ms > 0:
            m.flush_ms.append(event.flush_ms)
        m.rss_mib = rss_mib()
        m.max_lm_cache = max(m.max_lm_cache, event.lm_cache_len)
        m.max_encoder_frames = max(m.max_encoder_frames, event.encoder_frames)


def mean(xs: list[float]) -> float:
    return statistics.fmean(xs) if xs else float("nan")


def report(probe: Probe, duration_ms: float, check_minute: int, chunk_ms: int) -> None:
    print(
        f"{'minute':>6} {'rss MiB':>8} {'mean ms/chunk':>14} {'median':>7} {'p95':>7} {'chunks':>6} "
        f"{'flushes':>7} {'ms/flush':>8} {'max LM cache':>12} {'max enc frames':>14}"
    )
    n_whole = int(duration_ms // MINUTE_MS)  # the last minute bucket may be partial: left out
    for i in range(n_whole):
        s = probe.minutes.get(i, MinuteStats())
        xs = s.compute_ms or [float("nan")]
        print(
            f"{i + 1:>6} {s.rss_mib:8.1f} {mean(s.compute_ms):14.2f} {statistics.median(xs):7.2f} "
            f"{np.percentile(xs, 95):7.2f} {len(s.compute_ms):6d} {len(s.flush_ms):7d} {mean(s.flush_ms):8.1f} "
            f"{s.max_lm_cache:12d} {s.max_encoder_frames:14d}"
        )
    if n_whole < check_minute:
        print(f"the stream is shorter than {check_minute} whole minutes: nothing to compare")
        return
    at, end = probe.minutes[check_minute - 1], probe.minutes[n_whole - 1]
    rss_ratio = end.rss_mib / at.rss_mib
    compute_ratio = mean(end.compute_ms) / mean(at.compute_ms)
    print(f"minute {check_minute}: rss {at.rss_mib:.1f} MiB, {mean(at.compute_ms):.2f} ms per chunk")
    print(f"minute {n_whole} (the last whole one): rss {end.rss_mib:.1f} MiB, {mean(end.compute_ms):.2f} ms per chunk")
    print(
        f"rss ratio {rss_ratio:.3f} (target: within 10%, {'met' if abs(rss_ratio - 1) <= 0.10 else 'MISSED'}); "
        f"compute ratio {compute_ratio:.3f} (target: within 20%, "
        f"{'met' if abs(compute_ratio - 1) <= 0.20 else 'MISSED'})"
    )
    all_ms = [x for s in probe.minutes.values() for x in s.compute_ms]
    flush_ms = [x for s in probe.minutes.values() for x in s.flush_ms]
    print(
        f"per-chunk compute over the run: mean {mean(all_ms):.2f} ms, p99 {np.percentile(all_ms, 99):.1f} ms, "
        f"max {max(all_ms):.1f} ms, for {chunk_ms} ms chunks; segment ends (flush + reset): mean "
        f"{mean(flush_ms):.0f} ms, max {max(flush_ms, default=0):.0f} ms"
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", type=Path, required=True, help="bundle folder")
    p.add_argument("--policy", default=LiveConfig.policy, help=f"default: {LiveConfig.policy}, as the demo")
    p.add_argument("--minutes", type=float, default=60.0)
    p.add_argument("--check-minute", type=int, default=5, help="the minute the end is compared with")
    p.add_argument("--max-segment-s", type=float, default=SegmenterConfig.max_segment_ms / 1000)
    p.add_argument("--manifest", type=Path, default=REPO / "data" / "grammar" / "test.en-de.jsonl")
    p.add_argument("--work-dir", type=Path, default=REPO / "exp" / "live_soak")
    p.add_argument("--threads", type=int, default=1, help="torch threads (1: leave the other cores alone)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)

    import torch

    torch.set_num_threads(args.threads)
    args.work_dir.mkdir(parents=True, exist_ok=True)
    wav = args.work_dir / f"stream-{args.minutes:g}min-seed{args.seed}.wav"
    if not wav.is_file():
        t0 = time.perf_counter()
        build_stream(wav, utterance_files(args.manifest, args.work_dir), args.minutes, args.seed)
        print(f"built {wav} in {time.perf_counter() - t0:.0f} s", flush=True)
    cfg = LiveConfig(
        args.model,
        args.policy,
        TaskSpec("st", "en", "de"),
        wav,
        speed=0.0,
        segmenter=SegmenterConfig(max_segment_ms=args.max_segment_s * 1000),
    )
    session = load_session(cfg)
    probe = Probe()
    t0 = time.perf_counter()
    with open(os.devnull, "w") as quiet:
        summary = run(prepare(cfg, session, None, quiet, extra_sinks=(probe,)))
    wall_s = time.perf_counter() - t0
    print(
        f"played {summary.duration_ms / MINUTE_MS:.1f} min of audio in {wall_s / 60:.1f} min "
        f"({summary.n_segments} segments, {summary.n_words} words, {summary.n_dropped} dropped); "
        f"policy {args.policy}, {args.threads} torch thread(s)"
    )
    report(probe, summary.duration_ms, args.check_minute, session.model.cfg.encoder.chunk_ms)
    return 0


if __name__ == "__main__":
    sys.exit(main())
