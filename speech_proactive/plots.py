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
    dev = [r for r in rows if "dev_bleu" in r]
    fig, (ax_loss, ax_bleu) = plt.subplots(1, 2, figsize=(11, 4))
    for key in ("loss", "batch", "mslm", "spsd", "ctc"):
        if any(r.get(key) for r in train):  # a switched-off term is all zeros: log scale cannot show it
            ax_loss.plot([r["step"] for r in train], [r.get(key, 0) for r in train], label=key, linewidth=0.8)
    ax_loss.set_xlabel("step")
    ax_loss.set_yscale("log")
    ax_loss.legend()
    ax_loss.set_title("training loss terms")
    ax_bleu.plot([r["step"] for r in dev], [r["dev_bleu"] for r in dev], marker="o")
    ax_bleu.set_xlabel("step")
    ax_bleu.set_title("dev BLEU (offline, greedy)")
    fig.tight_layout()
    fig.savefig(out_png, dpi=100)
    plt.close(fig)
    return out_png
