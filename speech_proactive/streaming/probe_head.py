"""The learned probe's classifier: features, weights, and their files in a bundle (no training here).

A probe reads what the session already computed for the pending query (the LLM's last hidden state and
the next-token logits) and says how likely the input heard so far is *sufficient*: the next token would not
change with the whole input (labels in probe.py). It is a logistic regression or a one-hidden-layer MLP over
standardised features, a few thousand parameters: a policy can hold it and stay a pure function.

Bundle files: `probe.pt` (the weights and their description; the one file the loader reads) and
`probe.json` (the same description for people: feature definition, label rule, data, held-out scores).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

PROBE_FILE = "probe.pt"
PROBE_INFO = "probe.json"
FEATURES = (
    "last-layer hidden state of the pending query (after the final norm) + entropy of its next-token distribution"
)


def features(hidden: Tensor, logits: Tensor) -> Tensor:
    """[..., d_model], [..., vocab] -> [..., d_model + 1]. One definition for training and inference."""
    log_p = torch.log_softmax(logits.float(), dim=-1)
    entropy = -(log_p.exp() * log_p).sum(-1, keepdim=True)
    return torch.cat([hidden.float(), entropy], dim=-1)


@dataclass(frozen=True)
class ProbeHead:
    mean: Tensor  # [F] feature standardisation, from the training examples
    std: Tensor  # [F]
    w1: Tensor  # [H, F] hidden layer (H = 0: logistic regression on the features)
    b1: Tensor  # [H]
    w2: Tensor  # [H] (or [F] when H = 0)
    b2: Tensor  # [] bias of the output logit

    @property
    def n_params(self) -> int:
        return sum(t.numel() for t in (self.w1, self.b1, self.w2, self.b2))

    def tensors(self) -> dict[str, Tensor]:
        return {"mean": self.mean, "std": self.std, "w1": self.w1, "b1": self.b1, "w2": self.w2, "b2": self.b2}

    def logit(self, x: Tensor) -> Tensor:
        """[..., F] features -> [...] logit of 'sufficient'."""
        z = (x.float() - self.mean) / self.std
        if self.w1.numel():
            z = torch.relu(z @ self.w1.T + self.b1)
        return z @ self.w2 + self.b2

    def p_sufficient(self, hidden: Tensor, logits: Tensor) -> Tensor:
        return torch.sigmoid(self.logit(features(hidden.cpu(), logits.cpu())))


def save_probe(bundle: str | Path, head: ProbeHead, info: dict[str, Any]) -> Path:
    """probe.json first, then probe.pt, each atomically: probe.pt (what loading reads) is never half-written."""
    bundle = Path(bundle)
    _atomic_write(bundle / PROBE_INFO, (json.dumps(info, indent=1, ensure_ascii=False) + "\n").encode())
    tmp = bundle / f".{PROBE_FILE}.tmp-{os.getpid()}"
    torch.save({"tensors": {k: v.detach().cpu().contiguous() for k, v in head.tensors().items()}, "info": info}, tmp)
    os.replace(tmp, bundle / PROBE_FILE)
    return bundle / PROBE_FILE


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_bytes(data)
    os.replace(tmp, path)


class ProbeMissing(FileNotFoundError):
    """The probe policy was asked for on a bundle without a trained probe; the message says how to train one."""


@dataclass(frozen=True)
class LoadedProbe:
    head: ProbeHead
    probe_id: str  # sha256 prefix of probe.pt: calibration scores belong to one trained probe
    info: dict[str, Any]


def load_probe(bundle: str | Path) -> LoadedProbe:
    f = Path(bundle) / PROBE_FILE
    if not f.is_file():
        raise ProbeMissing(
            f"{bundle}: no {PROBE_FILE}, and the probe policy needs a trained probe head. Train one (backbone "
            f"frozen, labels made by the model itself) with: python -m speech_proactive.training.probe "
            f"--model {bundle} --manifest TRAIN.jsonl [...] --limit 300"
        )
    try:
        saved = torch.load(f, map_location="cpu", weights_only=True)
        head = ProbeHead(**{k: saved["tensors"][k].float() for k in ("mean", "std", "w1", "b1", "w2", "b2")})
    except Exception as e:  # torch raises many types for a bad file; they all mean the same to the user
        raise ValueError(
            f"{f}: not a readable probe ({type(e).__name__}: {e}); retrain it with "
            f"python -m speech_proactive.training.probe --model {bundle} --manifest TRAIN.jsonl"
        ) from e
    n_features = head.mean.numel()
    if head.std.numel() != n_features or (head.w1.numel() and head.w1.shape[1] != n_features):
        raise ValueError(f"{f}: inconsistent shapes (mean {tuple(head.mean.shape)}, w1 {tuple(head.w1.shape)})")
    return LoadedProbe(head, hashlib.sha256(f.read_bytes()).hexdigest()[:12], dict(saved.get("info", {})))


def check_fits(head: ProbeHead, d_model: int, bundle: str | Path) -> None:
    """A probe trained on another model's hidden states would score nonsense without any error: refuse it."""
    if head.mean.numel() != d_model + 1:
        raise ValueError(
            f"{Path(bundle) / PROBE_FILE}: trained on {head.mean.numel() - 1}-dim hidden states, "
            f"this model's are {d_model}-dim; retrain it with python -m speech_proactive.training.probe"
        )
