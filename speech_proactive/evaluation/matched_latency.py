"""Quality at matched latency: each policy setting against a baseline's curve at the same AL.

    python -m speech_proactive.evaluation.matched_latency runs/eval/results.json [--baseline wait-k] \
        [--latency AL] [--quality bleu]
    python -m speech_proactive.evaluation.matched_latency runs/qa-default/eval/results.json --latency rco \
        --quality f1   # QA

For every setting of the other families, the baseline's quality at that setting's latency is read off the
baseline's curve by linear interpolation between its two neighbouring settings (never extrapolated: outside
the baseline's range the gain is not defined). The gain is the setting's quality minus that.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

SHARES = ("rco", "ideal_rco", "AP")  # latency columns that are fractions, not ms


@dataclass(frozen=True)
class Gain:
    test: str
    policy: str
    latency_ms: float  # (a fraction for the SHARES columns)
    quality: float
    baseline_quality: float | None  # the baseline curve at latency_ms; None outside its range

    @property
    def gain(self) -> float | None:
        return None if self.baseline_quality is None else self.quality - self.baseline_quality


def interpolate(curve: list[tuple[float, float]], x: float) -> float | None:
    """The curve's y at x, linear between the two points around x (curve sorted by x); None outside."""
    for (x0, y0), (x1, y1) in zip(curve, curve[1:]):
        if x0 <= x <= x1:
            return y0 if x1 == x0 else y0 + (y1 - y0) * (x - x0) / (x1 - x0)
    return curve[0][1] if len(curve) == 1 and curve[0][0] == x else None


def gains(rows: list[dict], baseline: str = "wait-k", latency: str = "AL", quality: str = "bleu") -> list[Gain]:
    out = []
    for test in dict.fromkeys(r["test"] for r in rows):
        mine = [r for r in rows if r["test"] == test and latency in r and r[latency] == r[latency]]
        curve = sorted((r[latency], r[quality]) for r in mine if r["family"] == baseline)
        if len(curve) < 2:
            raise ValueError(f"{test}: the baseline {baseline!r} needs at least 2 settings, has {len(curve)}")
        for r in mine:
            if r["family"] not in (baseline, "offline"):
                out.append(Gain(test, r["policy"], r[latency], r[quality], interpolate(curve, r[latency])))
    return out


def table(found: list[Gain], baseline: str, latency: str, quality: str) -> str:
    share = latency in SHARES  # a fraction of the source, not ms
    lines = [
        f"| test | policy | {latency}{'' if share else ' ms'} | {quality} | {baseline} at that {latency} | gain |",
        "|---|---|---|---|---|---|",
    ]
    for g in found:
        base = "-" if g.baseline_quality is None else f"{g.baseline_quality:.1f}"
        gain = "outside its range" if g.gain is None else f"{g.gain:+.1f}"
        at = f"{g.latency_ms:.0%}" if share else f"{g.latency_ms:.0f}"
        lines.append(f"| {g.test} | {g.policy} | {at} | {g.quality:.1f} | {base} | {gain} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m speech_proactive.evaluation.matched_latency",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("results", type=Path, help="results.json of an evaluate run")
    p.add_argument("--baseline", default="wait-k", help="policy family whose curve is the reference")
    p.add_argument("--latency", default="AL", help="latency column: AL, LAAL, AL_CA, ...")
    p.add_argument("--quality", default="bleu", help="quality column: bleu, chrf, f1, ...")
    args = p.parse_args(argv)
    try:
        rows = json.loads(args.results.read_text())["rows"]
        print(table(gains(rows, args.baseline, args.latency, args.quality), args.baseline, args.latency, args.quality))
    except (OSError, KeyError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
