"""Resampling audio that arrives in pieces (SimulEval's native-rate segments, a sound card's blocks) to 16 kHz."""

from __future__ import annotations

from dataclasses import dataclass, field
from math import gcd

import numpy as np

from speech_proactive import audio

FILTER_HALF_TAPS_PER_RATE = 10  # scipy's resample_poly: filter half-length = 10 * max(up, down) (upsampled taps)


@dataclass
class StreamResampler:
    """Native-rate audio in pieces -> 16 kHz, close to what `audio.resample` gives for the whole signal.

    resample_poly's output m is a fixed weighted sum of the inputs within the filter's reach of input position
    m * down / up. Each call resamples a short window of buffered input; windows start on a multiple of `down`
    inputs, so their outputs fall on the whole signal's grid, and work and memory per call stay bounded.
    The newest outputs (the last ~0.6 ms at 22.05 kHz) would need inputs that have not arrived. `exact` waits for
    them: the output then equals the whole-signal resampling bit for bit, but a 320 ms piece no longer fills a
    320 ms chunk, so every chunk is read one piece late (+320 ms on every latency metric). By default they are
    computed from a mirror image of the newest inputs instead: every piece gives its full share of output at once,
    and only those few samples per piece differ slightly from the whole-signal result.
    """

    from_rate: int
    exact: bool = False
    buffer: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    buffer_start: int = 0  # input index of buffer[0], a multiple of `down`
    n_out: int = 0  # 16 kHz samples returned so far

    def __post_init__(self) -> None:
        g = gcd(self.from_rate, audio.SAMPLE_RATE)
        self.up, self.down = audio.SAMPLE_RATE // g, self.from_rate // g
        self.reach = FILTER_HALF_TAPS_PER_RATE * max(self.up, self.down)  # in upsampled samples

    def push(self, samples: np.ndarray, finished: bool) -> np.ndarray:
        if self.from_rate == audio.SAMPLE_RATE:
            return samples
        self.buffer = np.concatenate([self.buffer, samples.astype(np.float32, copy=False)])
        end = self.buffer_start + len(self.buffer)
        window = self.buffer
        stop = _ceil_div(end * self.up, self.down)  # outputs up to the newest input
        if not finished and self.exact:  # output m needs inputs up to (m * down + reach) / up: only those here
            stop = max(self.n_out, _ceil_div(end * self.up - self.reach, self.down))
        elif not finished and len(window):  # the missing inputs, guessed as a mirror image of the newest ones
            window = np.pad(window, (0, _ceil_div(self.reach, self.up) + 1), mode="symmetric")
        first = self.buffer_start * self.up // self.down  # output index of the window's first output
        out = audio.resample(window, self.from_rate)[self.n_out - first : stop - first]
        self.n_out = stop
        needed = max(0, _ceil_div(stop * self.down - self.reach, self.up))  # first input the next output needs
        keep = max(self.buffer_start, needed // self.down * self.down)
        self.buffer, self.buffer_start = self.buffer[keep - self.buffer_start :], keep
        return out


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)
