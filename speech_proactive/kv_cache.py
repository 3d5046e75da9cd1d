"""A transformers cache layer whose keys and values grow in place, in buffers that double when full.

transformers' DynamicLayer appends with torch.cat, which copies the whole cache at every forward: over a long
stream that copy grows with everything heard and became a large part of a late chunk's cost. Here a forward
copies only its own entries (amortised O(1) per entry); `keys`/`values` are views of the filled part, so
attention reads exactly what DynamicLayer would give it, and `crop` (the session's undo of a peek) is a
length change.
"""

from __future__ import annotations

from torch import Tensor
from transformers.cache_utils import DynamicLayer


class GrowingLayer(DynamicLayer):
    def __init__(self, **kwargs):
        self._k: Tensor | None = None
        self._v: Tensor | None = None
        self._n = 0
        super().__init__(**kwargs)

    @property
    def keys(self) -> Tensor | None:
        return None if self._k is None else self._k[:, :, :self._n]

    @keys.setter
    def keys(self, value: Tensor | None) -> None:  # transformers sets it to reset or replace the layer
        self._k, self._n = value, 0 if value is None else value.shape[-2]

    @property
    def values(self) -> Tensor | None:
        return None if self._v is None else self._v[:, :, :self._n]

    @values.setter
    def values(self, value: Tensor | None) -> None:
        self._v = value

    def lazy_initialization(self, key_states: Tensor, value_states: Tensor) -> None:
        self.device = key_states.device
        self._k, self._v, self._n = None, None, 0
        self.is_initialized = True

    def update(self, key_states: Tensor, value_states: Tensor, *args, **kwargs) -> tuple[Tensor, Tensor]:
        if not self.is_initialized:
            self.lazy_initialization(key_states, value_states)
        n, end = self._n, self._n + key_states.shape[-2]
        if self._k is None or end > self._k.shape[-2]:
            self._k, self._v = grown(self.keys, key_states, end), grown(self.values, value_states, end)
        self._k[:, :, n:end] = key_states
        self._v[:, :, n:end] = value_states
        self._n = end
        return self.keys, self.values

    def get_seq_length(self) -> int:
        return self._n if self.is_initialized else 0

    def crop(self, tokens_to_remove: int) -> None:
        if tokens_to_remove > 0:
            raise ValueError(f"crop({tokens_to_remove}): pass minus the number of entries to remove")
        if self.is_initialized:
            self._n = max(0, self._n + tokens_to_remove)


def grown(old: Tensor | None, new: Tensor, need: int) -> Tensor:
    """A [B, H, 2 * need, D] buffer shaped like `new` holding `old` in front: doubling keeps appends
    amortised O(1) per entry."""
    buf = new.new_empty(*new.shape[:2], 2 * need, new.shape[3])
    if old is not None:
        buf[:, :, :old.shape[-2]] = old
    return buf


def growing_cache(config) -> object:
    """A DynamicCache for `config` whose full-attention layers grow in place (sliding-window layers, whose
    update logic differs, stay as transformers made them)."""
    from transformers import DynamicCache

    cache = DynamicCache(config=config)
    cache.layers = [GrowingLayer() if type(layer) is DynamicLayer else layer for layer in cache.layers]
    return cache

