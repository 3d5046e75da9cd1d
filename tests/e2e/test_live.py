"""The live demo (`python -m speech_proactive.live`): file mode end to end, segmentation, the queue, long
streams, the microphone path with a mocked device, and Ctrl-C.

A random-weights model writes nonsense: these tests check events, ordering, timing and bookkeeping.
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import sounddevice
from helpers import REPO, espeak

from speech_proactive import audio
from speech_proactive.apps.live.__main__ import main
from speech_proactive.apps.live.blocks import END, Block, BlockQueue
from speech_proactive.apps.live.convert import ToModelAudio
from speech_proactive.apps.live.display import Terminal
from speech_proactive.apps.live.file_source import FileSource
from speech_proactive.apps.live.runner import Runner
from speech_proactive.config import DecodeOptions, EncoderConfig, TaskSpec
from speech_proactive.streaming.events import SegmentEnded, Status, Summary, TextUpdate
from speech_proactive.streaming.policy_spec import parse_policy
from speech_proactive.streaming.segmenter import Segmenter, SegmenterConfig
from speech_proactive.streaming.session import Session
from speech_proactive.streaming.vad import EnergyVad

POLICY = "wait-k:2:1"
CHUNK_N = audio.ms_to_samples(320)


def silence(ms: float) -> np.ndarray:
    return np.zeros(audio.ms_to_samples(ms), np.float32)


@pytest.fixture(scope="module")
def utterances(tmp_path_factory) -> list[np.ndarray]:
    """Two real espeak sentences, 16 kHz mono."""
    d = tmp_path_factory.mktemp("live-speech")
    return [
        audio.load_audio(espeak(text, d / f"{i}.wav"))
        for i, text in enumerate(
            ["the old man reads a book in the garden", "a young woman drinks coffee at the station"]
        )
    ]


@pytest.fixture(scope="module")
def two_sentences(tmp_path_factory, utterances) -> Path:
    """Speech, 1.5 s of silence, speech: a 16 kHz WAV, so the live path reads exactly what load_audio does."""
    path = tmp_path_factory.mktemp("live") / "two.wav"
    audio.write_wav(path, np.concatenate([utterances[0], silence(1500), utterances[1]]))
    return path


def run_live(capsys, *args: str | Path) -> tuple[int, list[dict], str]:
    rc = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return rc, [json.loads(line) for line in out.splitlines()], err


@pytest.fixture(scope="module")
def file_run(two_sentences, bundle) -> list[dict]:
    """One --jsonl --speed 0 run over the two-sentence file, shared by the tests that read its events."""
    out = io.StringIO()
    real_stdout, sys.stdout = sys.stdout, out
    try:
        rc = main(["--model", str(bundle), "--policy", POLICY, "--wav", str(two_sentences), "--speed", "0", "--jsonl"])
    finally:
        sys.stdout = real_stdout
    assert rc == 0
    return [json.loads(line) for line in out.getvalue().splitlines()]


def voiced_span_ms(samples: np.ndarray, threshold: float = 1e-3) -> tuple[float, float]:
    """First and last sample louder than `threshold`, in ms (where the speech is, measured on the signal)."""
    loud = np.flatnonzero(np.abs(samples) > threshold)
    return audio.samples_to_ms(loud[0]), audio.samples_to_ms(loud[-1] + 1)


# -- file mode end to end -----------------------------------------------------------------------------------


def test_file_mode_events_in_order(file_run, two_sentences):
    kinds = [e["event"] for e in file_run]
    assert kinds[0] == "segment_start" and kinds[-1] == "summary" and kinds.count("summary") == 1
    open_segment = None
    for e in file_run[:-1]:
        if e["event"] == "segment_start":
            assert open_segment is None
            open_segment = e["segment"]
        elif e["event"] in ("text", "segment_end"):
            assert e["segment"] == open_segment
            if e["event"] == "segment_end":
                open_segment = None
    assert open_segment is None  # the last segment was flushed
    heard = [e["heard_ms"] for e in file_run if e["event"] in ("status", "text")]
    assert heard == sorted(heard)  # stream time never goes back
    summary = file_run[-1]
    duration_ms = audio.samples_to_ms(len(audio.load_audio(two_sentences)))
    assert abs(summary["duration_ms"] - duration_ms) < 1
    assert summary["n_dropped"] == 0 and summary["mean_lag_ms"] is None  # --speed 0: nothing dropped, no clock


def test_file_mode_final_flush_equals_plain_session(file_run, two_sentences, model):
    """The words printed (text updates, then the flush) are exactly what a plain Session writes on each segment
    (`model` holds the weights the bundle was saved from)."""
    samples = audio.load_audio(two_sentences)
    session = Session(model, parse_policy(POLICY).policy)
    ends = [e for e in file_run if e["event"] == "segment_end"]
    assert ends
    n_printed = 0
    for end in ends:
        printed = [
            w
            for e in file_run
            if e["event"] in ("text", "segment_end") and e["segment"] == end["segment"]
            for w in e["words"].split()
        ]
        session.reset()
        start_n, end_n = audio.ms_to_samples(end["start_ms"]), audio.ms_to_samples(end["end_ms"])
        session.push_audio(samples[start_n:end_n], finished=True)
        assert printed == end["text"].split() == session.final_text.split()
        assert printed, "a random model writes something on 2 s of speech: the test needs words to compare"
        n_printed += len(printed)
    assert file_run[-1]["n_words"] == n_printed


def test_vad_two_segments_boundary_inside_the_silence(file_run, utterances):
    ends = [e for e in file_run if e["event"] == "segment_end"]
    assert [e["reason"] for e in ends] == ["pause", "end"]
    first, second = utterances
    _, voice_end_ms = voiced_span_ms(first)
    voice_start_ms = audio.samples_to_ms(len(first)) + 1500 + voiced_span_ms(second)[0]
    assert voice_end_ms <= ends[0]["end_ms"] <= ends[1]["start_ms"] <= voice_start_ms
    # the silence between them was not fed: the gap is most of the 1.5 s pause
    assert ends[1]["start_ms"] - ends[0]["end_ms"] >= 500


def test_vad_gate_and_hangover():
    vad = EnergyVad()
    assert not vad(silence(320)).speech
    tone = (0.1 * np.sin(np.arange(CHUNK_N) * 2 * np.pi * 200 / audio.SAMPLE_RATE)).astype(np.float32)  # -23 dBFS
    assert vad(tone).speech and vad.state.silence_ms == 0
    after = vad(silence(320))  # the first 200 ms after speech are the hangover
    assert after.speech and after.silence_ms == 320
    assert not vad(silence(320)).speech
    noise = np.random.default_rng(0).normal(0, 0.003, CHUNK_N).astype(np.float32)  # -50 dBFS hiss
    assert not vad(noise).speech


class FakeSession:
    """Records what the segmenter feeds; writes one word per push, and ends its output when told to."""

    def __init__(self):
        self.model = SimpleNamespace(cfg=SimpleNamespace(encoder=EncoderConfig()))
        self.state = SimpleNamespace(text="", done=False, n_chunks_read=0, n_words=0)
        self.calls: list[tuple[int, bool] | str] = []
        self.eos_on_push = -1

    def push_audio(self, samples, finished=False):
        self.calls.append((len(samples), finished))
        self.state.text += f"w{len(self.calls)} "
        self.state.done = len(self.calls) == self.eos_on_push
        return []

    def push_audio_steps(self, samples, finished=False):  # as steps: it asks the model for nothing
        return self.push_audio(samples, finished)
        yield

    def reset(self):
        self.calls.append("reset")
        self.state = SimpleNamespace(text="", done=False, n_chunks_read=0, n_words=0)

    @property
    def final_text(self):
        return self.state.text.strip()

    @property
    def n_complete_words(self):  # each word it writes is followed by a space: all of them are whole
        return len(self.state.text.split())


def test_segmenter_holds_short_pauses_drops_trailing_silence_and_stops_feeding_after_eos():
    tone = (0.1 * np.sin(np.arange(CHUNK_N) * 2 * np.pi * 200 / audio.SAMPLE_RATE)).astype(np.float32)
    quiet = silence(320)
    session = FakeSession()
    seg = Segmenter(session, SegmenterConfig(pause_ms=1000))
    blocks = [
        quiet,
        tone,
        quiet,
        quiet,
        tone,
        quiet,
        quiet,
        quiet,
        quiet,
        quiet,
        tone,
        tone,
        quiet,
        quiet,
        quiet,
        quiet,
    ]
    events = []
    for i, block in enumerate(blocks):
        if i == 10:
            session.eos_on_push = len(session.calls) + 1
        events += seg.feed(block, i * CHUNK_N).events
    n = CHUNK_N
    assert session.calls == [
        (2 * n, False),  # pre-roll + onset
        (n, False),  # the first quiet block is within the hangover: fed
        (2 * n, False),  # a short pause (held) and the speech after it: fed together, as they were
        (n, False),  # hangover
        (0, True),
        "reset",  # 3 more quiet blocks: the pause ends the segment; they are never fed
        (2 * n, False),  # the next onset with its pre-roll (the last quiet block); the model ends its output
        (0, True),
        "reset",  # nothing more fed (it would write nothing): the pause ends the segment as usual
    ]
    ends = [e for e in events if isinstance(e, SegmentEnded)]
    assert [e.reason for e in ends] == ["pause", "pause"]
    assert (ends[0].start_ms, ends[0].end_ms) == (0.0, 6 * 320.0)
    assert (ends[1].start_ms, ends[1].end_ms) == (9 * 320.0, 13 * 320.0)
    assert ends[0].text == "w1 w2 w3 w4 w5" and ends[1].text == "w7 w8"


# -- queue and overflow -------------------------------------------------------------------------------------


def test_queue_drops_and_counts_when_full():
    q = BlockQueue(3)
    blocks = [Block(i, np.zeros((4, 1), np.float32), audio.SAMPLE_RATE, None) for i in range(5)]
    t0 = time.perf_counter()
    assert [q.offer(b) for b in blocks] == [True, True, True, False, False]
    assert time.perf_counter() - t0 < 0.05  # offering never waits
    assert q.n_dropped == 2
    q.close()
    assert [q.get().index for _ in range(3)] == [0, 1, 2]
    assert q.get() is END


def test_real_time_file_drops_what_the_model_cannot_take(tmp_path, model, utterances):
    """A full queue drops blocks; the count reaches the status and the summary; stream time keeps the gap."""
    wav = tmp_path / "speech.wav"
    audio.write_wav(wav, np.concatenate([utterances[0], utterances[1]]))
    n_blocks = -(-len(audio.load_audio(wav)) // CHUNK_N)
    q = BlockQueue(2)
    source = FileSource(wav, 320, q, speed=1000)
    source.start()
    assert source.wait(timeout_s=30)  # the model thread has not taken anything: all but 2 blocks are dropped
    assert q.n_dropped == n_blocks - 2
    events = []
    session = Session(model, parse_policy(POLICY).policy)
    runner = Runner(q, ToModelAudio(source.sample_rate, "test"), Segmenter(session), [events.append], 320)
    summary = runner.run()
    assert summary.n_dropped == n_blocks - 2
    assert [e.n_dropped for e in events if isinstance(e, Status)] == [n_blocks - 2] * 2
    assert summary.duration_ms == 2 * 320  # two blocks heard


# -- long streams -------------------------------------------------------------------------------------------


def long_stream(utterances: list[np.ndarray], minutes: float) -> np.ndarray:
    """Sentences with pauses, runs of sentences with short gaps, and long uninterrupted speech."""
    a, b = utterances
    gap = silence(200)  # shorter than the pause: stays inside a segment
    pattern = [a, silence(1000), a, gap, b, silence(1200), *[a, b] * 4, silence(900)]
    one = np.concatenate(pattern)
    n = int(np.ceil(minutes * 60_000 / audio.samples_to_ms(len(one))))
    return np.concatenate([one] * n)


def test_long_stream_cache_stays_bounded(tmp_path, bundle, model, utterances):
    """Minutes of speech with pauses, and stretches longer than a segment: the KV caches never exceed one."""
    wav = tmp_path / "long.wav"
    audio.write_wav(wav, long_stream(utterances, minutes=3))
    max_segment_s = 5
    rc = None
    out = io.StringIO()
    real_stdout, sys.stdout = sys.stdout, out
    try:
        rc = main(
            [
                "--model",
                str(bundle),
                "--policy",
                POLICY,
                "--wav",
                str(wav),
                "--speed",
                "0",
                "--jsonl",
                "--max-segment-s",
                str(max_segment_s),
            ]
        )
    finally:
        sys.stdout = real_stdout
    assert rc == 0
    events = [json.loads(line) for line in out.getvalue().splitlines()]
    ends = [e for e in events if e["event"] == "segment_end"]
    assert {"pause", "max-length"} <= {e["reason"] for e in ends}
    assert all(e["end_ms"] - e["start_ms"] <= max_segment_s * 1000 for e in ends)
    status = [e for e in events if e["event"] == "status"]
    assert status[-1]["heard_ms"] > 3 * 60_000
    # bounds from one segment: encoder frames of 5 s; LLM entries = prompt + source vectors + the token cap
    n_chunks = max_segment_s * 1000 // 320
    encoder_bound = max_segment_s * 1000 // audio.ENC_FRAME_MS
    opts = DecodeOptions()
    lm_bound = (
        len(model.prompt_ids(Session(model).task))
        + n_chunks * model.vectors_per_chunk
        + opts.max_tokens_per_chunk * n_chunks
        + opts.max_tokens_extra
        + 1
    )
    assert 0.8 * encoder_bound <= max(s["encoder_frames"] for s in status) <= encoder_bound  # full, never more
    assert max(s["lm_cache_len"] for s in status) <= lm_bound
    # and flat: the last minute's largest cache is no larger than the first minute's
    first = [s for s in status if s["heard_ms"] <= 60_000]
    last = [s for s in status if s["heard_ms"] > status[-1]["heard_ms"] - 60_000]
    for key in ("lm_cache_len", "encoder_frames"):
        assert max(s[key] for s in last) <= max(s[key] for s in first)


# -- microphone ---------------------------------------------------------------------------------------------


def no_devices():
    return sounddevice.DeviceList([])


def portaudio_fails():
    raise sounddevice.PortAudioError("Error querying device -1")


@pytest.mark.parametrize("query", [no_devices, portaudio_fails], ids=["no-devices", "portaudio-error"])
def test_no_microphone_one_line_and_exit_2(monkeypatch, capsys, bundle, query):
    monkeypatch.setattr(sounddevice, "query_devices", query)
    for args in (["--model", str(bundle)], ["--model", str(bundle), "--device", "3"], ["--list-devices"]):
        rc, events, err = run_live(capsys, *args)
        assert rc == 2 and not events
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err
        assert "--wav" in lines[0]
        if "--list-devices" not in args:
            assert "--list-devices" in lines[0] and "--device N" in lines[0]


class FakeInputStream:
    """A 44.1 kHz stereo sound card that plays `FakeInputStream.audio` through the callback, then presses Ctrl-C."""

    audio: np.ndarray = np.zeros((0, 2), np.float32)
    opened: dict = {}

    def __init__(self, device, samplerate, channels, dtype, blocksize, callback):
        FakeInputStream.opened = dict(device=device, samplerate=samplerate, channels=channels, blocksize=blocksize)
        self.callback, self.blocksize = callback, blocksize
        self.closed = threading.Event()

    def start(self):
        threading.Thread(target=self._play, daemon=True).start()

    def _play(self):
        for i in range(0, len(self.audio), self.blocksize):
            self.callback(self.audio[i : i + self.blocksize].copy(), self.blocksize, None, None)
            time.sleep(0.002)
        time.sleep(0.5)
        # Ctrl-C while speech is still in the segment: it must be flushed. A real signal, not
        # _thread.interrupt_main(), which only sets a flag and once left the main thread asleep (a hang).
        os.kill(os.getpid(), signal.SIGINT)

    def stop(self):
        pass

    def close(self):
        self.closed.set()


@pytest.fixture
def default_sigint():
    """Ctrl-C raises KeyboardInterrupt in this test, whatever an earlier test left installed."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def test_microphone_44k_stereo_converted_and_ctrl_c_flushes(
    monkeypatch, capsys, bundle, utterances, tmp_path, default_sigint
):
    from scipy.signal import resample_poly

    speech = np.concatenate([silence(500), utterances[0]])
    x = resample_poly(speech, 441, 160).astype(np.float32)
    FakeInputStream.audio = np.stack([x, 0.5 * x], axis=1)
    device = {"name": "fake mic", "max_input_channels": 2, "max_output_channels": 0, "default_samplerate": 44100.0}

    def check(device=None, samplerate=None, channels=None, dtype=None):
        if channels != 2:
            raise sounddevice.PortAudioError("Invalid number of channels")

    monkeypatch.setattr(sounddevice, "query_devices", lambda: sounddevice.DeviceList([device]))
    monkeypatch.setattr(sounddevice, "check_input_settings", check)
    monkeypatch.setattr(sounddevice, "InputStream", FakeInputStream)
    assert main(["--list-devices"]) == 0
    assert capsys.readouterr().out == "*   0  fake mic  (2 ch, 44100 Hz)\n"
    saved = tmp_path / "heard.wav"
    rc, events, err = run_live(capsys, "--model", bundle, "--policy", POLICY, "--jsonl", "--save-audio", saved)
    assert rc == 0, err
    assert FakeInputStream.opened == dict(device=0, samplerate=44100, channels=2, blocksize=round(0.32 * 44100))
    summary = events[-1]
    assert summary["event"] == "summary" and summary["interrupted"] is True
    ends = [e for e in events if e["event"] == "segment_end"]
    assert ends and ends[-1]["reason"] == "interrupt" and ends[-1]["text"]
    # what the model heard is the speech at 16 kHz mono, all of it
    heard = audio.load_audio(saved)
    assert abs(len(heard) - len(speech)) <= CHUNK_N
    assert abs(summary["duration_ms"] - audio.samples_to_ms(len(speech))) <= 320
    assert np.corrcoef(heard[: len(speech)], 0.75 * speech[: len(heard)])[0, 1] > 0.99


