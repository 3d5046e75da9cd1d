"""The default corpus end to end on a few sentences: real espeak-ng and MBROLA speech, valid manifests, ideal
read points, the held-out voices split and the non-speech rows."""

import re
import shutil

import numpy as np
import pytest

from speech_proactive import audio
from speech_proactive.data import voices
from speech_proactive.data.corpora import corpus_build, grammar_corpus
from speech_proactive.data.manifest import read_manifest


def test_build_small_corpus(tmp_path):
    from helpers import espeak  # noqa: F401  (skips with a reason when espeak-ng is missing)

    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (make setup installs it)")
    manifests = grammar_corpus.build(tmp_path, n=40, seed=3, n_workers=2, train_voices="mixed")
    speech = {k: v for k, v in manifests.items() if not k.startswith("train_nonspeech")}
    n_test = len(manifests["test.en-de"])
    assert n_test > 0 and sum(len(r) for r in speech.values()) == 2 * (40 + n_test), "test sentences twice"
    speakers = {}
    for name in manifests:
        m = read_manifest(tmp_path / f"{name}.jsonl")  # checks audio files, rates, lengths, alignments
        speakers[name] = {re.sub(r"-s\d+-p\d+$", "", u.speaker) for u in m.rows}  # voice without speed, pitch
        for u in m.rows:
            src, tgt = name.split(".")[1].split("-")
            assert (u.src_lang, u.tgt_lang) == (src, tgt)
            if name.startswith("train_nonspeech"):
                assert u.src_text == u.tgt_text == "" and u.src_word_end_ms == ()
                continue
            assert len(u.src_word_end_ms) == len(u.src_text.split()) and u.src_word_end_ms[-1] <= u.duration_ms
            assert list(u.tgt_ideal_ms) == sorted(u.tgt_ideal_ms)
            ends = {u.src_word_end_ms[i] for a in u.tgt_align for i in a}
            assert set(u.tgt_ideal_ms) <= ends | {0.0}  # each ideal point is the end of some source word
    held_out = {f"mbrola-{lang}-{v.removeprefix('mb-')}" for lang, vs in voices.HELD_OUT_MBROLA.items() for v in vs}
    for src in ("en", "de"):
        pair = f"{src}-{'de' if src == 'en' else 'en'}"
        assert speakers[f"test_voices.{pair}"] <= held_out
        assert all(s.startswith("espeak-") for s in speakers[f"test.{pair}"])
        assert any(s.startswith("mbrola-") for s in speakers[f"train.{pair}"]), "training hears MBROLA voices"
        assert any(s.startswith("espeak-") for s in speakers[f"train.{pair}"])
        assert not speakers[f"train.{pair}"] & held_out and "mbrola-de-de8" not in speakers[f"train.{pair}"]
        test_texts = [u.src_text for u in read_manifest(tmp_path / f"test.{pair}.jsonl").rows]
        assert [u.src_text for u in read_manifest(tmp_path / f"test_voices.{pair}.jsonl").rows] == test_texts
        assert speakers[f"train_nonspeech.{pair}"] <= {
            "nonspeech-silence",
            "nonspeech-floor",
            "nonspeech-room",
            "nonspeech-hum",
        }
    assert "hours" in corpus_build.summary(manifests)
    again = grammar_corpus.build(tmp_path, n=40, seed=3, n_workers=2, train_voices="mixed")  # from the cache
    assert again == manifests
    plain = grammar_corpus.build(tmp_path / "espeak", n=40, seed=3, n_workers=2)  # the default: espeak-ng train
    for pair in ("en-de", "de-en"):
        assert all(u.speaker.startswith("espeak-") for u in plain[f"train.{pair}"])
        assert [u.src_text for u in plain[f"train.{pair}"]] == [u.src_text for u in manifests[f"train.{pair}"]]
        speakers = {re.sub(r"-s\d+-p\d+$", "", u.speaker) for u in plain[f"test_voices.{pair}"]}
        assert speakers <= held_out, "the held-out voices test in both corpora"


def test_voice_pools_are_disjoint_and_cover_the_mbrola_voices():
    from speech_proactive.data.synth import MBROLA_VOICES

    for lang, names in MBROLA_VOICES.items():
        pools = [set(voices.TRAIN_MBROLA[lang]), set(voices.HELD_OUT_MBROLA[lang]), set(voices.RESERVED_MBROLA[lang])]
        assert set().union(*pools) == set(names) and sum(map(len, pools)) == len(names)
    picks = [voices.pick_training_voice("de", f"k{i}") for i in range(400)]
    share = sum(v.is_mbrola for v in picks) / len(picks)
    assert 0.4 < share < 0.6 and {v.variant for v in picks if v.is_mbrola} == set(voices.TRAIN_MBROLA["de"])
    assert voices.pick_training_voice("de", "k7") == voices.pick_training_voice("de", "k7")


def test_nonspeech_clips_are_what_they_say():
    from speech_proactive.data import nonspeech

    for kind in nonspeech.KINDS:
        c = nonspeech.clip(f"x-{kind}", kind)
        assert c.kind == kind and c.samples.dtype == np.float32
        assert 1000 <= audio.samples_to_ms(c.samples.size) <= 6000
        np.testing.assert_array_equal(c.samples, nonspeech.clip(f"x-{kind}", kind).samples)  # a function of its id
        rms_dbfs = 10 * np.log10(max(float(np.mean(c.samples.astype(np.float64) ** 2)), 1e-30))
        lo, hi = nonspeech.LEVEL_DBFS_RANGE.get(kind, (-300.0, -300.0))
        assert lo - 0.1 <= rms_dbfs <= hi + 0.1 if kind != "silence" else not c.samples.any()
    hum = nonspeech.clip("x-hum", "hum").samples
    spectrum = np.abs(np.fft.rfft(hum))
    peak_hz = np.argmax(spectrum) * audio.SAMPLE_RATE / hum.size
    assert min(abs(peak_hz - k * f) for f in (50, 60) for k in range(1, 6)) < 2, "energy at mains harmonics"
    with pytest.raises(ValueError, match="unknown non-speech kind"):
        nonspeech.clip("x", "music")
