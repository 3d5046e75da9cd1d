"""The learned probe: its self-made labels, features equal to what the session shows it, its file in the
bundle, the policy's decisions, and the probe through the evaluate CLI."""

import dataclasses
import json
import shutil
import types

import pytest
import torch

from speech_proactive.config import TaskSpec
from speech_proactive.data.manifest import read_manifest
from speech_proactive.evaluation import evaluate
from speech_proactive.model.frontend import log_mel
from speech_proactive.streaming import calibrate
from speech_proactive.streaming.policies import Action, Policy, PolicyView, Probe
from speech_proactive.streaming.policy_spec import parse_policy
from speech_proactive.streaming.probe_head import ProbeHead, ProbeMissing, features, load_probe, save_probe
from speech_proactive.streaming.session import Session
from speech_proactive.training import probe
from speech_proactive.training.probe_data import (
    Examples,
    LabelConfig,
    asked,
    collect,
    kl_divergence,
    partial_views,
    sufficient,
    utterance_examples,
)

READ, WRITE = Action.READ, Action.WRITE


def test_label_rule_on_hand_built_logits():
    full = torch.tensor([[4.0, 0.0, 0.0], [4.0, 0.0, 0.0], [8.0, 0.0, 0.0]])
    partial = torch.tensor(
        [
            [3.8, 0.0, 0.0],  # same argmax, close distribution
            [0.0, 4.0, 0.0],  # another token
            [1.0, 0.9, 0.9],
        ]
    )  # same argmax, but far less sure than the full view
    kl = kl_divergence(full, partial)
    assert kl[0] < 0.01 and kl[2] > 0.5
    assert sufficient(full, partial, kl_bound=0.5).tolist() == [True, False, False]
    assert sufficient(full, partial, kl_bound=float(kl[2]) + 1).tolist() == [True, False, True]
    assert float(kl_divergence(full, full).abs().max()) < 1e-6
    with pytest.raises(ValueError, match="kl_bound"):
        LabelConfig(kl_bound=0.0)


def test_examples_sit_where_the_session_asks():
    """Word granularity: the first query, and queries whose partial argmax starts a word or is EOS (even
    where the tokenizer does not count EOS as a word start)."""
    inside, start, eos = 0, 1, 2
    vocab = types.SimpleNamespace(word_starts=[False, True, False], eos_id=eos)
    top = [inside, start, inside, eos, start]
    logits = torch.nn.functional.one_hot(torch.tensor([top]), 3).float()
    assert asked(vocab, logits, "word")[0].tolist() == [True, True, False, True, True]
    assert asked(vocab, logits, "token").all()


@dataclasses.dataclass(frozen=True)
class ReadThenWrite(Policy):
    """READ until `chunk` chunks were heard, then WRITE; records the views (test only: not pure)."""

    chunk: int = 3
    seen: list = dataclasses.field(default_factory=list, compare=False)
    needs_logits = True
    needs_hidden = True

    def decide(self, v: PolicyView) -> Action:
        self.seen.append(v)
        return READ if v.n_chunks_read < self.chunk else WRITE


def token_index(model, tokens: list[int], n_words: int) -> int:
    """Tokens written before word number n_words begins."""
    starts = [i for i, t in enumerate(tokens) if i == 0 or model.word_starts[t]]
    return starts[n_words] if n_words < len(starts) else len(tokens)


