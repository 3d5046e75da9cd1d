"""What several test files share: tiny random models built through the real code paths, real espeak-ng speech,
a tiny training corpus and config, and the runs that the invariant tests compare."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import (
    LlamaConfig,
    LlamaForCausalLM,
    Qwen2Config,
    Qwen2ForCausalLM,
    WhisperConfig,
    WhisperForConditionalGeneration,
)

from speech_proactive import audio
from speech_proactive.config import AdapterConfig, EncoderConfig, ModelConfig
from speech_proactive.data.manifest import Utterance, write_manifest
from speech_proactive.model.build import build_model, read_lines
from speech_proactive.model.frontend import log_mel
from speech_proactive.model.llm.streaming_lm import LMState, StreamingLM
from speech_proactive.model.speech_llm import LLMSize, SpeechLLM
from speech_proactive.streaming.session import Session
from speech_proactive.training.config import from_dict

REPO = Path(__file__).resolve().parent.parent
SENTENCES = REPO / "audio_samples" / "sentences.txt"
SIMULEVAL_AGENT = REPO / "speech_proactive" / "integrations" / "simuleval_agent.py"

# ---- tiny models --------------------------------------------------------------------------------------------

TINY_ENCODER = EncoderConfig(n_mels=80, n_audio_ctx=1500, n_audio_state=32, n_audio_head=2, n_audio_layer=2)
TINY_LLM = LLMSize(
    hidden_size=32,
    intermediate_size=64,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    max_position_embeddings=2048,
    tie_word_embeddings=False,
)  # untied: random outputs vary, so token-level tests mean something


def tiny_model(seed: int = 0, chunk_ms: int = 320, adapter_output: str = "vectors") -> SpeechLLM:
    enc = EncoderConfig(**{**TINY_ENCODER.__dict__, "chunk_ms": chunk_ms})
    cfg = ModelConfig(encoder=enc, adapter=AdapterConfig(stack=4, hidden=32, output=adapter_output))
    model = build_model(cfg, texts=read_lines([SENTENCES]), vocab_size=300, llm_size=TINY_LLM, seed=seed).eval()
    with torch.no_grad():  # a non-identity input norm, so that every invariant test covers it
        g = torch.Generator().manual_seed(seed)
        model.encoder.mel_mean.copy_(torch.randn(80, generator=g) - 4)
        model.encoder.mel_std.copy_(torch.rand(80, generator=g) + 0.5)
    return model


HF_D = 32  # hidden size of the bare Hugging Face LLMs below
HF_COMMON = dict(
    vocab_size=97,
    hidden_size=HF_D,
    intermediate_size=64,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    max_position_embeddings=512,
)


def hf_model(family: str):
    """A random Qwen2 or Llama causal LM (no speech parts) for the LLM-level invariants."""
    torch.manual_seed(0)
    if family == "qwen2":
        return Qwen2ForCausalLM(Qwen2Config(**HF_COMMON)).eval()
    return LlamaForCausalLM(LlamaConfig(**HF_COMMON)).eval()


def lm_session(lm: StreamingLM, g: torch.Generator, device: str = "cpu") -> list:
    """A policy's calls: prompt, reads, peeks with attention, undos, writes; every output kept."""
    st, outs = LMState(), []
    lm.start(st, torch.randint(0, 97, (3,), generator=g).to(device))
    for step in range(6):
        vectors = torch.randn(int(torch.randint(1, 5, (1,), generator=g)), HF_D, generator=g).to(device)
        token = int(torch.randint(0, 97, (1,), generator=g))
        if step % 3 == 2:
            lm.read(st, vectors)
            peek = lm.write(st, token, attentions=True)
        else:
            peek = lm.read_and_write(st, vectors, token, attentions=step % 2 == 0)
        outs += [peek, lm.source_attention(st, peek) if peek.attentions else None]
        if step % 3 != 2:
            lm.unwrite(st)
            outs.append(lm.write(st, token))
    assert st.cache.get_seq_length() == len(st.entries)
    return outs


# ---- streaming runs -----------------------------------------------------------------------------------------


def run(session: Session, samples: np.ndarray, push_sizes: list[int]) -> Session:
    """Push `samples` in pieces of `push_sizes`, then the rest with finished=True."""
    session.reset()
    i = 0
    for n in push_sizes:
        session.push_audio(samples[i : i + n])
        i += n
    session.push_audio(samples[i:], finished=True)
    return session


def batch_logits(model, samples, task, tokens, n_source):
    """The batch model's logits for `tokens` under the read schedule `n_source`, on the whole utterance."""
    with torch.no_grad():
        source = model.source_vectors(log_mel(samples, model.cfg.frontend)[None])[0]
        target = torch.tensor([model.start_id, *tokens])
        vis = torch.tensor([*n_source, len(source)])  # the final EOS query saw everything
        return model.lm.forward_sequence(model.prompt_ids(task), source, target, vis).logits[0], len(source)


