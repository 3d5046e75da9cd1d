"""Bad or unusual audio input: a clear AudioError (naming the problem and the source) or a documented conversion.

Covers `audio.prepare` (arrays), `audio.load_audio` (real files written by soundfile and espeak-ng) and
`Session.push_audio` (the streaming entry point).
"""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import torch

from speech_proactive import audio
from speech_proactive.streaming.session import Session

SR = audio.SAMPLE_RATE


def tone(freq: float, rate: int, seconds: float = 1.0, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(round(rate * seconds))) / rate
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def peak_hz(x: np.ndarray, rate: int = SR) -> float:
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.argmax(spectrum)) * rate / len(x)


def expected_len(n: int, rate: int) -> float:
    return n * SR / rate


# -- audio.prepare -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(0,), (0, 2)])
def test_prepare_empty_is_an_error(shape):
    with pytest.raises(audio.AudioError, match="empty"):
        audio.prepare(np.zeros(shape, dtype=np.float32), SR, source="clip.wav")


def test_prepare_empty_allowed_when_asked():
    out = audio.prepare(np.zeros(0, dtype=np.float32), 8000, allow_empty=True)
    assert out.shape == (0,) and out.dtype == np.float32


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_prepare_nan_inf_is_an_error_naming_the_source(bad):
    x = tone(440, SR, 0.1)
    x[37] = bad
    with pytest.raises(audio.AudioError, match="NaN/Inf") as e:
        audio.prepare(x, SR, source="mic-7")
    assert "mic-7" in str(e.value) and "first at sample 37" in str(e.value)


def test_prepare_nan_in_one_channel_of_stereo_is_an_error():
    x = np.zeros((100, 2), dtype=np.float32)
    x[10, 1] = np.nan  # averaging must not be what catches (or hides) it
    with pytest.raises(audio.AudioError, match="NaN/Inf"):
        audio.prepare(x, SR)


def test_float16_overflow_becomes_inf_and_is_an_error():
    with np.errstate(over="ignore"):
        loud = np.full(100, 70000, dtype=np.float32).astype(np.float16)  # beyond float16's 65504: inf
    with pytest.raises(audio.AudioError, match="NaN/Inf"):
        audio.prepare(loud, SR)


def test_prepare_scales_int16():
    x = np.array([0, 16384, -16384, -32768, 32767], dtype=np.int16)
    out = audio.prepare(x, SR)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out[:4], [0.0, 0.5, -0.5, -1.0])
    assert 0.999 < out[4] < 1.0  # [-1, 1): the largest int16 stays below 1


def test_prepare_scales_uint8_offset_binary():
    out = audio.prepare(np.array([0, 128, 192], dtype=np.uint8), SR)
    np.testing.assert_array_equal(out, np.array([-1.0, 0.0, 0.5], dtype=np.float32))


@pytest.mark.parametrize(
    "samples",
    [
        np.zeros(10, dtype=bool),
        np.zeros(10, dtype=np.complex64),
        np.array(["a", "b"]),
        np.array([0.1, 0.2], dtype=object),
    ],
)
def test_prepare_unsupported_dtype_is_an_error(samples):
    with pytest.raises(audio.AudioError, match="unsupported sample type"):
        audio.prepare(samples, SR, source="weird")


def test_prepare_stereo_is_averaged_to_mono():
    left, right = tone(440, SR, 0.1, amp=0.5), tone(440, SR, 0.1, amp=0.25)
    out = audio.prepare(np.stack([left, right], axis=1), SR)
    assert out.shape == left.shape and out.dtype == np.float32
    np.testing.assert_allclose(out, (left + right) / 2, atol=1e-7)


def test_prepare_int16_stereo_is_scaled_then_averaged():
    x = np.array([[16384, 0], [-32768, -16384]], dtype=np.int16)
    np.testing.assert_array_equal(audio.prepare(x, SR), [0.25, -0.75])


@pytest.mark.parametrize("shape", [(10, 2, 2), ()])
def test_prepare_wrong_rank_is_an_error(shape):
    with pytest.raises(audio.AudioError, match="expected"):
        audio.prepare(np.zeros(shape, dtype=np.float32), SR)


@pytest.mark.parametrize("rate", [0, -16000])
def test_prepare_invalid_rate_is_an_error(rate):
    with pytest.raises(audio.AudioError, match="sample rate"):
        audio.prepare(tone(440, SR, 0.1), rate)


