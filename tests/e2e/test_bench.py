"""The benchmark command: it runs, writes the keys a comparison script reads, and times the real paths.

Not a timed test: nothing here asserts a speed, only that the numbers exist and measure the right thing.
"""

import json
import math

import numpy as np
import pytest
import torch
from helpers import REPO

from speech_proactive import audio
from speech_proactive.bench.cli import main
from speech_proactive.bench.models import SIZES, bench_model, synthetic_audio
from speech_proactive.bench.reencode import REENCODE_KEYS, sampled_total
from speech_proactive.bench.runtime import Runtime
from speech_proactive.bench.streaming import BENCH_DECODE, MARKS_S, TOKENS_PER_CHUNK, bench_policy, stream
from speech_proactive.bench.training import TRAIN_VARIANTS, loss_fn, naive_duplicated_loss, step_flops, train_batch
from speech_proactive.streaming.session import Session
from speech_proactive.training.losses import LossConfig, compute_losses

CPU = Runtime(torch.device("cpu"), torch.float32)
# None is a valid value only here: skipped under --quick, CUDA-only, or not applicable yet
MAY_BE_NONE = {"skipped", "commit", "cuda_allocated_before_mib", "cuda_max_allocated_mib"}
MAY_BE_ZERO = {"schema", "left_context_chunks"}  # a format number; 0 = an unbounded encoder


