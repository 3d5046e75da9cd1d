"""L = L_batch + L_MSLM + lambda * L_SPSD, from ONE forward pass over a shared source.

Each example is laid out as `[prompt ; source ; target (teacher copy) ; target (student copies) ...]`. The
teacher copy sees the whole source (the offline view, L_batch); each student copy sees the source its sampled
read schedule allows (L_MSLM). Source states never depend on the target, so both views share them: the pass
costs P + S + (1 + n_students) T positions instead of (1 + n_students)(P + S + T), and speech has S >> T.
SPSD is KL(teacher || student) on the teacher's top-k tokens, teacher detached: the same parameters in the
same step ("synchronized"), no frozen or EMA copy.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from speech_proactive.model import ctc
from speech_proactive.model.llm import group_positions
from speech_proactive.model.llm.group_positions import Entries
from speech_proactive.model.speech_llm import SpeechLLM
from speech_proactive.training.batch import Batch
from speech_proactive.training.schedules import sample_schedule, units_to_vectors


@dataclass(frozen=True)
class LossConfig:
    mslm: bool = True  # L_MSLM: NLL of the student copies
    spsd: bool = True  # L_SPSD: KL(teacher || student) on the teacher's top-k
    spsd_lambda: float = 0.1  # the paper finds the curve insensitive to it
    top_k: int = 100
    n_students: int = 1  # student copies (each with its own schedule) per example
    latency_skew: float = 0.0  # schedules.sample_schedule
    random_allocation: bool = False  # schedules.sample_schedule: every monotone schedule equally likely (QA)
    ctc_weight: float = 0.0  # auxiliary CTC against the source transcript (ctc.py; 0: off)

    @property
    def needs_students(self) -> bool:
        return self.mslm or self.spsd


@dataclass(frozen=True)
class LossTerms:
    total: Tensor
    batch: Tensor
    mslm: Tensor
    spsd: Tensor
    ctc: Tensor
    n_tokens: int  # target tokens per copy in the batch


@dataclass(frozen=True)
class CopyLogits:
    teacher: Tensor  # [N, vocab] over all target positions of the batch
    students: list[Tensor]  # n_students x [N, vocab]
    labels: Tensor  # [N]
    ctc_in: Tensor  # [B, T, D] what the CTC head reads (ctc.py): encoder frames or adapter outputs
    n_ctc_in: Tensor  # [B] valid frames of it per example
    vocab_logits: Tensor | None = None  # [B, S, vocab] the adapter's, with adapter output='tokens'


def source_lengths(model: SpeechLLM, n_mel_frames: Tensor) -> Tensor:
    n_enc = (n_mel_frames + 1) // 2
    return (n_enc + model.cfg.adapter.stack - 1) // model.cfg.adapter.stack


def ctc_input(model: SpeechLLM, frames: Tensor, source: Tensor, n_mel_frames: Tensor) -> tuple[Tensor, Tensor]:
    if model.cfg.ctc_units == "bytes":
        return frames, (n_mel_frames + 1) // 2
    return source, source_lengths(model, n_mel_frames)


def student_schedule(
    model: SpeechLLM, n_vectors: int, n_mel: int, n_positions: int, cfg: LossConfig, generator: torch.Generator | None
) -> Tensor:
    """A read schedule over audio chunks (the streaming unit), expressed in source vectors."""
    n_chunks = -(-n_mel // model.cfg.encoder.chunk_mel_frames)
    phi = sample_schedule(n_chunks, n_positions, generator, cfg.latency_skew, cfg.random_allocation)
    return units_to_vectors(phi, model.vectors_per_chunk, n_vectors)


def shared_forward(
    model: SpeechLLM,
    batch: Batch,
    cfg: LossConfig,
    generator: torch.Generator | None = None,
    schedules: list[list[Tensor]] | None = None,
) -> CopyLogits:
    """One pass; `schedules[b][c]` overrides student c's sampled schedule of example b (used by tests)."""
    frames = model.encoder.forward_blockwise(batch.mel, batch.n_mel_frames)
    source, vocab_logits = model.adapter.forward_with_logits(frames)
    n_vec = source_lengths(model, batch.n_mel_frames)
    n_students = cfg.n_students if cfg.needs_students else 0

    def students(b: int, s: int, n_target: int) -> list[Tensor]:
        return [
            schedules[b][c]
            if schedules
            else student_schedule(model, s, int(batch.n_mel_frames[b]), n_target, cfg, generator)
            for c in range(n_students)
        ]

    hidden = _lm_pass(model, batch, [source[b, : int(n_vec[b])] for b in range(len(batch))], students)
    out = _split_copies(
        model.lm, hidden, batch, n_vec, 1 + n_students, ctc_input(model, frames, source, batch.n_mel_frames)
    )
    return dataclasses.replace(out, vocab_logits=vocab_logits)


