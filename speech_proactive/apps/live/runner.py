"""The model thread: take blocks from the queue, convert, segment, decode, and report events to the displays.

It runs until the source closes the queue (end of file, or the capture stopped on Ctrl-C), takes every block
still queued, then flushes the segment in progress, so nothing that was heard is left untranslated.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from speech_proactive import audio
from speech_proactive.apps.live.blocks import END, Block, BlockQueue
from speech_proactive.apps.live.convert import ToModelAudio
from speech_proactive.streaming.events import Event, SegmentEnded, Status, Summary, TextUpdate
from speech_proactive.streaming.segmenter import Segmenter, Step

Sink = Callable[[Event], None]


@dataclass
class RunStats:
    """Counters of one run; reset() for another."""

    position_n: int = 0  # stream position after the last block, in 16 kHz samples (dropped blocks included)
    next_index: int = 0  # the block index expected next (a larger one means blocks were dropped)
    n_chunks: int = 0  # blocks fed to the model
    compute_ms: float = 0.0  # model time feeding blocks (segment flushes not included)
    lag_ms: float = 0.0  # sum over real-time blocks
    n_lag: int = 0
    n_words: int = 0  # words reported in text updates and segment ends

    def reset(self) -> None:
        self.position_n = 0
        self.next_index = 0
        self.n_chunks = 0
        self.compute_ms = 0.0
        self.lag_ms = 0.0
        self.n_lag = 0
        self.n_words = 0


class Runner:
    def __init__(
        self,
        queue: BlockQueue,
        convert: ToModelAudio,
        segmenter: Segmenter,
        sinks: list[Sink],
        block_ms: float,
        n_device_overflows: Callable[[], int] = lambda: 0,
        record: Callable[[np.ndarray], None] | None = None,
    ):
        self.queue = queue
        self.convert = convert
        self.segmenter = segmenter
        self.sinks = sinks
        self.block_n = audio.ms_to_samples(block_ms)  # nominal 16 kHz samples per block (fills a dropped one)
        self.n_device_overflows = n_device_overflows
        self.record = record
        self.interrupted = threading.Event()  # set by the main thread on Ctrl-C: labels the final flush
        self.stats = RunStats()

    def run(self) -> Summary:
        self.stats.reset()
        while (block := self.queue.get()) is not END:
            if block is not None:
                self._process(block)
        self._feed(self.convert.finish(), captured_s=None)
        reason = "interrupt" if self.interrupted.is_set() else "end"
        self._report(self.segmenter.finish(reason).events)
        summary = self._summary()
        self._report([summary])
        return summary

    def _process(self, block: Block) -> None:
        st = self.stats
        st.position_n += (block.index - st.next_index) * self.block_n  # dropped blocks still took their time
        st.next_index = block.index + 1
        self._feed(self.convert(block), block.captured_s)

    def _feed(self, samples: np.ndarray, captured_s: float | None) -> None:
        if len(samples) == 0:
            return
        st = self.stats
        if self.record is not None:
            self.record(samples)
        step = self.segmenter.feed(samples, st.position_n)
        st.position_n += len(samples)
        lag_ms = None if captured_s is None else (time.monotonic() - captured_s) * 1000
        if lag_ms is not None:
            st.lag_ms += lag_ms
            st.n_lag += 1
        if step.compute_ms > 0:
            st.n_chunks += 1
            st.compute_ms += step.compute_ms
        self._report([*step.events, self._status(step, lag_ms)])

    def _status(self, step: Step, lag_ms: float | None) -> Status:
        seg, caches = self.segmenter, self.segmenter.cache_sizes()
        return Status(
            audio.samples_to_ms(self.stats.position_n),
            lag_ms,
            step.compute_ms,
            step.flush_ms,
            step.speech,
            seg.n_reads,
            seg.n_writes,
            self.queue.n_dropped,
            seg.n_segments,
            caches.lm_entries,
            caches.encoder_frames,
        )

    def _summary(self) -> Summary:
        st, seg = self.stats, self.segmenter
        return Summary(
            audio.samples_to_ms(st.position_n),
            st.n_words,
            seg.n_segments,
            st.lag_ms / st.n_lag if st.n_lag else None,
            st.compute_ms / st.n_chunks if st.n_chunks else 0.0,
            st.n_chunks,
            self.queue.n_dropped,
            self.n_device_overflows(),
            self.interrupted.is_set(),
        )

    def _report(self, events: list[Event]) -> None:
        for event in events:
            if isinstance(event, (TextUpdate, SegmentEnded)):
                self.stats.n_words += len(event.words.split())
            for sink in self.sinks:
                sink(event)
