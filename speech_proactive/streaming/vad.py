"""Energy voice-activity gate with hangover: is there speech in this block, and how long has it been quiet?

Energy is measured per 20 ms frame, so a short word inside a mostly quiet block still counts. A frame is
voiced when it is louder than an absolute floor and than the running noise level by a margin. The noise level
follows the quiet frames, so a steady hiss or fan raises the bar instead of reading as endless speech (a noise
louder than the floor from the very first frame is never learnt as noise: raise `threshold_dbfs` then). The
hangover keeps the quiet tail of a word (final stops, fricatives, reverberation) with the speech before it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from speech_proactive import audio

FRAME_MS = 20  # energy frame: 320 samples at 16 kHz, shorter than any spoken syllable
FRAME_SAMPLES = audio.ms_to_samples(FRAME_MS)  # 320
SILENCE_DBFS = -100.0  # the level of digital silence (log of zero is -inf)
DETECTORS = ("energy", "silero", "open")


@dataclass(frozen=True)
class VadConfig:
    threshold_dbfs: float = -45.0  # never voiced below this RMS level (dB re full scale); quiet rooms: -60..-50
    snr_db: float = 12.0  # and at least this much above the running noise level
    noise_adapt: float = 0.05  # weight of each quiet frame in the running noise level (~0.4 s memory)
    hangover_ms: float = 200.0  # frames this soon after a voiced one count as speech too
    # "energy": this module's gate; "silero": Silero's neural speech detector behind the threshold_dbfs floor
    # (streaming/silero.py), which also rejects loud sounds that are not speech; "open": no gate, every block is
    # speech (a client that wants every sample decoded, as `translate --vad off` does)
    detector: str = "energy"
    speech_prob: float = 0.5  # silero: a window is speech above this probability

    def validate(self) -> None:
        if self.detector not in DETECTORS:
            raise ValueError(f"detector={self.detector!r}: choose from {DETECTORS}")
        if not 0.0 < self.noise_adapt <= 1.0:
            raise ValueError(f"noise_adapt={self.noise_adapt} must be in (0, 1]")
        if self.hangover_ms < 0:
            raise ValueError(f"hangover_ms={self.hangover_ms} must be >= 0")


@dataclass(frozen=True)
class Activity:
    speech: bool  # a voiced frame, or one within the hangover after a voiced frame, is in the block
    silence_ms: float  # since the end of the last voiced frame, at the end of the block


@dataclass
class VadState:
    noise_dbfs: float = SILENCE_DBFS  # running level of the quiet frames
    silence_ms: float = float("inf")  # since the last voiced frame: nothing voiced yet
    partial: np.ndarray | None = None  # samples of a frame begun in the previous block

    def reset(self) -> None:
        self.noise_dbfs = SILENCE_DBFS
        self.silence_ms = float("inf")
        self.partial = None

    def windows(self, samples: np.ndarray, n: int) -> np.ndarray:
        """The whole windows of `n` samples in what was left over plus `samples`, as rows; the rest is kept."""
        x = samples if self.partial is None else np.concatenate([self.partial, samples])
        k = len(x) // n
        self.partial = x[k * n :].copy()
        return x[: k * n].reshape(k, n)

    def advance(self, voiced: bool, window_ms: float, hangover_ms: float) -> bool:
        """One window's decision: whether it counts as speech, its own or within the hangover after one."""
        self.silence_ms = 0.0 if voiced else self.silence_ms + window_ms
        return self.silence_ms <= hangover_ms


def frame_dbfs(frames: np.ndarray) -> np.ndarray:
    """RMS level per row of [n_frames, FRAME_SAMPLES], in dB re full scale (a full-scale sine is -3 dB)."""
    power = np.mean(np.square(frames, dtype=np.float64), axis=1)
    return np.maximum(10.0 * np.log10(np.maximum(power, 1e-30)), SILENCE_DBFS)


class EnergyVad:
    def __init__(self, cfg: VadConfig = VadConfig()):
        cfg.validate()
        self.cfg = cfg
        self.state = VadState()

    def reset(self) -> None:
        self.state.reset()

    def __call__(self, samples: np.ndarray) -> Activity:
        """16 kHz mono float32 of any length; frames are cut across block edges."""
        s = self.state
        speech = False
        for level in frame_dbfs(s.windows(samples, FRAME_SAMPLES)):
            voiced = level > max(self.cfg.threshold_dbfs, s.noise_dbfs + self.cfg.snr_db)
            if not voiced:
                s.noise_dbfs += self.cfg.noise_adapt * (level - s.noise_dbfs)
            speech = s.advance(voiced, FRAME_MS, self.cfg.hangover_ms) or speech
        return Activity(speech, s.silence_ms)


class OpenGate:
    """No gate: every block is speech, and never a pause."""

    def __init__(self, cfg: VadConfig = VadConfig(detector="open")):
        self.cfg = cfg

    def reset(self) -> None:
        pass

    def __call__(self, samples: np.ndarray) -> Activity:
        return Activity(True, 0.0)


def make_vad(cfg: VadConfig) -> EnergyVad:
    """The gate a config names (SileroVad and OpenGate have EnergyVad's interface)."""
    cfg.validate()
    if cfg.detector == "open":
        return OpenGate(cfg)
    if cfg.detector == "silero":
        from speech_proactive.streaming.silero import SileroVad

        return SileroVad(cfg)
    return EnergyVad(cfg)
