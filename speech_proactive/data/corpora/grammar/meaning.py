"""Meaning representations: what a sentence says, before either language puts words in order."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from speech_proactive.data.corpora.grammar.entries import (
    Adjective,
    Conjunction,
    Manner,
    Modal,
    Name,
    Noun,
    Numeral,
    Person,
    Place,
    Pronoun,
    Time,
    Verb,
    Wh,
)


class Det(Enum):
    DEF = "def"  # der / the
    INDEF = "indef"  # ein / a  (kein / a ... not, when negated)
    POSS = "poss"  # mein / my
    NUM = "num"  # drei / three
    BARE = "bare"  # plural without article


# Names and pronouns carry what definite noun phrases do: they come early in the German middle field.
INDEFINITE = (Det.INDEF, Det.NUM, Det.BARE)


class Tense(Enum):
    PRESENT = "present"
    PERFECT = "perfect"


@dataclass(frozen=True)
class NounPhrase:
    head: Noun
    det: Det = Det.DEF
    plural: bool = False
    adjective: Adjective | None = None
    possessor: Pronoun | None = None
    count: Numeral | None = None

    def __post_init__(self):
        if (self.det is Det.POSS) != (self.possessor is not None):
            raise ValueError("a possessor comes with Det.POSS and only with it")
        if (self.det is Det.NUM) != (self.count is not None):
            raise ValueError("a count comes with Det.NUM and only with it")
        if self.det in (Det.NUM, Det.BARE) and not self.plural:
            raise ValueError(f"{self.det} needs a plural noun")
        if self.det is Det.INDEF and self.plural:
            raise ValueError("no indefinite article in the plural; use Det.BARE")


Participant = NounPhrase | Name | Pronoun


def person_of(p: Participant | None) -> Person:
    """Grammatical person for agreement; a questioned subject ("wer") is 3rd singular."""
    if isinstance(p, Pronoun):
        return p.person
    if isinstance(p, NounPhrase) and p.plural:
        return "3pl"
    return "3sg"


def is_indefinite(p: Participant | None) -> bool:
    return isinstance(p, NounPhrase) and p.det in INDEFINITE


@dataclass(frozen=True)
class Clause:
    verb: Verb
    subject: Participant | None  # None only when a question word asks for it
    obj: Participant | None = None
    dat: Participant | None = None
    tense: Tense = Tense.PRESENT
    modal: Modal | None = None
    negated: bool = False
    time: Time | None = None
    manner: Manner | None = None
    place: Place | None = None


@dataclass(frozen=True)
class Question:
    clause: Clause  # the slot the question word asks for is None
    wh: Wh | None = None  # None: a yes/no question


@dataclass(frozen=True)
class Complex:
    main: Clause
    conj: Conjunction
    sub: Clause
