"""Real recorded speech from the game Fish Fillets NG (Debian packages, GPL): ASR and speech-translation manifests.

What the packages hold (found by reading them, and the game's own `script/share/level_dialog.lua`):

- `fillets-ng-data`: `usr/share/games/fillets-ng/script/<level>/dialogs_<lang>.lua`, one file per level (script
  folder) and subtitle language. Each dialog line is `dialogId("<id>", "<font>", "<English subtitle>")`; in a
  non-English file it is followed by `dialogStr("<text in that language>")` (missing where nobody translated
  the line). The English file has no dialogStr: its text is dialogId's third argument. The font names the
  character who speaks ("font_small", "font_big", "font_statue", ...). Some levels load more files with
  another prefix (`<prefix>dialogs_<lang>.lua`: `demo_` posters, `brief_`) and `script/share/` holds
  several shared sets (`bore_`, `black_`, `border_`, `shout_`, `intro_`).
- `fillets-ng-data-<voice>` (cs: 1,882 clips, 1.8 h; nl: 1,616 clips): the recorded line `<id>` of a script is
  `usr/share/games/fillets-ng/sound/<sound dir>/<voice>/<id>.ogg`, where the sound dir is the level's codename,
  unless the script loads its dialogs with `dialogLoad("script/share/bore_", "sound/share/borejokes/")`: such
  calls are read from the scripts themselves, so every clip is found where the game finds it.

The build matches each clip of the voice pack to its transcript (`dialogs_<voice>.lua`) and its translations
(`dialogs_en.lua`, `dialogs_de.lua`), converts the audio to 16 kHz mono 16-bit WAV (`audio/<voice>/<sound
dir>/<id>.wav`, resumable: a WAV already there is not converted again; in parallel processes) and writes

    {split}.asr_{voice}.jsonl       tgt_lang = voice, tgt_text = the transcript
    {split}.st_{voice}-en.jsonl     tgt_text = the English subtitle
    {split}.st_{voice}-de.jsonl     tgt_text = the German subtitle

for split in train/dev/test, plus `summary.json`. Splits are by level (script folder; all of `share` is one
"level"), so no level is in two splits: levels are ordered by a hash of their name, and test then dev take
whole levels until each holds its fraction of the transcribed clips; the rest is train. Each clip that gets no
ASR row is counted under one reason; each transcribed clip without a translation is counted per language.
Skipped too are clips whose transcript is empty (the counted numbers of `ending`, the coordinates of `gods`),
holds a `%1` the game fills in, or mixes writing systems (one Czech line starts with a stray Russian sentence).

Rows: id `fillets/<voice>/<sound dir>/<clip id>`, speaker `fillets-<voice>-<font without "font_">` (the
character: "small", "big", ...; one actor may voice several), meta {level, clip, font, split}. The packages are
downloaded and unpacked under `<out>/debs` (see `debian.py`; nothing is installed).

The data is GPL: it is built at setup time into a git-ignored folder, never committed.
CLI: `python -m speech_proactive.data.corpora.fillets --out data/fillets --voice cs`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing
import os
import re
import sys
import time
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from speech_proactive import audio
from speech_proactive.data.manifest import Utterance, write_manifest

DATA_PACKAGE = "fillets-ng-data"
GAME_DIR = Path("usr/share/games/fillets-ng")  # inside the packages
PRIME_LANG = "en"  # the language of dialogId's subtitle argument
TRANSLATION_LANGS = ("en", "de")
SPLITS = ("train", "dev", "test")
DEV_FRACTION = 0.1
TEST_FRACTION = 0.1
SUMMARY_FILE = "summary.json"

# Reasons a clip gets no ASR row
NO_SCRIPT = "no dialog script for its sound folder"
NO_DIALOG_ID = "no dialog line with its id"
NO_TRANSCRIPT = "no transcript (line not translated to the voice language)"
EMPTY_TRANSCRIPT = "empty transcript"
PLACEHOLDER_TRANSCRIPT = "transcript with a %1 placeholder (filled in by the game, not spoken as written)"
MIXED_SCRIPTS = "transcript mixes writing systems (a stray line of another language)"
UNREADABLE_AUDIO = "unreadable or empty audio"


class FilletsError(ValueError):
    """Game data that cannot be used as it is; the message names the file and the problem."""


# ---------------------------------------------------------------------------------------------------------------
# Lua: just enough of the language to read the dialog scripts (strings with escapes, comments, calls)


@dataclass(frozen=True)
class LuaToken:
    kind: str  # "name", "string", "number", "op"
    value: str
    line: int


@dataclass(frozen=True)
class LuaCall:
    """A call `name(...)` whose arguments are all string literals (or `..` concatenations of them)."""

    name: str
    args: tuple[str, ...]
    line: int


_LUA_ESCAPES = {
    "n": "\n",
    "t": "\t",
    "r": "\r",
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "v": "\v",
    "\\": "\\",
    '"': '"',
    "'": "'",
    "\n": "\n",
}
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NUMBER = re.compile(r"0[xX][0-9a-fA-F.]+|[0-9][0-9.]*(?:[eE][+-]?[0-9]+)?")
_LONG_BRACKET = re.compile(r"\[(=*)\[")


def _long_bracket_end(source: str, start: int, where: str) -> tuple[str, int]:
    """For `[==[...]==]` at `start`: (the text inside, the index after the closing bracket)."""
    m = _LONG_BRACKET.match(source, start)
    close = "]" + m.group(1) + "]"
    end = source.find(close, m.end())
    if end < 0:
        raise FilletsError(f"{where}: unfinished long string or comment")
    text = source[m.end() : end]
    return (text[1:] if text.startswith("\n") else text), end + len(close)


def _quoted_string(source: str, start: int, where: str) -> tuple[str, int]:
    """For a "..." or '...' literal at `start`: (its value, the index after it)."""
    quote, i, out = source[start], start + 1, []
    while i < len(source):
        c = source[i]
        if c == quote:
            return "".join(out), i + 1
        if c == "\n":
            break
        if c != "\\":
            out.append(c)
            i += 1
            continue
        e = source[i + 1 : i + 2]
        if e in _LUA_ESCAPES:
            out.append(_LUA_ESCAPES[e])
            i += 2
        elif e.isdigit():
            digits = re.match(r"[0-9]{1,3}", source[i + 1 :]).group()
            out.append(chr(int(digits)))
            i += 1 + len(digits)
        elif e == "x":
            hex_digits = source[i + 2 : i + 4]
            if not re.fullmatch(r"[0-9a-fA-F]{2}", hex_digits):
                raise FilletsError(f"{where}: bad escape \\x{hex_digits}")
            out.append(chr(int(hex_digits, 16)))
            i += 4
        elif e == "z":
            i += 2
            while i < len(source) and source[i].isspace():
                i += 1
        elif e:  # Lua 5.1, the game's, keeps the character of an unknown escape ("\\/" is "/")
            out.append(e)
            i += 2
        else:
            break
    raise FilletsError(f"{where}: unfinished string")


def lua_tokens(source: str, name: str = "<lua>") -> Iterator[LuaToken]:
    """Names, string literals (values unescaped), numbers and operators; comments and whitespace skipped."""
    i, line, counted_to = 0, 1, 0
    while i < len(source):
        line += source.count("\n", counted_to, i)
        counted_to = i
        c = source[i]
        where = f"{name}:{line}"
        if c.isspace():
            i += 1
        elif source.startswith("--", i):
            if _LONG_BRACKET.match(source, i + 2):
                _, i = _long_bracket_end(source, i + 2, where)
            else:
                end = source.find("\n", i)
                i = len(source) if end < 0 else end
        elif c in "\"'":
            value, i = _quoted_string(source, i, where)
            yield LuaToken("string", value, line)
        elif _LONG_BRACKET.match(source, i):
            value, i = _long_bracket_end(source, i, where)
            yield LuaToken("string", value, line)
        elif m := _NAME.match(source, i):
            yield LuaToken("name", m.group(), line)
            i = m.end()
        elif m := _NUMBER.match(source, i):
            yield LuaToken("number", m.group(), line)
            i = m.end()
        else:
            op = source[i : i + 2] if source[i : i + 2] in ("..", "==", "~=", "<=", ">=") else c
            yield LuaToken("op", op, line)
            i += len(op)


def _string_args(tokens: list[LuaToken], start: int) -> tuple[str, ...] | None:
    """Arguments of the call whose `(` is tokens[start], if all are (concatenated) string literals."""
    args, parts, i, expect_value = [], [], start + 1, True
    while i < len(tokens):
        t = tokens[i]
        if expect_value and t.kind == "string":
            parts.append(t.value)
            expect_value = False
        elif not expect_value and t.kind == "op" and t.value in ("..", ",", ")"):
            if t.value == ",":
                args.append("".join(parts))
                parts = []
            if t.value == ")":
                args.append("".join(parts))
                return tuple(args)
            expect_value = True
        elif expect_value and t.kind == "op" and t.value == ")" and not args and not parts:
            return ()
        else:
            return None
        i += 1
    return None


def lua_string_calls(source: str, names: set[str], name: str = "<lua>") -> list[LuaCall]:
    """Calls of functions in `names` with string-literal arguments, in source order; other calls are skipped."""
    tokens = list(lua_tokens(source, name))
    calls = []
    for i, t in enumerate(tokens[:-1]):
        if t.kind == "name" and t.value in names and tokens[i + 1].value == "(":
            args = _string_args(tokens, i + 1)
            if args is not None:
                calls.append(LuaCall(t.value, args, t.line))
    return calls


# ---------------------------------------------------------------------------------------------------------------
# Dialog scripts


@dataclass(frozen=True)
class DialogLine:
    id: str
    font: str  # the speaking character's font: font_small, font_big, ...
    subtitle: str  # dialogId's third argument (English)
    text: str | None  # the file language's text (dialogStr); None where the line is not translated


@dataclass(frozen=True)
class DialogSet:
    """One set of dialog files, `script/<level>/<prefix>dialogs_<lang>.lua`, and where its clips are."""

    level: str  # the script folder
    prefix: str  # "" for dialogs_<lang>.lua, "demo_", "bore_", ...
    sound_dir: str  # clips are sound/<sound_dir>/<voice>/<id>.ogg

    def script(self, game_dir: Path, lang: str) -> Path:
        return game_dir / "script" / self.level / f"{self.prefix}dialogs_{lang}.lua"


def parse_dialogs(source: str, lang: str, name: str = "<lua>") -> dict[str, DialogLine]:
    """The dialog lines of one dialogs_<lang>.lua. A line's text is its subtitle in the English file, and the
    first dialogStr after its dialogId elsewhere; the first definition of an id wins, as in the game."""
    lines: dict[str, DialogLine] = {}
    current: str | None = None  # the id of the latest dialogId
    for call in lua_string_calls(source, {"dialogId", "dialogStr"}, name):
        if call.name == "dialogId" and len(call.args) == 3:
            current, font, subtitle = call.args
            if current not in lines:
                lines[current] = DialogLine(current, font, subtitle, subtitle if lang == PRIME_LANG else None)
        elif call.name == "dialogStr" and len(call.args) == 1 and current is not None:
            if lang != PRIME_LANG and lines[current].text is None:
                lines[current] = replace(lines[current], text=call.args[0])
    return lines


def read_dialogs(path: Path, lang: str) -> dict[str, DialogLine]:
    """Dialog lines of one file; a missing file has none (not every level is translated to every language)."""
    if not path.is_file():
        return {}
    return parse_dialogs(path.read_text(encoding="utf-8"), lang, name=str(path))


def sound_dir_overrides(game_dir: Path) -> dict[tuple[str, str], str]:
    """(level, prefix) -> sound dir, from the scripts' `dialogLoad("script/<level>/<prefix>", "sound/<dir>/")`."""
    overrides = {}
    for path in sorted((game_dir / "script").rglob("*.lua")):
        source = path.read_text(encoding="utf-8")
        if "dialogLoad" not in source:
            continue
        for call in lua_string_calls(source, {"dialogLoad"}, str(path)):
            if len(call.args) != 2:
                continue
            script_prefix, sound_prefix = call.args
            m = re.fullmatch(r"script/([^/]+)/([^/]*)", script_prefix)
            s = re.fullmatch(r"sound/(.+?)/?", sound_prefix)
            if m and s:
                overrides[(m.group(1), m.group(2))] = s.group(1)
    return overrides


