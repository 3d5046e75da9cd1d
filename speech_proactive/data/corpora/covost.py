"""CoVoST 2 (Common Voice clips + CoVoST translations) on disk -> our manifest.

    python -m speech_proactive.data.corpora.covost --root cv-corpus-4-2019-12-10/en --out data/covost_en_de \
        --src en --tgt de

Read (formats as released; checked against facebookresearch/covost get_covost_splits.py and Common Voice TSVs):
    {root}/clips/{path}                    Common Voice clips, MP3 48 kHz mono. A clip converted by the user to WAV or
                                           FLAC with the same stem (clips/x.wav for clips/x.mp3) is used instead when
                                           this soundfile cannot decode MP3.
    {root}/validated.tsv                   Common Voice, tab-separated with a header; columns used: path, sentence,
                                           client_id (the others vary between releases and are ignored)
    {tsv_dir}/covost_v2.{src}_{tgt}.tsv    CoVoST 2 (from covost_v2.{src}_{tgt}.tsv.tar.gz); columns used: path,
                                           translation, split (train | train_covost | dev | test)
  or, instead of those two TSVs, the three files that CoVoST's get_covost_splits.py writes from them:
    {tsv_dir}/covost_v2.{src}_{tgt}.{split}.tsv   columns path, sentence, translation, client_id
  {root} may also be the Common Voice release folder holding {src}/; {tsv_dir} defaults to where validated.tsv is.
Written:
    {out}/{split}.jsonl                    split = train | dev | test
    {out}/audio/{split}/{clip stem}.flac   16 kHz mono

Splits are CoVoST 2's: train = rows tagged train or train_covost, dev, test (as get_covost_splits.py, version 2).
The source text and speaker are Common Voice's `sentence` and `client_id`, joined on `path`; a CoVoST row whose clip
is not in validated.tsv is skipped (the official script's inner join drops it too). TSVs are read like the official
scripts read them: tab-separated, no quoting (a quote character is text), backslash escapes.
"""

from __future__ import annotations

import csv
import os
import sys
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from speech_proactive import audio
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
    finish_split,
    relative_audio,
)
from speech_proactive.data.manifest import Utterance

CORPUS = "covost2"
SPLITS = ("train", "dev", "test")
SPLIT_OF_TAG = {"train": "train", "train_covost": "train", "dev": "dev", "test": "test"}  # CoVoST 2's own mapping


@dataclass(frozen=True)
class CovostRow:
    path: str  # the clip's file name as listed, e.g. common_voice_en_19664034.mp3
    sentence: str
    translation: str
    client_id: str
    split: str  # train | dev | test


@dataclass(frozen=True)
class CovostTable:
    rows: list[CovostRow]
    skipped: dict[str, list[Skipped]] = field(default_factory=dict)  # per split
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ClipLookup:
    file: Path | None  # the file to decode; None when there is none
    mp3_only: bool = False  # only the MP3 is there, and this soundfile cannot decode MP3


# ----------------------------------------------------------------------------------------------------------------
# TSVs


def read_tsv(path: Path, columns: Sequence[str]) -> Iterator[dict[str, str]]:
    """Rows of a headed TSV, restricted to `columns` (all required). Short rows are padded with empty fields."""
    if not path.is_file():
        raise CorpusError(f"{path}: no such file")
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE, escapechar="\\")
        header = next(reader, None)
        if header is None:
            raise CorpusError(f"{path}: empty file, expected a header line")
        missing = [c for c in columns if c not in header]
        if missing:
            raise CorpusError(f"{path}: no column(s) {missing}; its header is {header}")
        index = [header.index(c) for c in columns]
        for row in reader:
            if not row:
                continue
            if len(row) > len(header):
                raise CorpusError(f"{path}:{reader.line_num}: {len(row)} fields, the header has {len(header)}")
            row += [""] * (len(header) - len(row))
            yield {c: row[i].strip() for c, i in zip(columns, index)}


def covost_tsv(tsv_dir: Path, src: str, tgt: str, split: str | None = None) -> Path:
    return tsv_dir / (f"covost_v2.{src}_{tgt}.tsv" if split is None else f"covost_v2.{src}_{tgt}.{split}.tsv")


