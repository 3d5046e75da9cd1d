"""Benchmarks: per-chunk streaming cost, against re-encoding and against no KV cache, training terms, memory.

    python -m speech_proactive.bench [--device cpu|cuda] [--size tiny|default|small|medium] [--quick]
                                     [--stride N] [--memory-s S] [--threads N] [--dtype auto|fp32|bf16]
                                     [--json OUT]

Every number comes from one process and one set of random weights (nothing is downloaded), so comparisons are
ratios taken on the same machine at the same moment: on a shared machine read the ratios, not the times.
What each number means, and measured results: eval/BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import gc
import json
import math
import operator
import platform
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
import transformers
from torch import Tensor

from speech_proactive import audio, layout
from speech_proactive import tokenizer as tk
from speech_proactive.batch import Batch, Example, collate, even_frames
from speech_proactive.build import DEFAULT_TEXT, read_lines
from speech_proactive.config import AdapterConfig, DecodeOptions, EncoderConfig, ModelConfig, TaskSpec
from speech_proactive.encoder import EncoderState
from speech_proactive.frontend import log_mel
from speech_proactive.layout import Entries
from speech_proactive.losses import LossConfig, compute_losses, source_lengths, student_schedule, topk_kl
from speech_proactive.model import LLMSize, SpeechLLM, random_llm
from speech_proactive.policies import WaitK
from speech_proactive.session import Session, StreamState

MARKS_S = (5, 30, 120)  # per-chunk latency is sampled around these points of a stream
WINDOW_S = 1.6  # chunks ending within this of a mark form its sample (10 chunks of 320 ms per stream)
TOKENS_PER_CHUNK = 1  # ~3 tokens/s, about the rate of a translation of speech
# Training utterances as in the grammar corpus (data/grammar: mean 2.75 s, 1.2-5.6 s, ~4.6 BPE target tokens
# per second): the ratio of source vectors to target tokens sets what the extra student copy costs.
TRAIN_UTTERANCE_S = (1.5, 4.5)  # spread evenly over the batch
TARGET_TOKENS_PER_S = 4.6
# A random model writes EOS whenever argmax lands on it, so its output length is arbitrary. The bench model's
# EOS id is one no token has: every method then writes exactly TOKENS_PER_CHUNK tokens per chunk.
NEVER_EOS = -1
MIB = 2**20


# -- what to measure -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class BenchSize:
    encoder: EncoderConfig  # n_audio_ctx is raised to fit the longest stream (a sinusoid table: no weights)
    adapter: AdapterConfig
    llm: LLMSize
    llm_vocab_size: int  # the LLM's vocabulary, i.e. its output layer's cost; the bench BPE fills the first ids
    train_examples: int  # batch size of the training step


def _llm(hidden: int, intermediate: int, layers: int, heads: int, kv_heads: int, tied: bool = True) -> LLMSize:
    return LLMSize(hidden, intermediate, layers, heads, kv_heads, max_position_embeddings=32768,
                   tie_word_embeddings=tied)


SIZES = {
    "tiny": BenchSize(EncoderConfig(n_audio_state=32, n_audio_head=2, n_audio_layer=2), AdapterConfig(hidden=32),
                      _llm(32, 64, 2, 4, 2, tied=False), 300, 2),
    # recipes/st/default.yaml
    "default": BenchSize(EncoderConfig(n_audio_state=256, n_audio_head=4, n_audio_layer=4),
                         AdapterConfig(hidden=512), _llm(256, 768, 4, 4, 2), 1000, 8),
    # Whisper-base encoder + a ~0.1B Qwen2-style LLM (76M in its layers, 25M in a 32k vocabulary)
    "small": BenchSize(EncoderConfig(n_audio_state=512, n_audio_head=8, n_audio_layer=6),
                       AdapterConfig(hidden=1024), _llm(768, 2048, 12, 12, 4), 32000, 8),
    # Whisper-small encoder + Qwen2.5-0.5B's shape (its 151,936-token vocabulary included)
    "medium": BenchSize(EncoderConfig(n_audio_state=768, n_audio_head=12, n_audio_layer=12),
                        AdapterConfig(hidden=2048), _llm(896, 4864, 24, 14, 2), 151936, 8),
}


@dataclass(frozen=True)
class Plan:
    repeats: int  # streams per latency measurement; their windows are pooled
    warmup_s: float  # a short stream before any timing (allocator, kernels, lazy inits)
    utterances_s: tuple[float, ...]  # utterance lengths for the re-encoding and no-cache comparisons
    memory_stream_s: float
    train_steps: int  # timed steps per loss variant (median), after one warm-up step
    stride: int  # re-encoding baselines timed at every stride-th chunk (their cost depends on the index only)


FULL = Plan(repeats=3, warmup_s=3.0, utterances_s=(30.0, 120.0), memory_stream_s=600.0, train_steps=5, stride=1)
QUICK = Plan(repeats=1, warmup_s=1.0, utterances_s=(30.0,), memory_stream_s=30.0, train_steps=2, stride=1)


@dataclass(frozen=True)
class Runtime:
    device: torch.device
    dtype: torch.dtype  # autocast dtype; float32 means no autocast

    def autocast(self) -> contextlib.AbstractContextManager:
        if self.dtype == torch.float32:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.dtype)

    def sync(self) -> None:
        if self.device.type == "cuda":  # kernels run asynchronously: a time without a sync is a launch time
            torch.cuda.synchronize(self.device)

    def time_ms(self, fn: Callable[[], object]) -> float:
        self.sync()
        t0 = time.perf_counter()
        fn()
        self.sync()
        return (time.perf_counter() - t0) * 1000


# -- model and input -----------------------------------------------------------------------------------------
def bench_model(size: BenchSize, longest_s: float, device: torch.device, seed: int = 0) -> SpeechLLM:
    """Random weights at `size`, with a positional table long enough for `longest_s` of audio."""
    n_frames = math.ceil(longest_s * 1000 / audio.ENC_FRAME_MS) + size.encoder.chunk_enc_frames
    enc = dataclasses.replace(size.encoder, n_audio_ctx=max(size.encoder.n_audio_ctx, n_frames))
    tok = tk.train_bpe(read_lines([DEFAULT_TEXT / "sentences.txt"]), min(size.llm_vocab_size, 1000))
    llm = random_llm(size.llm, size.llm_vocab_size, seed)
    torch.manual_seed(seed)
    model = SpeechLLM(ModelConfig(encoder=enc, adapter=size.adapter), llm, tok)
    model.eos_id = NEVER_EOS
    # The session looks up every written id in `word_starts`, which covers the tokenizer only; the LLM's larger
    # vocabulary (its real head cost) can write ids past it: they start a word.
    model.word_starts = tk.word_starts(tok) + [True] * (size.llm_vocab_size - len(tok))
    return model.to(device).eval()


def synthetic_audio(seconds: float, seed: int = 0) -> np.ndarray:
    """A tone sweep under a 4 Hz (syllable-rate) envelope plus noise. A random model's cost does not depend on
    what it hears; this only keeps the log-mel away from digital silence."""
    n = audio.ms_to_samples(seconds * 1000)
    t = np.arange(n) / audio.SAMPLE_RATE
    freq_hz = 400 + 300 * np.sin(2 * np.pi * 0.2 * t)
    phase = 2 * np.pi * np.cumsum(freq_hz) / audio.SAMPLE_RATE
    envelope = 0.5 * (1 + np.sin(2 * np.pi * 4 * t))
    noise = np.random.default_rng(seed).standard_normal(n) * 0.01
    return (0.3 * envelope * np.sin(phase) + noise).astype(np.float32)


# -- streaming: the real path ----------------------------------------------------------------------------------
def bench_policy() -> WaitK:
    return WaitK(k=1, per_chunk=TOKENS_PER_CHUNK)


# Token granularity: a random model's word lengths are arbitrary too. The length cap sits one token above what
# the policy writes (reaching it would end the stream for good) and makes the final flush write two tokens,
# not the default cap's 8 per chunk heard.
BENCH_DECODE = DecodeOptions(max_tokens_per_chunk=TOKENS_PER_CHUNK, max_tokens_extra=1, granularity="token")


@dataclass(frozen=True)
class StreamRun:
    chunk_ms: list[float]  # compute time of each 320 ms push; the last push also finishes the stream
    tokens: list[int]
    state_bytes: int  # encoder + LLM KV caches at the end of the stream
    rss_end_mib: float  # resident memory at the end, while the session still holds its state


def stream(model: SpeechLLM, samples: np.ndarray, rt: Runtime) -> StreamRun:
    """A plain Session fed one chunk per push_audio call, each call timed."""
    n = audio.ms_to_samples(model.cfg.encoder.chunk_ms)
    with rt.autocast():
        session = Session(model, bench_policy(), options=BENCH_DECODE)
        times = [rt.time_ms(lambda s=s: session.push_audio(samples[s:s + n], finished=s + n >= len(samples)))
                 for s in range(0, len(samples), n)]
    return StreamRun(times, list(session.state.tokens), state_bytes(session.state), rss_mib())


def state_bytes(state: StreamState) -> int:
    enc = [t for c in state.encoder.caches for t in (c.k, c.v) if t is not None]
    cache = state.lm.cache
    if hasattr(cache, "layers"):  # transformers 5
        lm = [t for layer in cache.layers for t in (layer.keys, layer.values) if t is not None]
    else:  # transformers 4
        lm = [*cache.key_cache, *cache.value_cache]
    return sum(t.numel() * t.element_size() for t in enc + lm)


def percentiles(ms: list[float]) -> dict:
    a = np.asarray(ms)
    return {"p50_ms": float(np.percentile(a, 50)), "p95_ms": float(np.percentile(a, 95)),
            "max_ms": float(a.max()), "n": int(a.size)}


def window(run: StreamRun, mark_s: float, chunk_s: float) -> list[float]:
    """Times of the chunks that end within WINDOW_S of `mark_s` (never the finishing push)."""
    return [t for i, t in enumerate(run.chunk_ms[:-1]) if abs((i + 1) * chunk_s - mark_s) <= WINDOW_S + 1e-9]


def latency(model: SpeechLLM, rt: Runtime, plan: Plan) -> tuple[dict, list[StreamRun]]:
    chunk_s = model.cfg.encoder.chunk_ms / 1000
    length_s = max(MARKS_S) + WINDOW_S + chunk_s
    stream(model, synthetic_audio(plan.warmup_s, seed=1), rt)
    samples = synthetic_audio(length_s)
    runs = [stream(model, samples, rt) for _ in range(plan.repeats)]
    out = {f"at_{m}s": percentiles([t for r in runs for t in window(r, m, chunk_s)]) for m in MARKS_S}
    first, last = out[f"at_{MARKS_S[0]}s"]["p95_ms"], out[f"at_{MARKS_S[-1]}s"]["p95_ms"]
    out["p95_ratio_120s_vs_5s"] = last / first
    out["rtf"] = float(np.median([sum(r.chunk_ms) / (length_s * 1000) for r in runs]))
    out["stream_s"] = length_s
    out["repeats"] = plan.repeats
    return out, runs


# -- the baselines: re-encode everything, or encode the prefix without a cache ----------------------------------
def naive_chunk(model: SpeechLLM, samples: np.ndarray, n_chunks: int, tokens: list[int]) -> None:
    """What whisper_streaming and SimulEval's example agents do when chunk `n_chunks` arrives: log-mel, Whisper's
    encoder and the LLM over everything heard and everything written so far, then this chunk's new tokens."""
    heard = samples[: n_chunks * audio.ms_to_samples(model.cfg.encoder.chunk_ms)]
    mel = log_mel(heard, model.cfg.frontend)[None].to(model.device)
    source = model.adapter(model.encoder.forward_full(mel))[0]
    prompt = model.prompt_ids(TaskSpec())
    out = [model.start_id, *tokens[: (n_chunks - 1) * TOKENS_PER_CHUNK]]
    # One LLM pass per new token. (The incremental path writes the same token, then peeks at the next one and
    # drops it again when the policy says READ: two one-entry writes per chunk.)
    for _ in range(TOKENS_PER_CHUNK):
        target = torch.tensor(out, device=model.device)
        visible = torch.full((len(target),), len(source))
        out.append(int(model.lm.forward_sequence(prompt, source, target, visible).logits[0, -1].argmax()))


