"""Shared fixtures: tiny random models built and saved through the real code paths, and real espeak-ng audio."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # tests never touch the network
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from helpers import espeak, tiny_model  # noqa: E402

from speech_proactive import audio  # noqa: E402
from speech_proactive.model.bundle import save_bundle  # noqa: E402
from speech_proactive.model.speech_llm import SpeechLLM  # noqa: E402


@pytest.fixture(scope="session")
def model() -> SpeechLLM:
    return tiny_model()


@pytest.fixture(scope="session")
def bundle(tmp_path_factory, model) -> Path:
    return save_bundle(model, tmp_path_factory.mktemp("bundles") / "tiny")


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