@pytest.fixture
def one_thread():
    """A tiny model gains nothing from threads, and on a machine shared with another job they spin."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def tiny():
    return bench_model(SIZES["tiny"], longest_s=10, device=CPU.device)


def leaves(d: dict, path: tuple = ()):
    for k, v in d.items():
        if isinstance(v, dict):
            yield from leaves(v, path + (k,))
        else:
            yield path + (k,), v


def test_quick_run_writes_every_key(tmp_path, capsys, one_thread):
    out = tmp_path / "bench.json"
    assert main(["--size", "tiny", "--quick", "--json", str(out)]) == 0
    r = json.loads(out.read_text())
    assert set(r) == {
        "schema",
        "meta",
        "memory",
        "streaming",
        "reencode",
        "encoder_cache",
        "train",
        "compute",
        "concurrent",
        "targets",
    }
    rows = r["concurrent"]["rows"]
    assert set(rows) == {"1", "4", "16"} and all(row["tokens_equal"] for row in rows.values())
    assert rows["16"]["mean_batch"] > 1  # like ops of concurrent streams did run together
    assert {"torch", "device_name", "size", "dims", "threads", "dtype", "wall_s", "graphs"} <= set(r["meta"])
    assert r["meta"]["graphs"] is False
    ratios = {"p95_ratio_120s_vs_5s", "p50_ratio_120s_vs_5s"}
    assert {f"at_{m}s" for m in MARKS_S} | {"rtf"} | ratios <= set(r["streaming"])
    assert set(r["train"]) == set(TRAIN_VARIANTS) | {"batch"}
    assert set(r["reencode"]["30s"]) == set(r["reencode"]["120s"]) == set(REENCODE_KEYS) | {"skipped"}
    assert r["reencode"]["120s"]["skipped"] == "--quick" and r["reencode"]["30s"]["skipped"] is None
    w = r["memory"]["window"]  # the live demo's window: its segments reset the session, so its state stays small
    assert w["n_segments"] == math.ceil(r["memory"]["stream_s"] / w["segment_s"]) >= 2
    assert w["kv_state_max_mib"] < r["memory"]["kv_state_mib"]
    for path, value in leaves(r):
        skipped = path[0] in ("reencode", "encoder_cache") and path[1] == "120s"
        if value is None:
            assert skipped or path[-1] in MAY_BE_NONE or path[0] == "targets", path
        elif isinstance(value, (int, float)) and not isinstance(value, bool) and path[-1] not in MAY_BE_ZERO:
            assert math.isfinite(value) and value > 0, (path, value)
    assert all(r["streaming"][f"at_{m}s"]["n"] >= 10 for m in MARKS_S)
    # the derived figures are what their parts give, so a comparison script may trust either
    s = r["streaming"]
    first, last = s[f"at_{MARKS_S[0]}s"], s[f"at_{MARKS_S[-1]}s"]
    assert s["p95_ratio_120s_vs_5s"] == pytest.approx(last["p95_ms"] / first["p95_ms"])
    assert s["p50_ratio_120s_vs_5s"] == pytest.approx(last["p50_ms"] / first["p50_ms"])
    assert all(s[f"at_{m}s"]["p50_ms"] <= s[f"at_{m}s"]["p95_ms"] for m in MARKS_S)
    mem = r["memory"]
    assert mem["kv_state_mib_per_min"] == pytest.approx(mem["kv_state_mib"] * 60 / mem["stream_s"])
    # targets stated for other sizes or devices do not apply to a tiny CPU run; the others read their values
    applies = {name for name, t in r["targets"].items() if t["applies"]}
    assert applies == {"reencode_30s_at_least_10x", "p95_120s_within_1.5x_of_5s", "all_three_at_most_1.3x_batch_only"}
    assert r["targets"]["p95_120s_within_1.5x_of_5s"]["value"] == s["p95_ratio_120s_vs_5s"]
    assert r["targets"]["p95_120s_within_1.5x_of_5s"]["met"] == (s["p95_ratio_120s_vs_5s"] <= 1.5)
    assert r["targets"]["rtf_below_0.1"]["met"] is None and r["targets"]["rtf_below_0.1"]["value"] == s["rtf"]
    assert "per-chunk latency" in capsys.readouterr().out


def test_bench_times_the_plain_session_path(tiny, one_thread):
    samples = synthetic_audio(3.2)  # 10 chunks of 320 ms
    timed = stream(tiny, samples, CPU)
    plain = Session(tiny, bench_policy(), options=BENCH_DECODE)
    for start in range(0, len(samples), 1234):  # other push sizes: the session re-chunks the audio itself
        plain.push_audio(samples[start : start + 1234], finished=start + 1234 >= len(samples))
    n_chunks = len(samples) // audio.ms_to_samples(tiny.cfg.encoder.chunk_ms)
    assert len(timed.chunk_ms) == n_chunks
    assert timed.tokens == plain.state.tokens
    assert len(timed.tokens) == n_chunks * TOKENS_PER_CHUNK + 2  # fixed work: EOS never ends it


def test_graphed_stream_writes_what_the_plain_stream_writes(tiny, one_thread):
    """--graphs: the static cache in the timed path (uncaptured on the CPU), also under bf16 autocast."""
    samples = synthetic_audio(3.2)
    bf16 = Runtime(torch.device("cpu"), torch.bfloat16)
    plain, plain_bf16 = stream(tiny, samples, CPU), stream(tiny, samples, bf16)
    tiny.lm.set_graphs(True)
    try:
        graphed, graphed_bf16 = stream(tiny, samples, CPU), stream(tiny, samples, bf16)
    finally:
        tiny.lm.set_graphs(False)
    assert graphed.tokens == plain.tokens and graphed_bf16.tokens == plain_bf16.tokens
    assert graphed.state_bytes > 0


def test_incremental_flops_count_the_eager_path(tiny, one_thread):
    """A replayed graph bypasses the FLOP counter, and the static cache attends over spare slots: the count
    must be the eager path's whether or not --graphs is on."""
    from speech_proactive.bench.reencode import incremental_flops

    samples = synthetic_audio(3.2)
    eager = incremental_flops(tiny, samples, 8, 1)
    tiny.lm.set_graphs(True)
    try:
        graphed = incremental_flops(tiny, samples, 8, 1)
    finally:
        tiny.lm.set_graphs(False)
    assert graphed == eager > 0


def test_graphed_latency_reports_the_eager_path_beside_it(one_thread):
    from speech_proactive.bench.models import QUICK
    from speech_proactive.bench.streaming import latency
    from speech_proactive.bench.table import _latency

    model = bench_model(SIZES["tiny"], longest_s=max(MARKS_S) + 5, device=CPU.device)
    model.lm.set_graphs(True)
    out, runs = latency(model, CPU, QUICK)
    assert len(runs) == QUICK.repeats
    assert set(out["eager"]) >= {f"at_{m}s" for m in MARKS_S} | {"rtf"}
    assert all(v > 0 for v in out["graphs_speedup_p50"].values())
    assert "without graphs" in "\n".join(_latency(out))


