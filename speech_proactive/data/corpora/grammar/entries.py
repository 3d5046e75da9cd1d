"""Lexicon entry types: one frozen dataclass per part of speech, plus compact constructors for the data files."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Gender = Literal["m", "f", "n"]
Person = Literal["1sg", "3sg", "1pl", "3pl"]
Frame = Literal["none", "acc", "dat", "dat_acc", "dass", "ob"]
Aux = Literal["haben", "sein"]


def tags(text: str) -> frozenset[str]:
    """Space-separated tags, so data rows stay one line."""
    return frozenset(text.split())


@dataclass(frozen=True)
class Noun:
    de: str
    de_pl: str
    gender: Gender
    en: str
    en_pl: str
    kinds: frozenset[str]  # person, kin, spouse, animal, readable, food, thing, portable, openable
    de_oblique: str = ""  # weak masculines ("Junge" -> "Jungen") outside the nominative singular


def noun(de: str, de_pl: str, gender: Gender, en: str, en_pl: str, kinds: str, oblique: str = "") -> Noun:
    return Noun(de, de_pl, gender, en, en_pl, tags(kinds), oblique)


@dataclass(frozen=True)
class Name:
    text: str  # spelled the same in both languages
    gender: Gender


@dataclass(frozen=True)
class Pronoun:
    de: str
    en: str
    person: Person
    de_poss: str  # possessive stem: "mein", "sein", ...
    en_poss: str


@dataclass(frozen=True)
class Adjective:
    de: str  # stem that takes the ending directly
    en: str
    kinds: frozenset[str]  # noun kinds it sensibly describes


@dataclass(frozen=True)
class EnVerb:
    base: str
    s: str
    past: str
    participle: str
    tail: tuple[str, ...] = ()  # particle or object that always follows: "gets up", "looks for"


def en_verb(base: str, past: str = "", participle: str = "", tail: str = "") -> EnVerb:
    """Regular forms unless given: 3rd person -s/-es/-ies, past -ed."""
    if base.endswith(("s", "sh", "ch", "x", "o")):
        s = base + "es"
    elif base.endswith("y") and base[-2] not in "aeiou":
        s = base[:-1] + "ies"
    else:
        s = base + "s"
    ed = base + "d" if base.endswith("e") else (base[:-1] + "ied" if s.endswith("ies") else base + "ed")
    past = past or ed
    return EnVerb(base, s, past, participle or past, tuple(tail.split()))


@dataclass(frozen=True)
class Verb:
    de: str  # infinitive, separable prefix included: "anrufen"
    de3: str  # 3rd person singular present, prefix excluded: "ruft"
    participle: str
    aux: Aux
    en: EnVerb
    frame: Frame
    subjects: frozenset[str]  # noun kinds
    objects: frozenset[str] = frozenset()  # accusative object kinds
    datives: frozenset[str] = frozenset()  # dative object kinds
    manners: frozenset[str] = frozenset()  # manner adverb keys that make sense with it
    places: frozenset[str] = frozenset()  # place groups that make sense with it
    prefix: str = ""  # separable prefix
    stative: bool = False  # kennen, lieben, brauchen: no time adverbs, modals or perfect ("hat ... gebraucht")

    @property
    def base(self) -> str:
        """Infinitive without the separable prefix: the form that plural subjects take."""
        return self.de[len(self.prefix) :]


@dataclass(frozen=True)
class Modal:
    de1: str
    de3: str
    de_pl: str
    en: str
    en3: str
    to: bool  # "wants to read" but "can read"


@dataclass(frozen=True)
class Numeral:
    value: int
    de: str
    en: str


@dataclass(frozen=True)
class TimeAdverb:
    de: str
    en: str
    tenses: frozenset[str]  # "present", "perfect"
    english: Literal["", "will", "past"]  # English tense it forces: "tomorrow" -> will, "yesterday" -> simple past


@dataclass(frozen=True)
class Clock:
    """um N Uhr / at N o'clock."""

    hour: Numeral
    tenses: frozenset[str] = frozenset({"present"})
    english: Literal["", "will", "past"] = ""


Time = TimeAdverb | Clock


@dataclass(frozen=True)
class Manner:
    key: str
    de: str
    en: str  # empty for "gern", which English renders as "likes to"


@dataclass(frozen=True)
class Place:
    de_prep: str
    en_prep: str
    de: str
    en: str
    gender: Gender
    group: str  # green, water, home, work, town
    article: bool = True  # "zu Hause" / "at home" take none


@dataclass(frozen=True)
class Conjunction:
    de: str
    en: str


@dataclass(frozen=True)
class Wh:
    de: str
    en: str
    role: Literal["subj", "obj", "dat", "place", "time"]
    person: bool = False  # "wen" asks for a person, "was" for anything else
