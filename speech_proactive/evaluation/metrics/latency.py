"""Latency of simultaneous output, computed by us as SimulEval computes it (instances_log.py reads its logs).

Why our own scorer: SimulEval 1.1.4 with --computation-aware scores its plain metrics on wall-clock time too,
so the non-computation-aware numbers are lost. Its instances.log keeps both per-word timestamps:
  delays   ms of source audio read when each word was written (non-computation-aware)
  elapsed  delays plus the wall-clock time since the instance started (computation-aware, the `_CA` metrics)

Each metric follows SimulEval 1.1.4's scorers for speech input and text output, so that our non-CA numbers equal
its own on the same log (tests/invariants/test_latency.py runs its scorer classes to prove it):
  AL           Ma et al. 2019 with the reference length; summed up to the first word written once the whole
               source was heard (the cut-off tau)
  LAAL         AL with the length term max(|hyp|, |ref|): an over-long output cannot buy a low AL
  AP           sum of delays / (|source| * |ref|): 1.1.4 divides by the reference length, not |hyp|
  DAL          Arivazhagan et al. 2019: 1.1.4 uses |hyp| here, ignores the reference, and has no cut-off
  ATD          Kano et al. 2022: the source cut into 300 ms pseudo-words, target words of zero duration;
               its CA version adds each word's compute time to the non-CA delays
  StartOffset  delay of the first word;  EndOffset  delay of the last word minus the source duration
Words are whitespace-separated (SimulEval's default latency unit "word"). The reference length is
len(ref.split()); SimulEval counts len(ref.split(" ")), which differs only for runs of spaces or tabs. Without a
reference the hypothesis length stands in, as in SimulEval. Instances without any output word have no latency
and are left out of the latency means, as SimulEval does; so are empty sources (0 ms), where SimulEval crashes.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

ATD_SOURCE_WORD_MS = 300.0  # SimulEval's ATD assumes one source word per 300 ms of speech


@dataclass(frozen=True)
class Latency:
    """Latency of one instance, or the mean over a corpus. All in ms except AP, a share of the source."""

    al_ms: float
    laal_ms: float
    ap: float
    dal_ms: float
    atd_ms: float
    start_offset_ms: float
    end_offset_ms: float


METRIC_FIELDS = {
    "AL": "al_ms",
    "LAAL": "laal_ms",
    "AP": "ap",
    "DAL": "dal_ms",
    "ATD": "atd_ms",
    "StartOffset": "start_offset_ms",
    "EndOffset": "end_offset_ms",
}  # SimulEval name -> field


# ---- per-instance metrics ------------------------------------------------------------------------------------


def average_lagging(times_ms: list[float], source_ms: float, length: int) -> float:
    """AL with target length `length` (the reference length for AL, max(|hyp|, |ref|) for LAAL).

    The ideal writer emits word i (0-based) after i * source_ms / length of source; AL averages how far behind
    it each word is, up to and including the first word written once the whole source was heard.
    """
    ms_per_word = source_ms / length
    total = 0.0
    for i, t in enumerate(times_ms):
        total += t - i * ms_per_word
        if t >= source_ms:
            return total / (i + 1)
    return total / len(times_ms)


def average_proportion(times_ms: list[float], source_ms: float, ref_len: int) -> float:
    return sum(times_ms) / (source_ms * ref_len)


def differentiable_average_lagging(times_ms: list[float], source_ms: float) -> float:
    """DAL: like AL over all words, but each word is at least one ideal word-interval after the previous one."""
    ms_per_word = source_ms / len(times_ms)
    total, previous = 0.0, -math.inf
    for i, t in enumerate(times_ms):
        previous = max(t, previous + ms_per_word)
        total += previous - i * ms_per_word
    return total / len(times_ms)


def average_token_delay(delays_ms: list[float], elapsed_ms: list[float] | None = None) -> float:
    """ATD for speech input and text output, as SimulEval 1.1.4 computes it.

    Words written in the same call form one target chunk; the source read before that call is the matching
    source chunk, cut into 300 ms pseudo-words. Target word t of chunk c is paired with source word
    min(t - max(0, target words before c - source words before c), source words up to c), and ATD is the mean
    of (time word t was written - end time of its source word). With `elapsed_ms`, the computation time spent
    since the previous word is added to each word's time (the CA version).
    """
    compute_ms = _compute_increments(delays_ms, elapsed_ms)
    chunks = AtdChunks.from_delays(delays_ms)
    total, written = 0.0, 0.0
    for t, (delay, compute) in enumerate(zip(delays_ms, compute_ms), start=1):
        written = max(delay, written) + compute  # target words take no time of their own
        c = chunks.target_chunk[t - 1]
        s = t - max(0, chunks.target_words_before[c] - chunks.source_words_upto[c - 1])
        s = min(s, chunks.source_words_upto[c])
        total += written - chunks.source_word_end_ms[s]
    return total / len(delays_ms)


def _compute_increments(delays_ms: list[float], elapsed_ms: list[float] | None) -> list[float]:
    """Compute time attributed to each word: the growth of (elapsed - delay) since the previous word."""
    if elapsed_ms is None or all(e == 0 for e in elapsed_ms):
        return [0.0] * len(delays_ms)
    waits = [e - d for e, d in zip(elapsed_ms, delays_ms)]
    return [w - p for w, p in zip(waits, [0.0] + waits[:-1])]


@dataclass
class AtdChunks:
    """ATD's bookkeeping. Chunks are numbered from 1; index 0 of the per-chunk lists stands for "none yet"."""

    source_word_end_ms: list[float]  # end time of each 300 ms source pseudo-word; [0] = 0 ms, before the first
    source_words_upto: list[int]  # per chunk: source words in chunks 1..c
    target_words_before: list[int]  # per chunk: target words in chunks 1..c-1
    target_chunk: list[int]  # per target word: its chunk

    @classmethod
    def from_delays(cls, delays_ms: list[float]) -> AtdChunks:
        chunks, previous = cls([0.0], [0], [0], []), None
        for t, delay in enumerate(delays_ms):
            if delay != previous:  # a new write call: a new source chunk ends at this delay
                n_full, rest_ms = divmod(delay - (previous or 0.0), ATD_SOURCE_WORD_MS)
                for length in [ATD_SOURCE_WORD_MS] * int(n_full) + ([rest_ms] if rest_ms != 0 else []):
                    chunks.source_word_end_ms.append(chunks.source_word_end_ms[-1] + length)
                chunks.source_words_upto.append(len(chunks.source_word_end_ms) - 1)
                chunks.target_words_before.append(t)
                previous = delay
            chunks.target_chunk.append(len(chunks.source_words_upto) - 1)
        return chunks


