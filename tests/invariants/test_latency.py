"""Latency and quality scorer: hand-computed examples, and equality with SimulEval 1.1.4's own scorers on an
instances.log that the real `simuleval` CLI wrote."""

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from speech_proactive.evaluation.metrics import instances_log, quality
from speech_proactive.evaluation.metrics import latency as lat

# One instance worked by hand: 5 words for a 4-word reference over 2 s of audio, written after 2, 2 and
# 4 segments of 320 ms and at the end of the input.
DELAYS = [640.0, 640.0, 1280.0, 2000.0, 2000.0]
ELAPSED = [700.0, 700.0, 1400.0, 2300.0, 2300.0]  # + 60, 60, 120, 300, 300 ms of computation so far
SOURCE_MS, REF_LEN = 2000.0, 4


def test_al_by_hand():
    # ideal: word i after i * 2000 / 4 = 500 i ms; the 4th word (at 2000 = the whole source) is the last counted
    expected = ((640 - 0) + (640 - 500) + (1280 - 1000) + (2000 - 1500)) / 4
    assert lat.latency(DELAYS, SOURCE_MS, REF_LEN).al_ms == pytest.approx(expected) == pytest.approx(390)


def test_laal_differs_from_al_when_the_hypothesis_is_longer():
    # LAAL's length term is max(|hyp| = 5, |ref| = 4): ideal word i after 400 i ms
    expected = ((640 - 0) + (640 - 400) + (1280 - 800) + (2000 - 1200)) / 4
    scores = lat.latency(DELAYS, SOURCE_MS, REF_LEN)
    assert scores.laal_ms == pytest.approx(expected) == pytest.approx(540)
    assert scores.laal_ms > scores.al_ms  # an over-long output cannot buy a low AL
    # with the hypothesis not longer than the reference, the two agree
    short = lat.latency(DELAYS[:3], SOURCE_MS, REF_LEN)
    assert short.laal_ms == pytest.approx(short.al_ms)


def test_ap_dal_offsets_by_hand():
    s = lat.latency(DELAYS, SOURCE_MS, REF_LEN)
    assert s.ap == pytest.approx(sum(DELAYS) / (SOURCE_MS * REF_LEN)) == pytest.approx(0.82)
    # DAL (|hyp| = 5, 400 ms per word): g' = 640, max(640, 1040), max(1280, 1440), max(2000, 1840), max(2000, 2400)
    assert s.dal_ms == pytest.approx(((640 - 0) + (1040 - 400) + (1440 - 800) + (2000 - 1200) + (2400 - 1600)) / 5)
    assert (s.start_offset_ms, s.end_offset_ms) == (640, 0)


def test_atd_by_hand():
    # Source chunks end at 640, 1280, 2000 ms; cut into 300 ms words: ends 300 600 640 | 940 1240 1280 | ...
    # Word 1 -> source word 1 (300), 2 -> 2 (600), 3 -> 3 (640), 4 -> 4 (940), 5 -> 5 (1240).
    expected = ((640 - 300) + (640 - 600) + (1280 - 640) + (2000 - 940) + (2000 - 1240)) / 5
    assert lat.latency(DELAYS, SOURCE_MS, REF_LEN).atd_ms == pytest.approx(expected) == pytest.approx(568)


def test_computation_aware_adds_compute_time():
    plain, ca = lat.latency(DELAYS, SOURCE_MS, REF_LEN), lat.latency(DELAYS, SOURCE_MS, REF_LEN, ELAPSED)
    # AL on elapsed: 2300 >= 2000 ends the sum at the 4th word, as 2000 did without computation
    expected = ((700 - 0) + (700 - 500) + (1400 - 1000) + (2300 - 1500)) / 4
    assert ca.al_ms == pytest.approx(expected) == pytest.approx(525) and ca.al_ms > plain.al_ms
    # ATD adds each word's compute increment (60, 0, 60, 180, 0) to its non-CA time
    written = [640 + 60, 700, 1280 + 60, 2000 + 180, 2180]
    assert ca.atd_ms == pytest.approx(np.mean(np.subtract(written, [300, 600, 640, 940, 1240])))
    assert (ca.start_offset_ms, ca.end_offset_ms) == (700, 300)
    for field in ("al_ms", "laal_ms", "ap", "dal_ms", "atd_ms", "start_offset_ms", "end_offset_ms"):
        assert getattr(ca, field) > getattr(plain, field), field