def sampled_total(n_chunks: int, stride: int, cost: Callable[[int], float]) -> float:
    """Sum of cost(k) over chunks k = 1..n_chunks, measuring the middle chunk of every `stride` and counting it for
    all of them (exact when stride is 1; the cost is a smooth function of k)."""
    total = 0.0
    for start in range(1, n_chunks + 1, stride):
        width = min(stride, n_chunks + 1 - start)
        total += width * cost(start + width // 2)
    return total


def count_flops(fn: Callable[[], object]) -> int:
    """Matmul, convolution and attention FLOPs (what FlopCounterMode counts): a machine-independent cost."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        fn()
    return counter.get_total_flops()


def encoder_step_ms(model: SpeechLLM, mel: Tensor, rt: Runtime) -> list[float]:
    """Per-chunk times of the cached encoder step over a whole stream's log-mel [1, n_mels, T]."""
    state = EncoderState()
    return [rt.time_ms(lambda c=c: model.encoder.step(c, state))
            for c in mel.split(model.cfg.encoder.chunk_mel_frames, dim=2)]


FLOP_STRIDE = 8  # FLOPs are exact functions of the chunk index: counting every 8th chunk is within 0.5%
REENCODE_KEYS = ("naive_total_s", "incremental_total_s", "naive_vs_incremental", "naive_gflop", "incremental_gflop",
                 "naive_vs_incremental_flop")
ENCODER_CACHE_KEYS = ("prefix_total_s", "cached_total_s", "prefix_vs_cached")


@dataclass(frozen=True)
class Utterance:
    """What the whole-utterance comparisons share: the audio, its log-mel, and the incremental path's output."""

    samples: np.ndarray
    mel: Tensor  # [1, n_mels, T]
    tokens: list[int]  # the naive path's "output so far" has the incremental one's length (the values do not matter)


def reencode_totals(model: SpeechLLM, rt: Runtime, plan: Plan, utt: Utterance, runs: list[StreamRun],
                    n_chunks: int) -> dict:
    def naive(i: int) -> None:
        naive_chunk(model, utt.samples, i, utt.tokens)

    naive_ms = sampled_total(n_chunks, plan.stride, lambda i: rt.time_ms(lambda: naive(i)))
    incremental_ms = float(np.median([sum(r.chunk_ms[:n_chunks]) for r in runs]))
    naive_flop = sampled_total(n_chunks, max(plan.stride, FLOP_STRIDE), lambda i: count_flops(lambda: naive(i)))
    incremental_flop = incremental_flops(model, utt.samples, n_chunks, max(plan.stride, FLOP_STRIDE))
    return {"naive_total_s": naive_ms / 1000, "incremental_total_s": incremental_ms / 1000,
            "naive_vs_incremental": naive_ms / incremental_ms, "naive_gflop": naive_flop / 1e9,
            "incremental_gflop": incremental_flop / 1e9, "naive_vs_incremental_flop": naive_flop / incremental_flop,
            "skipped": None}


def incremental_flops(model: SpeechLLM, samples: np.ndarray, n_chunks: int, stride: int) -> float:
    """FLOPs of the Session over `n_chunks` chunks, counted at every stride-th chunk (the others run uncounted:
    counting is slow, and a stream must pass through every chunk)."""
    n = audio.ms_to_samples(model.cfg.encoder.chunk_ms)
    session = Session(model, bench_policy(), options=BENCH_DECODE)
    n_pushed = 0

    def chunk_flops(i: int) -> int:
        nonlocal n_pushed
        while n_pushed < i - 1:
            session.push_audio(samples[n_pushed * n:(n_pushed + 1) * n])
            n_pushed += 1
        n_pushed += 1
        return count_flops(lambda: session.push_audio(samples[(i - 1) * n:i * n]))

    return sampled_total(n_chunks, stride, chunk_flops)


def encoder_cache_totals(model: SpeechLLM, rt: Runtime, plan: Plan, utt: Utterance, step_ms: list[list[float]],
                         n_chunks: int) -> dict:
    f = model.cfg.encoder.chunk_mel_frames
    prefix_ms = sampled_total(n_chunks, plan.stride, lambda i: rt.time_ms(
        lambda: model.encoder.forward_blockwise(utt.mel[:, :, : i * f])))
    cached_ms = float(np.median([sum(s[:n_chunks]) for s in step_ms]))
    return {"prefix_total_s": prefix_ms / 1000, "cached_total_s": cached_ms / 1000,
            "prefix_vs_cached": prefix_ms / cached_ms, "skipped": None}


@torch.inference_mode()
def against_reencoding(model: SpeechLLM, rt: Runtime, plan: Plan, runs: list[StreamRun]) -> tuple[dict, dict]:
    """Totals over whole utterances: naive re-encoding vs the incremental Session, and the encoder without vs with
    its cache. Returns (reencode, encoder_cache), keyed by utterance length."""
    samples = synthetic_audio(max(MARKS_S) + WINDOW_S + 1)
    utt = Utterance(samples, log_mel(samples, model.cfg.frontend)[None].to(rt.device), runs[0].tokens)
    reencode, encoder_cache = {}, {}
    with rt.autocast():
        naive_chunk(model, samples, 1, utt.tokens)  # warm-ups
        model.encoder.forward_blockwise(utt.mel[:, :, : model.cfg.encoder.chunk_mel_frames])
        step_ms = [encoder_step_ms(model, utt.mel, rt) for _ in runs]
        for length_s in (30.0, 120.0):
            key = f"{length_s:.0f}s"
            if length_s not in plan.utterances_s:
                reencode[key], encoder_cache[key] = _skipped(REENCODE_KEYS), _skipped(ENCODER_CACHE_KEYS)
                continue
            n_chunks = round(length_s * 1000 / model.cfg.encoder.chunk_ms)
            reencode[key] = reencode_totals(model, rt, plan, utt, runs, n_chunks)
            encoder_cache[key] = encoder_cache_totals(model, rt, plan, utt, step_ms, n_chunks)
    return reencode, encoder_cache


def _skipped(keys: tuple[str, ...], why: str = "--quick") -> dict:
    return {**{k: None for k in keys}, "skipped": why}


# -- training ----------------------------------------------------------------------------------------------------
def train_batch(model: SpeechLLM, n_examples: int, seed: int = 0) -> Batch:
    """Synthetic utterances with random (non-special) target tokens, shaped like the grammar corpus'."""
    g = torch.Generator().manual_seed(seed)
    prompt, start, eos = model.prompt_ids(TaskSpec()).cpu(), model.start_id, tk.eos_id(model.tokenizer)
    first_plain_id = max(model.tokenizer.all_special_ids) + 1
    shortest, longest = TRAIN_UTTERANCE_S
    examples = []
    for i in range(n_examples):
        seconds = shortest + (longest - shortest) * i / max(1, n_examples - 1)
        n_tokens = round(seconds * TARGET_TOKENS_PER_S)
        ids = torch.randint(first_plain_id, len(model.tokenizer), (n_tokens,), generator=g)
        target = torch.cat([torch.tensor([start]), ids, torch.tensor([eos])])
        mel = even_frames(log_mel(synthetic_audio(seconds, seed=i), model.cfg.frontend))
        examples.append(Example(mel, prompt, target, torch.zeros(0, dtype=torch.long)))
    return collate(examples).to(model.device)


def one_copy_logits(model: SpeechLLM, batch: Batch, schedules: list[Tensor]) -> Tensor:
    """Encoder, adapter and LLM over `[prompt ; source ; target]` with one read schedule per example."""
    source = model.adapter(model.encoder.forward_blockwise(batch.mel, batch.n_mel_frames))
    n_vec = [int(n) for n in source_lengths(model, batch.n_mel_frames)]
    rows, embeds = [], []
    for b, (prompt, target, s) in enumerate(zip(batch.prompts, batch.targets, n_vec)):
        rows.append(layout.sequence(len(prompt), s, [schedules[b]]))
        embeds.append(torch.cat([model.lm.embed(prompt), source[b, :s], model.lm.embed(target[:-1])]))
    n = max(len(r) for r in rows)
    rows = [r.cat(Entries.group(layout.PAD, n - len(r))) for r in rows]
    hidden = model.lm.hidden(torch.stack([F.pad(e, (0, 0, 0, n - len(e))) for e in embeds]), rows, rows,
                             [len(p) for p in batch.prompts])
    picks = [hidden[b, len(p) + s: len(p) + s + len(t) - 1]
             for b, (p, t, s) in enumerate(zip(batch.prompts, batch.targets, n_vec))]
    return model.lm.logits(torch.cat(picks))


def naive_duplicated_loss(model: SpeechLLM, batch: Batch, cfg: LossConfig, generator: torch.Generator) -> Tensor:
    """All three terms the way a duplicated batch does them: teacher and student each a full pass of their own."""
    n_vec = [int(n) for n in source_lengths(model, batch.n_mel_frames)]
    full = [torch.full((len(t) - 1,), s) for t, s in zip(batch.targets, n_vec)]
    student = [student_schedule(model, s, int(m), len(t) - 1, cfg, generator)
               for t, s, m in zip(batch.targets, n_vec, batch.n_mel_frames)]
    teacher_logits, student_logits = one_copy_logits(model, batch, full), one_copy_logits(model, batch, student)
    labels = torch.cat([t[1:] for t in batch.targets])
    return (F.cross_entropy(teacher_logits, labels) + F.cross_entropy(student_logits, labels)
            + cfg.spsd_lambda * topk_kl(teacher_logits, student_logits, cfg.top_k))


TRAIN_VARIANTS = {  # name -> config; "naive_duplicated" computes all three terms in separate passes
    "batch_only": LossConfig(mslm=False, spsd=False),
    "batch_mslm": LossConfig(spsd=False),
    "all_three": LossConfig(),
    "naive_duplicated": LossConfig(),
}


def loss_fn(model: SpeechLLM, batch: Batch, name: str) -> Callable[[], Tensor]:
    def total() -> Tensor:
        gen = torch.Generator().manual_seed(0)  # the same schedules every step: the same work
        if name == "naive_duplicated":
            return naive_duplicated_loss(model, batch, TRAIN_VARIANTS[name], gen)
        return compute_losses(model, batch, TRAIN_VARIANTS[name], gen).total
    return total


def train_step(loss: Callable[[], Tensor], opt: torch.optim.Optimizer, rt: Runtime) -> None:
    opt.zero_grad(set_to_none=True)
    with rt.autocast():
        total = loss()
    total.backward()
    opt.step()


def step_flops(loss: Callable[[], Tensor], opt: torch.optim.Optimizer, rt: Runtime) -> int:
    return count_flops(lambda: train_step(loss, opt, rt))


def training(model: SpeechLLM, rt: Runtime, plan: Plan, n_examples: int) -> dict:
    batch = train_batch(model, n_examples)
    n_tokens = sum(len(t) - 1 for t in batch.targets)
    # lr 0: the optimizer does all of its work but the weights stay those every other measurement uses
    opt = torch.optim.AdamW(model.parameters(), lr=0.0)
    losses = {name: loss_fn(model, batch, name) for name in TRAIN_VARIANTS}
    model.train()
    times = _round_robin_ms(losses, opt, rt, plan.train_steps)
    out = {}
    for name, loss in losses.items():
        step_ms = float(np.median(times[name]))
        out[name] = {"step_ms": step_ms, "tokens_per_s": n_tokens / (step_ms / 1000),
                     "gflop": step_flops(loss, opt, rt) / 1e9}
    model.eval()
    for name in TRAIN_VARIANTS:
        out[name]["time_vs_batch_only"] = out[name]["step_ms"] / out["batch_only"]["step_ms"]
        out[name]["flop_vs_batch_only"] = out[name]["gflop"] / out["batch_only"]["gflop"]
    out["batch"] = {"examples": n_examples, "audio_s": float(batch.n_mel_frames.sum()) * audio.FRAME_MS / 1000,
                    "target_tokens": n_tokens, "steps": plan.train_steps}
    return out


def _round_robin_ms(losses: dict[str, Callable[[], Tensor]], opt: torch.optim.Optimizer, rt: Runtime,
                    n_steps: int) -> dict[str, list[float]]:
    """Step times per variant, taking turns so that a noisy minute on a shared machine hits every variant alike;
    the first round is a warm-up."""
    times: dict[str, list[float]] = {name: [] for name in losses}
    for step in range(1 + n_steps):
        for name, loss in losses.items():
            ms = rt.time_ms(lambda: train_step(loss, opt, rt))
            if step > 0:
                times[name].append(ms)
    return times


# -- memory and the machine's peak ---------------------------------------------------------------------------------
def rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / MIB


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def memory(model: SpeechLLM, rt: Runtime, plan: Plan) -> dict:
    """One long stream, run first so that the process's peak is this stream's (after a short warm-up stream:
    the first one allocates ~40 MiB of lazily built state that is not the session's)."""
    stream(model, synthetic_audio(plan.warmup_s, seed=1), rt)
    gc.collect()
    cuda = rt.device.type == "cuda"
    before, cuda_before = rss_mib(), torch.cuda.memory_allocated(rt.device) / MIB if cuda else None
    if cuda:
        torch.cuda.reset_peak_memory_stats(rt.device)
    run = stream(model, synthetic_audio(plan.memory_stream_s, seed=2), rt)
    n_tail = round(2 * WINDOW_S * 1000 / model.cfg.encoder.chunk_ms)
    kv_mib = run.state_bytes / MIB
    return {"stream_s": plan.memory_stream_s, "window": None, "kv_state_mib": kv_mib,
            "kv_state_mib_per_min": kv_mib * 60 / plan.memory_stream_s,
            "rss_before_mib": before, "rss_end_mib": run.rss_end_mib, "rss_peak_mib": peak_rss_mib(),
            "cuda_allocated_before_mib": cuda_before,
            "cuda_max_allocated_mib": torch.cuda.max_memory_allocated(rt.device) / MIB if cuda else None,
            "p95_ms_at_end": percentiles(run.chunk_ms[-n_tail - 1:-1])["p95_ms"],
            "rtf": sum(run.chunk_ms) / (plan.memory_stream_s * 1000)}


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


# -- report ----------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Target:
    """A goal from issue 7 (for the benchmark, not a timed test) and the runs it is stated for."""

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
}