def latency(
    delays_ms: list[float], source_ms: float, ref_len: int | None = None, elapsed_ms: list[float] | None = None
) -> Latency:
    """All metrics of one instance with at least one word: non-CA from `delays_ms`, or with `elapsed_ms` the
    computation-aware ones. Without `ref_len` the hypothesis length stands in for it."""
    if not delays_ms:
        raise ValueError("latency of an instance without output words is undefined")
    ref_len = len(delays_ms) if ref_len is None else max(ref_len, 1)  # an empty reference counts as one word
    times = list(delays_ms if elapsed_ms is None else elapsed_ms)
    return Latency(
        al_ms=average_lagging(times, source_ms, ref_len),
        laal_ms=average_lagging(times, source_ms, max(len(times), ref_len)),
        ap=average_proportion(times, source_ms, ref_len),
        dal_ms=differentiable_average_lagging(times, source_ms),
        atd_ms=average_token_delay(list(delays_ms), None if elapsed_ms is None else list(elapsed_ms)),
        start_offset_ms=times[0],
        end_offset_ms=times[-1] - source_ms,
    )


def read_share_at_last_word(delays_ms: list[float], source_ms: float) -> float:
    """RCO: the share of the source that had been read when the last output word was written, in [0, 1].

    1.0 means the output was completed only after the whole input was heard; a proactive model that finishes its
    answer early scores below 1. An agent that holds back a word until whitespace follows it writes its last word
    at the end of the input, so for such agents RCO is 1 unless the output ends with whitespace.
    """
    return min(1.0, delays_ms[-1] / source_ms) if delays_ms else math.nan


def mean_latency(items: list[Latency]) -> Latency:
    if not items:
        return Latency(*[math.nan] * len(dataclasses.fields(Latency)))
    return Latency(*[sum(getattr(x, f.name) for x in items) / len(items) for f in dataclasses.fields(Latency)])
