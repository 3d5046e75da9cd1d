"""Read schedules for mask-based streaming modelling: how many source units each target position sees.

Budget allocation (DESIGN.md section 2): Delta ~ Multinomial(M, w) over the L + 1 target positions and
phi(j) = Delta_0 + ... + Delta_j, so phi is monotone and phi(L) = M (the last position, which predicts EOS,
has heard everything). Uniform w gives schedules around the diagonal. `latency_skew` > 0 puts the weight on the
early bins, so most audio is read before the first target tokens (a cautious, high-latency writer); < 0 puts it
on the late bins (an eager, low-latency writer).

`random_allocation` draws w itself per schedule from a flat Dirichlet (times the skew's weights), which makes
every monotone schedule equally likely (Dirichlet-multinomial with all concentrations 1). Why: with a fixed w,
Delta_0 ~ Binomial(M, 1/(L+1)) concentrates, so for a short target (a spoken-QA answer of one or two tokens,
L+1 = 2 or 3 bins over ~20 chunks) the first token is trained only on prefixes near 1/(L+1) of the audio
(50% +- 11% for L = 1). The model then never learns what a prefix of 10% or 90% does or does not answer, which
is exactly what a head needs to sense. For translation (L of 10-30 tokens) the fixed w's diagonal is the right
prior and stays the default.
"""

from __future__ import annotations

import torch
from torch import Tensor


def allocation_weights(n_positions: int, latency_skew: float = 0.0) -> Tensor:
    """w over the n_positions bins: exp(-skew * x) with x from -1 (first position) to +1 (last)."""
    x = torch.linspace(-1.0, 1.0, n_positions) if n_positions > 1 else torch.zeros(1)
    w = torch.exp(-latency_skew * x)
    return w / w.sum()


def sample_schedule(
    n_units: int,
    n_positions: int,
    generator: torch.Generator | None = None,
    latency_skew: float = 0.0,
    random_allocation: bool = False,
) -> Tensor:
    """phi [n_positions]: source units visible at each target position; monotone, phi[-1] == n_units."""
    if n_positions < 1 or n_units < 0:
        raise ValueError(f"need n_positions >= 1 and n_units >= 0, got {n_positions}, {n_units}")
    w = allocation_weights(n_positions, latency_skew)
    if random_allocation:  # flat Dirichlet: normalised standard exponentials
        w = w * -torch.log1p(-torch.rand(n_positions, generator=generator))
        w = w / w.sum()
    if n_units == 0:
        return torch.zeros(n_positions, dtype=torch.long)
    bins = torch.multinomial(w, n_units, replacement=True, generator=generator)
    delta = torch.bincount(bins, minlength=n_positions)
    return torch.cumsum(delta, dim=0)


def units_to_vectors(phi_units: Tensor, vectors_per_unit: int, n_vectors: int) -> Tensor:
    """Chunks -> source vectors (a chunk gives `vectors_per_unit`; the last, partial chunk fewer)."""
    return torch.clamp(phi_units * vectors_per_unit, max=n_vectors)
