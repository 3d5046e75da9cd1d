"""The spoken-QA generator: determinism, unambiguous questions, evidence bookkeeping, splits, real audio."""

import random
import shutil

import pytest

from speech_proactive.data.corpora import qa_corpus
from speech_proactive.data.corpora.qa import generate, split_of
from speech_proactive.data.corpora.qa.facts import RELATION_BY_KEY, Fact, Shape, state
from speech_proactive.data.corpora.qa.lexicon import PEOPLE
from speech_proactive.data.corpora.qa.passages import _facts, _held_out
from speech_proactive.data.manifest import ManifestError, read_manifest, row_problems
from speech_proactive.evaluation.metrics.qa import normalize

ANNA = PEOPLE[0]


def test_generation_is_deterministic_and_seeded():
    a, b = generate(200, seed=5), generate(200, seed=5)
    assert a == b and len({e.id for e in a}) == 200
    assert [e.text for e in generate(50, seed=6)] != [e.text for e in a[:50]]


def test_stating_a_fact_records_answer_and_evidence_end():
    far = state(Fact("role", ANNA, "Paul", "friend"), Shape("role.1", "{a} is the {x} of {p}."))
    assert far.words == ("Paul", "is", "the", "friend", "of", "Anna.")
    assert far.answer_index == (0,) and far.evidence_end == 5  # answer first, evidence complete at the end
    near = state(Fact("home", ANNA, "Berlin"), Shape("home.1", "{p} lives in {a} | with {pos} family."))
    assert near.words == ("Anna", "lives", "in", "Berlin", "with", "her", "family.")
    assert near.evidence_end == 3  # "with her family" adds nothing
    multi = state(Fact("time", ANNA, "seven o'clock"), Shape("time.1", "At {a} {p} arrives | at the station."))
    assert multi.words[:4] == ("At", "seven", "o'clock", "Anna") and multi.answer_index == (1, 2)
    assert multi.evidence_end == 4


def test_examples_are_extractive_and_their_evidence_contains_the_answer():
    for ex in generate(400, seed=1):
        spoken = normalize(" ".join(ex.words[i] for i in ex.answer_index))
        assert spoken == normalize(ex.answer), ex
        assert set(ex.answer_index) <= set(ex.evidence)
        assert list(ex.evidence) == list(range(ex.evidence[0], ex.evidence[-1] + 1))
        assert ex.position == {0: "early", 2: "end"}.get(ex.asked, "middle")


def test_no_two_facts_of_a_passage_answer_the_same_question():
    rng = random.Random(0)
    for _ in range(300):
        facts = _facts(rng, 3)
        assert len({f.key for f in facts}) == 3
        assert len({f.question() for f in facts}) == 3


def test_splits_come_from_content_and_hold_out_shapes():
    examples = generate(1500, seed=0)
    splits = {e.split for e in examples}
    assert splits == {"train", "dev", "test", "test_shapes"}
    for e in examples:
        assert split_of(e) == e.split
        assert (e.split == "test_shapes") == any(_held_out(s) for s in e.shapes)
    held = {RELATION_BY_KEY[k].shapes[RELATION_BY_KEY[k].held_out].name for k in RELATION_BY_KEY}
    train_shapes = {s for e in examples if e.split == "train" for s in e.shapes}
    assert not held & train_shapes
    assert {e.position for e in examples if e.split == "test"} == {"early", "middle", "end"}


def test_qa_rows_need_a_question_and_a_known_task(tmp_path):
    row = {
        "id": "x",
        "audio": "a.wav",
        "n_samples": 10,
        "src_lang": "en",
        "src_text": "Anna lives in Rome.",
        "tgt_lang": "en",
        "tgt_text": "Rome",
        "speaker": "s",
        "task": "qa",
    }
    assert any("question" in p for p in row_problems(row, tmp_path, check_audio=False))
    assert any("task must be" in p for p in row_problems({**row, "task": "chat"}, tmp_path, check_audio=False))
    assert row_problems({**row, "question": "Where does Anna live?"}, tmp_path, check_audio=False) == []


def test_build_small_corpus_records_the_ideal_moment(tmp_path):
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (make setup installs it)")
    manifests = qa_corpus.build(tmp_path, n=10, seed=2, n_workers=2)
    examples = {e.id: e for e in generate(10, seed=2)}
    rows = [u for name in manifests for u in read_manifest(tmp_path / f"{name}.jsonl").rows]
    assert len(rows) == 10
    for u in rows:
        ex = examples[u.id]
        assert u.task == "qa" and u.question == ex.question and u.tgt_text == ex.answer
        assert u.task_name == "qa" and u.src_lang == u.tgt_lang == "en"
        evidence_end_ms = u.src_word_end_ms[ex.evidence[-1]]
        assert u.tgt_ideal_ms == tuple(evidence_end_ms for _ in ex.answer.split())
        assert 0 < evidence_end_ms <= u.duration_ms
        assert u.meta["position"] == ex.position
    bad = tmp_path / "bad.jsonl"
    bad.write_text((tmp_path / f"{next(iter(manifests))}.jsonl").read_text().replace('"task": "qa"', '"task": "qq"'))
    with pytest.raises(ManifestError, match="task must be"):
        read_manifest(bad)
