"""Build the default corpus: controlled En<->De grammar sentences spoken by espeak-ng, both directions.

    python -m speech_proactive.data.corpora.grammar_corpus --out data/grammar [--n 6000] [--seed 0]

Writes `{split}.{src}-{tgt}.jsonl` manifests (splits train, dev, test, test_shapes) with word end times, the
target-to-source alignment and each target word's ideal read point. Synthesis runs on all cores and is
resumable: an interrupted build continues where it stopped.
"""

from __future__ import annotations

import sys
from collections import defaultdict
from pathlib import Path

from speech_proactive.data.corpora.corpus_build import generated_corpus_main, write_manifests
from speech_proactive.data.corpora.grammar import ParallelSentence, generate, split_of
from speech_proactive.data.manifest import Utterance
from speech_proactive.data.synth import SynthJob, SynthResult, ideal_read_ms, pick_voice, synthesize_all

DIRECTIONS = (("en", "de"), ("de", "en"))


def _words(s: ParallelSentence, lang: str) -> tuple[str, ...]:
    return s.en if lang == "en" else s.de


def _align(s: ParallelSentence, tgt: str):
    return s.de_align if tgt == "de" else s.en_align  # for each target word: its source word indices


def jobs_for(sentences: list[ParallelSentence], out: Path) -> list[SynthJob]:
    jobs = []
    for s in sentences:
        for src, _ in DIRECTIONS:
            uid = f"{s.id}.{src}"
            jobs.append(SynthJob(uid, _words(s, src), pick_voice(src, uid), out / "audio" / split_of(s) / f"{uid}.wav"))
    return jobs


def utterance(s: ParallelSentence, src: str, tgt: str, r: SynthResult, out: Path) -> Utterance:
    align = _align(s, tgt)
    voice = pick_voice(src, r.id)
    return Utterance(
        id=f"{s.id}.{src}-{tgt}",
        audio=str(r.out_path.relative_to(out)),
        n_samples=r.n_samples,
        src_lang=src,
        src_text=s.text(src),
        tgt_lang=tgt,
        tgt_text=s.text(tgt),
        speaker=voice.speaker_id,
        src_word_end_ms=r.word_end_ms,
        tgt_align=align,
        tgt_ideal_ms=ideal_read_ms(r.word_end_ms, align),
        meta={"shape": s.shape},
    )


def build(out: Path, n: int, seed: int = 0, n_workers: int | None = None) -> dict[str, list[Utterance]]:
    sentences = generate(n, seed)
    results = {r.id: r for r in synthesize_all(jobs_for(sentences, out), n_workers)}
    manifests: dict[str, list[Utterance]] = defaultdict(list)
    for s in sentences:
        for src, tgt in DIRECTIONS:
            manifests[f"{split_of(s)}.{src}-{tgt}"].append(utterance(s, src, tgt, results[f"{s.id}.{src}"], out))
    return write_manifests(out, manifests)


def main(argv: list[str] | None = None) -> int:
    return generated_corpus_main(
        argv,
        "speech_proactive.data.corpora.grammar_corpus",
        __doc__,
        "data/grammar",
        6000,
        "sentences (each spoken in both languages)",
        build,
    )


if __name__ == "__main__":
    sys.exit(main())
