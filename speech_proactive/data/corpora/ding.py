"""German-English sentence pairs from the Ding dictionary (Debian package `trans-de-en`, GPL).

The dictionary file `usr/share/trans/de-en` has one entry a line, `German :: English`; `#` starts a comment line.
Each side is a list of aligned sub-entries separated by ` | ` (the n-th German sub-entry translates the n-th
English one), each sub-entry a list of synonyms separated by `; `. Annotations are in `{}` (gender, part of
speech), `[]` (usage, field), `()` (optional words, explanations) and `<>` (spelling variants, search words).
Many entries end with example sentences ("Wir haben eine große Überraschung für dich auf Lager."), and those
are what this module extracts:

- annotations are stripped (nested ones too), whitespace is collapsed, no space is left before punctuation;
- of a sub-entry's synonyms, the first on each side is taken (the others are alternative phrasings);
- a sentence starts with an upper-case letter, ends with `.`, `!` or `?`, has at least MIN_WORDS words, and
  keeps no `/` (the dictionary's "fallen/come down" alternatives), no bracket, and no placeholder of a pattern
  entry (`etw.`, `jdm.`, `sb.`, `sth.`, `…`);
- the two sides have the same number of sentences (one side's "Would you like ...? Would you care ...?" lists
  alternatives) and lengths within MAX_LENGTH_RATIO of each other (past it: an idiom or an explanation);
- a line whose two sides have different numbers of sub-entries is skipped (no alignment to trust);
- each normalized German sentence and each normalized English sentence is kept once (the first pair in file
  order wins), so no sentence on either side is in two splits;
- the split is fixed by a hash of the normalized German sentence: about 90/5/5 train/dev/test, the same on
  every run and machine, and a pair keeps its split when others are added or removed.

Output: `pairs.jsonl` with one `{"id", "de", "en", "split"}` object a line. The data is GPL: it is built at setup
time into a git-ignored folder, never committed. CLI: `python -m speech_proactive.data.corpora.ding --out data/ding`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import sys
import time
import unicodedata
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

PACKAGE = "trans-de-en"
DICT_PATH = Path("usr/share/trans/de-en")
PAIRS_FILE = "pairs.jsonl"
SPLITS = ("train", "dev", "test")
DEV_PERCENT = 5
TEST_PERCENT = 5
MIN_WORDS = 3  # the data's 3-word sentences are real ("Wände haben Ohren."); 2-word ones are mostly exclamations

_ANNOTATION = re.compile(r"\{[^{}]*\}|\[[^\[\]]*\]|\([^()]*\)|<[^<>]*>")
_BRACKETS = set("{}[]()<>")
_SPACE_BEFORE_PUNCT = re.compile(r"\s+([.,;:!?])")
_PLACEHOLDERS = re.compile(r"(?<!\w)(etw|jdm|jdn|jds|jd|sb|sth)\.(?!\w)", re.IGNORECASE)
_NON_WORD = re.compile(r"[^\w\s]")
_SENTENCE_BREAK = re.compile(r"[.!?:]\s+\S")  # "Möchten Sie? Möchtest du?": the dictionary's alternatives
MAX_LENGTH_RATIO = 2.5  # characters, either way: past it the "translation" is an idiom or an explanation


class DingError(ValueError):
    """A pairs file or dictionary file that cannot be used; the message names the file and the line."""


@dataclass(frozen=True)
class DingPair:
    id: str
    de: str
    en: str
    split: str


@dataclass(frozen=True)
class ExtractSummary:
    """What extraction found: pairs kept per split, and why the other sentence candidates were dropped
    ("other side: X": one side was a sentence, the other was not, for reason X)."""

    n_lines: int
    per_split: dict[str, int]
    dropped: dict[str, int] = field(default_factory=dict)

    @property
    def n_pairs(self) -> int:
        return sum(self.per_split.values())

    def format(self) -> str:
        lines = [
            f"{self.n_pairs} pairs from {self.n_lines} dictionary lines: "
            + ", ".join(f"{s} {self.per_split.get(s, 0)}" for s in SPLITS)
        ]
        lines += [f"  dropped ({reason}): {n}" for reason, n in sorted(self.dropped.items())]
        return "\n".join(lines)


def strip_annotations(text: str) -> str:
    """Remove `{}` `[]` `()` `<>` groups (innermost first), collapse spaces, no space before punctuation."""
    previous = None
    while previous != text:
        previous, text = text, _ANNOTATION.sub(" ", text)
    text = " ".join(text.split())
    return _SPACE_BEFORE_PUNCT.sub(r"\1", text)


def split_entry(line: str) -> list[tuple[str, str]] | None:
    """Aligned (German, English) sub-entries of one dictionary line; None for a comment or a misaligned line."""
    line = line.strip()
    if not line or line.startswith("#") or " :: " not in line:
        return None
    de_side, en_side = line.split(" :: ", 1)
    de_subs, en_subs = de_side.split(" | "), en_side.split(" | ")
    if len(de_subs) != len(en_subs):
        return None
    return list(zip(de_subs, en_subs))


def first_synonym(sub_entry: str) -> str:
    """The first `;`-separated synonym, annotations stripped (a `;` inside brackets does not split)."""
    return strip_annotations(sub_entry).split("; ")[0].strip()


def sentence_problem(text: str) -> str | None:
    """Why `text` is not a usable sentence (None: it is one)."""
    if not text:
        return "empty"
    if not (text[0].isalpha() and text[0].isupper()):
        return "no capital start"
    if text[-1] not in ".!?":
        return "no final punctuation"
    if len(text.split()) < MIN_WORDS:
        return f"fewer than {MIN_WORDS} words"
    if "/" in text:
        return "alternatives with /"
    if _BRACKETS & set(text):
        return "unbalanced bracket"
    if _PLACEHOLDERS.search(text) or "…" in text or "..." in text:
        return "pattern placeholder"
    return None


def pair_problem(de: str, en: str) -> str | None:
    """Why two sentences are not a usable pair (None: they are one)."""
    if len(_SENTENCE_BREAK.findall(de)) != len(_SENTENCE_BREAK.findall(en)):
        return "different sentence counts"
    if not 1 / MAX_LENGTH_RATIO <= len(de) / len(en) <= MAX_LENGTH_RATIO:
        return f"length ratio past {MAX_LENGTH_RATIO}"
    return None


def normalize(text: str) -> str:
    """Key for de-duplication and splitting: NFKC, case-folded, punctuation dropped, spaces collapsed."""
    text = unicodedata.normalize("NFKC", text).casefold()
    return " ".join(_NON_WORD.sub(" ", text).split())


def split_of(norm_de: str) -> str:
    bucket = int(hashlib.sha1(f"ding:{norm_de}".encode()).hexdigest(), 16) % 100
    if bucket < TEST_PERCENT:
        return "test"
    if bucket < TEST_PERCENT + DEV_PERCENT:
        return "dev"
    return "train"


def pair_id(norm_de: str) -> str:
    return "ding-" + hashlib.sha1(norm_de.encode("utf-8")).hexdigest()[:12]


def _candidates(lines, dropped: Counter):
    """(German, English) sentence candidates in file order; drop reasons counted for sentence-like ones."""
    for line in lines:
        subs = split_entry(line)
        if subs is None:
            if line.strip() and not line.startswith("#"):
                dropped["misaligned line"] += 1
            continue
        for de_sub, en_sub in subs:
            de, en = first_synonym(de_sub), first_synonym(en_sub)
            de_problem, en_problem = sentence_problem(de), sentence_problem(en)
            if de_problem is None and en_problem is None:
                problem = pair_problem(de, en)
                if problem is None:
                    yield de, en
                else:
                    dropped[problem] += 1
            elif de_problem is None or en_problem is None:  # one side is a sentence: worth counting why not
                dropped[f"other side: {de_problem or en_problem}"] += 1


def extract_pairs(lines: list[str]) -> tuple[list[DingPair], ExtractSummary]:
    """Sentence pairs from dictionary lines, de-duplicated on both sides, with their splits."""
    dropped: Counter = Counter()
    seen_de, seen_en, pairs = set(), set(), []
    for de, en in _candidates(lines, dropped):
        norm_de, norm_en = normalize(de), normalize(en)
        if norm_de in seen_de:
            dropped["duplicate German sentence"] += 1
        elif norm_en in seen_en:
            dropped["duplicate English sentence"] += 1
        else:
            seen_de.add(norm_de)
            seen_en.add(norm_en)
            pairs.append(DingPair(id=pair_id(norm_de), de=de, en=en, split=split_of(norm_de)))
    per_split = Counter(p.split for p in pairs)
    n_lines = sum(1 for line in lines if line.strip() and not line.startswith("#"))
    return pairs, ExtractSummary(n_lines=n_lines, per_split={s: per_split[s] for s in SPLITS}, dropped=dict(dropped))


def read_dictionary(path: str | Path) -> list[str]:
    path = Path(path)
    if not path.is_file():
        raise DingError(f"{path}: no such dictionary file")
    return path.read_text(encoding="utf-8").splitlines()


def write_pairs(path: str | Path, pairs: list[DingPair]) -> Path:
    """Atomic: a reader never sees a half-written file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}")
    tmp.write_text("".join(json.dumps(asdict(p), ensure_ascii=False) + "\n" for p in pairs), encoding="utf-8")
    os.replace(tmp, path)
    return path


