"""Speak words with espeak-ng: 16 kHz mono WAV files plus the end time of every word, in parallel and resumable.

How the audio and the times are made
    libespeak-ng (the library the `espeak-ng` command runs on) is called through ctypes in its synchronous mode.
    It hands back the 22.05 kHz samples and, with phoneme events switched on, the output sample at which every
    phoneme starts, tagged with the character position of the word it belongs to. A word ends where the phoneme
    after its last sounding phoneme starts (pauses `_`, `_:` ... are not sound). These are the synthesizer's own
    segment boundaries in the very audio that is written: no second synthesis, no estimate. (The command line
    cannot report times, not even for SSML marks; hence the library.)

    espeak speaks some word pairs as one dictionary phrase ("does not", "in the", "that the", "es ist") and tags
    all its phonemes with the first word. Such a phrase is split by the phoneme counts of its words spoken alone
    (`word_end_samples`); 90 of 97 phrases in a 600-utterance sample split with counts adding up exactly, the
    rest have a linking phoneme (r-, ;) that goes to the second word.

    Measured on 600 grammar-corpus utterances (en and de, all variants): where a word is followed by a pause,
    its last sample above -40 dBFS lies within 5 ms of its end time in 96% of 571 cases (median 0.3 ms; the
    others are final n, l, schwa fading below -40 dBFS early, up to 62 ms); the first loud sample is within 6 ms
    of the first phoneme's start. In the variants with an echo (m2, f2, f3, f4) the echo rings on after the
    word's end (up to 140 ms), as it should. Speaking each prefix words[:k] instead and taking its length puts
    word ends 95 ms late on average (p95 250 ms): a prefix is spoken as a finished sentence.

    The audio is espeak's output as it is: its ~12 ms lead-in and the end-of-sentence pause that the command line
    adds are kept, nothing is trimmed, so the times need no shift. It is resampled to 16 kHz with
    `audio.prepare` (zero-phase polyphase filter: times are unchanged).

Determinism
    libespeak-ng keeps synthesizer state between calls (flutter and wave phase, rand() for breath and Klatt
    noise), so one text spoken twice in one process gives different audio, even different lengths. Every
    utterance is therefore spoken in a child forked from a small helper process that has initialised the library
    but never spoken. The 22.05 kHz audio is then bit-identical to `espeak-ng -v VOICE -s SPEED -p PITCH -w f.wav`
    (the tests check this), and results do not depend on worker count or order. Needs os.fork (Linux, macOS).

Files and resuming
    For `x.wav` the times go to the sidecar `x.words.json`. Both are written to a temporary name and renamed
    into place, the wav first: a sidecar that exists and matches its job (id, words, voice) means the wav is
    complete, and `synthesize_all` reads the pair back instead of speaking it again.
"""

from __future__ import annotations

import atexit
import ctypes
import ctypes.util
import dataclasses
import hashlib
import io
import json
import multiprocessing
import os
import pickle
import signal
import subprocess
import sys
import tempfile
from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

# `speech_proactive.audio` is imported inside the functions that need it: the helper process (see `_Zygote`)
# loads this file on its own, without the package, whose __init__ imports torch.

LANG_VOICES = {"en": "en-us", "de": "de"}  # our language code -> espeak-ng voice
# espeak-ng variants (`espeak-ng --voices=variant`, files in espeak-ng-data/voices/!v): the numbered male and
# female voices and the Klatt-synthesizer voices; the novelty voices (robots, whisper, croak ...) are left out.
VARIANTS = ("m1", "m2", "m3", "m4", "m5", "m6", "m7", "f1", "f2", "f3", "f4", "klatt", "klatt2", "klatt3", "klatt4")
# MBROLA diphone voices (concatenated diphones of human recordings), spoken through espeak-ng as `-v mb-de2`:
# espeak-ng makes the phonemes and prosody, the `mbrola` program renders them. Debian's contrib/non-free
# packages `mbrola` and `mbrola-de2` ... (`scripts/install_voices.sh`, run by `make setup`). They take a
# Voice's `variant` slot: `Voice("de", "mb-de2", ...)`. Their output is 16 or 22.05 kHz, depending on the voice.
MBROLA_VOICES = {
    "de": ("mb-de1", "mb-de2", "mb-de3", "mb-de4", "mb-de5", "mb-de6", "mb-de7", "mb-de8"),
    "en": ("mb-us1", "mb-us2", "mb-us3", "mb-en1"),
}
MBROLA_PREFIX = "mb-"
# Through MBROLA, espeak-ng reports every phoneme event later than its sound, by a lag that depends on the voice
# and not on the speed (measured 140 and 190 wpm alike). Measured: the 10th percentile, over 40 grammar-corpus
# sentences at 160 wpm, of (end of the last word by the events) - (last sample above -40 dBFS); for espeak-ng's
# own voices that is 0-1 ms. The onsets agree (sound starts ~30-55 ms before the first phoneme event). `speak`
# moves MBROLA events earlier by it.
MBROLA_EVENT_LAG_MS = {
    "mb-de1": 55.5, "mb-de2": 48.0, "mb-de3": 38.7, "mb-de4": 47.4, "mb-de5": 38.4, "mb-de6": 33.9,
    "mb-de7": 37.7, "mb-de8": 54.4, "mb-us1": 54.4, "mb-us2": 50.5, "mb-us3": 49.1, "mb-en1": 54.7,
}  # fmt: skip
SPEED_WPM_RANGE = (140, 190)  # pick_voice draws from these, both ends included
PITCH_RANGE = (30, 70)
ESPEAK_SPEED_WPM_RANGE = (80, 450)  # espeak-ng's own limits for -s (above 450 it time-compresses with sonic)
SIDECAR_SUFFIX = ".words.json"
SIDECAR_FORMAT = 1

