"""Long-form test sets: one WAV per talk plus its sentence segmentation, as IWSLT's long-form evaluation reads them.

MuST-C and the IWSLT test sets give each talk as one WAV, a YAML list of its sentences' segments
(`{wav, offset, duration}`, seconds) and a reference file with one line per segment, in the same order. FBK's
simulstream (IWSLT 2026's harness) streams the whole WAV through a system, then resegments the output against
those references with mwerSegmenter to score BLEU and StreamLAAL. A real corpus already comes in this layout
(`python -m speech_proactive.evaluation.longform --audio-definition ... --references ... --wav-dir ...`); the
default corpus has single utterances, so `build_talks` strings `per_talk` of them into a talk with `gap_ms` of
silence around each.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np
import yaml

from speech_proactive import audio
from speech_proactive.data.manifest import Manifest, Utterance
from speech_proactive.model.bundle import replace_dir

TALK_SET_FILE = "talks.json"  # what build_talks made, so that a later run reuses it


@dataclass(frozen=True)
class TalkSet:
    """The files simulstream's CLIs read. Paths are absolute."""

    wav_list: Path  # one talk WAV per line (simulstream_inference --wav-list-file)
    audio_definition: Path  # YAML: one {wav, offset, duration} per sentence, talk by talk, in order
    references: Path  # one reference sentence per line, in the same order
    src_lang: str
    tgt_lang: str
    n_talks: int
    n_sentences: int
    audio_s: float  # all talks together, silence included

    @classmethod
    def read(cls, folder: Path) -> TalkSet:
        d = json.loads((folder / TALK_SET_FILE).read_text())
        paths = {k: folder / d[k] for k in ("wav_list", "audio_definition", "references")}
        return cls(**{f.name: paths.get(f.name, d.get(f.name)) for f in fields(cls)})


@dataclass(frozen=True)
class Sentence:
    wav: str  # the talk's file name (simulstream matches it by stem)
    offset: float  # seconds from the start of the talk
    duration: float  # seconds
    id: str  # the manifest row it came from


def talk_rows(manifest: Manifest, per_talk: int, limit: int | None = None) -> list[list[Utterance]]:
    """The manifest's rows in order, `per_talk` to a talk; every row one language pair and a translation or
    transcription (a QA row's answer is not a segment of the talk)."""
    rows = manifest.rows[:limit] if limit else manifest.rows
    if not rows:
        raise ValueError(f"{manifest.path}: no utterances to build talks from")
    if per_talk < 1:
        raise ValueError(f"per_talk={per_talk}: a talk needs at least one sentence")
    pairs = {(u.src_lang, u.tgt_lang) for u in rows}
    if len(pairs) > 1:
        raise ValueError(f"{manifest.path}: a talk set has one language pair; this manifest has {sorted(pairs)}")
    if bad := [u.id for u in rows if u.task_name == "qa"]:
        raise ValueError(f"{manifest.path}: QA rows cannot be sentences of a talk ({bad[:3]} ...)")
    return [rows[i : i + per_talk] for i in range(0, len(rows), per_talk)]


def talk_audio(
    manifest: Manifest, rows: list[Utterance], name: str, gap_ms: float
) -> tuple[np.ndarray, list[Sentence]]:
    """One talk: gap, sentence, gap, sentence, ..., gap. Offsets are exact sample positions."""
    gap = np.zeros(audio.ms_to_samples(gap_ms), np.float32)
    pieces, sentences, n = [gap], [], len(gap)
    for u in rows:
        samples = audio.load_audio(manifest.audio_path(u))
        sentences.append(Sentence(name, n / audio.SAMPLE_RATE, len(samples) / audio.SAMPLE_RATE, u.id))
        pieces += [samples, gap]
        n += len(samples) + len(gap)
    return np.concatenate(pieces), sentences


