"""Words that remember which meaning atoms they express and which ones shape them; alignment follows from that.

An atom names one element of the meaning, scoped by clause: "m.subj" (the main-clause subject's head),
"m.obj.det" (its object's determiner), "s.verb" (the subordinate clause's verb), "m.neg", "m.q", ...
Each atom is one bit, so a set of atoms is an int and `a | b`, `a & b` are set union and intersection:
generating 20000 sentences builds ~10^6 of these sets.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import NamedTuple

BITS: dict[str, int] = {}  # atom name -> bit, handed out on first use


def atom(name: str) -> int:
    bit = BITS.get(name)
    if bit is None:
        bit = BITS[name] = 1 << len(BITS)
    return bit


def names(atoms: int) -> set[str]:
    """The atom names in a set, for reading and debugging."""
    return {name for name, bit in BITS.items() if atoms & bit}


class Word(NamedTuple):  # a NamedTuple, not a frozen dataclass: ~20 are built per sentence
    text: str
    sense: int  # atoms the word expresses
    form: int = 0  # atoms that decide which word or which inflected form it is


class Role(NamedTuple):
    """The atoms of one noun phrase: its head, determiner, adjective and count."""

    head: int
    det: int
    adj: int
    num: int


@dataclass(frozen=True)
class Scope:
    """The atoms of one clause, as attributes: MAIN.obj.det is "m.obj.det", SUB.verb is "s.verb"."""

    name: str  # "m" (main clause) or "s" (subordinate clause)
    subj: Role
    obj: Role
    dat: Role
    verb: int
    tense: int  # tense and aspect: the perfect auxiliary, "will", "did"
    modal: int
    neg: int
    q: int  # the question itself: what marks it ("Does", a fronted German verb, a question word)
    manner: int
    time: int
    time_prep: int
    time_num: int
    place: int
    place_prep: int
    place_det: int
    conj: int

    def slot(self, name: str) -> int:
        """Head atom of a slot a question word can ask for: subj, obj, dat, place or time."""
        got = getattr(self, name)
        return got.head if isinstance(got, Role) else got


def scope(name: str) -> Scope:
    def role(slot: str) -> Role:
        return Role(*(atom(".".join((name, slot, *part))) for part in ((), ("det",), ("adj",), ("num",))))

    atoms = {f.name: atom(f"{name}.{f.name.replace('_', '.')}") for f in fields(Scope)[4:]}
    return Scope(name, role("subj"), role("obj"), role("dat"), **atoms)


MAIN = scope("m")
SUB = scope("s")


def linked(a: Word, b: Word) -> bool:
    """Same meaning, or one word's form is decided by what the other expresses. Symmetric by construction."""
    return bool(a.sense & b.sense or a.sense & b.form or a.form & b.sense)


def links(de: Sequence[Word], en: Sequence[Word]) -> tuple[tuple[tuple[int, ...], ...], tuple[tuple[int, ...], ...]]:
    """(de_align, en_align): for each word, the other side's words it is `linked` to."""
    reach = [(j, e.sense | e.form, e.sense) for j, e in enumerate(en)]  # what a German sense / form can meet
    rows = tuple(tuple([j for j, by_sense, by_form in reach if d.sense & by_sense or d.form & by_form]) for d in de)
    cols: list[list[int]] = [[] for _ in en]
    for i, row in enumerate(rows):
        for j in row:
            cols[j].append(i)
    return rows, tuple(map(tuple, cols))
