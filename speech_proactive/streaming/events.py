"""What the model thread reports, in order: the vocabulary every display (terminal, plain, JSON lines) reads.

Times named `*_ms` without more are positions in the input stream (audio time since the start); `lag_ms` is
wall-clock time the output trails the audio it answers; `compute_ms` is model time.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import ClassVar


@dataclass(frozen=True)
class SegmentStarted:
    kind: ClassVar[str] = "segment_start"
    segment: int  # 0, 1, ... in stream order
    start_ms: float  # stream position of the first sample fed to the model (speech onset minus the pre-roll)


@dataclass(frozen=True)
class TextUpdate:
    kind: ClassVar[str] = "text"
    segment: int
    words: str  # words completed by this update (may be empty when only the unfinished last word changed)
    committed: str  # the segment's complete words so far: they will not change
    tail: str  # the last word while it may still grow
    heard_ms: float  # stream position heard when this was written
    compute_ms: float  # model time of the block that wrote it


@dataclass(frozen=True)
class SegmentEnded:
    kind: ClassVar[str] = "segment_end"
    segment: int
    words: str  # words the final flush completed (the rest of `text` was in earlier updates)
    text: str  # the segment's whole output
    start_ms: float  # the segment's audio: [start_ms, end_ms) of the stream; trailing silence is not in it
    end_ms: float
    reason: str  # "pause", "max-length", "end" of input, "interrupt"


@dataclass(frozen=True)
class Status:
    kind: ClassVar[str] = "status"
    heard_ms: float  # stream position processed
    lag_ms: float | None  # how long after its capture this block was done; None without real time (--speed 0)
    compute_ms: float  # model time feeding this block (0 when the gate held it back)
    flush_ms: float  # model time ending a segment at this block (final flush and reset; 0 if none ended)
    speech: bool  # the gate let this block through
    n_reads: int  # chunks the policy read (READ decisions), all segments
    n_writes: int  # words written (WRITE decisions), all segments
    n_dropped: int  # blocks the full queue dropped
    n_segments: int
    lm_cache_len: int  # entries in the session's LLM KV cache (bounded by one segment)
    encoder_frames: int  # entries in the encoder's KV cache (bounded by one segment)


@dataclass(frozen=True)
class Summary:
    kind: ClassVar[str] = "summary"
    duration_ms: float  # audio heard
    n_words: int  # words output (what the displays printed)
    n_segments: int
    mean_lag_ms: float | None  # None without real time (--speed 0)
    mean_compute_ms: float  # per block fed to the model
    n_chunks: int  # blocks fed to the model
    n_dropped: int  # blocks the full queue dropped
    n_device_overflows: int  # blocks the sound device reported an input overflow for
    interrupted: bool


Event = SegmentStarted | TextUpdate | SegmentEnded | Status | Summary


def to_json(event: Event) -> str:
    fields = {k: round(v, 2) if isinstance(v, float) else v for k, v in dataclasses.asdict(event).items()}
    return json.dumps({"event": event.kind, **fields}, ensure_ascii=False)
