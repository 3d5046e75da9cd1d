"""What the results carry besides the measurements: the run's description (meta) and the performance targets."""

from __future__ import annotations

import contextlib
import dataclasses
import operator
import platform
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import transformers

from speech_proactive import audio
from speech_proactive.bench.models import SIZES, Plan
from speech_proactive.bench.runtime import Runtime
from speech_proactive.bench.streaming import TOKENS_PER_CHUNK
from speech_proactive.model.speech_llm import SpeechLLM


@dataclass(frozen=True)
class Target:
    """A performance goal (for the benchmark, not a timed test) and the runs it is stated for."""

    path: tuple[str, ...]  # where the value sits in the results
    op: str  # "<", "<=" or ">="
    threshold: float
    sizes: tuple[str, ...] = ()  # empty: every size
    device: str | None = None  # None: every device


TARGETS = {
    "reencode_30s_at_least_10x": Target(("reencode", "30s", "naive_vs_incremental"), ">=", 10.0),
    "p95_120s_within_1.5x_of_5s": Target(("streaming", "p95_ratio_120s_vs_5s"), "<=", 1.5),
    "rtf_below_0.1": Target(("streaming", "rtf"), "<", 0.1, ("default",), "cpu"),
    "p95_below_20ms": Target(("streaming", "at_120s", "p95_ms"), "<", 20.0, ("medium",), "cuda"),
    "all_three_at_most_1.3x_batch_only": Target(("train", "all_three", "time_vs_batch_only"), "<=", 1.3),
    "16_streams_batched_at_most_0.25x_one_alone": Target(
        ("concurrent", "rows", "16", "batched_vs_one_alone"), "<=", 0.25, ("default",), "cpu"
    ),
}


COMPARE = {"<": operator.lt, "<=": operator.le, ">=": operator.ge}


def check_targets(result: dict) -> dict:
    """value, threshold and met (None where the target is not stated for this run or its value was skipped)."""
    out = {}
    for name, t in TARGETS.items():
        value = result
        for key in t.path:
            value = value.get(key) if isinstance(value, dict) else None  # a section not run: no value
        applies = (not t.sizes or result["meta"]["size"] in t.sizes) and t.device in (None, result["meta"]["device"])
        met = None if not applies or value is None else COMPARE[t.op](value, t.threshold)
        out[name] = {"value": value, "op": t.op, "threshold": t.threshold, "applies": applies, "met": met}
    return out


def meta(model: SpeechLLM, size_name: str, rt: Runtime, plan: Plan, quick: bool) -> dict:
    def n_params(m: torch.nn.Module) -> int:
        return sum(p.numel() for p in m.parameters())

    enc = model.cfg.encoder
    return {
        "size": size_name,
        "quick": quick,
        "device": str(rt.device),
        "device_name": device_name(rt.device),
        "dtype": str(rt.dtype).removeprefix("torch."),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "python": platform.python_version(),
        "commit": _commit(),
        "time_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "dims": {
            "encoder": dataclasses.asdict(enc),
            "adapter": dataclasses.asdict(model.cfg.adapter),
            "llm": dataclasses.asdict(SIZES[size_name].llm),
            "llm_vocab_size": model.lm.vocab_size,
        },
        "params_m": {
            "encoder": n_params(model.encoder) / 1e6,
            "adapter": n_params(model.adapter) / 1e6,
            "llm": n_params(model.lm) / 1e6,
        },
        "n_audio_ctx_s": enc.n_audio_ctx * audio.ENC_FRAME_MS / 1000,
        "chunk_ms": enc.chunk_ms,
        "tokens_per_chunk": TOKENS_PER_CHUNK,
        "stride": plan.stride,
        "graphs": model.lm.graphs,
    }


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "cpu"


def _commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent, capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None