def test_collected_views_equal_what_the_session_shows(model, speech):
    """Invariant: the probe's training features at (c chunks, query t) are the hidden state and logits the
    streaming session shows the policy at that point, and examples sit exactly where the session asks."""
    c, task = 3, TaskSpec("st", "en", "de")
    policy = ReadThenWrite(chunk=c)
    s = Session(model, policy, task)
    for i in range(0, len(speech), 5120):
        s.push_audio(speech[i : i + 5120], finished=i + 5120 >= len(speech))
    n_src = c * model.vectors_per_chunk
    tokens = [t for t, n in zip(s.state.tokens, s.state.token_n_source) if n == n_src]  # written at chunk c
    at_c = [v for v in policy.seen if v.n_chunks_read == c and not v.source_finished]
    assert len(tokens) > 2 and len(at_c) >= 2, "the test needs words written at chunk c"
    mel = log_mel(speech, model.cfg.frontend)
    with torch.no_grad():
        source = model.source_vectors(mel[None])[0]
        queries = torch.tensor([model.start_id, *tokens])
        v = partial_views(model, model.prompt_ids(task), source, queries, [c])
    ts = [token_index(model, tokens, view.n_words_written) for view in at_c]
    assert max(ts) > 0  # a later word, after tokens that see c chunks in both
    for view, t in zip(at_c, ts):
        torch.testing.assert_close(view.hidden, v.hidden[0, t], rtol=1e-4, atol=1e-4)
        torch.testing.assert_close(view.next_logits, v.logits[0, t], rtol=1e-4, atol=1e-4)
    where = asked(model, v.logits, "word")[0, : len(tokens)]
    assert [t for t in range(len(tokens)) if where[t]] == [t for t in ts if t < len(tokens)]
    # the whole collection path (its own greedy target) at the first query after c chunks
    ex = utterance_examples(model, mel, task, LabelConfig(), group=0)
    first = int((ex.n_chunks == c).nonzero()[0])
    torch.testing.assert_close(ex.features[first], features(at_c[0].hidden, at_c[0].next_logits), rtol=1e-4, atol=1e-4)
    assert set(ex.n_chunks.tolist()) == set(range(1, -(-len(source) // model.vectors_per_chunk)))


def hand_head(n_features: int, weight: float = 10.0) -> ProbeHead:
    """Logistic regression on feature 0 (the first hidden unit): positive means sufficient."""
    w2 = torch.zeros(n_features)
    w2[0] = weight
    return ProbeHead(
        torch.zeros(n_features),
        torch.ones(n_features),
        torch.zeros(0, n_features),
        torch.zeros(0),
        w2,
        torch.tensor(0.0),
    )


def test_probe_policy_decisions_on_hand_built_views():
    head, logits = hand_head(5), torch.zeros(7)
    sure, unsure = torch.tensor([1.0, 0, 0, 0]), torch.tensor([-1.0, 0, 0, 0])

    def view(hidden, finished=False):
        return PolicyView(2, finished, 1, next_logits=logits, hidden=hidden)

    p = Probe(threshold=0.5, head=head)
    assert p.score(view(sure)) == pytest.approx(1 - torch.sigmoid(torch.tensor(10.0)).item())
    assert p.decide(view(sure)) is WRITE and p.decide(view(unsure)) is READ
    assert p.decide(view(unsure, finished=True)) is WRITE
    assert Probe(threshold=1.0, head=head).decide(view(unsure)) is WRITE  # score 1 - p never exceeds 1
    assert Probe.needs_hidden and Probe.needs_logits
    with pytest.raises(ValueError, match="python -m speech_proactive.training.probe"):
        Probe().decide(view(sure))
    assert Probe(0.5, head, "abc") == Probe(0.5, hand_head(5, 3.0), "abc")  # weights are named by probe_id
    assert calibrate.key(Probe(0.5, head, "abc")) == "Probe:probe_id=abc"


def test_probe_specs():
    spec = parse_policy("probe:q0.9")
    assert isinstance(spec.policy, Probe) and spec.quantile == 0.9 and spec.policy.head is None
    assert parse_policy("probe:0.3").policy.threshold == 0.3
    with pytest.raises(ValueError, match="at most 1"):
        parse_policy("probe:0.3:2")


def separable(n: int, n_features: int, seed: int = 0) -> Examples:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, n_features, generator=g) * 3 + 1
    y = (x[:, 0] + 0.5 * x[:, 1] > 1).float()
    return Examples(x, y, torch.zeros(n), torch.ones(n, dtype=torch.long), torch.arange(n) // 10)


def test_training_learns_a_separable_rule_and_reports_honestly():
    ex = separable(2000, 9)
    train, held = probe.split(ex, 0.2, seed=0)
    assert not set(train.group.tolist()) & set(held.group.tolist())  # whole utterances held out
    head = probe.train_head(train, probe.ProbeConfig(epochs=15))
    s = probe.evaluate_head(head, held)
    assert s.n == len(held) and 0.2 < s.base_rate < 0.8
    assert s.accuracy > 0.9 and s.auc > 0.97
    assert probe.auc(torch.tensor([0.1, 0.4, 0.35, 0.8]), torch.tensor([0.0, 0.0, 1.0, 1.0])) == 0.75
    assert probe.auc(torch.ones(4), torch.tensor([0.0, 1.0, 0.0, 1.0])) == 0.5  # ties count half
    with pytest.raises(ValueError, match="both sufficient and insufficient"):
        probe.train_head(ex.subset(ex.labels == 1), probe.ProbeConfig())


def test_probe_file_round_trip_through_the_bundle(model, bundle, tmp_path):
    bundle = shutil.copytree(bundle, tmp_path / "bundle")
    d = model.lm.hidden_size
    head = probe.train_head(separable(300, d + 1), probe.ProbeConfig(epochs=2))
    save_probe(bundle, head, {"kl_bound": 0.5, "manifests": ["x.jsonl"]})
    assert sorted(p.name for p in bundle.iterdir() if p.name.startswith(".")) == []  # no temporary file left
    loaded = load_probe(bundle)
    for k, v in head.tensors().items():
        torch.testing.assert_close(loaded.head.tensors()[k], v)
    assert loaded.info == {"kl_bound": 0.5, "manifests": ["x.jsonl"]}
    assert json.loads((bundle / "probe.json").read_text()) == loaded.info
    p = calibrate.resolve(parse_policy("probe:0.4"), bundle, model)
    assert p.threshold == 0.4 and p.probe_id == loaded.probe_id and len(p.probe_id) == 12
    hidden, logits = torch.randn(d), torch.randn(model.lm.vocab_size)
    assert p.score(PolicyView(1, False, 0, next_logits=logits, hidden=hidden)) == pytest.approx(
        1 - float(head.p_sufficient(hidden, logits)), abs=1e-6
    )
    save_probe(bundle, hand_head(d), {})  # a probe for another model's hidden size is refused
    with pytest.raises(ValueError, match=f"this model's are {d}-dim"):
        calibrate.resolve(parse_policy("probe:0.5"), bundle, model)


def test_probe_without_a_trained_head_says_how_to_train_one(model, bundle, capsys):
    from helpers import REPO

    with pytest.raises(ProbeMissing, match="python -m speech_proactive.training.probe --model"):
        calibrate.resolve(parse_policy("probe:q0.9"), bundle, model)
    samples = REPO / "audio_samples" / "samples.jsonl"
    assert evaluate.main(["--model", str(bundle), "--manifest", str(samples), "--policies", "probe:0.5"]) == 2
    assert "no probe.pt" in capsys.readouterr().err


def test_probe_cli_then_evaluate_cli_end_to_end(model, bundle, tmp_path, capsys):
    """Train a probe with its CLI on the shipped samples, then sweep `probe:q0.5` through evaluate."""
    from helpers import REPO

    samples = REPO / "audio_samples" / "samples.jsonl"
    bundle = shutil.copytree(bundle, tmp_path / "bundle")
    # a random model barely listens to the audio: put the bound where both labels occur
    kl = collect(model, [read_manifest(samples)], 2, LabelConfig(), progress=False).kl
    bound = float(kl.median())
    assert (
        probe.main(
            [
                "--model",
                str(bundle),
                "--manifest",
                str(samples),
                "--limit",
                "3",
                "--kl-bound",
                str(bound),
                "--epochs",
                "3",
            ]
        )
        == 0
    )
    info = json.loads((bundle / "probe.json").read_text())
    assert info["labels"]["kl_bound"] == bound and info["data"]["manifests"] == [str(samples)]
    assert info["data"]["n_utterances"] == 3 and 0 < info["data"]["base_rate"] < 1
    assert info["data"]["n_examples"] == info["train_scores"]["n"] + info["held_out_scores"]["n"]
    assert "held-out" in capsys.readouterr().out
    out = tmp_path / "eval"
    assert (
        evaluate.main(
            [
                "--model",
                str(bundle),
                "--manifest",
                str(samples),
                "--dev",
                str(samples),
                "--policies",
                "probe:q0.5",
                "wait-k:2",
                "--limit",
                "2",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    rows = json.loads((out / "results.json").read_text())["rows"]
    assert [r["policy"] for r in rows] == ["probe:q0.5", "wait-k:2"] and rows[0]["n"] == 2
    key = f"Probe:probe_id={load_probe(bundle).probe_id}"
    assert key in json.loads((bundle / "calibration.json").read_text())


@dataclasses.dataclass(frozen=True)
class RecordingProbe(Probe):
    """The probe, recording its decisions (test only)."""

    seen: list = dataclasses.field(default_factory=list, compare=False)

    def decide(self, v: PolicyView) -> Action:
        action = super().decide(v)
        self.seen.append((v.n_written, action))
        return action


def test_session_with_the_probe_equals_batch(model, speech):
    """Peeking for the probe (hidden state + logits, then READ) leaves no trace: session == batch forward."""
    from helpers import batch_logits, run

    g = torch.Generator().manual_seed(1)
    head = probe.init_head(torch.randn(64, model.lm.hidden_size + 1, generator=g), 8, g)
    task = TaskSpec("st", "en", "de")
    policy = RecordingProbe(threshold=0.465, head=head)  # this random head's scores straddle 0.465
    s = run(Session(model, policy, task), speech, [5120] * 3 + [777, 3000])
    tokens, n_source = s.state.tokens, s.state.token_n_source
    assert any(n > 0 and a is READ for n, a in policy.seen) and any(a is WRITE for _, a in policy.seen), (
        "the probe should READ after a WRITE for this test to cover the peek"
    )
    logits, _ = batch_logits(model, speech, task, tokens, n_source)
    assert logits[: len(tokens)].argmax(-1).tolist() == tokens
