"""Quality-latency sweep: every policy over a grid, on test manifests, through the streaming session.

    python -m speech_proactive.evaluate --model BUNDLE --manifest data/grammar/test.en-de.jsonl \\
        --policies offline wait-k:1,2,3,4 entropy:q0.5,q0.7,q0.9 attention:q0.5,q0.9 probe:q0.9 local-agreement \\
        [--limit N] [--jobs 2] [--shard I/N] [--out DIR]
    python -m speech_proactive.evaluate --merge DIR_SHARD0 DIR_SHARD1 --out DIR

Writes DIR/results.json (one row per test set and policy setting, every metric), DIR/results.md (a table),
DIR/curve.png (BLEU against AL and LAAL) and DIR/decoded/ (every hypothesis with its word times, which is
what --merge combines). Latency: AL, LAAL, AP, DAL, ATD, StartOffset, EndOffset in ms, plain (audio heard)
and computation-aware (_CA: plus compute time), as SimulEval defines them (latency.py).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from speech_proactive.evaluation.peers import parse_peer
from speech_proactive.evaluation.results import read_decoded, report, score_row
from speech_proactive.evaluation.sweep import run_sweep
from speech_proactive.model.bundle import BundleError
from speech_proactive.model.trained_tasks import UnknownTask
from speech_proactive.streaming.policy_spec import SYNTAX, expand_grid, parse_policy
from speech_proactive.streaming.probe_head import ProbeMissing


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.merge:
        decoded = read_decoded(args.merge)
        report([score_row(t, label, d) for (t, label), d in decoded.items()], args.out)
        return 0
    try:
        return run_sweep(args)
    except (ProbeMissing, UnknownTask, BundleError) as e:  # no traceback: the message says what to do
        print(f"error: {e}", file=sys.stderr)
        return 2


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m speech_proactive.evaluate",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--model", type=Path, help="bundle folder")
    p.add_argument("--manifest", type=Path, nargs="+", default=[], help="test manifests")
    p.add_argument("--policies", nargs="+", default=["offline"], help=f"policy specs or grids: {SYNTAX}")
    p.add_argument("--dev", type=Path, nargs="*", help="dev manifests for q-thresholds (default: the bundle's)")
    p.add_argument(
        "--baselines-from",
        type=Path,
        nargs="*",
        default=[],
        help="training manifests: also score copy-source and nearest-neighbour lookup",
    )
    p.add_argument(
        "--peers",
        nargs="*",
        default=[],
        help="real systems on the same audio, same scorer: whisper:DIR (a CTranslate2 Whisper folder, offline) "
        "or whisper:DIR:la2 (LocalAgreement-2 at the encoder's chunk); see evaluation/peers.py",
    )
    p.add_argument("--limit", type=int, help="first N utterances of each manifest")
    p.add_argument("--shard", default="0/1", help="I/N: decode only the I-th of N equal utterance ranges")
    p.add_argument(
        "--jobs",
        type=int,
        default=1,
        help="decoding processes; several use one thread each, one uses torch's default (every core)",
    )
    p.add_argument("--out", type=Path, help="folder for results.json, results.md, curve.png, decoded/")
    p.add_argument("--merge", type=Path, nargs="+", help="score the decoded/ folders of finished shards together")
    args = p.parse_args(argv)
    if not args.merge:
        if args.model is None or not args.manifest:
            p.error("--model and --manifest are required (or --merge)")
        try:
            args.specs = [parse_policy(x) for spec in args.policies for x in expand_grid(spec)]
            args.peers = [parse_peer(x) for x in args.peers]
            i, n = (int(v) for v in args.shard.split("/"))
            if not 0 <= i < n:
                raise ValueError(f"--shard {args.shard}: need 0 <= I < N")
            args.shard_index, args.n_shards = i, n
        except ValueError as e:
            p.error(str(e))
    return args


if __name__ == "__main__":
    sys.exit(main())
