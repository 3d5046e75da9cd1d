"""Build the default corpus: controlled En<->De grammar sentences spoken by espeak-ng, both directions.

    python -m speech_proactive.data.grammar_corpus --out data/grammar [--n 6000] [--seed 0]

Writes `{split}.{src}-{tgt}.jsonl` manifests (splits train, dev, test, test_shapes) with word end times, the
target-to-source alignment and each target word's ideal read point. Synthesis runs on all cores and is
resumable: an interrupted build continues where it stopped.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from pathlib import Path

from speech_proactive import audio
from speech_proactive.data.grammar import ParallelSentence, generate, split_of
from speech_proactive.data.manifest import Utterance, write_manifest
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
        id=f"{s.id}.{src}-{tgt}", audio=str(r.out_path.relative_to(out)), n_samples=r.n_samples,
        src_lang=src, src_text=s.text(src), tgt_lang=tgt, tgt_text=s.text(tgt),
        speaker=f"espeak-{voice.lang}-{voice.variant}-s{voice.speed_wpm}-p{voice.pitch}",
        src_word_end_ms=r.word_end_ms, tgt_align=align, tgt_ideal_ms=ideal_read_ms(r.word_end_ms, align),
        meta={"shape": s.shape},
    )


def build(out: Path, n: int, seed: int = 0, n_workers: int | None = None) -> dict[str, list[Utterance]]:
    sentences = generate(n, seed)
    results = {r.id: r for r in synthesize_all(jobs_for(sentences, out), n_workers)}
    manifests: dict[str, list[Utterance]] = defaultdict(list)
    for s in sentences:
        for src, tgt in DIRECTIONS:
            manifests[f"{split_of(s)}.{src}-{tgt}"].append(utterance(s, src, tgt, results[f"{s.id}.{src}"], out))
    for name, rows in sorted(manifests.items()):
        write_manifest(out / f"{name}.jsonl", rows)
    return manifests


def summary(manifests: dict[str, list[Utterance]]) -> str:
    lines = [f"{'manifest':<22}{'utterances':>11}{'hours':>8}"]
    for name, rows in sorted(manifests.items()):
        hours = sum(u.n_samples for u in rows) / audio.SAMPLE_RATE / 3600
        lines.append(f"{name:<22}{len(rows):>11}{hours:>8.2f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m speech_proactive.data.grammar_corpus", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=Path("data/grammar"))
    p.add_argument("--n", type=int, default=6000, help="sentences (each spoken in both languages)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workers", type=int, default=None, help="synthesis processes (default: all cores)")
    args = p.parse_args(argv)
    t0 = time.perf_counter()
    manifests = build(args.out, args.n, args.seed, args.workers)
    print(summary(manifests))
    print(f"built {args.out} in {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
