"""The periodic dev evaluation of training: teacher-view loss and offline BLEU of greedy streaming decoding."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from speech_proactive import dataset
from speech_proactive.audio import load_audio
from speech_proactive.data.manifest import Manifest
from speech_proactive.losses import LossConfig, compute_losses
from speech_proactive.model import SpeechLLM
from speech_proactive.policies import Offline
from speech_proactive.session import Session

LOSS_BATCH = 16


@dataclass(frozen=True)
class DevResult:
    loss: float  # L_batch (offline view) on the dev items
    bleu: float  # sacrebleu corpus BLEU of the translations (st items only)
    n: int  # dev items used


def translate_items(model: SpeechLLM, items: list[dataset.Item]) -> list[str]:
    out = []
    for it in items:
        session = Session(model, Offline(), it.task)
        session.push_audio(load_audio(it.manifest.audio_path(it.utterance)), finished=True)
        out.append(session.final_text)
    return out


def bleu(hyps: list[str], refs: list[str]) -> float:
    import sacrebleu

    return float(sacrebleu.corpus_bleu(hyps, [refs], tokenize="13a").score) if hyps else 0.0


@torch.no_grad()
def evaluate_dev(model: SpeechLLM, manifests: list[Manifest], cfg) -> DevResult:
    if not manifests:
        return DevResult(float("nan"), -1.0, 0)
    items = dataset.items(manifests, ("st",))[: cfg.eval_n]
    was_training = model.training
    model.eval()
    losses = []
    for i in range(0, len(items), LOSS_BATCH):
        batch = dataset.make_batch(model, items, list(range(i, min(i + LOSS_BATCH, len(items))))).to(model.device)
        losses.append(compute_losses(model, batch, LossConfig(mslm=False, spsd=False)).batch.item())
    hyps = translate_items(model, items)
    score = bleu(hyps, [it.text for it in items])
    model.train(was_training)
    return DevResult(sum(losses) / len(losses), score, len(items))
