"""The WebSocket server started for real on a free loopback port, with real clients: the words equal
`translate`'s, the voice gate keeps silence out, and bad clients (malformed frames, too many, no token, too
slow, gone mid-utterance) get clear answers while the server goes on; SIGINT flushes every stream."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from helpers import REPO
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from speech_proactive import audio
from speech_proactive.apps.serve.scheduler import ModelHost
from speech_proactive.apps.serve.server import ServeConfig, Server

pytestmark = pytest.mark.slow
PAIR = {"src_lang": "en", "tgt_lang": "de"}
POLICY = "wait-k:3"


class ServerThread:
    """The server on its own asyncio loop in a thread, on a free port."""

    def __init__(self, bundle: Path, **cfg):
        self.loop = asyncio.new_event_loop()
        self.host = ModelHost(bundle, POLICY)
        self.server = Server(self.host, ServeConfig(port=0, **cfg))
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.port = asyncio.run_coroutine_threadsafe(self.server.start(), self.loop).result(30)

    def url(self, query: str = "") -> str:
        return f"ws://127.0.0.1:{self.port}/stream{query}"

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.server.shutdown(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.host.close()


@pytest.fixture(scope="module")
def server(bundle):
    s = ServerThread(bundle)
    yield s
    s.stop()


def pcm(samples: np.ndarray) -> bytes:
    return (np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes()


def stream_file(url: str, samples: np.ndarray, frame_samples: int = 1234, **start) -> list[dict]:
    """Every event of one stream: start, the file in frames of an odd size, stop; until the server closes."""
    events = []
    with connect(url) as ws:
        ws.send(json.dumps({"type": "start", **PAIR, "policy": POLICY, **start}))
        for i in range(0, len(samples), frame_samples):
            ws.send(pcm(samples[i : i + frame_samples]))
        ws.send(json.dumps({"type": "stop"}))
        try:
            while True:
                events.append(json.loads(ws.recv(timeout=60)))
        except ConnectionClosed:
            pass
    return events


def translate_final(bundle: Path, wav: Path) -> str:
    r = subprocess.run(
        [sys.executable, "-m", "speech_proactive.translate", "--model", str(bundle), "--policy", POLICY,
         "--vad", "off", "--src-lang", "en", "--tgt-lang", "de", str(wav)],
        cwd=REPO, capture_output=True, text=True, timeout=300, env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.splitlines()[-1])["text"]


def pcm_roundtrip(samples: np.ndarray) -> np.ndarray:
    return np.frombuffer(pcm(samples), "<i2").astype(np.float32) / 32768.0


def test_a_client_gets_the_words_translate_writes(server, bundle, speech, tmp_path):
    wav = tmp_path / "speech.wav"
    x = pcm_roundtrip(np.concatenate([speech, speech[: len(speech) // 2]]))  # the server hears 16-bit PCM
    audio.write_wav(wav, x)
    events = stream_file(server.url(), x, vad="off")
    kinds = [e["event"] for e in events]
    assert kinds[0] == "ready" and kinds[-1] == "final" and "error" not in kinds, kinds
    final = events[-1]
    assert final["text"] == translate_final(bundle, wav) and final["text"], "same words as translate, not none"
    texts = [e for e in events if e["event"] == "text"]
    assert texts and all(final["text"].startswith(e["committed"]) for e in texts), "committed words never change"
    assert all(e["source_ms"] > 0 and e["compute_ms"] >= 0 for e in texts)
    assert final["duration_ms"] == pytest.approx(audio.samples_to_ms(len(x)), abs=0.1)


def test_the_voice_gate_keeps_silence_and_hum_out(server, speech):
    n = audio.ms_to_samples(20_000)
    hum = 0.1 * np.sin(2 * np.pi * 50 * np.arange(n) / audio.SAMPLE_RATE)
    for sound in (np.zeros(n, np.float32), hum.astype(np.float32)):
        events = stream_file(server.url(), sound, frame_samples=16000)
        assert [e["event"] for e in events if e["event"] not in ("status",)] == ["ready", "final"]
        assert events[-1]["text"] == "" and not any(e["speech"] for e in events if e["event"] == "status")
    gated = stream_file(server.url(), np.concatenate([np.zeros(16000, np.float32), speech]))
    assert "segment_start" in [e["event"] for e in gated], "speech after silence opens a segment"


def test_malformed_messages_get_an_error_and_the_stream_goes_on(server, speech):
    with connect(server.url()) as ws:
        ws.send(pcm(speech[:100]))
        assert "audio before the start message" in json.loads(ws.recv(10))["message"]
        ws.send("{not json")
        assert "not JSON" in json.loads(ws.recv(10))["message"]
        ws.send(json.dumps({"type": "start", **PAIR}))
        assert json.loads(ws.recv(10))["event"] == "ready"
        ws.send(b"\x00\x01\x02")
        assert "even byte count" in json.loads(ws.recv(10))["message"]
        ws.send(json.dumps({"type": "dance"}))
        assert "unknown message type" in json.loads(ws.recv(10))["message"]
        ws.send(pcm(speech))  # still streaming
        ws.send(json.dumps({"type": "stop"}))
        events = []
        with pytest.raises(ConnectionClosed):
            while True:
                events.append(json.loads(ws.recv(30)))
        assert events[-1]["event"] == "final"
    bad_starts = (
        ({"sample_rate": 44100}, "sample_rate 44100"),
        ({"src_lang": 5}, "must be a string"),
        ({"policy": "sometimes"}, "policy 'sometimes'"),
        ({"vad": "psychic"}, "vad 'psychic'"),
    )
    for bad, message in bad_starts:
        with connect(server.url()) as ws:
            ws.send(json.dumps({"type": "start", **PAIR, **bad}))
            e = json.loads(ws.recv(30))
            assert e["event"] == "error" and message in e["message"], e


def test_a_pair_the_bundle_does_not_know_closes_with_the_reason(tmp_path, speech):
    from helpers import tiny_model

    from speech_proactive.model.bundle import save_bundle

    known = save_bundle(
        tiny_model(), tmp_path / "b", meta={"tasks": [{"task": "st", "src_lang": "en", "tgt_lang": "de"}]}
    )
    s = ServerThread(known)
    try:
        with connect(s.url()) as ws:
            ws.send(json.dumps({"type": "start", "src_lang": "de", "tgt_lang": "fr"}))
            e = json.loads(ws.recv(30))
            assert e["event"] == "error" and "target fr" in e["message"] and "st en>de" in e["message"], e
            with pytest.raises(ConnectionClosed) as closed:
                ws.recv(10)
            assert closed.value.rcvd.code == 1008
    finally:
        s.stop()


def test_max_streams_token_and_a_client_gone_mid_utterance(bundle, speech):
    s = ServerThread(bundle, max_streams=1, token="s3cret")
    stack = contextlib.ExitStack()
    try:
        with pytest.raises(InvalidStatus) as refused:
            connect(s.url())
        assert refused.value.response.status_code == 401
        page = urllib.request.urlopen(f"http://127.0.0.1:{s.port}/?token=s3cret", timeout=10).read().decode()
        assert '<script src="app.js">' in page
        with pytest.raises(urllib.error.HTTPError, match="401"):
            urllib.request.urlopen(f"http://127.0.0.1:{s.port}/", timeout=10)
        first = stack.enter_context(connect(s.url("?token=s3cret")))
        first.send(json.dumps({"type": "start", **PAIR}))
        assert json.loads(first.recv(30))["event"] == "ready"
        with connect(s.url("?token=s3cret")) as second:
            with pytest.raises(ConnectionClosed) as full:
                second.recv(10)
        assert full.value.rcvd.code == 1013 and "server full: 1 streams" in full.value.rcvd.reason
        first.send(pcm(speech[: len(speech) // 2]))
        first.close()  # gone mid-utterance, no stop
        deadline = time.monotonic() + 20
        while s.server.connections and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not s.server.connections, "its state is freed"
        events = stream_file(s.url("?token=s3cret"), speech, vad="off")  # the slot is free again
        assert events[-1]["event"] == "final" and events[-1]["text"]
    finally:
        stack.close()
        s.stop()


def test_a_client_that_stops_reading_is_closed_and_others_go_on(bundle, speech):
    import socket

    s = ServerThread(bundle, max_queued_events=20)
    stack = contextlib.ExitStack()
    try:
        sock = socket.create_connection(("127.0.0.1", s.port))
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        slow = stack.enter_context(connect(s.url(), sock=sock, max_queue=1))
        slow.send(json.dumps({"type": "start", **PAIR, "vad": "off"}))
        piece = pcm(np.tile(speech, 10)[: audio.ms_to_samples(20_000)])  # 640 kB: under the 1 MiB message limit
        closed_by_server = None
        for _ in range(12):  # up to 4 minutes of audio, never reading an event
            try:
                slow.send(piece)
            except ConnectionClosed as e:
                closed_by_server = e
                break
        deadline = time.monotonic() + 60
        while s.server.connections and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not s.server.connections, "the slow client was dropped"
        if closed_by_server is None:  # the close frame waits behind the unread events: read them now
            with pytest.raises(ConnectionClosed) as closed:
                while True:
                    slow.recv(30)
            closed_by_server = closed.value
        assert closed_by_server.rcvd.code == 1008
        assert "client too slow: 20 events unread" in closed_by_server.rcvd.reason
        events = stream_file(s.url(), speech, vad="off")
        assert events[-1]["event"] == "final", "the server goes on"
        with connect(s.url()) as big:
            big.send(json.dumps({"type": "start", **PAIR}))
            big.send(b"\0" * (2 << 20))  # 2 MiB in one message
            with pytest.raises(ConnectionClosed) as too_big:
                while True:
                    big.recv(30)
        assert too_big.value.rcvd.code == 1009 and "exceeds limit" in too_big.value.rcvd.reason
    finally:
        stack.close()
        s.stop()


def test_sigint_flushes_every_stream_final_words(bundle, speech, tmp_path):
    proc = subprocess.Popen(
        [sys.executable, "-m", "speech_proactive.serve", "--model", str(bundle), "--port", "0", "--policy", POLICY],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )  # fmt: skip
    stack = contextlib.ExitStack()
    try:
        line = proc.stdout.readline()
        assert line.startswith("serving "), line + proc.stderr.read()
        port = int(line.split(":")[2].split("/")[0])
        x = pcm_roundtrip(speech)
        clients = [stack.enter_context(connect(f"ws://127.0.0.1:{port}/")) for _ in range(2)]
        for ws in clients:
            ws.send(json.dumps({"type": "start", **PAIR, "vad": "off"}))
            ws.send(pcm(x))
        heard = [[], []]
        for k, ws in enumerate(clients):  # wait until every whole block was stepped
            while not any(e.get("source_ms", 0) >= audio.samples_to_ms(len(x) // 5120 * 5120) for e in heard[k]):
                heard[k].append(json.loads(ws.recv(60)))
        proc.send_signal(signal.SIGINT)
        wav = tmp_path / "x.wav"
        audio.write_wav(wav, x)
        expected = translate_final(bundle, wav)
        for k, ws in enumerate(clients):
            with pytest.raises(ConnectionClosed) as closed:
                while True:
                    heard[k].append(json.loads(ws.recv(60)))
            assert closed.value.rcvd.code == 1001 and "shutting down" in closed.value.rcvd.reason
            assert heard[k][-1]["event"] == "final" and heard[k][-1]["text"] == expected
            assert any(e["event"] == "segment_end" and e["reason"] == "shutdown" for e in heard[k])
        assert proc.wait(30) == 0
    finally:
        stack.close()
        proc.kill()


def test_audio_sent_far_ahead_of_the_model_is_refused_with_the_reason(bundle, speech):
    s = ServerThread(bundle, max_backlog_ms=2000)
    try:
        with connect(s.url()) as ws:
            ws.send(json.dumps({"type": "start", **PAIR, "vad": "off"}))
            ws.send(pcm(np.tile(speech, 10)[: audio.ms_to_samples(20_000)]))  # 20 s at once, 2 s allowed
            with pytest.raises(ConnectionClosed) as closed:
                while True:
                    ws.recv(30)
        assert closed.value.rcvd.code == 1013
        assert "server overloaded: more than 2 s of audio waiting" in closed.value.rcvd.reason
        assert stream_file(s.url(), speech[:16000], vad="off")[-1]["event"] == "final", "1 s ahead is fine"
    finally:
        s.stop()


def test_the_documented_client_runs(server, speech, tmp_path):
    """docs/serve.md's short client, as printed there (only its port and language pair changed for this server
    and the test bundle), streams a 16 kHz WAV and prints the words and the final event."""
    import soundfile as sf

    code = (REPO / "docs" / "serve.md").read_text().split("```python\n", 1)[1].split("```", 1)[0]
    assert len(code.splitlines()) <= 20
    code = code.replace("ws://127.0.0.1:8000/stream", server.url())
    code = code.replace('"src_lang": "de", "tgt_lang": "en"', '"src_lang": "en", "tgt_lang": "de"')
    (tmp_path / "client.py").write_text(code)
    sf.write(tmp_path / "speech.wav", speech, audio.SAMPLE_RATE, subtype="PCM_16")
    out = subprocess.run([sys.executable, str(tmp_path / "client.py"), str(tmp_path / "speech.wav")],
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    assert out.returncode == 0, out.stderr
    final = out.stdout.strip().splitlines()[-1]
    assert final.startswith("{'event': 'final'") and "'n_segments': 1" in final, out.stdout