T = TypeVar("T")


class SynthError(RuntimeError):
    """espeak-ng is missing or failed; the message names the utterance and voice."""


@dataclass(frozen=True)
class Voice:
    """One speaking style: language, espeak-ng variant or MBROLA voice, speed (espeak -s) and pitch (espeak -p)."""

    lang: str
    variant: str | None
    speed_wpm: int
    pitch: int

    def __post_init__(self) -> None:
        if self.lang not in LANG_VOICES:
            raise ValueError(f"unsupported language {self.lang!r}; supported: {sorted(LANG_VOICES)}")
        if self.variant is not None and (not self.variant or "+" in self.variant or "/" in self.variant):
            raise ValueError(f"bad espeak-ng variant name {self.variant!r} (expected e.g. 'm3', 'f2', 'klatt')")
        if self.is_mbrola and self.variant not in MBROLA_VOICES[self.lang]:
            raise ValueError(
                f"MBROLA voice {self.variant!r} does not speak {self.lang!r}; its voices: {MBROLA_VOICES[self.lang]}"
            )
        lo, hi = ESPEAK_SPEED_WPM_RANGE
        if not lo <= self.speed_wpm <= hi:
            raise ValueError(f"speed_wpm {self.speed_wpm} outside espeak-ng's range {lo}..{hi}")
        if not 0 <= self.pitch <= 99:
            raise ValueError(f"pitch {self.pitch} outside espeak-ng's range 0..99")

    @property
    def is_mbrola(self) -> bool:
        return self.variant is not None and self.variant.startswith(MBROLA_PREFIX)

    @property
    def speaker_id(self) -> str:
        """The manifest's speaker field, e.g. 'espeak-en-m3-s160-p50' or 'mbrola-de-de2-s160-p50'."""
        if self.is_mbrola:
            return f"mbrola-{self.lang}-{self.variant.removeprefix(MBROLA_PREFIX)}-s{self.speed_wpm}-p{self.pitch}"
        return f"espeak-{self.lang}-{self.variant}-s{self.speed_wpm}-p{self.pitch}"

    @property
    def espeak_name(self) -> str:
        """The name espeak-ng's -v takes, e.g. 'en-us+m3' or 'mb-de2'."""
        if self.is_mbrola:
            return self.variant
        base = LANG_VOICES[self.lang]
        return base if self.variant is None else f"{base}+{self.variant}"


def key_ints(*parts: str) -> list[int]:
    """Stable 32-bit integers from a string (Python's hash() is salted per process)."""
    digest = hashlib.sha256("\x00".join(parts).encode("utf-8")).digest()
    return [int.from_bytes(digest[i : i + 4], "little") for i in range(0, len(digest), 4)]


def draw_voice(lang: str, key: str, names: Sequence[str], salt: str) -> Voice:
    """One of `names` (espeak-ng variants or MBROLA voices) at a speed and pitch drawn from the ranges, all a
    pure function of (salt, lang, key)."""
    name_int, speed_int, pitch_int = key_ints(salt, lang, key)[:3]
    speed_lo, speed_hi = SPEED_WPM_RANGE
    pitch_lo, pitch_hi = PITCH_RANGE
    return Voice(
        lang=lang,
        variant=names[name_int % len(names)],
        speed_wpm=speed_lo + speed_int % (speed_hi - speed_lo + 1),
        pitch=pitch_lo + pitch_int % (pitch_hi - pitch_lo + 1),
    )


