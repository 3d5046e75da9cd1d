"""Score a simulstream metrics log with simulstream's own scorers: resegmented BLEU and StreamLAAL.

Both resegment the whole talk's output against its reference sentences with mwerSegmenter (the mweralign
package), then score sentence by sentence: sacreBLEU on the resegmented lines, and StreamLAAL, LAAL with each
word's delay taken from the start of the reference segment it was aligned to. StreamLAAL comes in two flavours:
ideal (the audio heard when a word was written) and computation-aware. simulstream's computation-aware delay
adds the compute time of the chunk that wrote the word, not all compute so far as SimulEval's does: over a
talk-length stream, a system that keeps up with real time lags by its current chunk's cost, not by its history.
"""

from __future__ import annotations

import importlib.util
import json
import statistics
import sys
import types
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

from simulstream.metrics.readers import LogReader, YamlReferenceReader
from simulstream.metrics.scorers.latency import LatencyScoringSample
from simulstream.metrics.scorers.latency.stream_laal import StreamLaal

from speech_proactive.evaluation.longform.talks import TalkSet

# The processor's tokens are whole words, joined with spaces: SimulEval's word detokenizer.
EVAL_CONFIG = SimpleNamespace(detokenizer_type="simuleval", latency_unit="word")


@dataclass(frozen=True)
class LongformScores:
    bleu: float  # sacreBLEU after mwerSegmenter resegmentation
    stream_laal_ms: float
    stream_laal_ca_ms: float  # simulstream's computation-aware StreamLAAL (see the module docstring)
    n_words: int  # words written over all talks
    audio_s: float  # audio streamed
    compute_s: float  # processor time over all chunks

    @property
    def rtf(self) -> float:
        return self.compute_s / self.audio_s if self.audio_s else float("nan")


def sacrebleu_scorer() -> type:
    """simulstream's SacreBLEU scorer class. simulstream 1.0.0 imports every quality scorer when its package
    loads, COMET's too, which needs the `[eval]` extra (unbabel-comet, which pins transformers 4.x). BLEU uses
    none of it, so when COMET is not installed a module that says so stands in for it while the package loads."""
    if "comet" not in sys.modules and importlib.util.find_spec("comet") is None:
        stand_in = types.ModuleType("comet")

        def missing(*args, **kwargs):
            raise ImportError("COMET scoring needs unbabel-comet (pip install 'simulstream[eval]')")

        stand_in.download_model = stand_in.load_from_checkpoint = missing
        sys.modules["comet"] = stand_in
    from simulstream.metrics.scorers.quality.sacrebleu import SacreBLEUScorer

    return SacreBLEUScorer


def compute_totals(log: Path) -> tuple[float, float]:
    """(audio seconds streamed, processor seconds) summed over the talks of a metrics log."""
    audio_s: dict[int, float] = {}
    compute_s = 0.0
    for line in Path(log).read_text(encoding="utf-8").splitlines():
        d = json.loads(line) if line.strip() else {}
        if "computation_time" in d:
            audio_s[d["id"]] = max(audio_s.get(d["id"], 0.0), d["total_audio_processed"])
            compute_s += d["computation_time"]
    return sum(audio_s.values()), compute_s


def score_log(log: Path, talks: TalkSet, bleu_tokenizer: str) -> LongformScores:
    bleu_scorer = sacrebleu_scorer()  # first: it makes the quality package importable
    from simulstream.metrics.scorers.quality import QualityScoringSample

    outputs = LogReader(EVAL_CONFIG, str(log), latency_unit="word").final_outputs_and_latencies()
    references = YamlReferenceReader(str(talks.audio_definition), str(talks.references)).references
    if missing := [a for a in references if a not in outputs]:
        raise ValueError(f"{log}: no output for talk(s) {missing[:3]}: the run did not finish every talk")
    latency = StreamLaal(SimpleNamespace(latency_unit="word"))
    try:
        laal = latency.score([LatencyScoringSample(a, outputs[a], references[a]) for a in references])
    except statistics.StatisticsError:  # not one word written: no sentence to average over
        laal = SimpleNamespace(ideal_latency=float("nan"), computational_aware_latency=float("nan"))
    quality = bleu_scorer(SimpleNamespace(latency_unit="word", tokenizer=bleu_tokenizer))
    bleu = quality.score(
        [QualityScoringSample(a, outputs[a].final_text, [r.content for r in references[a]]) for a in references]
    )
    audio_s, compute_s = compute_totals(log)
    n_words = sum(len(outputs[a].final_text.split()) for a in references)
    return LongformScores(
        float(bleu), 1000 * laal.ideal_latency, 1000 * laal.computational_aware_latency, n_words, audio_s, compute_s
    )
