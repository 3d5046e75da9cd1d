"""One sweep's results: its jobs (a policy setting on a test set), the row of metrics each gives, the results
table, and the decoded/ files that --merge reads back (evaluate.py is the command, sweep.py runs the jobs)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from speech_proactive.data.manifest import Manifest, read_manifest
from speech_proactive.evaluation.metrics import instances_log, quality
from speech_proactive.streaming.decode import Decoded, decode_manifest
from speech_proactive.streaming.policies import Policy


@dataclass(frozen=True)
class Job:
    manifest: Path
    label: str
    policy: Policy
    start: int  # utterance index range [start, stop) of the manifest
    stop: int


def run_job(model, job: Job) -> list[Decoded]:
    m = read_manifest(job.manifest)
    return decode_manifest(model, m, job.policy, m.rows[job.start : job.stop], desc=f"{job.manifest.name} {job.label}")


def score_row(test: str, label: str, decoded: list[Decoded]) -> dict:
    """All metrics of one policy setting on one test set (WER only where the task is ASR). The target language
    and the task come from the decoded rows (so from the manifest), never from the test set's file name."""
    if not decoded:
        raise ValueError(f"{test} {label}: nothing decoded")
    logged = [
        instances_log.LoggedInstance(i, d.hyp, d.ref, d.word_delays_ms, d.word_elapsed_ms, d.source_ms)
        for i, d in enumerate(decoded)
    ]
    langs = sorted({d.tgt_lang for d in decoded})
    _one(test, "BLEU tokenizer", {quality.bleu_tokenizer(x) if x else "" for x in langs})  # mixed en/de: one is fine
    s = instances_log.score_instances(logged, [d.ref for d in decoded], langs[0])
    row = {"test": test, "policy": label, "family": label.split(":")[0], **s.flat()}
    row["rtf"] = sum(d.compute_ms for d in decoded) / sum(d.source_ms for d in decoded)
    if _one(test, "task", {d.task for d in decoded}) != "asr":
        row.pop("wer")
    if decoded[0].task == "qa":
        row.update(qa_scores(test, decoded))
    return row


def qa_scores(test: str, decoded: list[Decoded]) -> dict:
    from speech_proactive.evaluation.metrics import qa

    missing = [d.id for d in decoded if d.ideal_ms is None]
    if missing:
        raise ValueError(
            f"{test}: QA latency needs each answer's ideal moment (tgt_ideal_ms in the manifest); "
            f"missing for {missing[:5]}"
        )
    timings = [qa.answer_timing(d.word_delays_ms, d.ideal_ms, d.source_ms) for d in decoded]
    s = qa.score_answers([d.hyp for d in decoded], [d.ref for d in decoded], timings)
    return {"task": "qa", **s.flat()}


def _one(test: str, what: str, values: set[str]) -> str:
    """The one value a test set's rows share: one BLEU tokenizer and one table need one language and task."""
    if "" in values:
        raise ValueError(
            f"{test}: decoded rows without their language or task (written by an older version): decode again"
        )
    if len(values) != 1:
        raise ValueError(f"{test}: rows of several {what}s {sorted(values)} in one test set: split the manifest")
    return next(iter(values))


def baseline_rows(train: list[Manifest], test: Manifest) -> list[dict]:
    """Text-only reference points: copying the source transcript, and the nearest training sentence."""
    from speech_proactive.evaluation.baselines import copy_source, nearest_neighbour

    refs = [u.tgt_text for u in test.rows]
    pair = (test.rows[0].src_lang, test.rows[0].tgt_lang)
    pool = [u for m in train for u in m.rows if (u.src_lang, u.tgt_lang) == pair]
    rows = []
    for name, hyps in (
        ("copy-source", copy_source(test.rows)),
        ("nearest-neighbour", nearest_neighbour(pool, test.rows)),
    ):
        rows.append(
            {
                "test": test.path.name,
                "policy": name,
                "family": name,
                "n": len(hyps),
                "bleu": quality.corpus_bleu(hyps, refs, pair[1]),
                "chrf": quality.corpus_chrf(hyps, refs),
            }
        )
    return rows


