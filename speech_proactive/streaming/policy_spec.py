"""Policies written as strings on command lines, and grids of them for sweeps.

    offline | wait-k:K[:PER_CHUNK] | entropy:T | attention:T[:RECENT_VECTORS] | probe:T | hold-n:N
    | local-agreement | oracle

Values fill the policy's number fields in order (the probe's weights come from the bundle through
calibrate.resolve, the oracle's read points from the manifest). A threshold written `q0.9` is the 0.9
quantile of the head's score on a dev set (calibrate.py). In a grid, a value may be a comma list:
`wait-k:1,2,3` is three policies, `entropy:q0.5,q0.7,q0.9` three calibrated thresholds.
"""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass

from speech_proactive.streaming.policies import POLICIES, Policy

SYNTAX = (
    "offline, wait-k:K[:PER_CHUNK], entropy:T|qQ, attention:T|qQ[:RECENT_VECTORS], probe:T|qQ, hold-n:N, "
    "local-agreement, oracle"
)


@dataclass(frozen=True)
class PolicySpec:
    label: str  # as written, e.g. "entropy:q0.9"
    policy: Policy  # with a calibrated threshold still to be filled in when `quantile` is set
    quantile: float | None = None


def parse_policy(spec: str) -> PolicySpec:
    name, *values = spec.strip().split(":")
    if name not in POLICIES:
        raise ValueError(f"bad policy {spec!r}: unknown name {name!r}; use {SYNTAX}")
    cls = POLICIES[name]
    fields = [f for f in dataclasses.fields(cls) if f.init and f.type in ("float", "int")]
    if len(values) > len(fields):
        raise ValueError(
            f"bad policy {spec!r}: {name} takes at most {len(fields)} value(s) ({', '.join(f.name for f in fields)})"
        )
    kwargs, quantile = {}, None
    for f, v in zip(fields, values):
        if f.name == "threshold" and v.startswith("q"):
            quantile = _number(spec, v[1:], float)
            if not 0.0 <= quantile <= 1.0:
                raise ValueError(f"bad policy {spec!r}: quantile {quantile} outside 0..1")
            continue
        kwargs[f.name] = _number(spec, v, float if f.type == "float" else int)
    try:
        return PolicySpec(spec, cls(**kwargs), quantile)
    except (TypeError, ValueError) as e:
        raise ValueError(f"bad policy {spec!r}: {e}") from e


def expand_grid(spec: str) -> list[str]:
    """`wait-k:1,2:1` -> ["wait-k:1:1", "wait-k:2:1"]."""
    name, *values = spec.strip().split(":")
    return [":".join([name, *combo]) for combo in itertools.product(*(v.split(",") for v in values))]


def _number(spec: str, text: str, kind: type) -> float | int:
    try:
        return kind(text)
    except ValueError:
        raise ValueError(
            f"bad policy {spec!r}: {text!r} is not {'an integer' if kind is int else 'a number'}"
        ) from None
