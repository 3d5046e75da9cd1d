"""Which split a sentence belongs to, decided from its content alone (never from generation order).

- test_shapes: every sentence of a held-out shape.
- test: sentences with an unseen combination, a (verb, noun) pair from one clause whose hash puts it among
  the held-out pairs; such pairs then never occur in train or dev.
- dev: about DEV_PERCENT of the remaining sentences, by the hash of the English text.
- train: the rest.

Combinations are read back from the English words through the lexicon, so a sentence loaded from a file
lands in the same split as when it was generated. English verb and noun forms name one lemma each.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from speech_proactive.data.corpora.grammar.catalog import HELD_OUT_SHAPES
from speech_proactive.data.corpora.grammar.nouns import NAMES, NOUNS
from speech_proactive.data.corpora.grammar.sentence import ParallelSentence, digest
from speech_proactive.data.corpora.grammar.verbs import VERBS

DEV_PERCENT = 5
HELD_OUT_COMBO_PERMILLE = 60  # of the (verb, noun) pairs; sentences hold several pairs, so ~10% of them go to test
CLAUSE_OPENERS = frozenset({"because", "that", "whether", "when"})
SPLITS = ("train", "dev", "test", "test_shapes")


@dataclass(frozen=True)
class Lemma:
    kind: str  # "verb" or "noun" (names count as nouns)
    key: str  # German infinitive, German singular noun, or the name


@dataclass(frozen=True)
class Combo:
    verb: str
    noun: str


@lru_cache(maxsize=1)
def lemma_index() -> dict[str, Lemma]:
    """English word form (lower case) -> lemma. Raises if a form would name two lemmas."""
    pairs = [(f, Lemma("verb", v.de)) for v in VERBS for f in (v.en.base, v.en.s, v.en.past, v.en.participle)]
    pairs += [(f, Lemma("noun", n.de)) for n in NOUNS for f in (n.en, n.en_pl)]
    pairs += [(n.text.lower(), Lemma("noun", n.text)) for n in NAMES]
    index: dict[str, Lemma] = {}
    for form, lemma in pairs:
        if index.setdefault(form, lemma) != lemma:
            raise ValueError(f"English form {form!r} names both {index[form]} and {lemma}")
    return index


def clauses(words: tuple[str, ...]) -> list[list[str]]:
    """English words split into clauses: before a conjunction and after a comma."""
    out: list[list[str]] = [[]]
    for w in words:
        bare = w.lower().rstrip(".,?")
        if bare in CLAUSE_OPENERS and out[-1]:
            out.append([])
        out[-1].append(bare)
        if w.endswith(","):
            out.append([])
    return [c for c in out if c]


def combos(s: ParallelSentence) -> set[Combo]:
    index, found = lemma_index(), set()
    for c in clauses(s.en):
        lemmas = [index[w] for w in c if w in index]
        found |= {Combo(v.key, n.key) for v in lemmas if v.kind == "verb" for n in lemmas if n.kind == "noun"}
    return found


def bucket(text: str, size: int) -> int:
    return int(digest(text, 16), 16) % size


def is_held_out(c: Combo) -> bool:
    return bucket(f"{c.verb}|{c.noun}", 1000) < HELD_OUT_COMBO_PERMILLE


def split_of(s: ParallelSentence) -> str:
    if s.shape in HELD_OUT_SHAPES:
        return "test_shapes"
    if any(map(is_held_out, combos(s))):
        return "test"
    return "dev" if bucket(s.text("en"), 100) < DEV_PERCENT else "train"
