"""Plots people would rather look at than read."""

from __future__ import annotations

import json
from pathlib import Path


def plot_losses(log_jsonl: Path, out_png: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")  # no screen needed
    import matplotlib.pyplot as plt

    rows = [json.loads(line) for line in Path(log_jsonl).read_text().splitlines() if line.strip()]
    train = [r for r in rows if "loss" in r]
    metric = "dev_f1" if any("dev_f1" in r for r in rows) else "dev_bleu"
    dev = [r for r in rows if metric in r]
    fig, (ax_loss, ax_bleu) = plt.subplots(1, 2, figsize=(11, 4))
    for key in ("loss", "batch", "mslm", "spsd", "ctc"):
        if any(r.get(key) for r in train):  # a switched-off term is all zeros: log scale cannot show it
            ax_loss.plot([r["step"] for r in train], [r.get(key, 0) for r in train], label=key, linewidth=0.8)
    ax_loss.set_xlabel("step")
    ax_loss.set_yscale("log")
    ax_loss.legend()
    ax_loss.set_title("training loss terms")
    ax_bleu.plot([r["step"] for r in dev], [r[metric] for r in dev], marker="o")
    ax_bleu.set_xlabel("step")
    ax_bleu.set_title("dev answer F1 (offline, greedy)" if metric == "dev_f1" else "dev BLEU (offline, greedy)")
    fig.tight_layout()
    fig.savefig(out_png, dpi=100)
    plt.close(fig)
    return out_png


def plot_curve(rows: list[dict], out_png: Path) -> Path:
    """Quality against latency, one panel row per test set, one line per policy family; offline (and the
    text baselines) as horizontal lines. Translation: BLEU against AL and LAAL. QA: F1 against the delay after
    the ideal moment and against the share of audio heard when answering."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tests = list(dict.fromkeys(r["test"] for r in rows))
    fig, axes = plt.subplots(len(tests), 2, figsize=(11, 4 * len(tests)), squeeze=False)
    for panels, test in zip(axes, tests):
        mine = [r for r in rows if r["test"] == test]
        qa = mine[0].get("task") == "qa"
        for ax, (x, x_label) in zip(panels, QA_AXES if qa else ST_AXES):
            _draw_panel(ax, mine, x, "f1" if qa else "bleu")
            ax.set_xlabel(x_label)
            ax.set_ylabel("answer F1 (%)" if qa else "BLEU")
            ax.set_title(test)
    fig.tight_layout()
    fig.savefig(out_png, dpi=100)
    plt.close(fig)
    return out_png


ST_AXES = (("AL", "AL (ms, non-computation-aware)"), ("LAAL", "LAAL (ms, non-computation-aware)"))
QA_AXES = (
    ("after_ideal_ms", "answer time after the ideal moment (ms, mean)"),
    ("rco", "share of the audio heard when answering (mean)"),
)


def _draw_panel(ax, rows: list[dict], x: str, y: str) -> None:
    flat = {"offline": "-", "copy-source": ":", "nearest-neighbour": "--"}
    for family in dict.fromkeys(r["family"] for r in rows):
        pts = sorted((r[x], r[y]) for r in rows if r["family"] == family and x in r and r[x] == r[x])
        if family in flat:
            ax.axhline(
                max(r[y] for r in rows if r["family"] == family), color="grey", linestyle=flat[family], label=family
            )
        elif pts:
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=family)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
