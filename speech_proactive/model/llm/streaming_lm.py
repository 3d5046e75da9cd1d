"""A Hugging Face decoder-only LM run with the group-position layout, batch or streaming.

Streaming keeps one physical KV cache in arrival order: prompt, then source vectors and target tokens
interleaved as they happen. Every forward passes explicit position ids and a 4D mask whose rows come from
`group_positions.allowed`, so a source query never sees a target entry even though target entries sit before it in
memory. Nothing is ever re-encoded; the only undo is dropping the last target token (see `unwrite`).
"""

from __future__ import annotations

import contextlib
import inspect
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from speech_proactive.model.kv_cache import growing_cache
from speech_proactive.model.llm import graphed_steps, group_positions, lean_forward, stream_batch
from speech_proactive.model.llm.group_positions import Entries


@dataclass(frozen=True)
class LMOutput:
    logits: Tensor  # [B, n, vocab]
    hidden: Tensor  # [B, n, d_model] last layer (after the final norm)
    attentions: tuple[Tensor, ...] | None = None  # per layer [B, heads, n, n_keys], when asked for


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


def source_attention(attentions: tuple[Tensor, ...], key_kind: Tensor, query: int) -> Tensor:
    """One query's attention over the source keys [n_source]: mean over layers and heads, renormalised to
    sum to 1 (the prompt and earlier target tokens take the rest of the mass)."""
    weights = torch.stack([a[0, :, query] for a in attentions]).float().mean(dim=(0, 1))  # [n_keys]
    mass = weights[(key_kind == group_positions.SOURCE).to(weights.device)]
    return mass / mass.sum().clamp_min(1e-12)


