"""Quality of a translation or transcript: BLEU and chrF (sacrebleu, the tokenizer picked by the target
language) and WER (raw whitespace-separated words, as SimulEval's WER)."""

from __future__ import annotations

import math


def bleu_tokenizer(tgt_lang: str) -> str:
    """sacrebleu's tokenizer for a target language: "zh" for Chinese, MeCab (or characters, when MeCab is not
    installed) for Japanese, "13a" (sacrebleu's default, WMT's standard) for everything else."""
    lang = tgt_lang.lower().replace("_", "-").split("-")[0]
    if lang == "zh":
        return "zh"
    if lang == "ja":
        return "ja-mecab" if _mecab_available() else "char"
    return "13a"


def _mecab_available() -> bool:
    from sacrebleu.tokenizers.tokenizer_ja_mecab import TokenizerJaMecab

    try:
        TokenizerJaMecab()
    except (RuntimeError, AssertionError):  # MeCab or its IPA dictionary is missing
        return False
    return True


def corpus_bleu(hyps: list[str], refs: list[str], tgt_lang: str = "en") -> float:
    from sacrebleu.metrics import BLEU

    return BLEU(tokenize=bleu_tokenizer(tgt_lang)).corpus_score(hyps, [refs]).score


def corpus_chrf(hyps: list[str], refs: list[str]) -> float:
    from sacrebleu.metrics import CHRF

    return CHRF().corpus_score(hyps, [refs]).score


def word_edit_distance(hyp: list[str], ref: list[str]) -> int:
    """Levenshtein distance between two word sequences (substitutions, insertions, deletions cost 1)."""
    row = list(range(len(ref) + 1))  # distances from the empty hypothesis prefix
    for i, h in enumerate(hyp, start=1):
        diagonal, row[0] = row[0], i
        for j, r in enumerate(ref, start=1):
            diagonal, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, diagonal + (h != r))
    return row[-1]


def corpus_wer(hyps: list[str], refs: list[str]) -> float:
    """Word error rate in percent over the corpus: total edits / total reference words, on raw
    whitespace-separated words (no case or punctuation normalisation, as SimulEval's WER)."""
    n_ref = sum(len(r.split()) for r in refs)
    edits = sum(word_edit_distance(h.split(), r.split()) for h, r in zip(hyps, refs))
    return 100.0 * edits / n_ref if n_ref else math.nan
