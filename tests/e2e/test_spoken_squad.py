"""The Spoken-SQuAD loader on a miniature of the released layout (real espeak-ng sentence files at 22 kHz)."""

import json

import pytest

from speech_proactive import audio
from speech_proactive.data.corpora import spoken_squad
from speech_proactive.data.manifest import read_manifest


def squad(contexts_and_qas):
    return {
        "data": [
            {"title": f"t{a}", "paragraphs": [{"context": c, "qas": qas} for c, qas in paras]}
            for a, paras in enumerate(contexts_and_qas)
        ]
    }


def qa(qid, question, text, start):
    return {"id": qid, "question": question, "answers": [{"answer_start": start, "text": text}]}


LONG = "a long paragraph " + "that goes on and on " * 6 + "past the window"


@pytest.fixture
def root(tmp_path):
    from helpers import espeak

    r = tmp_path / "Spoken-SQuAD"
    wav_dir = r / "Spoken-SQuAD_audio" / "train_wav"
    wav_dir.mkdir(parents=True)
    context = "anna lives in berlin. paul works as a baker."
    espeak("anna lives in berlin", wav_dir / "0_0_0.wav")
    espeak("paul works as a baker", wav_dir / "0_0_1.wav")
    espeak(LONG, wav_dir / "1_0_0.wav")
    data = squad(
        [
            [
                (
                    context,
                    [qa("q1", "Where does Anna live?", "berlin", 14), qa("q2", "What is Paul's job?", "baker", 38)],
                ),
                ("no audio for this one", [qa("q3", "Which?", "audio", 7)]),
            ],
            [(LONG, [qa("q4", "How long?", "long", 2)])],
        ]
    )
    (r / "spoken_train-v1.1.json").write_text(json.dumps(data))
    return r


def test_paragraph_audio_rows_and_estimated_ideal_moments(root, tmp_path):
    out = tmp_path / "out"
    long_s = len(audio.load_audio(root / "Spoken-SQuAD_audio" / "train_wav" / "1_0_0.wav")) / audio.SAMPLE_RATE
    rows, s = spoken_squad.build_split(root, out, "train", max_seconds=long_s - 0.1)
    assert [u.id for u in rows] == ["q1", "q2"]
    assert (s.n_paragraphs, s.skipped_long, s.skipped_no_audio, s.missing) == (1, 1, 1, ["0_1"])
    parts = [audio.load_audio(root / "Spoken-SQuAD_audio" / "train_wav" / f"0_0_{i}.wav") for i in (0, 1)]
    joined = audio.load_audio(out / rows[0].audio)
    assert len(joined) == rows[0].n_samples == sum(map(len, parts))  # sentences joined in order, at 16 kHz
    q1, q2 = rows
    assert q1.task == "qa" and q1.question == "Where does Anna live?" and q1.tgt_text == "berlin"
    context_chars = len("anna lives in berlin. paul works as a baker.")
    assert q1.tgt_ideal_ms[0] == pytest.approx(q1.duration_ms * 20 / context_chars)
    assert q2.tgt_ideal_ms[0] == pytest.approx(q2.duration_ms * 43 / context_chars)


def test_cli_writes_a_valid_manifest_and_reruns_keep_the_audio(root, tmp_path, capsys):
    out = tmp_path / "out"
    assert spoken_squad.main(["--root", str(root), "--out", str(out), "--splits", "train"]) == 0
    assert "train: 3 questions on 2 paragraphs" in capsys.readouterr().out
    m = read_manifest(out / "train.qa-en.jsonl")  # audio files, lengths, qa fields all checked
    first = (out / m.rows[0].audio).stat().st_mtime_ns
    assert spoken_squad.main(["--root", str(root), "--out", str(out), "--splits", "train"]) == 0
    assert (out / m.rows[0].audio).stat().st_mtime_ns == first


def test_sentences_in_numeric_order_and_clear_errors(tmp_path, capsys):
    for s in (10, 2, 9):
        (tmp_path / f"3_4_{s}.wav").touch()
    assert [p.stem for p in spoken_squad.sentence_wavs(tmp_path, 3, 4)] == ["3_4_2", "3_4_9", "3_4_10"]
    (tmp_path / "spoken_train-v1.1.json").write_text('{"version": 1}')
    assert spoken_squad.main(["--root", str(tmp_path), "--out", str(tmp_path / "o"), "--splits", "train"]) == 2
    assert "not SQuAD v1.1 JSON" in capsys.readouterr().err
    assert spoken_squad.main(["--root", str(tmp_path / "nowhere"), "--splits", "test"]) == 2
    assert "spoken_test-v1.1.json" in capsys.readouterr().err
