"""The periodic dev evaluation of training: teacher-view loss and the offline quality of greedy streaming
decoding (BLEU of the translations; answer F1 when the dev set is spoken QA only)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from speech_proactive.audio import load_audio
from speech_proactive.data.manifest import Manifest
from speech_proactive.evaluation.metrics.qa import mean_f1
from speech_proactive.model.speech_llm import SpeechLLM
from speech_proactive.streaming.policies import Offline
from speech_proactive.streaming.session import Session
from speech_proactive.training import dataset
from speech_proactive.training.losses import LossConfig, compute_losses

LOSS_BATCH = 16


@dataclass(frozen=True)
class DevResult:
    loss: float  # L_batch (offline view) on the dev items
    score: float  # sacrebleu corpus BLEU of the translations, or answer F1 (%) of the qa items
    n: int  # dev items used
    metric: str = "bleu"  # "bleu" | "f1"


def translate_items(model: SpeechLLM, items: list[dataset.Item]) -> list[str]:
    out = []
    for it in items:
        session = Session(model, Offline(), it.task)
        session.push_audio(load_audio(it.manifest.audio_path(it.utterance)), finished=True)
        out.append(session.final_text)
    return out


def balanced(items: list[dataset.Item], n: int) -> list[dataset.Item]:
    """The first n items taken in turn from each manifest: with [dev.en-de, dev.de-en] the first n alone would
    all be en-de, and the best checkpoint would be picked on one direction."""
    by_manifest: dict[int, list[dataset.Item]] = {}
    for it in items:
        by_manifest.setdefault(id(it.manifest), []).append(it)
    queues = list(by_manifest.values())
    out: list[dataset.Item] = []
    for i in range(max((len(q) for q in queues), default=0)):
        out += [q[i] for q in queues if i < len(q)]
    return out[:n]


def bleu(hyps: list[str], refs: list[str]) -> float:
    import sacrebleu

    return float(sacrebleu.corpus_bleu(hyps, [refs], tokenize="13a").score) if hyps else 0.0


@torch.no_grad()
def evaluate_dev(model: SpeechLLM, manifests: list[Manifest], cfg) -> DevResult:
    if not manifests:
        return DevResult(float("nan"), -1.0, 0)
    has_st = any(u.task_name == "st" for m in manifests for u in m.rows)
    metric = "bleu" if has_st else "f1"  # a QA-only dev set is scored by answer F1
    items = balanced(dataset.items(manifests, ("st",) if has_st else ("qa",)), cfg.eval_n)
    was_training = model.training
    model.eval()
    losses = []
    for i in range(0, len(items), LOSS_BATCH):
        batch = dataset.make_batch(model, items, list(range(i, min(i + LOSS_BATCH, len(items))))).to(model.device)
        losses.append(compute_losses(model, batch, LossConfig(mslm=False, spsd=False)).batch.item())
    hyps = translate_items(model, items)
    refs = [it.text for it in items]
    score = bleu(hyps, refs) if metric == "bleu" else mean_f1(hyps, refs)
    model.train(was_training)
    return DevResult(sum(losses) / len(losses), score, len(items), metric)
