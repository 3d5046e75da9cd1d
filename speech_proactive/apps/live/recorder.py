"""--save-audio: what the model thread received, as a 16 kHz mono WAV written as it arrives (bounded memory).

Blocks the full queue dropped never reached the model thread, so they are not in the file either: the
recording is what the model could hear, in order.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from speech_proactive import audio


class AudioRecorder:
    def __init__(self, path: Path):
        import soundfile as sf

        self.path = Path(path)
        self._file = sf.SoundFile(str(self.path), "w", samplerate=audio.SAMPLE_RATE, channels=1, subtype="PCM_16")

    def __call__(self, samples: np.ndarray) -> None:
        self._file.write(samples)

    def close(self) -> None:
        self._file.close()  # completes the WAV header
