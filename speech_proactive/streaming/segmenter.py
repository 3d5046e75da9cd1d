"""Cut the stream into segments at pauses and at a maximum length; one session per segment, reset between.

Why segments: the encoder's positional table covers 30 s (n_audio_ctx = 1500 frames of 20 ms) and the
session's KV caches grow with everything heard, so one session cannot run for an hour, and its per-chunk
cost grows with its cache. Without touching the encoder or the LLM, the live layer bounds both: a segment
ends after a pause longer than `pause_ms`, or once it holds `max_segment_ms` of audio (kept below the
positional table). Its output is flushed (`push_audio(..., finished=True)`) and the session is reset, so no
cache ever holds more than one segment, and memory and per-chunk compute stay flat however long the stream.
The cost: a forced cut in long uninterrupted speech splits a sentence; the words around the cut are
translated without the context on the other side of it.

Silence is not fed as speech: quiet blocks before an onset are dropped (but one `preroll_ms` is kept so a
soft onset is not clipped); quiet blocks inside a segment are held back and fed only if speech resumes before
the pause ends the segment, so the model hears short pauses as they were but never the trailing silence.
Once the model has written its end-of-output token, the rest of the segment is not fed: a finished session
writes nothing more (as in evaluation, where a segment is one utterance), so feeding it would be compute for
nothing. Ending the segment there instead was tried and rejected: a model that ends too early then starts
again on every chunk and repeats itself (measured on an undertrained checkpoint with entropy:q0.9: the same
sentence once per 320 ms chunk). The cost: speech after an early end goes untranslated until the pause.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from speech_proactive import audio
from speech_proactive.config import EncoderConfig
from speech_proactive.streaming import model_ops
from speech_proactive.streaming.events import Event, SegmentEnded, SegmentStarted, TextUpdate
from speech_proactive.streaming.model_ops import Steps
from speech_proactive.streaming.session import Session
from speech_proactive.streaming.vad import Activity, VadConfig, make_vad


@dataclass(frozen=True)
class SegmenterConfig:
    # Non-speech this long ends the segment (a breath between phrases is shorter). Checked at block ends, after
    # the gate's hangover: with 320 ms blocks a segment ends 600-920 ms into a pause.
    pause_ms: float = 600.0
    max_segment_ms: float = 20_000.0  # forced cut: must stay below the encoder's positional table (30 s)
    preroll_ms: float = 320.0  # quiet audio kept before a speech onset (one 320 ms chunk)
    vad: VadConfig = field(default_factory=VadConfig)

    def validate(self, encoder: EncoderConfig) -> None:
        table_ms = encoder.n_audio_ctx * audio.ENC_FRAME_MS  # 1500 frames x 20 ms = 30 s
        if not self.max_segment_ms < table_ms:
            raise ValueError(
                f"max segment {self.max_segment_ms / 1000:g} s must stay below the encoder's "
                f"positional table ({table_ms / 1000:g} s)"
            )
        shortest_ms = self.preroll_ms + 2 * encoder.chunk_ms  # a cut restarts with the pre-roll and a block
        if self.max_segment_ms < shortest_ms:
            raise ValueError(
                f"max segment {self.max_segment_ms / 1000:g} s is shorter than the pre-roll plus "
                f"two {encoder.chunk_ms} ms chunks ({shortest_ms / 1000:g} s)"
            )
        if self.pause_ms <= 0 or self.preroll_ms < 0:
            raise ValueError(f"pause_ms={self.pause_ms} must be > 0 and preroll_ms={self.preroll_ms} >= 0")
        self.vad.validate()


@dataclass(frozen=True)
class Piece:
    samples: np.ndarray  # 16 kHz mono float32
    start_n: int  # stream position of its first sample, in 16 kHz samples


@dataclass(frozen=True)
class Step:
    events: list[Event]
    speech: bool  # the gate let the block through (fed now, or held inside a segment)
    compute_ms: float  # model time feeding this block's audio (0 if it was not fed)
    flush_ms: float  # model time ending a segment at this block: the final flush and the reset


@dataclass(frozen=True)
class CacheSizes:
    lm_entries: int  # KV entries in the session's LLM cache: prompt, source vectors and written tokens
    encoder_frames: int  # KV entries per layer in the session's encoder cache


@dataclass
class SegmentState:
    """The segment in progress; reset() when it ends."""

    active: bool = False
    index: int = -1
    start_n: int = 0  # stream position of its first sample (16 kHz samples)
    n_samples: int = 0  # its audio so far (fed to the session, unless the model had ended its output)
    held: list[Piece] = field(default_factory=list)  # quiet blocks, fed only if speech resumes
    text: str = ""  # the session's text at the last update
    n_words_shown: int = 0  # complete words already reported

    def reset(self) -> None:
        self.active = False
        self.index = -1
        self.start_n = 0
        self.n_samples = 0
        self.held = []
        self.text = ""
        self.n_words_shown = 0


class Segmenter:
    def __init__(self, session: Session, cfg: SegmenterConfig = SegmenterConfig()):
        cfg.validate(session.model.cfg.encoder)
        self.session = session
        self.cfg = cfg
        self.vad = make_vad(cfg.vad)
        self.segment = SegmentState()
        self.preroll: deque[Piece] = deque()
        self.n_segments = 0
        self.n_reads_ended = 0  # READ decisions (chunks read) in segments already ended
        self.n_writes_ended = 0  # WRITE decisions (words written) in segments already ended
        self._compute_s = 0.0
        self._flush_s = 0.0
        self._max_n = audio.ms_to_samples(cfg.max_segment_ms)
        self._preroll_n = audio.ms_to_samples(cfg.preroll_ms)

    @property
    def n_reads(self) -> int:
        return self.n_reads_ended + (self.session.state.n_chunks_read if self.segment.active else 0)

    @property
    def n_writes(self) -> int:
        return self.n_writes_ended + (self.session.state.n_words if self.segment.active else 0)

    def cache_sizes(self) -> CacheSizes:
        s = self.session.state
        lm = s.lm.cache.get_seq_length() if s.lm.cache is not None else 0
        return CacheSizes(int(lm), s.encoder.caches[0].k.shape[2] if s.encoder.caches else 0)

    def feed(self, samples: np.ndarray, start_n: int) -> Step:
        """One block of 16 kHz mono samples starting at stream position `start_n`."""
        return model_ops.drive(self.feed_steps(samples, start_n), self.session.model)

    def finish(self, reason: str) -> Step:
        """End of input (or an interrupt): flush the segment in progress; trailing held silence is dropped."""
        return model_ops.drive(self.finish_steps(reason), self.session.model)

    # `feed` and `finish` as steps (model_ops.py), for a scheduler that batches many streams' model ops
    def feed_steps(self, samples: np.ndarray, start_n: int) -> Steps[Step]:
        self._compute_s = self._flush_s = 0.0
        activity = self.vad(samples)
        events = yield from self._route(Piece(samples, start_n), activity)
        return Step(events, activity.speech, self._compute_s * 1000, self._flush_s * 1000)

    def finish_steps(self, reason: str) -> Steps[Step]:
        self._compute_s = self._flush_s = 0.0
        events = (yield from self._end(reason)) if self.segment.active else []
        return Step(events, False, 0.0, self._flush_s * 1000)

    def _route(self, piece: Piece, activity: Activity) -> Steps[list[Event]]:
        seg = self.segment
        if not seg.active:
            if not activity.speech:
                self._keep_preroll(piece)
                return []
            pieces = [*self.preroll, piece]
            self.preroll.clear()
            return (yield from self._start(pieces))
        if not activity.speech:
            seg.held.append(piece)
            return (yield from self._end("pause")) if activity.silence_ms >= self.cfg.pause_ms else []
        pieces, seg.held = [*seg.held, piece], []
        if seg.n_samples + sum(len(p.samples) for p in pieces) > self._max_n:
            for p in pieces[:-1]:  # a short pause before the cut becomes the next segment's pre-roll
                self._keep_preroll(p)
            events = yield from self._end("max-length")
            pieces = [*self.preroll, piece]
            self.preroll.clear()
            return events + (yield from self._start(pieces))
        return (yield from self._push(pieces))

    def _keep_preroll(self, piece: Piece) -> None:
        """Keep the shortest run of newest quiet blocks that covers the pre-roll."""
        if self._preroll_n == 0:
            return
        self.preroll.append(piece)
        total = sum(len(p.samples) for p in self.preroll)
        while total - len(self.preroll[0].samples) >= self._preroll_n:
            total -= len(self.preroll.popleft().samples)

    def _start(self, pieces: list[Piece]) -> Steps[list[Event]]:
        seg = self.segment
        seg.reset()
        seg.active, seg.index, seg.start_n = True, self.n_segments, pieces[0].start_n
        self.n_segments += 1
        return [SegmentStarted(seg.index, audio.samples_to_ms(seg.start_n)), *(yield from self._push(pieces))]

    def _push(self, pieces: list[Piece]) -> Steps[list[Event]]:
        samples = np.concatenate([p.samples for p in pieces])
        self.segment.n_samples += len(samples)
        if self.session.state.done:  # the model has ended its output: it would write nothing more
            return []
        t0 = time.perf_counter()
        yield from self.session.push_audio_steps(samples)
        elapsed_s = time.perf_counter() - t0
        self._compute_s += elapsed_s
        return self._text_update(audio.samples_to_ms(pieces[-1].start_n + len(pieces[-1].samples)), elapsed_s * 1000)

    def _text_update(self, heard_ms: float, compute_ms: float) -> list[Event]:
        seg, text = self.segment, self.session.state.text
        if text == seg.text:
            return []
        seg.text = text
        words = text.split()
        n_ready = self.session.n_complete_words
        new = words[seg.n_words_shown : n_ready]
        seg.n_words_shown = max(seg.n_words_shown, n_ready)
        return [
            TextUpdate(
                seg.index, " ".join(new), " ".join(words[:n_ready]), " ".join(words[n_ready:]), heard_ms, compute_ms
            )
        ]

    def _end(self, reason: str) -> Steps[list[Event]]:
        seg, session = self.segment, self.session
        t0 = time.perf_counter()
        yield from session.push_audio_steps(
            np.zeros(0, np.float32), finished=True
        )  # flush: the unfinished last word too
        final = session.final_text
        event = SegmentEnded(
            seg.index,
            " ".join(final.split()[seg.n_words_shown :]),
            final,
            audio.samples_to_ms(seg.start_n),
            audio.samples_to_ms(seg.start_n + seg.n_samples),
            reason,
        )
        self.n_reads_ended += session.state.n_chunks_read
        self.n_writes_ended += session.state.n_words
        for p in seg.held:  # the trailing silence is not fed; its end may be the next segment's pre-roll
            self._keep_preroll(p)
        session.reset()
        seg.reset()
        self._flush_s += time.perf_counter() - t0
        return [event]
