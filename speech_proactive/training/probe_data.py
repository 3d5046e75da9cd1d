"""Examples for the learned probe, labelled by the model itself: was the partial input already sufficient?

Backbone frozen, no gradient, no external labels. Per utterance:
1. the target is the model's OWN offline greedy output (whole input heard), not the reference. The probe is
   asked about the session's own written prefix, so its hidden states should come from prefixes the model
   writes, and "sufficient" should mean "agrees with what this model would say having heard everything";
   against a reference, the full view itself is often wrong and the label would measure translation errors,
   not missing input. It also needs no reference text: any audio manifest can train a probe.
2. ONE forward lays out `[prompt ; source ; target (full view) ; target (sees c chunks), c = 1 .. C-1]`
   (separate target copies over one shared source, as the training losses do). Copy c is what the session
   shows the pending query after c chunks, when the tokens before it were written at that chunk too (earlier
   writes see less in the session: an approximation, exact for the first word after a READ).
3. examples are the queries where the session would ask the policy: with word granularity, the first query
   and those whose partial-view argmax starts a word (or is EOS); with token granularity, every query.
   Label 1 ("sufficient") when argmax(partial) == argmax(full) and KL(full || partial) < kl_bound.
   The full input (c = C) is left out: it is sufficient by construction, and the session stops asking once
   the input has ended.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor
from tqdm import tqdm

from speech_proactive import audio
from speech_proactive.config import DecodeOptions, TaskSpec
from speech_proactive.data.manifest import Manifest
from speech_proactive.model.frontend import log_mel
from speech_proactive.model.llm import group_positions
from speech_proactive.model.llm.streaming_lm import LMState
from speech_proactive.model.speech_llm import SpeechLLM
from speech_proactive.streaming.probe_head import features


@dataclass(frozen=True)
class LabelConfig:
    kl_bound: float = 0.5  # nats: KL(full || partial) below this (and the same argmax) = sufficient
    granularity: str = "word"  # where the session asks the policy (DecodeOptions.granularity)

    def __post_init__(self) -> None:
        if not self.kl_bound > 0:
            raise ValueError(f"kl_bound={self.kl_bound}: must be > 0 nats")
        DecodeOptions(granularity=self.granularity)  # validates the name


@dataclass(frozen=True)
class Examples:
    features: Tensor  # [N, F] probe_head.features of each asked query
    labels: Tensor  # [N] 1.0 = the partial view was sufficient
    kl: Tensor  # [N] KL(full || partial), nats
    n_chunks: Tensor  # [N] chunks heard
    group: Tensor  # [N] utterance index: a held-out split must keep an utterance's examples together

    def __len__(self) -> int:
        return int(self.labels.numel())

    @staticmethod
    def cat(parts: list[Examples]) -> Examples:
        if not parts:
            raise ValueError("no examples to concatenate")
        return Examples(*(torch.cat(ts) for ts in zip(*(p.fields() for p in parts))))

    def fields(self) -> tuple[Tensor, ...]:
        return self.features, self.labels, self.kl, self.n_chunks, self.group

    def subset(self, keep: Tensor) -> Examples:
        return Examples(*(t[keep] for t in self.fields()))


def kl_divergence(full_logits: Tensor, partial_logits: Tensor) -> Tensor:
    """KL(P_full || P_partial) per position [...], nats, over the whole vocabulary."""
    log_p = torch.log_softmax(full_logits.float(), dim=-1)
    log_q = torch.log_softmax(partial_logits.float(), dim=-1)
    return (log_p.exp() * (log_p - log_q)).sum(-1)


def sufficient(full_logits: Tensor, partial_logits: Tensor, kl_bound: float) -> Tensor:
    """Bool [...]: the partial view predicts the same next token, with a distribution close to the full one."""
    same = full_logits.argmax(-1) == partial_logits.argmax(-1)
    return same & (kl_divergence(full_logits, partial_logits) < kl_bound)


@torch.no_grad()
def greedy_target(model: SpeechLLM, prompt: Tensor, source: Tensor, max_tokens: int) -> Tensor:
    """`<start> y_1 .. y_L`: the model's offline greedy output (the queries; query L predicts EOS)."""
    lm, state = model.lm, LMState()
    lm.start(state, prompt)
    lm.read(state, source)
    ids = [model.start_id]
    while len(ids) <= max_tokens:
        token = int(lm.write(state, ids[-1]).logits[0, -1].argmax())
        if token == model.eos_id:
            break
        ids.append(token)
    return torch.tensor(ids, dtype=torch.long, device=source.device)


