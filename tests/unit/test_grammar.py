"""Grammar corpus: determinism, one word-order rule per shape, agreement, alignments, splits."""

import pytest

from speech_proactive.data.corpora.grammar import (
    HELD_OUT_SHAPES,
    SHAPES,
    generate,
    german_forms,
    german_phrases,
    split_of,
    templates,
)
from speech_proactive.data.corpora.grammar.aligned import MAIN, linked
from speech_proactive.data.corpora.grammar.english_clause import clause as en_clause
from speech_proactive.data.corpora.grammar.german_clause import clause as de_clause
from speech_proactive.data.corpora.grammar.meaning import Clause, Complex, Det, NounPhrase, Question, Tense
from speech_proactive.data.corpora.grammar.nouns import NAMES, NOUNS
from speech_proactive.data.corpora.grammar.order import Order
from speech_proactive.data.corpora.grammar.splits import combos
from speech_proactive.data.corpora.grammar.verbs import MODALS, VERBS
from speech_proactive.data.corpora.grammar.words import ADJECTIVES, COUNTS, PRONOUNS, TIME_ADVERBS, WEIL, WH_WORDS

N = {n.de: n for n in NOUNS}
V = {v.de: v for v in VERBS}
A = {a.de: a for a in ADJECTIVES}
P = {p.en: p for p in PRONOUNS}
NAME = {n.text: n for n in NAMES}
TIME = {t.de: t for t in TIME_ADVERBS}
PERSONS = ("1sg", "3sg", "1pl", "3pl")

FINITE = (
    {german_forms.present(v, p) for v in VERBS for p in PERSONS}
    | {german_forms.aux(a, p) for a in ("haben", "sein") for p in PERSONS}
    | {german_forms.modal(m, p) for m in MODALS for p in PERSONS}
)
JOINED = {v.prefix + german_forms.present(v, p) for v in VERBS if v.prefix for p in PERSONS}  # "anruft"
AUX = {german_forms.aux(a, p) for a in ("haben", "sein") for p in PERSONS}
MODAL_FORMS = {german_forms.modal(m, p) for m in MODALS for p in PERSONS}
PARTICIPLES = {v.participle for v in VERBS}
INFINITIVES = {v.de for v in VERBS}
PREFIXES = {v.prefix for v in VERBS if v.prefix}
HEADS = (
    {f.lower() for n in NOUNS for f in (n.de, n.de_pl, n.de_pl + "n", n.de_oblique) if f}
    | {n.text.lower() for n in NAMES}
    | {p.de for p in PRONOUNS}
)


def bare(w: str) -> str:
    return w.rstrip(".,?").lower()


def words(s, lang="de"):
    return [bare(w) for w in (s.de if lang == "de" else s.en)]


def clauses(s):
    """German clauses, split after the comma."""
    out, cur = [], []
    for w in s.de:
        cur.append(bare(w))
        if w.endswith(","):
            out.append(cur)
            cur = []
    return out + [cur]


def subject_then(ws, i):
    """Words before position i form one subject phrase ending in its head."""
    return 1 <= i <= 4 and ws[i - 1] in HEADS and not FINITE & set(ws[:i])


def time_length(ws):
    return 3 if ws[0] == "um" else 1


@pytest.fixture(scope="module")
def corpus():
    return generate(3400, seed=3)


def of_shape(corpus, shape):
    got = [s for s in corpus if s.shape == shape]
    assert len(got) >= 100
    return got


# ---------------------------------------------------------------- generation


def test_deterministic_and_seeded():
    a, b, c = generate(200, seed=5), generate(200, seed=5), generate(200, seed=6)
    assert a == b
    assert [s.en for s in a] != [s.en for s in c]
    assert generate(50, seed=5) == a[:50]  # a longer corpus extends a shorter one


def test_no_duplicates_lengths_ids(corpus):
    assert len({s.text("en") for s in corpus}) == len(corpus)
    assert len({s.text("de") for s in corpus}) == len(corpus)
    assert len({s.id for s in corpus}) == len(corpus)
    assert all(s.id.startswith(s.shape + "-") for s in corpus)
    assert all(5 <= len(s.en) <= 14 and 5 <= len(s.de) <= 14 for s in corpus)
    assert {s.shape for s in corpus} == set(SHAPES)
    assert all(s.en[-1][-1] == s.de[-1][-1] and s.en[-1][-1] in ".?" for s in corpus)