@pytest.mark.parametrize("rate", [float("nan"), 44100.5])
def test_prepare_non_integer_rate_is_an_error(rate):
    with pytest.raises(audio.AudioError, match="sample rate"):
        audio.prepare(tone(440, 16000, 0.1), rate)


@pytest.mark.parametrize("rate", [8000, 44100, 22050, 48000])
def test_prepare_resamples_to_16k_keeping_length_and_pitch(rate):
    x = tone(440, rate, 1.0)
    out = audio.prepare(x, rate)
    assert out.dtype == np.float32 and out.flags.c_contiguous
    assert abs(len(out) - expected_len(len(x), rate)) <= 1
    assert abs(peak_hz(out) - 440) <= 1.0
    # band-limited resampling keeps the amplitude of an in-band tone (away from the filter's edge effects)
    mid = out[2000:-2000]
    assert abs(np.abs(mid).max() - 0.5) < 0.01


def test_prepare_44k_removes_content_above_8k():
    # 10 kHz cannot exist at 16 kHz: a band-limited resampler removes it instead of folding it to 6 kHz
    out = audio.prepare(tone(10000, 44100, 1.0), 44100)
    assert np.abs(out[2000:-2000]).max() < 0.01


def test_prepare_channels_first_is_averaged_too():
    # torchaudio and librosa return (channels, n): the short axis is the channel axis
    left, right = tone(440, SR, 1.0, amp=0.5), tone(440, SR, 1.0, amp=0.25)
    out = audio.prepare(np.stack([left, right], axis=0), SR)
    assert out.shape == (16000,)
    np.testing.assert_allclose(out, (left + right) / 2, atol=1e-7)


@pytest.mark.parametrize("shape, problem", [((100, 0), "empty"), ((0, 0), "empty"), ((20, 20), "channel axis")])
def test_prepare_2d_without_a_usable_channel_axis_is_an_error(shape, problem):
    with pytest.raises(audio.AudioError, match=problem):
        audio.prepare(np.ones(shape, dtype=np.float32), SR)


# -- audio.load_audio on real files ------------------------------------------------------------------------
def check_loaded(out: np.ndarray, n_frames: int, rate: int) -> None:
    assert out.dtype == np.float32 and out.ndim == 1
    assert abs(len(out) - expected_len(n_frames, rate)) <= 1


def test_load_wav_44k_stereo_int16(tmp_path):
    left, right = tone(440, 44100, 1.0, amp=0.5), tone(440, 44100, 1.0, amp=0.25)
    f = tmp_path / "stereo.wav"
    sf.write(f, np.stack([left, right], axis=1), 44100, subtype="PCM_16")
    assert sf.info(f).channels == 2 and sf.info(f).subtype == "PCM_16"
    out = audio.load_audio(f)
    check_loaded(out, 44100, 44100)
    assert abs(peak_hz(out) - 440) <= 1.0
    assert abs(np.abs(out[2000:-2000]).max() - 0.375) < 0.01  # the mean of the channels


def test_load_flac_8k(tmp_path):
    f = tmp_path / "narrow.flac"
    sf.write(f, tone(440, 8000, 1.5), 8000, subtype="PCM_16")
    out = audio.load_audio(f)
    check_loaded(out, 12000, 8000)
    assert abs(peak_hz(out) - 440) <= 1.0


def test_load_ogg_vorbis(tmp_path):
    f = tmp_path / "lossy.ogg"
    sf.write(f, tone(440, 22050, 1.0), 22050, format="OGG", subtype="VORBIS")
    info = sf.info(f)
    assert info.format == "OGG" and info.subtype == "VORBIS"
    out = audio.load_audio(f)
    check_loaded(out, info.frames, 22050)
    assert abs(len(out) - 16000) <= 1
    assert abs(peak_hz(out) - 440) <= 1.0


def test_load_espeak_wav(speech_wav):
    info = sf.info(speech_wav)
    assert info.samplerate == 22050 and info.channels == 1  # what espeak-ng writes
    out = audio.load_audio(speech_wav)
    check_loaded(out, info.frames, info.samplerate)
    assert 0.01 < np.abs(out).max() <= 1.0  # speech, not silence


def test_load_random_bytes_names_the_file(tmp_path):
    f = tmp_path / "noise.wav"
    f.write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(audio.AudioError, match="unreadable or corrupt") as e:
        audio.load_audio(f)
    assert str(f) in str(e.value)


