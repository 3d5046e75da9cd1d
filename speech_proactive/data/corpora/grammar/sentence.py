"""The generated unit: one English/German sentence pair with word alignments, and how it is put together."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from speech_proactive.data.corpora.grammar.aligned import Word, links


@dataclass(frozen=True)
class ParallelSentence:
    id: str  # "<shape>-<hash of the English text>": the same sentence always gets the same id
    shape: str
    en: tuple[str, ...]  # words; the first is capitalised, punctuation is attached ("book." / "book?" / "book,")
    de: tuple[str, ...]
    de_align: tuple[tuple[int, ...], ...]  # for each German word, the English word indices it is linked to
    en_align: tuple[tuple[int, ...], ...]  # for each English word, the German word indices it is linked to

    def text(self, lang: str) -> str:
        if lang not in ("en", "de"):
            raise ValueError(f"lang must be 'en' or 'de', got {lang!r}")
        return " ".join(self.en if lang == "en" else self.de)


def digest(text: str, chars: int = 12) -> str:
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()[:chars]


def punctuate(segments: Sequence[Sequence[Word]], end: str, comma: bool) -> tuple[str, ...]:
    """Clause segments joined into words: capital first letter, optional commas between clauses, end mark."""
    texts: list[str] = []
    for k, seg in enumerate(segments):
        texts += [w.text for w in seg]
        if comma and k < len(segments) - 1:
            texts[-1] += ","
    texts[0] = texts[0][:1].upper() + texts[0][1:]
    texts[-1] += end
    return tuple(texts)


def assemble(
    shape: str, de: Sequence[Sequence[Word]], en: Sequence[Sequence[Word]], end: str = ".", en_comma: bool = False
) -> ParallelSentence:
    """German always separates clauses with a comma; English only after a clause that comes first."""
    de_words = [w for seg in de for w in seg]
    en_words = [w for seg in en for w in seg]
    en_text = punctuate(en, end, en_comma)
    de_align, en_align = links(de_words, en_words)
    return ParallelSentence(
        f"{shape}-{digest(' '.join(en_text))}", shape, en_text, punctuate(de, end, comma=True), de_align, en_align
    )
