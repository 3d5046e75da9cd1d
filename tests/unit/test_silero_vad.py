"""The Silero gate: it hears speech, ignores silence, and rejects loud noise and hum that the energy gate
passes; it is fed blocks of any size and leaves torch's thread count alone."""

import numpy as np
import pytest
import torch

from speech_proactive import audio
from speech_proactive.streaming.vad import VadConfig, make_vad

pytest.importorskip("silero_vad")
BLOCK = audio.ms_to_samples(320)


def blocks_called_speech(detector: str, x: np.ndarray, block: int = BLOCK) -> list[bool]:
    vad = make_vad(VadConfig(detector=detector))
    return [vad(x[i : i + block]).speech for i in range(0, len(x) - block + 1, block)]


def loud_noise(seconds: float = 10.0) -> np.ndarray:
    x = np.random.default_rng(0).standard_normal(audio.ms_to_samples(seconds * 1000))
    return (x * 10 ** (-30 / 20)).astype(np.float32)  # white noise at -30 dBFS RMS


def test_speech_is_heard_and_silence_is_not(speech):
    assert np.mean(blocks_called_speech("silero", speech)) > 0.6
    assert not any(blocks_called_speech("silero", np.zeros(audio.SAMPLE_RATE * 5, np.float32)))


def test_loud_noise_passes_the_energy_gate_but_not_silero():
    noise = loud_noise()
    assert np.mean(blocks_called_speech("energy", noise)) > 0.9  # louder than the floor from the start
    assert np.mean(blocks_called_speech("silero", noise)) < 0.1


def test_block_sizes_do_not_matter(speech):
    """Windows are cut across block edges: any block size gives the same state at the end."""
    ends = []
    for block in (BLOCK, 777, 4000):
        vad = make_vad(VadConfig(detector="silero"))
        for i in range(0, len(speech), block):
            activity = vad(speech[i : i + block])
        ends.append(activity.silence_ms)
    assert ends[0] == ends[1] == ends[2]


def test_torch_threads_are_left_alone():
    before = torch.get_num_threads()
    make_vad(VadConfig(detector="silero"))
    assert torch.get_num_threads() == before
    with pytest.raises(ValueError, match="detector"):
        VadConfig(detector="webrtc").validate()
