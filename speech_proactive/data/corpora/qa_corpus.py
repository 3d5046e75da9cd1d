"""Build the spoken-QA corpus: fact passages spoken by espeak-ng, one question each, extractive answers.

    python -m speech_proactive.data.corpora.qa_corpus --out data/qa [--n 3000] [--seed 0]

Writes `{split}.qa-en.jsonl` manifests (splits train, dev, test, test_shapes) with `task: "qa"`, the
`question`, the answer as `tgt_text`, the word end times of the passage, each answer word aligned to the
evidence words of the asked sentence, and `tgt_ideal_ms`: the end of the last evidence word, the ideal moment
to answer. `meta` says where the asked fact sits (early / middle / end) and the shape of every sentence.
Synthesis is resumable like the translation corpus's.
"""

from __future__ import annotations

import sys
from collections import defaultdict
from pathlib import Path

from speech_proactive.data.corpora.corpus_build import generated_corpus_main, write_manifests
from speech_proactive.data.corpora.qa import QAExample, generate
from speech_proactive.data.manifest import Utterance
from speech_proactive.data.synth import SynthJob, SynthResult, ideal_read_ms, pick_voice, synthesize_all

LANG = "en"


def job_for(ex: QAExample, out: Path) -> SynthJob:
    return SynthJob(ex.id, ex.words, pick_voice(LANG, ex.id), out / "audio" / ex.split / f"{ex.id}.wav")


def utterance(ex: QAExample, r: SynthResult, out: Path) -> Utterance:
    voice = pick_voice(LANG, ex.id)
    align = tuple(ex.evidence for _ in ex.answer.split())  # every answer word needs the whole evidence
    return Utterance(
        id=ex.id,
        audio=str(r.out_path.relative_to(out)),
        n_samples=r.n_samples,
        src_lang=LANG,
        src_text=ex.text,
        tgt_lang=LANG,
        tgt_text=ex.answer,
        speaker=voice.speaker_id,
        src_word_end_ms=r.word_end_ms,
        tgt_align=align,
        tgt_ideal_ms=ideal_read_ms(r.word_end_ms, align),
        task="qa",
        question=ex.question,
        meta={
            "position": ex.position,
            "shapes": list(ex.shapes),
            "asked": ex.asked,
            "answer_words": list(ex.answer_index),
        },
    )


def build(out: Path, n: int, seed: int = 0, n_workers: int | None = None) -> dict[str, list[Utterance]]:
    examples = generate(n, seed)
    results = synthesize_all([job_for(ex, out) for ex in examples], n_workers)
    manifests: dict[str, list[Utterance]] = defaultdict(list)
    for ex, r in zip(examples, results):
        manifests[f"{ex.split}.qa-{LANG}"].append(utterance(ex, r, out))
    return write_manifests(out, manifests)


def main(argv: list[str] | None = None) -> int:
    return generated_corpus_main(
        argv, "speech_proactive.data.corpora.qa_corpus", __doc__, "data/qa", 3000, "passages, one question each", build
    )


if __name__ == "__main__":
    sys.exit(main())
