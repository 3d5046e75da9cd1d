"""Training-time audio augmentation: quiet before and after the speech, level, room echo and background noise.

Why: espeak-ng's utterances start speaking in their first millisecond, so a model trained on them alone has
only ever seen speech begin at the start of its first chunk. Measured on the 2026-12-06 recipe bundle (offline
policy, de->en test utterances): 40 ms of digital silence before "Maria sieht einen schwarzen Elefanten." turned
"Maria sees a black elephants." into "At seven o'clock an elephants see a elephant.", 100 ms into "Does Maria
sees a sister?". A live or long-form stream never starts exactly at the onset: the segmenter keeps a 320 ms
pre-roll, and its gate decides per 320 ms block. Leading quiet of random length also moves the onset to every
phase of the encoder's chunk grid.

The quiet is digital silence or faint Gaussian noise (a microphone's floor), chosen per example. Trailing quiet
is the same after the speech: a stream goes on after the last word, and the model must stop writing.

Level, echo and noise make synthetic voices less clean: a level (gain in dB) per example, a room's echo (an
exponentially decaying noise impulse response with a drawn RT60, direct sound kept) and background noise
(white or brown-ish) at a drawn signal-to-noise ratio. The length never changes, so word times stay valid.

Each draw comes from a generator seeded by (run seed, step, example index), so a resumed or multi-process run
draws the same. A setting left at its default draws nothing: older configs train exactly as before.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from speech_proactive import audio


@dataclass(frozen=True)
class AugmentConfig:
    lead_quiet_p: float = 0.0  # share of training examples that get leading quiet (0: off)
    lead_quiet_max_ms: float = 1000.0  # its length is uniform in [0, max]
    noise_p: float = 0.5  # share of those where the quiet is noise rather than digital silence
    noise_dbfs_min: float = -75.0  # the noise's RMS level is uniform in [min, max]
    noise_dbfs_max: float = -50.0
    trail_quiet_p: float = 0.0  # share that get quiet appended, as long as leading quiet can be
    gain_db_max: float = 0.0  # level: gain uniform in [-gain_db_max, +gain_db_max] (0: off)
    reverb_p: float = 0.0  # share that get a room's echo
    rt60_ms_min: float = 150.0
    rt60_ms_max: float = 600.0
    snr_p: float = 0.0  # share that get background noise over the whole example
    snr_db_min: float = 10.0
    snr_db_max: float = 40.0

    def __post_init__(self) -> None:
        for name in ("trail_quiet_p", "reverb_p", "snr_p"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"augment: {name}={getattr(self, name)} must be in [0, 1]")
        if self.gain_db_max < 0 or not 0 < self.rt60_ms_min <= self.rt60_ms_max or self.snr_db_min > self.snr_db_max:
            raise ValueError(
                f"augment: need gain_db_max >= 0, 0 < rt60_ms_min <= rt60_ms_max, snr_db_min <= snr_db_max; got "
                f"{self.gain_db_max}, {self.rt60_ms_min}, {self.rt60_ms_max}, {self.snr_db_min}, {self.snr_db_max}"
            )
        if not (0.0 <= self.lead_quiet_p <= 1.0 and 0.0 <= self.noise_p <= 1.0):
            raise ValueError(f"augment: lead_quiet_p={self.lead_quiet_p} and noise_p={self.noise_p} must be in [0, 1]")
        if self.lead_quiet_max_ms < 0:
            raise ValueError(f"augment: lead_quiet_max_ms={self.lead_quiet_max_ms} must be >= 0")
        if not self.noise_dbfs_min <= self.noise_dbfs_max <= 0:
            raise ValueError(
                f"augment: noise_dbfs_min={self.noise_dbfs_min}, noise_dbfs_max={self.noise_dbfs_max}: "
                "need min <= max <= 0"
            )

    @property
    def quiet_enabled(self) -> bool:
        return self.lead_quiet_p > 0 and self.lead_quiet_max_ms > 0

    @property
    def enabled(self) -> bool:
        return (
            self.quiet_enabled or self.trail_quiet_p > 0 or self.gain_db_max > 0 or self.reverb_p > 0 or self.snr_p > 0
        )


def example_rng(seed: int, step: int, index: int) -> np.random.Generator:
    return np.random.default_rng([seed, step, index])


def _quiet(cfg: AugmentConfig, rng: np.random.Generator) -> np.ndarray:
    n = audio.ms_to_samples(rng.uniform(0.0, cfg.lead_quiet_max_ms))
    if rng.random() < cfg.noise_p:
        rms = 10.0 ** (rng.uniform(cfg.noise_dbfs_min, cfg.noise_dbfs_max) / 20.0)
        return (rng.standard_normal(n) * rms).astype(np.float32)
    return np.zeros(n, np.float32)


def lead_quiet(samples: np.ndarray, cfg: AugmentConfig, rng: np.random.Generator) -> np.ndarray:
    """`samples` with quiet prepended (or unchanged, for the share of examples that get none)."""
    if not cfg.quiet_enabled or rng.random() >= cfg.lead_quiet_p:
        return samples
    return np.concatenate([_quiet(cfg, rng), samples.astype(np.float32, copy=False)])


def trail_quiet(samples: np.ndarray, cfg: AugmentConfig, rng: np.random.Generator) -> np.ndarray:
    if cfg.trail_quiet_p <= 0 or cfg.lead_quiet_max_ms <= 0 or rng.random() >= cfg.trail_quiet_p:
        return samples
    return np.concatenate([samples.astype(np.float32, copy=False), _quiet(cfg, rng)])


def room_echo(samples: np.ndarray, rt60_ms: float, rng: np.random.Generator) -> np.ndarray:
    """`samples` convolved with a synthetic room response: the direct sound, then noise decaying by 60 dB in
    rt60_ms; cut to the input's length and scaled back to its peak."""
    from scipy.signal import fftconvolve

    n = audio.ms_to_samples(rt60_ms)
    t_ms = np.arange(n) * 1000.0 / audio.SAMPLE_RATE
    response = rng.standard_normal(n) * 10.0 ** (-3.0 * t_ms / rt60_ms) * 0.3
    response[0] = 1.0
    wet = fftconvolve(samples, response)[: samples.size]
    peak_in, peak_out = float(np.abs(samples).max(initial=0.0)), float(np.abs(wet).max(initial=0.0))
    return (wet * (peak_in / peak_out if peak_out > 0 else 1.0)).astype(np.float32)