def load_pairs(path: str | Path) -> list[DingPair]:
    """Read a pairs file written by this module; every bad line is reported in one DingError."""
    path = Path(path)
    if not path.is_file():
        raise DingError(f"{path}: no such pairs file (build it with python -m speech_proactive.data.corpora.ding)")
    pairs, bad = [], []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            pair = _pair(json.loads(line))
        except (json.JSONDecodeError, DingError) as e:
            bad.append(f"line {lineno}: {e}")
            continue
        pairs.append(pair)
    if bad:
        raise DingError(f"{path}: {len(bad)} bad line(s):\n  " + "\n  ".join(bad[:20]))
    return pairs


def _pair(d) -> DingPair:
    if not isinstance(d, dict):
        raise DingError(f"expected a JSON object, got {type(d).__name__}")
    missing = [k for k in ("id", "de", "en", "split") if not str(d.get(k, "")).strip()]
    if missing:
        raise DingError(f"missing or empty field(s) {missing}")
    if d["split"] not in SPLITS:
        raise DingError(f"split must be one of {SPLITS}, got {d['split']!r}")
    return DingPair(id=str(d["id"]), de=str(d["de"]), en=str(d["en"]), split=str(d["split"]))


def build(out_dir: str | Path, dictionary: str | Path | None = None) -> ExtractSummary:
    """Fetch `trans-de-en` into out_dir/debs (unless `dictionary` is given) and write out_dir/pairs.jsonl."""
    out_dir = Path(out_dir)
    if dictionary is None:
        from speech_proactive.data.debian_packages import fetch_package

        dictionary = fetch_package(PACKAGE, out_dir / "debs").root / DICT_PATH
    pairs, summary = extract_pairs(read_dictionary(dictionary))
    write_pairs(out_dir / PAIRS_FILE, pairs)
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="data/ding", help="output folder (git-ignored; the data is GPL)")
    parser.add_argument("--dictionary", default=None, help="use this de-en file instead of fetching the package")
    args = parser.parse_args(argv)
    start = time.monotonic()
    summary = build(args.out, args.dictionary)
    print(summary.format())
    print(f"wrote {Path(args.out) / PAIRS_FILE} in {time.monotonic() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