@pytest.mark.parametrize("adapter_output", ["vectors", "tokens"])  # tokens: the recipe's adapter, its CTC too
def test_naive_duplicated_step_computes_the_same_loss(one_thread, adapter_output):
    """The baseline duplicates the work, not the result: same terms, same schedules, one pass each."""
    import dataclasses

    size = SIZES["tiny"]
    size = dataclasses.replace(size, adapter=dataclasses.replace(size.adapter, output=adapter_output))
    model = bench_model(size, 5.0, torch.device("cpu"))
    batch = train_batch(model, 2)
    with torch.no_grad():
        shared = compute_losses(model, batch, LossConfig(), torch.Generator().manual_seed(0)).total
        naive = naive_duplicated_loss(model, batch, LossConfig(), torch.Generator().manual_seed(0))
    torch.testing.assert_close(naive, shared, atol=1e-5, rtol=1e-5)


def test_bf16_autocast_path_runs_on_cpu(tiny, one_thread):
    """What --device cuda runs (bf16 autocast), minus CUDA: dtype mistakes show up here, not on the GPU."""
    rt = Runtime(torch.device("cpu"), torch.bfloat16)
    assert len(stream(tiny, synthetic_audio(1.28), rt).tokens) == 4 * TOKENS_PER_CHUNK + 2
    batch = train_batch(tiny, 2)
    opt = torch.optim.AdamW(tiny.parameters(), lr=0.0)
    for name in TRAIN_VARIANTS:
        assert step_flops(loss_fn(tiny, batch, name), opt, rt) > 0
    opt.zero_grad(set_to_none=True)
    tiny.eval()


def test_attention_flops_are_counted_on_the_cpu():
    """torch's FlopCounterMode counts the CPU attention kernel as 0 FLOPs; the bench's counter must not."""
    import torch.nn.functional as F

    from speech_proactive.bench.runtime import count_flops

    q = torch.randn(1, 4, 16, 48, requires_grad=True)
    k, v = torch.randn(1, 2, 300, 48, requires_grad=True), torch.randn(1, 2, 300, 48, requires_grad=True)
    forward = 2 * 2 * 4 * 16 * 300 * 48  # QK^T and PV, a multiply-add each, for 4 query heads
    assert count_flops(lambda: F.scaled_dot_product_attention(q, k, v, enable_gqa=True)) == forward
    both = count_flops(lambda: F.scaled_dot_product_attention(q, k, v, enable_gqa=True).sum().backward())
    assert both > 3 * forward  # the backward is counted too


def test_synthetic_audio_built_in_blocks_is_one_continuous_sweep():
    """Built 10 s at a time (bounded memory): the same signal as one pass over the whole length."""
    n = audio.ms_to_samples(25_000)  # crosses two block boundaries
    t = torch.arange(n, dtype=torch.float64) / audio.SAMPLE_RATE
    freq_hz = 400 + 300 * torch.sin(2 * math.pi * 0.2 * t)
    phase = 2 * math.pi * torch.cumsum(freq_hz, 0) / audio.SAMPLE_RATE
    envelope = 0.5 * (1 + torch.sin(2 * math.pi * 4 * t))
    noise = torch.from_numpy(np.random.default_rng(3).standard_normal(n)) * 0.01
    reference = (0.3 * envelope * torch.sin(phase) + noise).float()
    torch.testing.assert_close(torch.from_numpy(synthetic_audio(25.0, seed=3)), reference, atol=1e-6, rtol=0)


def test_sampled_total_is_exact_at_stride_one():
    def cost(k):
        return float(k * k)

    assert sampled_total(10, 1, cost) == sum(k * k for k in range(1, 11))
    assert sampled_total(10, 4, lambda k: 1.0) == 10  # every chunk counted once


def test_default_size_is_the_recipe_model():
    """`--size default` must measure the model `make recipe-st` trains, not the one it trained once."""

    from speech_proactive.training.config import load_train_config

    cfg = load_train_config(REPO / "recipes" / "st" / "default.yaml")
    size = SIZES["default"]
    enc = ("n_audio_state", "n_audio_head", "n_audio_layer", "chunk_ms", "n_mels", "left_context_chunks")
    assert [getattr(size.encoder, f) for f in enc] == [getattr(cfg.model.encoder, f) for f in enc]
    assert size.adapter == cfg.model.adapter
    llm = ("hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads")
    assert [getattr(size.llm, f) for f in llm] == [getattr(cfg.llm, f) for f in llm]
    assert size.llm_vocab_size == cfg.vocab_size


def test_bad_repeats_is_refused(capsys):
    with pytest.raises(SystemExit):
        main(["--size", "tiny", "--quick", "--repeats", "0"])
    assert "--repeats must be >= 1" in capsys.readouterr().err