def find_dialog_sets(game_dir: Path, lang: str) -> list[DialogSet]:
    """Every dialog set that has a file for `lang`, with the sound dir the game plays its clips from."""
    overrides = sound_dir_overrides(game_dir)
    sets = []
    for path in sorted((game_dir / "script").glob(f"*/*dialogs_{lang}.lua")):
        level, prefix = path.parent.name, path.name[: -len(f"dialogs_{lang}.lua")]
        sets.append(DialogSet(level, prefix, overrides.get((level, prefix), level)))
    return sets


def clean_text(text: str) -> str:
    return " ".join(text.split())


def writing_systems(text: str) -> set[str]:
    """Unicode scripts of the letters: {"LATIN"}, {"LATIN", "CYRILLIC"}, ..."""
    return {unicodedata.name(c, "?").split(" ")[0] for c in text if c.isalpha()}


def transcript_problem(text: str) -> str | None:
    """Why a (cleaned) transcript cannot be the transcript of its clip; None: it can."""
    if not text:
        return EMPTY_TRANSCRIPT
    if re.search(r"%[0-9]", text):
        return PLACEHOLDER_TRANSCRIPT
    if len(writing_systems(text)) > 1:
        return MIXED_SCRIPTS
    return None


def speaker_of(font: str) -> str:
    return font.removeprefix("font_") or "unknown"


