"""The words of the spoken-QA fact grammar: people, places, jobs, quantities, times, colours.

Every answer value is one of these, so a small model can learn them; values are chosen so that no value of
one slot is a value of another (an answer names its kind: "seven o'clock" is a time, "seven" a count).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Person:
    name: str
    female: bool

    @property
    def possessive(self) -> str:
        return "her" if self.female else "his"


PEOPLE = tuple(
    Person(n, f)
    for n, f in (
        ("Anna", True),
        ("Maria", True),
        ("Lisa", True),
        ("Emma", True),
        ("Sophie", True),
        ("Clara", True),
        ("Julia", True),
        ("Laura", True),
        ("Peter", False),
        ("Paul", False),
        ("Thomas", False),
        ("Max", False),
        ("David", False),
        ("Simon", False),
        ("Daniel", False),
        ("Martin", False),
    )
)
CITIES = (
    "Berlin",
    "Paris",
    "London",
    "Rome",
    "Vienna",
    "Madrid",
    "Prague",
    "Dublin",
    "Lisbon",
    "Oslo",
    "Munich",
    "Hamburg",
    "Zurich",
    "Boston",
    "Chicago",
    "Toronto",
)
JOBS = (
    "teacher",
    "doctor",
    "baker",
    "farmer",
    "pilot",
    "nurse",
    "driver",
    "singer",
    "cook",
    "painter",
    "lawyer",
    "dentist",
)  # all take "a" (no vowel onset)
HOURS = ("one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve")
TIMES = tuple(f"{h} o'clock" for h in HOURS)
COUNTS = ("two", "three", "four", "five", "six", "seven", "eight", "nine")
AGES = ("twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
COLOURS = ("red", "blue", "green", "black", "white", "yellow", "brown", "grey")
ANIMALS = ("cats", "dogs", "horses", "birds", "rabbits", "goats")  # plural: "has three cats"
ROLES = ("friend", "neighbour", "boss", "partner")  # "Who is Anna's friend?"
THINGS = ("car", "bike", "house", "door")  # "What colour is Anna's car?"
