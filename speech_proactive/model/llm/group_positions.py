"""Group-position layout: who may attend to whom, and which position each entry gets.

Entries are of four kinds. The prompt (PREFIX) comes first and is seen by everyone. SOURCE vectors (audio,
in arrival order) see the prompt and earlier source, never a target. TARGET tokens see the prompt, the first
`n_src_visible` source vectors and the earlier tokens of their own copy (training runs a teacher copy and
student copies side by side over one shared source). PAD entries see only themselves and are seen by nobody.

Positions: prompt 0..P-1, source P..P+S-1, target P+offset..: source and target are two groups that both
start after the prompt, so the target's positions do not depend on how much audio was heard.

The rule depends only on each entry's own description, never on the order in memory, so the same function
builds the batch mask over `[prompt ; source ; target]` and the mask rows of a streaming KV cache whose
entries sit in arrival order.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

PREFIX, SOURCE, TARGET, PAD = 0, 1, 2, 3


@dataclass(frozen=True)
class Entries:
    """A sequence of entries, each described by four integers (1-D long tensors of equal length)."""

    kind: Tensor
    index: Tensor  # position within its own group (and copy)
    copy: Tensor  # target copy id (0 for non-target entries)
    n_src_visible: Tensor  # for TARGET entries: how many source vectors it sees; else 0

    def __len__(self) -> int:
        return int(self.kind.numel())

    def cat(self, other: Entries) -> Entries:
        return Entries(*(torch.cat([a, b]) for a, b in zip(self.fields(), other.fields())))

    def fields(self) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        return self.kind, self.index, self.copy, self.n_src_visible

    def positions(self, n_prefix: int, target_offset: int = 0) -> Tensor:
        base = torch.where(self.kind == PREFIX, 0, n_prefix)
        base = base + torch.where(self.kind == TARGET, target_offset, 0)
        return base + self.index

    @staticmethod
    def group(kind: int, n: int, start: int = 0, copy: int = 0, n_src_visible: Tensor | None = None) -> Entries:
        vis = torch.zeros(n, dtype=torch.long) if n_src_visible is None else n_src_visible.long()
        if len(vis) != n:
            raise ValueError(f"n_src_visible has {len(vis)} entries for {n} target tokens")
        full = lambda v: torch.full((n,), v, dtype=torch.long)  # noqa: E731
        return Entries(full(kind), torch.arange(start, start + n), full(copy), vis)


def allowed(queries: Entries, keys: Entries) -> Tensor:
    """Bool [n_queries, n_keys]: True where the query may attend to the key."""
    qk, qi, qc, qv = (t[:, None] for t in queries.fields())
    kk, ki, kc = keys.kind[None, :], keys.index[None, :], keys.copy[None, :]
    see_prefix = (kk == PREFIX) & ((qk != PREFIX) | (ki <= qi)) & (qk != PAD)
    see_source = (kk == SOURCE) & (((qk == SOURCE) & (ki <= qi)) | ((qk == TARGET) & (ki < qv)))
    see_target = (kk == TARGET) & (qk == TARGET) & (kc == qc) & (ki <= qi)
    # PAD sees only itself; matching on (kind, index, copy) keeps the row non-empty without a NaN softmax
    see_self_pad = (qk == PAD) & (kk == PAD) & (ki == qi) & (kc == qc)
    return see_prefix | see_source | see_target | see_self_pad


def additive_mask(allow: Tensor, dtype: torch.dtype = torch.float32) -> Tensor:
    """Bool [..., q, k] -> additive float mask [..., 1, q, k] (0 where allowed, dtype's min elsewhere)."""
    mask = torch.zeros(allow.shape, dtype=dtype, device=allow.device)
    mask.masked_fill_(~allow, torch.finfo(dtype).min)
    return mask.unsqueeze(-3)


def sequence(n_prefix: int, n_source: int, target_copies: list[Tensor]) -> Entries:
    """The batch layout `[prompt ; source ; target copy 0 ; target copy 1 ...]` for one example.

    `target_copies[c][t]` = number of source vectors target token t of copy c sees (its read schedule).
    """
    e = Entries.group(PREFIX, n_prefix).cat(Entries.group(SOURCE, n_source))
    for c, vis in enumerate(target_copies):
        if len(vis) and (int(vis.max()) > n_source or int(vis.min()) < 0):
            raise ValueError(f"read schedule of copy {c} outside 0..{n_source}: {vis.tolist()}")
        if len(vis) > 1 and bool((vis[1:] < vis[:-1]).any()):
            raise ValueError(f"read schedule of copy {c} is not monotone: {vis.tolist()}")
        e = e.cat(Entries.group(TARGET, len(vis), copy=c, n_src_visible=vis))
    return e
