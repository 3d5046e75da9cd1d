"""`python -m speech_proactive.translate` as a user runs it: JSON lines out, one clear line per error, exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from helpers import REPO
from scipy.signal import resample_poly

from speech_proactive import audio

pytestmark = pytest.mark.slow


def translate(*args: str | Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    return subprocess.run(
        [sys.executable, "-m", "speech_proactive.translate", *map(str, args)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def stereo_flac(tmp_path_factory, speech) -> Path:
    """The first 1.2 s of the espeak speech as a 44.1 kHz stereo 16-bit FLAC (right channel quieter)."""
    x = resample_poly(speech[: audio.ms_to_samples(1200)], 441, 160).astype(np.float32)
    f = tmp_path_factory.mktemp("flac") / "speech-44k-stereo.flac"
    sf.write(f, np.stack([x, 0.5 * x], axis=1), 44100, subtype="PCM_16")
    info = sf.info(f)
    assert (info.samplerate, info.channels, info.format) == (44100, 2, "FLAC")
    return f


def parse(stdout: str) -> dict[str, list[dict]]:
    """Every stdout line is one JSON object; grouped by file, in order."""
    by_file: dict[str, list[dict]] = {}
    for line in stdout.splitlines():
        rec = json.loads(line)
        assert isinstance(rec, dict)
        by_file.setdefault(rec["file"], []).append(rec)
    return by_file


def check_file_output(lines: list[dict], audio_ms: float, chunk_ms: int) -> None:
    *emissions, final = lines
    assert final.get("final") is True
    assert set(final) == {"file", "final", "text", "audio_ms", "compute_ms", "speech"}
    assert final["speech"] is True, "the gate hears the espeak speech"
    assert abs(final["audio_ms"] - audio_ms) < 1 and final["compute_ms"] > 0
    sources = []
    for e in emissions:
        assert set(e) == {"file", "text", "source_ms", "compute_ms"}, e
        assert isinstance(e["text"], str) and e["compute_ms"] >= 0
        sources.append(e["source_ms"])
    assert sources == sorted(sources)  # source_ms never goes back
    assert all(s <= audio_ms + 0.1 for s in sources)
    # wait-k with k=3 (the CLI default) writes nothing before it has heard 3 chunks (or the whole input)
    if sources:
        assert sources[0] >= min(3 * chunk_ms, audio_ms - 0.1)
    # the emitted deltas add up to the final text
    assert "".join(e["text"] for e in emissions).strip() == final["text"]


def test_translate_wait_k_over_wav_and_flac(bundle, model, speech_wav, stereo_flac):
    r = translate("--model", bundle, "--policy", "wait-k", speech_wav, stereo_flac)
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    out = parse(r.stdout)
    assert list(out) == [str(speech_wav), str(stereo_flac)]  # in the order given
    chunk_ms = model.cfg.encoder.chunk_ms
    wav_ms = sf.info(speech_wav).frames * 1000 / sf.info(speech_wav).samplerate
    check_file_output(out[str(speech_wav)], wav_ms, chunk_ms)
    check_file_output(out[str(stereo_flac)], 1200, chunk_ms)
    assert len(out[str(speech_wav)]) > 1  # 2.2 s of speech with a random model: at least one emission


def test_translate_writes_nothing_for_a_minute_of_silence_noise_or_hum(bundle, speech_wav, tmp_path):
    """A random-weights model writes words for any audio it is run on; the gate must keep it from running."""
    n = audio.ms_to_samples(60_000)
    t = np.arange(n) / audio.SAMPLE_RATE
    rng = np.random.default_rng(0)
    quiet = {
        "silence": np.zeros(n, np.float32),
        "noise": (rng.standard_normal(n) * 10 ** (-30 / 20)).astype(np.float32),
        "hum": (0.1 * np.sin(2 * np.pi * 50 * t) + 0.05 * np.sin(2 * np.pi * 150 * t)).astype(np.float32),
    }
    files = []
    for name, x in quiet.items():
        files.append(tmp_path / f"{name}.wav")
        sf.write(files[-1], x, audio.SAMPLE_RATE, subtype="PCM_16")
    r = translate("--model", bundle, *files, speech_wav)
    assert r.returncode == 0, r.stderr
    out = parse(r.stdout)
    for f in files:
        assert out[str(f)] == [
            {"file": str(f), "final": True, "text": "", "audio_ms": 60000.0, "compute_ms": 0.0, "speech": False}
        ], "only the final line, no words (and no 'longer than the window' error: the model never ran)"
    assert out[str(speech_wav)][-1]["speech"] is True and len(out[str(speech_wav)]) > 1
    ungated = translate("--model", bundle, "--vad", "off", files[0])
    assert "longer than the encoder" in ungated.stderr, "without the gate the model would have to hear it"


def test_translate_corrupt_file_among_good_ones(bundle, stereo_flac, tmp_path):
    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(b"RIFF" + np.random.default_rng(0).bytes(2000))
    r = translate("--model", bundle, corrupt, stereo_flac)
    assert r.returncode == 1
    assert "Traceback" not in r.stderr
    errors = [ln for ln in r.stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and errors[0].startswith(f"error: {corrupt}: "), r.stderr
    out = parse(r.stdout)
    assert list(out) == [str(stereo_flac)]  # nothing for the bad file; the good one after it is done
    assert out[str(stereo_flac)][-1]["final"] is True


def test_translate_bad_bundle_path(tmp_path, speech_wav):
    r = translate("--model", tmp_path / "no-such-bundle", speech_wav)
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    assert r.stderr.startswith("error: ") and "not a model bundle" in r.stderr, r.stderr
    assert r.stdout == ""


def test_translate_any_policy_spec_and_qa(bundle, model, speech_wav):
    """Every sweep policy runs from the CLI: a fixed entropy threshold here (no dev set needed), and QA."""
    r = translate("--model", bundle, "--policy", "entropy:100", "--task", "qa", "--prompt", "Who reads?", speech_wav)
    assert r.returncode == 0, r.stderr
    *emissions, final = parse(r.stdout)[str(speech_wav)]
    assert final["final"] is True
    assert "".join(e["text"] for e in emissions).strip() == final["text"]
    # a threshold above any entropy never waits: whatever is written mid-stream comes from the first chunks on
    assert all(e["source_ms"] > 0 for e in emissions)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--task", "qa"], "needs --prompt"),
        (["--prompt", "Who?"], "only for --task qa"),
        (["--policy", "entropy:soon"], "entropy"),
    ],
)
def test_translate_bad_policy_or_task(bundle, speech_wav, args, message):
    r = translate("--model", bundle, *args, speech_wav)
    assert r.returncode == 2
    assert "Traceback" not in r.stderr and message in r.stderr, r.stderr


def test_translate_refuses_audio_longer_than_the_encoder_window(bundle, speech, tmp_path):
    """A session hears one utterance of at most 30 s: a longer file gets a clear error naming the live demo's
    --wav mode, which cuts long recordings at pauses, never a traceback from the positional table."""
    long = tmp_path / "long.wav"
    n = audio.ms_to_samples(31_000)
    audio.write_wav(long, np.tile(speech, n // len(speech) + 1)[:n])  # speech: the gate lets it through
    r = translate("--model", bundle, long)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert "31.0 s is longer than the encoder's 30 s window" in r.stderr and "--wav" in r.stderr
