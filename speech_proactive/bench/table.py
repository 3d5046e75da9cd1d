"""The printed summary: one screen with the same numbers as the JSON, ratios beside the times."""

from __future__ import annotations

from speech_proactive.bench.concurrent import concurrent_table
from speech_proactive.bench.streaming import MARKS_S
from speech_proactive.bench.training import TRAIN_VARIANTS


def table(r: dict) -> str:
    """One screen: the same numbers as the JSON, ratios beside the times."""
    return "\n".join(
        [
            *_header(r["meta"]),
            "",
            *_latency(r["streaming"]),
            "",
            *_comparisons(r),
            "",
            *_training(r["train"], r["compute"]),
            "",
            *_memory(r["memory"]),
            "",
            *concurrent_table(r["concurrent"]),
            "",
            *_targets(r["targets"]),
        ]
    )


def _header(m: dict) -> list[str]:
    enc, llm = m["dims"]["encoder"], m["dims"]["llm"]
    params = ", ".join(f"{k} {v:.1f}M" for k, v in m["params_m"].items())
    return [
        f"speech_proactive bench: size={m['size']} device={m['device']} ({m['device_name']}) dtype={m['dtype']} "
        f"threads={m['threads']} torch {m['torch']}{' --quick' if m['quick'] else ''}"
        f"{_graphs_note(m)}",
        f"model (random weights): encoder d{enc['n_audio_state']} L{enc['n_audio_layer']} h{enc['n_audio_head']}, "
        f"LLM d{llm['hidden_size']} L{llm['num_hidden_layers']} h{llm['num_attention_heads']}/"
        f"{llm['num_key_value_heads']}kv vocab {m['dims']['llm_vocab_size']}; {params}",
        f"n_audio_ctx raised to {m['n_audio_ctx_s']:.0f} s (the default 1500 frames cap a stream at 30 s); "
        f"encoder left context {_left_context(enc)}; wait-k, "
        f"{m['tokens_per_chunk']} token per {m['chunk_ms']} ms chunk; EOS never ends a stream",
    ]


def _left_context(enc: dict) -> str:
    n = enc.get("left_context_chunks", 0)
    return f"{n} chunks ({n * enc['chunk_ms'] / 1000:.2f} s)" if n else "unbounded"


def _graphs_note(m: dict) -> str:
    if not m.get("graphs"):
        return ""
    how = "LLM steps replayed as CUDA graphs" if m["device"].startswith("cuda") else "uncaptured on the CPU"
    return f" --graphs (static KV cache, {how})"


def _latency(s: dict) -> list[str]:
    lines = [f"per-chunk latency of the full path  {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'n':>4}"]
    for mark in MARKS_S:
        p = s[f"at_{mark}s"]
        lines.append(
            f"  at {mark:>3} s into the stream       {p['p50_ms']:8.2f} {p['p95_ms']:8.2f} {p['max_ms']:8.2f} "
            f"{p['n']:4d}"
        )
    ratios = f"p95 at 120 s / at 5 s: {s['p95_ratio_120s_vs_5s']:.2f}x (p50: {s['p50_ratio_120s_vs_5s']:.2f}x)"
    lines.append(f"  {ratios}; real-time factor {s['rtf']:.4f}")
    if "eager" in s:
        e = s["eager"]
        p50 = " / ".join(f"{e[f'at_{m}s']['p50_ms']:.2f}" for m in MARKS_S)
        p95 = " / ".join(f"{e[f'at_{m}s']['p95_ms']:.2f}" for m in MARKS_S)
        speedup = " / ".join(f"{s['graphs_speedup_p50'][f'at_{m}s']:.2f}x" for m in MARKS_S)
        lines.append(
            f"  without graphs, same repeats: p50 {p50} ms, p95 {p95} ms, RTF {e['rtf']:.4f}; "
            f"graphs speed-up (p50) {speedup}"
        )
    return lines


