"""What every espeak-ng corpus builder shares: writing its manifests, the size table, and the command line."""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

from speech_proactive import audio
from speech_proactive.data.manifest import Utterance, write_manifest

Manifests = dict[str, list[Utterance]]  # manifest name ("train.en-de") -> rows


def write_manifests(out: Path, manifests: Manifests) -> Manifests:
    for name, rows in sorted(manifests.items()):
        write_manifest(out / f"{name}.jsonl", rows)
    return manifests


def summary(manifests: Manifests) -> str:
    lines = [f"{'manifest':<22}{'utterances':>11}{'hours':>8}"]
    for name, rows in sorted(manifests.items()):
        hours = sum(u.n_samples for u in rows) / audio.SAMPLE_RATE / 3600
        lines.append(f"{name:<22}{len(rows):>11}{hours:>8.2f}")
    return "\n".join(lines)


def generated_corpus_main(
    argv: list[str] | None,
    module: str,
    doc: str | None,
    default_out: str,
    default_n: int,
    n_help: str,
    build: Callable[[Path, int, int, int | None], Manifests],
) -> int:
    """`python -m MODULE --out DIR --n N --seed S --workers W` for a seeded, generated corpus."""
    p = argparse.ArgumentParser(
        prog=f"python -m {module}", description=doc, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--out", type=Path, default=Path(default_out))
    p.add_argument("--n", type=int, default=default_n, help=n_help)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workers", type=int, default=None, help="synthesis processes (default: all cores)")
    args = p.parse_args(argv)
    t0 = time.perf_counter()
    print(summary(build(args.out, args.n, args.seed, args.workers)))
    print(f"built {args.out} in {time.perf_counter() - t0:.0f} s")
    return 0
