"""One LLM forward for several streams at once, each over its own KV cache.

A streaming step of a small model is bound by per-call overhead (eval/BENCHMARKS.md): sixteen streams that each
append a few entries cost about sixteen times one stream's step. Here their new entries go through the
projections and MLPs as one batch [B, n, D], with each stream's own RoPE positions; each stream's keys/values are
appended to its own cache (`GrowingLayer`), and attention runs stream by stream over that cache under the
stream's own mask (`group_positions`). Copying the caches into one right-padded batch instead cost more than the
attention itself on a CPU (measured: 17% of a 16-stream round at 10 s into the streams). What a stream gets is what
it gets alone, up to float rounding in the batched matrix products; the streams must add the same number of
entries (a read of one chunk, a peek, a one-token write).
"""

from __future__ import annotations

import torch
from torch import Tensor

from speech_proactive.model.llm import group_positions, lean_forward
from speech_proactive.model.llm.group_positions import Entries


class _StreamsLayer:
    """lean_forward's cache-layer interface over one layer of several streams' caches: one K/V per stream."""

    def __init__(self, layers: list):
        self.layers = layers

    def update(self, k: Tensor, v: Tensor) -> tuple[list[Tensor], list[Tensor]]:
        kv = [layer.update(k[b : b + 1], v[b : b + 1]) for b, layer in enumerate(self.layers)]
        return [k for k, _ in kv], [v for _, v in kv]


class StreamsCache:
    def __init__(self, caches: list):
        self.layers = [_StreamsLayer([c.layers[i] for c in caches]) for i in range(len(caches[0].layers))]


def forward_streams(
    decoder, rope: lean_forward.RopeTable, embeds: Tensor, caches: list, entries: list[Entries],
    keys: list[Entries], positions: Tensor, attentions: bool = False,
) -> tuple[Tensor, tuple[list[Tensor], ...] | None]:  # fmt: skip
    """embeds [B, n, D], positions [B, n]; keys[b] = stream b's cache entries followed by entries[b].
    Returns the last layer's hidden states [B, n, D] and, with `attentions`, every layer's weights as one
    [1, heads, n, keys of stream b] per stream."""
    if len({len(e) for e in entries}) != 1:
        raise ValueError(f"a batched step adds the same number of entries per stream, got {[len(e) for e in entries]}")
    allow = [_mask(group_positions.allowed(q, k), embeds.device) for q, k in zip(entries, keys)]
    cos, sin = rope(embeds, positions)
    return lean_forward.forward(decoder, embeds, allow, cos, sin, StreamsCache(caches), attentions)


def _mask(allow: Tensor, device: torch.device) -> Tensor | None:
    """None when every query may see every key (a write: SDPA skips the masking pass); tested on the host."""
    return None if bool(allow.all()) else allow.to(device)
