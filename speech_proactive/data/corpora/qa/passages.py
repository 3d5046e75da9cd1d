"""Seeded spoken-QA examples: a passage of facts, one question about one of them, its extractive answer.

The other sentences are distractors about the same few people: the same relation for another person, or
another relation for the same person, so neither a name nor a relation word alone gives the answer away.
The asked fact sits first, in the middle or last (`position`), so the ideal moment to answer varies from
early in the audio to its end. Splits depend on content alone (`split_of`).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from speech_proactive.data.corpora.grammar.sentence import digest
from speech_proactive.data.corpora.qa import lexicon as lx
from speech_proactive.data.corpora.qa.facts import RELATION_BY_KEY, RELATIONS, Fact, Shape, state

SPLITS = ("train", "dev", "test", "test_shapes")
DEV_PERCENT = 5
TEST_PERCENT = 5
HELD_OUT_PERCENT = 8  # of passages whose asked fact is stated in a held-out shape (the test_shapes split)


@dataclass(frozen=True)
class QAExample:
    id: str
    words: tuple[str, ...]  # the passage
    question: str
    answer: str  # the value as the lexicon writes it ("six", not the sentence-initial "Six,")
    answer_index: tuple[int, ...]  # passage word indices of the answer
    evidence: tuple[int, ...]  # passage word indices needed to answer (the asked sentence up to its evidence end)
    position: str  # "early" | "middle" | "end": where the asked sentence is
    shapes: tuple[str, ...]  # shape name of each sentence
    asked: int  # index of the asked sentence

    @property
    def text(self) -> str:
        return " ".join(self.words)

    @property
    def split(self) -> str:
        return split_of(self)


def split_of(ex: QAExample) -> str:
    if any(_held_out(name) for name in ex.shapes):
        return "test_shapes"
    bucket = int(digest(ex.text + " " + ex.question), 16) % 100
    if bucket < DEV_PERCENT:
        return "dev"
    return "test" if bucket < DEV_PERCENT + TEST_PERCENT else "train"


def _held_out(shape_name: str) -> bool:
    relation, index = shape_name.split(".")
    return RELATION_BY_KEY[relation].held_out == int(index)


def _position(asked: int, n: int) -> str:
    return "early" if asked == 0 else "end" if asked == n - 1 else "middle"


def _fact(rng: random.Random, people: list[lx.Person]) -> Fact:
    r = rng.choice(RELATIONS)
    person = rng.choice(people)
    value = rng.choice([v for v in r.values if v != person.name])  # nobody is their own friend
    return Fact(r.key, person, value, rng.choice(r.extras))


def _facts(rng: random.Random, n: int) -> list[Fact]:
    people = rng.sample(lx.PEOPLE, rng.choice((2, 3)))
    facts: dict[tuple, Fact] = {}
    while len(facts) < n:
        f = _fact(rng, people)
        facts.setdefault(f.key, f)
    return list(facts.values())


def _shape(rng: random.Random, fact: Fact, held_out: bool) -> Shape:
    r = RELATION_BY_KEY[fact.relation]
    pool = [s for i, s in enumerate(r.shapes) if (i == r.held_out) == held_out]
    return rng.choice(pool)


def example(rng: random.Random, n_sentences: int) -> QAExample:
    facts = _facts(rng, n_sentences)
    asked = rng.randrange(n_sentences)
    held_out = rng.randrange(100) < HELD_OUT_PERCENT
    shapes = [_shape(rng, f, held_out and i == asked) for i, f in enumerate(facts)]
    words: list[str] = []
    answer_index: tuple[int, ...] = ()
    evidence: tuple[int, ...] = ()
    for i, (f, s) in enumerate(zip(facts, shapes)):
        st = state(f, s)
        if i == asked:
            answer_index = tuple(len(words) + j for j in st.answer_index)
            evidence = tuple(range(len(words), len(words) + st.evidence_end + 1))
        words += st.words
    q = facts[asked].question()
    ex_id = digest(" ".join(words) + " " + q)
    return QAExample(
        ex_id,
        tuple(words),
        q,
        facts[asked].value,
        answer_index,
        evidence,
        _position(asked, n_sentences),
        tuple(s.name for s in shapes),
        asked,
    )


def generate(n: int, seed: int = 0, sentences: tuple[int, ...] = (3,)) -> list[QAExample]:
    """`n` distinct examples; the same (n, seed, sentences) always gives the same list."""
    if n < 1 or not sentences or min(sentences) < 1:
        raise ValueError(f"need n >= 1 and sentence counts >= 1, got n={n}, sentences={sentences}")
    rng = random.Random(seed)
    out: dict[str, QAExample] = {}
    tries = 0
    while len(out) < n:
        ex = example(rng, rng.choice(sentences))
        out.setdefault(ex.id, ex)
        tries += 1
        if tries > 20 * n:
            raise RuntimeError(f"could only draw {len(out)} distinct examples of {n}")
    return list(out.values())
