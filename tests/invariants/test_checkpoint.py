"""Model bundles: exact round trip, atomic save, clear errors; pretrained parts through the real loaders."""

from __future__ import annotations

import hashlib
import json
import pickle
import shutil
from pathlib import Path, PurePosixPath

import pytest
import torch
from helpers import SENTENCES, TINY_LLM, tiny_model

from speech_proactive.config import AdapterConfig, EncoderConfig, ModelConfig
from speech_proactive.model.build import build_model, read_lines
from speech_proactive.model.bundle import AUDIO_WEIGHTS, BundleError, load_llm, load_model, save_bundle
from speech_proactive.model.frontend import log_mel
from speech_proactive.streaming.session import Session

SMALL_CFG = ModelConfig(
    encoder=EncoderConfig(n_mels=80, n_audio_state=32, n_audio_head=2, n_audio_layer=2),
    adapter=AdapterConfig(stack=4, hidden=32),
)


def sha256(f: Path) -> str:
    return hashlib.sha256(f.read_bytes()).hexdigest()


def copy_bundle(bundle: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(bundle, tmp_path / "copy"))


def assert_same_state(a: torch.nn.Module | dict, b: torch.nn.Module | dict) -> None:
    sa = a if isinstance(a, dict) else a.state_dict()
    sb = b if isinstance(b, dict) else b.state_dict()
    assert sorted(sa) == sorted(sb)
    for k in sa:
        torch.testing.assert_close(sa[k], sb[k], rtol=0, atol=0, msg=k)


# -- round trip --------------------------------------------------------------------------------------------
def test_round_trip_gives_the_same_model(model, bundle, speech):
    loaded = load_model(bundle)
    assert loaded.cfg == model.cfg
    assert not loaded.training

    mel = log_mel(speech, model.cfg.frontend)[None]
    with torch.inference_mode():
        torch.testing.assert_close(loaded.source_vectors(mel), model.source_vectors(mel), rtol=0, atol=0)
        ids = torch.arange(50)[None]
        torch.testing.assert_close(
            loaded.lm.model(input_ids=ids).logits, model.lm.model(input_ids=ids).logits, rtol=0, atol=0
        )
    assert_same_state(loaded, model)

    tokens = []
    for m in (model, loaded):
        s = Session(m)  # default policy: offline
        s.push_audio(speech, finished=True)
        tokens.append(list(s.state.tokens))
    assert tokens[0] and tokens[0] == tokens[1]

    # the tokenizer comes back too, with the ids the model was built with
    text = "the old man reads a book"
    assert loaded.tokenizer(text)["input_ids"] == model.tokenizer(text)["input_ids"]
    assert (loaded.start_id, loaded.eos_id) == (model.start_id, model.eos_id)


# -- atomic save -------------------------------------------------------------------------------------------
def test_save_over_an_existing_bundle_replaces_it(tmp_path, model):
    path = save_bundle(model, tmp_path / "b", meta={"run": 1})
    (path / "stale.txt").write_text("left over from an earlier save")
    other = tiny_model(seed=1)
    assert save_bundle(other, tmp_path / "b", meta={"run": 2}) == path

    assert sorted(p.name for p in tmp_path.iterdir()) == ["b"]  # no *.tmp-* or *.old-* left behind
    assert not (path / "stale.txt").exists()
    manifest = json.loads((path / "bundle.json").read_text())
    assert manifest["meta"] == {"run": 2}
    assert_same_state(load_model(path).encoder, other.encoder)
    with pytest.raises(AssertionError):
        assert_same_state(other.encoder, model.encoder)  # the two saves really differ


def test_failed_save_keeps_the_old_bundle(tmp_path, model):
    path = save_bundle(model, tmp_path / "b", meta={"run": 1})
    before = (path / "bundle.json").read_text()
    with pytest.raises(TypeError):
        save_bundle(tiny_model(seed=1), path, meta={"not json": object()})  # fails after the weights are written
    assert (path / "bundle.json").read_text() == before
    assert_same_state(load_model(path), model)


def test_failed_save_leaves_no_temporary_folder(tmp_path, model):
    with pytest.raises(TypeError):
        save_bundle(model, tmp_path / "b", meta={"not json": object()})
    assert list(tmp_path.iterdir()) == []