# ---------------------------------------------------------------------------------------------------------------
# Matching clips to dialog lines


@dataclass(frozen=True)
class Clip:
    sound_dir: str  # relative to sound/: "city", "share/border"
    id: str  # the dialog id: the file name without .ogg
    path: Path


@dataclass(frozen=True)
class MatchedClip:
    clip: Clip
    dialog_set: DialogSet
    font: str
    transcript: str
    translations: dict[str, str]  # lang -> text, only the languages that have a non-empty one
    missing: dict[str, str] = field(default_factory=dict)  # lang -> "no translation" / "empty translation"

    @property
    def level(self) -> str:
        return self.dialog_set.level


@dataclass(frozen=True)
class MatchResult:
    matched: list[MatchedClip]
    unmatched: dict[str, int]  # reason -> clips
    n_dialog_lines_without_clip: int


def find_clips(voice_game_dir: Path, voice: str) -> list[Clip]:
    """Every sound/<dir>/<voice>/<id>.ogg of the voice pack, sorted."""
    sound = voice_game_dir / "sound"
    clips = []
    for path in sorted(sound.rglob(f"{voice}/*.ogg")):
        if path.parent.name == voice:
            clips.append(Clip(path.parent.parent.relative_to(sound).as_posix(), path.stem, path))
    return clips


