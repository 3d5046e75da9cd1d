"""Streaming steps over a static KV cache, so that a GPU replays each step as one CUDA graph.

A streaming step of a GPU-sized LLM is a few hundred small kernels, and launching them one by one from Python
costs more than running them: ~26 ms per one-token step of Hugging Face eager code at
Qwen2.5-0.5B's shape on an H200, against ~0.25 ms to read its bf16 weights. A CUDA graph replays a captured
sequence of kernels with one launch, but it fixes every shape and every address. So here:
- the KV cache is one buffer of `capacity` slots per layer (`GraphedSteps` owns it; a stream holds a
  `StaticCache` handle), and a step writes its new entries at slots given by a device tensor;
- attention reads every slot under a mask that hides the slots past the stream's entries;
- what varies per step (the new entries' embeddings, positions, slots and mask rows) is copied into static
  input buffers before the graph replays; one graph is captured per (number of new entries, dtype).

The step itself is `lean_forward.forward` over that cache, the same code as the eager streaming path, so the
arithmetic is the same; tests/invariants/test_graphed_lm.py keeps the two equal through reads, writes and undos on the
CPU, where the steps run uncaptured, and compares replayed graphs with uncaptured steps on a GPU.

One stream per model at a time: the graphs hold the cache's addresses, so every new stream takes the buffers
over (`new_stream`), and a handle of an earlier stream refuses to be used.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from speech_proactive.model.llm import lean_forward

INITIAL_CAPACITY = 1024  # slots: 80 ms per source vector, so about a minute of audio before the first growth
GRAPH_MAX_ROWS = 16  # a step with more new entries (a prompt: once per stream) runs uncaptured


@dataclass
class _Inputs:
    """Static input buffers of one captured shape: a graph reads them at fixed addresses."""

    embeds: Tensor  # [1, n, D]
    positions: Tensor  # [n] RoPE positions
    slots: Tensor  # [n] cache slots the new entries go to
    mask: Tensor  # [n, capacity] bool, True = may attend; False past the stream's entries


@dataclass
class _Graph:
    graph: object  # torch.cuda.CUDAGraph
    last: Tensor  # [1, 1, D] outputs of the replay, overwritten by the next one
    logits: Tensor  # [1, 1, vocab]


class _Layer:
    """lean_lm's cache-layer interface over one layer's static buffers."""

    def __init__(self, steps: GraphedSteps, i: int):
        self.steps, self.i = steps, i

    def update(self, k: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
        s = self.steps
        if s.k[self.i] is None:  # dtype and head shape come from the model's first step
            shape = (*k.shape[:2], s.capacity, k.shape[3])
            s.k[self.i], s.v[self.i] = k.new_zeros(shape), v.new_zeros(shape)
        s.k[self.i].index_copy_(2, s.slots, k.to(s.k[self.i].dtype))
        s.v[self.i].index_copy_(2, s.slots, v.to(s.v[self.i].dtype))
        return s.k[self.i], s.v[self.i]


class StaticCache:
    """A stream's handle on the model's static cache: what `LMState.cache` holds in graphed streaming."""

    def __init__(self, steps: GraphedSteps, ticket: int):
        self._steps, self._ticket = steps, ticket

    def steps(self) -> GraphedSteps:
        if self._steps.ticket != self._ticket:
            raise RuntimeError(
                "graphed streaming runs one stream per model at a time: a newer stream has taken "
                "this stream's cache over"
            )
        return self._steps

    def get_seq_length(self) -> int:
        return self.steps().n

    def crop(self, n: int) -> None:
        """transformers' convention: a negative n removes that many entries (the session's undo of a peek)."""
        if n > 0:
            raise ValueError(f"crop({n}): pass minus the number of entries to remove")
        steps = self.steps()
        steps.n = max(0, steps.n + n)

    @property
    def nbytes(self) -> int:
        """Memory held, spare slots included."""
        return sum(t.numel() * t.element_size() for t in (*self._steps.k, *self._steps.v) if t is not None)


class GraphedSteps:
    """The static cache of a model's LLM and the graphs of its streaming steps."""

    def __init__(
        self,
        model: nn.Module,
        rope: lean_forward.RopeTable,
        target_position_offset: int,
        capacity: int = INITIAL_CAPACITY,
        capture: bool | None = None,
    ):
        """capture: record CUDA graphs (default: when the model is on a GPU); without, steps run uncaptured."""
        if getattr(rope.rotary, "rope_type", "default") != "default":
            raise ValueError(f"graphed streaming needs the default RoPE (a fixed table), not {rope.rotary.rope_type!r}")
        self.decoder, self.lm_head, self.rope = model.get_decoder(), model.get_output_embeddings(), rope
        self.device = model.get_input_embeddings().weight.device
        self.capture = self.device.type == "cuda" if capture is None else capture
        self.max_offset = target_position_offset
        self.layers = [_Layer(self, i) for i in range(len(self.decoder.layers))]
        self.ticket, self.n = 0, 0
        self._allocate(capacity)

    def new_stream(self) -> StaticCache:
        self.ticket += 1
        self.n = 0
        return StaticCache(self, self.ticket)

    def step(
        self, cache: StaticCache, embeds: Tensor, allow: Tensor, positions: Tensor, attentions: bool = False
    ) -> tuple[Tensor, Tensor, tuple[Tensor, ...] | None]:
        """Append `embeds` [1, n, D] (mask rows `allow` [n, n_keys] and `positions` [n], both on the host) to
        the stream's cache. Returns the last new entry's hidden state [1, 1, D], its logits [1, 1, vocab] and,
        with `attentions`, every layer's weights [1, heads, n, n_keys] (those steps run uncaptured)."""
        cache.steps()
        n, n_keys = embeds.shape[1], allow.shape[1]
        if n_keys != self.n + n:
            raise ValueError(f"mask rows cover {n_keys} keys, the cache holds {self.n} + {n} new entries")
        if n_keys > self.capacity:
            self._allocate(2 * n_keys)
        inputs = self._fill(embeds, allow, positions)
        if self.capture and n <= GRAPH_MAX_ROWS and not attentions:
            graph = self._graphs.get(self._key(inputs)) or self._record(inputs)
            graph.graph.replay()
            last, logits, attn = graph.last.clone(), graph.logits.clone(), None
        else:
            with self._autocast_without_cache():
                last, logits, attn = self._run(inputs, attentions)
            attn = tuple(a[..., :n_keys] for a in attn) if attn else None
        self.n = n_keys
        return last, logits, attn

    def _allocate(self, capacity: int) -> None:
        """(Re)build the buffers for `capacity` slots, keeping the stream's entries; graphs of the old buffers
        are dropped. The rotary table is sized once per capacity: a graph reads it at a fixed address."""
        self.capacity = capacity
        old_k, old_v = getattr(self, "k", None), getattr(self, "v", None)
        self.k, self.v = [None] * len(self.layers), [None] * len(self.layers)
        if old_k and old_k[0] is not None:  # buffers exist once the first step has run: move the entries over
            for i, (k, v) in enumerate(zip(old_k, old_v)):
                self.k[i] = k.new_zeros(*k.shape[:2], capacity, k.shape[3])
                self.v[i] = v.new_zeros(*v.shape[:2], capacity, v.shape[3])
                self.k[i][:, :, : self.n], self.v[i][:, :, : self.n] = k[:, :, : self.n], v[:, :, : self.n]
        largest = torch.tensor([capacity + self.max_offset])
        dummy = torch.zeros(1, device=self.device, dtype=self.decoder.norm.weight.dtype)
        self.rope(dummy, largest)
        self.cos, self.sin = self.rope.cos, self.rope.sin
        self._inputs: dict[tuple[int, torch.dtype], _Inputs] = {}
        self._graphs: dict[tuple, _Graph] = {}

    def _fill(self, embeds: Tensor, allow: Tensor, positions: Tensor) -> _Inputs:
        n = embeds.shape[1]
        key = (n, embeds.dtype)
        if key not in self._inputs:
            z = lambda *shape, dtype=torch.long: torch.zeros(shape, dtype=dtype, device=self.device)  # noqa: E731
            self._inputs[key] = _Inputs(
                z(1, n, embeds.shape[2], dtype=embeds.dtype), z(n), z(n), z(n, self.capacity, dtype=torch.bool)
            )
        inputs = self._inputs[key]
        mask = torch.zeros(n, self.capacity, dtype=torch.bool)
        mask[:, : allow.shape[1]] = allow
        inputs.embeds.copy_(embeds)
        inputs.positions.copy_(positions)
        inputs.slots.copy_(torch.arange(self.n, self.n + n))
        inputs.mask.copy_(mask)
        return inputs

    def _run(self, inputs: _Inputs, attentions: bool = False):
        """The step on the static buffers: the same code eager and under capture."""
        self.slots = inputs.slots
        dtype = inputs.embeds.dtype  # what RopeTable gives the eager path: the fp32 rows cast to the input's dtype
        cos, sin = self.cos[inputs.positions][None].to(dtype), self.sin[inputs.positions][None].to(dtype)
        hidden, attn = lean_forward.forward(self.decoder, inputs.embeds, inputs.mask, cos, sin, self, attentions)
        last = hidden[:, -1:]
        return last, self.lm_head(last), attn

    def _record(self, inputs: _Inputs) -> _Graph:
        """Capture the step for these inputs' shape, as torch.cuda.graphs documents: warm up on a side stream
        (lazy initialisations, allocator), then capture. Both run the step on the current inputs, which the
        replay then repeats: a step only overwrites its own slots, so running it again changes nothing."""
        side = torch.cuda.Stream(self.device)
        side.wait_stream(torch.cuda.current_stream(self.device))
        with torch.cuda.stream(side), self._autocast_without_cache():
            self._run(inputs)
        torch.cuda.current_stream(self.device).wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph), self._autocast_without_cache():
            last, logits, _ = self._run(inputs)
        recorded = _Graph(graph, last, logits)
        self._graphs[self._key(inputs)] = recorded
        return recorded

    def _key(self, inputs: _Inputs) -> tuple:
        """A graph bakes in the shapes, the input dtype and the autocast casts it was captured under."""
        kind = self.device.type
        cast = torch.get_autocast_dtype(kind) if torch.is_autocast_enabled(kind) else None
        return inputs.embeds.shape[1], inputs.embeds.dtype, cast

    def _autocast_without_cache(self) -> contextlib.AbstractContextManager:
        """Autocast as the caller has it, minus its cache of weight casts: that cache is freed when the caller's
        autocast region ends, and a graph captured over it would replay reads of freed memory (PyTorch's CUDA
        graphs notes say to capture with cache_enabled=False). The casts then run inside the graph."""
        kind = self.device.type
        if not torch.is_autocast_enabled(kind):
            return contextlib.nullcontext()
        return torch.autocast(kind, dtype=torch.get_autocast_dtype(kind), cache_enabled=False)
