"""Drawing a corpus: shapes in turn, each sentence new on both sides and within the length limits."""

from __future__ import annotations

import random
from collections.abc import Sequence

from speech_proactive.data.corpora.grammar.catalog import CATALOG, SHAPES, Shape
from speech_proactive.data.corpora.grammar.sentence import ParallelSentence

MIN_WORDS, MAX_WORDS = 5, 14
# A shape that fails this many draws in a row has (nearly) run out of new sentences.
GIVE_UP = 300


def fits(s: ParallelSentence) -> bool:
    return all(MIN_WORDS <= len(words) <= MAX_WORDS for words in (s.en, s.de))


def draw_new(rng: random.Random, shape: Shape, seen: set[str]) -> ParallelSentence | None:
    """Both texts must be new: a German sentence with two English sources would be unlearnable noise."""
    for _ in range(GIVE_UP):
        s = shape.build(shape.draw(rng))
        keys = ("en:" + s.text("en"), "de:" + s.text("de"))
        if fits(s) and not any(k in seen for k in keys):
            seen.update(keys)
            return s
    return None


def generate(n: int, seed: int = 0, shapes: Sequence[str] | None = None) -> list[ParallelSentence]:
    """`n` distinct sentence pairs, the shapes taking turns; the same (n, seed, shapes) gives the same list,
    and a longer list starts with the shorter one."""
    names = list(SHAPES if shapes is None else shapes)
    unknown = sorted(set(names) - set(CATALOG))
    if unknown or not names:
        raise ValueError(f"unknown or no shapes: {unknown}; known: {SHAPES}")
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    rng, seen, out, turn = random.Random(seed), set(), [], 0
    while len(out) < n:
        if not names:
            raise ValueError(f"the shapes ran out of new sentences after {len(out)} of {n}")
        name = names[turn % len(names)]
        s = draw_new(rng, CATALOG[name], seen)
        if s is None:
            names.remove(name)
            continue
        out.append(s)
        turn += 1
    return out
