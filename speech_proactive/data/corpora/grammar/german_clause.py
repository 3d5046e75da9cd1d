"""German clause word order: prefield, finite verb, middle field, right bracket (or verb cluster at the end)."""

from __future__ import annotations

from speech_proactive.data.corpora.grammar import german_phrases as ph
from speech_proactive.data.corpora.grammar.aligned import Scope, Word
from speech_proactive.data.corpora.grammar.entries import Wh
from speech_proactive.data.corpora.grammar.meaning import Clause, Det, NounPhrase, is_indefinite
from speech_proactive.data.corpora.grammar.order import Order


def clause(c: Clause, order: Order, scope: Scope, wh: Wh | None = None) -> list[Word]:
    parts = ph.verb_parts(c, scope, question=order is Order.YES_NO)
    subject = ph.participant(c.subject, "nom", scope.subj) if c.subject is not None else []
    middle = middle_field(c, scope, with_time=order is not Order.TIME_FIRST)
    if order is Order.VERB_LAST:
        return [*subject, *middle, *parts.final]
    if order is Order.SUBJECT_FIRST:
        return [*subject, parts.finite, *middle, *parts.bracket]
    if order is Order.TIME_FIRST:
        return [*ph.time(c.time, scope), parts.finite, *subject, *middle, *parts.bracket]
    if order is Order.WH:
        return [ph.wh_word(wh, scope), parts.finite, *subject, *middle, *parts.bracket]
    return [parts.finite, *subject, *middle, *parts.bracket]  # YES_NO, VERB_FIRST


def middle_field(c: Clause, scope: Scope, with_time: bool = True) -> list[Word]:
    """Dative, known accusative, time, nicht, manner, place, new accusative.

    Definite objects (and names) precede the adverbials and "nicht"; indefinite ones follow them, which is
    the unmarked German order. A negated indefinite object becomes "kein" instead of taking "nicht".
    """
    if c.negated and isinstance(c.obj, NounPhrase) and c.obj.det is Det.NUM:
        raise ValueError("a negated counted object ('nicht drei Bücher') is not generated")
    kein = c.negated and is_indefinite(c.obj)
    obj = [] if c.obj is None else ph.participant(c.obj, "acc", scope.obj, scope.verb, scope.neg if kein else 0)
    early, late = ([], obj) if is_indefinite(c.obj) else (obj, [])
    out = [] if c.dat is None else ph.participant(c.dat, "dat", scope.dat, scope.verb)
    out += early
    if c.time is not None and with_time:
        out += ph.time(c.time, scope)
    if c.negated and not kein:
        out.append(Word("nicht", scope.neg))
    if c.manner is not None:
        out.append(Word(c.manner.de, scope.manner))
    if c.place is not None:
        out += ph.place(c.place, scope)
    return out + late