def pick_voice(lang: str, key: str) -> Voice:
    """The same key always gives the same voice; different keys spread over variants, speeds and pitches."""
    return draw_voice(lang, key, VARIANTS, "voice")


@dataclass(frozen=True)
class SynthJob:
    id: str
    words: tuple[str, ...]
    voice: Voice
    out_path: Path  # .wav to write

    def __post_init__(self) -> None:
        object.__setattr__(self, "words", tuple(self.words))
        object.__setattr__(self, "out_path", Path(self.out_path))
        if not self.words:
            raise ValueError(f"job {self.id!r}: no words")
        bad = [w for w in self.words if not w or w != w.strip() or len(w.split()) != 1]
        if bad:
            raise ValueError(f"job {self.id!r}: words must be non-empty and contain no whitespace, got {bad!r}")
        if self.out_path.suffix.lower() != ".wav":
            raise ValueError(f"job {self.id!r}: out_path must end in .wav, got {self.out_path}")

    @property
    def text(self) -> str:
        return " ".join(self.words)

    @property
    def sidecar_path(self) -> Path:
        return sidecar_path(self.out_path)


@dataclass(frozen=True)
class SynthResult:
    id: str
    out_path: Path
    n_samples: int  # at audio.SAMPLE_RATE
    word_end_ms: tuple[float, ...]  # one per word, non-decreasing, last <= duration

    @property
    def duration_ms(self) -> float:
        from speech_proactive import audio

        return audio.samples_to_ms(self.n_samples)


def sidecar_path(wav_path: str | Path) -> Path:
    """Where the word times of `wav_path` are kept: x.wav -> x.words.json."""
    return Path(wav_path).with_suffix(SIDECAR_SUFFIX)


# ---------------------------------------------------------------------------------------------------------------
# libespeak-ng through ctypes. Constants and the event struct are those of espeak-ng's public header speak_lib.h.

_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INITIALIZE_PHONEME_EVENTS = 0x0001
_INITIALIZE_DONT_EXIT = 0x8000  # report errors instead of calling exit()
_EVENT_LIST_TERMINATED = 0
_EVENT_PHONEME = 7
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_ENDPAUSE = 0x1000  # the end-of-sentence pause the command line adds unless -z
_PARAM_RATE = 1
_PARAM_PITCH = 3
_EE_OK = 0


class _EspeakEvent(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),  # 1-based character position of the word in the input text
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),  # ms, truncated
        ("sample", ctypes.c_int),  # output sample at which the event happens
        ("user_data", ctypes.c_void_p),
        ("id", ctypes.c_char * 8),  # phoneme events: the phoneme mnemonic
    ]


_SynthCallback = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_EspeakEvent)
)


@dataclass(frozen=True)
class Phoneme:
    start_sample: int  # at the synthesizer's rate
    text_position: int  # 1-based character position of the word it belongs to
    name: str  # espeak mnemonic; pauses start with "_"

    @property
    def is_pause(self) -> bool:
        return self.name.startswith("_")


@dataclass(frozen=True)
class Speech:
    """What libespeak-ng returned for one text: int16 samples at `sample_rate` and its phonemes in order."""

    samples: np.ndarray
    sample_rate: int
    phonemes: tuple[Phoneme, ...]


def _load_library() -> ctypes.CDLL:
    names = list(
        dict.fromkeys(
            n
            for n in (
                ctypes.util.find_library("espeak-ng"),
                "libespeak-ng.so.1",
                "libespeak-ng.so",
                "libespeak-ng.1.dylib",
                "libespeak-ng.dylib",
            )
            if n
        )
    )
    for name in names:
        try:
            return ctypes.CDLL(name)
        except OSError:
            continue
    raise SynthError(f"libespeak-ng not found (tried {names}); install espeak-ng, e.g. apt-get install espeak-ng")