def test_shape_selection_and_errors():
    got = generate(30, seed=1, shapes=["perfect", "modal"])
    assert {s.shape for s in got} == {"perfect", "modal"}
    with pytest.raises(ValueError):
        generate(3, shapes=["no_such_shape"])
    assert set(HELD_OUT_SHAPES) < set(SHAPES)


def test_templates_refuse_meanings_of_another_shape():
    present = Clause(V["lesen"], NounPhrase(N["Mann"]), NounPhrase(N["Buch"]))
    with pytest.raises(ValueError):
        templates.perfect(present)
    with pytest.raises(ValueError):  # "Does the man not read" is not generated
        templates.yes_no_question(Question(Clause(V["lesen"], NAME["Anna"], negated=True)))


def test_prints_nothing(capsys):
    for s in generate(40, seed=2):
        split_of(s)
    assert capsys.readouterr() == ("", "")


# ---------------------------------------------------------------- word order, one rule per shape


def check_perfect(s):
    ws = words(s)
    i = next(i for i, w in enumerate(ws) if w in AUX)
    return subject_then(ws, i) and ws[-1] in PARTICIPLES


def check_fronted(s):
    ws = words(s)
    return ws[time_length(ws)] in FINITE


def check_fronted_perfect(s):
    ws = words(s)
    return ws[time_length(ws)] in AUX and ws[-1] in PARTICIPLES


def check_modal(s):
    ws = words(s)
    i = next(i for i, w in enumerate(ws) if w in MODAL_FORMS)
    return subject_then(ws, i) and ws[-1] in INFINITIVES


def check_separable(s):
    ws = words(s)
    return ws[-1] in PREFIXES and any(subject_then(ws, i) and ws[i] in FINITE for i in range(1, 5))


def check_verb_second(s):
    ws = words(s)
    return any(subject_then(ws, i) and ws[i] in FINITE for i in range(1, 5))


def check_verb_last(s):
    main, sub = clauses(s)
    return sub[0] in ("weil", "dass", "ob", "wenn") and sub[-1] in FINITE | JOINED


def check_modal_sub(s):
    _, sub = clauses(s)
    return sub[-1] in MODAL_FORMS and sub[-2] in INFINITIVES


def check_wenn_first(s):
    sub, main = clauses(s)
    return sub[0] == "wenn" and sub[-1] in FINITE | JOINED and main[0] in FINITE


def check_yes_no(s):
    return words(s)[0] in FINITE and s.de[-1].endswith("?") and s.en[0] in ("Do", "Does", "Will")


def check_wh(s):
    ws = words(s)
    return ws[0] in {w.de for w in WH_WORDS} and ws[1] in FINITE and s.de[-1].endswith("?")


def check_negation(s):
    ws = words(s)
    return ("nicht" in ws or any(w.startswith("kein") for w in ws)) and "not" in words(s, "en")


def check_time_manner_place(s):
    ws = words(s)
    t = next(i for i, w in enumerate(ws) if w in {"heute", "jetzt", "morgen", "um"})
    m = next(i for i, w in enumerate(ws) if w in {"gern", "gut", "schnell", "langsam", "laut"})
    p = next(i for i, w in enumerate(ws) if w in {"im", "am", "in", "an", "zu"} and i > m)
    return t < m < p


DATIVE_STARTS = (
    {"dem", "der", "den", "einem", "einer"}
    | {n.text.lower() for n in NAMES}
    | {c.de for c in COUNTS}
    | {p.de_poss + e for p in PRONOUNS for e in ("em", "er", "en")}
)


def check_dative(s):
    """The recipient follows the finite verb and shows the dative (names and counts show no case)."""
    ws = words(s)
    i = next(i for i in range(1, 5) if subject_then(ws, i) and ws[i] in FINITE)
    first = ws[i + 1]
    return first in DATIVE_STARTS or (first.endswith("en") and first[:-2] in A) or first.endswith("n")


