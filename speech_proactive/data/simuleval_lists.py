"""Write SimulEval's input lists from a manifest, so any test split runs under the real `simuleval` CLI.

    python -m speech_proactive.data.simuleval_lists --manifest data/grammar/test.de-en.jsonl --out runs/se [--limit N]

Writes OUT/source.txt (absolute audio paths), OUT/target.txt (references), OUT/tgt_lang.txt (one line per
instance, for SimulEval's --tgt-lang: the target language, or for a QA manifest the question, which the agent's
--task qa reads from there) and OUT/src_lang.txt (each instance's source language: SimulEval has no channel for
it, so it is a record for scoring and for the agent's --src-lang; the agent also infers the source from the
target when the bundle leaves one choice). A text with a line break would shift every later instance: that is
an error.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from speech_proactive.data.manifest import Manifest, ManifestError, read_manifest

LISTS = ("source.txt", "target.txt", "tgt_lang.txt", "src_lang.txt")


def one_line(text: str, what: str, utt_id: str) -> str:
    if "\n" in text or "\r" in text:
        raise ValueError(f"{utt_id}: {what} has a line break, which would misalign SimulEval's line-based lists")
    return text


def write_lists(manifest: Manifest, out: Path, limit: int | None = None) -> list[Path]:
    rows = manifest.rows[:limit]
    if not rows:
        raise ValueError(f"{manifest.path}: no utterances")
    lines: dict[str, list[str]] = {name: [] for name in LISTS}
    for u in rows:
        per_instance = u.question if u.task_name == "qa" else u.tgt_lang
        lines["source.txt"].append(str(manifest.audio_path(u).resolve()))
        lines["target.txt"].append(one_line(u.tgt_text, "the reference", u.id))
        lines["tgt_lang.txt"].append(one_line(per_instance or "", "the question", u.id))
        lines["src_lang.txt"].append(u.src_lang)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, values in lines.items():
        tmp = out / f".{name}.tmp"
        tmp.write_text("".join(f"{v}\n" for v in values), encoding="utf-8")
        tmp.replace(out / name)
        paths.append(out / name)
    return paths


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m speech_proactive.data.simuleval_lists",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--manifest", required=True, type=Path)
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--limit", type=int, help="first N utterances")
    args = p.parse_args(argv)
    try:
        paths = write_lists(read_manifest(args.manifest), args.out, args.limit)
    except (ManifestError, ValueError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(" ".join(str(x) for x in paths))
    return 0


if __name__ == "__main__":
    sys.exit(main())
