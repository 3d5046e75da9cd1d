"""The machine's peak: a large matmul's TFLOP/s, and the fraction of it a training step achieves."""

from __future__ import annotations

import torch

from speech_proactive.bench.runtime import Runtime


def matmul_peak_tflops(rt: Runtime) -> float:
    """A large square matmul in the run's dtype: the best this device does, to compare the training step with."""
    n = 8192 if rt.device.type == "cuda" else 1024
    a = torch.randn(n, n, device=rt.device, dtype=rt.dtype)
    b = torch.randn(n, n, device=rt.device, dtype=rt.dtype)
    for _ in range(3):
        a @ b
    iters = 20 if rt.device.type == "cuda" else 5
    ms = min(rt.time_ms(lambda: [a @ b for _ in range(iters)]) for _ in range(3))
    return 2 * n**3 * iters / (ms / 1000) / 1e12


def compute_efficiency(step: dict, rt: Runtime) -> dict:
    peak = matmul_peak_tflops(rt)
    achieved = step["gflop"] / 1000 / (step["step_ms"] / 1000)
    return {
        "matmul_peak_tflops": peak,
        "matmul_dtype": str(rt.dtype).removeprefix("torch."),
        "train_achieved_tflops": achieved,
        "fraction_of_peak": achieved / peak,
    }
