"""One LLM forward for several streams at once, each over its own KV cache.

A streaming step of a small model is bound by per-call overhead (eval/BENCHMARKS.md): sixteen streams that each
append a few entries cost about sixteen times one stream's step. Here their new entries go through the layers as
one batch [B, n, D]: each stream's keys/values are appended to its own cache (`GrowingLayer`), and attention reads
the caches right-padded to the longest, under a mask built from each stream's own entries (`group_positions`),
with each stream's own RoPE positions. What a stream gets is what it gets alone, up to float rounding; the
streams must add the same number of entries (a read of one chunk, a peek, a one-token write).
"""

from __future__ import annotations

import torch
from torch import Tensor

from speech_proactive.model.kv_cache import stack_ragged
from speech_proactive.model.llm import group_positions, lean_forward
from speech_proactive.model.llm.group_positions import Entries


class _StreamsLayer:
    """lean_forward's cache-layer interface over one layer of several streams' caches."""

    def __init__(self, layers: list):
        self.layers = layers

    def update(self, k: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
        kv = [layer.update(k[b : b + 1], v[b : b + 1]) for b, layer in enumerate(self.layers)]
        return stack_ragged([k for k, _ in kv])[0], stack_ragged([v for _, v in kv])[0]


class StreamsCache:
    def __init__(self, caches: list):
        self.layers = [_StreamsLayer([c.layers[i] for c in caches]) for i in range(len(caches[0].layers))]


def allow_rows(entries: list[Entries], keys: list[Entries]) -> Tensor:
    """Bool [B, 1, n, max keys]: stream b's new entries may attend to its own keys only (padding: never)."""
    n_max = max(len(k) for k in keys)
    allow = torch.zeros(len(keys), 1, len(entries[0]), n_max, dtype=torch.bool)
    for b, (q, k) in enumerate(zip(entries, keys)):
        allow[b, 0, :, : len(k)] = group_positions.allowed(q, k)
    return allow


def forward_streams(
    decoder, rope: lean_forward.RopeTable, embeds: Tensor, caches: list, entries: list[Entries],
    keys: list[Entries], positions: Tensor, attentions: bool = False,
) -> tuple[Tensor, tuple[Tensor, ...] | None]:  # fmt: skip
    """embeds [B, n, D], positions [B, n]; keys[b] = stream b's cache entries followed by entries[b].
    Returns the last layer's hidden states [B, n, D] and, with `attentions`, every layer's weights
    [B, heads, n, max keys] (a stream's own keys come first in its row; the rest is padding, weight 0)."""
    if len({len(e) for e in entries}) != 1:
        raise ValueError(f"a batched step adds the same number of entries per stream, got {[len(e) for e in entries]}")
    allow = allow_rows(entries, keys)  # on the host: testing it costs no device sync
    allow = None if bool(allow.all()) else allow.to(embeds.device)  # a write: SDPA skips the masking pass
    cos, sin = rope(embeds, positions)
    return lean_forward.forward(decoder, embeds, allow, cos, sin, StreamsCache(caches), attentions)
