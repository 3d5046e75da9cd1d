"""The shape registry: each shape's name, meaning sampler and template."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from speech_proactive.data.corpora.grammar import draws, templates
from speech_proactive.data.corpora.grammar.sentence import ParallelSentence


@dataclass(frozen=True)
class Shape:
    name: str
    draw: Callable[[random.Random], Any]  # a meaning the template accepts
    build: Callable[[Any], ParallelSentence]


def shape(name: str) -> Shape:
    return Shape(name, getattr(draws, name), getattr(templates, name))


CATALOG: dict[str, Shape] = {
    s.name: s
    for s in map(
        shape,
        (
            "present",
            "fronted_time",
            "perfect",
            "modal",
            "separable",
            "negation",
            "time_manner_place",
            "dative",
            "yes_no_question",
            "wh_question",
            "sub_weil",
            "sub_dass",
            "sub_ob",
            "sub_wenn",
            "wenn_first",
            "fronted_perfect",
            "modal_sub",
        ),
    )
}

# Held out for testing composition: every word and each ingredient is trained, the combination is not
# ("Heute hat ... gelesen" joins verb-second inversion with the perfect bracket; "..., weil er lesen muss"
# joins the verb-final clause with the modal bracket).
HELD_OUT_SHAPES: tuple[str, ...] = ("fronted_perfect", "modal_sub")
SHAPES: tuple[str, ...] = tuple(CATALOG)