class DialogIndex:
    """Dialog lines of every set, per language, read from the scripts once each."""

    def __init__(self, game_dir: Path, voice: str, langs: tuple[str, ...]):
        self.game_dir, self.langs = game_dir, langs
        self.sets_by_sound_dir: dict[str, list[DialogSet]] = defaultdict(list)
        for ds in find_dialog_sets(game_dir, voice):
            self.sets_by_sound_dir[ds.sound_dir].append(ds)
        self._lines: dict[tuple[DialogSet, str], dict[str, DialogLine]] = {}

    def lines(self, ds: DialogSet, lang: str) -> dict[str, DialogLine]:
        if (ds, lang) not in self._lines:
            self._lines[(ds, lang)] = read_dialogs(ds.script(self.game_dir, lang), lang)
        return self._lines[(ds, lang)]


def _text(lines: dict[str, DialogLine], dialog_id: str) -> str | None:
    line = lines.get(dialog_id)
    return None if line is None else line.text


def _match_clip(clip: Clip, index: DialogIndex, voice: str) -> MatchedClip | str:
    """The clip's dialog line, or the reason it has none."""
    sets = index.sets_by_sound_dir.get(clip.sound_dir)
    if not sets:
        return NO_SCRIPT
    known = [ds for ds in sets if clip.id in index.lines(ds, voice) or clip.id in index.lines(ds, PRIME_LANG)]
    if not known:
        return NO_DIALOG_ID
    with_text = [ds for ds in known if _text(index.lines(ds, voice), clip.id) is not None]
    if not with_text:
        return NO_TRANSCRIPT
    ds = with_text[0]
    line = index.lines(ds, voice)[clip.id]
    transcript = clean_text(line.text)
    problem = transcript_problem(transcript)
    if problem is not None:
        return problem
    translations, missing = {}, {}
    for lang in index.langs:
        text = _text(index.lines(ds, lang), clip.id)
        if text is None:
            missing[lang] = "no translation"
        elif not clean_text(text):
            missing[lang] = "empty translation"
        else:
            translations[lang] = clean_text(text)
    return MatchedClip(clip, ds, line.font, transcript, translations, missing)


