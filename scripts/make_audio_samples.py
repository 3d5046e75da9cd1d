"""Regenerate audio_samples/: a few grammar-corpus sentences spoken by espeak-ng, with a manifest.

    .venv/bin/python scripts/make_audio_samples.py

The clips are synthesized for this project (no GPL data): both languages, several sentence shapes.
"""

from pathlib import Path

from speech_proactive.data.corpora.grammar import generate, split_of
from speech_proactive.data.corpora.grammar_corpus import utterance
from speech_proactive.data.manifest import write_manifest
from speech_proactive.data.synth import SynthJob, pick_voice, synthesize_all

OUT = Path(__file__).resolve().parent.parent / "audio_samples"
SHAPES = ("perfect", "separable", "sub_weil", "fronted_time")


def main() -> None:
    picked = [s for s in generate(400, seed=7, shapes=SHAPES) if split_of(s) == "test"][: len(SHAPES)]
    rows = []
    for i, s in enumerate(picked):
        src, tgt = ("en", "de") if i % 2 == 0 else ("de", "en")
        uid = f"sample{i + 1}.{src}"
        words = s.en if src == "en" else s.de
        [r] = synthesize_all([SynthJob(uid, words, pick_voice(src, uid), OUT / f"{uid}.wav")], n_workers=1)
        Path(str(r.out_path.with_suffix(".words.json"))).unlink(missing_ok=True)  # resume sidecar: not shipped
        rows.append(utterance(s, src, tgt, r, OUT))
    write_manifest(OUT / "samples.jsonl", rows)
    for u in rows:
        print(f"{u.audio}: {u.src_text}  ->  {u.tgt_text}")


if __name__ == "__main__":
    main()
