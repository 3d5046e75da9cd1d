"""Spoken QA through the real paths with a tiny random model: the question is the prompt, answers stream out
of a session, the sweep scores them, training takes QA examples. (A random model answers nonsense; these
tests check the plumbing and the bookkeeping, not the answers.)"""

import json
import shutil

import pytest
import torch

from speech_proactive.config import TaskSpec
from speech_proactive.data.corpora import qa_corpus
from speech_proactive.data.manifest import read_manifest
from speech_proactive.evaluation import evaluate
from speech_proactive.streaming.decode import decode_manifest
from speech_proactive.streaming.policies import Offline, WaitK
from speech_proactive.streaming.session import Session
from speech_proactive.training import dataset
from speech_proactive.training.loop import train


@pytest.fixture(scope="module")
def qa_dir(tmp_path_factory):
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (make setup installs it)")
    out = tmp_path_factory.mktemp("qa")
    qa_corpus.build(out, n=8, seed=4, n_workers=2)
    rows = [u for p in sorted(out.glob("*.jsonl")) for u in read_manifest(p).rows]
    from speech_proactive.data.manifest import write_manifest

    write_manifest(out / "all.jsonl", rows)
    return out


def test_the_question_is_part_of_the_prompt():
    with pytest.raises(ValueError, match="question"):
        TaskSpec("qa", "en", "en")
    assert TaskSpec("qa", "en", "en", " Where does Anna live? ").prompt() == "<qa> en: Where does Anna live?"


def test_a_session_answers_differently_for_different_questions(model, speech):
    first_logits = []
    for q in ("Where does Anna live?", "How old is Paul?"):
        s = Session(model, WaitK(k=1), TaskSpec("qa", "en", "en", q))
        assert model.tokenizer.decode(model.prompt_ids(s.task)).endswith(q)
        s.push_audio(speech[:16000])
        with torch.inference_mode():
            out = model.lm.write(s.state.lm, s.state.pending_token)
        first_logits.append(out.logits[-1])
    assert not torch.allclose(*first_logits)  # the model reads the question


def test_qa_manifest_decodes_with_ideal_moments(model, qa_dir):
    m = read_manifest(qa_dir / "all.jsonl")
    decoded = decode_manifest(model, m, Offline(), progress=False)
    assert [d.id for d in decoded] == [u.id for u in m.rows]
    for d, u in zip(decoded, m.rows):
        assert d.task == "qa" and d.ideal_ms == u.tgt_ideal_ms[-1] and d.ref == u.tgt_text
        assert all(t == pytest.approx(u.duration_ms) for t in d.word_delays_ms)  # offline answers at the end


def test_sweep_on_qa_writes_f1_and_answer_latency(bundle, qa_dir, tmp_path):
    out, bundle = tmp_path / "eval", shutil.copytree(bundle, tmp_path / "bundle")  # calibration is saved in it
    assert (
        evaluate.main(
            [
                "--model",
                str(bundle),
                "--manifest",
                str(qa_dir / "all.jsonl"),
                "--policies",
                "offline",
                "wait-k:1",
                "entropy:q0.5",
                "attention:0.5",
                "oracle",
                "--limit",
                "3",
                "--dev",
                str(qa_dir / "all.jsonl"),
                "--out",
                str(out),
            ]
        )
        == 0
    )
    rows = json.loads((out / "results.json").read_text())["rows"]
    assert [r["policy"] for r in rows] == ["offline", "wait-k:1", "entropy:q0.5", "attention:0.5", "oracle"]
    for r in rows:
        assert r["task"] == "qa" and 0 <= r["f1"] <= 100 and 0 < r["rco"] <= 1.0 + 1e-9
    offline = rows[0]
    assert offline["rco"] == pytest.approx(1.0) and offline["after_ideal_ms"] > 0
    assert "| F1 |" in (out / "results.md").read_text() and (out / "curve.png").stat().st_size > 10_000