def test_no_reference_uses_the_hypothesis_length():
    assert lat.latency(DELAYS, SOURCE_MS).al_ms == pytest.approx(lat.latency(DELAYS, SOURCE_MS, 5).al_ms)


def test_rco():
    assert lat.read_share_at_last_word(DELAYS, SOURCE_MS) == 1.0
    assert lat.read_share_at_last_word([320, 1280], SOURCE_MS) == pytest.approx(0.64)
    assert math.isnan(lat.read_share_at_last_word([], SOURCE_MS))


def test_wer_by_hand():
    assert quality.word_edit_distance("a b c d".split(), "a x c".split()) == 2  # b -> x, d inserted
    assert quality.word_edit_distance([], ["a", "b"]) == 2 and quality.word_edit_distance(["a"], []) == 1
    assert quality.word_edit_distance("the cat sat".split(), "cat sat on".split()) == 2
    assert quality.corpus_wer(["a b c d", "x"], ["a x c", "x y"]) == pytest.approx(100 * 3 / 5)


def test_bleu_tokenizer_per_language():
    assert quality.bleu_tokenizer("de") == quality.bleu_tokenizer("en") == "13a"
    assert quality.bleu_tokenizer("zh") == quality.bleu_tokenizer("zh-CN") == "zh"
    assert quality.bleu_tokenizer("ja") == ("ja-mecab" if quality._mecab_available() else "char")


def test_bleu_and_chrf_equal_sacrebleu():
    import sacrebleu

    hyps, refs = ["der alte mann liest ein buch", "hallo welt", ""], ["der alte mann liest", "hallo welt !", "ja"]
    assert quality.corpus_bleu(hyps, refs, "de") == sacrebleu.corpus_bleu(hyps, [refs]).score
    assert quality.corpus_chrf(hyps, refs) == sacrebleu.corpus_chrf(hyps, [refs]).score
    zh_h, zh_r = ["我们今天去公园"], ["我们明天去公园"]
    assert quality.corpus_bleu(zh_h, zh_r, "zh") == sacrebleu.corpus_bleu(zh_h, [zh_r], tokenize="zh").score


def test_read_instances_rejects_other_logs(tmp_path):
    bad = tmp_path / "instances.log"
    bad.write_text(
        json.dumps(
            {"index": 0, "prediction": "a b", "delays": [1.0], "elapsed": [1.0], "reference": "a", "source_length": 5.0}
        )
        + "\n"
    )
    with pytest.raises(ValueError, match=r"instances.log:1: 2 words but 1 delays"):
        instances_log.read_instances(bad)


# ---- against SimulEval's own scorers, on a log its CLI wrote --------------------------------------------------

SCRIPTED_AGENT = '''
import time
from simuleval.agents import SpeechToTextAgent
from simuleval.agents.actions import ReadAction, WriteAction
from simuleval.utils import entrypoint


@entrypoint
class Scripted(SpeechToTextAgent):
    """Writes one word on every 2nd call and two on every 3rd, then 3 more at the end; nothing for inputs
    under 0.5 s. Sleeps a little per call, so that elapsed > delays."""

    def reset(self):
        super().reset()
        self.calls, self.n = 0, 0

    def policy(self):
        self.calls += 1
        time.sleep(0.002 * self.calls)
        seconds = len(self.states.source) / self.states.source_sample_rate
        if self.states.source_finished:
            return WriteAction("" if seconds < 0.5 else "w w w", finished=True)
        n = (self.calls % 2 == 0) + 2 * (self.calls % 3 == 0)
        return WriteAction(" ".join(["w"] * n), finished=False) if n else ReadAction()
'''

