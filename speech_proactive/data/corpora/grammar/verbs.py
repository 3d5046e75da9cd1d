"""Lexicon: lexical verbs (with the nouns, manners and places each combines with), modals.

Only the 3rd person singular is listed when irregular; ich/wir/sie forms follow from the infinitive,
because every verb here ends in -en.
"""

from speech_proactive.data.corpora.grammar.entries import EnVerb, Frame, Modal, Verb, en_verb, tags

EVERYWHERE = "green water home work town"


def regular_third(base: str) -> str:
    stem = base[:-2]
    return stem + ("et" if stem.endswith(("t", "d")) else "t")  # "arbeitet", "findet": keep the ending audible


def verb(de: str, participle: str, en: EnVerb, frame: Frame, subjects: str, objects: str = "", datives: str = "",
         manners: str = "", places: str = "", de3: str = "", aux: str = "haben", prefix: str = "",
         stative: bool = False) -> Verb:
    base = de[len(prefix):]
    return Verb(de, de3 or regular_third(base), participle, aux, en, frame, tags(subjects), tags(objects),
                tags(datives), tags(manners), tags(places), prefix, stative)


VERBS = (
    # intransitive
    verb("arbeiten", "gearbeitet", en_verb("work"), "none", "person", manners="gut schnell langsam gern",
         places="work town home"),
    verb("schlafen", "geschlafen", en_verb("sleep", "slept"), "none", "person animal", manners="gut gern",
         places="home green", de3="schläft"),
    verb("lachen", "gelacht", en_verb("laugh"), "none", "person", manners="laut gern", places=EVERYWHERE),
    verb("spielen", "gespielt", en_verb("play"), "none", "person animal", manners="gut laut gern",
         places="green water home"),
    verb("laufen", "gelaufen", en_verb("run", "ran", "run"), "none", "person animal",
         manners="schnell langsam gern", places="green water town", de3="läuft", aux="sein"),
    verb("schwimmen", "geschwommen", en_verb("swim", "swam", "swum"), "none", "person animal",
         manners="schnell langsam gut gern", places="water", aux="sein"),
    verb("singen", "gesungen", en_verb("sing", "sang", "sung"), "none", "person", manners="laut gut gern",
         places=EVERYWHERE),
    verb("tanzen", "getanzt", en_verb("dance"), "none", "person", manners="gut gern", places="green water home"),
    verb("warten", "gewartet", en_verb("wait"), "none", "person animal", places="town green work"),
    # separable intransitive
    verb("aufstehen", "aufgestanden", en_verb("get", "got", tail="up"), "none", "person animal",
         manners="schnell langsam", places="home", aux="sein", prefix="auf"),
    verb("einkaufen", "eingekauft", en_verb("go", "went", "gone", tail="shopping"), "none", "person",
         manners="gern", places="town", prefix="ein"),
    # accusative object
    verb("lesen", "gelesen", en_verb("read", "read"), "acc", "person", "readable",
         manners="laut schnell langsam gern", places=EVERYWHERE, de3="liest"),
    verb("schreiben", "geschrieben", en_verb("write", "wrote", "written"), "acc", "person", "readable",
         manners="schnell langsam gut gern", places="home work green"),
    verb("kaufen", "gekauft", en_verb("buy", "bought"), "acc", "person", "food thing readable",
         manners="gern schnell", places="town"),
    verb("essen", "gegessen", en_verb("eat", "ate", "eaten"), "acc", "person animal", "food",
         manners="schnell langsam gern", places="home green water work", de3="isst"),
    verb("sehen", "gesehen", en_verb("see", "saw", "seen"), "acc", "person animal", "person animal thing",
         places=EVERYWHERE, de3="sieht"),
    verb("finden", "gefunden", en_verb("find", "found"), "acc", "person animal", "thing readable animal",
         manners="schnell", places=EVERYWHERE),
    verb("suchen", "gesucht", en_verb("look", tail="for"), "acc", "person animal", "thing readable animal person",
         places=EVERYWHERE),
    verb("kennen", "gekannt", en_verb("know", "knew", "known"), "acc", "person animal", "person animal",
         manners="gut", stative=True),
    verb("lieben", "geliebt", en_verb("love"), "acc", "person", "person animal", stative=True),
    verb("treffen", "getroffen", en_verb("meet", "met"), "acc", "person", "person", places=EVERYWHERE,
         de3="trifft"),
    verb("besuchen", "besucht", en_verb("visit"), "acc", "person", "person", places="home town"),
    verb("malen", "gemalt", en_verb("paint"), "acc", "person", "thing animal person",
         manners="gut schnell langsam gern", places="green home work"),
    verb("kochen", "gekocht", en_verb("cook"), "acc", "person", "food", manners="gut schnell gern",
         places="home"),
    verb("tragen", "getragen", en_verb("carry"), "acc", "person", "portable", manners="langsam schnell",
         places="green town home", de3="trägt"),
    verb("brauchen", "gebraucht", en_verb("need"), "acc", "person animal", "thing food readable", stative=True),
    verb("waschen", "gewaschen", en_verb("wash"), "acc", "person", "thing animal", manners="schnell langsam",
         places="home green", de3="wäscht"),
    # separable with accusative object
    verb("anrufen", "angerufen", en_verb("call"), "acc", "person", "person", manners="gern",
         places="home work town", prefix="an"),
    verb("abholen", "abgeholt", en_verb("pick", tail="up"), "acc", "person", "person", places="town work",
         prefix="ab"),
    verb("einladen", "eingeladen", en_verb("invite"), "acc", "person", "person", manners="gern", de3="lädt",
         prefix="ein"),
    verb("aufmachen", "aufgemacht", en_verb("open"), "acc", "person", "openable", manners="schnell langsam",
         places="home work", prefix="auf"),
    verb("zumachen", "zugemacht", en_verb("close"), "acc", "person", "openable", manners="schnell langsam laut",
         places="home work", prefix="zu"),
    # dative object
    verb("helfen", "geholfen", en_verb("help"), "dat", "person animal", datives="person", manners="gern",
         places=EVERYWHERE, de3="hilft"),
    verb("danken", "gedankt", en_verb("thank"), "dat", "person", datives="person"),
    verb("antworten", "geantwortet", en_verb("answer"), "dat", "person", datives="person",
         manners="schnell langsam"),
    verb("folgen", "gefolgt", en_verb("follow"), "dat", "person animal", datives="person animal",
         manners="schnell langsam", places="green town", aux="sein"),
    # dative and accusative: the recipient comes first in both languages
    verb("geben", "gegeben", en_verb("give", "gave", "given"), "dat_acc", "person", "portable food readable",
         datives="person animal", places=EVERYWHERE, de3="gibt"),
    verb("zeigen", "gezeigt", en_verb("show", "showed", "shown"), "dat_acc", "person", "thing readable animal",
         datives="person", places=EVERYWHERE),
    verb("schicken", "geschickt", en_verb("send", "sent"), "dat_acc", "person", "readable portable",
         datives="person"),
    verb("bringen", "gebracht", en_verb("bring", "brought"), "dat_acc", "person", "portable food readable",
         datives="person", places=EVERYWHERE),
    # verbs of saying and thinking, which take a dass or ob clause
    verb("sagen", "gesagt", en_verb("say", "said"), "dass", "person"),
    verb("glauben", "geglaubt", en_verb("think", "thought"), "dass", "person"),
    verb("hoffen", "gehofft", en_verb("hope"), "dass", "person"),
    verb("fragen", "gefragt", en_verb("ask"), "ob", "person"),
)

MODALS = (
    Modal("kann", "kann", "können", "can", "can", to=False),
    Modal("muss", "muss", "müssen", "must", "must", to=False),
    Modal("will", "will", "wollen", "want", "wants", to=True),
)
