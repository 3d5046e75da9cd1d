"""Public-corpus loaders (CoVoST 2, MuST-C, LibriSpeech) on tiny fixtures laid out exactly as the corpora are."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from speech_proactive import audio
from speech_proactive.data.corpora import covost, librispeech, mustc
from speech_proactive.data.corpora.librispeech import CorpusError
from speech_proactive.data.manifest import read_manifest


def signal(seconds: float, rate: int, seed: int, channels: int = 1) -> np.ndarray:
    """A tone plus noise: any misplaced cut or wrong rate shows up as a large sample difference."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(round(seconds * rate))) / rate
    x = 0.3 * np.sin(2 * np.pi * (220 + 40 * seed) * t) + 0.1 * rng.standard_normal(t.size)
    x = x.astype(np.float32)
    return np.stack([x, 0.5 * x], axis=1) if channels == 2 else x


def read16k(path: Path) -> np.ndarray:
    samples, rate = sf.read(str(path), dtype="float32")
    assert rate == audio.SAMPLE_RATE and samples.ndim == 1
    return samples


def assert_same_audio(got: np.ndarray, want: np.ndarray) -> None:
    """Equal length; equal samples up to 16-bit quantization."""
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, atol=2e-4)


def mtimes(folder: Path) -> dict[Path, int]:
    return {p: p.stat().st_mtime_ns for p in folder.rglob("*.flac")}


# ----------------------------------------------------------------------------------------------------------------
# CoVoST 2: Common Voice language folder (clips/, validated.tsv) + covost_v2.en_de.tsv

CV_HEADER = "client_id\tpath\tsentence\tup_votes\tdown_votes\tage\tgender\taccent\tlocale\tsegment"


def mp3_writable() -> bool:
    return "MP3" in sf.available_formats() and "MPEG_LAYER_III" in sf.available_subtypes("MP3")


def write_cv_clip(clips: Path, name: str, x: np.ndarray, rate: int) -> Path:
    """Real clips are 48 kHz MP3; where soundfile cannot write MP3, the user-converted WAV (same stem) stands in."""
    if mp3_writable():
        sf.write(str(clips / name), x, rate, format="MP3")
        return clips / name
    path = clips / (Path(name).stem + ".wav")
    sf.write(str(path), x, rate, subtype="PCM_16")
    return path


