"""Training-step cost of each loss variant: batch-only, + MSLM, all three terms, and a naive duplicated batch."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from speech_proactive import audio
from speech_proactive.bench.models import Plan, synthetic_audio
from speech_proactive.bench.runtime import Runtime, count_flops
from speech_proactive.config import TaskSpec
from speech_proactive.model import tokenizer as tk
from speech_proactive.model.frontend import log_mel
from speech_proactive.model.llm import group_positions
from speech_proactive.model.llm.group_positions import Entries
from speech_proactive.model.speech_llm import SpeechLLM
from speech_proactive.training.batch import Batch, Example, collate, even_frames
from speech_proactive.training.losses import (
    LossConfig,
    compute_losses,
    source_lengths,
    student_schedule,
    token_ctc_loss,
    topk_kl,
)

# Training utterances as in the grammar corpus (data/grammar: mean 2.75 s, 1.2-5.6 s, ~4.6 BPE target tokens
# per second): the ratio of source vectors to target tokens sets what the extra student copy costs.
TRAIN_UTTERANCE_S = (1.5, 4.5)  # spread evenly over the batch
TARGET_TOKENS_PER_S = 4.6


def train_batch(model: SpeechLLM, n_examples: int, seed: int = 0) -> Batch:
    """Synthetic utterances with random (non-special) target tokens, shaped like the grammar corpus'."""
    g = torch.Generator().manual_seed(seed)
    prompt, start, eos = model.prompt_ids(TaskSpec()).cpu(), model.start_id, tk.eos_id(model.tokenizer)
    first_plain_id = max(model.tokenizer.all_special_ids) + 1
    shortest, longest = TRAIN_UTTERANCE_S
    examples = []
    for i in range(n_examples):
        seconds = shortest + (longest - shortest) * i / max(1, n_examples - 1)
        n_tokens = round(seconds * TARGET_TOKENS_PER_S)
        ids = torch.randint(first_plain_id, len(model.tokenizer), (n_tokens,), generator=g)
        target = torch.cat([torch.tensor([start]), ids, torch.tensor([eos])])
        mel = even_frames(log_mel(synthetic_audio(seconds, seed=i), model.cfg.frontend))
        # the source transcript in LLM tokens (a random stand-in): a token-output adapter's CTC trains on it
        examples.append(Example(mel, prompt, target, torch.zeros(0, dtype=torch.long), ids))
    return collate(examples).to(model.device)


def one_copy_logits(model: SpeechLLM, batch: Batch, schedules: list[Tensor]) -> tuple[Tensor, Tensor | None]:
    """Encoder, adapter and LLM over `[prompt ; source ; target]` with one read schedule per example; also the
    adapter's vocabulary logits (None unless it outputs tokens)."""
    source, vocab_logits = model.adapter.forward_with_logits(
        model.encoder.forward_blockwise(batch.mel, batch.n_mel_frames)
    )
    n_vec = [int(n) for n in source_lengths(model, batch.n_mel_frames)]
    rows, embeds = [], []
    for b, (prompt, target, s) in enumerate(zip(batch.prompts, batch.targets, n_vec)):
        rows.append(group_positions.sequence(len(prompt), s, [schedules[b]]))
        embeds.append(torch.cat([model.lm.embed(prompt), source[b, :s], model.lm.embed(target[:-1])]))
    n = max(len(r) for r in rows)
    rows = [r.cat(Entries.group(group_positions.PAD, n - len(r))) for r in rows]
    hidden = model.lm.hidden(
        torch.stack([F.pad(e, (0, 0, 0, n - len(e))) for e in embeds]), rows, rows, [len(p) for p in batch.prompts]
    )
    picks = [
        hidden[b, len(p) + s : len(p) + s + len(t) - 1]
        for b, (p, t, s) in enumerate(zip(batch.prompts, batch.targets, n_vec))
    ]
    return model.lm.logits(torch.cat(picks)), vocab_logits