def test_ctrl_c_from_the_terminal(bundle, utterances, tmp_path, default_sigint):
    """A real SIGINT to the CLI playing a file in real time: the segment in progress is flushed, then the summary.
    (`default_sigint`: a SIGINT ignored in this process would be inherited by the CLI, which then plays on.)"""
    wav = tmp_path / "long.wav"
    audio.write_wav(wav, np.concatenate([utterances[0]] * 12))  # ~30 s: the Ctrl-C surely lands mid-play
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "speech_proactive.live",
            "--model",
            str(bundle),
            "--policy",
            POLICY,
            "--wav",
            str(wav),
            "--jsonl",
        ],
        cwd=REPO,
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    lines = [proc.stdout.readline()]  # the first event: the model is loaded and playing
    assert lines[0], proc.communicate(timeout=60)[1]
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    events = [json.loads(line) for line in lines + out.splitlines()]
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    assert events[-1]["event"] == "summary" and events[-1]["interrupted"] is True
    assert events[-1]["duration_ms"] < 0.8 * audio.samples_to_ms(len(utterances[0]) * 12)
    assert [e["reason"] for e in events if e["event"] == "segment_end"][-1] == "interrupt"


# -- display and settings -----------------------------------------------------------------------------------


def test_terminal_display_redraws_in_place():
    out = io.StringIO()
    show = Terminal(out)
    show(TextUpdate(0, "der", "der", "al", 640.0, 20.0))
    show(Status(640.0, 35.0, 20.0, 0.0, True, 2, 1, 0, 1, 30, 32))
    show(SegmentEnded(0, "alte Mann", "der alte Mann", 0.0, 1280.0, "pause"))
    show(Summary(1280.0, 3, 1, 35.0, 20.0, 4, 0, 0, False))
    text = out.getvalue()
    assert "der\x1b[2m al" in text  # the unfinished word, dimmed, after the complete ones
    assert "lag 35 ms" in text and "READ 2 WRITE 1" in text and "dropped 0" in text
    assert "[0:00.0-0:01.3] der alte Mann\n" in text
    assert text.endswith(
        "0:01.3 of audio, 1 segments, 3 words, mean lag 35 ms, 20.0 ms compute per chunk, 0 dropped chunks\n"
    )


