"""Fish Fillets NG builder on a tiny game in the real formats: Lua dialog scripts (tests/fixtures/fillets/script)
and a voice pack of OGG Vorbis clips synthesized here, laid out as the Debian packages lay them out."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from helpers import REPO

from speech_proactive.data.corpora import fillets
from speech_proactive.data.manifest import read_manifest

GAME_DIR = REPO / "tests" / "fixtures" / "fillets"

# sound dir -> clip id -> (seconds, rate, channels); None: a corrupt file
CLIPS = {
    "aquarium": {
        "aq-m-hello": (0.5, 22050, 1),
        "aq-v-bye": (0.75, 44100, 2),
        "aq-m-silent": (0.3, 22050, 1),
        "aq-x-beep": (0.2, 22050, 1),
        "aq-m-multi": (1.0, 22050, 1),
        "aq-m-orphan": (0.3, 22050, 1),
    },
    "harbor": {
        "hb-m-ship": (0.5, 44100, 1),
        "hb-v-anchor": (0.6, 22050, 1),
        "hb-m-count": (0.4, 22050, 1),
        "hb-v-crack": None,
    },
    "share/borejokes": {"bore-m-joke": (0.5, 22050, 1)},
    "lagoon": {"lg-m-lost": (0.3, 22050, 1)},  # no script/lagoon
}
MATCHED = {"aq-m-hello", "aq-v-bye", "aq-m-multi", "hb-m-ship", "hb-v-anchor", "bore-m-joke"}


def write_clip(path: Path, seconds: float, rate: int, channels: int, seed: int) -> None:
    t = np.arange(int(seconds * rate)) / rate
    tone = 0.3 * np.sin(2 * np.pi * (200 + 50 * seed) * t) * np.hanning(t.size)
    samples = np.repeat(tone[:, None], channels, axis=1).astype(np.float32)
    sf.write(str(path), samples, rate, format="OGG", subtype="VORBIS")


@pytest.fixture(scope="module")
def voice_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("fillets-ng-data-cs")
    for seed, (sound_dir, clips) in enumerate(CLIPS.items()):
        folder = root / "sound" / sound_dir / "cs"
        folder.mkdir(parents=True)
        for i, (clip_id, spec) in enumerate(clips.items()):
            if spec is None:
                (folder / f"{clip_id}.ogg").write_bytes(b"OggS this is not a vorbis stream")
            else:
                write_clip(folder / f"{clip_id}.ogg", *spec, seed=seed + i)
    (root / "sound" / "aquarium" / "nl").mkdir()
    write_clip(root / "sound" / "aquarium" / "nl" / "aq-m-hello.ogg", 0.5, 22050, 1, seed=9)  # another voice
    return root


@pytest.fixture(scope="module")
def built(voice_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("out")
    game = fillets.GameData(GAME_DIR, voice_dir)
    first = fillets.build(out, voice="cs", game=game, workers=2, progress=False)
    return out, game, first


def rows(out: Path, task: str) -> dict[str, list]:
    return {
        split: read_manifest(out / fillets.manifest_name(split, task), check_audio=True).rows
        for split in fillets.SPLITS
    }


def test_lua_strings_escapes_and_comments():
    source = (
        'dialogId("a", "font_small", "say \\"hi\\"\\n\\65\\/") -- dialogStr("comment")\n'
        '--[==[ dialogStr("block") ]==]\n'
        "dialogStr('single' .. [[ long]])\n"
        'dialogId("key"..i, "", "")\n'
        "dialogStr()\n"
    )
    calls = fillets.lua_string_calls(source, {"dialogId", "dialogStr"})
    assert [(c.name, c.args, c.line) for c in calls] == [
        ("dialogId", ("a", "font_small", 'say "hi"\nA/'), 1),
        ("dialogStr", ("single long",), 3),
        ("dialogStr", (), 5),
    ]
    with pytest.raises(fillets.FilletsError, match="unfinished string"):
        fillets.lua_string_calls('dialogStr("open', {"dialogStr"})
    with pytest.raises(fillets.FilletsError, match=r"<lua>:2: bad escape"):
        fillets.lua_string_calls('\ndialogStr("\\xZZ")', {"dialogStr"})


def test_parse_dialogs_real_layout():
    cs = fillets.read_dialogs(GAME_DIR / "script" / "aquarium" / "dialogs_cs.lua", "cs")
    en = fillets.read_dialogs(GAME_DIR / "script" / "aquarium" / "dialogs_en.lua", "en")
    assert cs["aq-m-hello"] == fillets.DialogLine("aq-m-hello", "font_small", "Hello, big fish.", "Ahoj, velká rybo.")
    assert cs["aq-m-silent"].text is None  # dialogId without dialogStr: not translated
    assert cs["aq-x-beep"].text == ""
    assert cs["aq-m-multi"].text == 'Řekla "plav"   a plavali\njsme.'
    assert en["aq-m-multi"].text == 'She said "swim" -- and we swam.'  # English: the subtitle itself
    assert "aq-m-fake" not in cs and "bubble0" not in cs  # commented out; not a literal call


def test_sound_dirs_come_from_dialog_load_calls():
    sets = fillets.find_dialog_sets(GAME_DIR, "cs")
    assert sets == [
        fillets.DialogSet("aquarium", "", "aquarium"),
        fillets.DialogSet("harbor", "", "harbor"),
        fillets.DialogSet("share", "bore_", "share/borejokes"),
    ]


def test_matching_and_reasons(built):
    out, _, summary = built
    assert summary.n_clips == 12  # the nl clip is not counted
    assert summary.n_matched == len(MATCHED)
    assert summary.unmatched == {
        fillets.NO_SCRIPT: 1,
        fillets.NO_DIALOG_ID: 1,
        fillets.NO_TRANSCRIPT: 1,
        fillets.EMPTY_TRANSCRIPT: 1,
        fillets.PLACEHOLDER_TRANSCRIPT: 1,
        fillets.UNREADABLE_AUDIO: 1,
    }
    assert summary.untranslated == {"de: no translation": 1, "de: empty translation": 1}
    assert summary.n_dialog_lines_without_clip == 1
    assert sum(summary.rows["asr_cs"].values()) == 6
    assert sum(summary.rows["st_cs-en"].values()) == 6
    assert sum(summary.rows["st_cs-de"].values()) == 4
    assert summary.n_converted == 6 and summary.n_reused == 0
    assert json.loads((out / fillets.SUMMARY_FILE).read_text())["n_matched"] == 6
    assert "unmatched (empty transcript): 1" in summary.format()


def test_manifests_are_valid_and_hold_the_texts(built):
    out, _, _ = built
    asr = {u.meta["clip"]: u for split_rows in rows(out, "asr_cs").values() for u in split_rows}
    en = {u.meta["clip"]: u for split_rows in rows(out, "st_cs-en").values() for u in split_rows}
    de = {u.meta["clip"]: u for split_rows in rows(out, "st_cs-de").values() for u in split_rows}
    assert set(asr) == set(en) == MATCHED
    assert set(de) == MATCHED - {"aq-v-bye", "hb-v-anchor"}
    multi = asr["aq-m-multi"]
    assert (multi.src_lang, multi.tgt_lang, multi.src_text) == ("cs", "cs", 'Řekla "plav" a plavali jsme.')
    assert multi.tgt_text == multi.src_text and multi.speaker == "fillets-cs-small"
    assert en["aq-m-multi"].tgt_text == 'She said "swim" -- and we swam.'
    assert de["aq-m-multi"].tgt_text == 'Sie sagte "schwimm" und wir schwammen.'
    assert en["bore-m-joke"].audio == "audio/cs/share/borejokes/bore-m-joke.wav"
    assert asr["aq-m-hello"].n_samples == 8000  # 0.5 s at 22.05 kHz -> 16 kHz
    assert asr["aq-v-bye"].n_samples == 12000  # 0.75 s stereo 44.1 kHz -> mono 16 kHz


def test_splits_are_level_disjoint(built):
    out, _, summary = built
    for task in ("asr_cs", "st_cs-en", "st_cs-de"):
        levels = {split: {u.meta["level"] for u in split_rows} for split, split_rows in rows(out, task).items()}
        assert all(levels[a].isdisjoint(levels[b]) for a in levels for b in levels if a != b)
        for split, names in levels.items():
            assert all(summary.levels[name] == split for name in names)
    assert sorted(summary.levels.values()) == ["dev", "test", "train"]  # 3 levels, one a split


def test_level_splits_deterministic_and_sized():
    counts = {f"level{i}": 10 + i for i in range(40)}
    splits = fillets.level_splits(counts, dev_fraction=0.1, test_fraction=0.1)
    assert splits == fillets.level_splits(dict(reversed(counts.items())), dev_fraction=0.1, test_fraction=0.1)
    total = sum(counts.values())
    for split in ("dev", "test"):
        share = sum(n for level, n in counts.items() if splits[level] == split) / total
        assert 0.1 <= share < 0.1 + 50 / total


def test_second_run_converts_nothing(built):
    out, game, first = built
    wavs = sorted((out / "audio").rglob("*.wav"))
    mtimes = [w.stat().st_mtime_ns for w in wavs]
    manifest = (out / "train.asr_cs.jsonl").read_text()
    again = fillets.build(out, voice="cs", game=game, workers=2, progress=False)
    assert again.n_converted == 0 and again.n_reused == first.n_matched
    assert [w.stat().st_mtime_ns for w in wavs] == mtimes
    assert (out / "train.asr_cs.jsonl").read_text() == manifest
    assert again.rows == first.rows and again.unmatched == first.unmatched


def test_half_written_wav_is_converted_again(built, tmp_path):
    _, game, _ = built
    fillets.build(tmp_path, voice="cs", game=game, workers=1, progress=False)
    broken = tmp_path / "audio" / "cs" / "harbor" / "hb-m-ship.wav"
    broken.write_bytes(broken.read_bytes()[:30])  # as if killed mid-write by a tool that is not atomic
    again = fillets.build(tmp_path, voice="cs", game=game, workers=1, progress=False)
    assert again.n_converted == 1
    read_manifest(tmp_path / "test.asr_cs.jsonl", check_audio=True)


def test_missing_voice_pack_is_a_clear_error(tmp_path):
    with pytest.raises(fillets.FilletsError, match="no sound"):
        fillets.build(tmp_path / "out", voice="cs", game=fillets.GameData(GAME_DIR, tmp_path), progress=False)