COMPARE = {"<": operator.lt, "<=": operator.le, ">=": operator.ge}


def check_targets(result: dict) -> dict:
    """value, threshold and met (None where the target is not stated for this run or its value was skipped)."""
    out = {}
    for name, t in TARGETS.items():
        value = result
        for key in t.path:
            value = value[key]
        applies = (not t.sizes or result["meta"]["size"] in t.sizes) and t.device in (None, result["meta"]["device"])
        met = None if not applies or value is None else COMPARE[t.op](value, t.threshold)
        out[name] = {"value": value, "op": t.op, "threshold": t.threshold, "applies": applies, "met": met}
    return out


def meta(model: SpeechLLM, size_name: str, rt: Runtime, plan: Plan, quick: bool) -> dict:
    def n_params(m: torch.nn.Module) -> int:
        return sum(p.numel() for p in m.parameters())

    enc = model.cfg.encoder
    return {
        "size": size_name, "quick": quick, "device": str(rt.device), "device_name": device_name(rt.device),
        "dtype": str(rt.dtype).removeprefix("torch."), "threads": torch.get_num_threads(),
        "torch": torch.__version__, "transformers": transformers.__version__, "python": platform.python_version(),
        "commit": _commit(), "time_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "dims": {"encoder": dataclasses.asdict(enc), "adapter": dataclasses.asdict(model.cfg.adapter),
                 "llm": dataclasses.asdict(SIZES[size_name].llm), "llm_vocab_size": model.lm.vocab_size},
        "params_m": {"encoder": n_params(model.encoder) / 1e6, "adapter": n_params(model.adapter) / 1e6,
                     "llm": n_params(model.lm) / 1e6},
        "n_audio_ctx_s": enc.n_audio_ctx * audio.ENC_FRAME_MS / 1000,
        "chunk_ms": enc.chunk_ms, "tokens_per_chunk": TOKENS_PER_CHUNK, "stride": plan.stride,
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
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent, capture_output=True,
                             text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None


