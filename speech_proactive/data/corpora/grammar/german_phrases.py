"""German phrases with their atoms: noun phrases, places, times, question words and the parts of the verb."""

from __future__ import annotations

from dataclasses import dataclass

from speech_proactive.data.corpora.grammar import german_forms as forms
from speech_proactive.data.corpora.grammar.aligned import Role, Scope, Word
from speech_proactive.data.corpora.grammar.entries import Clock, Name, Place, Pronoun, Time, Wh
from speech_proactive.data.corpora.grammar.german_forms import Case, Declension, Slot
from speech_proactive.data.corpora.grammar.meaning import Clause, Det, NounPhrase, Participant, Tense, person_of


def participant(p: Participant, case: Case, r: Role, gov: int = 0, neg: int = 0) -> list[Word]:
    """`gov` is the atom of what assigns the case (the verb), `neg` the negation atom when the phrase carries
    the clause's negation as "kein"."""
    if isinstance(p, Pronoun):
        return [Word(p.de, r.head)]
    if isinstance(p, Name):
        return [Word(p.text, r.head)]
    return noun_phrase(p, case, r, gov, neg)


def determiner(np: NounPhrase, case: Case, s: Slot, negated: bool) -> tuple[str | None, Declension]:
    """The article (None if there is none) and the adjective declension it calls for."""
    if np.det is Det.DEF:
        return forms.DEFINITE[case][s], "weak"
    if np.det is Det.POSS:
        return forms.ein_word(np.possessor.de_poss, case, s), "mixed"
    if np.det is Det.INDEF or (np.det is Det.BARE and negated):
        return forms.ein_word("kein" if negated else "ein", case, s), "mixed"
    return None, "strong"


def noun_phrase(np: NounPhrase, case: Case, r: Role, gov: int = 0, neg: int = 0) -> list[Word]:
    if neg and np.det not in (Det.INDEF, Det.BARE):
        raise ValueError(f"only indefinite phrases take kein, not {np.det}")
    s = forms.slot(np.head.gender, np.plural)
    text, declension = determiner(np, case, s, bool(neg))
    out, shaper = [], 0  # shaper: the word that picks the adjective's declension
    if np.det is Det.NUM:
        out.append(Word(np.count.de, r.num))
        shaper = r.num
    elif text:
        out.append(Word(text, r.det | neg, r.head | gov))
        shaper = r.det
    if np.adjective:
        out.append(Word(forms.adjective(np.adjective.de, declension, case, s), r.adj, r.head | gov | shaper))
    noun = forms.noun(np.head, case, np.plural)
    out.append(Word(noun, r.head, gov if noun != forms.noun(np.head, "nom", np.plural) else 0))
    return out


def place(p: Place, scope: Scope) -> list[Word]:
    prep, det, head = scope.place_prep, scope.place_det, scope.place
    if not p.article:
        return [Word(p.de_prep, prep), Word(p.de, head, prep)]  # "Hause": old dative after "zu"
    article = forms.DEFINITE["dat"][p.gender]
    fused = forms.CONTRACTIONS.get((p.de_prep, article))
    if fused:
        return [Word(fused, prep | det, head), Word(p.de, head)]
    return [Word(p.de_prep, prep), Word(article, det, head | prep), Word(p.de, head)]


def time(t: Time, scope: Scope) -> list[Word]:
    if isinstance(t, Clock):
        return [Word("um", scope.time_prep), Word(t.hour.de, scope.time_num), Word("Uhr", scope.time)]
    return [Word(t.de, scope.time)]


def wh_word(wh: Wh, scope: Scope) -> Word:
    """The question word is the questioned slot and marks the question; wen/wem show the verb's case."""
    return Word(wh.de, scope.slot(wh.role) | scope.q, scope.verb if wh.person else 0)


@dataclass(frozen=True)
class VerbParts:
    finite: Word
    bracket: tuple[Word, ...]  # right bracket of a main clause: separable prefix, participle or infinitive
    final: tuple[Word, ...]  # verb cluster closing a subordinate clause


def verb_parts(c: Clause, scope: Scope, question: bool = False) -> VerbParts:
    """`question`: the finite verb opens a yes/no question, and that position is what marks it."""
    person = person_of(c.subject)
    agree = scope.subj.head | scope.tense
    asks = scope.q if question else 0
    v = c.verb
    if c.modal:
        finite = Word(forms.modal(c.modal, person), scope.modal | asks, agree)
        infinitive = Word(v.de, scope.verb, scope.modal)
        return VerbParts(finite, (infinitive,), (infinitive, finite))
    if c.tense is Tense.PERFECT:
        # haben or sein is the verb's choice
        finite = Word(forms.aux(v.aux, person), scope.tense | asks, scope.subj.head | scope.verb)
        participle = Word(v.participle, scope.verb, scope.tense)
        return VerbParts(finite, (participle,), (participle, finite))
    text = forms.present(v, person)
    finite = Word(text, scope.verb | asks, agree)
    if not v.prefix:
        return VerbParts(finite, (), (finite,))
    joined = Word(v.prefix + text, scope.verb, agree)  # the prefix rejoins the verb at the clause end
    return VerbParts(finite, (Word(v.prefix, scope.verb),), (joined,))
