"""Latency and quality of simultaneous output, computed by us from SimulEval's instances.log.

Why our own scorer: SimulEval 1.1.4 with --computation-aware scores its plain metrics on wall-clock time too,
so the non-computation-aware numbers are lost. Its instances.log keeps both per-word timestamps:
  delays   ms of source audio read when each word was written (non-computation-aware)
  elapsed  delays plus the wall-clock time since the instance started (computation-aware, the `_CA` metrics)

Each metric follows SimulEval 1.1.4's scorers for speech input and text output, so that our non-CA numbers equal
its own on the same log (tests/test_latency.py runs its scorer classes to prove it):
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
import json
import math
from dataclasses import dataclass
from pathlib import Path

ATD_SOURCE_WORD_MS = 300.0  # SimulEval's ATD assumes one source word per 300 ms of speech


@dataclass(frozen=True)
class LoggedInstance:
    """One line of SimulEval's instances.log (speech input, text output)."""

    index: int
    prediction: str  # the output words joined by single spaces
    reference: str
    delays_ms: tuple[float, ...]  # one per output word
    elapsed_ms: tuple[float, ...]  # one per output word
    source_ms: float


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


@dataclass(frozen=True)
class LogScores:
    """Corpus scores of one SimulEval run."""

    n: int  # instances in the log
    n_scored: int  # instances with output words and a non-empty source: the latency means are over these
    bleu: float
    chrf: float
    wer: float  # percent; meaningful for ASR (`--task asr`), reported for every run
    bleu_tokenizer: str
    latency: Latency  # non-computation-aware means
    latency_ca: Latency  # computation-aware (`_CA`) means
    rco: float  # mean over scored instances, see `read_share_at_last_word`

    def flat(self) -> dict[str, float | int | str]:
        """One flat row with SimulEval's metric names (AL, AL_CA, ...), for tables and results.json."""
        row = {k: v for k, v in dataclasses.asdict(self).items() if k not in ("latency", "latency_ca")}
        for suffix, lat in (("", self.latency), ("_CA", self.latency_ca)):
            row.update({name + suffix: getattr(lat, field) for name, field in METRIC_FIELDS.items()})
        return row


METRIC_FIELDS = {"AL": "al_ms", "LAAL": "laal_ms", "AP": "ap", "DAL": "dal_ms", "ATD": "atd_ms",
                 "StartOffset": "start_offset_ms", "EndOffset": "end_offset_ms"}  # SimulEval name -> field


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
    def from_delays(cls, delays_ms: list[float]) -> "AtdChunks":
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


def latency(delays_ms: list[float], source_ms: float, ref_len: int | None = None,
            elapsed_ms: list[float] | None = None) -> Latency:
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


# ---- quality --------------------------------------------------------------------------------------------------

def bleu_tokenizer(tgt_lang: str) -> str:
    """sacrebleu's tokenizer for a target language: "zh" for Chinese, MeCab (or characters, when MeCab is not
    installed) for Japanese, "13a" (sacrebleu's default, WMT's standard) for everything else."""
    lang = tgt_lang.lower().replace("_", "-").split("-")[0]
    if lang == "zh":
        return "zh"
    if lang == "ja":
        return "ja-mecab" if _mecab_available() else "char"
    return "13a"


def _mecab_available() -> bool:
    from sacrebleu.tokenizers.tokenizer_ja_mecab import TokenizerJaMecab

    try:
        TokenizerJaMecab()
    except (RuntimeError, AssertionError):  # MeCab or its IPA dictionary is missing
        return False
    return True


def corpus_bleu(hyps: list[str], refs: list[str], tgt_lang: str = "en") -> float:
    from sacrebleu.metrics import BLEU

    return BLEU(tokenize=bleu_tokenizer(tgt_lang)).corpus_score(hyps, [refs]).score


def corpus_chrf(hyps: list[str], refs: list[str]) -> float:
    from sacrebleu.metrics import CHRF

    return CHRF().corpus_score(hyps, [refs]).score


def word_edit_distance(hyp: list[str], ref: list[str]) -> int:
    """Levenshtein distance between two word sequences (substitutions, insertions, deletions cost 1)."""
    row = list(range(len(ref) + 1))  # distances from the empty hypothesis prefix
    for i, h in enumerate(hyp, start=1):
        diagonal, row[0] = row[0], i
        for j, r in enumerate(ref, start=1):
            diagonal, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, diagonal + (h != r))
    return row[-1]


def corpus_wer(hyps: list[str], refs: list[str]) -> float:
    """Word error rate in percent over the corpus: total edits / total reference words, on raw
    whitespace-separated words (no case or punctuation normalisation, as SimulEval's WER)."""
    n_ref = sum(len(r.split()) for r in refs)
    edits = sum(word_edit_distance(h.split(), r.split()) for h, r in zip(hyps, refs))
    return 100.0 * edits / n_ref if n_ref else math.nan


# ---- instances.log --------------------------------------------------------------------------------------------

def read_instances(path: str | Path) -> list[LoggedInstance]:
    """Parse SimulEval's instances.log (one JSON object per line) for a speech-to-text run."""
    out = []
    for line_no, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            d = json.loads(line)
            ins = LoggedInstance(int(d["index"]), d["prediction"], d.get("reference") or "",
                                 tuple(map(float, d["delays"])), tuple(map(float, d["elapsed"])),
                                 float(d["source_length"]))
        except (ValueError, KeyError, TypeError) as e:
            raise ValueError(f"{path}:{line_no}: not a speech-to-text instances.log line ({e})") from e
        if len(ins.delays_ms) != len(ins.prediction.split()) or len(ins.elapsed_ms) != len(ins.delays_ms):
            raise ValueError(f"{path}:{line_no}: {len(ins.prediction.split())} words but {len(ins.delays_ms)} "
                             f"delays and {len(ins.elapsed_ms)} elapsed times (latency unit must be 'word')")
        out.append(ins)
    return out


def score_log(path: str | Path, refs: list[str] | None = None, tgt_lang: str = "en") -> LogScores:
    """Quality and latency (non-CA and CA) of a SimulEval run. `refs` replaces the references in the log
    (in log order); `tgt_lang` picks the BLEU tokenizer."""
    instances = read_instances(path)
    refs = [i.reference for i in instances] if refs is None else list(refs)
    if len(refs) != len(instances):
        raise ValueError(f"{path}: {len(instances)} instances but {len(refs)} references")
    return score_instances(instances, refs, tgt_lang)


def score_instances(instances: list[LoggedInstance], refs: list[str], tgt_lang: str = "en") -> LogScores:
    hyps = [i.prediction for i in instances]
    scored = [(i, r) for i, r in zip(instances, refs) if i.delays_ms and i.source_ms > 0]
    return LogScores(
        n=len(instances), n_scored=len(scored),
        bleu=corpus_bleu(hyps, refs, tgt_lang), chrf=corpus_chrf(hyps, refs), wer=corpus_wer(hyps, refs),
        bleu_tokenizer=bleu_tokenizer(tgt_lang),
        latency=mean_latency([latency(i.delays_ms, i.source_ms, len(r.split())) for i, r in scored]),
        latency_ca=mean_latency([latency(i.delays_ms, i.source_ms, len(r.split()), i.elapsed_ms) for i, r in scored]),
        rco=_mean([read_share_at_last_word(i.delays_ms, i.source_ms) for i, _ in scored]),
    )


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else math.nan
