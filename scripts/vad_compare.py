"""Which voice-activity gate serves: the energy gate or Silero, on speech, silence, noise and hum.

    .venv/bin/python scripts/vad_compare.py [--manifest data/grammar/test.de-en.jsonl] [--limit 40]

Each sound is fed as the segmenter feeds it (320 ms blocks) and the share of blocks a gate calls speech is
printed: on speech (the utterances of --manifest, default the shipped samples, each with 0.96 s of silence before and
after, counted only inside the speech), and on 60 s each of digital silence, white noise at -50, -40 and -30 dBFS,
brown noise (a fan) at -35 dBFS and a 50 Hz hum with harmonics at -30 dBFS. Also the gate's compute per block.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from speech_proactive import audio  # noqa: E402
from speech_proactive.data.manifest import read_manifest  # noqa: E402
from speech_proactive.streaming.vad import VadConfig, make_vad  # noqa: E402

BLOCK = audio.ms_to_samples(320)
NOISE_S = 60


def level(x: np.ndarray, dbfs: float) -> np.ndarray:
    return (x / np.sqrt(np.mean(x**2)) * 10 ** (dbfs / 20)).astype(np.float32)


def noises(rng: np.random.Generator) -> dict[str, np.ndarray]:
    n = audio.ms_to_samples(NOISE_S * 1000)
    t = np.arange(n) / audio.SAMPLE_RATE
    hum = sum(np.sin(2 * np.pi * 50 * k * t) / k for k in (1, 2, 3, 5))
    return {
        "digital silence": np.zeros(n, np.float32),
        **{f"white noise {d} dBFS": level(rng.standard_normal(n), d) for d in (-50, -40, -30)},
        "brown noise (fan) -35 dBFS": level(
            np.cumsum(rng.standard_normal(n))
            - np.convolve(np.cumsum(rng.standard_normal(n)), np.ones(1600) / 1600, "same"),
            -35,
        ),  # fmt: skip
        "50 Hz hum -30 dBFS": level(hum, -30),
    }


def share(detector: str, x: np.ndarray, keep: np.ndarray | None = None) -> tuple[float, float]:
    """Share of blocks called speech (of the blocks `keep` marks) and ms of gate compute per block."""
    vad = make_vad(VadConfig(detector=detector))
    flags, t0 = [], time.perf_counter()
    for start in range(0, len(x) - BLOCK + 1, BLOCK):
        flags.append(vad(x[start : start + BLOCK]).speech)
    per_block_ms = (time.perf_counter() - t0) * 1000 / max(len(flags), 1)
    flags = np.array(flags)
    return float(flags[keep[: len(flags)]].mean() if keep is not None else flags.mean()), per_block_ms


def speech_stream(manifest: Path, limit: int) -> tuple[np.ndarray, np.ndarray]:
    m = read_manifest(manifest)
    pieces, keep, quiet = [], [], np.zeros(3 * BLOCK, np.float32)  # 0.96 s, whole blocks
    for u in m.rows[:limit]:
        x = audio.load_audio(m.audio_path(u))
        pad = (-len(x)) % BLOCK  # utterances on block boundaries, so a block is all speech or all quiet
        for part, is_speech in ((quiet, False), (np.pad(x, (0, pad)), True), (quiet, False)):
            pieces.append(part)
            keep += [is_speech] * (len(part) // BLOCK)
    return np.concatenate(pieces), np.array(keep)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--manifest", type=Path, default=REPO / "audio_samples" / "samples.jsonl")
    p.add_argument("--limit", type=int, default=40)
    args = p.parse_args()
    x, keep = speech_stream(args.manifest, args.limit)
    sounds = {f"speech ({args.manifest.name}, {int(keep.sum())} blocks)": (x, keep)}
    sounds.update({name: (s, None) for name, s in noises(np.random.default_rng(0)).items()})
    print("| sound | energy: blocks called speech | silero: blocks called speech |\n|---|---|---|")
    cost = {"energy": [], "silero": []}
    for name, (s, k) in sounds.items():
        cells = []
        for detector in ("energy", "silero"):
            frac, ms = share(detector, s, k)
            cells.append(f"{100 * frac:.1f}%")
            cost[detector].append(ms)
        print(f"| {name} | {cells[0]} | {cells[1]} |")
    print("\ngate compute per 320 ms block: " + ", ".join(f"{d} {np.mean(v):.2f} ms" for d, v in cost.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