def match_clips(clips: list[Clip], index: DialogIndex, voice: str) -> MatchResult:
    """Each clip's dialog line, or one reason why it has none."""
    matched, unmatched = [], Counter()
    for clip in clips:
        result = _match_clip(clip, index, voice)
        if isinstance(result, str):
            unmatched[result] += 1
        else:
            matched.append(result)
    return MatchResult(matched, dict(unmatched), _lines_without_clip(clips, index, voice))


def _lines_without_clip(clips: list[Clip], index: DialogIndex, voice: str) -> int:
    recorded = {(c.sound_dir, c.id) for c in clips}
    return sum(
        1
        for sound_dir, sets in index.sets_by_sound_dir.items()
        for ds in sets
        for dialog_id, line in index.lines(ds, voice).items()
        if line.text and clean_text(line.text) and (sound_dir, dialog_id) not in recorded
    )


# ---------------------------------------------------------------------------------------------------------------
# Audio conversion (resumable, parallel)


@dataclass(frozen=True)
class Converted:
    src: Path
    wav: Path
    n_samples: int  # 0 when the conversion failed
    error: str | None = None
    reused: bool = False  # the WAV was already there from an earlier run


def wav_samples(wav: Path) -> int | None:
    """Samples of a finished 16 kHz mono WAV, or None if there is none (or a broken one) to reuse."""
    import soundfile as sf

    if not wav.is_file():
        return None
    try:
        info = sf.info(str(wav))
    except (RuntimeError, sf.LibsndfileError):
        return None
    ok = info.samplerate == audio.SAMPLE_RATE and info.channels == 1 and info.frames > 0
    return info.frames if ok else None


def convert_clip(src: Path, wav: Path) -> Converted:
    """OGG (any rate, any channels) -> 16 kHz mono 16-bit WAV, written atomically; errors are returned, not raised."""
    try:
        samples = audio.load_audio(src)
    except audio.AudioError as e:
        return Converted(src, wav, 0, error=str(e))
    wav.parent.mkdir(parents=True, exist_ok=True)
    tmp = wav.with_name(f"{wav.stem}.tmp-{os.getpid()}.wav")
    audio.write_wav(tmp, samples)
    os.replace(tmp, wav)
    return Converted(src, wav, int(samples.shape[0]))


def _convert_pair(pair: tuple[Path, Path]) -> Converted:
    return convert_clip(*pair)


def convert_all(jobs: list[tuple[Path, Path]], workers: int = 2, progress: bool = True) -> list[Converted]:
    """Convert every (src, wav) whose WAV is not there yet, in `workers` processes; results in input order."""
    from tqdm import tqdm

    done: dict[Path, Converted] = {}
    todo = []
    for src, wav in jobs:
        n = wav_samples(wav)
        if n is None:
            todo.append((src, wav))
        else:
            done[wav] = Converted(src, wav, n, reused=True)
    with tqdm(total=len(todo), desc="converting clips", unit="clip", disable=not progress or not todo) as bar:
        for converted in _run_conversions(todo, workers):
            done[converted.wav] = converted
            bar.update()
    return [done[wav] for _, wav in jobs]