def joined_table(cv_dir: Path, tsv_dir: Path, src: str, tgt: str, splits: Sequence[str]) -> CovostTable:
    """covost_v2.{src}_{tgt}.tsv joined with Common Voice's validated.tsv on `path`."""
    tsv = covost_tsv(tsv_dir, src, tgt)
    tagged, other_tags = [], Counter()
    for r in read_tsv(tsv, ("path", "translation", "split")):
        split = SPLIT_OF_TAG.get(r["split"])
        if split is None:
            other_tags[r["split"]] += 1
        elif split in splits:
            tagged.append((r, split))
    wanted = {r["path"] for r, _ in tagged}
    validated = cv_dir / "validated.tsv"
    cv = {r["path"]: r for r in read_tsv(validated, ("path", "sentence", "client_id")) if r["path"] in wanted}
    table = CovostTable(rows=[])
    for r, split in tagged:
        c = cv.get(r["path"])
        if c is None:
            table.skipped.setdefault(split, []).append(
                Skipped(Path(r["path"]).stem, "not in validated.tsv", f"{validated} has no row for {r['path']}")
            )
            continue
        table.rows.append(CovostRow(r["path"], c["sentence"], r["translation"], c["client_id"], split))
    for tag, n in sorted(other_tags.items()):
        table.notes.append(f"{n} rows of {tsv} have split {tag!r}, which is in no CoVoST 2 split; left out")
    return table


def split_files_table(tsv_dir: Path, src: str, tgt: str, splits: Sequence[str]) -> CovostTable:
    """The covost_v2.{src}_{tgt}.{split}.tsv files that get_covost_splits.py writes."""
    rows = []
    for split in splits:
        for r in read_tsv(covost_tsv(tsv_dir, src, tgt, split), ("path", "sentence", "translation", "client_id")):
            rows.append(CovostRow(r["path"], r["sentence"], r["translation"], r["client_id"], split))
    return CovostTable(rows=rows)


def load_table(cv_dir: Path, tsv_dir: Path, src: str, tgt: str, splits: Sequence[str]) -> CovostTable:
    main = covost_tsv(tsv_dir, src, tgt)
    if main.is_file():
        return joined_table(cv_dir, tsv_dir, src, tgt, splits)
    if all(covost_tsv(tsv_dir, src, tgt, s).is_file() for s in splits):
        return split_files_table(tsv_dir, src, tgt, splits)
    archive = main.with_name(main.name + ".tar.gz")
    hint = (
        f" It is still packed: tar -xzf {archive} -C {tsv_dir}"
        if archive.is_file()
        else f" Download it from https://dl.fbaipublicfiles.com/covost/{archive.name} and extract it there"
        " (or pass --tsv-dir)."
    )
    raise CorpusError(
        f"{main}: no such file, and no {covost_tsv(tsv_dir, src, tgt, '{split}').name} files for "
        f"splits {list(splits)} either.{hint}"
    )


# ----------------------------------------------------------------------------------------------------------------
# Clips


def mp3_supported() -> bool:
    """libsndfile >= 1.1.0 decodes MP3; older builds (and some distributions' builds) do not."""
    import soundfile as sf

    return "MP3" in sf.available_formats()


def find_clip(clips: Path, listed: str, present: set[str], mp3_ok: bool) -> ClipLookup:
    """The listed file if it can be decoded, else a WAV/FLAC/OGG of the same stem beside it."""
    stem = Path(listed).stem
    is_mp3 = listed.lower().endswith(".mp3")
    if listed in present and (mp3_ok or not is_mp3):
        return ClipLookup(clips / listed)
    for suffix in audio.SUPPORTED_SUFFIXES:
        if stem + suffix in present:
            return ClipLookup(clips / (stem + suffix))
    return ClipLookup(None, mp3_only=listed in present)


def mp3_error(clips: Path, n: int, example: str) -> CorpusError:
    import soundfile as sf

    return CorpusError(
        f"{n} clip(s) in {clips} exist only as MP3 (e.g. {example}), and this soundfile (libsndfile "
        f"{sf.__libsndfile_version__}) cannot decode MP3. Either upgrade (libsndfile >= 1.1.0 decodes MP3: "
        f"pip install -U soundfile) or convert the clips to FLAC or WAV beside the MP3s, same stem:\n"
        f'  cd {clips} && for f in *.mp3; do ffmpeg -nostdin -loglevel error -n -i "$f" -ac 1 -ar 16000 '
        f'"${{f%.mp3}}.flac"; done\n'
        f'(sox does the same with MP3 support installed: sox "$f" -c 1 -r 16000 "${{f%.mp3}}.flac")'
    )


def cv_folder(root: Path, src: str) -> Path:
    """The Common Voice language folder (with clips/ and validated.tsv): root itself or root/{src}."""
    for d in (root, root / src):
        if (d / "clips").is_dir() or (d / "validated.tsv").is_file():
            return d
    raise CorpusError(
        f"{root}: not a Common Voice language folder (no clips/ or validated.tsv in it or in {root / src})"
    )


