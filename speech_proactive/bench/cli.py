"""Benchmarks: per-chunk streaming cost, against re-encoding and against no KV cache, training terms, memory.

    python -m speech_proactive.bench [--device cpu|cuda] [--size tiny|default|small|medium] [--quick]
                                     [--stride N] [--repeats N] [--memory-s S] [--threads N]
                                     [--dtype auto|fp32|bf16] [--graphs] [--left-context-chunks N]
                                     [--json OUT]

Every number comes from one process and one set of random weights (nothing is downloaded), so comparisons are
ratios taken on the same machine at the same moment: on a shared machine read the ratios, not the times.
What each number means, and measured results: eval/BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import torch

from speech_proactive.bench.compute import compute_efficiency
from speech_proactive.bench.concurrent import concurrent, concurrent_table
from speech_proactive.bench.memory import memory
from speech_proactive.bench.models import FULL, QUICK, SIZES, Plan, bench_model
from speech_proactive.bench.reencode import against_reencoding
from speech_proactive.bench.report import check_targets, meta
from speech_proactive.bench.runtime import Runtime
from speech_proactive.bench.streaming import MARKS_S, WINDOW_S, latency
from speech_proactive.bench.table import table
from speech_proactive.bench.training import training


def run(
    size_name: str, rt: Runtime, plan: Plan, quick: bool, graphs: bool = False, left_context_chunks: int | None = None
) -> dict:
    size = SIZES[size_name]
    if left_context_chunks is not None:
        size = dataclasses.replace(
            size, encoder=dataclasses.replace(size.encoder, left_context_chunks=left_context_chunks)
        )
    model = bench_model(size, max(plan.memory_stream_s, max(MARKS_S) + WINDOW_S + 1), rt.device)
    model.lm.set_graphs(graphs)
    result = {"schema": 1, "meta": meta(model, size_name, rt, plan, quick)}
    wall_s, t0 = {}, time.perf_counter()

    def lap(name: str) -> None:
        nonlocal t0
        wall_s[name], t0 = time.perf_counter() - t0, time.perf_counter()

    result["memory"] = memory(model, rt, plan)
    lap("memory")
    result["streaming"], runs = latency(model, rt, plan)
    lap("streaming")
    result["reencode"], result["encoder_cache"] = against_reencoding(model, rt, plan, runs)
    lap("reencode")
    result["train"] = training(model, rt, plan, SIZES[size_name].train_examples)
    lap("train")
    result["compute"] = compute_efficiency(result["train"]["all_three"], rt)
    lap("compute")
    result["concurrent"] = concurrent(model, rt, plan.concurrent_s)
    lap("concurrent")
    result["targets"] = check_targets(result)
    result["meta"]["wall_s"] = wall_s
    return result


def runtime(device: str, dtype: str) -> Runtime:
    if device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("error: --device cuda but torch sees no CUDA device")
    if dtype == "auto":
        dtype = "bf16" if device == "cuda" else "fp32"
    return Runtime(torch.device(device), torch.bfloat16 if dtype == "bf16" else torch.float32)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m speech_proactive.bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    p.add_argument("--size", choices=tuple(SIZES), default="default")
    p.add_argument(
        "--quick",
        action="store_true",
        help="1 stream per latency, a 30 s memory stream, 2 training steps; no 120 s re-encoding",
    )
    p.add_argument(
        "--stride",
        type=int,
        default=None,
        help="time the re-encoding baselines at every Nth chunk only (default 1: every chunk)",
    )
    p.add_argument(
        "--dtype",
        choices=("auto", "fp32", "bf16"),
        default="auto",
        help="autocast dtype (auto: bf16 on cuda, fp32 on cpu)",
    )
    p.add_argument(
        "--repeats",
        type=int,
        default=None,
        help="streams pooled per latency figure (default 3, 1 with --quick); more steadies the p95",
    )
    p.add_argument(
        "--memory-s",
        type=float,
        default=None,
        help="length of the memory stream in seconds (default 600, 30 with --quick)",
    )
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch CPU threads (default: torch's choice; on a machine shared with another job, "
        "fewer threads than cores avoids threads spinning against each other)",
    )
    p.add_argument(
        "--graphs",
        action="store_true",
        help="stream over a static KV cache, each LLM step replayed as a CUDA graph (graphed_lm; on the "
        "CPU the same steps run uncaptured, for testing only)",
    )
    p.add_argument(
        "--left-context-chunks",
        type=int,
        default=None,
        help="override the size's encoder left context (chunks each chunk sees; 0: unbounded; "
        "default: the size's own, 31 for default as in recipes/st/default.yaml)",
    )
    p.add_argument(
        "--concurrent-only",
        action="store_true",
        help="only the concurrent-streams section: 1, 4 and 16 streams stepped alone and batched",
    )
    p.add_argument("--json", type=Path, help="also write the results here (stable keys, for diffing commits)")
    args = p.parse_args(argv)
    plan = QUICK if args.quick else FULL
    if args.stride is not None:
        if args.stride < 1:
            p.error("--stride must be >= 1")
        plan = dataclasses.replace(plan, stride=args.stride)
    if args.repeats is not None:
        if args.repeats < 1:
            p.error("--repeats must be >= 1")
        plan = dataclasses.replace(plan, repeats=args.repeats)
    if args.memory_s is not None:
        plan = dataclasses.replace(plan, memory_stream_s=args.memory_s)
    if args.left_context_chunks is not None and args.left_context_chunks < 0:
        p.error("--left-context-chunks must be >= 0 (0: unbounded)")
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    if args.concurrent_only:
        rt = runtime(args.device, args.dtype)
        model = bench_model(SIZES[args.size], plan.concurrent_s + 5, rt.device)
        result = {"schema": 1, "meta": meta(model, args.size, rt, plan, args.quick)}
        result["concurrent"] = concurrent(model, rt, plan.concurrent_s)
        result["targets"] = check_targets(result)
        print("\n".join(concurrent_table(result["concurrent"])))
    else:
        result = run(
            args.size, runtime(args.device, args.dtype), plan, args.quick, args.graphs, args.left_context_chunks
        )
        print(table(result))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0
