"""Spoken-QA scores: exact match and F1 of the answer (SQuAD's definitions), and when it was given.

Latency of an answer is the audio heard when its last word was written (`answer_ms`); an empty answer counts
as given at the end of the audio. Against the ideal moment (the end of the evidence, `tgt_ideal_ms` of the
manifest):
    after_ideal_ms   answer_ms - ideal_ms (negative: answered before the evidence was complete, a guess)
    rco              answer_ms / duration: the share of the audio heard when answering
    early_within_1s  among examples whose evidence ends in the first half of the audio, the share answered
                     within 1 s after the ideal moment (the issue's "answers early when it can")
The AL-style delays (AL, LAAL, ... over the answer words) come from `latency.py` as for translation.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from dataclasses import asdict, dataclass

EARLY_EVIDENCE_SHARE = 0.5  # evidence complete within this share of the audio: an "early" example
WITHIN_MS = 1000.0

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = str.maketrans("", "", string.punctuation)


def normalize(text: str) -> str:
    """SQuAD's answer normalisation: lower case, no punctuation, no articles, single spaces."""
    return " ".join(_ARTICLES.sub(" ", text.lower().translate(_PUNCT)).split())


def exact_match(hyp: str, ref: str) -> float:
    return float(normalize(hyp) == normalize(ref))


def f1(hyp: str, ref: str) -> float:
    h, r = normalize(hyp).split(), normalize(ref).split()
    if not h or not r:
        return float(h == r)
    common = sum((Counter(h) & Counter(r)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(h), common / len(r)
    return 2 * precision * recall / (precision + recall)


def mean_f1(hyps: list[str], refs: list[str]) -> float:
    """Average answer F1 in percent (0 for no answers)."""
    return 100 * sum(map(f1, hyps, refs)) / len(refs) if refs else 0.0


@dataclass(frozen=True)
class AnswerTiming:
    answer_ms: float
    ideal_ms: float
    duration_ms: float

    @property
    def after_ideal_ms(self) -> float:
        return self.answer_ms - self.ideal_ms

    @property
    def early(self) -> bool:
        return self.ideal_ms <= EARLY_EVIDENCE_SHARE * self.duration_ms


def answer_timing(word_delays_ms: tuple[float, ...], ideal_ms: float, duration_ms: float) -> AnswerTiming:
    answer_ms = word_delays_ms[-1] if word_delays_ms else duration_ms
    return AnswerTiming(answer_ms, ideal_ms, duration_ms)


@dataclass(frozen=True)
class QAScores:
    em: float  # percent
    f1: float  # percent
    after_ideal_ms: float  # mean
    after_ideal_median_ms: float
    rco: float  # mean share of the audio heard when answering, 0..1
    ideal_rco: float  # the same at the ideal moments: the floor an oracle reaches
    early_within_1s: float  # share, 0..1 (nan without early examples)
    before_ideal: float  # share of answers written before the evidence was complete
    n_empty: int

    def flat(self) -> dict:
        return asdict(self)


def score_answers(hyps: list[str], refs: list[str], timings: list[AnswerTiming]) -> QAScores:
    if not (len(hyps) == len(refs) == len(timings)) or not hyps:
        raise ValueError(f"need equal, non-empty lists: {len(hyps)} answers, {len(refs)} refs, {len(timings)} times")
    n = len(hyps)
    after = sorted(t.after_ideal_ms for t in timings)
    early = [t for t, h in zip(timings, hyps) if t.early]
    return QAScores(
        em=100 * sum(map(exact_match, hyps, refs)) / n,
        f1=mean_f1(hyps, refs),
        after_ideal_ms=sum(after) / n,
        after_ideal_median_ms=_median(after),
        rco=sum(t.answer_ms / t.duration_ms for t in timings) / n,
        ideal_rco=sum(t.ideal_ms / t.duration_ms for t in timings) / n,
        early_within_1s=sum(t.after_ideal_ms <= WITHIN_MS for t in early) / len(early) if early else float("nan"),
        before_ideal=sum(t.after_ideal_ms < 0 for t in timings) / n,
        n_empty=sum(not h.strip() for h in hyps),
    )


def _median(sorted_values: list[float]) -> float:
    m = len(sorted_values) // 2
    return sorted_values[m] if len(sorted_values) % 2 else (sorted_values[m - 1] + sorted_values[m]) / 2