def make_covost(tmp_path: Path) -> Path:
    """cv/en/{clips, validated.tsv, covost_v2.en_de.tsv}; returns the language folder."""
    cv = tmp_path / "cv" / "en"
    clips = cv / "clips"
    clips.mkdir(parents=True)
    write_cv_clip(clips, "common_voice_en_1.mp3", signal(1.2, 48000, 1), 48000)
    sf.write(str(clips / "common_voice_en_2.wav"), signal(0.9, 44100, 2, channels=2), 44100)  # converted by the user
    write_cv_clip(clips, "common_voice_en_3.mp3", signal(0.7, 48000, 3), 48000)
    write_cv_clip(clips, "common_voice_en_4.mp3", signal(1.0, 48000, 4), 48000)
    write_cv_clip(clips, "common_voice_en_5.mp3", signal(0.8, 48000, 5), 48000)
    write_cv_clip(clips, "common_voice_en_6.mp3", signal(0.5, 48000, 6), 48000)
    (cv / "validated.tsv").write_text(
        "\n".join(
            [
                CV_HEADER,
                "spk_a\tcommon_voice_en_1.mp3\tThe church is old.\t2\t0\t\t\t\ten\t",
                "spk_a\tcommon_voice_en_2.mp3\tWhen water is scarce, avoid wasting it.\t2\t0\tthirties\tmale\tus\ten\t",
                'spk_b\tcommon_voice_en_3.mp3\t"She\'ll be all right."\t3\t1\t\t\t\ten\t',
                "spk_c\tcommon_voice_en_4.mp3\tAll's well that ends well.\t2\t0\t\t\t\ten\t",
                "spk_d\tcommon_voice_en_5.mp3\tYou will drive with her.\t2\t0\t\t\t\ten\t",
                "spk_z\tcommon_voice_en_99.mp3\tNot in CoVoST.\t2\t0\t\t\t\ten\t",
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    (cv / "covost_v2.en_de.tsv").write_text(
        "\n".join(
            [
                "path\ttranslation\tsplit",  # the header of the released file (HF datasets' covost2 dummy data)
                "common_voice_en_1.mp3\tDie Kirche ist alt.\ttrain",
                "common_voice_en_2.mp3\tWenn Wasser knapp ist, verschwenden Sie es nicht.\ttrain",
                "common_voice_en_3.mp3\tSie wird schon in Ordnung sein.\ttrain_covost",
                "common_voice_en_4.mp3\tEnde gut, alles gut.\tdev",
                "common_voice_en_5.mp3\tDu fährst mit ihr.\ttest",
                "common_voice_en_6.mp3\tNicht in validated.tsv.\ttrain",
                "common_voice_en_7.mp3\tAnderer Teil.\tdev_covost",
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    return cv


def clip_file(cv: Path, stem: str) -> Path:
    return next(p for p in (cv / "clips").iterdir() if p.stem == stem)


def test_covost_builds_splits_texts_speakers_and_audio(tmp_path):
    cv = make_covost(tmp_path)
    out = tmp_path / "out"
    summary = covost.build(cv, out, "en", "de", progress=False)

    assert [s.split for s in summary.splits] == ["train", "dev", "test"]
    assert [s.n_utterances for s in summary.splits] == [3, 1, 1]
    assert summary["train"].skip_counts() == {"not in validated.tsv": 1}
    assert any("dev_covost" in n for n in summary.notes)

    train = read_manifest(out / "train.jsonl", check_audio=True)
    by_id = {u.id: u for u in train.rows}
    assert sorted(by_id) == ["common_voice_en_1", "common_voice_en_2", "common_voice_en_3"]
    u3 = by_id["common_voice_en_3"]
    assert u3.src_text == '"She\'ll be all right."'  # no quoting in CV TSVs: quotes are text
    assert u3.tgt_text == "Sie wird schon in Ordnung sein."
    assert (u3.speaker, u3.src_lang, u3.tgt_lang) == ("spk_b", "en", "de")
    assert by_id["common_voice_en_2"].speaker == "spk_a"
    for u in train.rows:
        assert_same_audio(read16k(train.audio_path(u)), audio.load_audio(clip_file(cv, u.id)))
    dev = read_manifest(out / "dev.jsonl", check_audio=True)
    assert [(u.id, u.tgt_text) for u in dev.rows] == [("common_voice_en_4", "Ende gut, alles gut.")]
    test = read_manifest(out / "test.jsonl", check_audio=True)
    assert abs(test.rows[0].duration_ms - 800) < 60  # 0.8 s clip (MP3 decoders may pad a little)
    assert summary.hours == pytest.approx(sum(m.hours for m in (train, dev, test)))


def test_covost_resumes_without_reconverting(tmp_path):
    cv = make_covost(tmp_path)
    out = tmp_path / "out"
    covost.build(cv, out, progress=False)
    before = mtimes(out)
    redo = next(iter(before))
    redo.unlink()
    again = covost.build(cv, out, progress=False)
    assert sum(s.n_converted for s in again.splits) == 1
    assert sum(s.n_reused for s in again.splits) == 4
    assert all(p.stat().st_mtime_ns == t for p, t in before.items() if p != redo)
    assert again.n_utterances == 5 and redo.is_file()


def test_covost_reads_get_covost_splits_output(tmp_path):
    cv = make_covost(tmp_path)
    (cv / "covost_v2.en_de.tsv").unlink()
    header = "path\tsentence\ttranslation\tclient_id"
    for split, line in [
        ("train", "common_voice_en_1.mp3\tThe church is old.\tDie Kirche ist alt.\tspk_a"),
        ("dev", "common_voice_en_4.mp3\tAll's well.\tEnde gut.\tspk_c"),
        ("test", "common_voice_en_5.mp3\tYou will drive.\tDu fährst.\tspk_d"),
    ]:
        (cv / f"covost_v2.en_de.{split}.tsv").write_text(f"{header}\n{line}\n", encoding="utf-8")
    summary = covost.build(cv.parent, tmp_path / "out", progress=False)  # the release folder holding en/
    assert [s.n_utterances for s in summary.splits] == [1, 1, 1]
    assert read_manifest(tmp_path / "out" / "dev.jsonl").rows[0].src_text == "All's well."


def test_covost_missing_tsv_and_missing_clip_are_clear_errors(tmp_path):
    cv = make_covost(tmp_path)
    clip_file(cv, "common_voice_en_4").unlink()
    with pytest.raises(CorpusError, match=r"common_voice_en_4\.mp3") as e:
        covost.build(cv, tmp_path / "out", progress=False)
    assert "do not exist" in str(e.value) and "--skip-missing-audio" in str(e.value)
    assert not (tmp_path / "out").exists()  # checked before any conversion
    summary = covost.build(cv, tmp_path / "out", splits=["dev", "test"], skip_missing_audio=True, progress=False)
    assert summary["dev"].n_utterances == 0 and summary["dev"].skip_counts() == {"missing audio": 1}

    (cv / "covost_v2.en_de.tsv").unlink()
    with pytest.raises(CorpusError, match=r"covost_v2\.en_de\.tsv: no such file"):
        covost.build(cv, tmp_path / "out2", progress=False)


def test_covost_mp3_without_decoder_says_how_to_convert(tmp_path, monkeypatch):
    cv = make_covost(tmp_path)
    (cv / "clips" / "common_voice_en_8.mp3").write_bytes(b"ID3 not decoded here")
    with (cv / "covost_v2.en_de.tsv").open("a", encoding="utf-8") as f:
        f.write("common_voice_en_8.mp3\tAcht.\ttest\n")
    with (cv / "validated.tsv").open("a", encoding="utf-8") as f:
        f.write("spk_e\tcommon_voice_en_8.mp3\tEight.\t2\t0\t\t\t\ten\t\n")
    monkeypatch.setattr(covost, "mp3_supported", lambda: False)
    for p in (cv / "clips").glob("common_voice_en_[1345].mp3"):  # these the user converted already
        sf.write(str(p.with_suffix(".flac")), signal(0.5, 48000, 7), 48000)
    with pytest.raises(CorpusError, match="cannot decode MP3") as e:
        covost.build(cv, tmp_path / "out", progress=False)
    assert "common_voice_en_8.mp3" in str(e.value) and "ffmpeg" in str(e.value)


def test_covost_cli(tmp_path, capsys):
    cv = make_covost(tmp_path)
    rc = covost.main(
        [
            "--root",
            str(cv),
            "--out",
            str(tmp_path / "out"),
            "--src",
            "en",
            "--tgt",
            "de",
            "--splits",
            "dev",
            "--jobs",
            "1",
            "--no-progress",
        ]
    )
    assert rc == 0 and "dev: 1 utterances" in capsys.readouterr().out
    assert covost.main(["--root", str(tmp_path / "nothing"), "--out", str(tmp_path / "o")]) == 2
    assert "not a Common Voice language folder" in capsys.readouterr().err


# ----------------------------------------------------------------------------------------------------------------
# MuST-C: en-de/data/{split}/wav/{talk}.wav + txt/{split}.yaml, .en, .de


def write_segments_yaml(path: Path, segments: list[tuple[float, float, str]]) -> None:
    """As released: one flow mapping per line, six decimals."""
    lines = [
        f"- {{duration: {d:.6f}, offset: {o:.6f}, rW: 3, uW: 0, speaker_id: spk.{Path(w).stem[4:]}, wav: {w}}}"
        for o, d, w in segments
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def make_mustc_split(
    data: Path, split: str, talks: dict[str, tuple[float, int]], segments: list[tuple[float, float, str]]
) -> None:
    (data / split / "wav").mkdir(parents=True)
    (data / split / "txt").mkdir()
    for i, (name, (seconds, rate)) in enumerate(talks.items()):
        sf.write(str(data / split / "wav" / name), signal(seconds, rate, 10 + i), rate, subtype="PCM_16")
    write_segments_yaml(data / split / "txt" / f"{split}.yaml", segments)
    (data / split / "txt" / f"{split}.en").write_text(
        "".join(f"english sentence {i} .\n" for i in range(len(segments))), encoding="utf-8"
    )
    (data / split / "txt" / f"{split}.de").write_text(
        "".join(f"deutscher Satz {i} .\n" for i in range(len(segments))), encoding="utf-8"
    )


DEV_SEGMENTS = [
    (0.25, 0.73, "ted_1.wav"),
    (1.1, 0.9, "ted_1.wav"),
    (2.3, 0.5123, "ted_1.wav"),
    (0.0, 1.0, "ted_2.wav"),
    (1.5, 0.55, "ted_2.wav"),
]  # the last runs 50 ms past the end of ted_2


def make_mustc(tmp_path: Path) -> Path:
    """MUSTC/en-de/data/{dev, tst-COMMON}; talk audio at 48 kHz and at 16 kHz."""
    data = tmp_path / "MUSTC" / "en-de" / "data"
    make_mustc_split(data, "dev", {"ted_1.wav": (3.0, 48000), "ted_2.wav": (2.0, 16000)}, DEV_SEGMENTS)
    make_mustc_split(data, "tst-COMMON", {"ted_3.wav": (1.5, 44100)}, [(0.2, 1.0, "ted_3.wav")])
    return tmp_path / "MUSTC"


def test_mustc_cuts_segments_exactly(tmp_path):
    root = make_mustc(tmp_path)
    out = tmp_path / "out"
    summary = mustc.build(root, out, "de", jobs=2, progress=False)
    assert [(s.split, s.n_utterances) for s in summary.splits] == [("dev", 5), ("tst-COMMON", 1)]
    assert any("1 segment(s) ran past the end" in n for n in summary["dev"].notes)

    dev = read_manifest(out / "dev.jsonl", check_audio=True)
    assert [u.id for u in dev.rows] == ["ted_1_0", "ted_1_1", "ted_1_2", "ted_2_0", "ted_2_1"]
    assert [u.src_text for u in dev.rows] == [f"english sentence {i} ." for i in range(5)]
    assert [u.tgt_text for u in dev.rows] == [f"deutscher Satz {i} ." for i in range(5)]
    assert [u.speaker for u in dev.rows] == ["spk.1"] * 3 + ["spk.2"] * 2
    for u, (offset, duration, wav) in zip(dev.rows, DEV_SEGMENTS):
        talk, rate = sf.read(str(root / "en-de" / "data" / "dev" / "wav" / wav), dtype="float32")
        start, stop = round(offset * rate), min(round((offset + duration) * rate), len(talk))
        assert_same_audio(read16k(dev.audio_path(u)), audio.prepare(talk[start:stop], rate))
        assert u.meta["talk"] == Path(wav).stem
    assert dev.rows[0].n_samples == round(0.73 * 16000)
    assert dev.rows[4].n_samples == round(0.5 * 16000)  # cut at the end of ted_2

    tst = read_manifest(out / "tst-COMMON.jsonl", check_audio=True)
    assert tst.rows[0].id == "ted_3_0" and tst.rows[0].tgt_lang == "de"

    before = mtimes(out)
    again = mustc.build(root / "en-de", out, "de", splits=["dev"], progress=False)  # the pair folder works too
    assert again["dev"].n_reused == 5 and again["dev"].n_converted == 0
    assert mtimes(out) == before


def test_mustc_yaml_text_mismatch_and_missing_talk_are_clear_errors(tmp_path):
    root = make_mustc(tmp_path)
    txt = root / "en-de" / "data" / "dev" / "txt"
    de_lines = (txt / "dev.de").read_text(encoding="utf-8").splitlines()
    (txt / "dev.de").write_text("\n".join(de_lines[:-1]) + "\n", encoding="utf-8")
    with pytest.raises(CorpusError, match=r"dev\.yaml has 5 segments, but .*dev\.en has 5 lines and .*dev\.de has 4"):
        mustc.build(root, tmp_path / "out", "de", progress=False)
    (txt / "dev.de").write_text("\n".join(de_lines) + "\n", encoding="utf-8")

    (root / "en-de" / "data" / "dev" / "wav" / "ted_2.wav").unlink()
    with pytest.raises(CorpusError, match=r"2 talk audio files .* do not exist:\n  .*ted_2\.wav"):
        mustc.build(root, tmp_path / "out", "de", progress=False)
    assert not (tmp_path / "out").exists()

    with pytest.raises(CorpusError, match=r"no split folder\(s\) \['tst-HE'\]"):
        mustc.build(root, tmp_path / "out", "de", splits=["tst-HE"], progress=False)


def test_mustc_bad_yaml_names_the_segment(tmp_path):
    root = make_mustc(tmp_path)
    yaml_path = root / "en-de" / "data" / "tst-COMMON" / "txt" / "tst-COMMON.yaml"
    yaml_path.write_text("- {duration: 1.0, offset: soon, wav: ted_3.wav}\n", encoding="utf-8")
    with pytest.raises(CorpusError, match=r"tst-COMMON\.yaml: segment 1: offset and duration must be numbers"):
        mustc.build(root, tmp_path / "out", "de", splits=["tst-COMMON"], progress=False)


# ----------------------------------------------------------------------------------------------------------------
# LibriSpeech: {split}/{speaker}/{chapter}/{speaker}-{chapter}.trans.txt + {id}.flac (16 kHz FLAC)

LIBRI = {
    ("84", "121123"): ["GO DO YOU HEAR", "BUT IN LESS THAN FIVE MINUTES THE STAIRCASE GROANED"],
    ("174", "50561"): ["FORGOTTEN TOO THE NAME OF GILLIAN THE LOVELY CAPTIVE"],
}


def make_librispeech(tmp_path: Path) -> Path:
    root = tmp_path / "LibriSpeech"
    for (speaker, chapter), texts in LIBRI.items():
        d = root / "dev-clean" / speaker / chapter
        d.mkdir(parents=True)
        lines = []
        for i, text in enumerate(texts):
            uid = f"{speaker}-{chapter}-{i:04d}"
            sf.write(str(d / f"{uid}.flac"), signal(0.6 + 0.2 * i, 16000, i), 16000, subtype="PCM_16")
            lines.append(f"{uid} {text}")
        (d / f"{speaker}-{chapter}.trans.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


def test_librispeech_builds_lowercased_asr_manifest(tmp_path):
    root = make_librispeech(tmp_path)
    out = tmp_path / "out"
    summary = librispeech.build(root, out, progress=False)
    assert [(s.split, s.n_utterances) for s in summary.splits] == [("dev-clean", 3)]
    m = read_manifest(out / "dev-clean.jsonl", check_audio=True)
    by_id = {u.id: u for u in m.rows}
    u = by_id["84-121123-0001"]
    assert u.src_text == u.tgt_text == "but in less than five minutes the staircase groaned"
    assert (u.src_lang, u.tgt_lang, u.speaker, u.meta["chapter"]) == ("en", "en", "84", "121123")
    for u in m.rows:
        speaker, chapter, _ = u.id.split("-")
        source = root / "dev-clean" / speaker / chapter / f"{u.id}.flac"
        np.testing.assert_array_equal(read16k(m.audio_path(u)), read16k(source))  # the original, untouched

    again = librispeech.build(root, out, lowercase=False, progress=False)
    assert again["dev-clean"].n_reused == 3 and again["dev-clean"].n_converted == 0
    assert read_manifest(out / "dev-clean.jsonl").rows[0].src_text.isupper()


def test_librispeech_clear_errors(tmp_path):
    root = make_librispeech(tmp_path)
    (root / "dev-clean" / "84" / "121123" / "84-121123-0000.flac").unlink()
    with pytest.raises(CorpusError, match=r"1 audio files .* do not exist:\n  .*84-121123-0000\.flac"):
        librispeech.build(root, tmp_path / "out", progress=False)
    summary = librispeech.build(root, tmp_path / "out", skip_missing_audio=True, progress=False)
    assert summary["dev-clean"].n_utterances == 2 and summary.n_skipped == 1

    trans = root / "dev-clean" / "174" / "50561" / "174-50561.trans.txt"
    trans.write_text("174-50561-0000 FORGOTTEN\nTHIS LINE HAS NO ID\n", encoding="utf-8")
    with pytest.raises(CorpusError, match=r"174-50561\.trans\.txt:2: expected '174-50561-NNNN TRANSCRIPT'"):
        librispeech.build(root, tmp_path / "out", progress=False)
    with pytest.raises(CorpusError, match="none of the splits"):
        librispeech.build(tmp_path, tmp_path / "out", progress=False)


def test_unreadable_audio_is_skipped_with_its_reason(tmp_path):
    root = make_librispeech(tmp_path)
    bad = root / "dev-clean" / "174" / "50561" / "174-50561-0000.flac"
    bad.write_bytes(b"not a flac file")
    summary = librispeech.build(root, tmp_path / "out", progress=False)
    assert summary["dev-clean"].skip_counts() == {"unreadable or empty audio": 1}
    assert str(bad) in summary["dev-clean"].skipped[0].detail
    assert "skipped 1: unreadable or empty audio" in summary.report()
    assert not (tmp_path / "out" / "audio" / "dev-clean" / "174").exists()
