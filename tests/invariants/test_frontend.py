"""Invariant: the incremental log-mel frontend equals one pass over the whole signal, and is Whisper's."""

import numpy as np
import pytest
import torch

from speech_proactive import audio
from speech_proactive.config import FrontendConfig
from speech_proactive.model.frontend import LEFT_PAD, MelStream, log_mel


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("n_mels", [80, 128])
def test_stream_equals_batch(seed, n_mels):
    rng = np.random.default_rng(seed)
    cfg = FrontendConfig(n_mels=n_mels)
    x = (rng.standard_normal(int(rng.integers(100, 40000))) * rng.uniform(0.01, 1)).astype(np.float32)
    stream, parts, i = MelStream(cfg), [], 0
    while i < len(x):
        n = int(rng.integers(0, 2500))  # includes empty pushes and pushes shorter than one hop
        parts.append(stream.push(x[i : i + n]))
        i += n
    streamed = torch.cat(parts, dim=1)
    assert streamed.shape == (n_mels, len(x) // audio.HOP_LENGTH)
    torch.testing.assert_close(streamed, log_mel(x, cfg))


def test_each_frame_emitted_once_as_soon_as_complete():
    stream = MelStream()
    assert stream.push(np.zeros(159, np.float32)).shape[1] == 0
    assert stream.push(np.zeros(1, np.float32)).shape[1] == 1  # frame 0 ends at sample 160
    assert stream.push(np.zeros(320, np.float32)).shape[1] == 2
    assert stream.state.n_frames == 3


def test_equals_whisper_features_up_to_the_2_5_ms_shift():
    """Our frame i is Whisper's frame i of the signal delayed by LEFT_PAD - N_FFT/2 = 40 samples."""
    import whisper.audio

    rng = np.random.default_rng(0)
    x = (rng.standard_normal(16000) * 0.1).astype(np.float32)
    x[:400] *= 10  # loudest frames first: our running max equals Whisper's global max from frame 0 on
    shift = LEFT_PAD - audio.N_FFT // 2
    ref = whisper.audio.log_mel_spectrogram(torch.from_numpy(np.concatenate([np.zeros(shift, np.float32), x])))
    ours = log_mel(x)
    n = ours.shape[1]
    # Whisper reflects at the start where we pad zeros: compare from the first frame fully inside the signal
    first = (audio.N_FFT // 2 + shift) // audio.HOP_LENGTH + 1
    torch.testing.assert_close(ours[:, first:n], ref[:, first:n], atol=1e-4, rtol=1e-4)


def test_running_max_clamp_is_causal():
    x = np.concatenate(
        [np.full(3200, 1e-4, np.float32), np.random.default_rng(1).standard_normal(3200).astype(np.float32)]
    )
    quiet_alone = log_mel(x[:3200])
    torch.testing.assert_close(log_mel(x)[:, : quiet_alone.shape[1]], quiet_alone)  # later audio changes nothing