COLUMNS = [
    ("policy", "policy", "{}"),
    ("n", "n", "{}"),
    ("BLEU", "bleu", "{:.1f}"),
    ("chrF", "chrf", "{:.1f}"),
    ("WER", "wer", "{:.1f}"),
    ("AL ms", "AL", "{:.0f}"),
    ("LAAL ms", "LAAL", "{:.0f}"),
    ("AP", "AP", "{:.2f}"),
    ("DAL ms", "DAL", "{:.0f}"),
    ("ATD ms", "ATD", "{:.0f}"),
    ("AL_CA ms", "AL_CA", "{:.0f}"),
    ("LAAL_CA ms", "LAAL_CA", "{:.0f}"),
    ("RTF", "rtf", "{:.3f}"),
]


QA_COLUMNS = [
    ("policy", "policy", "{}"),
    ("n", "n", "{}"),
    ("EM", "em", "{:.1f}"),
    ("F1", "f1", "{:.1f}"),
    ("after ideal ms", "after_ideal_ms", "{:.0f}"),
    ("median", "after_ideal_median_ms", "{:.0f}"),
    ("RCO %", "rco", "{:.0%}"),
    ("early <=1 s", "early_within_1s", "{:.0%}"),
    ("guessed", "before_ideal", "{:.0%}"),
    ("AL ms", "AL", "{:.0f}"),
    ("AL_CA ms", "AL_CA", "{:.0f}"),
    ("RTF", "rtf", "{:.3f}"),
]


def results_table(rows: list[dict]) -> str:
    lines = []
    for test in dict.fromkeys(r["test"] for r in rows):
        mine = [r for r in rows if r["test"] == test]
        columns = QA_COLUMNS if mine[0].get("task") == "qa" else COLUMNS
        note = ""
        if "ideal_rco" in mine[0]:
            note = f" (evidence complete at {mine[0]['ideal_rco']:.0%} of the audio on average)"
        lines += [
            f"\n**{test}**{note}\n",
            "| " + " | ".join(c for c, _, _ in columns) + " |",
            "|" + "---|" * len(columns),
        ]
        for r in mine:
            cells = [fmt.format(r[k]) if k in r and r[k] == r[k] else "-" for _, k, fmt in columns]  # nan -> "-"
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines).lstrip() + "\n"


def write_decoded(out: Path, job: Job, decoded: list[Decoded], shard: str) -> None:
    folder = out / "decoded" / job.manifest.name
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{job.label}{shard}.tmp"
    tmp.write_text("".join(json.dumps(asdict(d), ensure_ascii=False) + "\n" for d in decoded), encoding="utf-8")
    tmp.replace(folder / f"{job.label}{shard}.jsonl")


def read_decoded(dirs: list[Path]) -> dict[tuple[str, str], list[Decoded]]:
    """(test set, policy label) -> decoded utterances, from one run folder or the shards of one."""
    found: dict[tuple[str, str], list[Decoded]] = {}
    for d in dirs:
        files = sorted((d / "decoded").glob("*/*.jsonl"))
        if not files:
            raise FileNotFoundError(f"{d}: no decoded/*/*.jsonl (not an evaluate --out folder?)")
        for f in files:
            label = f.stem.split("@shard")[0]
            rows = [Decoded.from_dict(json.loads(x)) for x in f.read_text(encoding="utf-8").splitlines() if x]
            found.setdefault((f.parent.name, label), []).extend(rows)
    return found


def report(rows: list[dict], out: Path | None) -> None:
    table = results_table(rows)
    print(table)
    if out:
        out.mkdir(parents=True, exist_ok=True)
        (out / "results.md").write_text(table)
        (out / "results.json").write_text(json.dumps({"rows": rows}, indent=1, ensure_ascii=False))
        from speech_proactive.evaluation.plots import plot_curve

        print(f"wrote {out / 'results.json'}, {out / 'results.md'}, {plot_curve(rows, out / 'curve.png')}")
