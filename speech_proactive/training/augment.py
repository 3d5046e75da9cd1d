"""Training-time audio augmentation: quiet audio before the speech onset.

Why: espeak-ng's utterances start speaking in their first millisecond, so a model trained on them alone has
only ever seen speech begin at the start of its first chunk. Measured on the 2026-12-06 recipe bundle (offline
policy, de->en test utterances): 40 ms of digital silence before "Maria sieht einen schwarzen Elefanten." turned
"Maria sees a black elephants." into "At seven o'clock an elephants see a elephant.", 100 ms into "Does Maria
sees a sister?". A live or long-form stream never starts exactly at the onset: the segmenter keeps a 320 ms
pre-roll, and its gate decides per 320 ms block. Leading quiet of random length also moves the onset to every
phase of the encoder's chunk grid.

The quiet is digital silence or faint Gaussian noise (a microphone's floor), chosen per example. Each draw comes
from a generator seeded by (run seed, step, example index), so a resumed or multi-process run draws the same.
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

    def __post_init__(self) -> None:
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
    def enabled(self) -> bool:
        return self.lead_quiet_p > 0 and self.lead_quiet_max_ms > 0


def example_rng(seed: int, step: int, index: int) -> np.random.Generator:
    return np.random.default_rng([seed, step, index])


def lead_quiet(samples: np.ndarray, cfg: AugmentConfig, rng: np.random.Generator) -> np.ndarray:
    """`samples` with quiet prepended (or unchanged, for the share of examples that get none)."""
    if not cfg.enabled or rng.random() >= cfg.lead_quiet_p:
        return samples
    n = audio.ms_to_samples(rng.uniform(0.0, cfg.lead_quiet_max_ms))
    if rng.random() < cfg.noise_p:
        rms = 10.0 ** (rng.uniform(cfg.noise_dbfs_min, cfg.noise_dbfs_max) / 20.0)
        quiet = (rng.standard_normal(n) * rms).astype(np.float32)
    else:
        quiet = np.zeros(n, np.float32)
    return np.concatenate([quiet, samples.astype(np.float32, copy=False)])


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
