"""Lexicon: pronouns, adjectives, numerals, adverbs, places, conjunctions and question words."""

from speech_proactive.data.corpora.grammar.entries import (
    Adjective,
    Clock,
    Conjunction,
    Manner,
    Numeral,
    Place,
    Pronoun,
    TimeAdverb,
    Wh,
    tags,
)

PRONOUNS = (
    Pronoun("ich", "I", "1sg", "mein", "my"),
    Pronoun("er", "he", "3sg", "sein", "his"),
    Pronoun("sie", "she", "3sg", "ihr", "her"),
    Pronoun("wir", "we", "1pl", "unser", "our"),
    Pronoun("sie", "they", "3pl", "ihr", "their"),
)
# "ihr Bruder" would translate to both "her" and "their brother": only unambiguous possessors own things.
POSSESSORS = tuple(p for p in PRONOUNS if p.en != "they")

ADJECTIVES = (
    Adjective("alt", "old", tags("person animal thing readable")),
    Adjective("jung", "young", tags("person animal")),
    Adjective("groß", "big", tags("person animal thing food")),
    Adjective("klein", "small", tags("person animal thing food")),
    Adjective("neu", "new", tags("thing readable")),
    Adjective("schön", "beautiful", tags("person animal thing readable")),
    Adjective("gut", "good", tags("person animal readable food")),
    Adjective("rot", "red", tags("thing food")),
    Adjective("schwarz", "black", tags("animal thing")),
    Adjective("weiß", "white", tags("animal thing")),
    Adjective("klug", "clever", tags("person animal")),
    Adjective("lustig", "funny", tags("person animal readable")),
)

NUMERALS = tuple(
    Numeral(i + 1, de, en)
    for i, (de, en) in enumerate(
        (
            ("ein", "one"),
            ("zwei", "two"),
            ("drei", "three"),
            ("vier", "four"),
            ("fünf", "five"),
            ("sechs", "six"),
            ("sieben", "seven"),
            ("acht", "eight"),
            ("neun", "nine"),
            ("zehn", "ten"),
            ("elf", "eleven"),
            ("zwölf", "twelve"),
        )
    )
)
COUNTS = NUMERALS[1:]  # "ein" is the article; 1 only appears in clock times ("um ein Uhr")

TIME_ADVERBS = (
    TimeAdverb("heute", "today", frozenset({"present", "perfect"}), ""),
    TimeAdverb("jetzt", "now", frozenset({"present"}), ""),  # "has read ... now" is odd English
    TimeAdverb("morgen", "tomorrow", frozenset({"present"}), "will"),
    # English forbids "has read ... yesterday"; the German perfect becomes the English simple past
    TimeAdverb("gestern", "yesterday", frozenset({"perfect"}), "past"),
)
# A clock time only goes with the present: "at three o'clock they read" would be both tenses in English.
CLOCKS = tuple(Clock(n) for n in NUMERALS)

MANNERS = (
    Manner("gern", "gern", ""),
    Manner("gut", "gut", "well"),
    Manner("schnell", "schnell", "quickly"),
    Manner("langsam", "langsam", "slowly"),
    Manner("laut", "laut", "loudly"),
)

PLACES = (
    Place("in", "in", "Park", "park", "m", "green"),
    Place("in", "in", "Garten", "garden", "m", "green"),
    Place("an", "at", "See", "lake", "m", "water"),
    Place("an", "on", "Strand", "beach", "m", "water"),
    Place("in", "in", "Küche", "kitchen", "f", "home"),
    Place("zu", "at", "Hause", "home", "n", "home", article=False),
    Place("in", "in", "Büro", "office", "n", "work"),
    Place("in", "in", "Schule", "school", "f", "work"),
    Place("in", "in", "Stadt", "city", "f", "town"),
    Place("an", "at", "Bahnhof", "station", "m", "town"),
)

WEIL = Conjunction("weil", "because")
DASS = Conjunction("dass", "that")
OB = Conjunction("ob", "whether")
WENN = Conjunction("wenn", "when")

WH_WORDS = (
    Wh("wer", "who", "subj"),
    Wh("wen", "who", "obj", person=True),
    Wh("was", "what", "obj"),
    Wh("wem", "who", "dat", person=True),
    Wh("wo", "where", "place"),
    Wh("wann", "when", "time"),
)