class StreamingLM(nn.Module):
    def __init__(self, model: nn.Module, target_position_offset: int = 0, lean: bool | None = None):
        """lean: streaming steps through `lean_forward.forward` (same result, less per-call overhead); by default
        wherever the model's family supports it."""
        super().__init__()
        if not hasattr(model, "get_input_embeddings"):
            raise TypeError(f"{type(model).__name__} is not a Hugging Face causal LM")
        self.model = model
        self.target_position_offset = target_position_offset
        params = inspect.signature(model.forward).parameters
        # transformers 5 renamed `past_key_values` to `cache`
        self._cache_kw = "cache" if "cache" in params else "past_key_values"
        self._fast_kernel = model.config._attn_implementation  # sdpa, unless the model was loaded otherwise
        supported = lean_forward.supports(model)
        self.lean = supported if lean is None else lean
        if self.lean and not supported:
            raise ValueError(
                f"lean streaming forward: {model.config.model_type} models are not supported "
                f"(supported: {', '.join(lean_forward.LEAN_MODEL_TYPES)}, full attention only)"
            )
        self._rope = lean_forward.RopeTable(model.get_decoder().rotary_emb) if self.lean else None
        self._graphs: graphed_steps.GraphedSteps | None = None

    def set_graphs(self, enabled: bool, capacity: int = graphed_steps.INITIAL_CAPACITY) -> None:
        """Stream over graphed_lm's static cache: on a GPU each step replays as one CUDA graph (elsewhere it runs
        uncaptured, the same arithmetic and no faster). One stream per model at a time; call it after the model
        has its device and dtype, and again after changing either."""
        if enabled and not self.lean:
            raise ValueError("graphed streaming runs the lean forward: this model has no lean support")
        self._graphs = (
            graphed_steps.GraphedSteps(self.model, self._rope, self.target_position_offset, capacity)
            if enabled
            else None
        )

    @property
    def graphs(self) -> bool:
        return self._graphs is not None

    @contextlib.contextmanager
    def without_graphs(self):
        """The eager streaming path for the streams started inside, keeping the captured graphs for later."""
        kept, self._graphs = self._graphs, None
        try:
            yield
        finally:
            self._graphs = kept

    @property
    def hidden_size(self) -> int:
        return self.model.get_input_embeddings().embedding_dim

    @property
    def vocab_size(self) -> int:
        return self.model.get_input_embeddings().num_embeddings

    def embed(self, ids: Tensor) -> Tensor:
        return self.model.get_input_embeddings()(ids)

    def run(
        self,
        embeds: Tensor,
        queries: list[Entries],
        keys: list[Entries],
        n_prefix: list[int],
        cache: object | None = None,
        attentions: bool = False,
    ) -> LMOutput:
        """One forward. Example b has queries[b] (its new entries) and keys[b] (cache entries + new ones)."""
        out = self._decoder(embeds, queries, keys, n_prefix, cache, attentions)
        hidden = out.last_hidden_state
        return LMOutput(self.logits(hidden), hidden, out.attentions if attentions else None)

    def hidden(
        self,
        embeds: Tensor,
        queries: list[Entries],
        keys: list[Entries],
        n_prefix: list[int],
        cache: object | None = None,
    ) -> Tensor:
        """Last-layer hidden states [B, n, d_model] (after the final norm), without the LM head.

        Training takes the logits of the target positions only: the head over the vocabulary at every
        source position would be most of the cost and all of it wasted."""
        return self._decoder(embeds, queries, keys, n_prefix, cache).last_hidden_state

    def _use_kernel(self, attentions: bool) -> None:
        """Attention weights (for the attention decision head) exist only in the eager kernel (same math). Only
        the calls that return them use it: the source prefill and plain writes keep the fast kernel (switching
        costs ~0.1 ms), and a session with the attention head no longer changes the kernel of a shared model."""
        kernel = "eager" if attentions else self._fast_kernel
        if self.model.config._attn_implementation != kernel:
            self.model.set_attn_implementation(kernel)

    def _decoder(
        self,
        embeds: Tensor,
        queries: list[Entries],
        keys: list[Entries],
        n_prefix: list[int],
        cache: object | None = None,
        attentions: bool = False,
    ):
        self._use_kernel(attentions)
        dtype = embeds.dtype
        mask = torch.stack(
            [group_positions.additive_mask(group_positions.allowed(q, k), dtype) for q, k in zip(queries, keys)]
        )
        pos = torch.stack([q.positions(p, self.target_position_offset) for q, p in zip(queries, n_prefix)])
        kwargs = {self._cache_kw: cache} if cache is not None else {}
        out = self.model.get_decoder()(
            inputs_embeds=embeds,
            attention_mask=mask.to(embeds.device),
            position_ids=pos.to(embeds.device),
            use_cache=cache is not None,
            output_attentions=attentions,
            **kwargs,
        )
        return out

    def logits(self, hidden: Tensor) -> Tensor:
        return self.model.get_output_embeddings()(hidden)

    # -- batch ---------------------------------------------------------------------------------------------
    def forward_sequence(
        self, prefix_ids: Tensor, source: Tensor, target_ids: Tensor, n_src_visible: Tensor, attentions: bool = False
    ) -> LMOutput:
        """One example laid out as `[prompt ; source ; target]`; returns outputs at the target entries
        (attentions: per layer [1, heads, T, P + S + T], the target queries' rows).

        prefix_ids [P], source [S, D], target_ids [T], n_src_visible [T] (monotone, each in 0..S).
        """
        entries = group_positions.sequence(len(prefix_ids), len(source), [n_src_visible])
        embeds = torch.cat([self.embed(prefix_ids), source, self.embed(target_ids)])[None]
        out = self.run(embeds, [entries], [entries], [len(prefix_ids)], attentions=attentions)
        t0 = len(prefix_ids) + len(source)
        rows = tuple(a[:, :, t0:] for a in out.attentions) if attentions else None
        return LMOutput(out.logits[:, t0:], out.hidden[:, t0:], rows)

    # -- streaming -----------------------------------------------------------------------------------------
    def new_cache(self) -> object:
        return self._graphs.new_stream() if self._graphs is not None else growing_cache(self.model.config)

    def start(self, state: LMState, prefix_ids: Tensor) -> None:
        state.reset()
        state.cache = self.new_cache()
        state.n_prefix = len(prefix_ids)
        prompt = Entries.group(group_positions.PREFIX, len(prefix_ids))
        self._append_streams([state], self.embed(prefix_ids)[None], [prompt])

    def read(self, state: LMState, vectors: Tensor) -> None:
        """Append source vectors [n, D]; they see the prompt and earlier source only."""
        if len(vectors):
            self.read_streams([state], vectors[None])

    def write(self, state: LMState, token_id: int, attentions: bool = False) -> LMOutput:
        """Append one target token, which sees everything heard so far; returns its outputs [1, 1, ...]."""
        return self.write_streams([state], [token_id], attentions)[0]

    def read_and_write(self, state: LMState, vectors: Tensor, token_id: int, attentions: bool = False) -> LMOutput:
        """`read(vectors)` then `write(token_id)` in ONE forward: the peek a policy takes after every READ.
        Same outputs as the two calls (the mask decides what each entry sees, not the call it came in);
        a streaming step is bound by per-call overhead, so this saves about a third of a chunk's LLM time."""
        return self.read_and_write_streams([state], vectors[None], [token_id], attentions)[0]

    # The same three steps for several streams in one forward (stream_batch.py): row b of `vectors` [B, n, D]
    # and token_ids[b] belong to states[b]; each stream gets what it gets alone, up to float rounding.
    def read_streams(self, states: list[LMState], vectors: Tensor) -> None:
        self._append_streams(states, vectors, [self._source_entries(s, vectors.shape[1]) for s in states])
        for state in states:
            state.n_source += vectors.shape[1]

    def write_streams(self, states: list[LMState], token_ids: list[int], attentions: bool = False) -> list[LMOutput]:
        embeds = self.embed(torch.tensor(token_ids, device=self._device()))[:, None]
        outs = self._append_streams(states, embeds, [self._target_entry(s, s.n_source) for s in states], attentions)
        for state in states:
            state.n_target += 1
        return outs

    def read_and_write_streams(
        self, states: list[LMState], vectors: Tensor, token_ids: list[int], attentions: bool = False
    ) -> list[LMOutput]:
        n = vectors.shape[1]
        entries = [self._source_entries(s, n).cat(self._target_entry(s, s.n_source + n)) for s in states]
        tokens = self.embed(torch.tensor(token_ids, device=vectors.device))[:, None]
        outs = self._append_streams(states, torch.cat([vectors, tokens], dim=1), entries, attentions)
        for state in states:
            state.n_source, state.n_target = state.n_source + n, state.n_target + 1
        return outs

    @staticmethod
    def _source_entries(state: LMState, n: int) -> Entries:
        return Entries.group(group_positions.SOURCE, n, start=state.n_source)

    @staticmethod
    def _target_entry(state: LMState, n_src_visible: int) -> Entries:
        return Entries.group(
            group_positions.TARGET, 1, start=state.n_target, n_src_visible=torch.tensor([n_src_visible])
        )

    def unwrite(self, state: LMState, n: int = 1) -> None:
        """Drop the last n entries, which must be target tokens (peeked; to be recomputed after a READ)."""
        if n < 1:
            return
        if len(state.entries) < n or bool((state.entries.kind[-n:] != group_positions.TARGET).any()):
            raise RuntimeError(f"unwrite: the last {n} cache entries are not all target tokens")
        state.cache.crop(-n)  # negative: remove this many entries (transformers 4.x and 5.x)
        state.entries = Entries(*(t[:-n] for t in state.entries.fields()))
        state.n_target -= n

    def source_attention(self, state: LMState, out: LMOutput) -> Tensor:
        """The last written query's attention over the source entries [n_source] (see `source_attention`)."""
        if out.attentions is None:
            raise RuntimeError("source_attention: write(..., attentions=True) first")
        return source_attention(out.attentions, state.entries.kind, -1)

    def _append_streams(
        self, states: list[LMState], embeds: Tensor, entries: list[Entries], attentions: bool = False
    ) -> list[LMOutput]:
        """Append entries to each stream's cache; outputs of each stream's LAST new entry only ([1, 1, ...]): no
        streaming call needs the others, and the vocabulary head over every source vector read would be most of
        a READ. The lean forward takes every stream in one batch; the graphed and Hugging Face paths one by one."""
        keys = [state.entries.cat(e) for state, e in zip(states, entries)]
        if self.lean and self._graphs is None:
            outs = self._lean_streams(states, embeds, entries, keys, attentions)
        else:
            outs = [
                self._forward_one(s, embeds[b : b + 1], entries[b], keys[b], attentions) for b, s in enumerate(states)
            ]
        for state, k in zip(states, keys):
            state.entries = k
        return outs

    def _lean_streams(
        self, states: list[LMState], embeds: Tensor, entries: list[Entries], keys: list[Entries], attentions: bool
    ) -> list[LMOutput]:
        pos = torch.stack([e.positions(s.n_prefix, self.target_position_offset) for s, e in zip(states, entries)])
        caches = [state.cache for state in states]
        hidden, attn = stream_batch.forward_streams(
            self.model.get_decoder(), self._rope, embeds, caches, entries, keys, pos, attentions
        )
        last = hidden[:, -1:]
        logits = self.logits(last)
        rows = [tuple(layer[b][:, :, -1:] for layer in attn) if attn else None for b in range(len(keys))]
        return [LMOutput(logits[b : b + 1], last[b : b + 1], rows[b]) for b in range(len(keys))]

    def _forward_one(
        self, state: LMState, embeds: Tensor, entries: Entries, keys: Entries, attentions: bool
    ) -> LMOutput:
        """One stream's forward through the static cache (graphs) or Hugging Face's decoder."""
        if self._graphs is not None:
            pos = entries.positions(state.n_prefix, self.target_position_offset)
            allow = group_positions.allowed(entries, keys)
            last, logits, attn = self._graphs.step(state.cache, embeds, allow, pos, attentions)
        else:
            out = self._decoder(embeds, [entries], [keys], [state.n_prefix], state.cache, attentions)
            last = out.last_hidden_state[:, -1:]
            logits, attn = self.logits(last), out.attentions if attentions else None
        return LMOutput(logits, last, tuple(a[:, :, -1:] for a in attn) if attn else None)

    def _device(self) -> torch.device:
        return self.model.get_input_embeddings().weight.device
