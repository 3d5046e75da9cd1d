"""The model thread: one loaded bundle, one thread that runs every stream's steps in arrival order, and the
policies resolved so far (a `qQ` threshold is calibrated once, on the model thread, then kept).

asyncio handles the connections; the model's forward passes run here, one at a time, so a connection that
waits for its step never blocks the others' network traffic, and no two steps contend for the CPU's threads.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

from speech_proactive.apps.serve.protocol import ProtocolError, StartRequest
from speech_proactive.apps.serve.stream import Stream
from speech_proactive.model.trained_tasks import check_task
from speech_proactive.streaming.calibrate import resolve
from speech_proactive.streaming.from_bundle import OpenBundle, open_bundle
from speech_proactive.streaming.policies import Policy
from speech_proactive.streaming.policy_spec import parse_policy
from speech_proactive.streaming.session import Session


class ModelHost:
    def __init__(self, bundle: str | Path, default_policy: str = "entropy:q0.9", device: str = "cpu"):
        self.opened: OpenBundle = open_bundle(bundle, default_policy, device)
        self.default_policy = default_policy
        self._policies: dict[str, Policy] = {default_policy: self.opened.policy}
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="model")

    async def run(self, fn, *args):
        """fn(*args) on the model thread."""
        return await asyncio.get_running_loop().run_in_executor(self._thread, partial(fn, *args))

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
        return {"model": self.opened.path.name, "policy": self.default_policy, "tasks": tasks}

    def close(self) -> None:
        self._thread.shutdown(wait=True)
