"""Sentence shapes: one template per shape, each building both languages from one meaning."""

from __future__ import annotations

from speech_proactive.data.corpora.grammar import english_clause as en
from speech_proactive.data.corpora.grammar import german_clause as de
from speech_proactive.data.corpora.grammar.aligned import MAIN, SUB, Word
from speech_proactive.data.corpora.grammar.meaning import Clause, Complex, Question, Tense
from speech_proactive.data.corpora.grammar.order import Order
from speech_proactive.data.corpora.grammar.sentence import ParallelSentence, assemble


def require(ok: bool, shape: str, what: str) -> None:
    if not ok:
        raise ValueError(f"{shape}: {what}")


def statement(shape: str, c: Clause, order: Order = Order.SUBJECT_FIRST) -> ParallelSentence:
    return assemble(shape, [de.clause(c, order, MAIN)], [en.clause(c, order, MAIN)])


def present(c: Clause) -> ParallelSentence:
    """Der Mann liest ein Buch. / The man reads a book."""
    require(c.tense is Tense.PRESENT and c.modal is None, "present", "needs a present clause without modal")
    return statement("present", c)


def fronted_time(c: Clause) -> ParallelSentence:
    """Heute liest der Mann ein Buch. / Today the man reads a book.  (verb second after the adverb)"""
    require(c.time is not None and c.tense is Tense.PRESENT, "fronted_time", "needs a time and the present")
    return statement("fronted_time", c, Order.TIME_FIRST)


def perfect(c: Clause) -> ParallelSentence:
    """Der Mann hat ein Buch gelesen. / The man has read a book.  (participle at the end)"""
    require(c.tense is Tense.PERFECT, "perfect", "needs the perfect")
    return statement("perfect", c)


def fronted_perfect(c: Clause) -> ParallelSentence:
    """Heute hat der Mann ein Buch gelesen. / Today the man has read a book."""
    require(c.time is not None and c.tense is Tense.PERFECT, "fronted_perfect", "needs a time and the perfect")
    return statement("fronted_perfect", c, Order.TIME_FIRST)


def modal(c: Clause) -> ParallelSentence:
    """Der Mann muss ein Buch lesen. / The man must read a book.  (infinitive at the end)"""
    require(c.modal is not None, "modal", "needs a modal")
    return statement("modal", c)


def separable(c: Clause) -> ParallelSentence:
    """Sie ruft ihren Bruder an. / She calls her brother.  (prefix at the end)"""
    require(bool(c.verb.prefix) and c.tense is Tense.PRESENT, "separable", "needs a separable verb, present")
    return statement("separable", c)


def negation(c: Clause) -> ParallelSentence:
    """Der Mann liest das Buch nicht. / The man does not read the book.  (or: kein Buch / not ... a book)"""
    require(c.negated, "negation", "needs a negated clause")
    return statement("negation", c)


def time_manner_place(c: Clause) -> ParallelSentence:
    """Der Mann liest heute gern im Park ein Buch. / The man likes to read a book in the park today."""
    require(None not in (c.time, c.manner, c.place), "time_manner_place", "needs time, manner and place")
    return statement("time_manner_place", c)


def dative(c: Clause) -> ParallelSentence:
    """Der Mann gibt dem Kind einen Apfel. / The man gives the child an apple."""
    require(c.dat is not None, "dative", "needs a dative object")
    return statement("dative", c)


def yes_no_question(q: Question) -> ParallelSentence:
    """Liest der Mann ein Buch? / Does the man read a book?  (verb first)"""
    require(q.wh is None, "yes_no_question", "takes no question word")
    return assemble(
        "yes_no_question", [de.clause(q.clause, Order.YES_NO, MAIN)], [en.clause(q.clause, Order.YES_NO, MAIN)], end="?"
    )


def wh_question(q: Question) -> ParallelSentence:
    """Was liest der Mann? / What does the man read?"""
    require(q.wh is not None, "wh_question", "needs a question word")
    return assemble(
        "wh_question", [de.clause(q.clause, Order.WH, MAIN, q.wh)], [en.clause(q.clause, Order.WH, MAIN, q.wh)], end="?"
    )


def subordinate(shape: str, x: Complex) -> ParallelSentence:
    """Main clause, then the conjunction and a German clause with its finite verb last."""
    de_sub = [Word(x.conj.de, SUB.conj), *de.clause(x.sub, Order.VERB_LAST, SUB)]
    en_sub = [Word(x.conj.en, SUB.conj), *en.clause(x.sub, Order.VERB_LAST, SUB)]
    return assemble(
        shape,
        [de.clause(x.main, Order.SUBJECT_FIRST, MAIN), de_sub],
        [en.clause(x.main, Order.SUBJECT_FIRST, MAIN), en_sub],
    )


def sub_weil(x: Complex) -> ParallelSentence:
    """Das Kind lacht, weil der Hund spielt. / The child laughs because the dog plays."""
    require(x.conj.de == "weil" and x.sub.modal is None, "sub_weil", "needs weil, no modal")
    return subordinate("sub_weil", x)


def sub_dass(x: Complex) -> ParallelSentence:
    """Die Frau sagt, dass der Mann ein Buch liest. / The woman says that the man reads a book."""
    require(x.conj.de == "dass" and x.sub.modal is None, "sub_dass", "needs dass, no modal")
    return subordinate("sub_dass", x)


def sub_ob(x: Complex) -> ParallelSentence:
    """Der Mann fragt, ob die Frau arbeitet. / The man asks whether the woman works."""
    require(x.conj.de == "ob" and x.sub.modal is None, "sub_ob", "needs ob, no modal")
    return subordinate("sub_ob", x)


def sub_wenn(x: Complex) -> ParallelSentence:
    """Das Kind lacht, wenn der Hund spielt. / The child laughs when the dog plays."""
    require(x.conj.de == "wenn" and x.sub.modal is None, "sub_wenn", "needs wenn, no modal")
    return subordinate("sub_wenn", x)


def modal_sub(x: Complex) -> ParallelSentence:
    """Die Frau sagt, dass der Mann ein Buch lesen muss. / The woman says that the man must read a book."""
    require(x.sub.modal is not None, "modal_sub", "needs a modal in the subordinate clause")
    return subordinate("modal_sub", x)


def wenn_first(x: Complex) -> ParallelSentence:
    """Wenn der Hund spielt, lacht das Kind. / When the dog plays, the child laughs.  (main clause verb first)"""
    require(x.conj.de == "wenn", "wenn_first", "needs wenn")
    de_sub = [Word(x.conj.de, SUB.conj), *de.clause(x.sub, Order.VERB_LAST, SUB)]
    en_sub = [Word(x.conj.en, SUB.conj), *en.clause(x.sub, Order.VERB_LAST, SUB)]
    return assemble(
        "wenn_first",
        [de_sub, de.clause(x.main, Order.VERB_FIRST, MAIN)],
        [en_sub, en.clause(x.main, Order.VERB_FIRST, MAIN)],
        en_comma=True,
    )