def table(r: dict) -> str:
    """One screen: the same numbers as the JSON, ratios beside the times."""
    return "\n".join([*_header(r["meta"]), "", *_latency(r["streaming"]), "", *_comparisons(r), "",
                      *_training(r["train"], r["compute"]), "", *_memory(r["memory"]), "", *_targets(r["targets"])])


def _header(m: dict) -> list[str]:
    enc, llm = m["dims"]["encoder"], m["dims"]["llm"]
    params = ", ".join(f"{k} {v:.1f}M" for k, v in m["params_m"].items())
    return [f"speech_proactive bench: size={m['size']} device={m['device']} ({m['device_name']}) dtype={m['dtype']} "
            f"threads={m['threads']} torch {m['torch']}{' --quick' if m['quick'] else ''}",
            f"model (random weights): encoder d{enc['n_audio_state']} L{enc['n_audio_layer']} h{enc['n_audio_head']}, "
            f"LLM d{llm['hidden_size']} L{llm['num_hidden_layers']} h{llm['num_attention_heads']}/"
            f"{llm['num_key_value_heads']}kv vocab {m['dims']['llm_vocab_size']}; {params}",
            f"n_audio_ctx raised to {m['n_audio_ctx_s']:.0f} s (the default 1500 frames cap a stream at 30 s); wait-k, "
            f"{m['tokens_per_chunk']} token per {m['chunk_ms']} ms chunk; EOS never ends a stream"]


