"""Relations of the QA grammar and the sentence shapes that state them.

A shape is a template of space-separated words with slots: `{p}` the person, `{pos}` their possessive,
`{a}` the answer value, `{x}` the relation's extra key (an animal, a role, a thing). A `|` marks where the
evidence is complete: what follows adds nothing to the answer (without `|`, the whole sentence is evidence).
So "{a} is the {x} of {p}." puts the answer first and its evidence last, and "{p} lives in {a} | with {pos}
family." has evidence complete before the sentence ends. The ideal moment to answer a question about a fact
is the end of its last evidence word in the audio.
"""

from __future__ import annotations

from dataclasses import dataclass

from speech_proactive.data.corpora.qa import lexicon as lx

EVIDENCE_END = "|"


@dataclass(frozen=True)
class Shape:
    name: str  # "<relation>.<n>", unique
    template: str


@dataclass(frozen=True)
class Relation:
    key: str
    values: tuple[str, ...]  # what {a} can be
    question: str  # template with {p} and {x}
    shapes: tuple[Shape, ...]
    extras: tuple[str, ...] = ("",)  # what {x} can be; a fact is unique per (person, relation, extra)
    held_out: int = -1  # index of the shape kept for the test_shapes split (-1: none)


def _shapes(key: str, *templates: str) -> tuple[Shape, ...]:
    return tuple(Shape(f"{key}.{i}", t) for i, t in enumerate(templates))


RELATIONS = (
    Relation(
        "home",
        lx.CITIES,
        "Where does {p} live?",
        _shapes(
            "home",
            "{p} lives in {a}.",
            "{p} lives in {a} | with {pos} family.",
            "The home of {p} is in {a}.",
            "{p} has a flat in {a}.",
        ),
        held_out=3,
    ),
    Relation(
        "job",
        lx.JOBS,
        "What is {p}'s job?",
        _shapes(
            "job",
            "{p} works as a {a}.",
            "{p} is a {a} | in a small town.",
            "As a {a}, {p} | earns good money.",
            "{p} has been a {a} | for many years.",
        ),
        held_out=3,
    ),
    Relation(
        "time",
        lx.TIMES,
        "When does {p} arrive?",
        _shapes(
            "time",
            "{p} arrives at {a}.",
            "At {a} {p} arrives | at the station.",
            "{p} will arrive at {a} | today.",
            "The train of {p} arrives at {a}.",
        ),
        held_out=3,
    ),
    Relation(
        "count",
        lx.COUNTS,
        "How many {x} does {p} have?",
        _shapes(
            "count",
            "{p} has {a} {x}.",
            "{p} keeps {a} {x} | in the garden.",
            "{a} {x} live with {p}.",
            "{p} owns {a} {x}.",
        ),
        extras=lx.ANIMALS,
        held_out=3,
    ),
    Relation(
        "role",
        tuple(p.name for p in lx.PEOPLE),
        "Who is {p}'s {x}?",
        _shapes(
            "role",
            "{p}'s {x} is {a}.",
            "{a} is the {x} of {p}.",
            "{a} is {p}'s {x} | and lives nearby.",
            "The {x} of {p} is called {a}.",
        ),
        extras=lx.ROLES,
        held_out=3,
    ),
    Relation(
        "age",
        lx.AGES,
        "How old is {p}?",
        _shapes(
            "age",
            "{p} is {a} years old.",
            "{p} turned {a} | last week.",
            "At {a}, {p} | still plays football.",
            "{p} is now {a} years old.",
        ),
        held_out=3,
    ),
    Relation(
        "colour",
        lx.COLOURS,
        "What colour is {p}'s {x}?",
        _shapes(
            "colour",
            "{p} has a {a} {x}.",
            "The {x} of {p} is {a}.",
            "{p}'s {x} is {a} | and very old.",
            "{p} bought a {a} {x} | last year.",
        ),
        extras=lx.THINGS,
        held_out=3,
    ),
)
RELATION_BY_KEY = {r.key: r for r in RELATIONS}


@dataclass(frozen=True)
class Fact:
    relation: str
    person: lx.Person
    value: str
    extra: str = ""

    @property
    def key(self) -> tuple[str, str, str]:
        """Two facts of one passage never share a key: every question has one answer."""
        return self.relation, self.person.name, self.extra

    def question(self) -> str:
        return RELATION_BY_KEY[self.relation].question.format(p=self.person.name, x=self.extra)


@dataclass(frozen=True)
class Stated:
    """One fact written as one sentence: its words, where the answer is, where the evidence ends."""

    words: tuple[str, ...]
    answer_index: tuple[int, ...]  # word indices of the answer value
    evidence_end: int  # index of the last word needed to answer


def state(fact: Fact, shape: Shape) -> Stated:
    words: list[str] = []
    answer: list[int] = []
    evidence_end = None
    for token in shape.template.split():
        if token == EVIDENCE_END:
            evidence_end = len(words) - 1
            continue
        if "{a}" in token:
            head, tail = token.split("{a}")
            parts = fact.value.split()
            parts[0], parts[-1] = head + parts[0], parts[-1] + tail
            answer += range(len(words), len(words) + len(parts))
            words += parts
            continue
        words.append(token.format(p=fact.person.name, pos=fact.person.possessive, x=fact.extra))
    words[0] = words[0][:1].upper() + words[0][1:]
    return Stated(tuple(words), tuple(answer), len(words) - 1 if evidence_end is None else evidence_end)