def background_noise(samples: np.ndarray, snr_db: float, rng: np.random.Generator) -> np.ndarray:
    """White or brown-ish noise added at snr_db below the example's mean power."""
    noise = rng.standard_normal(samples.size)
    if rng.random() < 0.5:
        noise = np.cumsum(noise)
        noise -= np.convolve(noise, np.ones(401) / 401, mode="same")
    power = float(np.mean(samples.astype(np.float64) ** 2))
    noise *= np.sqrt(power / 10.0 ** (snr_db / 10.0) / max(float(np.mean(noise**2)), 1e-20))
    return (samples + noise).astype(np.float32)


def augment(samples: np.ndarray, cfg: AugmentConfig, rng: np.random.Generator) -> np.ndarray:
    """Every augmentation in turn; each draws from `rng` only when it is switched on."""
    x = trail_quiet(lead_quiet(samples, cfg, rng), cfg, rng)
    if cfg.reverb_p > 0 and rng.random() < cfg.reverb_p:
        x = room_echo(x, rng.uniform(cfg.rt60_ms_min, cfg.rt60_ms_max), rng)
    if cfg.snr_p > 0 and rng.random() < cfg.snr_p and np.any(x):
        x = background_noise(x, rng.uniform(cfg.snr_db_min, cfg.snr_db_max), rng)
    if cfg.gain_db_max > 0:
        x = (x * 10.0 ** (rng.uniform(-cfg.gain_db_max, cfg.gain_db_max) / 20.0)).astype(np.float32)
    return np.clip(x, -1.0, 1.0) if x is not samples else x


def quiet_warning(meta: dict) -> str | None:
    """For a bundle's metadata: a warning when it was trained without leading quiet, which a live or long-form
    stream always puts before the speech (measured: eval/results/longform-2026-12-07.md); None otherwise."""
    train_config = meta.get("train_config")
    if not meta.get("trained") or not isinstance(train_config, dict):
        return None  # random weights, or a bundle that does not say how it was trained
    if (train_config.get("augment") or {}).get("lead_quiet_p", 0.0) > 0:
        return None
    return (
        "this bundle was trained without leading-quiet augmentation: quiet before speech (the segmenter's "
        "pre-roll, pauses) can derail it. Train with augment.lead_quiet_p=0.5 for live use (README, Live demo)"
    )