def list_clips(clips: Path) -> set[str]:
    if not clips.is_dir():
        raise CorpusError(f"{clips}: no such folder (Common Voice keeps its audio there)")
    return set(os.listdir(clips))


# ----------------------------------------------------------------------------------------------------------------
# Build


def row_problem(r: CovostRow) -> str | None:
    if not r.sentence:
        return "empty sentence"
    if not r.translation:
        return "empty translation"
    return None


def plan_split(table: CovostTable, split: str, clips: Path, present: set[str], out: Path, src: str, tgt: str) -> Plan:
    pending, skipped, missing = [], list(table.skipped.get(split, [])), []
    mp3_ok = mp3_supported()
    for r in table.rows:
        if r.split != split:
            continue
        uid = Path(r.path).stem
        problem = row_problem(r)
        if problem:
            skipped.append(Skipped(uid, problem))
            continue
        clip = find_clip(clips, r.path, present, mp3_ok)
        if clip.mp3_only:
            raise mp3_error(clips, sum(find_clip(clips, x.path, present, mp3_ok).mp3_only for x in table.rows), r.path)
        if clip.file is None:
            missing.append(MissingAudio(uid, clips / r.path))
            continue
        target = out / AUDIO_DIR / split / f"{uid}{OUT_SUFFIX}"
        utt = Utterance(
            id=uid,
            audio=relative_audio(out, target),
            n_samples=0,
            src_lang=src,
            src_text=r.sentence,
            tgt_lang=tgt,
            tgt_text=r.translation,
            speaker=r.client_id,
            meta={"corpus": CORPUS, "clip": r.path},
        )
        pending.append(Pending(utt, AudioJob(clip.file, target)))
    return Plan(pending, skipped, missing)


def build(
    root: str | Path,
    out: str | Path,
    src: str = "en",
    tgt: str = "de",
    *,
    tsv_dir: str | Path | None = None,
    splits: Sequence[str] | None = None,
    jobs: int = 1,
    progress: bool = True,
    skip_missing_audio: bool = False,
) -> BuildSummary:
    """CoVoST 2 {src}->{tgt} -> {out}/{split}.jsonl. Rerunning reuses the audio already converted.

    Every split is planned (and every clip looked up) before any audio is converted, so a missing TSV, a missing
    clip or undecodable MP3s stop the build at once rather than hours in.
    """
    root, out = Path(root), Path(out)
    splits = list(splits or SPLITS)
    unknown = [s for s in splits if s not in SPLITS]
    if unknown:
        raise CorpusError(f"unknown CoVoST split(s) {unknown}; the splits are {list(SPLITS)}")
    cv_dir = cv_folder(root, src)
    table = load_table(cv_dir, Path(tsv_dir) if tsv_dir else cv_dir, src, tgt, splits)
    clips = cv_dir / "clips"
    present = list_clips(clips)
    plans = {s: plan_split(table, s, clips, present, out, src, tgt) for s in splits}
    if not skip_missing_audio:
        check_missing_audio(
            [m for p in plans.values() for m in p.missing],
            False,
            "clips",
            "Common Voice releases other than CoVoST 2's (version 4, 2019-12-10) may lack some.\n",
        )
    summaries = []
    for s, plan in plans.items():
        skipped = plan.skipped + check_missing_audio(plan.missing, True, "clips")
        summaries.append(
            finish_split(
                out, s, plan.pending, skipped, n_workers=jobs, progress=progress, desc=f"{CORPUS} {src}-{tgt} {s}"
            )
        )
    return BuildSummary(f"{CORPUS} {src}-{tgt}", out, tuple(summaries), notes=tuple(table.notes))


def main(argv: list[str] | None = None) -> int:
    p = cli_parser("python -m speech_proactive.data.corpora.covost", __doc__)
    p.add_argument("--src", default="en", help="source (audio) language, Common Voice's code (default en)")
    p.add_argument("--tgt", default="de", help="target language, CoVoST's code, e.g. de, zh-CN (default de)")
    p.add_argument("--tsv-dir", type=Path, help="folder of covost_v2.{src}_{tgt}.tsv (default: beside validated.tsv)")
    a = p.parse_args(argv)
    return cli_run(
        lambda: build(
            a.root,
            a.out,
            a.src,
            a.tgt,
            tsv_dir=a.tsv_dir,
            splits=a.splits,
            jobs=a.jobs,
            progress=not a.no_progress,
            skip_missing_audio=a.skip_missing_audio,
        )
    )


if __name__ == "__main__":
    sys.exit(main())
