"""LibriSpeech (ASR) on disk -> our manifest; also the machinery every public-corpus loader shares.

    python -m speech_proactive.data.corpora.librispeech --root LibriSpeech --out data/librispeech \
        [--splits dev-clean ...]

Layout read (as released at openslr.org/12):
    {root}/{split}/{speaker}/{chapter}/{speaker}-{chapter}.trans.txt   one line per utterance: "{id} {TEXT}"
    {root}/{split}/{speaker}/{chapter}/{id}.flac                       16 kHz mono FLAC, id = speaker-chapter-nnnn
Written:
    {out}/{split}.jsonl                                  one manifest per split (speech_proactive.data.manifest)
    {out}/audio/{split}/{speaker}/{id}.flac              hard link to the original where possible (it already is
                                                         16 kHz mono FLAC), else a copy

Each row has src_lang = tgt_lang = "en" and src_text = tgt_text = the transcript. LibriSpeech transcripts are
upper case without punctuation; they are lower-cased by default (`--keep-case` keeps them) so that they look like
the cased, mostly lower-case text of the translation corpora rather than a different alphabet to the tokenizer.

Shared by the covost and mustc loaders (kept here because a loader module is the only place they may live for
now; they belong in a corpus-common module): BuildSummary/SplitSummary/Skipped, the AudioJob conversion (resumable,
atomic, optionally parallel), CorpusError and the CLI plumbing.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
import shutil
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from speech_proactive import audio
from speech_proactive.data.manifest import Utterance, row_problems, write_manifest

OUT_SUFFIX = ".flac"  # converted audio: 16 kHz mono 16-bit FLAC (about half the size of WAV)
AUDIO_DIR = "audio"  # under the output folder


class CorpusError(ValueError):
    """A corpus on disk that cannot be read as documented; the message names the file and the problem."""


# ----------------------------------------------------------------------------------------------------------------
# Summaries


@dataclass(frozen=True)
class Skipped:
    """One utterance left out of the manifest. `reason` is a short category; `detail` says what exactly."""

    id: str
    reason: str
    detail: str = ""


@dataclass(frozen=True)
class SplitSummary:
    split: str
    manifest: Path
    n_utterances: int
    n_samples: int  # at 16 kHz, all utterances of the manifest
    n_converted: int  # audio files written by this run
    n_reused: int  # audio files already there from an earlier run (resumed)
    skipped: tuple[Skipped, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def hours(self) -> float:
        return self.n_samples / audio.SAMPLE_RATE / 3600

    def skip_counts(self) -> dict[str, int]:
        return dict(Counter(s.reason for s in self.skipped))


@dataclass(frozen=True)
class BuildSummary:
    corpus: str
    out: Path
    splits: tuple[SplitSummary, ...]
    notes: tuple[str, ...] = ()  # about the corpus as a whole, not one split

    def __getitem__(self, split: str) -> SplitSummary:
        for s in self.splits:
            if s.split == split:
                return s
        raise KeyError(f"no split {split!r} in this build (have {[s.split for s in self.splits]})")

    @property
    def hours(self) -> float:
        return sum(s.hours for s in self.splits)

    @property
    def n_utterances(self) -> int:
        return sum(s.n_utterances for s in self.splits)

    @property
    def n_skipped(self) -> int:
        return sum(len(s.skipped) for s in self.splits)

    def report(self, examples_per_reason: int = 3) -> str:
        lines = [
            f"{self.corpus} -> {self.out}: {self.n_utterances} utterances, {self.hours:.2f} h, {self.n_skipped} skipped"
        ]
        for s in self.splits:
            lines.append(
                f"  {s.split}: {s.n_utterances} utterances, {s.hours:.2f} h "
                f"(audio: {s.n_converted} new, {s.n_reused} reused; {len(s.skipped)} skipped) "
                f"-> {s.manifest}"
            )
            for reason, n in sorted(s.skip_counts().items()):
                shown = [f"{k.id} ({k.detail})" if k.detail else k.id for k in s.skipped if k.reason == reason][
                    :examples_per_reason
                ]
                lines.append(f"    skipped {n}: {reason}, e.g. {', '.join(shown)}")
            lines += [f"    note: {n}" for n in s.notes]
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)


# ----------------------------------------------------------------------------------------------------------------
# Audio conversion: one job per utterance, resumable, atomic, optionally in worker processes


@dataclass(frozen=True)
class AudioJob:
    """Frames [start_frame, stop_frame) of `source` (in its own sample rate) -> 16 kHz mono FLAC at `target`."""

    source: Path
    target: Path
    start_frame: int = 0
    stop_frame: int | None = None  # None: to the end of the file

    @property
    def whole_file(self) -> bool:
        return self.start_frame == 0 and self.stop_frame is None


@dataclass(frozen=True)
class AudioResult:
    n_samples: int = 0
    reused: bool = False
    error: str | None = None  # the source could not be decoded or is empty: the utterance is skipped


@dataclass(frozen=True)
class MissingAudio:
    id: str  # the utterance
    path: Path  # the audio file the corpus lists for it, which does not exist


@dataclass(frozen=True)
class Plan:
    """One split before conversion: what to convert, what is already left out, which sources are missing."""

    pending: list[Pending]
    skipped: list[Skipped]
    missing: list[MissingAudio]
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Pending:
    """An utterance whose audio is still to be made; its n_samples is filled in from the AudioResult."""

    utt: Utterance
    job: AudioJob


def existing_samples(path: Path) -> int | None:
    """Length of an already converted file, or None when it is absent, unreadable or not 16 kHz mono."""
    import soundfile as sf

    if not path.is_file():
        return None
    try:
        info = sf.info(str(path))
    except RuntimeError:  # soundfile's errors (LibsndfileError) are RuntimeErrors
        return None
    ok = info.samplerate == audio.SAMPLE_RATE and info.channels == 1 and info.frames > 0
    return int(info.frames) if ok else None


def read_frames(job: AudioJob) -> np.ndarray:
    """The job's frames of the source as validated 16 kHz mono float32 (only those frames are read)."""
    import soundfile as sf

    try:
        samples, rate = sf.read(
            str(job.source), start=job.start_frame, stop=job.stop_frame, dtype="float32", always_2d=True
        )
    except RuntimeError as e:
        raise audio.AudioError(f"{job.source}: unreadable or corrupt audio ({e})") from e
    where = str(job.source) if job.whole_file else f"{job.source} [frames {job.start_frame}:{job.stop_frame}]"
    return audio.prepare(samples, rate, source=where)


