"""A Hugging Face decoder-only LM run with the group-position layout, batch or streaming.

Streaming keeps one physical KV cache in arrival order: prompt, then source vectors and target tokens
interleaved as they happen. Every forward passes explicit position ids and a 4D mask whose rows come from
`layout.allowed`, so a source query never sees a target entry even though target entries sit before it in
memory. Nothing is ever re-encoded; the only undo is dropping the last target token (see `unwrite`).
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from speech_proactive import layout
from speech_proactive.layout import Entries


@dataclass(frozen=True)
class LMOutput:
    logits: Tensor  # [B, n, vocab]
    hidden: Tensor  # [B, n, d_model] last layer (after the final norm)


def _empty_entries() -> Entries:
    z = torch.zeros(0, dtype=torch.long)
    return Entries(z, z, z, z)


@dataclass
class LMState:
    """Per-stream LM state: the KV cache and a description of each entry in it, in arrival order."""

    cache: object | None = None  # transformers DynamicCache
    entries: Entries = field(default_factory=_empty_entries)
    n_prefix: int = 0
    n_source: int = 0
    n_target: int = 0

    def reset(self) -> None:
        self.cache = None
        self.entries = _empty_entries()
        self.n_prefix = 0
        self.n_source = 0
        self.n_target = 0


class StreamingLM(nn.Module):
    def __init__(self, model: nn.Module, target_position_offset: int = 0):
        super().__init__()
        if not hasattr(model, "get_input_embeddings"):
            raise TypeError(f"{type(model).__name__} is not a Hugging Face causal LM")
        self.model = model
        self.target_position_offset = target_position_offset
        params = inspect.signature(model.forward).parameters
        # transformers 5 renamed `past_key_values` to `cache`
        self._cache_kw = "cache" if "cache" in params else "past_key_values"

    @property
    def hidden_size(self) -> int:
        return self.model.get_input_embeddings().embedding_dim

    @property
    def vocab_size(self) -> int:
        return self.model.get_input_embeddings().num_embeddings

    def embed(self, ids: Tensor) -> Tensor:
        return self.model.get_input_embeddings()(ids)

    def run(self, embeds: Tensor, queries: list[Entries], keys: list[Entries], n_prefix: list[int],
            cache: object | None = None) -> LMOutput:
        """One forward. Example b has queries[b] (its new entries) and keys[b] (cache entries + new ones)."""
        hidden = self.hidden(embeds, queries, keys, n_prefix, cache)
        return LMOutput(logits=self.logits(hidden), hidden=hidden)

    def hidden(self, embeds: Tensor, queries: list[Entries], keys: list[Entries], n_prefix: list[int],
               cache: object | None = None) -> Tensor:
        """Last-layer hidden states [B, n, d_model] (after the final norm), without the LM head.

        Training takes the logits of the target positions only: the head over the vocabulary at every
        source position would be most of the cost and all of it wasted."""
        dtype = embeds.dtype
        mask = torch.stack([layout.additive_mask(layout.allowed(q, k), dtype) for q, k in zip(queries, keys)])
        pos = torch.stack([q.positions(p, self.target_position_offset) for q, p in zip(queries, n_prefix)])
        kwargs = {self._cache_kw: cache} if cache is not None else {}
        out = self.model.get_decoder()(
            inputs_embeds=embeds,
            attention_mask=mask.to(embeds.device),
            position_ids=pos.to(embeds.device),
            use_cache=cache is not None,
            **kwargs,
        )
        return out.last_hidden_state

    def logits(self, hidden: Tensor) -> Tensor:
        return self.model.get_output_embeddings()(hidden)

    # -- batch ---------------------------------------------------------------------------------------------
    def forward_sequence(self, prefix_ids: Tensor, source: Tensor, target_ids: Tensor, n_src_visible: Tensor
                         ) -> LMOutput:
        """One example laid out as `[prompt ; source ; target]`; returns outputs at the target entries.

        prefix_ids [P], source [S, D], target_ids [T], n_src_visible [T] (monotone, each in 0..S).
        """
        entries = layout.sequence(len(prefix_ids), len(source), [n_src_visible])
        embeds = torch.cat([self.embed(prefix_ids), source, self.embed(target_ids)])[None]
        out = self.run(embeds, [entries], [entries], [len(prefix_ids)])
        t0 = len(prefix_ids) + len(source)
        return LMOutput(out.logits[:, t0:], out.hidden[:, t0:])

    # -- streaming -----------------------------------------------------------------------------------------
    def new_cache(self) -> object:
        from transformers import DynamicCache

        try:
            return DynamicCache(config=self.model.config)
        except TypeError:  # transformers 4.x takes no config
            return DynamicCache()

    def start(self, state: LMState, prefix_ids: Tensor) -> None:
        state.reset()
        state.cache = self.new_cache()
        state.n_prefix = len(prefix_ids)
        self._append(state, self.embed(prefix_ids), Entries.group(layout.PREFIX, len(prefix_ids)))

    def read(self, state: LMState, vectors: Tensor) -> None:
        """Append source vectors [n, D]; they see the prompt and earlier source only."""
        if len(vectors) == 0:
            return
        entries = Entries.group(layout.SOURCE, len(vectors), start=state.n_source)
        self._append(state, vectors, entries)
        state.n_source += len(vectors)

    def write(self, state: LMState, token_id: int) -> LMOutput:
        """Append one target token, which sees everything heard so far; returns its outputs [1, 1, ...]."""
        entries = Entries.group(layout.TARGET, 1, start=state.n_target, n_src_visible=torch.tensor([state.n_source]))
        embeds = self.embed(torch.tensor([token_id], device=self._device()))
        out = self._append(state, embeds, entries)
        state.n_target += 1
        return out

    def unwrite(self, state: LMState) -> None:
        """Drop the last entry, which must be a target token (its query must be recomputed after a READ)."""
        if len(state.entries) == 0 or int(state.entries.kind[-1]) != layout.TARGET:
            raise RuntimeError("unwrite: the last cache entry is not a target token")
        state.cache.crop(-1)  # negative: remove this many entries (transformers 4.x and 5.x)
        state.entries = Entries(*(t[:-1] for t in state.entries.fields()))
        state.n_target -= 1

    def _append(self, state: LMState, embeds: Tensor, entries: Entries) -> LMOutput:
        keys = state.entries.cat(entries)
        out = self.run(embeds[None], [entries], [keys], [state.n_prefix], cache=state.cache)
        state.entries = keys
        return out

    def _device(self) -> torch.device:
        return self.model.get_input_embeddings().weight.device