# ---- real speech and a tiny training run --------------------------------------------------------------------


def espeak(text: str, path: Path, voice: str = "en") -> Path:
    """Real speech from espeak-ng (22.05 kHz mono WAV, as espeak writes it)."""
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (make setup installs it)")
    subprocess.run(["espeak-ng", "-v", voice, "-w", str(path), text], check=True, capture_output=True)
    return path


PAIRS = [
    ("the old man reads a book", "der alte mann liest ein buch"),
    ("the children are playing", "die kinder spielen"),
    ("we visit our friends", "wir besuchen unsere freunde"),
    ("my sister has a bicycle", "meine schwester hat ein fahrrad"),
]


def tiny_corpus(d):
    """Four utterances of real espeak-ng speech and their manifest in folder `d`."""
    rows = []
    for i, (en, de) in enumerate(PAIRS):
        wav = espeak(en, d / f"raw{i}.wav")
        x = audio.load_audio(wav)
        audio.write_wav(d / f"u{i}.wav", x)
        rows.append(Utterance(f"u{i}", f"u{i}.wav", len(x), "en", en, "de", de, "espeak"))
    return write_manifest(d / "train.jsonl", rows)


def tiny_cfg(manifest, out, **kw):
    raw = {
        "train": [str(manifest)],
        "dev": [str(manifest)],
        "out": str(out),
        "batch_size": 2,
        "max_steps": 4,
        "lr": 3e-3,
        "warmup_steps": 1,
        "eval_every": 4,
        "eval_n": 2,
        "save_every": 2,
        "keep_last": 1,
        "vocab_size": 300,
        "model": {"encoder": {"n_audio_state": 32, "n_audio_head": 2, "n_audio_layer": 1}, "adapter": {"hidden": 32}},
        "llm": {
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "num_key_value_heads": 1,
        },
    }
    raw.update(kw)
    return from_dict(raw)


def losses(out):
    """step -> training loss, from a run's log.jsonl."""
    rows = [json.loads(x) for x in (out / "log.jsonl").read_text().splitlines()]
    return {r["step"]: r["loss"] for r in rows if "loss" in r}


# ---- the real simuleval CLI -----------------------------------------------------------------------------------

SIMULEVAL_SEGMENT_MS = 320


def run_simuleval(corpus: Path, bundle: Path, policy: str, out: Path, *extra: str) -> Path:
    simuleval = Path(sys.executable).with_name("simuleval")
    cmd = [
        str(simuleval),
        "--agent",
        str(SIMULEVAL_AGENT),
        "--model",
        str(bundle),
        "--policy",
        policy,
        "--source",
        str(corpus / "source.txt"),
        "--target",
        str(corpus / "target.txt"),
        "--source-type",
        "speech",
        "--target-type",
        "text",
        "--source-segment-size",
        str(SIMULEVAL_SEGMENT_MS),
        "--output",
        str(out),
        "--no-progress-bar",
        *extra,
    ]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    result = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return out / "instances.log"


# ---- tiny Whisper models in the published formats -----------------------------------------------------------

WHISPER_N_CTX = 1500  # Hugging Face's Whisper encoder takes the full 30 s window only: 3,000 mel frames


def hf_whisper(folder, randomize: bool = True, vocab_size: int = 100, max_target_positions: int = 64):
    """A tiny random WhisperForConditionalGeneration saved by transformers; every tensor randomised so that no
    two are equal (CTranslate2 would alias equal ones) and a misplaced bias or norm changes the output."""
    cfg = WhisperConfig(
        vocab_size=vocab_size, num_mel_bins=80, d_model=32, encoder_layers=2, encoder_attention_heads=4,
        decoder_layers=1, decoder_attention_heads=4, encoder_ffn_dim=128, decoder_ffn_dim=64,
        max_source_positions=WHISPER_N_CTX, max_target_positions=max_target_positions, pad_token_id=0,
        bos_token_id=1, eos_token_id=2, decoder_start_token_id=1,
    )  # fmt: skip
    torch.manual_seed(0)
    model = WhisperForConditionalGeneration(cfg).eval()
    if randomize:
        with torch.no_grad():
            for name, p in model.named_parameters():
                if "embed_positions" not in name:  # Whisper's encoder positions are fixed sinusoids
                    p.copy_(torch.randn_like(p) * 0.2 + (1.0 if "layer_norm.weight" in name else 0.0))
    model.save_pretrained(folder)
    return model


def ct2_convert(hf_folder, out, quantization="float32"):
    from ctranslate2.converters import TransformersConverter

    TransformersConverter(str(hf_folder)).convert(str(out), quantization=quantization, force=True)
    return out
