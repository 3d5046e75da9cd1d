"""Captured blocks (any rate, any channel count) -> 16 kHz mono float32, block by block.

A device that cannot deliver 16 kHz mono gives its own rate and channels; the conversion runs here, in the
model thread, so the audio callback only copies. Resampling is streamed: each block is resampled with the
filter state of the blocks before it (no clicks at block edges), by the same resampler the SimulEval agent uses.
"""

from __future__ import annotations

import numpy as np

from speech_proactive import audio
from speech_proactive.apps.live.blocks import Block
from speech_proactive.streaming.resample import StreamResampler


def _stream_resampler(from_rate: int) -> StreamResampler:
    return StreamResampler(from_rate)


class ToModelAudio:
    def __init__(self, sample_rate: int, source: str):
        self.sample_rate = sample_rate
        self.source = source
        self._resampler = None if sample_rate == audio.SAMPLE_RATE else _stream_resampler(sample_rate)

    def __call__(self, block: Block) -> np.ndarray:
        if block.sample_rate != self.sample_rate:
            raise audio.AudioError(f"{self.source}: block at {block.sample_rate} Hz in a {self.sample_rate} Hz stream")
        samples = audio.to_float32(block.samples, self.source)
        # the layout is known ([n_frames, n_channels]): average the channels, no guessing which axis they are on
        mono = samples.mean(axis=1, dtype=np.float32) if samples.ndim == 2 else samples
        return mono if self._resampler is None else self._resampler.push(mono, finished=False)

    def finish(self) -> np.ndarray:
        """The last few samples the resampler held back for its filter's right context."""
        if self._resampler is None:
            return np.zeros(0, np.float32)
        return self._resampler.push(np.zeros(0, np.float32), finished=True)
