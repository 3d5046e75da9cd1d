"""Answer scores (SQuAD's EM/F1) and answer timing against the ideal moment."""

import math

import pytest

from speech_proactive.evaluation import results
from speech_proactive.evaluation.metrics.qa import (
    AnswerTiming,
    answer_timing,
    exact_match,
    f1,
    normalize,
    score_answers,
)
from speech_proactive.streaming.decode import Decoded


def test_normalisation_and_token_f1_follow_squad():
    assert normalize("The  Eiffel-Tower!") == "eiffeltower"
    assert exact_match("the Berlin.", "Berlin") == 1.0 and exact_match("Bern", "Berlin") == 0.0
    assert f1("seven o'clock", "seven o'clock") == 1.0
    assert f1("seven", "seven o'clock") == pytest.approx(2 * 1.0 * 0.5 / 1.5)  # P = 1, R = 1/2
    assert f1("cat sat", "the cat sat on a mat") == pytest.approx(2 * 1.0 * 0.5 / 1.5)  # articles dropped
    assert f1("", "Berlin") == 0.0 and f1("", "") == 1.0


def test_an_empty_answer_counts_as_given_at_the_end():
    assert answer_timing((), 1000.0, 5000.0).answer_ms == 5000.0
    assert answer_timing((640.0, 960.0), 1000.0, 5000.0).after_ideal_ms == pytest.approx(-40.0)


def test_scores_of_a_hand_built_set():
    timings = [
        AnswerTiming(1500.0, 1000.0, 6000.0),  # early evidence, answered within 1 s
        AnswerTiming(2500.0, 1000.0, 6000.0),  # early evidence, 1.5 s late
        AnswerTiming(3000.0, 4000.0, 6000.0),  # a guess before the evidence
        AnswerTiming(6000.0, 5500.0, 6000.0),
    ]
    s = score_answers(["Berlin", "two", "Paul", ""], ["Berlin", "two o'clock", "Anna", "red"], timings)
    assert s.em == pytest.approx(25.0)
    assert s.f1 == pytest.approx(100 * (1 + 2 / 3) / 4)
    assert s.after_ideal_ms == pytest.approx((500 + 1500 - 1000 + 500) / 4)
    assert s.after_ideal_median_ms == pytest.approx(500.0)
    assert s.rco == pytest.approx((1500 + 2500 + 3000 + 6000) / 6000 / 4)
    assert s.ideal_rco == pytest.approx((1000 + 1000 + 4000 + 5500) / 6000 / 4)
    assert s.early_within_1s == pytest.approx(0.5) and s.before_ideal == pytest.approx(0.25) and s.n_empty == 1
    assert math.isnan(score_answers(["x"], ["x"], [timings[3]]).early_within_1s)  # no early example
    with pytest.raises(ValueError, match="equal"):
        score_answers(["x"], [], [])


def test_evaluate_scores_qa_rows_and_tabulates_them():
    decoded = [
        Decoded("a", "Berlin", "Berlin", (1280.0,), (1300.0,), 4000.0, 20.0, "qa", 1100.0, "en", "en"),
        Decoded("b", "", "Rome", (), (), 4000.0, 20.0, "qa", 3900.0, "en", "en"),
    ]
    row = results.score_row("test.qa-en.jsonl", "offline", decoded)
    assert row["task"] == "qa" and row["f1"] == pytest.approx(50.0) and row["em"] == pytest.approx(50.0)
    assert row["after_ideal_ms"] == pytest.approx((180.0 + 100.0) / 2)
    table = results.results_table([row])
    assert "| F1 |" in table and "| offline | 2 | 50.0 | 50.0 |" in table and "BLEU" not in table
    missing = [Decoded("c", "x", "y", (1.0,), (1.0,), 10.0, 1.0, "qa", None, "en", "en")]
    with pytest.raises(ValueError, match="ideal moment"):
        results.score_row("test.qa-en.jsonl", "offline", missing)
