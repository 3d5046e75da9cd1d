"""Speak the Ding sentence pairs with espeak-ng, both directions, into manifests.

    python -m speech_proactive.data.corpora.ding_corpus --pairs data/ding/pairs.jsonl --out data/ding [--limit N]

Needs `python -m speech_proactive.data.corpora.ding --out data/ding` first (the GPL pairs, built locally). Writes
`{split}.de-en.jsonl` and `{split}.en-de.jsonl` with source word end times (no alignments: Ding has none).
Real idiomatic text with rare words: a corpus for larger (GPU) runs, not for the default CPU recipe.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from pathlib import Path

from speech_proactive.data.corpora.corpus_build import summary, write_manifests
from speech_proactive.data.corpora.ding import DingPair, load_pairs
from speech_proactive.data.manifest import Utterance
from speech_proactive.data.synth import SynthJob, pick_voice, synthesize_all

DIRECTIONS = (("de", "en"), ("en", "de"))


def _text(p: DingPair, lang: str) -> str:
    return p.de if lang == "de" else p.en


def build(pairs: list[DingPair], out: Path, n_workers: int | None = None) -> dict[str, list[Utterance]]:
    jobs = []
    for p in pairs:
        for src, _ in DIRECTIONS:
            uid = f"{p.id}.{src}"
            jobs.append(
                SynthJob(
                    uid, tuple(_text(p, src).split()), pick_voice(src, uid), out / "audio" / p.split / f"{uid}.wav"
                )
            )
    results = {r.id: r for r in synthesize_all(jobs, n_workers)}
    manifests: dict[str, list[Utterance]] = defaultdict(list)
    for p in pairs:
        for src, tgt in DIRECTIONS:
            r = results[f"{p.id}.{src}"]
            v = pick_voice(src, r.id)
            manifests[f"{p.split}.{src}-{tgt}"].append(
                Utterance(
                    id=f"{p.id}.{src}-{tgt}",
                    audio=str(r.out_path.relative_to(out)),
                    n_samples=r.n_samples,
                    src_lang=src,
                    src_text=_text(p, src),
                    tgt_lang=tgt,
                    tgt_text=_text(p, tgt),
                    speaker=v.speaker_id,
                    src_word_end_ms=r.word_end_ms,
                )
            )
    return write_manifests(out, manifests)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m speech_proactive.data.corpora.ding_corpus",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--pairs", type=Path, default=Path("data/ding/pairs.jsonl"))
    p.add_argument("--out", type=Path, default=Path("data/ding"))
    p.add_argument("--limit", type=int, help="first N pairs only (for a quick look)")
    p.add_argument("--workers", type=int)
    args = p.parse_args(argv)
    t0 = time.perf_counter()
    pairs = load_pairs(args.pairs)[: args.limit]
    print(summary(build(pairs, args.out, args.workers)))
    print(f"built {args.out} in {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