RULES = {
    "present": check_verb_second,
    "fronted_time": check_fronted,
    "perfect": check_perfect,
    "fronted_perfect": check_fronted_perfect,
    "modal": check_modal,
    "separable": check_separable,
    "negation": check_negation,
    "time_manner_place": check_time_manner_place,
    "dative": check_dative,
    "yes_no_question": check_yes_no,
    "wh_question": check_wh,
    "sub_weil": check_verb_last,
    "sub_dass": check_verb_last,
    "sub_ob": check_verb_last,
    "sub_wenn": check_verb_last,
    "modal_sub": check_modal_sub,
    "wenn_first": check_wenn_first,
}


def test_every_shape_has_a_rule():
    assert set(RULES) == set(SHAPES)


@pytest.mark.parametrize("shape", sorted(RULES))
def test_word_order(corpus, shape):
    broken = [s.text("de") for s in of_shape(corpus, shape) if not RULES[shape](s)]
    assert not broken, broken[:5]


# ---------------------------------------------------------------- agreement


@pytest.mark.parametrize(
    "np, case, expected",
    [
        (NounPhrase(N["Mann"]), "nom", "der Mann"),
        (NounPhrase(N["Mann"]), "acc", "den Mann"),
        (NounPhrase(N["Mann"]), "dat", "dem Mann"),
        (NounPhrase(N["Mann"], Det.INDEF), "acc", "einen Mann"),
        (NounPhrase(N["Mann"], Det.INDEF), "dat", "einem Mann"),
        (NounPhrase(N["Mann"], adjective=A["alt"]), "acc", "den alten Mann"),
        (NounPhrase(N["Mann"], Det.INDEF, adjective=A["alt"]), "nom", "ein alter Mann"),
        (NounPhrase(N["Buch"], Det.INDEF, adjective=A["neu"]), "acc", "ein neues Buch"),
        (NounPhrase(N["Buch"], adjective=A["neu"]), "acc", "das neue Buch"),
        (NounPhrase(N["Frau"], Det.INDEF, adjective=A["jung"]), "dat", "einer jungen Frau"),
        (NounPhrase(N["Hund"], Det.POSS, possessor=P["I"], adjective=A["klein"]), "acc", "meinen kleinen Hund"),
        (NounPhrase(N["Tasche"], Det.POSS, possessor=P["we"]), "dat", "unserer Tasche"),
        (NounPhrase(N["Kind"], plural=True), "dat", "den Kindern"),
        (NounPhrase(N["Auto"], plural=True), "dat", "den Autos"),
        (NounPhrase(N["Junge"]), "acc", "den Jungen"),
        (NounPhrase(N["Buch"], Det.BARE, plural=True, adjective=A["alt"]), "acc", "alte Bücher"),
        (NounPhrase(N["Buch"], Det.BARE, plural=True, adjective=A["alt"]), "dat", "alten Büchern"),
        (NounPhrase(N["Apfel"], Det.NUM, plural=True, count=COUNTS[1], adjective=A["rot"]), "nom", "drei rote Äpfel"),
        (NounPhrase(N["Hund"], adjective=A["schwarz"], plural=True), "nom", "die schwarzen Hunde"),
    ],
)
def test_noun_phrase_agreement(np, case, expected):
    assert " ".join(w.text for w in german_phrases.noun_phrase(np, case, MAIN.obj)) == expected


def test_kein_replaces_the_indefinite_article():
    phrase = german_phrases.noun_phrase(
        NounPhrase(N["Apfel"], Det.INDEF, adjective=A["rot"]), "acc", MAIN.obj, MAIN.verb, MAIN.neg
    )
    assert [w.text for w in phrase] == ["keinen", "roten", "Apfel"]


def test_cases_in_a_sentence():
    c = Clause(
        V["geben"],
        NounPhrase(N["Mann"]),
        obj=NounPhrase(N["Apfel"], Det.INDEF),
        dat=NounPhrase(N["Kind"], adjective=A["klein"]),
    )
    s = templates.dative(c)
    assert s.text("de") == "Der Mann gibt dem kleinen Kind einen Apfel."
    assert s.text("en") == "The man gives the small child an apple."


# ---------------------------------------------------------------- alignment


def test_alignment_sanity(corpus):
    for s in corpus:
        assert len(s.de_align) == len(s.de) and len(s.en_align) == len(s.en)
        assert all(row and all(0 <= j < len(s.en) for j in row) for row in s.de_align), s.text("de")
        assert all(row and all(0 <= i < len(s.de) for i in row) for row in s.en_align), s.text("en")
        pairs = {(i, j) for i, row in enumerate(s.de_align) for j in row}
        assert pairs == {(i, j) for j, row in enumerate(s.en_align) for i in row}


