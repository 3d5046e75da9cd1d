"""Running an evaluation sweep: calibrate thresholds once, then decode every (test set, policy) job, in
parallel processes when asked (each loads the bundle itself and uses one thread: on a small machine several
threads per process fight over the cores, measured ~15x slower)."""

from __future__ import annotations

import argparse
import multiprocessing as mp
from pathlib import Path

import torch

from speech_proactive.data.manifest import read_manifest
from speech_proactive.evaluation.peers import peer_rows
from speech_proactive.evaluation.results import Job, baseline_rows, report, run_job, score_row, write_decoded
from speech_proactive.model.bundle import load_model
from speech_proactive.model.trained_tasks import check_task, key_of
from speech_proactive.streaming.calibrate import resolve
from speech_proactive.streaming.decode import task_of
from speech_proactive.streaming.from_bundle import bundle_tasks

_worker_model = None


def _init_worker(bundle: Path) -> None:
    global _worker_model
    torch.set_num_threads(1)
    _worker_model = load_model(bundle)


def _run_in_worker(job: Job):
    return job, run_job(_worker_model, job)


def check_tasks(bundle: Path, manifests: list[Path]) -> None:
    """Refuse, before any decoding, a test set that asks for a task or pair the bundle was not trained on."""
    known = bundle_tasks(bundle)
    for path in manifests:
        for task in dict.fromkeys(key_of(task_of(u)) for u in read_manifest(path, check_audio=False).rows):
            check_task(task, known, f"{bundle} ({path.name})")


def make_jobs(args: argparse.Namespace, model) -> list[Job]:
    dev = [read_manifest(p) for p in args.dev] if args.dev else None
    policies = [(s.label, resolve(s, args.model, model, dev)) for s in args.specs]
    jobs = []
    for path in args.manifest:
        n = len(read_manifest(path, check_audio=False).rows)
        n = min(n, args.limit) if args.limit else n
        start, stop = n * args.shard_index // args.n_shards, n * (args.shard_index + 1) // args.n_shards
        jobs += [Job(path, label, policy, start, stop) for label, policy in policies]
    return jobs


def run_sweep(args: argparse.Namespace) -> int:
    check_tasks(args.model, args.manifest)
    model = load_model(args.model)
    jobs = make_jobs(args, model)
    shard = "" if args.n_shards == 1 else f"@shard{args.shard_index}of{args.n_shards}"
    results = {}
    if args.jobs > 1:
        with mp.get_context("spawn").Pool(args.jobs, _init_worker, (args.model,)) as pool:
            for job, decoded in pool.imap_unordered(_run_in_worker, jobs):
                results[job] = decoded
    else:
        results = {job: run_job(model, job) for job in jobs}
    for job, decoded in results.items():
        if args.out:
            write_decoded(args.out, job, decoded, shard)
    if shard:
        print(f"shard {args.shard} decoded into {args.out}; score all shards with --merge")
        return 0
    rows = []
    train = [read_manifest(p, check_audio=False) for p in args.baselines_from]
    for path in args.manifest:
        test = read_manifest(path, check_audio=False)
        if train:
            rows += baseline_rows(train, type(test)(test.path, test.rows[: args.limit] if args.limit else test.rows))
        rows += [score_row(path.name, j.label, results[j]) for j in jobs if j.manifest == path]
        for peer in args.peers:
            decoded = peer_rows(peer, test, args.limit, model.cfg.encoder.chunk_ms)
            if decoded:
                rows.append(score_row(path.name, peer.label, decoded))
    report(rows, args.out)
    return 0
