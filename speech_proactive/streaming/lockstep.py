"""Many streams' steps on one model, their like ops batched into one forward.

Each stream's work (a session's `push_audio_steps`, or a segmenter's or a server stream's steps around it) is a
generator of model ops (model_ops.py). `run_lockstep` advances all of them together: every round it gathers the
op each stream waits on, runs the largest group of like ops (same kind, same number of new entries) as one
batched forward, and sends each stream its result; the other streams wait for a later round. A stream's ops
still run in its own order and nothing crosses between streams, so each gets the decisions it gets alone; only
float rounding of the batched arithmetic differs (tests/invariants/test_lockstep.py keeps the tokens equal).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import torch

from speech_proactive.model.speech_llm import SpeechLLM
from speech_proactive.streaming.model_ops import PIPELINE_ORDER, Op, Steps, group_key, run_batch


@dataclass(frozen=True)
class Outcome:
    """How one stream's steps ended: the value they returned, or the exception they raised."""

    value: object = None
    error: BaseException | None = None


@dataclass(frozen=True)
class RoundStats:
    """The batched forwards of one `run_lockstep` call: how many, and how many ops they carried."""

    n_forwards: int
    n_ops: int


def run_lockstep(model: SpeechLLM, streams: list[Steps]) -> tuple[list[Outcome], RoundStats]:
    """Run every stream's steps to the end; one Outcome per stream, in order. An exception in one stream's
    steps (bad audio, a stream past the encoder's positional table) ends that stream only."""
    outcomes: list[Outcome | None] = [None] * len(streams)
    waiting: dict[int, Op] = {}

    def advance(i: int, result: object = None, error: BaseException | None = None) -> None:
        try:
            waiting[i] = streams[i].throw(error) if error is not None else streams[i].send(result)
        except StopIteration as stop:
            outcomes[i] = Outcome(value=stop.value)
            waiting.pop(i, None)
        except Exception as e:  # this stream's own failure: the others go on
            outcomes[i] = Outcome(error=e)
            waiting.pop(i, None)

    n_forwards = n_ops = 0
    with torch.inference_mode():
        for i in range(len(streams)):
            advance(i)
        while waiting:
            ids = _largest_group(waiting)
            n_forwards, n_ops = n_forwards + 1, n_ops + len(ids)
            for i, result, error in _run_group(model, [(i, waiting[i]) for i in ids]):
                advance(i, result, error)
    return outcomes, RoundStats(n_forwards, n_ops)


def _largest_group(waiting: dict[int, Op]) -> list[int]:
    groups: dict[tuple, list[int]] = defaultdict(list)
    for i, op in waiting.items():
        groups[group_key(op)].append(i)
    key = max(groups, key=lambda k: (len(groups[k]), -PIPELINE_ORDER[k[0]]))
    return groups[key]


def _run_group(model: SpeechLLM, ops: list[tuple[int, Op]]) -> list[tuple[int, object, BaseException | None]]:
    """(stream, result, error) for each op: one batched forward, or, if that fails, each op alone, so that the
    stream whose op cannot run gets the error and the others their results."""
    try:
        results = run_batch(model, [op for _, op in ops])
        return [(i, r, None) for (i, _), r in zip(ops, results)]
    except Exception as e:
        if len(ops) == 1:
            return [(ops[0][0], None, e)]
    out = []
    for i, op in ops:
        try:
            out.append((i, run_batch(model, [op])[0], None))
        except Exception as e:
            out.append((i, None, e))
    return out
