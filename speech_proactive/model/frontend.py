"""Incremental Whisper log-mel features: audio in any chunk sizes, every frame computed exactly once.

Frame i is the 25 ms window that *ends* at sample (i + 1) * HOP_LENGTH, with zeros before the start. Whisper
centres frame i on sample i * HOP_LENGTH instead, which needs 2.5 ms of audio beyond the hop: with centred
frames a 320 ms chunk could only be encoded once the next chunk had arrived. The 2.5 ms shift costs a
pretrained Whisper nothing (its training audio has no fixed alignment to the frame grid). An utterance of n
samples has n // HOP_LENGTH frames, as in Whisper, so the frontend never needs audio from the future.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from speech_proactive import audio
from speech_proactive.config import FrontendConfig

LEFT_PAD = audio.N_FFT - audio.HOP_LENGTH  # 240 zeros before the first sample: frame 0 ends at sample 160
LOG10_FLOOR = 1e-10  # Whisper's clamp before log10


@lru_cache(maxsize=4)
def _mel_filters(n_mels: int) -> torch.Tensor:
    """Whisper's own mel filter bank, read from the file that ships inside openai-whisper (no download).

    Read directly rather than through `whisper.audio`, whose package import pulls numba and costs seconds.
    """
    import importlib.util

    spec = importlib.util.find_spec("whisper")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("openai-whisper is not installed; its mel filter bank is needed")
    assets = Path(list(spec.submodule_search_locations)[0]) / "assets" / "mel_filters.npz"
    if n_mels not in (80, 128):
        raise ValueError(f"n_mels={n_mels}: Whisper ships filter banks for 80 and 128 mels only")
    with np.load(assets, allow_pickle=False) as f:
        return torch.from_numpy(f[f"mel_{n_mels}"])


@lru_cache(maxsize=1)
def _window() -> torch.Tensor:
    return torch.hann_window(audio.N_FFT)


def _windows_to_logmel(windows: torch.Tensor, running_max: float, cfg: FrontendConfig) -> tuple[torch.Tensor, float]:
    """[n, N_FFT] windows -> ([n_mels, n] normalised log-mel, updated running max of log10 power)."""
    return _normalise(_log10_mel(windows, cfg), running_max, cfg)


def _log10_mel(windows: torch.Tensor, cfg: FrontendConfig) -> torch.Tensor:
    """[n, N_FFT] windows -> [n, n_mels] log10 mel power (each window on its own: windows of many streams may
    go through in one call)."""
    spectrum = torch.fft.rfft(windows * _window(), dim=-1)
    power = spectrum.abs() ** 2  # [n, N_FFT // 2 + 1]
    mel = power @ _mel_filters(cfg.n_mels).T  # [n, n_mels]
    return torch.clamp(mel, min=LOG10_FLOOR).log10()


def _normalise(log_spec: torch.Tensor, running_max: float, cfg: FrontendConfig) -> tuple[torch.Tensor, float]:
    """One stream's [n, n_mels] log10 mel -> ([n_mels, n] normalised log-mel, updated running max)."""
    frame_max = log_spec.amax(dim=1)
    # Causal version of Whisper's dynamic-range clamp: the max over frames heard so far, not the utterance.
    cum_max = torch.cummax(torch.cat([torch.tensor([running_max]), frame_max]), dim=0).values[1:]
    log_spec = torch.maximum(log_spec, (cum_max - cfg.dynamic_range_log10)[:, None])
    new_max = float(cum_max[-1]) if len(cum_max) else running_max
    return ((log_spec + 4.0) / 4.0).T.contiguous(), new_max


def _empty(cfg: FrontendConfig) -> torch.Tensor:
    return torch.zeros(cfg.n_mels, 0)


def log_mel(samples: np.ndarray, cfg: FrontendConfig = FrontendConfig()) -> torch.Tensor:
    """Whole utterance at once: 16 kHz mono float32 -> [n_mels, n_samples // HOP_LENGTH]."""
    n_frames = len(samples) // audio.HOP_LENGTH
    if n_frames == 0:
        return _empty(cfg)
    x = torch.from_numpy(np.asarray(samples, dtype=np.float32))
    padded = torch.nn.functional.pad(x, (LEFT_PAD, 0))
    windows = padded.unfold(0, audio.N_FFT, audio.HOP_LENGTH)[:n_frames]
    return _windows_to_logmel(windows, -float("inf"), cfg)[0]


@dataclass
class MelState:
    """Per-stream frontend state: the samples that future frames still need, and the frame counter."""

    buffer: np.ndarray = field(default_factory=lambda: np.zeros(LEFT_PAD, dtype=np.float32))
    n_samples: int = 0
    n_frames: int = 0
    running_max: float = -float("inf")

    def reset(self) -> None:
        self.buffer = np.zeros(LEFT_PAD, dtype=np.float32)
        self.n_samples = 0
        self.n_frames = 0
        self.running_max = -float("inf")


class MelStream:
    """Push audio in any chunk sizes; get each log-mel frame once, as soon as its window is complete."""

    def __init__(self, cfg: FrontendConfig = FrontendConfig()):
        self.cfg = cfg
        self.state = MelState()

    def reset(self) -> None:
        self.state.reset()

    def push(self, samples: np.ndarray) -> torch.Tensor:
        """Returns [n_mels, n_new] for the frames completed by these samples (possibly none)."""
        return push_streams([self], [samples])[0]


def push_streams(streams: list[MelStream], samples: list[np.ndarray]) -> list[torch.Tensor]:
    """`MelStream.push` of several streams (one FFT and one filter-bank product for all their new windows); each
    stream gets what its own push gives."""
    windows = [_new_windows(stream.state, x) for stream, x in zip(streams, samples)]
    if not any(len(w) for w in windows):
        return [_empty(stream.cfg) for stream in streams]
    log_specs = _log10_mel(torch.cat(windows), streams[0].cfg).split([len(w) for w in windows])
    out = []
    for stream, w, log_spec in zip(streams, windows, log_specs):
        if len(w) == 0:
            out.append(_empty(stream.cfg))
            continue
        s = stream.state
        mel, s.running_max = _normalise(log_spec, s.running_max, stream.cfg)
        s.n_frames += len(w)
        s.buffer = s.buffer[len(w) * audio.HOP_LENGTH :]  # keep the LEFT_PAD samples the next frame reuses
        out.append(mel)
    return out


def _new_windows(s: MelState, samples: np.ndarray) -> torch.Tensor:
    """Take in a stream's samples; the [n_new, N_FFT] windows of the frames they complete."""
    s.buffer = np.concatenate([s.buffer, np.asarray(samples, dtype=np.float32)])
    s.n_samples += len(samples)
    n_new = s.n_samples // audio.HOP_LENGTH - s.n_frames
    if n_new <= 0:
        return torch.zeros(0, audio.N_FFT)
    span = torch.from_numpy(s.buffer[: LEFT_PAD + n_new * audio.HOP_LENGTH].copy())
    return span.unfold(0, audio.N_FFT, audio.HOP_LENGTH)