def build_talks(
    manifest: Manifest, out: Path, per_talk: int = 10, gap_ms: float = 1000.0, limit: int | None = None
) -> TalkSet:
    """Write the talks of `manifest` under `out` (replacing it whole, so a crash never leaves half a set)."""
    if gap_ms < 0:
        raise ValueError(f"gap_ms={gap_ms} must be >= 0")
    groups = talk_rows(manifest, per_talk, limit)
    out = Path(out).resolve()
    tmp = out.with_name(f"{out.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "wav").mkdir(parents=True)
    sentences, refs, wavs, total_n = [], [], [], 0
    for i, rows in enumerate(groups):
        name = f"talk_{i:03d}.wav"
        samples, talk = talk_audio(manifest, rows, name, gap_ms)
        audio.write_wav(tmp / "wav" / name, samples)
        wavs.append(out / "wav" / name)
        sentences += talk
        refs += [" ".join(u.tgt_text.split()) for u in rows]  # one line per segment, whatever the text held
        total_n += len(samples)
    (tmp / "wav_list.txt").write_text("".join(f"{w}\n" for w in wavs))
    (tmp / "segments.yaml").write_text(yaml.safe_dump([asdict(s) for s in sentences], sort_keys=False))
    (tmp / "references.txt").write_text("".join(f"{r}\n" for r in refs))
    first = groups[0][0]
    meta = {
        "wav_list": "wav_list.txt",
        "audio_definition": "segments.yaml",
        "references": "references.txt",
        "src_lang": first.src_lang,
        "tgt_lang": first.tgt_lang if first.task_name == "st" else first.src_lang,
        "n_talks": len(groups),
        "n_sentences": len(sentences),
        "audio_s": total_n / audio.SAMPLE_RATE,
    }
    (tmp / TALK_SET_FILE).write_text(
        json.dumps({**meta, "manifest": str(manifest.path), "per_talk": per_talk, "gap_ms": gap_ms}, indent=1)
    )
    replace_dir(tmp, out)
    return TalkSet.read(out)


def existing_talks(
    audio_definition: Path, references: Path, wav_dir: Path, src_lang: str, tgt_lang: str, out: Path
) -> TalkSet:
    """A real long-form set (MuST-C's `{split}.yaml` and `{split}.{lang}`, IWSLT's test sets): checked, and its
    WAV list written under `out`. simulstream reads the talks as 16-bit PCM WAV at any rate, one channel."""
    import soundfile as sf

    segments = yaml.safe_load(Path(audio_definition).read_text()) or []
    lines = Path(references).read_text(encoding="utf-8").splitlines()
    if len(segments) != len(lines):
        raise ValueError(f"{audio_definition} has {len(segments)} segments but {references} has {len(lines)} lines")
    if missing := [s for s in segments if not {"wav", "offset", "duration"} <= set(s)]:
        raise ValueError(f"{audio_definition}: segments need wav, offset and duration; first bad: {missing[0]}")
    names = list(dict.fromkeys(s["wav"] for s in segments))  # talk order = first appearance
    wavs = [(Path(wav_dir) / n).resolve() for n in names]
    if absent := [str(w) for w in wavs if not w.is_file()]:
        raise ValueError(f"talk audio not found: {absent[:3]}{' ...' if len(absent) > 3 else ''}")
    infos = [sf.info(str(w)) for w in wavs]
    if bad := [str(w) for w, i in zip(wavs, infos) if i.channels != 1 or i.subtype not in ("PCM_16", "FLOAT")]:
        raise ValueError(f"simulstream reads mono 16-bit (or float) WAV; convert these first: {bad[:3]}")
    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    (out / "wav_list.txt").write_text("".join(f"{w}\n" for w in wavs))
    meta = {
        "wav_list": "wav_list.txt",
        "audio_definition": str(Path(audio_definition).resolve()),
        "references": str(Path(references).resolve()),
        "src_lang": src_lang,
        "tgt_lang": tgt_lang,
        "n_talks": len(wavs),
        "n_sentences": len(segments),
        "audio_s": sum(i.duration for i in infos),
    }
    (out / TALK_SET_FILE).write_text(json.dumps(meta, indent=1))
    return TalkSet.read(out)
