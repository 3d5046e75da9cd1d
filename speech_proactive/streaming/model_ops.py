"""The model steps a session asks for, as values, and the code that runs them.

A session's streaming logic (session.py) is a generator: where it needs the model it yields an op (log-mel frames of
new samples, encode a chunk, read source vectors, write a token, or both) and gets the result sent back. `drive`
runs one stream's generator op by op, which is what `Session.push_audio` does. lockstep.py runs many streams'
generators side by side and hands each group of like ops to `run_batch` as one batched forward. Both paths run the
same session code, so the decisions are the same; only the arithmetic of a batched forward may differ in float
rounding.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import torch
from torch import Tensor

from speech_proactive.model.encoder import EncoderState
from speech_proactive.model.frontend import MelStream, push_streams
from speech_proactive.model.llm.streaming_lm import LMState
from speech_proactive.model.speech_llm import SpeechLLM


@dataclass(frozen=True, eq=False)
class Mel:
    """Pushed samples through a stream's log-mel frontend: its new frames [n_mels, n] come back."""

    stream: MelStream
    samples: np.ndarray


@dataclass(frozen=True, eq=False)
class Encode:
    """One chunk's log-mel [1, n_mels, t] through the encoder (its cache in `state`) and the adapter."""

    mel: Tensor
    state: EncoderState


@dataclass(frozen=True, eq=False)
class Read:
    """Append source vectors [n, D] to the LLM cache."""

    lm: LMState
    vectors: Tensor


@dataclass(frozen=True, eq=False)
class ReadWrite:
    """Read source vectors [n, D] and write `token` after them, in one forward (the peek after a READ)."""

    lm: LMState
    vectors: Tensor
    token: int
    attentions: bool


@dataclass(frozen=True, eq=False)
class Write:
    """Append one target token; its outputs come back."""

    lm: LMState
    token: int
    attentions: bool


Op = Mel | Encode | Read | ReadWrite | Write
T = TypeVar("T")
Steps = Generator[Op, object, T]  # what a session's streaming methods return: ops out, their results in

# The order of a chunk's ops: when groups tie in size, the earlier one runs first, so streams fall into step.
PIPELINE_ORDER = {Mel: 0, Encode: 1, ReadWrite: 2, Read: 2, Write: 3}


def group_key(op: Op) -> tuple:
    """Ops with the same key run as one batched forward: the same kind, the same number of new entries."""
    if isinstance(op, Mel):
        return (Mel,)  # any numbers of samples: the frontend takes every stream's new windows in one batch
    if isinstance(op, Encode):
        return (Encode, op.mel.shape[2])
    if isinstance(op, Read):
        return (Read, len(op.vectors))
    if isinstance(op, ReadWrite):
        return (ReadWrite, len(op.vectors), op.attentions)
    return (Write, op.attentions)


def run_batch(model: SpeechLLM, ops: list[Op]) -> list[object]:
    """The results of ops that share a `group_key`, computed in one forward (one op: what it computes alone)."""
    first = ops[0]
    if isinstance(first, Mel):
        return list(push_streams([op.stream for op in ops], [op.samples for op in ops]))
    if isinstance(first, Encode):
        frames = model.encoder.step_streams(_rows([op.mel for op in ops]), [op.state for op in ops])
        return list(model.adapter(frames))  # [n, D] per stream
    lms = [op.lm for op in ops]
    if isinstance(first, Read):
        model.lm.read_streams(lms, _rows([op.vectors[None] for op in ops]))
        return [None] * len(ops)
    tokens = [op.token for op in ops]
    if isinstance(first, ReadWrite):
        vectors = _rows([op.vectors[None] for op in ops])
        return list(model.lm.read_and_write_streams(lms, vectors, tokens, first.attentions))
    return list(model.lm.write_streams(lms, tokens, first.attentions))


def _rows(tensors: list[Tensor]) -> Tensor:
    """One stream's tensor as it is (the per-chunk path of a single stream copies nothing), several joined."""
    return tensors[0] if len(tensors) == 1 else torch.cat(tensors)


def drive(steps: Steps[T], model: SpeechLLM) -> T:
    """Run one stream's steps to the end, each op alone."""
    result: object = None
    with torch.inference_mode():
        try:
            while True:
                result = run_batch(model, [steps.send(result)])[0]
        except StopIteration as stop:
            return stop.value
