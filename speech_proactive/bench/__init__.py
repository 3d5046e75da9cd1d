"""Benchmarks of what a streaming system costs: `python -m speech_proactive.bench` (options: cli.py).

One job a module: runtime.py (how to time, count FLOPs, read memory), models.py (sizes, random model, synthetic
audio, plans), streaming.py (the real path, per-chunk latency), reencode.py (re-encoding and no-cache
baselines), training.py (training-step variants), memory.py (one long stream's memory), compute.py (matmul
peak), report.py (meta, targets), table.py (the printed summary), cli.py (arguments and the run).
What each number means, and measured results: eval/BENCHMARKS.md.
"""