def test_manifest_lists_every_file_with_size_and_sha256(bundle, model):
    manifest = json.loads((bundle / "bundle.json").read_text())
    assert manifest["format"] == "speech_proactive.bundle" and manifest["version"] == 1
    on_disk = {str(f.relative_to(bundle)) for f in bundle.rglob("*") if f.is_file()} - {"bundle.json"}
    assert set(manifest["files"]) == on_disk
    assert {AUDIO_WEIGHTS, "llm/config.json", "llm/model.safetensors", "tokenizer/tokenizer.json"} <= on_disk
    for name, rec in manifest["files"].items():
        assert rec["bytes"] == (bundle / name).stat().st_size
        assert rec["sha256"] == sha256(bundle / name)
    assert ModelConfig.from_dict(manifest["model_config"]) == model.cfg


# -- errors name the file and the mismatch -----------------------------------------------------------------
def test_missing_file(bundle, tmp_path):
    b = copy_bundle(bundle, tmp_path)
    (b / AUDIO_WEIGHTS).unlink()
    with pytest.raises(BundleError, match="missing") as e:
        load_model(b)
    assert str(b / AUDIO_WEIGHTS) in str(e.value)


def test_audio_weights_of_another_width(bundle, tmp_path):
    wide_cfg = ModelConfig(
        encoder=EncoderConfig(n_audio_state=64, n_audio_head=2, n_audio_layer=2, n_mels=80),
        adapter=AdapterConfig(stack=4, hidden=32),
    )
    wide = build_model(wide_cfg, texts=read_lines([SENTENCES]), vocab_size=300, llm_size=TINY_LLM)
    wide_bundle = save_bundle(wide, tmp_path / "wide")

    b = copy_bundle(bundle, tmp_path)
    shutil.copyfile(wide_bundle / AUDIO_WEIGHTS, b / AUDIO_WEIGHTS)
    manifest = json.loads((b / "bundle.json").read_text())
    f = b / AUDIO_WEIGHTS
    manifest["files"][AUDIO_WEIGHTS] = {"bytes": f.stat().st_size, "sha256": sha256(f)}  # only the shapes differ
    (b / "bundle.json").write_text(json.dumps(manifest))

    with pytest.raises(BundleError, match="do not match the model config") as e:
        load_model(b)
    msg = str(e.value)
    assert str(b / AUDIO_WEIGHTS) in msg
    assert "conv1.weight: shape (64, 80, 3) in file, model expects (32, 80, 3)" in msg


def test_swapped_file_without_updated_manifest(bundle, tmp_path):
    b = copy_bundle(bundle, tmp_path)
    f = b / "llm" / "model.safetensors"
    data = bytearray(f.read_bytes())
    data[-1] ^= 0xFF  # same size, different content
    f.write_bytes(bytes(data))
    with pytest.raises(BundleError, match="sha256") as e:
        load_model(b)
    assert str(f) in str(e.value)


