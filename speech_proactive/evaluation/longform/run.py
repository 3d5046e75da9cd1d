"""Long-form (unsegmented) evaluation under FBK's simulstream, IWSLT's streaming harness: whole talks in, one
stream each, scored by resegmented BLEU and StreamLAAL.

    python -m speech_proactive.evaluation.longform --model BUNDLE --manifest data/grammar/test.de-en.jsonl \\
        [--per-talk 10] [--gap-ms 1000] [--limit 100] --policies offline wait-k:3 entropy:q0.9 --out DIR
    python -m speech_proactive.evaluation.longform --model BUNDLE --audio-definition tst-COMMON.yaml \\
        --references tst-COMMON.de --wav-dir wav/ --src-lang en --tgt-lang de --policies ... --out DIR

The first form strings a manifest's utterances into talks (talks.py); the second takes a real long-form set in
MuST-C's layout. For each policy setting, the real `simulstream_inference` CLI streams every talk through the
processor of simulstream_processor.py (the live segmenter over a session) and writes DIR/<policy>/metrics.jsonl;
a setting whose log is complete for the same processor config is not run again. Scores come from simulstream's
own scorers (longform_score.py). Writes DIR/results.json and DIR/results.md, and prints the table.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path

import yaml

from speech_proactive.data.manifest import read_manifest
from speech_proactive.evaluation.longform.score import score_log
from speech_proactive.evaluation.longform.talks import TALK_SET_FILE, TalkSet, build_talks, existing_talks
from speech_proactive.evaluation.metrics.quality import bleu_tokenizer
from speech_proactive.streaming.policy_spec import SYNTAX, expand_grid
from speech_proactive.streaming.segmenter import SegmenterConfig

PROCESSOR = "speech_proactive.integrations.simulstream_processor.ProactiveProcessor"
COLUMNS = (
    ("policy", "policy", "{}"),
    ("BLEU", "bleu", "{:.1f}"),
    ("StreamLAAL ms", "stream_laal_ms", "{:.0f}"),
    ("StreamLAAL_CA ms", "stream_laal_ca_ms", "{:.0f}"),
    ("words", "n_words", "{}"),
    ("RTF", "rtf", "{:.3f}"),
)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        "python -m speech_proactive.evaluation.longform",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--model", type=Path, required=True, help="bundle folder")
    p.add_argument("--policies", nargs="+", required=True, help=SYNTAX)
    p.add_argument("--out", type=Path, required=True)
    made = p.add_argument_group("talks made from a manifest")
    made.add_argument("--manifest", type=Path)
    made.add_argument("--per-talk", type=int, default=10, help="sentences per talk (default 10)")
    made.add_argument("--gap-ms", type=float, default=1000.0, help="silence around each sentence (default 1000)")
    made.add_argument("--limit", type=int, default=None, help="the manifest's first N utterances")
    real = p.add_argument_group("a real long-form set (MuST-C layout)")
    real.add_argument("--audio-definition", type=Path, help="YAML: {wav, offset, duration} per sentence")
    real.add_argument("--references", type=Path, help="one reference per line, in the YAML's order")
    real.add_argument("--wav-dir", type=Path, help="folder of the talks' WAV files")
    real.add_argument("--src-lang")
    real.add_argument("--tgt-lang")
    seg = p.add_argument_group("segmenter (as in the live demo)")
    seg.add_argument("--pause-ms", type=float, default=SegmenterConfig.pause_ms)
    seg.add_argument("--max-segment-s", type=float, default=SegmenterConfig.max_segment_ms / 1000)
    p.add_argument("--jobs", type=int, default=1, help="policy settings run at once (default 1)")
    return p


def talk_set(args: argparse.Namespace) -> TalkSet:
    folder = args.out / "talks"
    if args.audio_definition:
        if not (args.references and args.wav_dir and args.src_lang and args.tgt_lang):
            raise ValueError("--audio-definition needs --references, --wav-dir, --src-lang and --tgt-lang")
        return existing_talks(
            args.audio_definition, args.references, args.wav_dir, args.src_lang, args.tgt_lang, folder
        )
    if not args.manifest:
        raise ValueError("give --manifest (talks are made from it) or --audio-definition (a real long-form set)")
    manifest = read_manifest(args.manifest)
    wanted = {"manifest": str(manifest.path), "per_talk": args.per_talk, "gap_ms": args.gap_ms, "limit": args.limit}
    made = folder / TALK_SET_FILE
    if made.is_file() and {k: json.loads(made.read_text()).get(k) for k in wanted} == wanted:
        return TalkSet.read(folder)
    return build_talks(manifest, folder, args.per_talk, args.gap_ms, args.limit)


def processor_config(args: argparse.Namespace, spec: str, talks: TalkSet, threads: int) -> dict:
    return {
        "type": PROCESSOR,
        "model": str(args.model.resolve()),
        "policy": spec,
        "task": "st",
        "src_lang": talks.src_lang,
        "tgt_lang": talks.tgt_lang,
        "pause_ms": args.pause_ms,
        "max_segment_s": args.max_segment_s,
        "threads": threads,
        "detokenizer_type": "simuleval",
        "latency_unit": "word",
    }


def run_setting(folder: Path, config: dict, talks: TalkSet) -> Path:
    """The metrics log of one policy setting: reused when complete for the same config, else made anew (a
    crash leaves only the .partial file, never a log that looks complete)."""
    folder.mkdir(parents=True, exist_ok=True)
    text = yaml.safe_dump(config, sort_keys=False)
    cfg_file, log = folder / "processor.yaml", folder / "metrics.jsonl"
    if log.is_file() and cfg_file.is_file() and cfg_file.read_text() == text:
        return log
    cfg_file.write_text(text)
    log.unlink(missing_ok=True)
    partial = folder / "metrics.jsonl.partial"
    partial.unlink(missing_ok=True)
    exe = Path(sys.executable).with_name("simulstream_inference")
    if not exe.is_file():
        raise FileNotFoundError(f"{exe} not found: simulstream is not installed in this environment (make setup)")
    cmd = [
        str(exe),
        "--speech-processor-config",
        str(cfg_file),
        "--wav-list-file",
        str(talks.wav_list),
        "--metrics-log-file",
        str(partial),
    ]
    with open(folder / "inference.log", "w") as out:
        done = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    if done.returncode != 0:
        raise RuntimeError(
            f"simulstream_inference failed ({done.returncode}) for {config['policy']}: see {folder / 'inference.log'}"
        )
    os.replace(partial, log)
    return log


def calibrate_first(model_dir: Path, specs: list[str]) -> None:
    """Resolve every setting once here, so that parallel runs find a qQ threshold's calibration in the bundle
    instead of each computing and writing it."""
    from speech_proactive.model.bundle import load_model
    from speech_proactive.streaming.calibrate import resolve
    from speech_proactive.streaming.policy_spec import parse_policy

    model = load_model(model_dir)
    for spec in specs:
        resolve(parse_policy(spec), model_dir, model)


def table(rows: list[dict]) -> str:
    head = "| " + " | ".join(c[0] for c in COLUMNS) + " |\n|" + "---|" * len(COLUMNS) + "\n"
    return head + "".join("| " + " | ".join(f.format(r[k]) for _, k, f in COLUMNS) + " |\n" for r in rows)


def evaluate(args: argparse.Namespace) -> tuple[TalkSet, list[dict]]:
    talks = talk_set(args)
    specs = [s for spec in args.policies for s in expand_grid(spec)]
    if any(":q" in s for s in specs):
        calibrate_first(args.model, specs)
    threads = max(1, (os.cpu_count() or 1) // max(1, args.jobs))
    tokenizer = bleu_tokenizer(talks.tgt_lang)

    def one(spec: str) -> dict:
        t0 = time.perf_counter()
        log = run_setting(args.out / spec.replace(":", "_"), processor_config(args, spec, talks, threads), talks)
        s = score_log(log, talks, tokenizer)
        print(
            f"{spec}: BLEU {s.bleu:.1f}, StreamLAAL {s.stream_laal_ms:.0f} ms ({time.perf_counter() - t0:.0f} s)",
            file=sys.stderr,
        )
        return {"policy": spec, **asdict(s), "rtf": s.rtf}

    if args.jobs > 1:
        from concurrent.futures import ThreadPoolExecutor  # each setting runs in its own simulstream process

        with ThreadPoolExecutor(args.jobs) as pool:
            return talks, list(pool.map(one, specs))
    return talks, [one(s) for s in specs]


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        talks, rows = evaluate(args)
    except (ValueError, FileNotFoundError, RuntimeError) as e:
        print(f"longform: {e}", file=sys.stderr)
        return 2
    meta = {
        "model": str(args.model),
        "talks": {k: str(v) for k, v in asdict(talks).items()},
        "segmenter": {"pause_ms": args.pause_ms, "max_segment_s": args.max_segment_s},
    }
    (args.out / "results.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))
    md = (
        f"**{talks.n_talks} talks, {talks.n_sentences} sentences, {talks.audio_s / 60:.1f} min, "
        f"{talks.src_lang} -> {talks.tgt_lang}** (simulstream: mwerSegmenter-resegmented BLEU and StreamLAAL)\n\n"
        + table(rows)
    )
    (args.out / "results.md").write_text(md)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
