"""Training examples from manifests: one example per (utterance, task), in a seeded, resumable order."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from speech_proactive import audio
from speech_proactive.config import TaskSpec
from speech_proactive.data.manifest import Manifest, Utterance
from speech_proactive.model.frontend import log_mel
from speech_proactive.model.speech_llm import SpeechLLM
from speech_proactive.model.trained_tasks import row_tasks
from speech_proactive.training.augment import AugmentConfig, augment, example_rng
from speech_proactive.training.batch import Batch, Example, collate, even_frames

SORT_WINDOW_BATCHES = 50  # batches whose examples are sorted by length together: less padding, still shuffled


@dataclass(frozen=True)
class Item:
    manifest: Manifest
    utterance: Utterance
    task: TaskSpec
    text: str  # the target text for this task


def items(manifests: list[Manifest], tasks: tuple[str, ...]) -> list[Item]:
    """Each utterance once per task: "st" targets the translation, "asr" the transcript, "qa" the answer."""
    out = [
        Item(m, u, t, u.src_text if t.task == "asr" else u.tgt_text)
        for m in manifests
        for u in m.rows
        for t in row_tasks(u, tasks)
    ]
    if not out:
        raise ValueError(f"no training examples for tasks {tasks} in {[str(m.path) for m in manifests]}")
    return out


def epoch_order(all_items: list[Item], epoch: int, seed: int, batch_size: int) -> list[list[int]]:
    """Batches of indices for one epoch: a pure function of (seed, epoch), so a resumed run sees the same."""
    g = torch.Generator().manual_seed(seed * 100003 + epoch)
    perm = torch.randperm(len(all_items), generator=g).tolist()
    window = batch_size * SORT_WINDOW_BATCHES
    batches = []
    for w in range(0, len(perm), window):
        part = sorted(perm[w : w + window], key=lambda i: all_items[i].utterance.n_samples)
        batches += [part[i : i + batch_size] for i in range(0, len(part), batch_size)]
    order = torch.randperm(len(batches), generator=g).tolist()
    return [batches[i] for i in order]


def make_example(
    model: SpeechLLM, item: Item, augment_cfg: AugmentConfig | None = None, rng: np.random.Generator | None = None
) -> Example:
    samples = audio.load_audio(item.manifest.audio_path(item.utterance))
    if augment_cfg is not None:
        samples = augment(samples, augment_cfg, rng)
    mel = even_frames(log_mel(samples, model.cfg.frontend))
    return Example(
        mel,
        model.prompt_ids(item.task).cpu(),
        model.target_ids(item.text).cpu(),
        model.transcript_ids(item.utterance.src_text).cpu(),
        model.text_ids(item.utterance.src_text).cpu(),
    )


def make_batch(
    model: SpeechLLM,
    all_items: list[Item],
    indices: list[int],
    augment: AugmentConfig | None = None,
    seed: int = 0,
    step: int = 0,
) -> Batch:
    """The examples at `indices`; with `augment`, each one's draws depend on (seed, step, index) only."""
    if augment is None or not augment.enabled:
        return collate([make_example(model, all_items[i]) for i in indices])
    return collate([make_example(model, all_items[i], augment, example_rng(seed, step, i)) for i in indices])
