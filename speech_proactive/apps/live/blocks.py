"""Captured audio blocks and the bounded queue between the capture thread and the model thread.

A real-time source (a microphone callback, a file played at real-time speed) must never wait: if the model
thread falls behind and the queue is full, the new block is dropped and counted, so the loss is shown, not
hidden, and the capture keeps its pace. Only a source with no real time to keep (`--speed 0`) waits for room.
"""

from __future__ import annotations

import queue
import threading
from dataclasses import dataclass

import numpy as np

POLL_S = 0.1  # how often a waiting get/put looks again for the end of the stream or a stop request


@dataclass(frozen=True)
class Block:
    index: int  # sequence number at the source: a gap in the numbers is a dropped block
    samples: np.ndarray  # [n_frames, n_channels] float32 at `sample_rate`, as captured
    sample_rate: int
    captured_s: float | None  # time.monotonic() when its last sample was available; None: no real time (--speed 0)


class EndOfStream:
    """Returned by `BlockQueue.get` once the source has closed the queue and every block was taken."""


END = EndOfStream()


class BlockQueue:
    def __init__(self, max_blocks: int):
        if max_blocks < 1:
            raise ValueError(f"the queue needs room for at least one block, got {max_blocks}")
        self._queue: queue.Queue[Block] = queue.Queue(maxsize=max_blocks)
        self._closed = threading.Event()
        self.n_dropped = 0  # written by the producer thread only

    @property
    def max_blocks(self) -> int:
        return self._queue.maxsize

    def offer(self, block: Block) -> bool:
        """Never blocks (safe in an audio callback): a full queue drops the block and counts it."""
        try:
            self._queue.put_nowait(block)
            return True
        except queue.Full:
            self.n_dropped += 1
            return False

    def put_wait(self, block: Block, stop: threading.Event) -> bool:
        """For sources without real time: wait for room (or a stop request: then False)."""
        while not stop.is_set():
            try:
                self._queue.put(block, timeout=POLL_S)
                return True
            except queue.Full:
                continue
        return False

    def close(self) -> None:
        """The source has put its last block."""
        self._closed.set()

    def get(self, timeout_s: float = POLL_S) -> Block | EndOfStream | None:
        """The next block; END once closed and drained; None if nothing arrived within `timeout_s`."""
        try:
            return self._queue.get(timeout=timeout_s)
        except queue.Empty:
            pass
        if not self._closed.is_set():
            return None
        try:  # a block put just before close() may have arrived after our get timed out
            return self._queue.get_nowait()
        except queue.Empty:
            return END