def _lm_pass(model: SpeechLLM, batch: Batch, sources: list[Tensor], students) -> Tensor:
    """The LLM over `[prompt ; source ; teacher copy ; student copies]` per example, padded into one batch."""
    rows, embeds = [], []
    for b in range(len(batch)):
        prompt, target, s = batch.prompts[b], batch.targets[b][:-1], len(sources[b])
        copies = [torch.full((len(target),), s, dtype=torch.long), *students(b, s, len(target))]
        rows.append(group_positions.sequence(len(prompt), s, copies))
        t_emb = model.lm.embed(target)
        embeds.append(torch.cat([model.lm.embed(prompt), sources[b], *([t_emb] * len(copies))]))
    rows, embeds = _pad(rows, embeds)
    return model.lm.hidden(torch.stack(embeds), rows, rows, [len(p) for p in batch.prompts])


def text_only(model: SpeechLLM, batch: Batch) -> LossTerms:
    """Text warm-up: L_batch with the source transcript's token embeddings as the source (LLM only)."""
    if batch.sources is None:
        raise ValueError("text warm-up needs the source transcripts' token ids (Example.source_ids)")
    hidden = _lm_pass(model, batch, [model.lm.embed(ids) for ids in batch.sources], lambda b, s, n: [])
    n_tok = torch.tensor([len(ids) for ids in batch.sources])
    empty = hidden.new_zeros(0)
    logits = _split_copies(model.lm, hidden, batch, n_tok, 1, (empty, empty))
    l_text = F.cross_entropy(logits.teacher, logits.labels)
    zero = l_text.new_zeros(())
    return LossTerms(l_text, l_text, zero, zero, zero, int(logits.labels.numel()))


def _pad(rows: list[Entries], embeds: list[Tensor]) -> tuple[list[Entries], list[Tensor]]:
    n = max(len(r) for r in rows)
    padded_rows = [r.cat(Entries.group(group_positions.PAD, n - len(r))) for r in rows]
    padded_embeds = [torch.cat([e, e.new_zeros(n - len(e), e.shape[1])]) for e in embeds]
    return padded_rows, padded_embeds


def _split_copies(
    lm, hidden: Tensor, batch: Batch, n_vec: Tensor, n_copies: int, ctc_in: tuple[Tensor, Tensor]
) -> CopyLogits:
    """Logits of each copy's target positions, gathered in one index per copy (one backward each)."""
    rows: list[list[Tensor]] = [[] for _ in range(n_copies)]
    cols: list[list[Tensor]] = [[] for _ in range(n_copies)]
    for b in range(len(batch)):
        t = len(batch.targets[b]) - 1
        start = len(batch.prompts[b]) + int(n_vec[b])
        for c in range(n_copies):
            rows[c].append(torch.full((t,), b))
            cols[c].append(torch.arange(start + c * t, start + (c + 1) * t))
    per_copy = [
        lm.logits(hidden[torch.cat(r).to(hidden.device), torch.cat(k).to(hidden.device)]) for r, k in zip(rows, cols)
    ]
    labels = torch.cat([tgt[1:] for tgt in batch.targets])
    return CopyLogits(per_copy[0], per_copy[1:], labels, *ctc_in)


