"""Quality at matched latency: linear interpolation on the baseline's curve, never extrapolated."""

import json

import pytest

from speech_proactive.evaluation import matched_latency


def row(policy, al, bleu, test="t"):
    return {"test": test, "policy": policy, "family": policy.split(":")[0], "AL": al, "bleu": bleu}


def test_interpolation_between_neighbours_only():
    curve = [(0.0, 10.0), (500.0, 20.0), (1000.0, 40.0)]
    assert matched_latency.interpolate(curve, 250.0) == pytest.approx(15.0)
    assert matched_latency.interpolate(curve, 750.0) == pytest.approx(30.0)
    assert matched_latency.interpolate(curve, 500.0) == pytest.approx(20.0)
    assert matched_latency.interpolate(curve, 1001.0) is None and matched_latency.interpolate(curve, -1.0) is None


def test_gains_against_wait_k_and_cli(tmp_path, capsys):
    rows = [
        row("offline", 3000, 50),
        row("wait-k:1", 0, 10),
        row("wait-k:3", 1000, 30),
        row("entropy:q0.9", 500, 25),
        row("probe:q0.5", 2000, 45),
    ]
    found = {g.policy: g for g in matched_latency.gains(rows)}
    assert set(found) == {"entropy:q0.9", "probe:q0.5"}  # offline and the baseline itself are not compared
    assert found["entropy:q0.9"].gain == pytest.approx(5.0)
    assert found["probe:q0.5"].gain is None
    path = tmp_path / "results.json"
    path.write_text(json.dumps({"rows": rows}))
    assert matched_latency.main([str(path)]) == 0
    out = capsys.readouterr().out
    assert "| t | entropy:q0.9 | 500 | 25.0 | 20.0 | +5.0 |" in out and "outside its range" in out
    path.write_text(json.dumps({"rows": [row("wait-k:1", 0, 10), row("x", 1, 1)]}))
    assert matched_latency.main([str(path)]) == 2 and "at least 2 settings" in capsys.readouterr().err


def test_share_columns_print_as_percent(tmp_path, capsys):
    rows = [
        {**row("wait-k:4", 0, 20), "rco": 0.2, "f1": 20.0},
        {**row("wait-k:8", 0, 40), "rco": 0.6, "f1": 40.0},
        {**row("entropy:q0.5", 0, 0), "rco": 0.4, "f1": 35.0},
    ]
    path = tmp_path / "results.json"
    path.write_text(json.dumps({"rows": rows}))
    assert matched_latency.main([str(path), "--latency", "rco", "--quality", "f1"]) == 0
    assert "| t | entropy:q0.5 | 40% | 35.0 | 30.0 | +5.0 |" in capsys.readouterr().out
