"""Clause word orders; each language's clause builder turns one into its own order."""

from enum import Enum


class Order(Enum):
    SUBJECT_FIRST = "subject_first"  # plain statement
    TIME_FIRST = "time_first"  # fronted time adverbial: German verb-second inversion
    YES_NO = "yes_no"  # yes/no question: German verb first, English auxiliary first
    WH = "wh"  # question word first
    VERB_FIRST = "verb_first"  # German main clause after a fronted subordinate clause; English keeps its order
    VERB_LAST = "verb_last"  # German subordinate clause; English keeps its order