def test_load_header_cut_names_the_file(tmp_path):
    good = tmp_path / "good.wav"
    sf.write(good, tone(440, SR, 1.0), SR, subtype="PCM_16")
    cut = tmp_path / "cut.wav"
    cut.write_bytes(good.read_bytes()[:30])
    with pytest.raises(audio.AudioError) as e:
        audio.load_audio(cut)
    assert str(cut) in str(e.value)


@pytest.mark.parametrize("make", ["missing", "directory"])
def test_load_missing_path(tmp_path, make):
    f = tmp_path / "absent.wav"
    if make == "directory":
        f.mkdir()
    with pytest.raises(audio.AudioError, match="no such file|is a directory") as e:
        audio.load_audio(f)
    assert str(f) in str(e.value)


def test_load_empty_file_and_zero_frame_wav(tmp_path):
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    with pytest.raises(audio.AudioError, match="unreadable"):
        audio.load_audio(empty)
    zero = tmp_path / "zero.wav"
    sf.write(zero, np.zeros(0, dtype=np.float32), SR)
    with pytest.raises(audio.AudioError, match="empty") as e:
        audio.load_audio(zero)
    assert str(zero) in str(e.value)


def test_load_float_wav_with_nan_names_the_file(tmp_path):
    f = tmp_path / "nan.wav"
    x = tone(440, SR, 0.5)
    x[100] = np.nan
    sf.write(f, x, SR, subtype="FLOAT")
    with pytest.raises(audio.AudioError, match="NaN/Inf") as e:
        audio.load_audio(f)
    assert str(f) in str(e.value)


def test_load_wav_with_truncated_data_is_an_error(tmp_path):
    """libsndfile silently returns the frames present in a WAV cut short; we compare with the header and say so."""
    original = np.random.default_rng(1).integers(-32768, 32768, SR, dtype=np.int16)  # 1 s
    good = tmp_path / "full.wav"
    sf.write(good, original, SR, subtype="PCM_16")
    data = good.read_bytes()
    f = tmp_path / "truncated.wav"
    f.write_bytes(data[: len(data) // 2])
    with pytest.raises(audio.AudioError, match="truncated") as e:
        audio.load_audio(f)
    assert str(f) in str(e.value)
    assert len(audio.load_audio(good)) == SR  # the intact file still loads whole


# -- Session.push_audio ------------------------------------------------------------------------------------
def test_push_audio_nan_is_an_error_and_leaves_the_session_usable(model):
    s = Session(model)
    x = tone(440, SR, 0.1)
    x[5] = np.nan
    with pytest.raises(audio.AudioError, match="NaN/Inf"):
        s.push_audio(x)
    assert s.heard_ms == 0 and s.state.pending_mel is None  # nothing of the bad chunk was taken in
    assert s.push_audio(tone(440, SR, 0.1)) == []
    assert s.heard_ms == 100


@pytest.mark.parametrize("shape", [(1600, 2), (1, 1600)])
def test_push_audio_2d_is_an_error(model, shape):
    s = Session(model)
    with pytest.raises(audio.AudioError, match="shape"):
        s.push_audio(np.zeros(shape, dtype=np.float32))
    assert s.heard_ms == 0


def test_push_audio_accepts_int16_scaled(model):
    x = tone(440, SR, 0.15)
    pcm = np.round(x * 32767).astype(np.int16)
    a, b = Session(model), Session(model)
    assert a.push_audio(pcm) == [] and b.push_audio(pcm.astype(np.float32) / 32768) == []
    assert a.heard_ms == b.heard_ms == 150
    torch.testing.assert_close(a.state.pending_mel, b.state.pending_mel, rtol=0, atol=0)
    # and it is really scaled: unscaled int values would give a much louder log-mel
    c = Session(model)
    c.push_audio(pcm.astype(np.float32))
    assert not torch.allclose(a.state.pending_mel, c.state.pending_mel)


def test_push_audio_after_finished_is_an_error(model):
    s = Session(model)
    s.push_audio(tone(440, SR, 0.05), finished=True)
    with pytest.raises(RuntimeError, match="reset"):
        s.push_audio(tone(440, SR, 0.05))
    with pytest.raises(RuntimeError):
        s.push_audio(np.zeros(0, dtype=np.float32), finished=True)
    s.reset()
    assert s.push_audio(tone(440, SR, 0.05)) == []  # reset() starts a new utterance
