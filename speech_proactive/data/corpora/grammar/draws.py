"""Meaning samplers: one per sentence shape, drawing only combinations its template expresses correctly."""

from __future__ import annotations

import random

from speech_proactive.data.corpora.grammar import picks
from speech_proactive.data.corpora.grammar.entries import Conjunction, Modal, Verb, Wh
from speech_proactive.data.corpora.grammar.meaning import Clause, Complex, Question, Tense
from speech_proactive.data.corpora.grammar.picks import fill, maybe, places
from speech_proactive.data.corpora.grammar.verbs import MODALS, VERBS
from speech_proactive.data.corpora.grammar.words import DASS, OB, WEIL, WENN, WH_WORDS

ACTION = tuple(v for v in VERBS if v.frame in ("none", "acc", "dat", "dat_acc"))
DYNAMIC = tuple(v for v in ACTION if not v.stative)  # the ones that take time adverbs, modals and the perfect
PLAIN_TRANSITIVE = tuple(v for v in ACTION if v.frame == "acc" and not v.prefix)
SEPARABLE = tuple(v for v in ACTION if v.prefix)
DATIVE = tuple(v for v in ACTION if v.frame in ("dat", "dat_acc"))
WITH_MANNER = tuple(v for v in ACTION if v.manners and v.places)
SAYING = tuple(v for v in VERBS if v.frame == "dass")
ASKING = tuple(v for v in VERBS if v.frame == "ob")
PRESENT, PERFECT = Tense.PRESENT, Tense.PERFECT


def some_time(rng: random.Random, verb: Verb, p: float, tense: Tense = PRESENT):
    return picks.time(rng, tense) if not verb.stative and rng.random() < p else None


def present(rng: random.Random) -> Clause:
    return fill(rng, rng.choice(PLAIN_TRANSITIVE))


def fronted_time(rng: random.Random) -> Clause:
    v = rng.choice(DYNAMIC)
    return fill(rng, v, time=picks.time(rng, PRESENT), place=maybe(rng, 0.3, places(v)))


def perfect(rng: random.Random) -> Clause:
    v = rng.choice(DYNAMIC)
    return fill(rng, v, tense=PERFECT, time=some_time(rng, v, 0.5, PERFECT), place=maybe(rng, 0.3, places(v)))


def fronted_perfect(rng: random.Random) -> Clause:
    v = rng.choice(DYNAMIC)  # only times whose English keeps the present perfect: "Today ... has read"
    return fill(rng, v, tense=PERFECT, time=picks.time(rng, PERFECT, english=("",)), place=maybe(rng, 0.3, places(v)))


def modal(rng: random.Random) -> Clause:
    v = rng.choice(DYNAMIC)
    return fill(rng, v, modal=rng.choice(MODALS), time=some_time(rng, v, 0.4), place=maybe(rng, 0.3, places(v)))


def separable(rng: random.Random) -> Clause:
    v = rng.choice(SEPARABLE)
    return fill(rng, v, time=some_time(rng, v, 0.4), place=maybe(rng, 0.4, places(v)))


def negation(rng: random.Random) -> Clause:
    v = rng.choice(ACTION)
    tense = PERFECT if not v.stative and rng.random() < 0.4 else PRESENT
    place = maybe(rng, 0.4, places(v)) if v.frame == "none" else None  # "liest das Buch nicht im Park" is contrastive
    return fill(rng, v, negated=True, tense=tense, time=some_time(rng, v, 0.4, tense), place=place)


def time_manner_place(rng: random.Random) -> Clause:
    v = rng.choice(WITH_MANNER)
    manner = rng.choice(picks.manners(v))
    when = picks.time(rng, PRESENT, english=("",) if manner.key == "gern" else ("", "will"))
    return fill(rng, v, time=when, manner=manner, place=rng.choice(places(v)))


def dative(rng: random.Random) -> Clause:
    v = rng.choice(DATIVE)
    return fill(rng, v, place=maybe(rng, 0.3, places(v)))


def yes_no_question(rng: random.Random) -> Question:
    v = rng.choice(ACTION)
    return Question(fill(rng, v, time=some_time(rng, v, 0.4), place=maybe(rng, 0.3, places(v))))


def can_ask(wh: Wh, v: Verb) -> bool:
    if wh.role == "subj":
        return "person" in v.subjects
    if wh.role == "obj":
        wanted = "person" in v.objects if wh.person else bool(v.objects - {"person", "kin"})
        return v.frame in ("acc", "dat_acc") and wanted
    if wh.role == "dat":  # "Who does he give a book?" is not English: only verbs with a dative alone
        return v.frame == "dat" and "person" in v.datives
    return not v.stative if wh.role == "time" else bool(v.places)


def wh_question(rng: random.Random) -> Question:
    wh = rng.choice(WH_WORDS)
    v = rng.choice([v for v in ACTION if can_ask(wh, v)])
    when = None if wh.role == "time" else some_time(rng, v, 0.3)
    where = None if wh.role == "place" else maybe(rng, 0.2, places(v))
    return Question(fill(rng, v, ask=wh.role, time=when, place=where), wh)


def sub_clause(rng: random.Random, modal_verb: Modal | None = None) -> Clause:
    v = rng.choice(ACTION if modal_verb is None else DYNAMIC)
    if modal_verb is not None:
        return fill(rng, v, modal=modal_verb, time=some_time(rng, v, 0.3), place=maybe(rng, 0.2, places(v)))
    tense = PERFECT if not v.stative and rng.random() < 0.35 else PRESENT
    negated = rng.random() < 0.2
    place = maybe(rng, 0.2, places(v)) if not negated or v.frame == "none" else None
    return fill(rng, v, tense=tense, negated=negated, time=some_time(rng, v, 0.3, tense), place=place)


def main_clause(rng: random.Random, conj: Conjunction) -> Clause:
    verbs = SAYING if conj is DASS else ASKING if conj is OB else ACTION
    return fill(rng, rng.choice(verbs))


def sub_weil(rng: random.Random) -> Complex:
    return Complex(main_clause(rng, WEIL), WEIL, sub_clause(rng))


def sub_dass(rng: random.Random) -> Complex:
    return Complex(main_clause(rng, DASS), DASS, sub_clause(rng))


def sub_ob(rng: random.Random) -> Complex:
    return Complex(main_clause(rng, OB), OB, sub_clause(rng))


def wenn_first(rng: random.Random) -> Complex:
    return sub_wenn(rng)


def sub_wenn(rng: random.Random) -> Complex:
    """Habitual present on both sides: "when" clauses take no future and no past here."""
    v = rng.choice(ACTION)
    return Complex(main_clause(rng, WENN), WENN, fill(rng, v, place=maybe(rng, 0.3, places(v))))


def modal_sub(rng: random.Random) -> Complex:
    conj = rng.choice((WEIL, DASS))
    return Complex(main_clause(rng, conj), conj, sub_clause(rng, rng.choice(MODALS)))
