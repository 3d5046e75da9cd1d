"""Which voices speak which part of the default corpus.

- Training: espeak-ng's variants (half the utterances) and the MBROLA voices de1-de5 (German), us1, us2 and
  en1 (English) (the other half), each at a drawn speed and pitch.
- `test` and `dev`: espeak-ng's variants, as before, so their numbers stay comparable across versions.
- `test_voices`: the test sentences spoken by voices no training example has: MBROLA de6 and de7 (German),
  us3 (English).
- de8 is in neither: kept back for an independent check.

Every pick is a pure function of (language, key): the same utterance always gets the same voice.
"""

from __future__ import annotations

from speech_proactive.data.synth import Voice, draw_voice, key_ints, pick_voice

TRAIN_MBROLA = {"de": ("mb-de1", "mb-de2", "mb-de3", "mb-de4", "mb-de5"), "en": ("mb-us1", "mb-us2", "mb-en1")}
HELD_OUT_MBROLA = {"de": ("mb-de6", "mb-de7"), "en": ("mb-us3",)}
RESERVED_MBROLA = {"de": ("mb-de8",), "en": ()}
MBROLA_SHARE_PERCENT = 50  # of training utterances; the rest keep espeak-ng's variants


def pick_training_voice(lang: str, key: str) -> Voice:
    """An MBROLA training voice for MBROLA_SHARE_PERCENT of keys, else an espeak-ng variant (`pick_voice`)."""
    if key_ints("share", lang, key)[0] % 100 < MBROLA_SHARE_PERCENT:
        return draw_voice(lang, key, TRAIN_MBROLA[lang], "mbrola")
    return pick_voice(lang, key)


def pick_held_out_voice(lang: str, key: str) -> Voice:
    return draw_voice(lang, key, HELD_OUT_MBROLA[lang], "mbrola")
