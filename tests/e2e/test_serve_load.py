"""16 clients stream 2 minutes of real-time audio each to one server process: no errors, every transcript equal
to its audio served alone, server memory flat from minute 1 to the end (within 10%)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from helpers import espeak, tiny_model

from speech_proactive import audio
from speech_proactive.apps.serve import load
from speech_proactive.model.bundle import save_bundle

pytestmark = pytest.mark.slow


def test_sixteen_clients_for_two_minutes(tmp_path):
    bundle = save_bundle(
        tiny_model(), tmp_path / "b", meta={"tasks": [{"task": "st", "src_lang": "en", "tgt_lang": "de"}]}
    )
    sentences = ("the old man reads a book in the garden", "my sister has not bought a new bicycle",
                 "we are going to the station tomorrow", "a small dog sleeps under the table")  # fmt: skip
    wavs = [espeak(t, tmp_path / f"s{i}.wav") for i, t in enumerate(sentences)]
    out = tmp_path / "load.json"
    status = load.main(["--model", str(bundle), "--wav", *map(str, wavs), "--clients", "16", "--seconds", "120",
                        "--policy", "wait-k:3", "--json", str(out)])  # fmt: skip
    result = json.loads(out.read_text())
    print(json.dumps({k: v for k, v in result.items() if k != "results"}))
    assert result["clients"] == 16 and result["audio_s_per_client"] == 120
    assert result["errors"] == 0
    assert result["transcripts_differing_from_alone"] == []
    assert min(result["words_per_client"]) > 0, "every client got words (a random model writes nonsense)"
    assert result["rss_growth"] <= 0.10, result
    assert status == 0
    assert len({r["text"] for r in result["results"]}) == 4, "four distinct audios, four distinct transcripts"
    assert np.isclose(result["results"][0]["audio_ms"], 120_000) and audio.SAMPLE_RATE == 16000