def _latency(s: dict) -> list[str]:
    lines = [f"per-chunk latency of the full path  {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'n':>4}"]
    for mark in MARKS_S:
        p = s[f"at_{mark}s"]
        lines.append(f"  at {mark:>3} s into the stream       {p['p50_ms']:8.2f} {p['p95_ms']:8.2f} {p['max_ms']:8.2f} "
                     f"{p['n']:4d}")
    return lines + [f"  p95 at 120 s / at 5 s: {s['p95_ratio_120s_vs_5s']:.2f}x; real-time factor {s['rtf']:.4f}"]


def _comparisons(r: dict) -> list[str]:
    stride = r["meta"]["stride"]
    lines = [f"total compute over an utterance        {'30 s':>9} {'120 s':>9}"
             + (f"  (timed at every {stride}th chunk)" if stride > 1 else "")]
    for label, section, key in (("naive re-encoding / incremental", "reencode", "naive_vs_incremental"),
                                ("  the same in FLOPs", "reencode", "naive_vs_incremental_flop"),
                                ("encoder: prefix without cache / step", "encoder_cache", "prefix_vs_cached")):
        cells = [r[section][u][key] for u in ("30s", "120s")]
        lines.append(f"  {label:<37}" + " ".join(f"{'skipped' if x is None else f'{x:.1f}x':>9}" for x in cells))
    return lines


