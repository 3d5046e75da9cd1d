"""The manifest format: every kind of bad row is reported with its line number, or skipped and counted."""

import json

import numpy as np
import pytest

from speech_proactive import audio
from speech_proactive.data.manifest import ManifestError, Utterance, read_manifest, write_manifest


@pytest.fixture
def folder(tmp_path):
    audio.write_wav(tmp_path / "a.wav", np.zeros(1600, np.float32))
    audio.write_wav(tmp_path / "b8k.wav", np.zeros(800, np.float32), sample_rate=8000)
    (tmp_path / "junk.wav").write_bytes(b"not audio at all")
    return tmp_path


def good(**kw):
    d = {
        "id": "u1",
        "audio": "a.wav",
        "n_samples": 1600,
        "src_lang": "en",
        "src_text": "the man reads",
        "tgt_lang": "de",
        "tgt_text": "der mann liest",
        "speaker": "s1",
    }
    d.update(kw)
    return d


BAD_ROWS = {
    "not JSON": "{oops",
    "missing field": json.dumps({k: v for k, v in good().items() if k != "speaker"}),
    "empty src_text": json.dumps(good(src_text="  ")),
    "n_samples must be a positive integer": json.dumps(good(n_samples=-3)),
    "does not exist": json.dumps(good(audio="nope.wav")),
    "unreadable": json.dumps(good(audio="junk.wav")),
    "expected 16000 Hz mono": json.dumps(good(audio="b8k.wav", n_samples=800)),
    "manifest says": json.dumps(good(n_samples=1234)),
    "src_word_end_ms has 2 entries for 3 words": json.dumps(good(src_word_end_ms=[10, 20])),
    "tgt_align refers to a source word": json.dumps(good(tgt_align=[[0], [7], [2]])),
    "duplicate id": json.dumps(good()),
}


def test_every_bad_row_named_with_its_line(folder):
    lines = [json.dumps(good())] + list(BAD_ROWS.values())
    path = folder / "m.jsonl"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ManifestError) as e:
        read_manifest(path)
    msg = str(e.value)
    assert f"{len(BAD_ROWS)} bad row(s) of {len(lines)}" in msg
    for lineno, problem in enumerate(BAD_ROWS, start=2):
        assert f"line {lineno}: " in msg and problem in msg, problem


def test_skip_bad_counts(folder):
    path = folder / "m.jsonl"
    path.write_text("\n".join([json.dumps(good()), BAD_ROWS["not JSON"], json.dumps(good(id="u2"))]) + "\n")
    m = read_manifest(path, skip_bad=True)
    assert [u.id for u in m.rows] == ["u1", "u2"] and m.n_skipped == 1


def test_round_trip_and_optional_fields(folder):
    u = Utterance(
        "u1",
        "a.wav",
        1600,
        "en",
        "the man reads",
        "de",
        "der mann liest",
        "s1",
        src_word_end_ms=(20.0, 50.0, 90.0),
        tgt_align=((0,), (1,), (2,)),
        tgt_ideal_ms=(20.0, 50.0, 90.0),
        meta={"shape": "present"},
    )
    path = write_manifest(folder / "m.jsonl", [u])
    m = read_manifest(path)
    assert m.rows == [u] and m.audio_path(u) == folder / "a.wav"
    assert not list(folder.glob("*.tmp-*"))
    assert m.hours == pytest.approx(0.1 / 3600)


def test_missing_manifest(tmp_path):
    with pytest.raises(ManifestError, match="no such manifest"):
        read_manifest(tmp_path / "absent.jsonl")


def test_a_row_without_speech_has_both_texts_empty(folder):
    """Silence or noise whose right output is nothing: both texts empty is a row; one empty text is an error."""
    quiet = good(id="q", src_text="", tgt_text="", src_word_end_ms=[], tgt_align=[], tgt_ideal_ms=[])
    path = folder / "quiet.jsonl"
    path.write_text(json.dumps(quiet) + "\n")
    (row,) = read_manifest(path).rows
    assert (row.src_text, row.tgt_text, row.src_word_end_ms) == ("", "", ())
    path.write_text(json.dumps(good(id="q", tgt_text=" ")) + "\n")
    with pytest.raises(ManifestError, match="empty tgt_text"):
        read_manifest(path)
