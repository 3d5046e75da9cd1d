"""The one manifest format every corpus is written in: JSON Lines, one utterance per line.

Required fields of each row:
    id          unique within the manifest
    audio       path of a 16 kHz mono WAV/FLAC file, relative to the manifest's folder
    n_samples   length of that audio in samples
    src_lang, src_text, tgt_lang, tgt_text, speaker
    (src_text and tgt_text may both be empty: audio with no speech, whose right output is nothing; one empty
    text alone is an error)
Optional fields (corpora that know them write them):
    src_word_end_ms  end time of each source word (src_text.split()) in the audio, non-decreasing
    tgt_align        for each target word (tgt_text.split()): indices of the source words it depends on
    tgt_ideal_ms     for each target word: the earliest time it is determined (end of its last source word)
    task             "st" | "asr" | "qa" (default: "st" when the languages differ, else "asr")
    question         the question a "qa" row asks about the audio (its answer is tgt_text)
    meta             free-form dict (template, voice, ...)
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from speech_proactive import audio

TASKS = ("st", "asr", "qa")
REQUIRED = ("id", "audio", "n_samples", "src_lang", "src_text", "tgt_lang", "tgt_text", "speaker")


class ManifestError(ValueError):
    """Bad rows of a manifest; the message lists every one with its line number."""


@dataclass(frozen=True)
class Utterance:
    id: str
    audio: str
    n_samples: int
    src_lang: str
    src_text: str
    tgt_lang: str
    tgt_text: str
    speaker: str
    src_word_end_ms: tuple[float, ...] | None = None
    tgt_align: tuple[tuple[int, ...], ...] | None = None
    tgt_ideal_ms: tuple[float, ...] | None = None
    task: str | None = None
    question: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def duration_ms(self) -> float:
        return audio.samples_to_ms(self.n_samples)

    @property
    def task_name(self) -> str:
        return self.task or ("st" if self.src_lang != self.tgt_lang else "asr")

    def to_json(self) -> str:
        d = {k: v for k, v in dataclasses.asdict(self).items() if v is not None and v != {}}
        return json.dumps(d, ensure_ascii=False)


@dataclass(frozen=True)
class Manifest:
    path: Path
    rows: list[Utterance]
    n_skipped: int = 0

    def audio_path(self, u: Utterance) -> Path:
        return self.path.parent / u.audio

    @property
    def hours(self) -> float:
        return sum(u.n_samples for u in self.rows) / audio.SAMPLE_RATE / 3600


def row_problems(d: Any, base: Path, check_audio: bool) -> list[str]:
    """Everything wrong with one parsed row (empty list: the row is good)."""
    if not isinstance(d, dict):
        return [f"expected a JSON object, got {type(d).__name__}"]
    missing = [k for k in REQUIRED if k not in d]
    if missing:
        return [f"missing field(s) {missing}"]
    no_speech = not str(d["src_text"]).strip() and not str(d["tgt_text"]).strip()
    texts = () if no_speech else ("src_text", "tgt_text")
    problems = [f"empty {k}" for k in ("id", "audio", *texts) if not str(d[k]).strip()]
    if not isinstance(d["n_samples"], int) or d["n_samples"] <= 0:
        problems.append(f"n_samples must be a positive integer, got {d['n_samples']!r}")
    n_src, n_tgt = len(str(d["src_text"]).split()), len(str(d["tgt_text"]).split())
    for key, want in (("src_word_end_ms", n_src), ("tgt_align", n_tgt), ("tgt_ideal_ms", n_tgt)):
        if key in d and len(d[key]) != want:
            problems.append(f"{key} has {len(d[key])} entries for {want} words")
    if d.get("task", "st") not in TASKS:
        problems.append(f"task must be one of {TASKS}, got {d['task']!r}")
    if d.get("task") == "qa" and not str(d.get("question") or "").strip():
        problems.append("a qa row needs a non-empty question")
    if "tgt_align" in d and any(not 0 <= i < n_src for a in d["tgt_align"] for i in a):
        problems.append("tgt_align refers to a source word that does not exist")
    if not problems and check_audio:
        problems += _audio_problems(base / d["audio"], d["n_samples"])
    return problems


def _audio_problems(path: Path, n_samples: int) -> list[str]:
    import soundfile as sf

    if not path.is_file():
        return [f"audio file {path} does not exist"]
    try:
        info = sf.info(str(path))
    except (RuntimeError, sf.LibsndfileError) as e:
        return [f"audio file {path} is unreadable ({e})"]
    if info.samplerate != audio.SAMPLE_RATE or info.channels != 1:
        return [f"audio file {path} is {info.samplerate} Hz x {info.channels} ch, expected 16000 Hz mono"]
    if info.frames != n_samples:
        return [f"audio file {path} has {info.frames} samples, manifest says {n_samples}"]
    return []


def _utterance(d: dict[str, Any]) -> Utterance:
    known = {f.name for f in dataclasses.fields(Utterance)}
    d = {k: v for k, v in d.items() if k in known}
    for k in ("src_word_end_ms", "tgt_ideal_ms"):
        if k in d:
            d[k] = tuple(float(x) for x in d[k])
    if "tgt_align" in d:
        d["tgt_align"] = tuple(tuple(int(i) for i in a) for a in d["tgt_align"])
    return Utterance(**d)


def read_manifest(path: str | Path, check_audio: bool = True, skip_bad: bool = False) -> Manifest:
    """Validate every row. Bad rows: one ManifestError listing all of them, or skipped and counted."""
    path = Path(path)
    if not path.is_file():
        raise ManifestError(f"{path}: no such manifest")
    rows, bad, seen = [], [], set()
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            d = json.loads(line)
        except json.JSONDecodeError as e:
            bad.append(f"line {lineno}: not JSON ({e.msg})")
            continue
        problems = row_problems(d, path.parent, check_audio)
        if not problems and d["id"] in seen:
            problems = [f"duplicate id {d['id']!r}"]
        if problems:
            bad.append(f"line {lineno}: " + "; ".join(problems))
            continue
        seen.add(d["id"])
        rows.append(_utterance(d))
    if bad and not skip_bad:
        shown = "\n  ".join(bad[:50]) + (f"\n  ... and {len(bad) - 50} more" if len(bad) > 50 else "")
        raise ManifestError(f"{path}: {len(bad)} bad row(s) of {len(bad) + len(rows)}:\n  {shown}")
    return Manifest(path, rows, n_skipped=len(bad))


def write_manifest(path: str | Path, rows: list[Utterance]) -> Path:
    """Atomic: a reader never sees a half-written manifest."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}")
    tmp.write_text("".join(u.to_json() + "\n" for u in rows), encoding="utf-8")
    os.replace(tmp, path)
    return path