def _training(tr: dict, c: dict) -> list[str]:
    b = tr["batch"]
    lines = [f"training step (B={b['examples']}, {b['audio_s']:.0f} s of audio, {b['target_tokens']} target tokens, "
             f"median of {b['steps']})",
             f"  {'loss terms':<28}{'step ms':>9} {'tok/s':>7} {'GFLOP':>8} {'time x':>7} {'FLOP x':>7}"]
    for name in TRAIN_VARIANTS:
        v = tr[name]
        lines.append(f"  {name:<28}{v['step_ms']:9.1f} {v['tokens_per_s']:7.0f} {v['gflop']:8.2f} "
                     f"{v['time_vs_batch_only']:6.2f}x {v['flop_vs_batch_only']:6.2f}x")
    return lines + [f"  all three: {c['train_achieved_tflops']:.3f} TFLOP/s achieved, "
                    f"{100 * c['fraction_of_peak']:.0f}% of a measured {c['matmul_dtype']} matmul peak of "
                    f"{c['matmul_peak_tflops']:.3f} TFLOP/s"]


def _memory(mem: dict) -> list[str]:
    cuda = mem["cuda_max_allocated_mib"]
    gpu = "" if cuda is None else f", CUDA max allocated {cuda:.0f} MiB"
    return [f"memory of one {mem['stream_s']:.0f} s stream, with NO session window (it does not exist yet: issue 6)",
            f"  KV state {mem['kv_state_mib']:.1f} MiB ({mem['kv_state_mib_per_min']:.2f} MiB per minute, unbounded); "
            f"RSS {mem['rss_before_mib']:.0f} MiB before, {mem['rss_end_mib']:.0f} at the end, "
            f"peak {mem['rss_peak_mib']:.0f}{gpu}",
            f"  per-chunk p95 at the end {mem['p95_ms_at_end']:.2f} ms; real-time factor {mem['rtf']:.4f}"]


