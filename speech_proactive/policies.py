"""READ/WRITE policies: pure functions of what the session shows them (no I/O, no clock, no model).

The decision heads of the method (entropy, attention, probe) join these in the evaluation issue; here are the
reference points every head is compared with.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import ClassVar, Protocol

from torch import Tensor


class Action(enum.Enum):
    READ = "read"
    WRITE = "write"


@dataclass(frozen=True)
class PolicyView:
    """What a policy may look at before the next target token."""

    n_chunks_read: int
    source_finished: bool
    n_tokens_written: int
    next_logits: Tensor | None  # [vocab] given everything heard; None when the policy does not ask for it


class Policy(Protocol):
    needs_logits: ClassVar[bool]

    def decide(self, view: PolicyView) -> Action: ...


@dataclass(frozen=True)
class Offline:
    """Read the whole input, then write: the quality ceiling and the latency floor of every comparison."""

    needs_logits: ClassVar[bool] = False

    def decide(self, view: PolicyView) -> Action:
        return Action.WRITE if view.source_finished else Action.READ


@dataclass(frozen=True)
class WaitK:
    """Wait k chunks, then write `tokens_per_chunk` tokens after every further chunk."""

    k: int = 3
    tokens_per_chunk: int = 2
    needs_logits: ClassVar[bool] = False

    def __post_init__(self) -> None:
        if self.k < 1 or self.tokens_per_chunk < 1:
            raise ValueError(f"wait-k needs k >= 1 and tokens_per_chunk >= 1, got {self.k}, {self.tokens_per_chunk}")

    def decide(self, view: PolicyView) -> Action:
        budget = (view.n_chunks_read - self.k + 1) * self.tokens_per_chunk
        return Action.WRITE if view.source_finished or view.n_tokens_written < budget else Action.READ


POLICIES = {"offline": Offline, "wait-k": WaitK}


def make_policy(name: str, **params: int) -> Policy:
    if name not in POLICIES:
        raise ValueError(f"unknown policy {name!r}; choose from {sorted(POLICIES)}")
    return POLICIES[name](**params)
