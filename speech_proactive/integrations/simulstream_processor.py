"""A bundle and a policy as a speech processor of FBK's simulstream (IWSLT 2026's streaming harness).

    simulstream_inference --speech-processor-config processor.yaml --wav-list-file talks.txt \
        --metrics-log-file metrics.jsonl

processor.yaml (`speech_proactive.evaluation.longform.run` writes it; every key but `model` has a default):

    type: speech_proactive.integrations.simulstream_processor.ProactiveProcessor
    model: runs/st/bundle          # bundle folder
    policy: entropy:q0.9           # policy_spec syntax; a qQ threshold is calibrated once, kept in the bundle
    task: st                       # st | asr
    src_lang: de                   # default: taken from the bundle when that leaves one choice
    tgt_lang: en
    speech_chunk_size: 0.32        # seconds per call (default: the bundle's encoder chunk)
    pause_ms: 600                  # the live segmenter's settings (speech_proactive/streaming/segmenter.py)
    max_segment_s: 20
    threads: 0                     # torch threads; 0 leaves torch's default
    detokenizer_type: simuleval    # for simulstream's scorers, which read this same file: tokens are words
    latency_unit: word

A talk is one unsegmented stream. The model was trained on sentences, so the processor runs it as the live demo
does: the live segmenter cuts the stream at pauses (and at `max_segment_s`), each segment gets a fresh session,
and a segment's output is flushed when it ends. Every word is reported once, when it is complete, so the output
never retracts (no deleted tokens). simulstream gives audio as 16-bit PCM converted to float; at other rates it
resamples with librosa before this code sees it.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import ClassVar

import numpy as np
import torch
from simulstream.server.speech_processors import SAMPLE_RATE, SpeechProcessor
from simulstream.server.speech_processors.incremental_output import IncrementalOutput

from speech_proactive import audio
from speech_proactive.model.trained_tasks import UnknownTask
from speech_proactive.streaming.events import Event, SegmentEnded, TextUpdate
from speech_proactive.streaming.from_bundle import OpenBundle, open_bundle
from speech_proactive.streaming.segmenter import Segmenter, SegmenterConfig
from speech_proactive.streaming.vad import VadConfig

assert SAMPLE_RATE == audio.SAMPLE_RATE, "simulstream and the model must agree on the rate"

DEFAULTS = {
    "policy": "entropy:q0.9",
    "task": "st",
    "src_lang": None,
    "tgt_lang": None,
    "speech_chunk_size": None,
    "pause_ms": SegmenterConfig.pause_ms,
    "max_segment_s": SegmenterConfig.max_segment_ms / 1000,
    "vad_dbfs": VadConfig.threshold_dbfs,
    "vad": VadConfig.detector,
    "threads": 0,
}


def settings(config: SimpleNamespace) -> SimpleNamespace:
    """The config with every default filled in; a missing `model` is an error that says so."""
    if not getattr(config, "model", None):
        raise ValueError("processor config: `model` (a bundle folder) is required")
    return SimpleNamespace(**{**DEFAULTS, **vars(config)})


def event_words(events: list[Event]) -> list[str]:
    """Words the events complete, in order: a text update's new complete words, a segment end's flushed rest."""
    return [w for e in events if isinstance(e, (TextUpdate, SegmentEnded)) for w in e.words.split()]


def words_output(words: list[str]) -> IncrementalOutput:
    return IncrementalOutput(words, " ".join(words), [], "")


class ProactiveProcessor(SpeechProcessor):
    """One talk at a time: the live segmenter over a session of the bundle, reset between talks."""

    _loaded: ClassVar[dict[tuple[str, str], OpenBundle]] = {}

    @classmethod
    def load_model(cls, config: SimpleNamespace) -> None:
        """simulstream calls this before the constructor; the bundle is loaded (and calibrated) once per process."""
        s = settings(config)
        if s.threads:
            torch.set_num_threads(int(s.threads))
        key = (str(s.model), str(s.policy))
        if key not in cls._loaded:
            cls._loaded[key] = open_bundle(Path(s.model), str(s.policy))

    def __init__(self, config: SimpleNamespace):
        super().__init__(config)
        s = settings(config)
        self.bundle = self._loaded[(str(s.model), str(s.policy))]
        self.model = self.bundle.model
        self.segmenter_config = SegmenterConfig(
            pause_ms=float(s.pause_ms),
            max_segment_ms=float(s.max_segment_s) * 1000,
            vad=VadConfig(threshold_dbfs=float(s.vad_dbfs), detector=str(s.vad)),
        )
        self.task = self.bundle.task(s.task, s.src_lang, s.tgt_lang)
        chunk_ms = self.model.cfg.encoder.chunk_ms
        self.chunk_n = audio.ms_to_samples(chunk_ms)
        self.chunk_s = float(s.speech_chunk_size) if s.speech_chunk_size else chunk_ms / 1000
        self._new_stream()

    @property
    def speech_chunk_size(self) -> float:
        """Seconds of audio per process_chunk call (simulstream asks before every message)."""
        return self.chunk_s

    def _new_stream(self) -> None:
        self.segmenter = Segmenter(self.bundle.session(self.task), self.segmenter_config)
        self.n_samples = 0  # stream position, in 16 kHz samples

    def process_chunk(self, waveform: np.ndarray) -> IncrementalOutput:
        samples = np.asarray(waveform, dtype=np.float32)
        words = []
        for start in range(0, len(samples), self.chunk_n):  # the segmenter's gate works on encoder chunks
            block = samples[start : start + self.chunk_n]
            words += event_words(self.segmenter.feed(block, self.n_samples).events)
            self.n_samples += len(block)
        return words_output(words)

    def end_of_stream(self) -> IncrementalOutput:
        return words_output(event_words(self.segmenter.finish("end").events))

    def set_source_language(self, language: str) -> None:
        self._set_task(src_lang=language)

    def set_target_language(self, language: str) -> None:
        self._set_task(tgt_lang=language)

    def _set_task(self, src_lang: str | None = None, tgt_lang: str | None = None) -> None:
        try:
            task = self.bundle.task(self.task.task, src_lang or self.task.src_lang, tgt_lang or self.task.tgt_lang)
        except UnknownTask:  # languages change one at a time: the other follows when the bundle leaves one choice
            task = self.bundle.task(self.task.task, src_lang, tgt_lang)
        if task != self.task:
            self.task = task
            self._new_stream()

    def tokens_to_string(self, tokens: list[str]) -> str:
        return " ".join(tokens)

    def clear(self) -> None:
        self._new_stream()
