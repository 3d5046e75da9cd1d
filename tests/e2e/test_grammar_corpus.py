"""The default corpus end to end on a few sentences: real espeak-ng speech, valid manifests, ideal read points."""

import pytest

from speech_proactive.data.corpora import corpus_build, grammar_corpus
from speech_proactive.data.manifest import read_manifest


def test_build_small_corpus(tmp_path):
    import shutil

    from helpers import espeak  # noqa: F401  (skips with a reason when espeak-ng is missing)

    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (make setup installs it)")
    manifests = grammar_corpus.build(tmp_path, n=12, seed=3, n_workers=2)
    assert sum(len(r) for r in manifests.values()) == 24  # every sentence in both directions
    for name in manifests:
        m = read_manifest(tmp_path / f"{name}.jsonl")  # checks audio files, rates, lengths, alignments
        for u in m.rows:
            src, tgt = name.split(".")[1].split("-")
            assert (u.src_lang, u.tgt_lang) == (src, tgt)
            assert len(u.src_word_end_ms) == len(u.src_text.split()) and u.src_word_end_ms[-1] <= u.duration_ms
            assert list(u.tgt_ideal_ms) == sorted(u.tgt_ideal_ms)
            ends = {u.src_word_end_ms[i] for a in u.tgt_align for i in a}
            assert set(u.tgt_ideal_ms) <= ends | {0.0}  # each ideal point is the end of some source word
    assert "hours" in corpus_build.summary(manifests)
    again = grammar_corpus.build(tmp_path, n=12, seed=3, n_workers=2)  # resumable: same result from the cache
    assert again == manifests