def naive_duplicated_loss(model: SpeechLLM, batch: Batch, cfg: LossConfig, generator: torch.Generator) -> Tensor:
    """All three terms the way a duplicated batch does them: teacher and student each a full pass of their own."""
    n_vec = [int(n) for n in source_lengths(model, batch.n_mel_frames)]
    full = [torch.full((len(t) - 1,), s) for t, s in zip(batch.targets, n_vec)]
    student = [
        student_schedule(model, s, int(m), len(t) - 1, cfg, generator)
        for t, s, m in zip(batch.targets, n_vec, batch.n_mel_frames)
    ]
    (teacher_logits, vocab_logits), (student_logits, _) = (
        one_copy_logits(model, batch, full),
        one_copy_logits(model, batch, student),
    )
    labels = torch.cat([t[1:] for t in batch.targets])
    return (
        F.cross_entropy(teacher_logits, labels)
        + F.cross_entropy(student_logits, labels)
        + cfg.spsd_lambda * topk_kl(teacher_logits, student_logits, cfg.top_k)
        + cfg.ctc_weight * token_ctc_loss(model, vocab_logits, batch)
    )  # computed and weighted as there


TRAIN_VARIANTS = {  # name -> config; "naive_duplicated" computes all three terms in separate passes
    "batch_only": LossConfig(mslm=False, spsd=False),
    "batch_mslm": LossConfig(spsd=False),
    "all_three": LossConfig(),
    "naive_duplicated": LossConfig(),
}


def loss_fn(model: SpeechLLM, batch: Batch, name: str) -> Callable[[], Tensor]:
    def total() -> Tensor:
        gen = torch.Generator().manual_seed(0)  # the same schedules every step: the same work
        if name == "naive_duplicated":
            return naive_duplicated_loss(model, batch, TRAIN_VARIANTS[name], gen)
        return compute_losses(model, batch, TRAIN_VARIANTS[name], gen).total

    return total


def train_step(loss: Callable[[], Tensor], opt: torch.optim.Optimizer, rt: Runtime) -> None:
    opt.zero_grad(set_to_none=True)
    with rt.autocast():
        total = loss()
    total.backward()
    opt.step()


def step_flops(loss: Callable[[], Tensor], opt: torch.optim.Optimizer, rt: Runtime) -> int:
    return count_flops(lambda: train_step(loss, opt, rt))


def training(model: SpeechLLM, rt: Runtime, plan: Plan, n_examples: int) -> dict:
    batch = train_batch(model, n_examples)
    n_tokens = sum(len(t) - 1 for t in batch.targets)
    # lr 0: the optimizer does all of its work but the weights stay those every other measurement uses
    opt = torch.optim.AdamW(model.parameters(), lr=0.0)
    losses = {name: loss_fn(model, batch, name) for name in TRAIN_VARIANTS}
    model.train()
    times = _round_robin_ms(losses, opt, rt, plan.train_steps)
    out = {}
    for name, loss in losses.items():
        step_ms = float(np.median(times[name]))
        out[name] = {
            "step_ms": step_ms,
            "tokens_per_s": n_tokens / (step_ms / 1000),
            "gflop": step_flops(loss, opt, rt) / 1e9,
        }
    model.eval()
    for name in TRAIN_VARIANTS:
        out[name]["time_vs_batch_only"] = out[name]["step_ms"] / out["batch_only"]["step_ms"]
        out[name]["flop_vs_batch_only"] = out[name]["gflop"] / out["batch_only"]["gflop"]
    out["batch"] = {
        "examples": n_examples,
        "audio_s": float(batch.n_mel_frames.sum()) * audio.FRAME_MS / 1000,
        "target_tokens": n_tokens,
        "steps": plan.train_steps,
    }
    return out


def _round_robin_ms(
    losses: dict[str, Callable[[], Tensor]], opt: torch.optim.Optimizer, rt: Runtime, n_steps: int
) -> dict[str, list[float]]:
    """Step times per variant, taking turns so that a noisy minute on a shared machine hits every variant alike;
    the first round is a warm-up."""
    times: dict[str, list[float]] = {name: [] for name in losses}
    for step in range(1 + n_steps):
        for name, loss in losses.items():
            ms = rt.time_ms(partial(train_step, loss, opt, rt))
            if step > 0:
                times[name].append(ms)
    return times
