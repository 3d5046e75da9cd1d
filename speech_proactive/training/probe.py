"""Train the learned probe decision head on a trained bundle (backbone frozen, labels made by the model).

    python -m speech_proactive.training.probe --model BUNDLE \\
        --manifest data/grammar/train.en-de.jsonl data/grammar/train.de-en.jsonl --limit 300

Examples and labels: probe_data.py (a partial view is "sufficient" when its next-token prediction agrees
with the full view's and their KL is below --kl-bound). The classifier (probe_head.py) is trained with Adam
on a class-balanced loss, so that p = 0.5 is a balanced decision whatever the base rate (reported). A tenth
of the utterances is held out (whole utterances: the examples of one are correlated) for accuracy and AUC.
Writes BUNDLE/probe.pt and BUNDLE/probe.json; then `--policies probe:q0.9` or `probe:0.5` in evaluate.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from speech_proactive.streaming.probe_head import FEATURES, ProbeHead, save_probe
from speech_proactive.training.probe_data import Examples, LabelConfig, collect


@dataclass(frozen=True)
class ProbeConfig:
    hidden_units: int = 16  # 0: logistic regression; 16 on a 256-dim model: ~4.1k parameters
    epochs: int = 40
    batch_size: int = 256
    lr: float = 3e-3
    weight_decay: float = 1e-3  # L2 on the weights: tens of thousands of correlated examples, 4k parameters
    held_out: float = 0.1  # fraction of utterances kept for held-out accuracy and AUC
    seed: int = 0

    def __post_init__(self) -> None:
        if self.hidden_units < 0 or self.epochs < 1 or self.batch_size < 1 or not 0 < self.held_out < 1:
            raise ValueError(
                f"bad probe config {self}: need hidden_units >= 0, epochs >= 1, batch_size >= 1, 0 < held_out < 1"
            )


@dataclass(frozen=True)
class Scores:
    n: int
    base_rate: float  # fraction labelled sufficient
    accuracy: float  # at p(sufficient) = 0.5
    auc: float


def auc(scores: Tensor, labels: Tensor) -> float:
    """Area under the ROC curve (Mann-Whitney U, ties counted half); nan when only one class is present."""
    pos, n = labels.bool(), len(labels)
    n_pos = int(pos.sum())
    if n_pos in (0, n):
        return float("nan")
    _, inverse, counts = torch.unique(scores.double(), return_inverse=True, return_counts=True)
    ends = counts.cumsum(0).double()
    ranks = (ends - (counts.double() - 1) / 2)[inverse]  # mean rank of each tie group, 1-based
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * (n - n_pos)))


def evaluate_head(head: ProbeHead, ex: Examples) -> Scores:
    with torch.no_grad():
        logit = head.logit(ex.features)
    acc = float(((logit > 0).float() == ex.labels).float().mean()) if len(ex) else float("nan")
    return Scores(len(ex), float(ex.labels.mean()) if len(ex) else float("nan"), acc, auc(logit, ex.labels))


def split(ex: Examples, held_out: float, seed: int) -> tuple[Examples, Examples]:
    groups = torch.unique(ex.group)
    g = torch.Generator().manual_seed(seed)
    n_held = max(1, round(held_out * len(groups)))
    held = groups[torch.randperm(len(groups), generator=g)[:n_held]]
    is_held = torch.isin(ex.group, held)
    return ex.subset(~is_held), ex.subset(is_held)


def init_head(x: Tensor, hidden_units: int, g: torch.Generator) -> ProbeHead:
    n_features = x.shape[1]
    mean, std = x.mean(0), x.std(0).clamp_min(1e-4)  # a constant feature must not divide by zero
    n_in = hidden_units or n_features
    w1 = torch.randn(hidden_units, n_features, generator=g) / n_features**0.5
    w2 = torch.randn(n_in, generator=g) / n_in**0.5
    return ProbeHead(mean, std, w1, torch.zeros(hidden_units), w2, torch.zeros(()))


def train_head(train: Examples, cfg: ProbeConfig) -> ProbeHead:
    """Adam on the class-balanced logistic loss; the standardisation is fixed from the training features."""
    if len(train) == 0 or train.labels.min() == train.labels.max():
        raise ValueError(
            f"cannot train a probe on {len(train)} examples with labels "
            f"{sorted(set(train.labels.tolist()))}: need both sufficient and insufficient views "
            f"(more utterances, or another --kl-bound)"
        )
    g = torch.Generator().manual_seed(cfg.seed)
    head = init_head(train.features, cfg.hidden_units, g)
    params = [head.w1, head.b1, head.w2, head.b2]
    for p in params:
        p.requires_grad_(True)
    base = float(train.labels.mean())
    pos_weight = torch.tensor((1 - base) / base)  # positives and negatives weigh the same in total
    opt = torch.optim.Adam(params, lr=cfg.lr)
    for _ in range(cfg.epochs):
        for idx in torch.randperm(len(train), generator=g).split(cfg.batch_size):
            loss = torch.nn.functional.binary_cross_entropy_with_logits(
                head.logit(train.features[idx]), train.labels[idx], pos_weight=pos_weight
            )
            loss = loss + cfg.weight_decay * (head.w1.pow(2).sum() + head.w2.pow(2).sum())
            opt.zero_grad()
            loss.backward()
            opt.step()
    return ProbeHead(*(t.detach() for t in head.tensors().values()))


def describe(
    head: ProbeHead,
    labels: LabelConfig,
    cfg: ProbeConfig,
    manifests: list[str],
    limit: int | None,
    examples: Examples,
    train: Scores,
    held: Scores,
    n_utterances: int,
    seconds: dict[str, float],
) -> dict:
    """probe.json: enough to know what the probe means and how good it was, without the code."""
    return {
        "format": "speech_proactive.probe",  # the file format's name, not a module path: kept as written
        "version": 1,
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "features": FEATURES,
        "n_features": int(head.mean.numel()),
        "n_params": head.n_params,
        "classifier": "logistic regression" if cfg.hidden_units == 0 else f"MLP, {cfg.hidden_units} ReLU units",
        "labels": {
            "target": "the model's own offline greedy output (no reference text)",
            "views": "after c = 1 .. n_chunks - 1 encoder chunks, every target query sees c chunks",
            "asked_at": (
                "every query"
                if labels.granularity == "token"
                else "the first query and those whose partial-view argmax starts a word or is EOS"
            ),
            "rule": "sufficient = argmax(partial) == argmax(full) and KL(full || partial) < kl_bound",
            **dataclasses.asdict(labels),
        },
        "data": {
            "manifests": manifests,
            "limit_per_manifest": limit,
            "n_utterances": n_utterances,
            "n_examples": len(examples),
            "base_rate": float(examples.labels.mean()),
        },
        "training": {**dataclasses.asdict(cfg), "loss": "class-balanced logistic loss, Adam"},
        "train_scores": dataclasses.asdict(train),
        "held_out_scores": dataclasses.asdict(held),
        "seconds": seconds,
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from speech_proactive.data.manifest import read_manifest
    from speech_proactive.model.bundle import BundleError, load_model

    try:
        labels = LabelConfig(args.kl_bound, args.granularity)
        cfg = ProbeConfig(hidden_units=args.hidden_units, epochs=args.epochs, seed=args.seed)
        model = load_model(args.model, args.device)
        manifests = [read_manifest(p) for p in args.manifest]
    except (BundleError, ValueError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    examples = collect(model, manifests, args.limit, labels)
    t1 = time.perf_counter()
    train, held = split(examples, cfg.held_out, cfg.seed)
    try:
        head = train_head(train, cfg)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    t2 = time.perf_counter()
    s_train, s_held = evaluate_head(head, train), evaluate_head(head, held)
    seconds = {"examples": round(t1 - t0, 1), "training": round(t2 - t1, 1)}
    n_utterances = sum(len(m.rows[: args.limit] if args.limit else m.rows) for m in manifests)
    info = describe(
        head, labels, cfg, [str(p) for p in args.manifest], args.limit, examples, s_train, s_held, n_utterances, seconds
    )
    path = save_probe(args.model, head, info)
    print(
        f"{len(examples)} examples from {info['data']['n_utterances']} utterances, base rate (sufficient) "
        f"{info['data']['base_rate']:.3f}; collected in {seconds['examples']:.0f} s, trained in "
        f"{seconds['training']:.0f} s ({head.n_params} parameters)"
    )
    for name, s in (("train", s_train), ("held-out", s_held)):
        print(f"  {name:8s} n={s.n:6d}  base rate {s.base_rate:.3f}  accuracy {s.accuracy:.3f}  AUC {s.auc:.3f}")
    print(f"wrote {path} and {path.with_name('probe.json')}")
    return 0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m speech_proactive.training.probe",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--model", type=Path, required=True, help="bundle folder (probe.pt is written into it)")
    p.add_argument("--manifest", type=Path, nargs="+", required=True, help="training manifests (audio only is used)")
    p.add_argument("--limit", type=int, help="first N utterances of each manifest")
    p.add_argument("--kl-bound", type=float, default=LabelConfig.kl_bound, help="nats (label rule)")
    p.add_argument(
        "--granularity",
        default=LabelConfig.granularity,
        choices=["word", "token"],
        help="where the session asks the policy (as in decoding)",
    )
    p.add_argument("--hidden-units", type=int, default=ProbeConfig.hidden_units, help="0: logistic regression")
    p.add_argument("--epochs", type=int, default=ProbeConfig.epochs)
    p.add_argument("--seed", type=int, default=ProbeConfig.seed)
    p.add_argument("--device", default="cpu")
    return p.parse_args(argv)


if __name__ == "__main__":
    sys.exit(main())