def test_plain_lines_when_not_a_terminal_and_saved_transcript(capsys, bundle, two_sentences, tmp_path):
    transcript = tmp_path / "transcript.txt"
    rc = main(
        [
            "--model",
            str(bundle),
            "--policy",
            POLICY,
            "--wav",
            str(two_sentences),
            "--speed",
            "0",
            "--save-transcript",
            str(transcript),
        ]
    )
    out = capsys.readouterr().out.splitlines()
    assert rc == 0 and len(out) == 3  # captured stdout is not a terminal: one line per segment, the summary
    assert out[0].startswith("[0:00.0-") and out[1].startswith("[0:0")
    assert out[2].startswith("0:06.") and "2 segments" in out[2] and "0 dropped chunks" in out[2]
    assert transcript.read_text().splitlines() == out[:2]


def test_segment_longer_than_the_positional_table_is_refused(capsys, bundle, model, two_sentences):
    rc, _, err = run_live(
        capsys, "--model", bundle, "--policy", POLICY, "--wav", two_sentences, "--max-segment-s", "30"
    )
    assert rc == 2 and "positional table" in err and "Traceback" not in err
    with pytest.raises(ValueError, match="positional table"):
        SegmenterConfig(max_segment_ms=30_000).validate(model.cfg.encoder)