def _comparisons(r: dict) -> list[str]:
    stride = r["meta"]["stride"]
    lines = [
        f"total compute over an utterance        {'30 s':>9} {'120 s':>9}"
        + (f"  (timed at every {stride}th chunk)" if stride > 1 else "")
    ]
    for label, section, key in (
        ("naive re-encoding / incremental", "reencode", "naive_vs_incremental"),
        ("  the same in FLOPs", "reencode", "naive_vs_incremental_flop"),
        ("encoder: prefix without cache / step", "encoder_cache", "prefix_vs_cached"),
    ):
        cells = [r[section][u][key] for u in ("30s", "120s")]
        lines.append(f"  {label:<37}" + " ".join(f"{'skipped' if x is None else f'{x:.1f}x':>9}" for x in cells))
    return lines


def _training(tr: dict, c: dict) -> list[str]:
    b = tr["batch"]
    lines = [
        f"training step (B={b['examples']}, {b['audio_s']:.0f} s of audio, {b['target_tokens']} target tokens, "
        f"median of {b['steps']})",
        f"  {'loss terms':<28}{'step ms':>9} {'tok/s':>7} {'GFLOP':>8} {'time x':>7} {'FLOP x':>7}",
    ]
    for name in TRAIN_VARIANTS:
        v = tr[name]
        lines.append(
            f"  {name:<28}{v['step_ms']:9.1f} {v['tokens_per_s']:7.0f} {v['gflop']:8.2f} "
            f"{v['time_vs_batch_only']:6.2f}x {v['flop_vs_batch_only']:6.2f}x"
        )
    return lines + [
        f"  all three: {c['train_achieved_tflops']:.3f} TFLOP/s achieved, "
        f"{100 * c['fraction_of_peak']:.0f}% of a measured {c['matmul_dtype']} matmul peak of "
        f"{c['matmul_peak_tflops']:.3f} TFLOP/s"
    ]


def _memory(mem: dict) -> list[str]:
    cuda = mem["cuda_max_allocated_mib"]
    gpu = "" if cuda is None else f", CUDA max allocated {cuda:.0f} MiB"
    w = mem["window"]
    return [
        f"memory of one {mem['stream_s']:.0f} s stream, unbounded (one session throughout)",
        f"  KV state {mem['kv_state_mib']:.1f} MiB ({mem['kv_state_mib_per_min']:.2f} MiB per minute, unbounded); "
        f"RSS {mem['rss_before_mib']:.0f} MiB before, {mem['rss_end_mib']:.0f} at the end, "
        f"peak {mem['rss_peak_mib']:.0f}{gpu}",
        f"  per-chunk p95 at the end {mem['p95_ms_at_end']:.2f} ms; real-time factor {mem['rtf']:.4f}",
        f"the same audio with the live demo's session window ({w['n_segments']} segments of at most "
        f"{w['segment_s']:.0f} s, reset between)",
        f"  KV state at most {w['kv_state_max_mib']:.1f} MiB; RSS {w['rss_before_mib']:.0f} MiB before, "
        f"{w['rss_end_mib']:.0f} at the end, peak {w['rss_peak_mib']:.0f}",
        f"  per-chunk p95 {w['p95_ms_first_segment']:.2f} ms in the first segment, "
        f"{w['p95_ms_last_segment']:.2f} in the last; real-time factor {w['rtf']:.4f}",
    ]


def _targets(targets: dict) -> list[str]:
    def verdict(t: dict) -> str:
        return "n/a" if t["met"] is None else "met" if t["met"] else "MISSED"

    def value(t: dict) -> str:
        return "skipped" if t["value"] is None else f"{t['value']:.3g}"

    return ["targets (n/a: not stated for this size and device, or skipped)"] + [
        f"  {name:<36} {value(t):>8} {t['op']:>2} {t['threshold']:<5g} {verdict(t)}" for name, t in targets.items()
    ]
