"""English clause word order: subject, verb group, objects, manner, place, time."""

from __future__ import annotations

from speech_proactive.data.corpora.grammar import english_phrases as ph
from speech_proactive.data.corpora.grammar.aligned import Scope, Word
from speech_proactive.data.corpora.grammar.entries import Wh
from speech_proactive.data.corpora.grammar.meaning import Clause
from speech_proactive.data.corpora.grammar.order import Order


def clause(c: Clause, order: Order, scope: Scope, wh: Wh | None = None) -> list[Word]:
    asks_subject = order is Order.WH and wh.role == "subj"
    group = ph.verb_group(c, scope, question=order in (Order.YES_NO, Order.WH) and not asks_subject)
    subject = [ph.wh_word(wh, scope)] if asks_subject else ph.participant(c.subject, scope.subj)
    after = complements(c, scope, with_time=order is not Order.TIME_FIRST)
    if order is Order.TIME_FIRST:
        return [*ph.time(c.time, scope), *subject, *group.finite, *group.rest, *after]
    if order is Order.YES_NO:
        return [*group.finite, *subject, *group.rest, *after]
    if order is Order.WH and not asks_subject:
        return [ph.wh_word(wh, scope), *group.finite, *subject, *group.rest, *after]
    return [*subject, *group.finite, *group.rest, *after]


def complements(c: Clause, scope: Scope, with_time: bool = True) -> list[Word]:
    """Recipient, object, manner, place, time: English keeps them after the verb in this order."""
    out = [] if c.dat is None else ph.participant(c.dat, scope.dat)
    if c.obj is not None:
        out += ph.participant(c.obj, scope.obj)
    if c.manner is not None and c.manner.en:  # gern has no adverb: it became "likes to"
        out.append(Word(c.manner.en, scope.manner))
    if c.place is not None:
        out += ph.place(c.place, scope)
    if c.time is not None and with_time:
        out += ph.time(c.time, scope)
    return out