def test_truncated_llm_weights(bundle, tmp_path):
    b = copy_bundle(bundle, tmp_path)
    f = b / "llm" / "model.safetensors"
    size = f.stat().st_size
    f.write_bytes(f.read_bytes()[: size // 2])
    for checksums in (True, False):  # the size check alone already catches it
        with pytest.raises(BundleError, match=f"{size // 2} bytes, bundle.json records {size}") as e:
            load_model(b, checksums=checksums)
        assert str(f) in str(e.value)


def test_not_a_bundle(tmp_path):
    (tmp_path / "llm").mkdir()
    with pytest.raises(BundleError, match="not a model bundle") as e:
        load_model(tmp_path)
    assert str(tmp_path) in str(e.value)
    with pytest.raises(BundleError, match="not a model bundle"):
        load_model(tmp_path / "does-not-exist")


def test_bundle_json_not_json_or_wrong_format(bundle, tmp_path):
    b = copy_bundle(bundle, tmp_path)
    mf = b / "bundle.json"
    mf.write_text("{ not json")
    with pytest.raises(BundleError, match="not valid JSON") as e:
        load_model(b)
    assert str(mf) in str(e.value)
    mf.write_text(json.dumps({"format": "something.else", "version": 1}))
    with pytest.raises(BundleError, match="format"):
        load_model(b)
    mf.write_text(json.dumps({"format": "speech_proactive.bundle", "version": 99}))
    with pytest.raises(BundleError, match="newer"):
        load_model(b)


@pytest.mark.parametrize(
    "content, problem",
    [
        ("[]", "expected a JSON object"),
        (json.dumps({"format": "speech_proactive.bundle", "version": 1}), "model_config"),
        (
            json.dumps(
                {
                    "format": "speech_proactive.bundle",
                    "version": 1,
                    "files": {},
                    "model_config": {"encoder": {"n_audio_width": 3}},
                }
            ),
            "n_audio_width",
        ),
    ],
)
def test_bundle_json_with_wrong_structure(bundle, tmp_path, content, problem):
    b = copy_bundle(bundle, tmp_path)
    (b / "bundle.json").write_text(content)
    with pytest.raises(BundleError, match=problem) as e:
        load_model(b)
    assert str(b / "bundle.json") in str(e.value)


def _files_entry_not_a_dict(b: Path) -> None:
    _edit_manifest(b, lambda m: m["files"].__setitem__(AUDIO_WEIGHTS, 5))


def _version_a_string(b: Path) -> None:
    _edit_manifest(b, lambda m: m.__setitem__("version", "1"))


def _chunk_ms_a_string(b: Path) -> None:
    _edit_manifest(b, lambda m: m["model_config"]["encoder"].__setitem__("chunk_ms", "320"))


def _bad_adapter_stack(b: Path) -> None:
    _edit_manifest(b, lambda m: m["model_config"]["adapter"].__setitem__("stack", 3))


def _not_utf8(b: Path) -> None:
    (b / "bundle.json").write_bytes(b"\xff\xfe{}")


def _tokenizer_folder_gone_and_unlisted(b: Path) -> None:
    shutil.rmtree(b / "tokenizer")
    _edit_manifest(
        b, lambda m: m.__setitem__("files", {k: v for k, v in m["files"].items() if not k.startswith("tokenizer/")})
    )


def _edit_manifest(b: Path, change) -> None:
    manifest = json.loads((b / "bundle.json").read_text())
    change(manifest)
    (b / "bundle.json").write_text(json.dumps(manifest))


@pytest.mark.parametrize(
    "damage",
    [
        _files_entry_not_a_dict,
        _version_a_string,
        _chunk_ms_a_string,
        _bad_adapter_stack,
        _not_utf8,
        _tokenizer_folder_gone_and_unlisted,
    ],
)
def test_damaged_manifest_is_a_bundle_error(bundle, tmp_path, damage):
    b = copy_bundle(bundle, tmp_path)
    damage(b)
    with pytest.raises(BundleError) as e:
        load_model(b)
    assert str(b) in str(e.value)


# -- pretrained parts through the real loaders -------------------------------------------------------------
def write_whisper(tmp_path: Path, **dims_override) -> tuple[Path, torch.nn.Module]:
    from whisper.model import ModelDimensions, Whisper

    dims = ModelDimensions(
        n_mels=80,
        n_audio_ctx=50,
        n_audio_state=32,
        n_audio_head=2,
        n_audio_layer=2,
        n_vocab=64,
        n_text_ctx=8,
        n_text_state=32,
        n_text_head=2,
        n_text_layer=1,
    )
    w = Whisper(dims)
    with torch.no_grad():  # move every weight off its default init (LayerNorms start at 1 and 0)
        for p in w.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    f = tmp_path / "whisper-small-random.pt"
    torch.save({"dims": {**dims.__dict__, **dims_override}, "model_state_dict": w.state_dict()}, f)
    return f, w


def test_whisper_checkpoint_is_loaded_into_the_encoder(tmp_path):
    f, w = write_whisper(tmp_path)
    cfg = ModelConfig(encoder=EncoderConfig(chunk_ms=640), adapter=AdapterConfig(stack=4, hidden=32))
    m = build_model(cfg, whisper_file=f, texts=read_lines([SENTENCES]), vocab_size=300, llm_size=TINY_LLM)
    enc = m.cfg.encoder
    assert (enc.n_audio_ctx, enc.n_audio_state, enc.n_audio_head, enc.n_audio_layer) == (50, 32, 2, 2)
    assert enc.chunk_ms == 640 and m.cfg.frontend.n_mels == 80
    ours = m.encoder.state_dict()
    assert not ours.pop("mel_mean").any() and bool((ours.pop("mel_std") == 1).all())  # identity input norm
    assert_same_state(ours, w.encoder)
    # same names and shapes are not enough: the same computation (full attention = Whisper's AudioEncoder)
    mel = torch.randn(1, 80, 100)
    with torch.no_grad():
        torch.testing.assert_close(m.encoder.forward_full(mel), w.encoder(mel), rtol=1e-4, atol=1e-4)


def test_whisper_dims_that_disagree_with_the_weights(tmp_path):
    f, _ = write_whisper(tmp_path, n_audio_layer=3)
    with pytest.raises(BundleError, match="missing blocks.2") as e:
        build_model(SMALL_CFG, whisper_file=f, texts=read_lines([SENTENCES]), vocab_size=300, llm_size=TINY_LLM)
    assert str(f) in str(e.value)


@pytest.mark.parametrize("kind", ["plain-pickle", "torch-dict", "random-bytes", "missing"])
def test_not_a_whisper_checkpoint(tmp_path, kind):
    f = tmp_path / "model.pt"
    if kind == "plain-pickle":
        # a class torch.load(weights_only=True) refuses to unpickle
        f.write_bytes(pickle.dumps({"dims": PurePosixPath("x")}, protocol=2))
    elif kind == "torch-dict":
        torch.save({"state_dict": {"w": torch.zeros(2)}}, f)
    elif kind == "random-bytes":
        f.write_bytes(b"\x80\x02not really a pickle" * 10)
    with pytest.raises(BundleError) as e:
        build_model(SMALL_CFG, whisper_file=f, texts=["a b c"], vocab_size=300, llm_size=TINY_LLM)
    assert str(f) in str(e.value)


def write_hf_llm(folder: Path):
    from transformers import Qwen2Config, Qwen2ForCausalLM

    from speech_proactive.model.tokenizer import train_bpe

    tok = train_bpe(read_lines([SENTENCES]), 300)
    torch.manual_seed(123)
    llm = Qwen2ForCausalLM(
        Qwen2Config(
            vocab_size=len(tok),
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=1,
            num_attention_heads=4,
            num_key_value_heads=2,
        )
    )
    llm.save_pretrained(str(folder))
    tok.save_pretrained(str(folder))
    return llm, tok


def test_hf_llm_folder_is_loaded(tmp_path):
    llm, tok = write_hf_llm(tmp_path / "qwen-tiny")
    m = build_model(SMALL_CFG, llm_dir=tmp_path / "qwen-tiny")
    assert type(m.lm.model).__name__ == "Qwen2ForCausalLM"
    assert_same_state(m.lm.model, llm)
    assert m.tokenizer.get_vocab() == tok.get_vocab()
    assert (m.start_id, m.eos_id) == (tok.bos_token_id, tok.eos_token_id)
    assert m.adapter.proj_out.out_features == 32  # the adapter is sized to the LLM's hidden size

    # and the model built on it survives a bundle round trip
    loaded = load_model(save_bundle(m, tmp_path / "bundle"))
    assert_same_state(loaded, m)


def test_hf_llm_folder_keeps_its_tokenizers_ids(tmp_path):
    _, tok = write_hf_llm(tmp_path / "qwen-tiny")
    m = build_model(SMALL_CFG, llm_dir=tmp_path / "qwen-tiny")
    text = "the old man reads a book"
    assert m.tokenizer(text)["input_ids"] == tok(text)["input_ids"]


def test_hf_llm_folder_without_config(tmp_path):
    (tmp_path / "llm").mkdir()
    with pytest.raises(BundleError, match="no config.json") as e:
        load_llm(tmp_path / "llm")
    assert str(tmp_path / "llm") in str(e.value)


def test_hf_llm_folder_with_corrupt_weights(tmp_path):
    write_hf_llm(tmp_path / "qwen-tiny")
    f = tmp_path / "qwen-tiny" / "model.safetensors"
    f.write_bytes(b"\xff" * 8 + f.read_bytes()[8:])  # a header length no file can have
    with pytest.raises(BundleError, match="cannot load the LLM") as e:
        build_model(SMALL_CFG, llm_dir=tmp_path / "qwen-tiny")
    assert str(tmp_path / "qwen-tiny") in str(e.value)
