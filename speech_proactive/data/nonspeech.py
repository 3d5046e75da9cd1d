"""Audio with nobody speaking, for training examples whose target is empty: digital silence, a microphone's
noise floor, room noise (brown-ish, most energy low) and mains hum (50 or 60 Hz with harmonics).

A model that has only heard speech writes a sentence for any input: 3 s of silence came out as "Sieben
Studenten fragen, ob er schwimmen." These examples teach it that no speech means no words. Each clip is a
pure function of its id: rebuilding gives the same bytes.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from speech_proactive import audio
from speech_proactive.data.manifest import Utterance

KINDS = ("silence", "floor", "room", "hum")
DURATION_MS_RANGE = (1000.0, 6000.0)  # the corpus's utterances are 1-6 s
LEVEL_DBFS_RANGE = {"floor": (-75.0, -40.0), "room": (-60.0, -30.0), "hum": (-60.0, -25.0)}  # RMS
HUM_HARMONICS = 5


@dataclass(frozen=True)
class NonSpeechClip:
    id: str
    kind: str
    samples: np.ndarray  # float32 at audio.SAMPLE_RATE


def _rng(clip_id: str) -> np.random.Generator:
    return np.random.default_rng(int.from_bytes(hashlib.sha256(clip_id.encode()).digest()[:8], "little"))


def _at_rms(x: np.ndarray, dbfs: float) -> np.ndarray:
    rms = float(np.sqrt(np.mean(x.astype(np.float64) ** 2))) or 1.0
    return (x * (10.0 ** (dbfs / 20.0) / rms)).astype(np.float32)


def _hum(rng: np.random.Generator, n: int) -> np.ndarray:
    t = np.arange(n) / audio.SAMPLE_RATE
    mains_hz = rng.choice([50.0, 60.0])
    weights = rng.uniform(0.1, 1.0, HUM_HARMONICS)
    phases = rng.uniform(0, 2 * np.pi, HUM_HARMONICS)
    return sum(w * np.sin(2 * np.pi * mains_hz * (k + 1) * t + p) for k, (w, p) in enumerate(zip(weights, phases)))


def _room(rng: np.random.Generator, n: int) -> np.ndarray:
    brown = np.cumsum(rng.standard_normal(n))
    return brown - np.convolve(brown, np.ones(401) / 401, mode="same")  # no drift: remove the slowest part


def clip(clip_id: str, kind: str) -> NonSpeechClip:
    if kind not in KINDS:
        raise ValueError(f"unknown non-speech kind {kind!r}; known: {KINDS}")
    rng = _rng(clip_id)
    n = audio.ms_to_samples(rng.uniform(*DURATION_MS_RANGE))
    if kind == "silence":
        return NonSpeechClip(clip_id, kind, np.zeros(n, np.float32))
    raw = {"floor": lambda: rng.standard_normal(n), "room": lambda: _room(rng, n), "hum": lambda: _hum(rng, n)}[kind]()
    return NonSpeechClip(clip_id, kind, _at_rms(raw, rng.uniform(*LEVEL_DBFS_RANGE[kind])))


def clips(prefix: str, n: int) -> list[NonSpeechClip]:
    """n clips, the kinds in turn: f"{prefix}-{i:05d}"."""
    return [clip(f"{prefix}-{i:05d}", KINDS[i % len(KINDS)]) for i in range(n)]


def write_clips(out: Path, prefix: str, n: int, src_lang: str, tgt_lang: str) -> list[Utterance]:
    """n clips as 16 kHz WAVs under out/audio/nonspeech/ (each written atomically; an existing file of the
    right length is kept) and their manifest rows: empty source and target text."""
    import soundfile as sf

    folder = out / "audio" / "nonspeech"
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for c in clips(prefix, n):
        path = folder / f"{c.id}.wav"
        if not (path.is_file() and sf.info(str(path)).frames == c.samples.size):
            tmp = path.with_name(f"{path.stem}.tmp-{os.getpid()}.wav")
            audio.write_wav(tmp, c.samples)
            os.replace(tmp, path)
        rows.append(
            Utterance(
                id=f"{c.id}.{src_lang}-{tgt_lang}",
                audio=str(path.relative_to(out)),
                n_samples=int(c.samples.size),
                src_lang=src_lang,
                src_text="",
                tgt_lang=tgt_lang,
                tgt_text="",
                speaker=f"nonspeech-{c.kind}",
                src_word_end_ms=(),
                tgt_align=(),
                tgt_ideal_ms=(),
                meta={"nonspeech": c.kind},
            )
        )
    return rows
