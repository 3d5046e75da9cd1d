"""MuST-C (English TED talks with translations into {tgt}) on disk -> our manifest.

    python -m speech_proactive.data.corpora.mustc --root MUSTC_v1.0 --out data/mustc_en_de --tgt de

Read (the layout as released by FBK, and as fairseq's examples/speech_to_text/prep_mustc_data.py reads it):
    {root}/en-{tgt}/data/{split}/wav/{talk}.wav         one file per talk
    {root}/en-{tgt}/data/{split}/txt/{split}.yaml       a list, one entry per segment:
                                                        {duration: 3.5, offset: 16.08, rW: 9, uW: 0,
                                                         speaker_id: spk.767, wav: ted_767.wav}   (seconds)
    {root}/en-{tgt}/data/{split}/txt/{split}.en         line i: transcript of segment i of the yaml
    {root}/en-{tgt}/data/{split}/txt/{split}.{tgt}      line i: translation of segment i
  {root} may also be the en-{tgt} folder itself.
Written:
    {out}/{split}.jsonl                                 split = train | dev | tst-COMMON | tst-HE
    {out}/audio/{split}/{talk}/{talk}_{i}.flac          16 kHz mono; i counts the talk's segments in yaml order

A segment is frames [round(offset * rate), round((offset + duration) * rate)) of its talk, at the talk file's own
rate; only those frames are read, then converted to 16 kHz mono. A segment running past the end of its talk's
audio is cut at the end (the summary notes how many); one starting after the end is skipped. Ids {talk}_{i} are
fairseq's whenever the yaml lists each talk's segments by increasing offset, as the released files do.
"""

from __future__ import annotations

import sys
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from speech_proactive.data.corpora.librispeech import (
    AUDIO_DIR,
    OUT_SUFFIX,
    AudioJob,
    BuildSummary,
    CorpusError,
    MissingAudio,
    Pending,
    Plan,
    Skipped,
    check_missing_audio,
    cli_parser,
    cli_run,
    find_splits,
    finish_split,
    lines_of,
    relative_audio,
)
from speech_proactive.data.manifest import Utterance

CORPUS = "mustc"
SRC_LANG = "en"
SPLITS = ("train", "dev", "tst-COMMON", "tst-HE")


@dataclass(frozen=True)
class Segment:
    index: int  # position in the yaml, 0-based (= line index in the text files)
    wav: str  # the talk's file name under wav/
    offset_s: float
    duration_s: float
    speaker: str
    src_text: str = ""
    tgt_text: str = ""

    @property
    def talk(self) -> str:
        return Path(self.wav).stem


@dataclass(frozen=True)
class TalkAudio:
    path: Path
    sample_rate: int
    n_frames: int


@dataclass(frozen=True)
class Cut:
    """A segment's frame range in its talk (at the talk's rate), and how far its end ran past the audio."""

    start_frame: int
    stop_frame: int
    overrun_frames: int = 0


# ----------------------------------------------------------------------------------------------------------------
# Reading the text side


def pair_folder(root: Path, tgt: str) -> Path:
    """{root}/en-{tgt}, or root itself when it already is that folder."""
    for d in (root / f"{SRC_LANG}-{tgt}", root):
        if (d / "data").is_dir():
            return d / "data"
    raise CorpusError(f"{root}: no {SRC_LANG}-{tgt}/data folder (nor a data/ folder in it)")


def _yaml_loader():
    import yaml

    return getattr(yaml, "CBaseLoader", yaml.BaseLoader)  # every value a string, like fairseq reads it; C is fast


def read_segments(path: Path) -> list[Segment]:
    """The yaml's segments, checked: each has a talk wav, a numeric offset >= 0 and a numeric duration."""
    import yaml

    if not path.is_file():
        raise CorpusError(f"{path}: no such file")
    with path.open(encoding="utf-8") as f:
        try:
            data = yaml.load(f, Loader=_yaml_loader())
        except yaml.YAMLError as e:
            raise CorpusError(f"{path}: not valid YAML ({e})") from e
    if not isinstance(data, list):
        raise CorpusError(f"{path}: expected a list of segments, got {type(data).__name__}")
    return [parse_segment(path, i, d) for i, d in enumerate(data)]


def parse_segment(path: Path, index: int, d: object) -> Segment:
    where = f"{path}: segment {index + 1}"
    if not isinstance(d, dict):
        raise CorpusError(f"{where}: expected a mapping like {{duration, offset, speaker_id, wav}}, got {d!r}")
    missing = [k for k in ("wav", "offset", "duration") if not str(d.get(k, "")).strip()]
    if missing:
        raise CorpusError(f"{where}: no {missing} in {d}")
    try:
        offset_s, duration_s = float(d["offset"]), float(d["duration"])
    except (TypeError, ValueError):
        raise CorpusError(f"{where}: offset and duration must be numbers (seconds), got {d}") from None
    if offset_s < 0:
        raise CorpusError(f"{where}: negative offset {offset_s}")
    wav = str(d["wav"]).strip()
    return Segment(index, wav, offset_s, duration_s, str(d.get("speaker_id", "")).strip() or Path(wav).stem)


def with_texts(segments: list[Segment], yaml_path: Path, src_path: Path, tgt_path: Path) -> list[Segment]:
    """Attach line i of each text file to segment i; the three files must have as many entries."""
    src, tgt = lines_of(src_path), lines_of(tgt_path)
    if not len(segments) == len(src) == len(tgt):
        raise CorpusError(
            f"{yaml_path} has {len(segments)} segments, but {src_path} has {len(src)} lines and "
            f"{tgt_path} has {len(tgt)}: line i of each text file belongs to segment i of the yaml"
        )
    return [Segment(s.index, s.wav, s.offset_s, s.duration_s, s.speaker, a, b) for s, a, b in zip(segments, src, tgt)]


