"""Scores of a SimulEval run from its instances.log: quality and latency, non-computation-aware and
computation-aware side by side (SimulEval 1.1.4 with --computation-aware loses the former; see latency.py)."""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from pathlib import Path

from speech_proactive.evaluation.metrics.latency import (
    METRIC_FIELDS,
    Latency,
    latency,
    mean_latency,
    read_share_at_last_word,
)
from speech_proactive.evaluation.metrics.quality import bleu_tokenizer, corpus_bleu, corpus_chrf, corpus_wer


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


def read_instances(path: str | Path) -> list[LoggedInstance]:
    """Parse SimulEval's instances.log (one JSON object per line) for a speech-to-text run."""
    out = []
    for line_no, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            d = json.loads(line)
            ins = LoggedInstance(
                int(d["index"]),
                d["prediction"],
                d.get("reference") or "",
                tuple(map(float, d["delays"])),
                tuple(map(float, d["elapsed"])),
                float(d["source_length"]),
            )
        except (ValueError, KeyError, TypeError) as e:
            raise ValueError(f"{path}:{line_no}: not a speech-to-text instances.log line ({e})") from e
        if len(ins.delays_ms) != len(ins.prediction.split()) or len(ins.elapsed_ms) != len(ins.delays_ms):
            raise ValueError(
                f"{path}:{line_no}: {len(ins.prediction.split())} words but {len(ins.delays_ms)} "
                f"delays and {len(ins.elapsed_ms)} elapsed times (latency unit must be 'word')"
            )
        out.append(ins)
    return out


def score_log(path: str | Path, refs: list[str] | None = None, *, tgt_lang: str) -> LogScores:
    """Quality and latency (non-CA and CA) of a SimulEval run. `refs` replaces the references in the log
    (in log order); `tgt_lang` picks the BLEU tokenizer."""
    instances = read_instances(path)
    refs = [i.reference for i in instances] if refs is None else list(refs)
    if len(refs) != len(instances):
        raise ValueError(f"{path}: {len(instances)} instances but {len(refs)} references")
    return score_instances(instances, refs, tgt_lang)


def score_instances(instances: list[LoggedInstance], refs: list[str], tgt_lang: str) -> LogScores:
    hyps = [i.prediction for i in instances]
    scored = [(i, r) for i, r in zip(instances, refs) if i.delays_ms and i.source_ms > 0]
    return LogScores(
        n=len(instances),
        n_scored=len(scored),
        bleu=corpus_bleu(hyps, refs, tgt_lang),
        chrf=corpus_chrf(hyps, refs),
        wer=corpus_wer(hyps, refs),
        bleu_tokenizer=bleu_tokenizer(tgt_lang),
        latency=mean_latency([latency(i.delays_ms, i.source_ms, len(r.split())) for i, r in scored]),
        latency_ca=mean_latency([latency(i.delays_ms, i.source_ms, len(r.split()), i.elapsed_ms) for i, r in scored]),
        rco=_mean([read_share_at_last_word(i.delays_ms, i.source_ms) for i, _ in scored]),
    )


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else math.nan
