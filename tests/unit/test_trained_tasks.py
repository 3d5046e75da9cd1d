"""What a bundle was trained on decides what it may be asked: every entry point refuses the rest, by name."""

import json

import pytest

from speech_proactive import Session
from speech_proactive.config import TaskSpec
from speech_proactive.data.manifest import Utterance, write_manifest
from speech_proactive.data.manifest import read_manifest as read_data_manifest
from speech_proactive.model.bundle import save_bundle
from speech_proactive.model.trained_tasks import (
    TaskKey,
    UnknownTask,
    check_task,
    known_tasks,
    resolve_task,
    row_tasks,
    to_meta,
)

BOTH_WAYS = [
    TaskKey("asr", "de", "de"),
    TaskKey("asr", "en", "en"),
    TaskKey("st", "de", "en"),
    TaskKey("st", "en", "de"),
]


@pytest.fixture(scope="module")
def both_ways_bundle(tmp_path_factory, model):
    return save_bundle(model, tmp_path_factory.mktemp("known") / "b", meta={"tasks": to_meta(BOTH_WAYS)})


def test_missing_language_is_taken_from_the_bundle_when_one_choice_is_left():
    assert resolve_task("st", None, "en", known=BOTH_WAYS) == TaskSpec("st", "de", "en")
    assert resolve_task("st", "en", None, known=BOTH_WAYS) == TaskSpec("st", "en", "de")
    assert resolve_task("asr", "de", "fr", known=BOTH_WAYS) == TaskSpec("asr", "de", "de")  # asr stays in the source


def test_a_pair_it_was_not_trained_on_is_refused_with_what_it_knows():
    with pytest.raises(UnknownTask, match=r"st de>en, st en>de.*\(task st, source en, target en\) is none of them"):
        resolve_task("st", "en", "en", known=BOTH_WAYS)
    with pytest.raises(UnknownTask, match="fits more than one"):
        resolve_task("st", None, None, known=BOTH_WAYS)
    with pytest.raises(UnknownTask, match=r"qa de; the request \(task qa, source en\) is none of them"):
        resolve_task("qa", "en", None, "who?", known=BOTH_WAYS + [TaskKey("qa", "de", "de")])
    with pytest.raises(UnknownTask, match="was not trained for st fr>en"):
        check_task(TaskSpec("st", "fr", "en"), BOTH_WAYS)
    check_task(TaskSpec("st", "de", "en"), BOTH_WAYS)  # known: no error


def test_unknown_bundles_keep_the_old_defaults():
    assert resolve_task("st", None, None, known=None) == TaskSpec("st", "en", "de")
    check_task(TaskSpec("st", "xx", "yy"), None)


def test_older_bundles_are_read_from_their_training_manifests(tmp_path, monkeypatch):
    rows = [
        Utterance("a", "a.wav", 16000, "de", "hallo", "en", "hello", "s"),
        Utterance("b", "b.wav", 16000, "en", "hello", "en", "hello", "s"),
    ]  # an asr-only row
    write_manifest(tmp_path / "train.jsonl", rows)
    monkeypatch.chdir(tmp_path)  # training config paths are relative to where training ran
    meta = {"train_config": {"train": ["train.jsonl"], "tasks": ["st", "asr"]}}
    assert known_tasks(meta) == [TaskKey("asr", "de", "de"), TaskKey("asr", "en", "en"), TaskKey("st", "de", "en")]
    assert known_tasks({"train_config": {"train": ["gone.jsonl"]}}) is None
    assert [t.task for t in row_tasks(rows[0], ("st",))] == ["st"] and row_tasks(rows[1], ("st",)) == []


def test_session_from_bundle(both_ways_bundle):
    s = Session.from_bundle(both_ways_bundle, policy="wait-k:2", tgt_lang="en")
    assert s.task == TaskSpec("st", "de", "en") and s.policy.k == 2 and s.chunk_ms == 320
    with pytest.raises(UnknownTask, match="st en>de"):
        Session.from_bundle(both_ways_bundle, src_lang="en", tgt_lang="en")


def test_translate_refuses_an_unknown_pair(both_ways_bundle, speech_wav, capsys):
    from speech_proactive.apps import translate

    assert (
        translate.main(["--model", str(both_ways_bundle), "--src-lang", "en", "--tgt-lang", "en", str(speech_wav)]) == 2
    )
    err = capsys.readouterr().err
    assert "st de>en, st en>de" in err and "is none of them" in err
    assert (
        translate.main(["--model", str(both_ways_bundle), "--tgt-lang", "de", "--policy", "wait-k", str(speech_wav)])
        == 0
    )
    final = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert final["final"] is True and final["audio_ms"] > 0


def test_evaluate_refuses_a_test_set_of_an_unknown_pair(both_ways_bundle, tmp_path, speech_wav, capsys):
    from speech_proactive.evaluation import evaluate

    write_manifest(tmp_path / "t.jsonl", [Utterance("u", str(speech_wav), 16000, "fr", "x", "en", "x", "s")])
    assert evaluate.main(["--model", str(both_ways_bundle), "--manifest", str(tmp_path / "t.jsonl")]) == 2
    assert "was not trained for st fr>en" in capsys.readouterr().err


def test_simuleval_lists_record_each_source_language(tmp_path, speech_wav):
    from speech_proactive.data.simuleval_lists import write_lists

    rows = [
        Utterance("a", str(speech_wav), 16000, "de", "hallo", "en", "hello", "s"),
        Utterance("b", str(speech_wav), 16000, "en", "hello", "de", "hallo", "s"),
    ]
    write_lists(read_data_manifest(write_manifest(tmp_path / "m.jsonl", rows), check_audio=False), tmp_path / "lists")
    assert (tmp_path / "lists" / "src_lang.txt").read_text() == "de\nen\n"
    assert (tmp_path / "lists" / "tgt_lang.txt").read_text() == "en\nde\n"


def test_live_refuses_an_unknown_pair(both_ways_bundle, speech_wav, capsys):
    from speech_proactive.apps.live.__main__ import main

    with pytest.raises(SystemExit) as e:
        main(["--model", str(both_ways_bundle), "--wav", str(speech_wav), "--src-lang", "en", "--tgt-lang", "en"])
    assert e.value.code == 2 and "is none of them" in capsys.readouterr().err


def test_simuleval_agent_refuses_an_unknown_pair_and_infers_the_source(both_ways_bundle):
    from argparse import ArgumentParser

    from speech_proactive.integrations.simuleval_agent import SpeechProactiveAgent

    p = ArgumentParser()
    SpeechProactiveAgent.add_args(p)
    with pytest.raises(UnknownTask, match="is none of them"):
        SpeechProactiveAgent(
            p.parse_args(["--model", str(both_ways_bundle), "--src-lang", "en", "--target-lang", "en"])
        )
    agent = SpeechProactiveAgent(p.parse_args(["--model", str(both_ways_bundle)]))
    agent.states.tgt_lang = "en"  # what a --tgt-lang list line gives an instance: German audio, then
    assert agent._task() == TaskSpec("st", "de", "en")
    agent.states.tgt_lang = "fr"
    with pytest.raises(UnknownTask, match="target fr"):
        agent._task()
