"""Random choices of meaning parts that fit together: participants a verb accepts, adverbials it goes with.

Every choice draws from an ordered tuple, never from a set, so a seed gives the same output in every process.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from functools import cache
from typing import TypeVar

from speech_proactive.data.corpora.grammar.entries import Adjective, Manner, Name, Noun, Place, Time, Verb
from speech_proactive.data.corpora.grammar.meaning import Clause, Det, NounPhrase, Participant, Tense
from speech_proactive.data.corpora.grammar.nouns import NAMES, NOUNS
from speech_proactive.data.corpora.grammar.words import (
    ADJECTIVES,
    CLOCKS,
    COUNTS,
    MANNERS,
    PLACES,
    POSSESSORS,
    PRONOUNS,
    TIME_ADVERBS,
)

T = TypeVar("T")

# (determiner, weight) for objects; subjects rarely take a bare plural ("Kinder spielen").
OBJECT_DETS = ((Det.DEF, 40), (Det.INDEF, 25), (Det.POSS, 15), (Det.NUM, 10), (Det.BARE, 10))
SUBJECT_DETS = ((Det.DEF, 50), (Det.INDEF, 20), (Det.POSS, 15), (Det.NUM, 10), (Det.BARE, 5))


def weighted(rng: random.Random, options: Sequence[tuple[T, int]]) -> T:
    r = rng.random() * sum(w for _, w in options)
    for option, w in options:
        r -= w
        if r < 0:
            return option
    return options[-1][0]


def maybe(rng: random.Random, p: float, options: Sequence[T]) -> T | None:
    return rng.choice(options) if options and rng.random() < p else None


@cache
def nouns_of(kinds: frozenset[str]) -> tuple[Noun, ...]:
    return tuple(n for n in NOUNS if n.kinds & kinds)


def head_of(p: Participant) -> str:
    """A key for "this noun or name is already in the clause" (hashing the entries themselves is slow)."""
    if isinstance(p, NounPhrase):
        return p.head.de
    return p.text if isinstance(p, Name) else p.de


@cache
def adjectives_for(head: str) -> tuple[Adjective, ...]:
    kinds = next(n.kinds for n in NOUNS if n.de == head)
    return tuple(a for a in ADJECTIVES if a.kinds & kinds)


def noun_phrase(
    rng: random.Random, kinds: frozenset[str], taken: set, dets=OBJECT_DETS, definite: bool = False
) -> NounPhrase:
    """`definite`: only der/mein (a negated clause keeps indefinite objects for kein, datives for nicht)."""
    head = rng.choice([n for n in nouns_of(kinds) if n.de not in taken])
    det = weighted(
        rng,
        [
            (d, w)
            for d, w in dets
            if (not definite or d in (Det.DEF, Det.POSS)) and not (d is Det.POSS and "spouse" in head.kinds)
        ],
    )
    plural = det in (Det.NUM, Det.BARE) or (det is not Det.INDEF and rng.random() < 0.25)
    return NounPhrase(
        head,
        det,
        plural,
        adjective=maybe(rng, 0.25, adjectives_for(head.de)),
        possessor=rng.choice(POSSESSORS) if det is Det.POSS else None,
        count=rng.choice(COUNTS) if det is Det.NUM else None,
    )


def participant(
    rng: random.Random,
    kinds: frozenset[str],
    taken: set,
    subject: bool = False,
    definite: bool = False,
    dets: Sequence[tuple[Det, int]] = (),
) -> Participant:
    """A pronoun (subjects only), a name (for people) or a noun phrase whose head is not yet `taken`."""
    r = rng.random()
    if subject and "person" in kinds and r < 0.2:
        return rng.choice(PRONOUNS)
    if "person" in kinds and r < 0.35:
        names = [n for n in NAMES if n.text not in taken]
        return rng.choice(names)
    return noun_phrase(rng, kinds, taken, dets or (SUBJECT_DETS if subject else OBJECT_DETS), definite)


def fill(rng: random.Random, verb: Verb, ask: str = "", negated: bool = False, **rest) -> Clause:
    """A clause with subject and objects the verb takes; `ask` names the slot a question word leaves empty."""
    taken: set = set()

    def pick(role: str, kinds: frozenset[str], **kw) -> Participant | None:
        if role == ask:
            return None
        p = participant(rng, kinds, taken, **kw)
        taken.add(head_of(p))
        return p

    subject = pick("subj", verb.subjects, subject=True)
    dat = pick("dat", verb.datives, definite=negated) if verb.frame in ("dat", "dat_acc") else None
    dets = [d for d in OBJECT_DETS if not negated or d[0] is not Det.NUM]  # no "nicht drei Bücher"
    obj = pick("obj", verb.objects, dets=dets) if verb.frame in ("acc", "dat_acc") else None
    return Clause(verb, subject, obj, dat, negated=negated, **rest)


def time(rng: random.Random, tense: Tense, english: tuple[str, ...] = ("", "will", "past")) -> Time:
    """A time adverb or a clock time that fits the tense; `english` limits the English tense it may force."""
    options: list[Time] = [t for t in TIME_ADVERBS if tense.value in t.tenses and t.english in english]
    if tense is Tense.PRESENT:
        options.append(rng.choice(CLOCKS))
    return rng.choice(options)


def places(verb: Verb) -> tuple[Place, ...]:
    return tuple(p for p in PLACES if p.group in verb.places)


def manners(verb: Verb) -> tuple[Manner, ...]:
    return tuple(m for m in MANNERS if m.key in verb.manners)