class _Engine:
    """libespeak-ng, initialised once per process. `speak` changes the synthesizer's state: call it only in a
    throw-away child (see `in_fresh_child`)."""

    def __init__(self) -> None:
        lib = _load_library()
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_Synth.argtypes = [
            ctypes.c_char_p,
            ctypes.c_size_t,
            ctypes.c_uint,
            ctypes.c_int,
            ctypes.c_uint,
            ctypes.c_uint,
            ctypes.POINTER(ctypes.c_uint),
            ctypes.c_void_p,
        ]
        lib.espeak_Info.argtypes = [ctypes.POINTER(ctypes.c_char_p)]
        lib.espeak_Info.restype = ctypes.c_char_p
        # an MBROLA voice changes the output rate; older libraries without this call only have espeak's own
        self._voice_rate = getattr(lib, "espeak_ng_GetSampleRate", None)
        if self._voice_rate is not None:
            self._voice_rate.restype = ctypes.c_int
        self.sample_rate = lib.espeak_Initialize(
            _AUDIO_OUTPUT_SYNCHRONOUS, 0, None, _INITIALIZE_PHONEME_EVENTS | _INITIALIZE_DONT_EXIT
        )
        if self.sample_rate <= 0:
            raise SynthError(f"espeak_Initialize failed (returned {self.sample_rate}): espeak-ng-data missing?")
        data_dir = ctypes.c_char_p()
        lib.espeak_Info(ctypes.byref(data_dir))
        voices_dir = Path(os.fsdecode(data_dir.value or b"")) / "voices"
        # espeak-ng quietly ignores an unknown variant: check names against its files instead
        variant_dir = voices_dir / "!v"
        self.variants = frozenset(p.name for p in variant_dir.iterdir()) if variant_dir.is_dir() else frozenset()
        self.mbrola_voice_dir = voices_dir / "mb"
        self.lib = lib
        self._chunks: list[bytes] = []
        self._phonemes: list[Phoneme] = []
        self._callback = _SynthCallback(self._on_audio)  # kept referenced: the library holds a raw pointer
        lib.espeak_SetSynthCallback(self._callback)

    def _on_audio(self, wav, n_samples: int, events) -> int:
        if wav and n_samples > 0:
            self._chunks.append(ctypes.string_at(wav, n_samples * 2))
        i = 0
        while events and events[i].type != _EVENT_LIST_TERMINATED:
            e = events[i]
            if e.type == _EVENT_PHONEME:
                self._phonemes.append(Phoneme(e.sample, e.text_position, e.id.decode("ascii", "replace")))
            i += 1
        return 0  # 0: go on

    def _check(self, status: int, what: str) -> None:
        if status != _EE_OK:
            raise SynthError(f"espeak-ng: {what} failed (status {status})")

    def set_voice(self, espeak_name: str) -> None:
        self._check(self.lib.espeak_SetVoiceByName(espeak_name.encode()), f"voice {espeak_name!r}")

    def check_variant(self, variant: str | None) -> None:
        if variant is not None and variant.startswith(MBROLA_PREFIX):
            if reason := mbrola_missing(variant, self.mbrola_voice_dir):
                raise SynthError(reason)
        elif variant is not None and variant not in self.variants:
            raise SynthError(f"espeak-ng has no variant {variant!r} (see `espeak-ng --voices=variant`)")

    def output_rate(self) -> int:
        """The current voice's sample rate (MBROLA voices: 16 or 22.05 kHz; espeak-ng's own: 22.05 kHz)."""
        return int(self._voice_rate()) if self._voice_rate is not None else self.sample_rate

    def speak(self, voice: Voice, text: str) -> Speech:
        self._chunks, self._phonemes = [], []
        self.check_variant(voice.variant)
        self.set_voice(voice.espeak_name)
        self._check(self.lib.espeak_SetParameter(_PARAM_RATE, voice.speed_wpm, 0), "setting speed")
        self._check(self.lib.espeak_SetParameter(_PARAM_PITCH, voice.pitch, 0), "setting pitch")
        data = text.encode("utf-8")
        self._check(
            self.lib.espeak_Synth(data, len(data) + 1, 0, _POS_CHARACTER, 0, _CHARS_UTF8 | _ENDPAUSE, None, None),
            "synthesis",
        )
        samples = np.frombuffer(b"".join(self._chunks), dtype=np.int16).copy()
        rate = self.output_rate()
        phonemes = tuple(self._phonemes)
        if voice.is_mbrola:
            lag = round(MBROLA_EVENT_LAG_MS[voice.variant] * rate / 1000)
            phonemes = tuple(
                dataclasses.replace(p, start_sample=max(0, p.start_sample - lag)) for p in carry_positions(phonemes)
            )
        return Speech(samples, rate, phonemes)


def carry_positions(phonemes: Sequence[Phoneme]) -> tuple[Phoneme, ...]:
    """MBROLA voices' phonemes, each tagged with its word's text position. espeak-ng's own voices tag every
    phoneme with its word; through MBROLA only a word's first phoneme does, and the rest carry 0 or a stale
    earlier position (that of the last pause). Words are spoken in order, so a phoneme belongs to the latest
    word started: the running maximum."""
    out, position = [], 0
    for ph in phonemes:
        position = max(position, ph.text_position)
        out.append(dataclasses.replace(ph, text_position=position))
    return tuple(out)


MBROLA_DATA_DIRS = (Path("/usr/share/mbrola"), Path("/usr/local/share/mbrola"))


