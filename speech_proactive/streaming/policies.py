"""READ/WRITE policies: pure functions of what the session shows them (no I/O, no clock, no model).

The session asks a policy only at a word boundary (with the default word granularity): a WRITE emits one
whole word. What a policy may look at is `PolicyView`; each policy declares which of the optional, costly
fields it needs (next-token logits, attention over the source, the last hidden state, greedy continuations).

- the method's decision heads, on the model's own state: `Entropy`, `Attention`, and `Probe` (a tiny learned
  classifier on the hidden state, trained on labels the model makes itself: probe.py);
- reference points on the same model: `Offline`, `WaitK`, `HoldN`, `LocalAgreement`, and `Oracle` (ideal
  read points from the corpus alignments: an upper bound on timing).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import ClassVar

import torch
from torch import Tensor

from speech_proactive.streaming.probe_head import ProbeHead

Word = tuple[int, ...]  # the token ids of one word


class Action(enum.Enum):
    READ = "read"
    WRITE = "write"


@dataclass(frozen=True)
class PolicyView:
    """What a policy may look at before the next word (or token, with token granularity)."""

    n_chunks_read: int
    source_finished: bool
    n_written: int  # units written so far, in the session's granularity (words by default, or tokens)
    n_words_written: int = 0
    heard_ms: float = 0.0
    next_logits: Tensor | None = None  # [vocab] given everything heard (needs_logits)
    source_attention: Tensor | None = None  # [n_source] the next query's attention over the source (needs_attention)
    continuation: tuple[Word, ...] | None = None  # greedy words from here given all heard (needs_continuation)
    previous_continuation: tuple[Word, ...] | None = None  # the same one chunk earlier, from the same point
    hidden: Tensor | None = None  # [d_model] the LLM's last hidden state at the query behind next_logits (needs_hidden)


class Policy:
    """Base: a policy is a frozen dataclass with a pure `decide`; the flags say which costly inputs it reads."""

    needs_logits: ClassVar[bool] = False
    needs_attention: ClassVar[bool] = False
    needs_continuation: ClassVar[bool] = False
    needs_hidden: ClassVar[bool] = False

    @property
    def peeks(self) -> bool:
        """It looks at the pending token's outputs (logits, attention or hidden state) before deciding."""
        return self.needs_logits or self.needs_attention or self.needs_hidden

    def decide(self, view: PolicyView) -> Action:
        raise NotImplementedError

    def score(self, view: PolicyView) -> float:
        """The scalar a threshold policy compares (higher = more reason to READ)."""
        raise NotImplementedError(f"{type(self).__name__} has no score")


def _read_if(condition: bool) -> Action:
    return Action.READ if condition else Action.WRITE


@dataclass(frozen=True)
class Offline(Policy):
    """Read the whole input, then write: the quality ceiling and the latency floor of every comparison."""

    def decide(self, view: PolicyView) -> Action:
        return _read_if(not view.source_finished)


@dataclass(frozen=True)
class WaitK(Policy):
    """Wait k chunks, then write `per_chunk` units (words, or tokens with token granularity) per further chunk."""

    k: int = 3
    per_chunk: int = 2

    def __post_init__(self) -> None:
        if self.k < 1 or self.per_chunk < 1:
            raise ValueError(f"wait-k needs k >= 1 and per_chunk >= 1, got k={self.k}, per_chunk={self.per_chunk}")

    def decide(self, view: PolicyView) -> Action:
        budget = (view.n_chunks_read - self.k + 1) * self.per_chunk
        return _read_if(not view.source_finished and view.n_written >= budget)


@dataclass(frozen=True)
class Entropy(Policy):
    """READ while the next-token distribution is more uncertain than `threshold` (nats)."""

    threshold: float = 1.0
    needs_logits: ClassVar[bool] = True

    def score(self, view: PolicyView) -> float:
        return float(token_entropy(view.next_logits))

    def decide(self, view: PolicyView) -> Action:
        return _read_if(not view.source_finished and self.score(view) > self.threshold)