def write_flac_atomic(path: Path, samples: np.ndarray) -> None:
    """A reader (or a resumed run) never sees a half-written file: write beside it, then rename."""
    import soundfile as sf

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    sf.write(str(tmp), np.asarray(samples, dtype=np.float32), audio.SAMPLE_RATE, subtype="PCM_16", format="FLAC")
    os.replace(tmp, path)


def link_or_copy(source: Path, target: Path) -> None:
    """Hard link (no extra disk, no decoding); a copy where links are impossible (another file system)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    tmp.unlink(missing_ok=True)
    try:
        os.link(source, tmp)
    except OSError:
        shutil.copyfile(source, tmp)
    os.replace(tmp, target)


def convert(job: AudioJob) -> AudioResult:
    """Make job.target unless an earlier run already did. Undecodable or empty sources come back as an error."""
    done = existing_samples(job.target)
    if done is not None:
        return AudioResult(done, reused=True)
    if job.whole_file and job.source.suffix.lower() == OUT_SUFFIX:
        n = existing_samples(job.source)  # already 16 kHz mono FLAC: keep the original bytes
        if n is not None:
            link_or_copy(job.source, job.target)
            return AudioResult(n)
    try:
        samples = read_frames(job)
    except audio.AudioError as e:
        return AudioResult(error=str(e))
    write_flac_atomic(job.target, samples)
    return AudioResult(len(samples))


def convert_all(
    jobs: Sequence[AudioJob], n_workers: int = 1, desc: str = "", progress: bool = True
) -> list[AudioResult]:
    """Results in the order of `jobs`; n_workers > 1 converts in that many processes."""
    from tqdm import tqdm

    bar = dict(total=len(jobs), desc=desc, unit="utt", disable=not progress, file=sys.stderr, mininterval=1.0)
    if n_workers <= 1 or len(jobs) < 2:
        return [convert(j) for j in tqdm(jobs, **bar)]
    with ProcessPoolExecutor(max_workers=n_workers) as pool:
        return list(tqdm(pool.map(convert, jobs, chunksize=16), **bar))


# ----------------------------------------------------------------------------------------------------------------
# From pending utterances to a manifest


def finish_split(
    out: Path,
    split: str,
    pending: Sequence[Pending],
    skipped: Iterable[Skipped] = (),
    notes: Iterable[str] = (),
    n_workers: int = 1,
    progress: bool = True,
    desc: str = "",
) -> SplitSummary:
    """Convert the audio, drop what cannot be used (with its reason), write {out}/{split}.jsonl."""
    skipped = list(skipped)
    pending = drop_duplicate_ids(pending, skipped)
    results = convert_all([p.job for p in pending], n_workers, desc or split, progress)
    rows = []
    for p, r in zip(pending, results):
        if r.error is not None:
            skipped.append(Skipped(p.utt.id, "unreadable or empty audio", r.error))
            continue
        utt = dataclasses.replace(p.utt, n_samples=r.n_samples)
        problems = row_problems(_as_row(utt), out, check_audio=False)
        if problems:
            skipped.append(Skipped(utt.id, "invalid manifest row", "; ".join(problems)))
            continue
        rows.append(utt)
    manifest = write_manifest(out / f"{split}.jsonl", rows)
    return SplitSummary(
        split=split,
        manifest=manifest,
        n_utterances=len(rows),
        n_samples=sum(u.n_samples for u in rows),
        n_converted=sum(1 for r in results if r.error is None and not r.reused),
        n_reused=sum(1 for r in results if r.reused),
        skipped=tuple(skipped),
        notes=tuple(notes),
    )


def drop_duplicate_ids(pending: Sequence[Pending], skipped: list[Skipped]) -> list[Pending]:
    seen, kept = set(), []
    for p in pending:
        if p.utt.id in seen:
            skipped.append(Skipped(p.utt.id, "duplicate id", f"audio {p.job.source}"))
            continue
        seen.add(p.utt.id)
        kept.append(p)
    return kept


def _as_row(u: Utterance) -> dict:
    import json

    return json.loads(u.to_json())


def relative_audio(out: Path, target: Path) -> str:
    return target.relative_to(out).as_posix()


def check_missing_audio(missing: Sequence[MissingAudio], skip: bool, what: str, hint: str = "") -> list[Skipped]:
    """Missing source audio is an error listing the files (before any conversion starts), or skips if asked."""
    if not missing:
        return []
    if skip:
        return [Skipped(m.id, "missing audio", str(m.path)) for m in missing]
    more = f"\n  ... and {len(missing) - 10} more" if len(missing) > 10 else ""
    shown = "\n  ".join(str(m.path) for m in missing[:10]) + more
    raise CorpusError(
        f"{len(missing)} {what} listed in the corpus files do not exist:\n  {shown}\n"
        f"{hint}Pass --skip-missing-audio (skip_missing_audio=True) to build without them."
    )


def lines_of(path: Path) -> list[str]:
    """Lines split on newlines only (unlike str.splitlines, which also splits on U+2028 and friends), stripped."""
    if not path.is_file():
        raise CorpusError(f"{path}: no such file")
    text = path.read_text(encoding="utf-8")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [ln.strip() for ln in lines]


# ----------------------------------------------------------------------------------------------------------------
# CLI plumbing


def cli_parser(prog: str, doc: str | None) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--root", type=Path, required=True, help="the corpus as downloaded and extracted")
    p.add_argument("--out", type=Path, required=True, help="folder for {split}.jsonl and the converted audio")
    p.add_argument("--splits", nargs="+", help="splits to build (default: every standard split found)")
    p.add_argument(
        "--jobs",
        type=int,
        default=min(8, os.cpu_count() or 1),
        help="audio conversion processes (default: min(8, CPUs))",
    )
    p.add_argument(
        "--skip-missing-audio",
        action="store_true",
        help="leave out utterances whose audio file is missing instead of stopping",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    return p


def cli_run(build: Callable[[], BuildSummary]) -> int:
    try:
        summary = build()
    except CorpusError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(summary.report())
    return 0


# ----------------------------------------------------------------------------------------------------------------
# LibriSpeech

SPLITS = (
    "train-clean-100",
    "train-clean-360",
    "train-other-500",
    "dev-clean",
    "dev-other",
    "test-clean",
    "test-other",
    "train-clean-5",
    "dev-clean-2",
)  # the last two: Mini LibriSpeech (openslr.org/31)
CORPUS = "librispeech"
_TRANS_LINE = re.compile(r"^(\d+-\d+-\d+)(?:\s+(.*))?$")


@dataclass(frozen=True)
class Transcript:
    id: str
    speaker: str
    chapter: str
    text: str
    audio: Path


def find_splits(root: Path, splits: Sequence[str] | None, known: Sequence[str]) -> list[str]:
    """Explicit splits must exist; by default every known split that exists (at least one)."""
    if not root.is_dir():
        raise CorpusError(f"{root}: no such folder")
    if splits:
        missing = [s for s in splits if not (root / s).is_dir()]
        if missing:
            raise CorpusError(f"{root}: no split folder(s) {missing}")
        return list(splits)
    found = [s for s in known if (root / s).is_dir()]
    if not found:
        raise CorpusError(f"{root}: none of the splits {list(known)} is there")
    return found


def chapter_transcripts(chapter_dir: Path) -> list[Transcript]:
    """All utterances of one {speaker}/{chapter} folder, from its {speaker}-{chapter}.trans.txt."""
    speaker, chapter = chapter_dir.parent.name, chapter_dir.name
    trans = chapter_dir / f"{speaker}-{chapter}.trans.txt"
    if not trans.is_file():
        raise CorpusError(f"{trans}: no such file (every {{speaker}}/{{chapter}} folder has one)")
    out = []
    for lineno, line in enumerate(lines_of(trans), start=1):
        if not line:
            continue
        m = _TRANS_LINE.match(line)
        if m is None or not m.group(1).startswith(f"{speaker}-{chapter}-"):
            raise CorpusError(f"{trans}:{lineno}: expected '{speaker}-{chapter}-NNNN TRANSCRIPT', got {line[:80]!r}")
        uid = m.group(1)
        out.append(Transcript(uid, speaker, chapter, (m.group(2) or "").strip(), chapter_dir / f"{uid}.flac"))
    return out


def split_transcripts(split_dir: Path) -> list[Transcript]:
    chapters = sorted(d for d in split_dir.glob("*/*") if d.is_dir())
    if not chapters:
        raise CorpusError(f"{split_dir}: no {{speaker}}/{{chapter}} folders")
    return [t for d in chapters for t in chapter_transcripts(d)]


def plan_split(root: Path, out: Path, split: str, lowercase: bool) -> Plan:
    pending, skipped, missing = [], [], []
    for t in split_transcripts(root / split):
        if not t.text:
            skipped.append(Skipped(t.id, "empty transcript"))
            continue
        if not t.audio.is_file():
            missing.append(MissingAudio(t.id, t.audio))
            continue
        text = t.text.lower() if lowercase else t.text
        target = out / AUDIO_DIR / split / t.speaker / f"{t.id}{OUT_SUFFIX}"
        utt = Utterance(
            id=t.id,
            audio=relative_audio(out, target),
            n_samples=0,
            src_lang="en",
            src_text=text,
            tgt_lang="en",
            tgt_text=text,
            speaker=t.speaker,
            meta={"corpus": CORPUS, "chapter": t.chapter},
        )
        pending.append(Pending(utt, AudioJob(t.audio, target)))
    return Plan(pending, skipped, missing)


def build(
    root: str | Path,
    out: str | Path,
    *,
    splits: Sequence[str] | None = None,
    lowercase: bool = True,
    jobs: int = 1,
    progress: bool = True,
    skip_missing_audio: bool = False,
) -> BuildSummary:
    """LibriSpeech splits under `root` -> {out}/{split}.jsonl. Rerunning reuses the audio already there."""
    root, out = Path(root), Path(out)
    summaries = []
    for split in find_splits(root, splits, SPLITS):
        plan = plan_split(root, out, split, lowercase)
        skipped = plan.skipped + check_missing_audio(plan.missing, skip_missing_audio, "audio files")
        summaries.append(
            finish_split(
                out,
                split,
                plan.pending,
                skipped,
                plan.notes,
                n_workers=jobs,
                progress=progress,
                desc=f"{CORPUS} {split}",
            )
        )
    return BuildSummary(CORPUS, out, tuple(summaries))


def main(argv: list[str] | None = None) -> int:
    p = cli_parser("python -m speech_proactive.data.corpora.librispeech", __doc__)
    p.add_argument("--keep-case", action="store_true", help="keep the upper-case transcripts as released")
    a = p.parse_args(argv)
    return cli_run(
        lambda: build(
            a.root,
            a.out,
            splits=a.splits,
            lowercase=not a.keep_case,
            jobs=a.jobs,
            progress=not a.no_progress,
            skip_missing_audio=a.skip_missing_audio,
        )
    )


if __name__ == "__main__":
    sys.exit(main())