def mbrola_missing(variant: str, voice_dir: Path) -> str | None:
    """None when espeak-ng can speak MBROLA voice `variant` (e.g. 'mb-de2'); otherwise what to install."""
    name = variant.removeprefix(MBROLA_PREFIX)
    if not (voice_dir / variant).is_file():
        return f"espeak-ng has no MBROLA voice {variant!r} (no {voice_dir / variant})"
    if not any((d / name / name).is_file() for d in MBROLA_DATA_DIRS):
        return (
            f"MBROLA voice {variant!r} is not installed (no /usr/share/mbrola/{name}/{name}): "
            f"run `bash scripts/install_voices.sh` (Debian's mbrola and mbrola-{name}, contrib/non-free)"
        )
    return None


_ENGINE: _Engine | None = None


def _engine() -> _Engine:
    global _ENGINE
    if _ENGINE is None:
        _ENGINE = _Engine()
    return _ENGINE


def unavailable_reason() -> str | None:
    """None when espeak-ng can be used here; otherwise why not (for skipping tests, or an early clear error)."""
    if not hasattr(os, "fork"):
        return "synthesis needs os.fork (Linux or macOS)"
    try:
        _engine()
    except SynthError as e:
        return str(e)
    return None


def _child_main(engine: _Engine, fn: Callable[[_Engine], Any], write_fd: int) -> None:
    """Runs in the forked child: call fn, send its result (or its error) down the pipe, never return."""
    status = 1
    try:
        try:
            payload = ("ok", fn(engine))
        except Exception as e:  # sent to the parent, which raises it with the utterance named
            payload = ("error", f"{type(e).__name__}: {e}")
        with os.fdopen(write_fd, "wb") as pipe:
            pipe.write(pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL))
        status = 0
    finally:
        os._exit(status)  # no atexit handlers, no flushing of the parent's buffers


def in_fresh_child(fn: Callable[[_Engine], T]) -> T:
    """fn(engine) run in a forked child whose synthesizer has never spoken, so the same call gives the same
    audio; the result comes back pickled. The calling process initialises the library but never speaks."""
    engine = _engine()
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_fd)
        _child_main(engine, fn, write_fd)
    os.close(write_fd)
    with os.fdopen(read_fd, "rb") as pipe:
        data = pipe.read()
    _, wait_status = os.waitpid(pid, 0)
    if not data:
        raise SynthError(f"the espeak-ng child process died without a result (wait status {wait_status})")
    kind, value = pickle.loads(data)
    if kind != "ok":
        raise SynthError(value)
    return value


# ---------------------------------------------------------------------------------------------------------------
# The helper process ("zygote"). Forking the calling process per utterance would work too, but a process that has
# imported torch takes ~20 ms to fork; this small one takes ~3 ms. It has libespeak-ng initialised and its
# language's dictionary loaded (that does not touch the synthesizer's state: the audio stays bit-identical to
# the command line's, which the tests check) and forks a child for every request.

_ZYGOTE_BOOT = """
import importlib.util, sys
spec = importlib.util.spec_from_file_location("_speech_proactive_espeak_zygote", sys.argv[1])
module = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = module
spec.loader.exec_module(module)
module.zygote_main(sys.argv[2])
"""


def _speak_plain(engine: _Engine, voice: Voice, words: Sequence[str]) -> tuple:
    return speak_words(engine, voice, words).to_plain()


def zygote_main(lang: str) -> None:
    """The helper's loop: (voice fields, words) pickled on stdin -> ("ok", plain SpokenWords) or ("error", why)
    pickled on the original stdout. fd 1 is pointed at stderr so that no stray print lands in the replies."""
    replies = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the caller; the helper ends when stdin closes

    def reply(*message: Any) -> None:
        pickle.dump(message, replies, protocol=pickle.HIGHEST_PROTOCOL)
        replies.flush()

    try:
        engine = _engine()
        engine.set_voice(LANG_VOICES[lang])
    except SynthError as e:
        return reply("error", str(e))
    reply("ready", engine.sample_rate)
    while True:
        try:
            voice_fields, words = pickle.load(sys.stdin.buffer)
        except EOFError:
            return
        try:
            voice = Voice(**voice_fields)
            reply("ok", in_fresh_child(partial(_speak_plain, voice=voice, words=words)))
        except (SynthError, ValueError) as e:
            reply("error", str(e))


