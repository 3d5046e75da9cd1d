"""German inflection: articles, adjective endings, noun case forms and present-tense verb forms."""

from __future__ import annotations

from typing import Literal

from speech_proactive.data.corpora.grammar.entries import Aux, Gender, Modal, Noun, Person, Verb

Case = Literal["nom", "acc", "dat"]
Slot = Literal["m", "f", "n", "pl"]  # gender in the singular; the plural has one set of forms for all genders
Declension = Literal["weak", "mixed", "strong"]

DEFINITE: dict[str, dict[str, str]] = {
    "nom": {"m": "der", "f": "die", "n": "das", "pl": "die"},
    "acc": {"m": "den", "f": "die", "n": "das", "pl": "die"},
    "dat": {"m": "dem", "f": "der", "n": "dem", "pl": "den"},
}
# Endings shared by ein, kein and the possessives (ein has no plural; the others do).
EIN_ENDINGS: dict[str, dict[str, str]] = {
    "nom": {"m": "", "f": "e", "n": "", "pl": "e"},
    "acc": {"m": "en", "f": "e", "n": "", "pl": "e"},
    "dat": {"m": "em", "f": "er", "n": "em", "pl": "en"},
}
# Adjective endings: weak after der-words, mixed after ein-words, strong with no article to show the case.
ADJECTIVE_ENDINGS: dict[str, dict[str, dict[str, str]]] = {
    "weak": {
        "nom": {"m": "e", "f": "e", "n": "e", "pl": "en"},
        "acc": {"m": "en", "f": "e", "n": "e", "pl": "en"},
        "dat": {"m": "en", "f": "en", "n": "en", "pl": "en"},
    },
    "mixed": {
        "nom": {"m": "er", "f": "e", "n": "es", "pl": "en"},
        "acc": {"m": "en", "f": "e", "n": "es", "pl": "en"},
        "dat": {"m": "en", "f": "en", "n": "en", "pl": "en"},
    },
    "strong": {
        "nom": {"m": "er", "f": "e", "n": "es", "pl": "e"},
        "acc": {"m": "en", "f": "e", "n": "es", "pl": "e"},
        "dat": {"m": "em", "f": "er", "n": "em", "pl": "en"},
    },
}
AUX_FORMS: dict[str, dict[str, str]] = {
    "haben": {"1sg": "habe", "3sg": "hat", "1pl": "haben", "3pl": "haben"},
    "sein": {"1sg": "bin", "3sg": "ist", "1pl": "sind", "3pl": "sind"},
}
CONTRACTIONS = {("in", "dem"): "im", ("an", "dem"): "am"}


def slot(gender: Gender, plural: bool) -> Slot:
    return "pl" if plural else gender


def ein_word(stem: str, case: Case, s: Slot) -> str:
    """ein / kein / mein / unser ... with its ending."""
    return stem + EIN_ENDINGS[case][s]


def adjective(stem: str, declension: Declension, case: Case, s: Slot) -> str:
    return stem + ADJECTIVE_ENDINGS[declension][case][s]


def noun(n: Noun, case: Case, plural: bool) -> str:
    if plural:
        # dative plural adds -n unless the plural already ends in -n or -s ("den Kindern", "den Autos")
        return n.de_pl + ("n" if case == "dat" and not n.de_pl.endswith(("n", "s")) else "")
    if n.de_oblique and case != "nom":
        return n.de_oblique
    return n.de


def present(v: Verb, person: Person) -> str:
    """Present tense, separable prefix left off."""
    if person == "1sg":
        return v.base[:-2] + "e"
    if person == "3sg":
        return v.de3
    return v.base


def aux(a: Aux, person: Person) -> str:
    return AUX_FORMS[a][person]


def modal(m: Modal, person: Person) -> str:
    return {"1sg": m.de1, "3sg": m.de3}.get(person, m.de_pl)