def _run_conversions(todo: list[tuple[Path, Path]], workers: int) -> Iterator[Converted]:
    if workers <= 1 or len(todo) <= 1:
        yield from map(_convert_pair, todo)
        return
    # fork, as torch's DataLoader does: a spawned worker would import the package, torch included, which takes
    # longer than converting a few hundred clips. The workers touch nothing of torch. Decoding and resampling
    # are imported first, so that every worker starts with them.
    import scipy.signal  # noqa: F401
    import soundfile  # noqa: F401

    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context(method)) as pool:
        yield from pool.map(_convert_pair, todo, chunksize=max(1, min(16, len(todo) // (4 * workers))))


# ---------------------------------------------------------------------------------------------------------------
# Splits and manifests


def level_splits(
    clips_per_level: dict[str, int], dev_fraction: float = DEV_FRACTION, test_fraction: float = TEST_FRACTION
) -> dict[str, str]:
    """Level -> split: levels in the order of a hash of their names; test, then dev, take whole levels until
    each holds its fraction of all clips; the rest is train. Deterministic, and no level is in two splits."""
    total = sum(clips_per_level.values())
    order = sorted(clips_per_level, key=lambda level: hashlib.sha1(f"fillets:{level}".encode()).hexdigest())
    targets = (("test", test_fraction * total), ("dev", dev_fraction * total))
    splits, filled, t = {}, 0, 0
    for level in order:
        while t < len(targets) and filled >= targets[t][1]:
            t, filled = t + 1, 0
        splits[level] = targets[t][0] if t < len(targets) else "train"
        filled += clips_per_level[level]
    return splits


def manifest_name(split: str, task: str) -> str:
    """`train.asr_cs.jsonl`, `dev.st_cs-en.jsonl`, ..."""
    return f"{split}.{task}.jsonl"


def tasks(voice: str, langs: tuple[str, ...]) -> list[tuple[str, str]]:
    """(task name, target language): the ASR task, then one speech-translation task per other language."""
    return [(f"asr_{voice}", voice)] + [(f"st_{voice}-{lang}", lang) for lang in langs if lang != voice]


def utterance(m: MatchedClip, c: Converted, out_dir: Path, voice: str, tgt_lang: str, split: str) -> Utterance:
    tgt_text = m.transcript if tgt_lang == voice else m.translations[tgt_lang]
    return Utterance(
        id=f"fillets/{voice}/{m.clip.sound_dir}/{m.clip.id}",
        audio=c.wav.relative_to(out_dir).as_posix(),
        n_samples=c.n_samples,
        src_lang=voice,
        src_text=m.transcript,
        tgt_lang=tgt_lang,
        tgt_text=tgt_text,
        speaker=f"fillets-{voice}-{speaker_of(m.font)}",
        meta={"level": m.level, "clip": m.clip.id, "font": m.font, "split": split},
    )


# ---------------------------------------------------------------------------------------------------------------
# The build


@dataclass(frozen=True)
class BuildSummary:
    voice: str
    n_clips: int  # recorded clips in the voice pack
    n_matched: int  # clips with a transcript and readable audio: the ASR rows
    rows: dict[str, dict[str, int]]  # task -> split -> rows
    unmatched: dict[str, int]  # reason -> clips without an ASR row
    untranslated: dict[str, int]  # "en: no translation" -> transcribed clips without that translation
    n_dialog_lines_without_clip: int  # voice-language lines that no clip of the pack records
    n_converted: int  # clips converted by this run
    n_reused: int  # clips whose WAV an earlier run had written
    hours: float  # audio of the ASR rows
    seconds: float  # this build's wall-clock time
    levels: dict[str, str] = field(default_factory=dict)  # level -> split

    def format(self) -> str:
        lines = [
            f"Fish Fillets NG, voice {self.voice}: {self.n_matched} of {self.n_clips} clips matched "
            f"({self.hours:.2f} h), {self.n_converted} converted, {self.n_reused} already converted, "
            f"{self.seconds:.0f} s"
        ]
        lines += [f"  unmatched ({reason}): {n}" for reason, n in sorted(self.unmatched.items())]
        lines += [f"  matched but {reason}: {n}" for reason, n in sorted(self.untranslated.items())]
        lines.append(f"  dialog lines with a {self.voice} text but no recording: {self.n_dialog_lines_without_clip}")
        for task, per_split in self.rows.items():
            lines.append(
                f"  {task}: "
                + ", ".join(f"{s} {per_split.get(s, 0)}" for s in SPLITS)
                + f" ({sum(per_split.values())} rows)"
            )
        per_split_levels = Counter(self.levels.values())
        lines.append("  levels: " + ", ".join(f"{s} {per_split_levels.get(s, 0)}" for s in SPLITS))
        return "\n".join(lines)


@dataclass(frozen=True)
class GameData:
    game_dir: Path  # holds script/ (from fillets-ng-data)
    voice_dir: Path  # holds sound/ (from fillets-ng-data-<voice>)


def fetch_game_data(out_dir: Path, voice: str) -> GameData:
    """The two Debian packages, downloaded and unpacked under out_dir/debs (nothing is installed)."""
    from speech_proactive.data.debian_packages import fetch_package

    cache = out_dir / "debs"
    data = fetch_package(DATA_PACKAGE, cache)
    voice_pack = fetch_package(f"{DATA_PACKAGE}-{voice}", cache)
    return GameData(data.root / GAME_DIR, voice_pack.root / GAME_DIR)


def build(
    out_dir: str | Path,
    voice: str = "cs",
    game: GameData | None = None,
    langs: tuple[str, ...] = TRANSLATION_LANGS,
    workers: int = 2,
    dev_fraction: float = DEV_FRACTION,
    test_fraction: float = TEST_FRACTION,
    progress: bool = True,
) -> BuildSummary:
    """Fetch (unless `game` is given), match, convert and write the manifests into out_dir; see the module doc."""
    start = time.monotonic()
    out_dir = Path(out_dir)
    game = game or fetch_game_data(out_dir, voice)
    if not (game.game_dir / "script").is_dir():
        raise FilletsError(f"{game.game_dir}: no script/ folder (is it the fillets-ng data folder?)")
    clips = find_clips(game.voice_dir, voice)
    if not clips:
        raise FilletsError(f"{game.voice_dir}: no sound/*/{voice}/*.ogg clips (is it the {voice} voice pack?)")
    langs = tuple(lang for lang in langs if lang != voice)
    match = match_clips(clips, DialogIndex(game.game_dir, voice, langs), voice)
    converted = convert_all(
        [(m.clip.path, wav_path(out_dir, voice, m.clip)) for m in match.matched], workers=workers, progress=progress
    )
    good = [(m, c) for m, c in zip(match.matched, converted) if c.error is None]
    _warn_unreadable([c for c in converted if c.error is not None])
    splits = level_splits(Counter(m.level for m, _ in good), dev_fraction, test_fraction)
    summary = BuildSummary(
        voice=voice,
        n_clips=len(clips),
        n_matched=len(good),
        rows=_write_manifests(out_dir, voice, langs, good, splits),
        unmatched=dict(Counter(match.unmatched) + Counter({UNREADABLE_AUDIO: len(converted) - len(good)})),
        untranslated=dict(Counter(f"{lang}: {reason}" for m, _ in good for lang, reason in m.missing.items())),
        n_dialog_lines_without_clip=match.n_dialog_lines_without_clip,
        n_converted=sum(1 for c in converted if not c.reused and c.error is None),
        n_reused=sum(1 for c in converted if c.reused),
        hours=sum(c.n_samples for _, c in good) / audio.SAMPLE_RATE / 3600,
        seconds=time.monotonic() - start,
        levels=splits,
    )
    (out_dir / SUMMARY_FILE).write_text(
        json.dumps(asdict(summary), indent=1, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    return summary


def wav_path(out_dir: Path, voice: str, clip: Clip) -> Path:
    return out_dir / "audio" / voice / clip.sound_dir / f"{clip.id}.wav"


def _warn_unreadable(failed: list[Converted], shown: int = 10) -> None:
    for c in failed[:shown]:
        print(f"warning: skipped a clip: {c.error}", file=sys.stderr)
    if len(failed) > shown:
        print(f"warning: ... and {len(failed) - shown} more unreadable clips", file=sys.stderr)


def _write_manifests(
    out_dir: Path, voice: str, langs: tuple[str, ...], good: list[tuple[MatchedClip, Converted]], splits: dict[str, str]
) -> dict[str, dict[str, int]]:
    """Every task's manifest of every split (empty ones too, so a reader never finds a stale file); row counts."""
    rows: dict[str, dict[str, int]] = {}
    for task, tgt_lang in tasks(voice, langs):
        rows[task] = {}
        for split in SPLITS:
            utts = [
                utterance(m, c, out_dir, voice, tgt_lang, split)
                for m, c in good
                if splits[m.level] == split and (tgt_lang == voice or tgt_lang in m.translations)
            ]
            write_manifest(out_dir / manifest_name(split, task), sorted(utts, key=lambda u: u.id))
            rows[task][split] = len(utts)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="data/fillets", help="output folder (git-ignored; the data is GPL)")
    parser.add_argument("--voice", default="cs", help="voice pack language: fillets-ng-data-<voice> (cs, nl)")
    parser.add_argument("--workers", type=int, default=2, help="processes converting audio")
    parser.add_argument(
        "--game-dir",
        type=Path,
        default=None,
        help="an unpacked fillets-ng data folder (with script/) instead of fetching the package",
    )
    parser.add_argument(
        "--voice-dir",
        type=Path,
        default=None,
        help="an unpacked voice-pack folder (with sound/) instead of fetching the package",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    if (args.game_dir is None) != (args.voice_dir is None):
        parser.error("--game-dir and --voice-dir go together")
    game = GameData(args.game_dir, args.voice_dir) if args.game_dir else None
    summary = build(args.out, voice=args.voice, game=game, workers=args.workers, progress=not args.no_progress)
    print(summary.format())
    return 0


if __name__ == "__main__":
    sys.exit(main())
