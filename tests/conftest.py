"""Shared fixtures: tiny random models built and saved through the real code paths, and real espeak-ng audio."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # tests never touch the network
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from speech_proactive import audio  # noqa: E402
from speech_proactive.model.build import build_model, read_lines  # noqa: E402
from speech_proactive.model.bundle import save_bundle  # noqa: E402
from speech_proactive.config import AdapterConfig, EncoderConfig, ModelConfig  # noqa: E402
from speech_proactive.model.speech_llm import LLMSize, SpeechLLM  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
SENTENCES = REPO / "audio_samples" / "sentences.txt"

TINY_ENCODER = EncoderConfig(n_mels=80, n_audio_ctx=1500, n_audio_state=32, n_audio_head=2, n_audio_layer=2)
TINY_LLM = LLMSize(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                   num_key_value_heads=2, max_position_embeddings=2048,
                   tie_word_embeddings=False)  # untied: random outputs vary, so token-level tests mean something


def tiny_model(seed: int = 0, chunk_ms: int = 320, adapter_output: str = "vectors") -> SpeechLLM:
    enc = EncoderConfig(**{**TINY_ENCODER.__dict__, "chunk_ms": chunk_ms})
    cfg = ModelConfig(encoder=enc, adapter=AdapterConfig(stack=4, hidden=32, output=adapter_output))
    model = build_model(cfg, texts=read_lines([SENTENCES]), vocab_size=300, llm_size=TINY_LLM, seed=seed).eval()
    with torch.no_grad():  # a non-identity input norm, so that every invariant test covers it
        g = torch.Generator().manual_seed(seed)
        model.encoder.mel_mean.copy_(torch.randn(80, generator=g) - 4)
        model.encoder.mel_std.copy_(torch.rand(80, generator=g) + 0.5)
    return model


@pytest.fixture(scope="session")
def model() -> SpeechLLM:
    return tiny_model()


@pytest.fixture(scope="session")
def bundle(tmp_path_factory, model) -> Path:
    return save_bundle(model, tmp_path_factory.mktemp("bundles") / "tiny")


def espeak(text: str, path: Path, voice: str = "en") -> Path:
    """Real speech from espeak-ng (22.05 kHz mono WAV, as espeak writes it)."""
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (make setup installs it)")
    subprocess.run(["espeak-ng", "-v", voice, "-w", str(path), text], check=True, capture_output=True)
    return path


@pytest.fixture(scope="session")
def speech_wav(tmp_path_factory) -> Path:
    return espeak("the old man reads a book in the garden", tmp_path_factory.mktemp("wav") / "speech.wav")


@pytest.fixture(scope="session")
def speech(speech_wav) -> np.ndarray:
    return audio.load_audio(speech_wav)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
    np.random.seed(0)
