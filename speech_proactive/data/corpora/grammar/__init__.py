"""A seeded, controlled English<->German grammar corpus: text pairs with word alignments, no audio.

Each sentence is drawn as one meaning (a frozen dataclass: `meaning.Clause`, `Question` or `Complex`) and a
named shape template (`templates.py`) writes it in both languages. The shapes carry the German word-order
facts that make simultaneous translation hard: verb second after a fronted adverb, the perfect and modal
brackets (participle / infinitive last), separable prefixes at the clause end, verb-final weil/dass/ob/wenn
clauses, verb-first questions and main clauses, "nicht"/"kein", time-manner-place order, and case agreement
of articles and adjectives (der/den/dem, ein/einen/einem, -e/-en/-er/-es).

Alignment rule. Every word records the meaning atoms it *expresses* (sense) and the atoms that *decide which
word or which form it is* (form). A German word and an English word are linked when

    they express a common atom, or one of them expresses an atom that decides the other's form.

The relation is symmetric, so `de_align` and `en_align` are transposes of each other (j in de_align[i] iff
i in en_align[j]), and alignments are many-to-many. Consequences, all from the one rule:
  - "hat ... gelesen" <-> "has read": the auxiliary expresses the tense that shapes the participle, and
    "hat" (not "ist") is chosen by the verb; likewise "kann ... lesen" <-> "can read".
  - "ruft ... an" <-> "calls"; "kauft ... ein" <-> "goes shopping".
  - "nicht" <-> "does not read" (do-support and the bare verb are there because of the negation);
    "kein" also links "a" and the noun.
  - an article or adjective links the English noun (gender, number), the English article (which
    declension), and for objects the English verb (which case); "a"/"an" links the word after it.
  - a finite verb links the subject's head (person and number); "will"/"read"(past) link the time
    adverb that forces that English tense; "Does" and a German verb-first question link through the
    question itself.
Every word on each side is linked to at least one word on the other side.

Splits (`split_of`) depend on content only: see `splits.py`.
"""

from speech_proactive.data.corpora.grammar.catalog import HELD_OUT_SHAPES, SHAPES
from speech_proactive.data.corpora.grammar.generate import generate
from speech_proactive.data.corpora.grammar.sentence import ParallelSentence
from speech_proactive.data.corpora.grammar.splits import split_of

__all__ = ["ParallelSentence", "generate", "split_of", "SHAPES", "HELD_OUT_SHAPES"]
