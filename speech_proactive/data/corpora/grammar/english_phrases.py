"""English phrases with their atoms: noun phrases, places, times, question words and the verb group."""

from __future__ import annotations

from dataclasses import dataclass

from speech_proactive.data.corpora.grammar.aligned import Role, Scope, Word
from speech_proactive.data.corpora.grammar.entries import Clock, Name, Place, Pronoun, Time, Wh
from speech_proactive.data.corpora.grammar.meaning import Clause, Det, NounPhrase, Participant, Tense, person_of


def participant(p: Participant, r: Role) -> list[Word]:
    if isinstance(p, Pronoun):
        return [Word(p.en, r.head)]
    if isinstance(p, Name):
        return [Word(p.text, r.head)]
    return noun_phrase(p, r)


def noun_phrase(np: NounPhrase, r: Role) -> list[Word]:
    rest = [Word(np.adjective.en, r.adj)] if np.adjective else []
    rest.append(Word(np.head.en_pl if np.plural else np.head.en, r.head))
    det = determiner(np, r, rest[0])
    return rest if det is None else [det, *rest]


def determiner(np: NounPhrase, r: Role, following: Word) -> Word | None:
    if np.det is Det.DEF:
        return Word("the", r.det)
    if np.det is Det.INDEF:  # a/an is decided by the next word's sound
        return Word("an" if following.text[0] in "aeiou" else "a", r.det, following.sense)
    if np.det is Det.POSS:
        return Word(np.possessor.en_poss, r.det)
    if np.det is Det.NUM:
        return Word(np.count.en, r.num)
    return None


def place(p: Place, scope: Scope) -> list[Word]:
    head = Word(p.en, scope.place)
    prep = Word(p.en_prep, scope.place_prep)
    return [prep, Word("the", scope.place_det), head] if p.article else [prep, head]


def time(t: Time, scope: Scope) -> list[Word]:
    if isinstance(t, Clock):
        return [Word("at", scope.time_prep), Word(t.hour.en, scope.time_num), Word("o'clock", scope.time)]
    return [Word(t.en, scope.time)]


def wh_word(wh: Wh, scope: Scope) -> Word:
    return Word(wh.en, scope.slot(wh.role) | scope.q)


@dataclass(frozen=True)
class VerbGroup:
    finite: tuple[Word, ...]  # the auxiliary that moves before the subject in a question; empty if none
    rest: tuple[Word, ...]


def unsupported(c: Clause, question: bool) -> str:
    """Why the verb group cannot be built (empty if it can); the samplers never draw these."""
    if question and c.negated:
        return "negated questions are not generated"
    if c.modal is not None and (question or c.negated or c.tense is Tense.PERFECT):
        return "modals are only generated in positive present statements"
    gern = c.manner is not None and c.manner.key == "gern"
    if gern and (question or c.negated or c.tense is Tense.PERFECT or c.time is not None and c.time.english):
        return "gern is only generated in positive present statements without a future"
    return ""


def verb_group(c: Clause, scope: Scope, question: bool = False) -> VerbGroup:
    """English tense, negation and question marking all go through an auxiliary (or "likes to" for gern)."""
    if why := unsupported(c, question):
        raise ValueError(why)
    third = person_of(c.subject) == "3sg"
    v = c.verb.en
    verb, tense, time, agree = scope.verb, scope.tense, scope.time, scope.subj.head | scope.tense
    asks = scope.q if question else 0
    marker = scope.neg if c.negated else asks  # what brings in do-support
    nots = (Word("not", scope.neg),) if c.negated else ()
    shift = c.time.english if c.time is not None else ""

    def lexical(text: str, sense: int = 0, form: int = 0) -> tuple[Word, ...]:
        return (Word(text, verb | sense, form), *(Word(t, verb) for t in v.tail))

    if c.modal is not None:
        m = c.modal
        finite = Word(m.en3 if third else m.en, scope.modal, agree if m.en3 != m.en else 0)
        to = (Word("to", scope.modal),) if m.to else ()
        return VerbGroup((finite,), to + lexical(v.base, form=scope.modal))
    if c.manner is not None and c.manner.key == "gern":
        likes = Word("likes" if third else "like", scope.manner, agree)
        return VerbGroup((), (likes, Word("to", scope.manner)) + lexical(v.base, form=scope.manner))
    if c.tense is Tense.PERFECT and shift == "past":
        if not marker:
            return VerbGroup((), lexical(v.past, tense, time))
        return VerbGroup((Word("did", tense | marker, time),), nots + lexical(v.base, form=marker))
    if c.tense is Tense.PERFECT:
        has = Word("has" if third else "have", tense | asks, scope.subj.head)
        return VerbGroup((has,), nots + lexical(v.participle, form=tense))
    if shift == "will":
        return VerbGroup((Word("will", tense | asks, time),), nots + lexical(v.base, form=tense))
    if marker:
        does = Word("does" if third else "do", marker, agree)
        return VerbGroup((does,), nots + lexical(v.base, form=marker))
    return VerbGroup((), lexical(v.s if third else v.base, form=agree))
