"""Ding sentence pairs: parsing the real `de :: en` format (tests/fixtures/ding/de-en), filtering, de-duplication,
splits; and the whole build from a .deb, through the Debian helper, without apt or network."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import pytest
from helpers import REPO

from speech_proactive.data import debian_packages
from speech_proactive.data.corpora import ding

FIXTURE = REPO / "tests" / "fixtures" / "ding" / "de-en"

EXPECTED = [
    ("Ich laufe jeden Morgen im Park.", "I run in the park every morning."),
    ("Sie lief nach Hause.", "She ran home."),
    ("Guten Morgen, wie geht es dir heute?", "Good morning, how are you today?"),
    ("Der Zug hat Verspätung.", "The train is late."),
    ("Wir kommen morgen an.", "We arrive tomorrow."),
    ("Das Wetter ist heute schön.", "The weather is nice today."),
]


@pytest.fixture(scope="module")
def extracted():
    return ding.extract_pairs(ding.read_dictionary(FIXTURE))


def test_strip_annotations():
    assert ding.strip_annotations("Haus {n} [arch.] <Hauß>") == "Haus"
    assert ding.strip_annotations("Wir kommen (mit dem Auto (oder Bus)) morgen an .") == "Wir kommen morgen an."
    assert ding.strip_annotations("komisch (unwohl), oder?") == "komisch, oder?"


def test_split_entry():
    assert ding.split_entry("a {n} | b :: x | y") == [("a {n}", "x"), ("b", "y")]
    assert ding.split_entry("# Version :: 1") is None
    assert ding.split_entry("a | b :: x") is None  # misaligned
    assert ding.first_synonym("Guten Tag! (formell); Hallo!") == "Guten Tag!"


def test_sentence_rule():
    assert ding.sentence_problem("Das Wetter ist schön.") is None
    assert ding.sentence_problem("Gut gemacht!") == "fewer than 3 words"
    assert ding.sentence_problem("ach so, das ist es.") == "no capital start"
    assert ding.sentence_problem("Wir haben heute schönes Wetter") == "no final punctuation"
    assert ding.sentence_problem("Er hat sie angerufen/besucht.") == "alternatives with /"
    assert ding.sentence_problem("He gave sb. a blow.") == "pattern placeholder"
    assert ding.sentence_problem("Ich bin … Jahre alt.") == "pattern placeholder"


def test_extract_fixture(extracted):
    pairs, summary = extracted
    assert [(p.de, p.en) for p in pairs] == EXPECTED
    assert summary.n_lines == 16
    assert summary.dropped == {
        "misaligned line": 1,
        "duplicate German sentence": 1,
        "duplicate English sentence": 1,
        "different sentence counts": 1,
        "length ratio past 2.5": 1,
        "other side: alternatives with /": 1,
        "other side: pattern placeholder": 2,
        "other side: fewer than 3 words": 1,
        "other side: no capital start": 1,
        "other side: no final punctuation": 1,
    }
    assert "6 pairs from 16 dictionary lines" in summary.format()


def test_splits_deterministic_and_disjoint(extracted):
    pairs, _ = extracted
    for p in pairs:
        assert p.split == ding.split_of(ding.normalize(p.de)) and p.id == ding.pair_id(ding.normalize(p.de))
    assert ding.normalize("Ich laufe jeden  Morgen im PARK!") == ding.normalize("Ich laufe jeden Morgen im Park.")
    sentences = [f"Satz Nummer {i} ist hier." for i in range(4000)]
    splits = Counter(ding.split_of(ding.normalize(s)) for s in sentences)
    assert 0.87 < splits["train"] / 4000 < 0.93 and splits["dev"] > 120 and splits["test"] > 120
    lines = [f"Satz {{m}} | {s} :: sentence | Sentence number {i} is here." for i, s in enumerate(sentences)]
    many, _ = ding.extract_pairs(lines + lines[:50])  # repeated entries: de-duplicated, not split apart
    assert len(many) == 4000 and len({p.id for p in many}) == 4000
    by_split = {s: {ding.normalize(p.de) for p in many if p.split == s} for s in ding.SPLITS}
    assert all(by_split[a].isdisjoint(by_split[b]) for a in by_split for b in by_split if a != b)


def test_write_and_load_pairs(extracted, tmp_path):
    pairs, _ = extracted
    path = ding.write_pairs(tmp_path / "pairs.jsonl", pairs)
    assert ding.load_pairs(path) == pairs
    path.write_text('{"id": "x", "de": "Ein Satz hier.", "en": "", "split": "train"}\nnot json\n', encoding="utf-8")
    with pytest.raises(ding.DingError, match="2 bad line"):
        ding.load_pairs(path)
    with pytest.raises(ding.DingError, match="no such pairs file"):
        ding.load_pairs(tmp_path / "missing.jsonl")


def make_deb(tmp_path: Path) -> Path:
    """A tiny trans-de-en .deb holding the fixture dictionary, built with dpkg-deb."""
    root = tmp_path / "pkg"
    (root / "DEBIAN").mkdir(parents=True)
    (root / "DEBIAN" / "control").write_text(
        "Package: trans-de-en\nVersion: 0.1-1\nArchitecture: all\nMaintainer: Test <test@example.org>\n"
        "Description: test fixture\n",
        encoding="utf-8",
    )
    dictionary = root / ding.DICT_PATH
    dictionary.parent.mkdir(parents=True)
    shutil.copy(FIXTURE, dictionary)
    deb = tmp_path / "trans-de-en_0.1-1_all.deb"
    subprocess.run(
        ["dpkg-deb", "--root-owner-group", "-Zgzip", "--build", str(root), str(deb)], check=True, capture_output=True
    )
    return deb


@pytest.mark.skipif(shutil.which("dpkg-deb") is None, reason="needs dpkg-deb")
def test_build_through_the_debian_cache(tmp_path, capsys):
    out = tmp_path / "ding"
    (out / "debs").mkdir(parents=True)
    shutil.copy(make_deb(tmp_path), out / "debs")  # in the cache: no apt-get download
    assert ding.main(["--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "6 pairs" in printed and "train" in printed
    pairs = ding.load_pairs(out / ding.PAIRS_FILE)
    assert [(p.de, p.en) for p in pairs] == EXPECTED
    unpacked = out / "debs" / "unpacked" / "trans-de-en"
    marker = unpacked / ".unpacked-from"
    mtime = marker.stat().st_mtime_ns
    package = debian_packages.fetch_package("trans-de-en", out / "debs")  # idempotent: nothing unpacked again
    assert package.root == unpacked and marker.stat().st_mtime_ns == mtime
    assert (package.root / ding.DICT_PATH).read_text(encoding="utf-8") == FIXTURE.read_text(encoding="utf-8")


def test_unpack_errors_are_clear(tmp_path):
    with pytest.raises(debian_packages.DebianError, match="no such .deb"):
        debian_packages.unpack_deb(tmp_path / "nothing.deb", tmp_path / "out")
    bad = tmp_path / "bad_1_all.deb"
    bad.write_bytes(b"not an ar archive")
    with pytest.raises(debian_packages.DebianError, match="could not unpack"):
        debian_packages.unpack_deb(bad, tmp_path / "out")


FAKE_APT = """#!/bin/sh
echo "$@" >> "$APT_LOG"
if [ "$1" = update ]; then touch "$APT_LISTS"; exit 0; fi
if [ -f "$APT_LISTS" ]; then cp "$APT_DEB" "./$2_0.1-1_all.deb"; exit 0; fi
echo "E: Unable to locate package $2" >&2
exit 100
"""


@pytest.mark.skipif(shutil.which("dpkg-deb") is None, reason="needs dpkg-deb")
def test_download_updates_package_lists_once(tmp_path, monkeypatch):
    """A stand-in apt-get that knows no package until `apt-get update` has run."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "apt-get").write_text(FAKE_APT)
    (bin_dir / "apt-get").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    monkeypatch.setenv("APT_LOG", str(tmp_path / "apt.log"))
    monkeypatch.setenv("APT_LISTS", str(tmp_path / "lists"))
    monkeypatch.setenv("APT_DEB", str(make_deb(tmp_path)))
    package = debian_packages.fetch_package("trans-de-en", tmp_path / "cache")
    assert (package.root / ding.DICT_PATH).is_file()
    assert debian_packages.fetch_package("trans-de-en", tmp_path / "cache") == package  # cached: apt-get not run again
    calls = (tmp_path / "apt.log").read_text().splitlines()
    assert calls == ["download trans-de-en", "update", "download trans-de-en"]