class _Zygote:
    """The calling side of one helper process (one per process and language)."""

    def __init__(self, lang: str) -> None:
        self.lang = lang
        # its stderr (and the mbrola program's: "Warning: k-O2 unknown, replaced with _-_" for every missing
        # diphone) goes to a file that an error message quotes, not over the progress bar
        self.log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            [sys.executable, "-P", "-c", _ZYGOTE_BOOT, str(Path(__file__).resolve()), lang],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
        )
        kind, value = self._receive()
        if kind != "ready":
            self.close()
            raise SynthError(value)

    def _receive(self) -> tuple[str, Any]:
        try:
            return pickle.load(self.proc.stdout)
        except EOFError:
            raise SynthError(
                f"the espeak-ng helper process ({self.lang}) exited with status {self.proc.wait()}; "
                f"the end of its stderr:\n{self.stderr_tail()}"
            ) from None

    def stderr_tail(self, n_chars: int = 2000) -> str:
        self.log.seek(0)
        return self.log.read().decode("utf-8", "replace")[-n_chars:]

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def speak_words(self, voice: Voice, words: Sequence[str]) -> SpokenWords:
        try:
            pickle.dump((dataclasses.asdict(voice), tuple(words)), self.proc.stdin)
            self.proc.stdin.flush()
            kind, value = self._receive()
        except BrokenPipeError:
            raise SynthError(
                f"the espeak-ng helper process ({self.lang}) is gone (status {self.proc.wait()})"
            ) from None
        except BaseException:  # interrupted between request and reply: the pipe is out of step, end it
            self.close()
            raise
        if kind != "ok":
            raise SynthError(value)
        return SpokenWords.from_plain(value)

    def close(self) -> None:
        if self.proc.stdin and not self.proc.stdin.closed:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


_ZYGOTES: dict[str, _Zygote] = {}
_ZYGOTES_PID = os.getpid()  # helpers belong to the process that started them, not to its forks


def _zygote(lang: str) -> _Zygote:
    global _ZYGOTES, _ZYGOTES_PID
    if _ZYGOTES_PID != os.getpid():
        _ZYGOTES, _ZYGOTES_PID = {}, os.getpid()  # a forked worker: start its own
    if lang not in _ZYGOTES:
        _ZYGOTES[lang] = _Zygote(lang)
    return _ZYGOTES[lang]


@atexit.register
def _close_zygotes() -> None:
    if _ZYGOTES_PID == os.getpid():
        for z in _ZYGOTES.values():
            z.close()
        _ZYGOTES.clear()


def speak_words_fresh(voice: Voice, words: Sequence[str]) -> SpokenWords:
    """Speak " ".join(words) exactly as a fresh `espeak-ng -v ... -s ... -p ... -w` would (bit-identical
    22.05 kHz audio), with the phoneme events and the counts that `word_end_samples` needs."""
    zygote = _zygote(voice.lang)
    try:
        return zygote.speak_words(voice, words)
    finally:
        if not zygote.alive:  # the next call starts a new one
            _ZYGOTES.pop(voice.lang, None)


# ---------------------------------------------------------------------------------------------------------------
# Word end times


@dataclass(frozen=True)
class SpokenWords:
    """The speech of " ".join(words), and for each word that espeak merged with the one before it into one
    dictionary phrase ("does not", "in the", "es ist"): how many sounding phonemes it has when spoken alone
    (None for the other words)."""

    speech: Speech
    alone_counts: tuple[int | None, ...]

    def to_plain(self) -> tuple:
        """Built-in types only: the helper process's classes are not this module's."""
        phonemes = [(p.start_sample, p.text_position, p.name) for p in self.speech.phonemes]
        return self.speech.samples.tobytes(), self.speech.sample_rate, phonemes, self.alone_counts

    @classmethod
    def from_plain(cls, plain: tuple) -> SpokenWords:
        samples, sample_rate, phonemes, alone_counts = plain
        speech = Speech(np.frombuffer(samples, dtype=np.int16), sample_rate, tuple(Phoneme(*p) for p in phonemes))
        return cls(speech, tuple(alone_counts))


def word_start_positions(words: Sequence[str]) -> list[int]:
    """1-based character position of each word in " ".join(words) (espeak's text_position)."""
    starts, pos = [], 1
    for w in words:
        starts.append(pos)
        pos += len(w) + 1
    return starts


def sounding_by_word(phonemes: Sequence[Phoneme], words: Sequence[str]) -> list[list[int]]:
    """Indices into `phonemes` of each word's sounding phonemes. espeak tags a phoneme with the position of its
    word; the parts of a token spoken as several words ("1990": 45, 46, ...) lie inside the token and map to it."""
    starts = word_start_positions(words)
    per_word: list[list[int]] = [[] for _ in words]
    for i, ph in enumerate(phonemes):
        if not ph.is_pause:
            per_word[max(0, bisect_right(starts, ph.text_position) - 1)].append(i)
    return per_word


