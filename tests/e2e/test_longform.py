"""Long-form evaluation: talks built from a manifest, the processor under the real `simulstream_inference` CLI
(every word a direct segmenter run writes reaches the log, the flushed tail included), simulstream's scorers on
a hand-made log, and the CLI end to end."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import yaml

from speech_proactive import audio
from speech_proactive.data.manifest import Utterance, read_manifest, write_manifest
from speech_proactive.evaluation.longform.talks import TalkSet, build_talks, existing_talks

SENTENCES = [
    ("the old man reads a book in the garden", "der alte Mann liest ein Buch im Garten"),
    ("a dog sleeps", "ein Hund schläft"),
    ("my sister sings a song today", "meine Schwester singt heute ein Lied"),
]


@pytest.fixture(scope="module")
def manifest(tmp_path_factory):
    from helpers import espeak

    d = tmp_path_factory.mktemp("longform_corpus")
    rows = []
    for i, (src, tgt) in enumerate(SENTENCES):
        wav = espeak(src, d / f"{i}.wav")
        samples = audio.load_audio(wav)
        audio.write_wav(wav, samples)
        rows.append(Utterance(f"u{i}", f"{i}.wav", len(samples), "en", src, "de", tgt, "espeak"))
    return read_manifest(write_manifest(d / "test.en-de.jsonl", rows))


def test_talks_hold_each_utterance_at_its_offset_between_silences(manifest, tmp_path):
    talks = build_talks(manifest, tmp_path / "talks", per_talk=2, gap_ms=500)
    assert (talks.n_talks, talks.n_sentences, talks.src_lang, talks.tgt_lang) == (2, 3, "en", "de")
    assert TalkSet.read(tmp_path / "talks") == talks
    segments = yaml.safe_load(talks.audio_definition.read_text())
    assert talks.references.read_text().splitlines() == [t for _, t in SENTENCES]
    wavs = talks.wav_list.read_text().splitlines()
    assert [Path(w).name for w in wavs] == ["talk_000.wav", "talk_001.wav"]
    total = 0
    for w in wavs:
        talk = audio.load_audio(w)
        total += len(talk)
        covered = np.zeros(len(talk), bool)
        for seg, u in [(s, u) for s, u in zip(segments, manifest.rows) if s["wav"] == Path(w).name]:
            start, n = round(seg["offset"] * audio.SAMPLE_RATE), round(seg["duration"] * audio.SAMPLE_RATE)
            assert seg["id"] == u.id and n == u.n_samples
            np.testing.assert_array_equal(talk[start : start + n], audio.load_audio(manifest.audio_path(u)))
            covered[start : start + n] = True
        assert not talk[~covered].any(), "everything between the sentences is silence"
        assert (~covered)[: audio.ms_to_samples(500)].all(), "a talk starts with the gap"
    assert talks.audio_s == total / audio.SAMPLE_RATE


def test_talks_refuse_what_they_cannot_hold(manifest, tmp_path):
    with pytest.raises(ValueError, match="at least one sentence"):
        build_talks(manifest, tmp_path / "t", per_talk=0)
    mixed = write_manifest(
        tmp_path / "mixed.jsonl", [manifest.rows[0], Utterance(**{**manifest.rows[1].__dict__, "tgt_lang": "fr"})]
    )
    m = read_manifest(mixed, check_audio=False)
    with pytest.raises(ValueError, match="one language pair"):
        build_talks(m, tmp_path / "t")
    talks = build_talks(manifest, tmp_path / "t", per_talk=3)
    short_refs = tmp_path / "refs.txt"
    short_refs.write_text("one line\n")
    with pytest.raises(ValueError, match="3 segments but .* 1 lines"):
        existing_talks(talks.audio_definition, short_refs, talks.wav_list.parent / "wav", "en", "de", tmp_path / "r")
    with pytest.raises(ValueError, match="not found"):
        existing_talks(talks.audio_definition, talks.references, tmp_path, "en", "de", tmp_path / "r")


def test_real_layout_is_read_as_given(manifest, tmp_path):
    made = build_talks(manifest, tmp_path / "made", per_talk=2)
    talks = existing_talks(
        made.audio_definition, made.references, made.wav_list.parent / "wav", "en", "de", tmp_path / "real"
    )
    assert (talks.n_talks, talks.n_sentences) == (2, 3)
    assert talks.wav_list.read_text() == made.wav_list.read_text()
    assert talks.audio_s == pytest.approx(made.audio_s)


def test_scores_of_a_hand_made_log(tmp_path):
    """Two sentences of one talk written word for word: BLEU 100, StreamLAAL by hand (delays from each
    reference segment's start, LAAL with gamma = max(|hyp|, |ref|) / duration), CA adding each chunk's time."""
    from speech_proactive.evaluation.longform.score import score_log

    refs = ["one two three four five", "six seven eight nine ten"]
    (tmp_path / "refs.txt").write_text("".join(r + "\n" for r in refs))
    segs = [{"wav": "talk.wav", "offset": 1.0, "duration": 2.0}, {"wav": "talk.wav", "offset": 4.0, "duration": 2.5}]
    (tmp_path / "segs.yaml").write_text(yaml.safe_dump(segs))
    lines = [
        {"id": 0, "metadata": {"wav_name": "/x/talk.wav"}},
        {"id": 0, "total_audio_processed": 1.5, "computation_time": 0.05, "generated_tokens": [], "deleted_tokens": []},
        {
            "id": 0,
            "total_audio_processed": 2.5,
            "computation_time": 0.1,
            "generated_tokens": refs[0].split(),
            "deleted_tokens": [],
        },
        {
            "id": 0,
            "total_audio_processed": 6.0,
            "computation_time": 0.2,
            "generated_tokens": refs[1].split(),
            "deleted_tokens": [],
        },
    ]
    log = tmp_path / "metrics.jsonl"
    log.write_text("".join(json.dumps(d) + "\n" for d in lines))
    talks = TalkSet(tmp_path / "wavs.txt", tmp_path / "segs.yaml", tmp_path / "refs.txt", "en", "en", 1, 2, 6.0)

    def laal(delay_s: float, duration_s: float, n: int = 5) -> float:
        gamma = n / duration_s
        return np.mean([delay_s - t / gamma for t in range(n)])

    s = score_log(log, talks, "13a")
    assert s.bleu == pytest.approx(100.0)
    assert s.stream_laal_ms == pytest.approx(1000 * np.mean([laal(1.5, 2.0), laal(2.0, 2.5)]))
    assert s.stream_laal_ca_ms == pytest.approx(1000 * np.mean([laal(1.6, 2.0), laal(2.2, 2.5)]))
    assert (s.n_words, s.audio_s, s.compute_s) == (10, 6.0, pytest.approx(0.35))


def segmenter_texts(bundle: Path, policy: str, samples: np.ndarray) -> tuple[str, str]:
    """The live segmenter over a session, fed a whole stream as simulstream feeds it, read independently of the
    processor's word reporting: every segment's final text joined, and the text of the segment that only the
    end of the stream closes ("" if a pause closed the last one)."""
    from speech_proactive.integrations.simulstream_processor import ProactiveProcessor
    from speech_proactive.streaming.events import SegmentEnded

    cfg = SimpleNamespace(model=str(bundle), policy=policy, src_lang="en", tgt_lang="de")
    ProactiveProcessor.load_model(cfg)
    seg = ProactiveProcessor(cfg).segmenter
    events, step = [], audio.ms_to_samples(320)
    for start in range(0, len(samples), step):
        events += seg.feed(samples[start : start + step], start).events
    at_end = seg.finish("end").events
    texts = [e.text for e in events + at_end if isinstance(e, SegmentEnded)]
    return " ".join(t for t in texts if t.strip()), " ".join(e.text for e in at_end if isinstance(e, SegmentEnded))


@pytest.mark.slow
def test_processor_under_the_simulstream_cli_logs_every_word(manifest, bundle, tmp_path):
    from simulstream.metrics.readers import LogReader

    from speech_proactive.evaluation.longform.run import processor_config, run_setting
    from speech_proactive.evaluation.longform.score import EVAL_CONFIG

    # No silence after the last sentence: its segment is still open when the stream ends, so its last words
    # are written by the end-of-stream flush (the tail a harness most easily loses).
    talks = build_talks(manifest, tmp_path / "talks", per_talk=3, gap_ms=0)
    args = SimpleNamespace(model=bundle, pause_ms=600.0, max_segment_s=20.0)
    log = run_setting(tmp_path / "run", processor_config(args, "wait-k:1", talks, 1), talks)
    out = LogReader(EVAL_CONFIG, str(log)).final_outputs_and_latencies()["talk_000"]
    talk = audio.load_audio(talks.wav_list.read_text().split()[0])  # int16 on disk: what simulstream sends
    expected, closed_by_the_end = segmenter_texts(bundle, "wait-k:1", talk)
    assert closed_by_the_end.strip(), "the last segment's words come from the end-of-stream flush"
    assert out.final_text == " ".join(expected.split())
    assert len(out.ideal_delays) == len(expected.split())
    assert out.ideal_delays == sorted(out.ideal_delays)
    assert out.ideal_delays[-1] <= talks.audio_s + 0.32
    assert not (tmp_path / "run" / "metrics.jsonl.partial").exists()


@pytest.mark.slow
def test_cli_writes_results_and_reuses_finished_runs(manifest, bundle, tmp_path, capsys):
    from speech_proactive.evaluation.longform.run import main

    argv = [
        "--model",
        str(bundle),
        "--manifest",
        str(manifest.path),
        "--per-talk",
        "2",
        "--policies",
        "offline",
        "wait-k:1",
        "--out",
        str(tmp_path / "out"),
    ]
    assert main(argv) == 0
    rows = json.loads((tmp_path / "out" / "results.json").read_text())["rows"]
    assert [r["policy"] for r in rows] == ["offline", "wait-k:1"]
    for r in rows:
        assert 0 <= r["bleu"] <= 100 and r["n_words"] > 0 and r["rtf"] > 0
        assert r["audio_s"] == pytest.approx(TalkSet.read(tmp_path / "out" / "talks").audio_s, abs=0.33)
    assert "| offline |" in (tmp_path / "out" / "results.md").read_text()
    logs = {p: p.stat().st_mtime_ns for p in (tmp_path / "out").glob("*/metrics.jsonl")}
    assert len(logs) == 2
    assert main(argv) == 0
    assert {p: p.stat().st_mtime_ns for p in logs} == logs, "a finished setting is not run again"
    assert (
        main(
            [
                "--model",
                str(bundle),
                "--policies",
                "offline",
                "--out",
                str(tmp_path / "x"),
                "--audio-definition",
                "a.yaml",
            ]
        )
        == 2
    )
    assert "--references" in capsys.readouterr().err


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_simulstreams_websocket_server_serves_the_processor(manifest, bundle, tmp_path):
    """simulstream's own server and WAV client, started for real on a free local port: the served talk's words
    are what the segmenter writes (the talk ends in silence: the client sends its last chunk twice)."""
    import subprocess
    import sys
    import time

    from simulstream.metrics.readers import LogReader

    from speech_proactive.evaluation.longform.run import processor_config
    from speech_proactive.evaluation.longform.score import EVAL_CONFIG

    talks = build_talks(manifest, tmp_path / "talks", per_talk=3, gap_ms=800)
    port = free_port()
    server_cfg = {
        "hostname": "127.0.0.1",
        "port": port,
        "pool_size": 1,
        "acquire_timeout": 30,
        "metrics": {"enabled": True, "filename": str(tmp_path / "metrics.jsonl")},
    }
    (tmp_path / "server.yaml").write_text(yaml.safe_dump(server_cfg))
    args = SimpleNamespace(model=bundle, pause_ms=600.0, max_segment_s=20.0)
    (tmp_path / "proc.yaml").write_text(yaml.safe_dump(processor_config(args, "wait-k:1", talks, 1)))
    bin_dir = Path(sys.executable).parent
    log = open(tmp_path / "server.log", "w")
    server = subprocess.Popen(
        [
            str(bin_dir / "simulstream_server"),
            "--server-config",
            str(tmp_path / "server.yaml"),
            "--speech-processor-config",
            str(tmp_path / "proc.yaml"),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.time() + 120
        while "server listening" not in (tmp_path / "server.log").read_text() and time.time() < deadline:
            assert server.poll() is None, (tmp_path / "server.log").read_text()
            time.sleep(0.5)
        subprocess.run(
            [
                str(bin_dir / "simulstream_wavs_client"),
                "--uri",
                f"ws://127.0.0.1:{port}/",
                "--wav-list-file",
                str(talks.wav_list),
                "--chunk-duration-ms",
                "320",
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
    out = LogReader(EVAL_CONFIG, str(tmp_path / "metrics.jsonl")).final_outputs_and_latencies()["talk_000"]
    expected, _ = segmenter_texts(bundle, "wait-k:1", audio.load_audio(talks.wav_list.read_text().split()[0]))
    assert expected.strip(), "the tiny model writes (random) words, so the comparison means something"
    assert out.final_text == " ".join(expected.split())