def topk_kl(teacher_logits: Tensor, student_logits: Tensor, k: int) -> Tensor:
    """Mean over positions of KL(P_t || P_s), both renormalised over the teacher's top-k tokens."""
    k = min(k, teacher_logits.shape[-1])
    top = teacher_logits.detach().topk(k, dim=-1)
    # float: under bf16 autocast the logits are bf16, and a KL of near-equal distributions is a difference of
    # close log-probabilities, which bf16's 8-bit mantissa would drown
    log_p_t = F.log_softmax(top.values.float(), dim=-1)
    log_p_s = F.log_softmax(student_logits.gather(-1, top.indices).float(), dim=-1)
    return (log_p_t.exp() * (log_p_t - log_p_s)).sum(-1).mean()


def ctc_loss(model: SpeechLLM, features: Tensor, n_frames: Tensor, batch: Batch) -> Tensor:
    return ctc.ctc_loss(model.ctc_head, features, n_frames, batch.transcripts, model.blank_id)


def token_ctc_loss(model: SpeechLLM, vocab_logits: Tensor | None, batch: Batch) -> Tensor:
    """CTC of the adapter's vocabulary distribution against the source transcript in LLM tokens (adapter
    output='tokens'); the blank is the pad token. Zero when the adapter outputs plain vectors."""
    if vocab_logits is None:
        return torch.zeros((), device=batch.mel.device)
    if batch.sources is None:
        raise ValueError("adapter output='tokens' needs the source transcripts' token ids (Example.source_ids)")
    n_vec = source_lengths(model, batch.n_mel_frames)
    return ctc.ctc_loss(nn.Identity(), vocab_logits, n_vec, batch.sources, model.token_blank_id)


def ctc_only(model: SpeechLLM, batch: Batch) -> LossTerms:
    """Warm-up: the audio side alone learns to hear words (no LLM pass, so no LLM gradient)."""
    frames = model.encoder.forward_blockwise(batch.mel, batch.n_mel_frames)
    needs_adapter = model.cfg.ctc_units == "tokens" or model.cfg.adapter.output == "tokens"
    source, vocab_logits = model.adapter.forward_with_logits(frames) if needs_adapter else (frames, None)
    l_ctc = ctc_loss(model, *ctc_input(model, frames, source, batch.n_mel_frames), batch)
    l_ctc = l_ctc + token_ctc_loss(model, vocab_logits, batch)
    zero = l_ctc.new_zeros(())
    return LossTerms(l_ctc, zero, zero, zero, l_ctc, sum(len(t) - 1 for t in batch.targets))


def compute_losses(
    model: SpeechLLM, batch: Batch, cfg: LossConfig = LossConfig(), generator: torch.Generator | None = None
) -> LossTerms:
    logits = shared_forward(model, batch, cfg, generator)
    zero = logits.teacher.new_zeros(())
    l_batch = F.cross_entropy(logits.teacher, logits.labels)
    l_mslm = torch.stack([F.cross_entropy(s, logits.labels) for s in logits.students]).mean() if cfg.mslm else zero
    l_spsd = torch.stack([topk_kl(logits.teacher, s, cfg.top_k) for s in logits.students]).mean() if cfg.spsd else zero
    l_ctc = ctc_loss(model, logits.ctc_in, logits.n_ctc_in, batch) if cfg.ctc_weight > 0 else zero
    # with adapter output="tokens" its own CTC makes its distribution mean words (weighted like the byte CTC)
    l_ctc = l_ctc + token_ctc_loss(model, logits.vocab_logits, batch)
    total = l_batch + l_mslm + cfg.spsd_lambda * l_spsd + cfg.ctc_weight * l_ctc
    return LossTerms(total, l_batch, l_mslm, l_spsd, l_ctc, int(logits.labels.numel()))