@dataclass(frozen=True)
class WordSpan:
    first: int
    last: int  # inclusive


def merged_units(per_word: Sequence[Sequence[int]]) -> list[WordSpan]:
    """Runs of words that espeak spoke as one dictionary phrase: a word with phonemes followed by words with
    none (espeak tags the whole phrase with its first word's position)."""
    units, k = [], 0
    while k < len(per_word):
        last = k
        if per_word[k]:
            while last + 1 < len(per_word) and not per_word[last + 1]:
                last += 1
        if last > k:
            units.append(WordSpan(k, last))
        k = last + 1
    return units


def sounding_count(speech: Speech) -> int:
    return sum(not ph.is_pause for ph in speech.phonemes)


def speak_words(engine: _Engine, voice: Voice, words: Sequence[str]) -> SpokenWords:
    """The utterance first (so its audio is that of a fresh synthesizer), then each word of a merged phrase
    alone, to learn where the phrase's phonemes are split between its words."""
    speech = engine.speak(voice, " ".join(words))
    counts: list[int | None] = [None] * len(words)
    for unit in merged_units(sounding_by_word(speech.phonemes, words)):
        for k in range(unit.first, unit.last + 1):
            counts[k] = sounding_count(engine.speak(voice, words[k]))
    return SpokenWords(speech, tuple(counts))


def word_end_samples(spoken: SpokenWords, words: Sequence[str]) -> tuple[int, ...]:
    """End sample of each word: where the phoneme after its last sounding phoneme starts (or the audio ends).

    A merged phrase's phonemes are split between its words by their phoneme counts when spoken alone, counted
    from the front: "does not" = d V z | n 0 t. Where the phrase has extra phonemes (a linking r- or ;), they
    go to the last word: "in the" before a vowel = I n | D I2 ;. A word with no sound of its own ends where the
    word before it ended. The result is non-decreasing.
    """
    phonemes, n_samples = spoken.speech.phonemes, spoken.speech.samples.size

    def end_of(i: int) -> int:  # end of phoneme i: where the next one (sounding or pause) starts
        return min(phonemes[i + 1].start_sample if i + 1 < len(phonemes) else n_samples, n_samples)

    per_word = sounding_by_word(phonemes, words)
    ends = [end_of(idx[-1]) if idx else 0 for idx in per_word]
    for unit in merged_units(per_word):
        phrase = per_word[unit.first]
        n_done = 0
        for k in range(unit.first, unit.last):
            n_done = min(len(phrase), n_done + (spoken.alone_counts[k] or 0))
            ends[k] = end_of(phrase[n_done - 1]) if n_done else phonemes[phrase[0]].start_sample
        ends[unit.last] = end_of(phrase[-1])
    return tuple(np.maximum.accumulate(ends).tolist())


def samples_to_ms_at(n: int, sample_rate: int) -> float:
    return round(n * 1000.0 / sample_rate, 2)


# ---------------------------------------------------------------------------------------------------------------
# One utterance: speak, resample, write atomically


def _wav_bytes(samples_16k: np.ndarray) -> bytes:
    import soundfile as sf

    from speech_proactive import audio

    pcm = np.clip(np.round(samples_16k * 32768.0), -32768, 32767).astype(np.int16)
    buf = io.BytesIO()
    sf.write(buf, pcm, audio.SAMPLE_RATE, subtype="PCM_16", format="WAV")
    return buf.getvalue()


def _write_atomic(path: Path, data: bytes) -> None:
    """A reader sees the old file or the whole new one, never a part (temp name in the same folder, rename)."""
    tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _sidecar(job: SynthJob, n_samples: int, word_end_ms: tuple[float, ...]) -> dict:
    return {
        "format": SIDECAR_FORMAT,
        "id": job.id,
        "words": list(job.words),
        "voice": dataclasses.asdict(job.voice),
        "n_samples": n_samples,
        "word_end_ms": list(word_end_ms),
    }