def test_fast_alignment_matches_the_rule():
    c = Clause(
        V["anrufen"],
        NounPhrase(N["Frau"], adjective=A["alt"]),
        obj=NAME["Peter"],
        tense=Tense.PERFECT,
        time=TIME["gestern"],
        negated=True,
    )
    de, en = de_clause(c, Order.SUBJECT_FIRST, MAIN), en_clause(c, Order.SUBJECT_FIRST, MAIN)
    s = templates.negation(c)
    assert s.de_align == tuple(tuple(j for j, e in enumerate(en) if linked(d, e)) for d in de)


HAND_CHECKED = [
    (
        templates.perfect(
            Clause(V["lesen"], NounPhrase(N["Mann"]), NounPhrase(N["Buch"], Det.INDEF), tense=Tense.PERFECT)
        ),
        "Der Mann hat ein Buch gelesen.",
        "The man has read a book.",
        ((0, 1), (1, 2), (1, 2, 3), (3, 4, 5), (4, 5), (2, 3)),
    ),
    (
        templates.separable(Clause(V["anrufen"], P["she"], NounPhrase(N["Bruder"], Det.POSS, possessor=P["she"]))),
        "Sie ruft ihren Bruder an.",
        "She calls her brother.",
        ((0, 1), (0, 1), (1, 2, 3), (3,), (1,)),
    ),
    (
        templates.negation(Clause(V["lesen"], NAME["Anna"], NounPhrase(N["Buch"], Det.INDEF), negated=True)),
        "Anna liest kein Buch.",
        "Anna does not read a book.",
        ((0, 1), (0, 3), (1, 2, 3, 4, 5), (4, 5)),
    ),
    (
        templates.sub_weil(
            Complex(
                Clause(V["lachen"], NounPhrase(N["Kind"])),
                WEIL,
                Clause(V["spielen"], NounPhrase(N["Hund"]), tense=Tense.PERFECT, time=TIME["gestern"]),
            )
        ),
        "Das Kind lacht, weil der Hund gestern gespielt hat.",
        "The child laughs because the dog played yesterday.",
        ((0, 1), (1, 2), (1, 2), (3,), (4, 5), (5,), (6, 7), (6,), (5, 6)),
    ),
]


@pytest.mark.parametrize("s, de, en, de_align", HAND_CHECKED, ids=lambda x: getattr(x, "shape", ""))
def test_hand_checked_alignment(s, de, en, de_align):
    assert (s.text("de"), s.text("en"), s.de_align) == (de, en, de_align)


def test_question_alignment():
    """Does <-> the fronted verb (both mark the question); "read" is bare because of "Does"."""
    s = templates.yes_no_question(Question(Clause(V["lesen"], NounPhrase(N["Mann"]), NounPhrase(N["Buch"]))))
    assert s.text("de") == "Liest der Mann das Buch?" and s.text("en") == "Does the man read the book?"
    assert s.en_align == ((0, 2), (1,), (0, 1, 2), (0, 3), (3,), (3, 4))


# ---------------------------------------------------------------- splits


def test_splits(corpus):
    split = {s.id: split_of(s) for s in corpus}
    assert set(split.values()) == {"train", "dev", "test", "test_shapes"}
    assert all((split[s.id] == "test_shapes") == (s.shape in HELD_OUT_SHAPES) for s in corpus)
    for lang in ("en", "de"):
        where = {}
        for s in corpus:
            assert where.setdefault(s.text(lang), split[s.id]) == split[s.id]
    seen = set().union(*(combos(s) for s in corpus if split[s.id] == "train"))
    test = [s for s in corpus if split[s.id] == "test"]
    assert all(combos(s) - seen for s in test)
    rest = len([s for s in corpus if s.shape not in HELD_OUT_SHAPES])
    assert 0.05 < len(test) / rest < 0.2
    assert 0.02 < sum(v == "dev" for v in split.values()) / rest < 0.09


def test_split_depends_on_content_only(corpus):
    other = {s.text("en"): s for s in generate(3400, seed=4)}
    shared = [s for s in corpus if s.text("en") in other]
    assert shared
    assert all(split_of(s) == split_of(other[s.text("en")]) for s in shared)
