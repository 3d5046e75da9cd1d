"""What the bench runs on: model sizes, a model with random weights, synthetic audio, and how much to measure."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
import torch

from speech_proactive import audio
from speech_proactive.config import AdapterConfig, EncoderConfig, ModelConfig
from speech_proactive.model import tokenizer as tk
from speech_proactive.model.build import DEFAULT_TEXT, read_lines
from speech_proactive.model.speech_llm import LLMSize, SpeechLLM, random_llm

# A random model writes EOS whenever argmax lands on it, so its output length is arbitrary. The bench model's
# EOS id is one no token has: every method then writes exactly streaming.TOKENS_PER_CHUNK tokens per chunk.
NEVER_EOS = -1


@dataclass(frozen=True)
class BenchSize:
    encoder: EncoderConfig  # n_audio_ctx is raised to fit the longest stream (a sinusoid table: no weights)
    adapter: AdapterConfig
    llm: LLMSize
    llm_vocab_size: int  # the LLM's vocabulary, i.e. its output layer's cost; the bench BPE fills the first ids
    train_examples: int  # batch size of the training step


def _llm(hidden: int, intermediate: int, layers: int, heads: int, kv_heads: int, tied: bool = True) -> LLMSize:
    return LLMSize(
        hidden, intermediate, layers, heads, kv_heads, max_position_embeddings=32768, tie_word_embeddings=tied
    )


SIZES = {
    "tiny": BenchSize(
        EncoderConfig(n_audio_state=32, n_audio_head=2, n_audio_layer=2),
        AdapterConfig(hidden=32),
        _llm(32, 64, 2, 4, 2, tied=False),
        300,
        2,
    ),
    # recipes/st/default.yaml (a test keeps the two equal)
    "default": BenchSize(
        EncoderConfig(n_audio_state=192, n_audio_head=4, n_audio_layer=2, left_context_chunks=31),
        AdapterConfig(stack=4, hidden=512, output="tokens"),
        _llm(256, 768, 4, 4, 2),
        1000,
        8,
    ),
    # Whisper-base encoder + a ~0.1B Qwen2-style LLM (76M in its layers, 25M in a 32k vocabulary)
    "small": BenchSize(
        EncoderConfig(n_audio_state=512, n_audio_head=8, n_audio_layer=6),
        AdapterConfig(hidden=1024),
        _llm(768, 2048, 12, 12, 4),
        32000,
        8,
    ),
    # Whisper-small encoder + Qwen2.5-0.5B's shape (its 151,936-token vocabulary included)
    "medium": BenchSize(
        EncoderConfig(n_audio_state=768, n_audio_head=12, n_audio_layer=12),
        AdapterConfig(hidden=2048),
        _llm(896, 4864, 24, 14, 2),
        151936,
        8,
    ),
}


@dataclass(frozen=True)
class Plan:
    repeats: int  # streams per latency measurement; their windows are pooled
    warmup_s: float  # a short stream before any timing (allocator, kernels, lazy inits)
    utterances_s: tuple[float, ...]  # utterance lengths for the re-encoding and no-cache comparisons
    memory_stream_s: float
    train_steps: int  # timed steps per loss variant (median), after one warm-up step
    stride: int  # re-encoding baselines timed at every stride-th chunk (their cost depends on the index only)
    concurrent_s: float = 10.0  # audio per stream in the concurrent-streams section


FULL = Plan(repeats=3, warmup_s=3.0, utterances_s=(30.0, 120.0), memory_stream_s=600.0, train_steps=5, stride=1)
QUICK = Plan(repeats=1, warmup_s=1.0, utterances_s=(30.0,), memory_stream_s=30.0, train_steps=2, stride=1,
             concurrent_s=3.0)  # fmt: skip


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


SYNTH_BLOCK_S = 10  # built 10 s at a time: a 10-minute stream in float64 at once took ~450 MiB of transient
# memory, which showed up as the memory section's resident-memory peak


def synthetic_audio(seconds: float, seed: int = 0) -> np.ndarray:
    """A tone sweep under a 4 Hz (syllable-rate) envelope plus noise. A random model's cost does not depend on
    what it hears; this only keeps the log-mel away from digital silence."""
    n = audio.ms_to_samples(seconds * 1000)
    block = audio.ms_to_samples(SYNTH_BLOCK_S * 1000)
    rng, out, cycles = np.random.default_rng(seed), np.empty(n, dtype=np.float32), 0.0
    for start in range(0, n, block):
        t = np.arange(start, min(start + block, n)) / audio.SAMPLE_RATE
        freq_hz = 400 + 300 * np.sin(2 * np.pi * 0.2 * t)
        cycle = cycles + np.cumsum(freq_hz) / audio.SAMPLE_RATE  # the sweep's phase in cycles, continued
        cycles = cycle[-1]
        envelope = 0.5 * (1 + np.sin(2 * np.pi * 4 * t))
        noise = rng.standard_normal(len(t)) * 0.01
        out[start : start + len(t)] = 0.3 * envelope * np.sin(2 * np.pi * cycle) + noise
    return out