def synthesize(job: SynthJob) -> SynthResult:
    """Speak one utterance, write its 16 kHz wav and sidecar (always, even when they exist), return the times."""
    from speech_proactive import audio

    try:
        spoken = speak_words_fresh(job.voice, job.words)
    except SynthError as e:
        raise SynthError(f"utterance {job.id!r}, voice {job.voice.espeak_name!r}: {e}") from e
    speech = spoken.speech
    if speech.samples.size == 0:
        raise SynthError(f"utterance {job.id!r}: espeak-ng produced no audio for {job.text[:60]!r}")
    samples_16k = audio.prepare(speech.samples, speech.sample_rate, source=f"espeak-ng {job.id}")
    duration_ms = audio.samples_to_ms(samples_16k.size)
    ends = word_end_samples(spoken, job.words)
    word_end_ms = tuple(min(samples_to_ms_at(n, speech.sample_rate), duration_ms) for n in ends)
    job.out_path.parent.mkdir(parents=True, exist_ok=True)
    _write_atomic(job.out_path, _wav_bytes(samples_16k))  # wav first: a sidecar implies a complete wav
    sidecar = _sidecar(job, int(samples_16k.size), word_end_ms)
    _write_atomic(job.sidecar_path, json.dumps(sidecar, ensure_ascii=False).encode("utf-8"))
    return SynthResult(job.id, job.out_path, int(samples_16k.size), word_end_ms)


def read_done(job: SynthJob) -> SynthResult | None:
    """The finished result of `job` from its files, or None when it has to be (re)done."""
    if not job.out_path.is_file():
        return None
    try:
        d = json.loads(job.sidecar_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    same_job = (
        d.get("format") == SIDECAR_FORMAT
        and d.get("id") == job.id
        and d.get("words") == list(job.words)
        and d.get("voice") == dataclasses.asdict(job.voice)
    )
    if not same_job:
        return None
    return SynthResult(job.id, job.out_path, int(d["n_samples"]), tuple(float(x) for x in d["word_end_ms"]))


# ---------------------------------------------------------------------------------------------------------------
# Many utterances


def _check_unique(jobs: Sequence[SynthJob]) -> None:
    for what, key in (("id", lambda j: j.id), ("out_path", lambda j: j.out_path.resolve())):
        seen, dup = set(), []
        for j in jobs:
            k = key(j)
            if k in seen:
                dup.append(str(k))
            seen.add(k)
        if dup:
            raise ValueError(f"{len(dup)} job(s) share an {what} with an earlier job, e.g. {dup[:5]}")


def _check_can_speak(todo: Sequence[SynthJob]) -> None:
    """Fail before any work when espeak-ng is missing or a variant does not exist."""
    if reason := unavailable_reason():
        raise SynthError(f"cannot synthesize {len(todo)} utterance(s): {reason}")
    for variant in sorted({j.voice.variant for j in todo if j.voice.variant is not None}):
        _engine().check_variant(variant)


def default_workers() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def synthesize_all(
    jobs: Sequence[SynthJob], n_workers: int | None = None, desc: str = "synthesizing"
) -> list[SynthResult]:
    """Every job's result, in job order. Jobs whose files exist and match are read back, the rest are spoken in
    `n_workers` processes (default: all cores). Killed midway, a second call continues where the first stopped."""
    from tqdm import tqdm

    _check_unique(jobs)
    results: dict[str, SynthResult] = {}
    todo = []
    for job in jobs:
        done = read_done(job)
        if done is None:
            todo.append(job)
        else:
            results[job.id] = done
    n_workers = max(1, min(n_workers or default_workers(), len(todo) or 1))
    if todo:
        _check_can_speak(todo)
    with tqdm(total=len(jobs), initial=len(results), desc=desc, unit="utt", disable=not todo) as bar:
        for result in _run(todo, n_workers):
            results[result.id] = result
            bar.update(1)
    return [results[job.id] for job in jobs]


def _run(todo: list[SynthJob], n_workers: int):
    if n_workers == 1:
        yield from map(synthesize, todo)
        return
    chunksize = max(1, min(32, len(todo) // (n_workers * 8)))
    # fork: workers start at once without re-importing torch; each starts its own small helper process(es)
    with multiprocessing.get_context("fork").Pool(n_workers) as pool:
        yield from pool.imap_unordered(synthesize, todo, chunksize=chunksize)


# ---------------------------------------------------------------------------------------------------------------
# Ideal read points of the target words


def ideal_read_ms(word_end_ms: Sequence[float], tgt_align: Sequence[Sequence[int]]) -> tuple[float, ...]:
    """For each target word: when it is first determined, the end of the last source word it depends on (max
    over its aligned source words), made non-decreasing over the target (a word is written after the ones
    before it). A target word aligned to nothing depends on no source word: it is ready with the word before it
    (0.0 when it is the first)."""
    out, ready_ms = [], 0.0
    for t, src in enumerate(tgt_align):
        bad = [i for i in src if not 0 <= i < len(word_end_ms)]
        if bad:
            raise ValueError(
                f"target word {t} is aligned to source word(s) {bad}, but there are {len(word_end_ms)} source words"
            )
        ready_ms = max([ready_ms, *(float(word_end_ms[i]) for i in src)])
        out.append(ready_ms)
    return tuple(out)
