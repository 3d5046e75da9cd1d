"""Audio constants and pure functions: read files, convert to 16 kHz mono float32, validate.

Every constant is defined once here, with its derivation. Whisper's feature parameters are kept so that a
pretrained Whisper encoder sees what it was trained on.
"""

from __future__ import annotations

from math import gcd
from pathlib import Path

import numpy as np

SAMPLE_RATE = 16000  # Hz; everything inside the model runs at this rate
N_FFT = 400  # 25 ms window at 16 kHz
HOP_LENGTH = 160  # 10 ms at 16 kHz
FRAME_MS = HOP_LENGTH * 1000 // SAMPLE_RATE  # 10 ms per log-mel frame
CONV_STRIDE = 2  # Whisper's second conv halves the frame rate: 20 ms per encoder frame
ENC_FRAME_MS = FRAME_MS * CONV_STRIDE  # 20 ms

SUPPORTED_SUFFIXES = (".wav", ".flac", ".ogg", ".oga")


class AudioError(ValueError):
    """Audio that cannot be used as it is; the message names the problem and the source."""


def ms_to_samples(ms: float) -> int:
    return int(round(ms * SAMPLE_RATE / 1000))


def samples_to_ms(n_samples: int) -> float:
    return n_samples * 1000.0 / SAMPLE_RATE


def to_float32(samples: np.ndarray, source: str = "audio") -> np.ndarray:
    """Integer PCM is scaled to [-1, 1); float is kept. NaN/Inf are an error, never passed on."""
    samples = np.asarray(samples)
    if samples.dtype.kind == "i":
        scale = float(2 ** (8 * samples.dtype.itemsize - 1))  # int16 -> 32768
        out = samples.astype(np.float32) / scale
    elif samples.dtype.kind == "u":
        half = float(2 ** (8 * samples.dtype.itemsize - 1))  # uint8 PCM is offset binary
        out = (samples.astype(np.float32) - half) / half
    elif samples.dtype.kind == "f":
        out = samples.astype(np.float32, copy=False)
    else:
        raise AudioError(f"{source}: unsupported sample type {samples.dtype}")
    bad = ~np.isfinite(out)
    if bad.any():
        first = int(np.argwhere(bad)[0][0])
        raise AudioError(f"{source}: {int(bad.sum())} NaN/Inf samples (first at sample {first})")
    return out


MAX_CHANNELS = 8  # more than this along both axes is not audio we can guess the layout of


def to_mono(samples: np.ndarray, source: str = "audio") -> np.ndarray:
    """(n,) is mono. 2-D input is averaged over its channel axis: soundfile's (n, channels) layout, or
    (channels, n) as torchaudio and librosa return it, told apart by which axis is short (<= MAX_CHANNELS)."""
    if samples.ndim == 1:
        return samples
    if samples.ndim != 2:
        raise AudioError(f"{source}: expected (n_samples,) or (n_samples, channels), got shape {samples.shape}")
    if 0 in samples.shape:
        raise AudioError(f"{source}: empty audio (array of shape {samples.shape})")
    n_rows, n_cols = samples.shape
    if n_cols <= MAX_CHANNELS and n_rows >= n_cols:
        channel_axis = 1
    elif n_rows <= MAX_CHANNELS:
        channel_axis = 0
    else:
        raise AudioError(f"{source}: shape {samples.shape} has no channel axis of at most {MAX_CHANNELS}")
    return samples.mean(axis=channel_axis, dtype=np.float32)


def resample(samples: np.ndarray, from_rate: int, to_rate: int = SAMPLE_RATE, source: str = "audio") -> np.ndarray:
    """Polyphase resampling with a Kaiser-windowed low-pass filter (band-limited, no aliasing)."""
    if not np.isfinite(from_rate) or from_rate <= 0 or not float(from_rate).is_integer():
        raise AudioError(f"{source}: invalid sample rate {from_rate} (a positive whole number of Hz is needed)")
    if from_rate == to_rate or samples.size == 0:
        return samples.astype(np.float32, copy=False)
    from scipy.signal import resample_poly

    g = gcd(int(from_rate), int(to_rate))
    return resample_poly(samples, to_rate // g, from_rate // g).astype(np.float32)


def prepare(samples: np.ndarray, sample_rate: int, source: str = "audio", allow_empty: bool = False) -> np.ndarray:
    """Any dtype, channel count and rate -> validated 16 kHz mono float32 (the documented conversion)."""
    out = resample(to_mono(to_float32(samples, source), source), sample_rate, source=source)
    if out.size == 0 and not allow_empty:
        raise AudioError(f"{source}: empty audio (0 samples)")
    return np.ascontiguousarray(out, dtype=np.float32)


def load_audio(path: str | Path) -> np.ndarray:
    """Read WAV/FLAC/OGG of any rate and channel count into 16 kHz mono float32."""
    import soundfile as sf

    path = Path(path)
    if not path.is_file():
        raise AudioError(f"{path}: {'is a directory, not an audio file' if path.is_dir() else 'no such file'}")
    try:
        samples, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (RuntimeError, sf.LibsndfileError) as e:  # libsndfile's message names the format problem
        raise AudioError(f"{path}: unreadable or corrupt audio ({e})") from e
    declared = _wav_declared_frames(path)
    if declared is not None and declared > len(samples):
        # libsndfile silently returns what is there; a cut-off recording should not pass unnoticed
        raise AudioError(f"{path}: truncated WAV: {len(samples)} of the {declared} frames its header declares")
    return prepare(samples, rate, source=str(path))


def _wav_declared_frames(path: Path) -> int | None:
    """Frames a RIFF/WAVE header declares (None for other formats or an unusual header)."""
    import struct

    with open(path, "rb") as f:
        head = f.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return None
        block_align = None
        while chunk := f.read(8):
            if len(chunk) < 8:
                return None
            cid, size = chunk[:4], struct.unpack("<I", chunk[4:])[0]
            if cid == b"fmt ":
                fmt = f.read(size + size % 2)
                block_align = struct.unpack("<H", fmt[12:14])[0] if len(fmt) >= 14 else None
            elif cid == b"data":
                return size // block_align if block_align else None
            else:
                f.seek(size + size % 2, 1)
    return None


def write_wav(path: str | Path, samples: np.ndarray, sample_rate: int = SAMPLE_RATE) -> None:
    import soundfile as sf

    sf.write(str(path), np.asarray(samples, dtype=np.float32), sample_rate, subtype="PCM_16")
