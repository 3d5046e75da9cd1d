"""Offline BLEU of a bundle on the same test sentences spoken by other voices.

    .venv/bin/python scripts/voice_check.py --model runs/st-default/bundle --corpus data/grammar \
        [--voices mb-de2 mb-de6 de:m3 ...] [--n 40]

Each voice speaks the first N sentences of `test.{src}-{tgt}.jsonl` (its language decides the direction:
German voices de -> en, English voices en -> de) at 160 wpm and pitch 50; the bundle decodes them offline and
sacreBLEU scores them against the manifest's references. MBROLA voices are named `mb-de2`, espeak-ng variants
`de:m3` / `en:f2`. Prints a markdown table.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from speech_proactive import audio  # noqa: E402
from speech_proactive.data.manifest import read_manifest  # noqa: E402
from speech_proactive.data.synth import MBROLA_VOICES, SynthJob, Voice, synthesize_all  # noqa: E402
from speech_proactive.evaluation.metrics.quality import corpus_bleu  # noqa: E402
from speech_proactive.streaming.from_bundle import open_bundle  # noqa: E402

DEFAULT_VOICES = ("mb-de2", "mb-de6", "mb-de7", "mb-de8", "mb-us1", "mb-us3", "de:m3", "en:m3")


def voice_of(name: str) -> Voice:
    if name.startswith("mb-"):
        lang = next(lang for lang, names in MBROLA_VOICES.items() if name in names)
        return Voice(lang, name, 160, 50)
    lang, variant = name.split(":")
    return Voice(lang, variant, 160, 50)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", type=Path, required=True)
    p.add_argument("--corpus", type=Path, default=REPO / "data" / "grammar")
    p.add_argument("--voices", nargs="+", default=list(DEFAULT_VOICES))
    p.add_argument("--n", type=int, default=40)
    args = p.parse_args()
    opened = open_bundle(args.model, "offline")
    print("| voice | direction | n | BLEU |\n|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.voices:
            voice = voice_of(name)
            src, tgt = voice.lang, "en" if voice.lang == "de" else "de"
            rows = read_manifest(args.corpus / f"test.{src}-{tgt}.jsonl", check_audio=False).rows[: args.n]
            jobs = [SynthJob(u.id, tuple(u.src_text.split()), voice, Path(tmp) / name / f"{u.id}.wav") for u in rows]
            session = opened.session(opened.task("st", src, tgt))
            hyps = []
            for job in synthesize_all(jobs, desc=name):
                session.reset()
                session.push_audio(audio.load_audio(job.out_path), finished=True)
                hyps.append(session.final_text)
            score = corpus_bleu(hyps, [u.tgt_text for u in rows], tgt)
            print(f"| {name} | {src}->{tgt} | {len(rows)} | {score:.1f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
