"""One connection's stream: its session and segmenter (the live demo's voice gate, pauses and session window)
and the samples that do not yet fill a block. Runs only on the model thread (scheduler.py)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from speech_proactive import audio
from speech_proactive.apps.serve.protocol import event
from speech_proactive.streaming import model_ops
from speech_proactive.streaming.events import SegmentEnded, SegmentStarted, TextUpdate
from speech_proactive.streaming.model_ops import Steps
from speech_proactive.streaming.segmenter import Segmenter, SegmenterConfig
from speech_proactive.streaming.session import Session
from speech_proactive.streaming.vad import VadConfig

BLOCK_MS = 320  # the live demo's block: the voice gate decides per block, the model reads one chunk per block
BLOCK_SAMPLES = audio.ms_to_samples(BLOCK_MS)  # 5120


@dataclass
class StreamBuffer:
    """Samples received but not yet a whole block, and the stream position of the next block."""

    pending: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    next_n: int = 0

    def reset(self) -> None:
        self.pending = np.zeros(0, np.float32)
        self.next_n = 0

    def blocks(self, samples: np.ndarray) -> list[tuple[np.ndarray, int]]:
        """(block, its start position) for every whole block now available; the rest stays pending."""
        x = np.concatenate([self.pending, samples])
        n = len(x) // BLOCK_SAMPLES * BLOCK_SAMPLES
        self.pending = x[n:]
        out = [(x[i : i + BLOCK_SAMPLES], self.next_n + i) for i in range(0, n, BLOCK_SAMPLES)]
        self.next_n += n
        return out


def event_json(e) -> str:
    if isinstance(e, TextUpdate):
        return event("text", segment=e.segment, words=e.words, committed=e.committed, tail=e.tail,
                     source_ms=e.heard_ms, compute_ms=e.compute_ms)  # fmt: skip
    if isinstance(e, SegmentStarted):
        return event("segment_start", segment=e.segment, start_ms=e.start_ms)
    if isinstance(e, SegmentEnded):
        return event("segment_end", segment=e.segment, words=e.words, text=e.text, start_ms=e.start_ms,
                     end_ms=e.end_ms, reason=e.reason)  # fmt: skip
    raise TypeError(f"no wire form for {type(e).__name__}")


class Stream:
    def __init__(self, session: Session, vad: str = "silero"):
        gate = VadConfig(detector="open" if vad == "off" else vad)
        self.segmenter = Segmenter(session, SegmenterConfig(vad=gate))
        self.buffer = StreamBuffer()
        self.texts: list[str] = []  # each ended segment's text

    def push(self, samples: np.ndarray) -> list[str]:
        """Events for the samples of one frame (none until they fill a block)."""
        return model_ops.drive(self.push_steps(samples), self.segmenter.session.model)

    def finish(self, reason: str = "end") -> list[str]:
        """The last partial block, the flush of the segment in progress, and the final event."""
        return model_ops.drive(self.finish_steps(reason), self.segmenter.session.model)

    # `push` and `finish` as steps (model_ops.py): the scheduler runs many streams' steps in lockstep
    def push_steps(self, samples: np.ndarray) -> Steps[list[str]]:
        out = []
        for block, start_n in self.buffer.blocks(samples):
            step = yield from self.segmenter.feed_steps(block, start_n)
            out += self._events(step.events)
            heard_ms = audio.samples_to_ms(start_n + len(block))
            out.append(event("status", source_ms=heard_ms, compute_ms=step.compute_ms + step.flush_ms,
                             speech=step.speech))  # fmt: skip
        return out

    def finish_steps(self, reason: str = "end") -> Steps[list[str]]:
        tail = self.buffer.pending
        out = []
        if len(tail):
            step = yield from self.segmenter.feed_steps(tail, self.buffer.next_n)
            self.buffer.next_n += len(tail)
            out += self._events(step.events)
        out += self._events((yield from self.segmenter.finish_steps(reason)).events)
        text = " ".join(t for t in self.texts if t)
        duration_ms = audio.samples_to_ms(self.buffer.next_n)
        out.append(event("final", text=text, duration_ms=duration_ms, n_words=len(text.split()),
                         n_segments=self.segmenter.n_segments))  # fmt: skip
        return out

    def _events(self, events) -> list[str]:
        self.texts += [e.text for e in events if isinstance(e, SegmentEnded)]
        return [event_json(e) for e in events]
