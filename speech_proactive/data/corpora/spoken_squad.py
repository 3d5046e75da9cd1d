"""Spoken-SQuAD (Li et al., Interspeech 2018) on disk -> our QA manifest.

    python -m speech_proactive.data.corpora.spoken_squad --root Spoken-SQuAD --out data/spoken_squad [--max-seconds 30]

Read (the layout as released: SQuAD v1.1 JSON whose contexts are CMU Sphinx transcripts of Google TTS audio):
    {root}/spoken_train-v1.1.json                   {"data": [{"title", "paragraphs": [{"context", "qas": [
    {root}/spoken_test-v1.1.json                        {"id", "question", "answers": [{"answer_start", "text"}]}]}]}]}
    {root}/Spoken-SQuAD_audio/train_wav/{a}_{p}_{s}.wav   sentence s of paragraph p of article a (any rate)
    {root}/Spoken-SQuAD_audio/dev_wav/{a}_{p}_{s}.wav     the same for the test split
  Article and paragraph numbers are positions in the JSON, from 0.
Written:
    {out}/{train,test}.qa-en.jsonl                  one row per question: task "qa", the question, the first
                                                    answer as tgt_text, the context (an ASR transcript) as src_text
    {out}/audio/{split}/{a}_{p}.wav                 a paragraph's sentences joined, 16 kHz mono (written once,
                                                    kept on a re-run)

The ideal moment of an answer is not in the release. It is estimated as the share of the context's characters
up to the answer's end, times the paragraph's duration (meta "ideal": "char-estimate"): good enough for
"after the ideal moment" averages, not for per-example claims. Paragraphs longer than --max-seconds (the
encoder's 30 s window) are skipped and counted; so are questions whose paragraph has no audio.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

from speech_proactive import audio
from speech_proactive.data.manifest import Utterance, write_manifest

SPLITS = {"train": ("spoken_train-v1.1.json", "train_wav"), "test": ("spoken_test-v1.1.json", "dev_wav")}
AUDIO_DIR = "Spoken-SQuAD_audio"


class SpokenSquadError(ValueError):
    """The folder is not Spoken-SQuAD as released; the message names the file and what is wrong."""


@dataclass
class SplitSummary:
    n_questions: int = 0
    n_paragraphs: int = 0
    skipped_long: int = 0  # questions whose paragraph is longer than max_seconds
    skipped_no_audio: int = 0
    missing: list[str] = field(default_factory=list)  # paragraph keys without any sentence wav (first few)


def read_squad(path: Path) -> list[dict]:
    if not path.is_file():
        raise SpokenSquadError(f"{path}: no such file (expected Spoken-SQuAD's {path.name})")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))["data"]
    except (json.JSONDecodeError, KeyError, TypeError) as e:
        raise SpokenSquadError(f"{path}: not SQuAD v1.1 JSON with a top-level 'data' list ({e})") from e
    return data


def sentence_wavs(wav_dir: Path, article: int, paragraph: int) -> list[Path]:
    """The paragraph's sentence files in sentence order (numeric, so 10 comes after 9)."""
    found = wav_dir.glob(f"{article}_{paragraph}_*.wav")
    return sorted(found, key=lambda p: int(p.stem.rsplit("_", 1)[1]))


def paragraph_audio(wavs: list[Path], out_path: Path) -> int:
    """Join the sentences at 16 kHz into `out_path` (kept if already there); its length in samples."""
    import numpy as np
    import soundfile as sf

    if out_path.is_file():
        return sf.info(str(out_path)).frames
    samples = np.concatenate([audio.load_audio(p) for p in wavs])
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(f".tmp-{out_path.name}")  # still ends in .wav: soundfile picks the format by it
    audio.write_wav(tmp, samples)
    tmp.replace(out_path)
    return len(samples)


def question_rows(para: dict, key: str, wav: str, n_samples: int) -> list[Utterance]:
    context = " ".join(str(para["context"]).split())
    duration_ms = audio.samples_to_ms(n_samples)
    rows = []
    for qa in para.get("qas", []):
        answer = qa["answers"][0]
        end_char = min(len(context), int(answer["answer_start"]) + len(answer["text"]))
        ideal_ms = duration_ms * end_char / max(1, len(context))
        rows.append(
            Utterance(
                id=str(qa["id"]),
                audio=wav,
                n_samples=n_samples,
                src_lang="en",
                src_text=context,
                tgt_lang="en",
                tgt_text=" ".join(answer["text"].split()),
                speaker="google-tts",
                tgt_ideal_ms=tuple(ideal_ms for _ in answer["text"].split()),
                task="qa",
                question=qa["question"],
                meta={"paragraph": key, "ideal": "char-estimate"},
            )
        )
    return rows


def build_split(root: Path, out: Path, split: str, max_seconds: float) -> tuple[list[Utterance], SplitSummary]:
    json_name, wav_name = SPLITS[split]
    articles = read_squad(root / json_name)
    wav_dir = root / AUDIO_DIR / wav_name
    if not wav_dir.is_dir():
        raise SpokenSquadError(f"{wav_dir}: no such folder (unpack {AUDIO_DIR}.zip and its {wav_name}.zip there)")
    rows, summary = [], SplitSummary()
    for a, article in enumerate(articles):
        for p, para in enumerate(article.get("paragraphs", [])):
            key, n_q = f"{a}_{p}", len(para.get("qas", []))
            wavs = sentence_wavs(wav_dir, a, p)
            if not wavs:
                summary.skipped_no_audio += n_q
                summary.missing = (summary.missing + [key])[:5]
                continue
            rel = f"audio/{split}/{key}.wav"
            n_samples = paragraph_audio(wavs, out / rel)
            if n_samples > max_seconds * audio.SAMPLE_RATE:
                summary.skipped_long += n_q
                continue
            rows += question_rows(para, key, rel, n_samples)
            summary.n_paragraphs += 1
    summary.n_questions = len(rows)
    return rows, summary


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m speech_proactive.data.corpora.spoken_squad",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--root", type=Path, required=True, help="the Spoken-SQuAD folder (JSON files + audio)")
    p.add_argument("--out", type=Path, default=Path("data/spoken_squad"))
    p.add_argument("--splits", nargs="+", choices=sorted(SPLITS), default=sorted(SPLITS))
    p.add_argument("--max-seconds", type=float, default=30.0, help="skip longer paragraphs (encoder window)")
    args = p.parse_args(argv)
    try:
        for split in args.splits:
            rows, s = build_split(args.root, args.out, split, args.max_seconds)
            if not rows:
                raise SpokenSquadError(f"{split}: no question has usable audio (first missing: {s.missing})")
            write_manifest(args.out / f"{split}.qa-en.jsonl", rows)
            print(
                f"{split}: {s.n_questions} questions on {s.n_paragraphs} paragraphs; skipped "
                f"{s.skipped_long} (paragraph > {args.max_seconds:.0f} s), {s.skipped_no_audio} (no audio"
                f"{', e.g. ' + ', '.join(s.missing) if s.missing else ''})"
            )
    except SpokenSquadError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