# (seconds, sample rate, reference): the hypothesis is longer than some references and shorter than others
CORPUS = [
    (2.0, 16000, "a b c d"),
    (1.3, 22050, "a b c d e f g h i j k l"),
    (0.3, 16000, "a b"),
    (3.1, 44100, "w w w w w w w w"),
]


@pytest.fixture(scope="module")
def simuleval_log(tmp_path_factory) -> Path:
    """A scripted agent run through the unmodified `simuleval` CLI with --computation-aware."""
    d = tmp_path_factory.mktemp("scripted")
    rng = np.random.default_rng(0)
    wavs = []
    for i, (seconds, rate, _) in enumerate(CORPUS):
        wavs.append(d / f"{i}.wav")
        sf.write(wavs[-1], 0.1 * rng.standard_normal(int(seconds * rate)), rate, subtype="PCM_16")
    (d / "source.txt").write_text("".join(f"{w}\n" for w in wavs))
    (d / "target.txt").write_text("".join(f"{ref}\n" for *_, ref in CORPUS))
    (d / "agent.py").write_text(SCRIPTED_AGENT)
    cmd = [
        str(Path(sys.executable).with_name("simuleval")),
        "--agent",
        str(d / "agent.py"),
        "--source",
        str(d / "source.txt"),
        "--target",
        str(d / "target.txt"),
        "--source-segment-size",
        "320",
        "--output",
        str(d / "out"),
        "--computation-aware",
        "--no-progress-bar",
        "--latency-metrics",
        "AL",
        "LAAL",
        "AP",
        "DAL",
        "ATD",
        "StartOffset",
        "EndOffset",
    ]
    subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=120)
    return d / "out"


def simuleval_scores(log: Path, computation_aware: bool) -> tuple[list[dict[str, float]], dict[str, float]]:
    """SimulEval 1.1.4's scorer classes on the log: per instance (those with words) and the corpus means."""
    from simuleval.evaluator.instance import LogInstance
    from simuleval.evaluator.scorers.latency_scorer import LATENCY_SCORERS_DICT

    lines = log.read_text().splitlines()
    corpus = {i: LogInstance(line) for i, line in enumerate(lines)}
    per = []
    for line in lines:
        if json.loads(line)["delays"]:
            one = {0: LogInstance(line)}
            per.append(
                {m: LATENCY_SCORERS_DICT[m](computation_aware=computation_aware)(one) for m in lat.METRIC_FIELDS}
            )
    means = {m: LATENCY_SCORERS_DICT[m](computation_aware=computation_aware)(corpus) for m in lat.METRIC_FIELDS}
    return per, means


@pytest.mark.parametrize("computation_aware", [False, True])
def test_equals_simuleval_scorers_on_a_real_log(simuleval_log, computation_aware):
    log = simuleval_log / "instances.log"
    instances = instances_log.read_instances(log)
    assert len(instances) == len(CORPUS) and [i.index for i in instances] == list(range(len(CORPUS)))
    scored = [i for i in instances if i.delays_ms]
    assert len(scored) == 3 and any(len(i.delays_ms) > len(i.reference.split()) for i in scored)
    theirs_per, theirs_mean = simuleval_scores(log, computation_aware)
    for ins, theirs in zip(scored, theirs_per):
        ours = lat.latency(
            ins.delays_ms, ins.source_ms, len(ins.reference.split()), ins.elapsed_ms if computation_aware else None
        )
        for metric, field in lat.METRIC_FIELDS.items():
            assert getattr(ours, field) == pytest.approx(theirs[metric], rel=1e-9), (ins.index, metric)
    scores = instances_log.score_log(log, tgt_lang="en")
    ours_mean = scores.latency_ca if computation_aware else scores.latency
    assert scores.n == 4 and scores.n_scored == 3  # the empty output is left out of the latency means
    for metric, field in lat.METRIC_FIELDS.items():
        assert getattr(ours_mean, field) == pytest.approx(theirs_mean[metric], rel=1e-9), metric