def test_qa_answers_the_prompt_over_one_segment_of_the_passage(capsys, bundle, model, two_sentences):
    """--task qa: the question is the prompt, and a 1.5 s pause between sentences stays inside one segment
    (QA's default --pause-ms 2000), so the answer is what a plain QA session writes on the whole passage."""
    question = "Where does the man read?"
    rc, events, _ = run_live(
        capsys,
        "--model",
        bundle,
        "--policy",
        POLICY,
        "--wav",
        two_sentences,
        "--speed",
        "0",
        "--jsonl",
        "--task",
        "qa",
        "--prompt",
        question,
    )
    assert rc == 0
    ends = [e for e in events if e["event"] == "segment_end"]
    assert len(ends) == 1
    session = Session(model, parse_policy(POLICY).policy, TaskSpec("qa", "en", "en", question))
    samples = audio.load_audio(two_sentences)
    session.push_audio(
        samples[audio.ms_to_samples(ends[0]["start_ms"]) : audio.ms_to_samples(ends[0]["end_ms"])], finished=True
    )
    assert ends[0]["text"].split() == session.final_text.split()


@pytest.mark.parametrize(
    "args, message",
    [(["--task", "qa"], "--task qa needs --prompt"), (["--prompt", "Who?"], "--prompt is only for --task qa")],
)
def test_qa_prompt_is_checked(capsys, bundle, two_sentences, args, message):
    with pytest.raises(SystemExit) as e:
        main(["--model", str(bundle), "--wav", str(two_sentences), *args])
    assert e.value.code == 2 and message in capsys.readouterr().err