# ----------------------------------------------------------------------------------------------------------------
# Audio side


def talk_audio(path: Path) -> TalkAudio | None:
    import soundfile as sf

    try:
        info = sf.info(str(path))
    except RuntimeError:
        return None
    return TalkAudio(path, int(info.samplerate), int(info.frames))


def cut(seg: Segment, talk: TalkAudio) -> Cut | None:
    """The segment's frames in the talk; None when nothing of it is inside the audio."""
    start = round(seg.offset_s * talk.sample_rate)
    stop = round((seg.offset_s + seg.duration_s) * talk.sample_rate)
    if stop <= start or start >= talk.n_frames:
        return None
    return Cut(start, min(stop, talk.n_frames), max(0, stop - talk.n_frames))


def overrun_note(overruns_ms: list[float]) -> list[str]:
    if not overruns_ms:
        return []
    return [
        f"{len(overruns_ms)} segment(s) ran past the end of their talk's audio (by up to {max(overruns_ms):.0f} "
        "ms) and were cut at the end"
    ]


# ----------------------------------------------------------------------------------------------------------------
# Build


def plan_segment(
    seg: Segment, uid: str, talk: TalkAudio, c: Cut | None, split: str, tgt: str, out: Path
) -> Pending | Skipped:
    if c is None:
        return Skipped(
            uid,
            "segment outside its talk's audio",
            f"{seg.offset_s:.3f}+{seg.duration_s:.3f} s, {talk.path} lasts {talk.n_frames / talk.sample_rate:.3f} s",
        )
    if not seg.src_text or not seg.tgt_text:
        return Skipped(uid, "empty transcript" if not seg.src_text else "empty translation", f"line {seg.index + 1}")
    target = out / AUDIO_DIR / split / seg.talk / f"{uid}{OUT_SUFFIX}"
    utt = Utterance(
        id=uid,
        audio=relative_audio(out, target),
        n_samples=0,
        src_lang=SRC_LANG,
        src_text=seg.src_text,
        tgt_lang=tgt,
        tgt_text=seg.tgt_text,
        speaker=seg.speaker,
        meta={"corpus": CORPUS, "talk": seg.talk, "offset_s": seg.offset_s, "duration_s": seg.duration_s},
    )
    return Pending(utt, AudioJob(talk.path, target, c.start_frame, c.stop_frame))


def plan_split(split_dir: Path, split: str, tgt: str, out: Path) -> Plan:
    txt, wav_dir = split_dir / "txt", split_dir / "wav"
    yaml_path = txt / f"{split}.yaml"
    segments = with_texts(read_segments(yaml_path), yaml_path, txt / f"{split}.{SRC_LANG}", txt / f"{split}.{tgt}")
    talks: dict[str, TalkAudio | None] = {}
    per_talk: dict[str, int] = defaultdict(int)
    plan = Plan(pending=[], skipped=[], missing=[])
    overruns_ms = []
    for seg in segments:
        uid = f"{seg.talk}_{per_talk[seg.talk]}"
        per_talk[seg.talk] += 1
        path = wav_dir / seg.wav
        if not path.is_file():
            plan.missing.append(MissingAudio(uid, path))
            continue
        if seg.wav not in talks:
            talks[seg.wav] = talk_audio(path)
        talk = talks[seg.wav]
        if talk is None:
            plan.skipped.append(Skipped(uid, "unreadable or empty audio", f"{path} cannot be read"))
            continue
        c = cut(seg, talk)
        item = plan_segment(seg, uid, talk, c, split, tgt, out)
        if isinstance(item, Skipped):
            plan.skipped.append(item)
            continue
        plan.pending.append(item)
        if c.overrun_frames:
            overruns_ms.append(1000 * c.overrun_frames / talk.sample_rate)
    plan.notes.extend(overrun_note(overruns_ms))
    return plan


def build(
    root: str | Path,
    out: str | Path,
    tgt: str = "de",
    *,
    splits: Sequence[str] | None = None,
    jobs: int = 1,
    progress: bool = True,
    skip_missing_audio: bool = False,
) -> BuildSummary:
    """MuST-C en->{tgt} -> {out}/{split}.jsonl. Rerunning reuses the segments already cut.

    Every split is read and checked (yaml against texts, talk files present) before any audio is cut.
    """
    root, out = Path(root), Path(out)
    data = pair_folder(root, tgt)
    names = find_splits(data, splits, SPLITS)
    plans = {s: plan_split(data / s, s, tgt, out) for s in names}
    if not skip_missing_audio:
        check_missing_audio([m for p in plans.values() for m in p.missing], False, "talk audio files")
    summaries = []
    for s, plan in plans.items():
        skipped = plan.skipped + check_missing_audio(plan.missing, True, "talk audio files")
        summaries.append(
            finish_split(
                out,
                s,
                plan.pending,
                skipped,
                plan.notes,
                n_workers=jobs,
                progress=progress,
                desc=f"{CORPUS} en-{tgt} {s}",
            )
        )
    return BuildSummary(f"{CORPUS} {SRC_LANG}-{tgt}", out, tuple(summaries))


def main(argv: list[str] | None = None) -> int:
    p = cli_parser("python -m speech_proactive.data.corpora.mustc", __doc__)
    p.add_argument("--tgt", default="de", help="target language: the en-{tgt} folder to read (default de)")
    a = p.parse_args(argv)
    return cli_run(
        lambda: build(
            a.root,
            a.out,
            a.tgt,
            splits=a.splits,
            jobs=a.jobs,
            progress=not a.no_progress,
            skip_missing_audio=a.skip_missing_audio,
        )
    )


if __name__ == "__main__":
    sys.exit(main())