def test_quality_equals_simuleval_and_the_ca_mix_up_is_real(simuleval_log):
    import pandas

    scores = instances_log.score_log(simuleval_log / "instances.log", tgt_lang="en")
    printed = pandas.read_csv(simuleval_log / "scores.tsv", sep="\t").iloc[0]
    assert scores.bleu == pytest.approx(printed["BLEU"], abs=1e-3)
    # SimulEval 1.1.4 with --computation-aware prints AL computed on elapsed time, equal to its own AL_CA:
    # the non-CA numbers exist only in our scorer.
    assert printed["AL"] == pytest.approx(printed["AL_CA"]) == pytest.approx(scores.latency_ca.al_ms, abs=1e-3)
    assert scores.latency.al_ms < scores.latency_ca.al_ms
    ins = instances_log.read_instances(simuleval_log / "instances.log")
    hyps, refs = [i.prediction for i in ins], [i.reference for i in ins]
    editdistance = pytest.importorskip("editdistance")  # SimulEval's WER needs it; ours does not
    n_ref = sum(len(r.split()) for r in refs)
    assert scores.wer == pytest.approx(
        100 * sum(editdistance.eval(h.split(), r.split()) for h, r in zip(hyps, refs)) / n_ref
    )


def test_score_log_with_other_references(simuleval_log):
    log = simuleval_log / "instances.log"
    refs = ["w w w"] * len(CORPUS)
    scores = instances_log.score_log(log, refs=refs, tgt_lang="en")
    assert scores.latency.al_ms == pytest.approx(
        np.mean(
            [lat.latency(i.delays_ms, i.source_ms, 3).al_ms for i in instances_log.read_instances(log) if i.delays_ms]
        )
    )
    row = scores.flat()
    assert {"bleu", "chrf", "wer", "rco", "AL", "AL_CA", "LAAL", "LAAL_CA", "ATD_CA", "EndOffset_CA"} <= set(row)
    with pytest.raises(ValueError, match="4 instances but 1 references"):
        instances_log.score_log(log, refs=["a"], tgt_lang="en")


def test_equals_simuleval_scorers_on_random_instances():
    """Many more timing patterns than one run gives: several words per call, delays at the source end,
    compute time growing unevenly, references shorter and longer than the output."""
    from simuleval.evaluator.instance import LogInstance
    from simuleval.evaluator.scorers.latency_scorer import LATENCY_SCORERS_DICT

    rng = np.random.default_rng(0)
    for _ in range(100):
        source_ms = float(rng.choice([1000.0, 2345.6, 320.0 * rng.integers(1, 20) - rng.integers(0, 320)]))
        steps = np.sort(rng.choice(np.arange(1, int(source_ms // 320) + 3) * 320.0, rng.integers(1, 12)))
        delays = np.minimum(steps, source_ms).tolist()
        elapsed = np.array(delays) + np.cumsum(rng.choice([0.0, 1.0], len(delays)) * rng.uniform(0, 200, len(delays)))
        ref = " ".join(["r"] * int(rng.integers(1, 15)))
        line = json.dumps(
            {
                "index": 0,
                "prediction": " ".join(["h"] * len(delays)),
                "delays": delays,
                "elapsed": elapsed.tolist(),
                "reference": ref,
                "source_length": source_ms,
            }
        )
        for ca in (False, True):
            ours = lat.latency(delays, source_ms, len(ref.split()), elapsed.tolist() if ca else None)
            for metric, field in lat.METRIC_FIELDS.items():
                theirs = LATENCY_SCORERS_DICT[metric](computation_aware=ca)({0: LogInstance(line)})
                assert getattr(ours, field) == pytest.approx(theirs, rel=1e-9, abs=1e-9), (metric, ca, line)
