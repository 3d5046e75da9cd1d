"""Build the default corpus: controlled En<->De grammar sentences spoken by espeak-ng and MBROLA voices, both
directions.

    python -m speech_proactive.data.corpora.grammar_corpus --out data/grammar [--n 6000] [--seed 0]
        [--train-voices espeak|mixed]

Writes `{split}.{src}-{tgt}.jsonl` manifests with word end times, the target-to-source alignment and each
target word's ideal read point:
    train        espeak-ng variants; with `--train-voices mixed`, half of them MBROLA training voices instead
                 (`data/voices.py`)
    dev, test    espeak-ng variants
    test_shapes  sentence shapes no training sentence has (espeak-ng)
    test_voices  the test sentences in voices no training sentence has (MBROLA de6, de7, us3)
and `train_nonspeech.{src}-{tgt}.jsonl`: silence, noise and hum with empty texts (`data/nonspeech.py`), about
NONSPEECH_PERCENT of the training rows. Synthesis runs on all cores and is resumable: an interrupted build
continues where it stopped.
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from functools import partial
from pathlib import Path

from speech_proactive.data.corpora.corpus_build import generated_corpus_main, write_manifests
from speech_proactive.data.corpora.grammar import ParallelSentence, generate, split_of
from speech_proactive.data.manifest import Utterance
from speech_proactive.data.nonspeech import write_clips
from speech_proactive.data.synth import SynthJob, SynthResult, Voice, ideal_read_ms, pick_voice, synthesize_all
from speech_proactive.data.voices import pick_held_out_voice, pick_training_voice

DIRECTIONS = (("en", "de"), ("de", "en"))
HELD_OUT_VOICES_SPLIT = "test_voices"
NONSPEECH_PERCENT = 5  # non-speech rows per direction, in percent of that direction's training rows


def _words(s: ParallelSentence, lang: str) -> tuple[str, ...]:
    return s.en if lang == "en" else s.de


def _align(s: ParallelSentence, tgt: str):
    return s.de_align if tgt == "de" else s.en_align  # for each target word: its source word indices


TRAIN_VOICES = ("espeak", "mixed")


def voice_for(split: str, lang: str, uid: str, train_voices: str = "espeak") -> Voice:
    if split == "train" and train_voices == "mixed":
        return pick_training_voice(lang, uid)
    if split == HELD_OUT_VOICES_SPLIT:
        return pick_held_out_voice(lang, uid)
    return pick_voice(lang, uid)


def spoken_splits(s: ParallelSentence) -> tuple[str, ...]:
    """The splits a sentence is spoken in: its own, and test sentences once more in the held-out voices."""
    split = split_of(s)
    return (split, HELD_OUT_VOICES_SPLIT) if split == "test" else (split,)


def uid_of(s: ParallelSentence, src: str, split: str) -> str:
    return f"{s.id}.{src}.hv" if split == HELD_OUT_VOICES_SPLIT else f"{s.id}.{src}"


def jobs_for(sentences: list[ParallelSentence], out: Path, train_voices: str = "espeak") -> list[SynthJob]:
    jobs = []
    for s in sentences:
        for split in spoken_splits(s):
            for src, _ in DIRECTIONS:
                uid = uid_of(s, src, split)
                path = out / "audio" / split / f"{uid}.wav"
                jobs.append(SynthJob(uid, _words(s, src), voice_for(split, src, uid, train_voices), path))
    return jobs


def utterance(
    s: ParallelSentence, src: str, tgt: str, r: SynthResult, out: Path, split: str, train_voices: str = "espeak"
) -> Utterance:
    align = _align(s, tgt)
    voice = voice_for(split, src, r.id, train_voices)
    return Utterance(
        id=f"{s.id}.{src}-{tgt}" + (".hv" if split == HELD_OUT_VOICES_SPLIT else ""),
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


def build(
    out: Path, n: int, seed: int = 0, n_workers: int | None = None, train_voices: str = "espeak"
) -> dict[str, list[Utterance]]:
    if train_voices not in TRAIN_VOICES:
        raise ValueError(f"train_voices={train_voices!r}: choose from {TRAIN_VOICES}")
    sentences = generate(n, seed)
    results = {r.id: r for r in synthesize_all(jobs_for(sentences, out, train_voices), n_workers)}
    manifests: dict[str, list[Utterance]] = defaultdict(list)
    for s in sentences:
        for split in spoken_splits(s):
            for src, tgt in DIRECTIONS:
                r = results[uid_of(s, src, split)]
                manifests[f"{split}.{src}-{tgt}"].append(utterance(s, src, tgt, r, out, split, train_voices))
    for src, tgt in DIRECTIONS:
        n = len(manifests[f"train.{src}-{tgt}"]) * NONSPEECH_PERCENT // 100
        manifests[f"train_nonspeech.{src}-{tgt}"] = write_clips(out, f"nonspeech-{src}", n, src, tgt)
    return write_manifests(out, manifests)


def main(argv: list[str] | None = None) -> int:
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--train-voices", choices=TRAIN_VOICES, default="espeak")
    known, rest = pre.parse_known_args(argv)
    return generated_corpus_main(
        rest,
        "speech_proactive.data.corpora.grammar_corpus",
        __doc__,
        "data/grammar",
        6000,
        "sentences (each spoken in both languages)",
        partial(build, train_voices=known.train_voices),
    )


if __name__ == "__main__":
    sys.exit(main())