def _targets(targets: dict) -> list[str]:
    def verdict(t: dict) -> str:
        return "n/a" if t["met"] is None else "met" if t["met"] else "MISSED"

    def value(t: dict) -> str:
        return "skipped" if t["value"] is None else f"{t['value']:.3g}"

    return ["targets (issue 7; n/a: not stated for this size and device, or skipped)"] + [
        f"  {name:<36} {value(t):>8} {t['op']:>2} {t['threshold']:<5g} {verdict(t)}" for name, t in targets.items()]


def run(size_name: str, rt: Runtime, plan: Plan, quick: bool) -> dict:
    model = bench_model(SIZES[size_name], max(plan.memory_stream_s, max(MARKS_S) + WINDOW_S + 1), rt.device)
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
    result["targets"] = check_targets(result)
    result["meta"]["wall_s"] = wall_s
    return result


def compute_efficiency(step: dict, rt: Runtime) -> dict:
    peak = matmul_peak_tflops(rt)
    achieved = step["gflop"] / 1000 / (step["step_ms"] / 1000)
    return {"matmul_peak_tflops": peak, "matmul_dtype": str(rt.dtype).removeprefix("torch."),
            "train_achieved_tflops": achieved, "fraction_of_peak": achieved / peak}


def runtime(device: str, dtype: str) -> Runtime:
    if device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("error: --device cuda but torch sees no CUDA device")
    if dtype == "auto":
        dtype = "bf16" if device == "cuda" else "fp32"
    return Runtime(torch.device(device), torch.bfloat16 if dtype == "bf16" else torch.float32)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m speech_proactive.bench", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    p.add_argument("--size", choices=tuple(SIZES), default="default")
    p.add_argument("--quick", action="store_true",
                   help="1 stream per latency, a 30 s memory stream, 2 training steps; no 120 s re-encoding")
    p.add_argument("--stride", type=int, default=None,
                   help="time the re-encoding baselines at every Nth chunk only (default 1: every chunk)")
    p.add_argument("--dtype", choices=("auto", "fp32", "bf16"), default="auto",
                   help="autocast dtype (auto: bf16 on cuda, fp32 on cpu)")
    p.add_argument("--memory-s", type=float, default=None,
                   help="length of the memory stream in seconds (default 600, 30 with --quick)")
    p.add_argument("--threads", type=int, default=None,
                   help="torch CPU threads (default: torch's choice; on a machine shared with another job, "
                        "fewer threads than cores avoids threads spinning against each other)")
    p.add_argument("--json", type=Path, help="also write the results here (stable keys, for diffing commits)")
    args = p.parse_args(argv)
    plan = QUICK if args.quick else FULL
    if args.stride is not None:
        if args.stride < 1:
            p.error("--stride must be >= 1")
        plan = dataclasses.replace(plan, stride=args.stride)
    if args.memory_s is not None:
        plan = dataclasses.replace(plan, memory_stream_s=args.memory_s)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    result = run(args.size, runtime(args.device, args.dtype), plan, args.quick)
    print(table(result))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