@dataclass(frozen=True)
class Views:
    hidden: Tensor  # [C, T, d_model] copy i sees n_chunks[i] chunks
    logits: Tensor  # [C, T, vocab]
    full_logits: Tensor  # [T, vocab] every query sees the whole source
    n_chunks: list[int]


@torch.no_grad()
def partial_views(model: SpeechLLM, prompt: Tensor, source: Tensor, queries: Tensor, n_chunks: list[int]) -> Views:
    """The queries under the full view and under each partial view, in one forward over a shared source."""
    s, t = len(source), len(queries)
    vis = [torch.full((t,), s)] + [torch.full((t,), min(c * model.vectors_per_chunk, s)) for c in n_chunks]
    entries = group_positions.sequence(len(prompt), s, vis)
    embeds = torch.cat([model.lm.embed(prompt), source, *([model.lm.embed(queries)] * len(vis))])[None]
    hidden = model.lm.hidden(embeds, [entries], [entries], [len(prompt)])[0, len(prompt) + s :]
    hidden = hidden.reshape(len(vis), t, -1)
    logits = model.lm.logits(hidden)
    return Views(hidden[1:], logits[1:], logits[0], list(n_chunks))


def asked(model: SpeechLLM, partial_logits: Tensor, granularity: str) -> Tensor:
    """Bool [C, T]: where the session would ask the policy (session._is_boundary on the partial argmax)."""
    if granularity == "token":
        return torch.ones(partial_logits.shape[:2], dtype=torch.bool)
    top = partial_logits.argmax(-1).cpu()
    starts = torch.tensor(model.word_starts)[top] | (top == model.eos_id)
    starts[:, 0] = True  # nothing written yet: the first token always begins a word
    return starts


@torch.no_grad()
def utterance_examples(model: SpeechLLM, mel: Tensor, task: TaskSpec, cfg: LabelConfig, group: int) -> Examples:
    """mel [n_mels, T] -> the labelled examples of one utterance (none when it is a single chunk long)."""
    prompt = model.prompt_ids(task)
    source = model.source_vectors(mel[None].to(model.device))[0]
    n_total = -(-len(source) // model.vectors_per_chunk)
    options = DecodeOptions()
    queries = greedy_target(model, prompt, source, options.max_tokens_per_chunk * n_total + options.max_tokens_extra)
    v = partial_views(model, prompt, source, queries, list(range(1, n_total)))
    keep = asked(model, v.logits, cfg.granularity)
    full = v.full_logits.expand_as(v.logits)
    label = sufficient(full, v.logits, cfg.kl_bound).cpu()
    chunks = torch.tensor(v.n_chunks, dtype=torch.long)[:, None].expand(keep.shape)
    return Examples(
        features(v.hidden, v.logits).cpu()[keep],
        label[keep].float(),
        kl_divergence(full, v.logits).cpu()[keep],
        chunks[keep],
        torch.full((int(keep.sum()),), group, dtype=torch.long),
    )


def collect(
    model: SpeechLLM, manifests: list[Manifest], limit: int | None, cfg: LabelConfig, progress: bool = True
) -> Examples:
    """Examples from the first `limit` utterances of each manifest (all when None)."""
    from speech_proactive.streaming.decode import task_of

    rows = [(m, u) for m in manifests for u in (m.rows[:limit] if limit else m.rows)]
    parts = []
    for i, (m, u) in enumerate(tqdm(rows, desc="probe examples", disable=not progress, dynamic_ncols=True)):
        mel = log_mel(audio.load_audio(m.audio_path(u)), model.cfg.frontend)
        parts.append(utterance_examples(model, mel, task_of(u), cfg, i))
    return Examples.cat(parts)
