"""The model thread: one loaded bundle, one thread that runs every stream's model work, and the policies
resolved so far (a `qQ` threshold is calibrated once, on the model thread, then kept).

asyncio handles the connections; the model's forward passes run here, so a connection that waits for its step
never blocks the others' network traffic, and no two steps contend for the CPU's threads. Work arrives as jobs:
plain calls (a new stream, which may calibrate a policy) and a stream's steps (model_ops.py: its session's ops
as a generator). Each round the thread takes every job waiting, runs the calls, then runs all the streams'
steps in lockstep (lockstep.py), so like ops of different streams go through the model as one batched forward.
Under light load a round holds one stream and it runs as it would alone; under load the rounds fill up.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from speech_proactive.apps.serve.protocol import ProtocolError, StartRequest
from speech_proactive.apps.serve.stream import Stream
from speech_proactive.model.trained_tasks import check_task
from speech_proactive.streaming import model_ops
from speech_proactive.streaming.calibrate import resolve
from speech_proactive.streaming.from_bundle import OpenBundle, open_bundle
from speech_proactive.streaming.lockstep import Outcome, run_lockstep
from speech_proactive.streaming.model_ops import Steps
from speech_proactive.streaming.policies import Policy
from speech_proactive.streaming.policy_spec import parse_policy
from speech_proactive.streaming.session import Session


@dataclass(frozen=True)
class _Job:
    work: object  # a callable (a plain call) or Steps (a stream's model work)
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future


_STOP = object()


@dataclass
class BatchCounts:
    """What the lockstep rounds did so far: forwards run and the ops they carried (ops / forwards = the mean
    batch)."""

    n_forwards: int = 0
    n_ops: int = 0


class ModelHost:
    def __init__(
        self, bundle: str | Path, default_policy: str = "entropy:q0.9", device: str = "cpu", batch: bool = True
    ):
        """batch=False steps each stream's work alone, one job after the other (for comparison)."""
        self.opened: OpenBundle = open_bundle(bundle, default_policy, device)
        self.default_policy = default_policy
        self.batch = batch
        self.counts = BatchCounts()
        self._policies: dict[str, Policy] = {default_policy: self.opened.policy}
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._serve_jobs, name="model", daemon=True)
        self._thread.start()

    async def run(self, fn, *args):
        """fn(*args) on the model thread."""
        return await self._submit(partial(fn, *args))

    async def steps(self, steps: Steps):
        """A stream's steps run to the end on the model thread, in lockstep with the other streams' steps."""
        return await self._submit(steps)

    async def _submit(self, work):
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._jobs.put(_Job(work, loop, future))
        return await future

    def _serve_jobs(self) -> None:
        while True:
            jobs = [self._jobs.get()]
            while not self._jobs.empty():
                jobs.append(self._jobs.get_nowait())
            stop = any(job is _STOP for job in jobs)
            jobs = [job for job in jobs if job is not _STOP]
            for job in jobs:
                if callable(job.work):
                    _resolve(job, _call(job.work))
            self._run_steps([job for job in jobs if not callable(job.work)])
            if stop:
                return

    def _run_steps(self, jobs: list[_Job]) -> None:
        if not jobs:
            return
        if not self.batch:
            for job in jobs:
                _resolve(job, _call(partial(model_ops.drive, job.work, self.opened.model)))
            return
        outcomes, stats = run_lockstep(self.opened.model, [job.work for job in jobs])
        self.counts.n_forwards += stats.n_forwards
        self.counts.n_ops += stats.n_ops
        for job, outcome in zip(jobs, outcomes):
            _resolve(job, outcome)

    def policy(self, spec: str) -> Policy:
        if spec not in self._policies:
            try:
                self._policies[spec] = resolve(parse_policy(spec), self.opened.path, self.opened.model)
            except ValueError as e:
                raise ProtocolError(f"policy {spec!r}: {e}") from None
        return self._policies[spec]

    def new_stream(self, request: StartRequest) -> Stream:
        """A stream for a start request (model thread: calibrating a new policy runs the model)."""
        try:
            task = self.opened.task(request.task, request.src_lang, request.tgt_lang, request.question)
            check_task(task, self.opened.known, str(self.opened.path))
        except ValueError as e:
            raise ProtocolError(str(e)) from None
        session = Session(self.opened.model, self.policy(request.policy or self.default_policy), task)
        return Stream(session, request.vad)

    def info(self) -> dict:
        """What the page needs: the bundle's name, the default policy, the tasks it was trained on."""
        tasks = [t._asdict() for t in self.opened.known or []]
        batching = {"on": self.batch, "forwards": self.counts.n_forwards, "ops": self.counts.n_ops}
        return {"model": self.opened.path.name, "policy": self.default_policy, "tasks": tasks, "batching": batching}

    def close(self) -> None:
        self._jobs.put(_STOP)
        self._thread.join()


def _call(fn) -> Outcome:
    try:
        return Outcome(value=fn())
    except Exception as e:
        return Outcome(error=e)


def _resolve(job: _Job, outcome: Outcome) -> None:
    """Hand the outcome to the waiting coroutine (unless it has gone: a closed connection cancels its wait)."""

    def settle() -> None:
        if job.future.cancelled():
            return
        if outcome.error is not None:
            job.future.set_exception(outcome.error)
        else:
            job.future.set_result(outcome.value)

    job.loop.call_soon_threadsafe(settle)
