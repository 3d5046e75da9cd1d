"""Silero VAD (MIT; its model ships inside the `silero-vad` wheel) as the segmenter's voice-activity gate: a
neural speech/non-speech decision per 32 ms window, behind the energy gate's absolute floor.

The energy gate alone passes any sound louder than the noise it has learnt: a fan switched on, a hum, music.
Silero tells speech from those. The absolute level floor stays in front of it, so digital silence and faint noise
never reach the network. The model is loaded from the installed package's files without importing the
`silero_vad` package, whose import sets torch's thread count to 1 for the whole process.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import torch

from speech_proactive import audio
from speech_proactive.streaming.vad import Activity, VadConfig, VadState, frame_dbfs

WINDOW_SAMPLES = 512  # what the 16 kHz model takes per call: 32 ms
WINDOW_MS = audio.samples_to_ms(WINDOW_SAMPLES)  # 32.0


def model_file() -> Path:
    spec = importlib.util.find_spec("silero_vad")  # finds the package without running its __init__
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the silero VAD needs the silero-vad package (pip install 'speech_proactive[live]')")
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "silero_vad.jit"
    if not path.is_file():
        raise RuntimeError(f"{path}: the silero-vad package holds no model file")
    return path


class SileroVad:
    """The EnergyVad interface (call with blocks of any size, `reset()` between streams), Silero's decision."""

    def __init__(self, cfg: VadConfig = VadConfig(detector="silero")):
        cfg.validate()
        self.cfg = cfg
        self.model = torch.jit.load(str(model_file()), map_location="cpu").eval()
        self.state = VadState()
        self.reset()

    def reset(self) -> None:
        self.state.reset()
        self.model.reset_states()

    @torch.inference_mode()
    def speech_prob(self, window: np.ndarray) -> float:
        return float(self.model(torch.from_numpy(window)[None], audio.SAMPLE_RATE))

    def __call__(self, samples: np.ndarray) -> Activity:
        s = self.state
        speech = False
        windows = s.windows(samples, WINDOW_SAMPLES).astype(np.float32)
        for window, level in zip(windows, frame_dbfs(windows)):
            voiced = level > self.cfg.threshold_dbfs and self.speech_prob(window) > self.cfg.speech_prob
            speech = s.advance(voiced, WINDOW_MS, self.cfg.hangover_ms) or speech
        return Activity(speech, s.silence_ms)
