"""Key/value caches that grow in place, in buffers that double when full: `GrowingKV` for the encoder's
layers, and `GrowingLayer`, the same thing behind transformers' cache-layer interface, for the LLM.

transformers' DynamicLayer appends with torch.cat, which copies the whole cache at every forward: over a long
stream that copy grows with everything heard (measured: a small part of a late chunk's cost on a quiet CPU,
eval/BENCHMARKS.md, "2026-12-06 ... against the growing caches"). Here a forward
copies only its own entries (amortised O(1) per entry); `keys`/`values` are views of the filled part, so
attention reads exactly what DynamicLayer would give it, and `crop` (the session's undo of a peek) is a
length change.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor
from transformers.cache_utils import DynamicLayer


@dataclass
class GrowingKV:
    """K and V [B, H, n, D] of one attention layer, in buffers that double when full."""

    k_buffer: Tensor | None = None
    v_buffer: Tensor | None = None
    n: int = 0

    @property
    def k(self) -> Tensor | None:
        return None if self.k_buffer is None else self.k_buffer[:, :, : self.n]

    @property
    def v(self) -> Tensor | None:
        return None if self.v_buffer is None else self.v_buffer[:, :, : self.n]

    def append(self, k: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
        end = self.n + k.shape[2]
        if self.k_buffer is None or end > self.k_buffer.shape[2]:
            self.k_buffer, self.v_buffer = _grown(self.k, k, end), _grown(self.v, v, end)
        self.k_buffer[:, :, self.n : end] = k
        self.v_buffer[:, :, self.n : end] = v
        self.n = end
        return self.k, self.v

    def keep_last(self, n: int) -> None:
        """Forget all but the last n entries. The kept ones move to the front only once 2n are held, so a
        stream that keeps a window copies amortised O(1) per entry and holds at most about 4n."""
        if self.n >= 2 * n and self.k_buffer is not None:
            self.k_buffer[:, :, :n] = self.k_buffer[:, :, self.n - n : self.n].clone()
            self.v_buffer[:, :, :n] = self.v_buffer[:, :, self.n - n : self.n].clone()
            self.n = n

    @property
    def nbytes(self) -> int:
        """Memory held, spare capacity included."""
        return sum(b.numel() * b.element_size() for b in (self.k_buffer, self.v_buffer) if b is not None)


def _grown(old: Tensor | None, new: Tensor, need: int) -> Tensor:
    """A [B, H, 2 * need, D] buffer shaped like `new` holding `old` in front: doubling keeps appends
    amortised O(1) per entry."""
    buf = new.new_empty(*new.shape[:2], 2 * need, new.shape[3])
    if old is not None:
        buf[:, :, : old.shape[-2]] = old
    return buf


class GrowingLayer(DynamicLayer):
    """transformers' cache-layer interface over a GrowingKV."""

    def __init__(self, **kwargs):
        self.kv = GrowingKV()
        super().__init__(**kwargs)

    @property
    def keys(self) -> Tensor | None:
        return self.kv.k

    @keys.setter
    def keys(self, value: Tensor | None) -> None:  # transformers sets it to reset or replace the layer
        self.kv.k_buffer, self.kv.n = value, 0 if value is None else value.shape[-2]

    @property
    def values(self) -> Tensor | None:
        return self.kv.v

    @values.setter
    def values(self, value: Tensor | None) -> None:
        self.kv.v_buffer = value

    def lazy_initialization(self, key_states: Tensor, value_states: Tensor) -> None:
        self.device = key_states.device
        self.kv = GrowingKV()
        self.is_initialized = True

    def update(self, key_states: Tensor, value_states: Tensor, *args, **kwargs) -> tuple[Tensor, Tensor]:
        if not self.is_initialized:
            self.lazy_initialization(key_states, value_states)
        return self.kv.append(key_states, value_states)

    def get_seq_length(self) -> int:
        return self.kv.n if self.is_initialized else 0

    def crop(self, tokens_to_remove: int) -> None:
        if tokens_to_remove > 0:
            raise ValueError(f"crop({tokens_to_remove}): pass minus the number of entries to remove")
        if self.is_initialized:
            self.kv.n = max(0, self.kv.n + tokens_to_remove)


def growing_cache(config) -> object:
    """A DynamicCache for `config` whose full-attention layers grow in place (sliding-window layers, whose
    update logic differs, stay as transformers made them)."""
    from transformers import DynamicCache

    cache = DynamicCache(config=config)
    cache.layers = [GrowingLayer() if type(layer) is DynamicLayer else layer for layer in cache.layers]
    return cache