@dataclass(frozen=True)
class Attention(Policy):
    """READ while the next query still looks at the newest audio: its source attention mass on the last
    `recent_vectors` source vectors (one 320 ms chunk = 4 vectors by default) is above `threshold`."""

    threshold: float = 0.5
    recent_vectors: int = 4
    needs_attention: ClassVar[bool] = True

    def score(self, view: PolicyView) -> float:
        return float(view.source_attention[-self.recent_vectors :].sum())

    def decide(self, view: PolicyView) -> Action:
        return _read_if(not view.source_finished and self.score(view) > self.threshold)


@dataclass(frozen=True)
class Probe(Policy):
    """READ while the learned probe doubts that what was heard is sufficient for the next word:
    score = 1 - p(sufficient) above `threshold` (0.5: the probe's own decision; `probe:q0.9` calibrates it
    like the other heads). The head's weights are given to it (calibrate.resolve loads them from the bundle):
    the policy itself reads no file."""

    threshold: float = 0.5
    head: ProbeHead | None = field(default=None, compare=False, repr=False)
    probe_id: str = ""  # which trained probe (a prefix of probe.pt's sha256): calibration scores belong to one
    needs_logits: ClassVar[bool] = True  # the next-token entropy is one of its features
    needs_hidden: ClassVar[bool] = True

    def score(self, view: PolicyView) -> float:
        if self.head is None:
            raise ValueError(
                "the probe policy has no trained head: build it from a spec with calibrate.resolve "
                "(which loads BUNDLE/probe.pt), and train one with python -m speech_proactive.training.probe"
            )
        return 1.0 - float(self.head.p_sufficient(view.hidden, view.next_logits))

    def decide(self, view: PolicyView) -> Action:
        return _read_if(not view.source_finished and self.score(view) > self.threshold)


@dataclass(frozen=True)
class HoldN(Policy):
    """Re-decode at every chunk and commit all but the last n words of the hypothesis (Liu et al., 2020)."""

    n: int = 2
    needs_continuation: ClassVar[bool] = True

    def decide(self, view: PolicyView) -> Action:
        return _read_if(not view.source_finished and len(view.continuation) <= self.n)


@dataclass(frozen=True)
class LocalAgreement(Policy):
    """LocalAgreement-2 (Polák et al., 2022): commit what the hypotheses of the last two chunks agree on."""

    needs_continuation: ClassVar[bool] = True

    def decide(self, view: PolicyView) -> Action:
        if view.source_finished:
            return Action.WRITE
        now, before = view.continuation, view.previous_continuation or ()
        return _read_if(not (now and before and now[0] == before[0]))


@dataclass(frozen=True)
class Oracle(Policy):
    """Write word i once the audio up to its ideal read point (`ideal_ms[i]`, from the corpus alignments)
    has been heard; words past the reference wait for the end. One policy per utterance."""

    ideal_ms: tuple[float, ...] = ()

    def decide(self, view: PolicyView) -> Action:
        i = view.n_words_written
        return _read_if(not view.source_finished and (i >= len(self.ideal_ms) or view.heard_ms < self.ideal_ms[i]))


def token_entropy(logits: Tensor) -> Tensor:
    log_p = torch.log_softmax(logits.float(), dim=-1)
    return -(log_p.exp() * log_p).sum(-1)


POLICIES: dict[str, type[Policy]] = {
    "offline": Offline,
    "wait-k": WaitK,
    "entropy": Entropy,
    "attention": Attention,
    "hold-n": HoldN,
    "local-agreement": LocalAgreement,
    "oracle": Oracle,
    "probe": Probe,
}


def make_policy(name: str, **params: float) -> Policy:
    if name not in POLICIES:
        raise ValueError(f"unknown policy {name!r}; choose from {sorted(POLICIES)}")
    return POLICIES[name](**params)
