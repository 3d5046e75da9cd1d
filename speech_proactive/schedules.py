"""Read schedules for mask-based streaming modelling: how many source units each target position sees.

Budget allocation (DESIGN.md section 2): Delta ~ Multinomial(M, w) over the L + 1 target positions and
phi(j) = Delta_0 + ... + Delta_j, so phi is monotone and phi(L) = M (the last position, which predicts EOS,
has heard everything). Uniform w gives schedules around the diagonal. `latency_skew` > 0 puts the weight on the
early bins, so most audio is read before the first target tokens (a cautious, high-latency writer); < 0 puts it
on the late bins (an eager, low-latency writer).
"""

from __future__ import annotations

import torch
from torch import Tensor


def allocation_weights(n_positions: int, latency_skew: float = 0.0) -> Tensor:
    """w over the n_positions bins: exp(-skew * x) with x from -1 (first position) to +1 (last)."""
    x = torch.linspace(-1.0, 1.0, n_positions) if n_positions > 1 else torch.zeros(1)
    w = torch.exp(-latency_skew * x)
    return w / w.sum()


def sample_schedule(n_units: int, n_positions: int, generator: torch.Generator | None = None,
                    latency_skew: float = 0.0) -> Tensor:
    """phi [n_positions]: source units visible at each target position; monotone, phi[-1] == n_units."""
    if n_positions < 1 or n_units < 0:
        raise ValueError(f"need n_positions >= 1 and n_units >= 0, got {n_positions}, {n_units}")
    w = allocation_weights(n_positions, latency_skew)
    if n_units == 0:
        return torch.zeros(n_positions, dtype=torch.long)
    bins = torch.multinomial(w, n_units, replacement=True, generator=generator)
    delta = torch.bincount(bins, minlength=n_positions)
    return torch.cumsum(delta, dim=0)


def units_to_vectors(phi_units: Tensor, vectors_per_unit: int, n_vectors: int) -> Tensor:
    """Chunks -> source vectors (a chunk gives `vectors_per_unit`; the last, partial chunk fewer)."""
    return torch.clamp(phi_units * vectors_per_unit, max=n_vectors)
