"""Evaluation: word times from real streaming, policy specs and grids, the sweep's files, sharding + merge."""

import json

import pytest

from speech_proactive.data.manifest import Utterance, read_manifest
from speech_proactive.evaluation import evaluate, results
from speech_proactive.evaluation.baselines import copy_source, nearest_neighbour
from speech_proactive.streaming.decode import decode_manifest
from speech_proactive.streaming.policies import Entropy, Oracle, WaitK
from speech_proactive.streaming.policy_spec import expand_grid, parse_policy
from speech_proactive.streaming.session import complete_words


def test_complete_words():
    assert [complete_words(t) for t in ["", " der", " der alte", " der alte "]] == [0, 0, 1, 2]


def test_baselines():
    mk = lambda i, s, t: Utterance(str(i), "x.wav", 1, "en", s, "de", t, "x")  # noqa: E731
    train = [mk(0, "the man reads a book", "der mann liest ein buch"), mk(1, "the child plays", "das kind spielt")]
    test = [mk(2, "the child plays now", "das kind spielt jetzt")]
    assert nearest_neighbour(train, test) == ["das kind spielt"]
    assert copy_source(test) == ["the child plays now"]


def test_policy_specs_and_grids():
    assert parse_policy("wait-k:3:1").policy == WaitK(k=3, per_chunk=1)
    spec = parse_policy("entropy:q0.9")
    assert spec.quantile == 0.9 and isinstance(spec.policy, Entropy)
    assert parse_policy("entropy:0.7").policy == Entropy(threshold=0.7) and parse_policy("entropy:0.7").quantile is None
    assert expand_grid("wait-k:1,2:1,3") == ["wait-k:1:1", "wait-k:1:3", "wait-k:2:1", "wait-k:2:3"]
    assert expand_grid("offline") == ["offline"]
    for bad, why in (
        ("wait-k:x", "not an integer"),
        ("entropy:q1.5", "outside 0..1"),
        ("nope", "unknown name"),
        ("wait-k:1:2:3", "at most 2"),
        ("wait-k:0", "k >= 1"),
    ):
        with pytest.raises(ValueError, match=why):
            parse_policy(bad)


def test_decode_samples_with_a_random_model(model):
    """The shipped samples decode end to end; a random model's BLEU is honest nonsense (near 0)."""
    from helpers import REPO

    m = read_manifest(REPO / "audio_samples" / "samples.jsonl")
    decoded = decode_manifest(model, m, WaitK(k=2, per_chunk=1), m.rows[:2], progress=False)
    row = results.score_row("samples.en-de.jsonl", "wait-k:2:1", decoded)
    assert row["n"] == 2 and row["bleu"] < 5 and row["rtf"] > 0 and "wer" not in row
    for d in decoded:
        assert len(d.word_delays_ms) == len(d.hyp.split()) == len(d.word_elapsed_ms)
        assert list(d.word_delays_ms) == sorted(d.word_delays_ms) and max(d.word_delays_ms, default=0) <= d.source_ms
        assert all(e >= t for e, t in zip(d.word_elapsed_ms, d.word_delays_ms))  # compute time only adds


def test_oracle_needs_alignments(model, tmp_path):
    from helpers import REPO

    m = read_manifest(REPO / "audio_samples" / "samples.jsonl")
    plain = Utterance(**{**m.rows[0].__dict__, "tgt_ideal_ms": None})
    with pytest.raises(ValueError, match="tgt_ideal_ms"):
        decode_manifest(model, m, Oracle(), [plain], progress=False)


def sweep(bundle, out, *extra):
    from helpers import REPO

    return evaluate.main(
        [
            "--model",
            str(bundle),
            "--manifest",
            str(REPO / "audio_samples" / "samples.jsonl"),
            "--policies",
            "offline",
            "wait-k:1,3",
            "oracle",
            "--limit",
            "3",
            "--out",
            str(out),
            *extra,
        ]
    )


def test_sweep_writes_results_table_and_curve(bundle, tmp_path, capsys):
    assert sweep(bundle, tmp_path / "all") == 0
    rows = json.loads((tmp_path / "all" / "results.json").read_text())["rows"]
    assert [r["policy"] for r in rows] == ["offline", "wait-k:1", "wait-k:3", "oracle"]
    for r in rows:
        assert r["n"] == 3 and r["AL_CA"] >= r["AL"] and r["LAAL"] >= r["AL"] - 1e-9
    assert "| wait-k:3 | 3 |" in (tmp_path / "all" / "results.md").read_text()
    assert (tmp_path / "all" / "curve.png").stat().st_size > 10_000
    assert "wait-k:1" in capsys.readouterr().out


def test_shards_merge_to_the_unsharded_result(bundle, tmp_path):
    sweep(bundle, tmp_path / "all")
    for i in range(2):
        assert sweep(bundle, tmp_path / f"s{i}", "--shard", f"{i}/2") == 0
    assert not (tmp_path / "s0" / "results.json").exists()  # a shard only decodes
    assert evaluate.main(["--merge", str(tmp_path / "s0"), str(tmp_path / "s1"), "--out", str(tmp_path / "m")]) == 0
    whole = {r["policy"]: r for r in json.loads((tmp_path / "all" / "results.json").read_text())["rows"]}
    merged = {r["policy"]: r for r in json.loads((tmp_path / "m" / "results.json").read_text())["rows"]}
    assert whole.keys() == merged.keys()
    for k in whole:  # compute times differ between runs; what was decoded and when must not
        for metric in ("n", "bleu", "AL", "LAAL", "DAL", "ATD"):
            assert merged[k][metric] == pytest.approx(whole[k][metric]), (k, metric)


def test_sweep_rejects_bad_arguments(bundle, capsys):
    with pytest.raises(SystemExit):
        evaluate.main(["--model", str(bundle), "--manifest", "x.jsonl", "--policies", "wait-k:zero"])
    assert "not an integer" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        evaluate.main(["--manifest", "x.jsonl"])