def test_training_takes_qa_examples(qa_dir, tmp_path):
    from helpers import tiny_cfg

    m = read_manifest(qa_dir / "all.jsonl")
    items = dataset.items([m], ("qa",))
    assert len(items) == len(m.rows) and all(it.task.question == it.utterance.question for it in items)
    with pytest.raises(ValueError, match="no training examples"):
        dataset.items([m], ("st",))  # a QA row is not a translation
    cfg = tiny_cfg(qa_dir / "all.jsonl", tmp_path / "run", tasks=["qa"], max_steps=2, eval_every=2, eval_n=2)
    run = train(cfg)
    assert run.step == 2
    dev = [json.loads(x) for x in (tmp_path / "run" / "log.jsonl").read_text().splitlines() if "dev_f1" in x]
    assert len(dev) == 1 and 0 <= dev[0]["dev_f1"] <= 100  # QA-only dev set: scored by answer F1


def test_simuleval_agent_answers_each_instance_its_own_question(model, bundle, qa_dir, tmp_path):
    """The real `simuleval` CLI on QA: lists written from the manifest, the questions through --tgt-lang; each
    answer is what a session asked that instance's question writes (offline: the whole answer at the end)."""
    from helpers import run_simuleval

    from speech_proactive.data.simuleval_lists import write_lists
    from speech_proactive.evaluation.metrics.instances_log import read_instances

    m = read_manifest(qa_dir / "all.jsonl")
    rows = m.rows[:3]
    assert len({u.question for u in rows}) > 1, "different questions are needed for this test to mean anything"
    lists = tmp_path / "lists"
    write_lists(m, lists, limit=3)
    log = run_simuleval(
        lists,
        bundle,
        "offline",
        tmp_path / "out",
        "--task",
        "qa",
        "--src-lang",
        "en",
        "--tgt-lang",
        str(lists / "tgt_lang.txt"),
    )
    instances = read_instances(log)
    assert len(instances) == 3
    for ins, u, d in zip(instances, rows, decode_manifest(model, m, Offline(), rows, progress=False)):
        assert ins.prediction == " ".join(d.hyp.split()), u.question  # the agent writes words, single-spaced


def test_simuleval_lists_refuse_a_text_that_would_shift_the_lines(qa_dir, tmp_path):
    import dataclasses

    from speech_proactive.data.manifest import Manifest
    from speech_proactive.data.simuleval_lists import write_lists

    m = read_manifest(qa_dir / "all.jsonl")
    bad = Manifest(m.path, [dataclasses.replace(m.rows[0], question="Who\nreads?")])
    with pytest.raises(ValueError, match="line break"):
        write_lists(bad, tmp_path / "lists")
    assert not (tmp_path / "lists" / "source.txt").exists()  # nothing half-written


def test_qa_timeline_equals_a_stream_stopped_after_each_chunk(model, qa_dir, capsys):
    """The timeline's entropy after c chunks is what a session peeking after c chunks sees; the CLI prints it."""
    from speech_proactive import audio
    from speech_proactive.evaluation import qa_timeline
    from speech_proactive.model.frontend import log_mel
    from speech_proactive.model.llm.streaming_lm import LMState

    m = read_manifest(qa_dir / "all.jsonl")
    u = m.rows[0]
    mel = log_mel(audio.load_audio(m.audio_path(u)), model.cfg.frontend)
    t = qa_timeline.timeline(model, mel, u)
    with torch.no_grad():
        source = model.source_vectors(mel[None])[0]
        assert len(t.entropy) == -(-len(source) // model.vectors_per_chunk) >= 2
        for c in (1, len(t.entropy)):
            st = LMState()
            model.lm.start(st, model.prompt_ids(TaskSpec("qa", "en", "en", u.question)))
            model.lm.read(st, source[: c * model.vectors_per_chunk])
            log_p = torch.log_softmax(model.lm.write(st, model.start_id).logits[0, -1].float(), -1)
            assert float(-(log_p.exp() * log_p).sum()) == pytest.approx(t.entropy[c - 1], abs=1e-4)
    assert 1 <= t.ideal_chunk <= len(t.entropy) and t.position in ("early", "middle", "end")


def test_qa_timeline_cli_prints_the_table(bundle, qa_dir, capsys):
    from speech_proactive.evaluation import qa_timeline

    assert qa_timeline.main(["--model", str(bundle), "--manifest", str(qa_dir / "all.jsonl"), "--limit", "4"]) == 0
    out = capsys.readouterr().out
    assert "after the evidence" in out and "+0 chunks" in out and "nats" in out
