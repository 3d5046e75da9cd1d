"""Lexicon: common nouns that can be subjects or objects, and the person names.

German and English plurals are listed, never derived: German plural formation has no reliable rule.
"""

from speech_proactive.data.corpora.grammar.entries import Name, noun

NOUNS = (
    # people; "mein Mann" / "meine Frau" mean husband / wife, so these two take no possessive ("spouse")
    noun("Mann", "Männer", "m", "man", "men", "person spouse"),
    noun("Frau", "Frauen", "f", "woman", "women", "person spouse"),
    noun("Kind", "Kinder", "n", "child", "children", "person"),
    noun("Junge", "Jungen", "m", "boy", "boys", "person", oblique="Jungen"),
    noun("Mädchen", "Mädchen", "n", "girl", "girls", "person"),
    noun("Lehrer", "Lehrer", "m", "teacher", "teachers", "person"),
    noun("Arzt", "Ärzte", "m", "doctor", "doctors", "person"),
    noun("Student", "Studenten", "m", "student", "students", "person", oblique="Studenten"),
    noun("Nachbar", "Nachbarn", "m", "neighbor", "neighbors", "person", oblique="Nachbarn"),
    noun("Kellner", "Kellner", "m", "waiter", "waiters", "person"),
    noun("Bäcker", "Bäcker", "m", "baker", "bakers", "person"),
    noun("Freund", "Freunde", "m", "friend", "friends", "person kin"),
    noun("Bruder", "Brüder", "m", "brother", "brothers", "person kin"),
    noun("Schwester", "Schwestern", "f", "sister", "sisters", "person kin"),
    noun("Vater", "Väter", "m", "father", "fathers", "person kin"),
    noun("Mutter", "Mütter", "f", "mother", "mothers", "person kin"),
    # animals
    noun("Hund", "Hunde", "m", "dog", "dogs", "animal"),
    noun("Katze", "Katzen", "f", "cat", "cats", "animal"),
    noun("Pferd", "Pferde", "n", "horse", "horses", "animal"),
    noun("Vogel", "Vögel", "m", "bird", "birds", "animal"),
    noun("Maus", "Mäuse", "f", "mouse", "mice", "animal"),
    noun("Elefant", "Elefanten", "m", "elephant", "elephants", "animal", oblique="Elefanten"),
    # things to read
    noun("Buch", "Bücher", "n", "book", "books", "readable"),
    noun("Brief", "Briefe", "m", "letter", "letters", "readable"),
    noun("Zeitung", "Zeitungen", "f", "newspaper", "newspapers", "readable"),
    noun("Geschichte", "Geschichten", "f", "story", "stories", "readable"),
    # food
    noun("Apfel", "Äpfel", "m", "apple", "apples", "food"),
    noun("Kuchen", "Kuchen", "m", "cake", "cakes", "food"),
    noun("Suppe", "Suppen", "f", "soup", "soups", "food"),
    noun("Ei", "Eier", "n", "egg", "eggs", "food"),
    noun("Banane", "Bananen", "f", "banana", "bananas", "food"),
    noun("Pizza", "Pizzen", "f", "pizza", "pizzas", "food"),
    # things; "portable" ones can be given, brought, sent and carried
    noun("Tisch", "Tische", "m", "table", "tables", "thing portable"),
    noun("Stuhl", "Stühle", "m", "chair", "chairs", "thing portable"),
    noun("Lampe", "Lampen", "f", "lamp", "lamps", "thing portable"),
    noun("Tür", "Türen", "f", "door", "doors", "thing openable"),
    noun("Fenster", "Fenster", "n", "window", "windows", "thing openable"),
    noun("Tasche", "Taschen", "f", "bag", "bags", "thing portable openable"),
    noun("Kiste", "Kisten", "f", "box", "boxes", "thing portable openable"),
    noun("Geschenk", "Geschenke", "n", "gift", "gifts", "thing portable openable"),
    noun("Auto", "Autos", "n", "car", "cars", "thing"),
    noun("Ball", "Bälle", "m", "ball", "balls", "thing portable"),
    noun("Bild", "Bilder", "n", "picture", "pictures", "thing portable"),
    noun("Schlüssel", "Schlüssel", "m", "key", "keys", "thing portable"),
    noun("Blume", "Blumen", "f", "flower", "flowers", "thing portable"),
    noun("Fahrrad", "Fahrräder", "n", "bike", "bikes", "thing portable"),
    noun("Handy", "Handys", "n", "phone", "phones", "thing portable"),
)

NAMES = (
    Name("Anna", "f"),
    Name("Maria", "f"),
    Name("Lisa", "f"),
    Name("Emma", "f"),
    Name("Peter", "m"),
    Name("Paul", "m"),
    Name("Thomas", "m"),
    Name("Max", "m"),
)
