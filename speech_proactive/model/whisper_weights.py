"""Pretrained Whisper encoder weights from the three formats they are published in, as the streaming encoder's
config and state dict (openai-whisper's names: `conv1`, `blocks.N.attn.query`, `ln_post`, ...).

- openai-whisper checkpoint file: `{"dims", "model_state_dict"}` (`whisper.load_model` reads the same file);
- Hugging Face folder: `WhisperModel` or `WhisperForConditionalGeneration` (config.json + safetensors/bin);
- CTranslate2 folder (faster-whisper): config.json + model.bin, or model.bin split in parts `model.bin.partN`.

Only the encoder is read; the decoder, the tokenizer and the generation config are ignored. CTranslate2 stores
q, k and v as one fused matrix and replaces every tensor equal to an earlier one by an alias to it (so the
zero biases of a fresh model all point to one tensor); both are undone here.
"""

from __future__ import annotations

import json
import re
import struct
from pathlib import Path
from typing import BinaryIO

import numpy as np
import torch

from speech_proactive.config import EncoderConfig
from speech_proactive.model.bundle import BundleError

CT2_BINARY_VERSIONS = (5, 6)  # versions whose layout is read below (ctranslate2 4.x writes 6)
CT2_DTYPES = {0: np.float32, 2: np.int16, 3: np.int32, 4: np.float16, 5: "bfloat16", 1: np.int8}
CT2_FLOAT_DTYPES = (0, 4, 5)

HF_TO_WHISPER = {  # per layer, Hugging Face's module names -> openai-whisper's
    "self_attn.q_proj": "attn.query",
    "self_attn.k_proj": "attn.key",
    "self_attn.v_proj": "attn.value",
    "self_attn.out_proj": "attn.out",
    "self_attn_layer_norm": "attn_ln",
    "fc1": "mlp.0",
    "fc2": "mlp.2",
    "final_layer_norm": "mlp_ln",
}
CT2_TO_WHISPER = {  # per layer, CTranslate2's scopes -> openai-whisper's (self_attention/linear_0 is q|k|v fused)
    "self_attention/linear_1": "attn.out",
    "self_attention/layer_norm": "attn_ln",
    "ffn/linear_0": "mlp.0",
    "ffn/linear_1": "mlp.2",
    "ffn/layer_norm": "mlp_ln",
}
CT2_LEAF = {"weight": "weight", "bias": "bias", "gamma": "weight", "beta": "bias"}


def load_whisper_encoder(path: str | Path, chunk_ms: int = 320) -> tuple[EncoderConfig, dict[str, torch.Tensor]]:
    """Encoder config and weights from any of the three formats, told apart by what `path` holds."""
    path = Path(path)
    if path.is_file():
        cfg, state = read_openai(path, chunk_ms)
    elif path.is_dir() and _ct2_parts(path):
        cfg, state = read_ctranslate2(path, chunk_ms)
    elif path.is_dir() and (path / "config.json").is_file():
        cfg, state = read_hugging_face(path, chunk_ms)
    else:
        raise BundleError(f"{path}: not a Whisper checkpoint file, Hugging Face folder or CTranslate2 folder")
    # Whisper normalises its log-mel itself ((x + 4) / 4 in the frontend): our extra input norm is identity
    state.setdefault("mel_mean", torch.zeros(cfg.n_mels))
    state.setdefault("mel_std", torch.ones(cfg.n_mels))
    return cfg, state


# ---- openai-whisper ------------------------------------------------------------------------------------------


def read_openai(file: Path, chunk_ms: int = 320) -> tuple[EncoderConfig, dict[str, torch.Tensor]]:
    try:
        ckpt = torch.load(str(file), map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises many types for a bad pickle/zip; all mean the same to the user
        raise BundleError(f"{file}: not a readable torch checkpoint ({type(e).__name__}: {e})") from e
    if not isinstance(ckpt, dict) or "dims" not in ckpt or "model_state_dict" not in ckpt:
        raise BundleError(f"{file}: not a whisper checkpoint (expected keys 'dims' and 'model_state_dict')")
    d = ckpt["dims"]
    cfg = EncoderConfig(
        n_mels=d["n_mels"],
        n_audio_ctx=d["n_audio_ctx"],
        n_audio_state=d["n_audio_state"],
        n_audio_head=d["n_audio_head"],
        n_audio_layer=d["n_audio_layer"],
        chunk_ms=chunk_ms,
    )
    state = {k[len("encoder.") :]: v for k, v in ckpt["model_state_dict"].items() if k.startswith("encoder.")}
    return cfg, state


# ---- Hugging Face --------------------------------------------------------------------------------------------


def read_hugging_face(folder: Path, chunk_ms: int = 320) -> tuple[EncoderConfig, dict[str, torch.Tensor]]:
    """A `WhisperModel` or `WhisperForConditionalGeneration` folder, read by transformers itself."""
    config = json.loads((folder / "config.json").read_text())
    if config.get("model_type") != "whisper":
        raise BundleError(f"{folder}: a Hugging Face folder of model_type {config.get('model_type')!r}, not whisper")
    if config.get("encoder_ffn_dim", 4 * config["d_model"]) != 4 * config["d_model"]:
        raise BundleError(f"{folder}: encoder_ffn_dim {config['encoder_ffn_dim']} is not 4 x d_model, as Whisper's")
    from transformers import WhisperModel
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    try:  # WhisperModel also reads a ...ForConditionalGeneration folder (it drops the output projection)
        encoder = WhisperModel.from_pretrained(str(folder), local_files_only=True).get_encoder()
    except (OSError, ValueError) as e:
        raise BundleError(f"{folder}: transformers could not load it ({e})") from e
    cfg = EncoderConfig(
        n_mels=config["num_mel_bins"],
        n_audio_ctx=config["max_source_positions"],
        n_audio_state=config["d_model"],
        n_audio_head=config["encoder_attention_heads"],
        n_audio_layer=config["encoder_layers"],
        chunk_ms=chunk_ms,
    )
    return cfg, whisper_names_from_hf(encoder.state_dict())


def whisper_names_from_hf(hf: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    out = {}
    for name, value in hf.items():
        if name.startswith("layers."):
            _, index, rest = name.split(".", 2)
            module, _, leaf = rest.rpartition(".")
            if module not in HF_TO_WHISPER:
                raise BundleError(f"Hugging Face Whisper encoder: unexpected tensor {name}")
            out[f"blocks.{index}.{HF_TO_WHISPER[module]}.{leaf}"] = value
        elif name == "embed_positions.weight":
            out["positional_embedding"] = value
        elif name.startswith("layer_norm."):
            out["ln_post." + name.split(".", 1)[1]] = value
        else:  # conv1.weight, conv2.bias, ...
            out[name] = value
    return {k: v.detach().clone().float() for k, v in out.items()}


# ---- CTranslate2 ---------------------------------------------------------------------------------------------


def _ct2_parts(folder: Path) -> list[Path]:
    """model.bin, or the files a split model.bin was cut into (model.bin.part1, ...), in order."""
    if (folder / "model.bin").is_file():
        return [folder / "model.bin"]
    return sorted(folder.glob("model.bin.part*"), key=lambda p: (len(p.name), p.name))


class _ConcatReader:
    """A file-like view of several files one after the other: a split model.bin read without reassembling it."""

    def __init__(self, parts: list[Path]):
        self.files = [p.open("rb") for p in parts]

    def read(self, n: int) -> bytes:
        out = b""
        while len(out) < n and self.files:
            chunk = self.files[0].read(n - len(out))
            if not chunk:
                self.files.pop(0).close()
                continue
            out += chunk
        return out

    def close(self) -> None:
        for f in self.files:
            f.close()


def read_ct2_variables(parts: list[Path]) -> tuple[str, dict[str, np.ndarray]]:
    """The spec name and every variable of a CTranslate2 model.bin (aliases resolved), as numpy arrays."""
    f = _ConcatReader(parts)
    try:
        version = _unpack(f, "I", parts)
        if version not in CT2_BINARY_VERSIONS:
            raise BundleError(f"{parts[0]}: CTranslate2 binary version {version}, readable: {CT2_BINARY_VERSIONS}")
        spec = _string(f, parts)
        _unpack(f, "I", parts)  # the spec's revision
        variables = {}
        for _ in range(_unpack(f, "I", parts)):
            name = _string(f, parts)
            shape = [_unpack(f, "I", parts) for _ in range(_unpack(f, "B", parts))]
            dtype, n_bytes = _unpack(f, "B", parts), _unpack(f, "I", parts)
            variables[name] = _array(_read(f, n_bytes, parts), dtype, shape, name, parts)
        for _ in range(_unpack(f, "I", parts)):
            alias, target = _string(f, parts), _string(f, parts)
            variables[alias] = variables[target]
    finally:
        f.close()
    return spec, variables


def read_ctranslate2(folder: Path, chunk_ms: int = 320) -> tuple[EncoderConfig, dict[str, torch.Tensor]]:
    parts = _ct2_parts(folder)
    spec, v = read_ct2_variables(parts)
    if spec != "WhisperSpec":
        raise BundleError(f"{parts[0]}: a CTranslate2 {spec}, not a WhisperSpec")
    n_layers = len({m.group(1) for k in v if (m := re.match(r"encoder/layer_(\d+)/", k))})
    conv1 = v["encoder/conv1/weight"]
    cfg = EncoderConfig(
        n_mels=conv1.shape[1],
        n_audio_ctx=v["encoder/position_encodings/encodings"].shape[0],
        n_audio_state=conv1.shape[0],
        n_audio_head=int(v["encoder/num_heads"]),
        n_audio_layer=n_layers,
        chunk_ms=chunk_ms,
    )
    state = {
        "positional_embedding": v["encoder/position_encodings/encodings"],
        "ln_post.weight": v["encoder/layer_norm/gamma"],
        "ln_post.bias": v["encoder/layer_norm/beta"],
    }
    for conv in ("conv1", "conv2"):
        state[f"{conv}.weight"], state[f"{conv}.bias"] = v[f"encoder/{conv}/weight"], v[f"encoder/{conv}/bias"]
    for i in range(n_layers):
        state.update(_ct2_layer(v, i, cfg.n_audio_state, parts[0]))
    return cfg, {k: torch.from_numpy(np.array(a, dtype=np.float32)) for k, a in state.items()}


def _ct2_layer(v: dict[str, np.ndarray], i: int, d: int, where: Path) -> dict[str, np.ndarray]:
    scope, out = f"encoder/layer_{i}", {}
    w, b = v[f"{scope}/self_attention/linear_0/weight"], v[f"{scope}/self_attention/linear_0/bias"]
    if w.shape != (3 * d, d):
        raise BundleError(f"{where}: {scope} fused q|k|v of shape {w.shape}, expected {(3 * d, d)}")
    if np.any(b[d : 2 * d] != 0):  # Whisper's key projection has no bias: the fused one must hold zeros there
        raise BundleError(f"{where}: {scope} has a key bias, which Whisper's attention does not have")
    for j, name in enumerate(("query", "key", "value")):
        out[f"blocks.{i}.attn.{name}.weight"] = w[j * d : (j + 1) * d]
        if name != "key":
            out[f"blocks.{i}.attn.{name}.bias"] = b[j * d : (j + 1) * d]
    for ct2, whisper in CT2_TO_WHISPER.items():
        for leaf in ("weight", "bias", "gamma", "beta"):
            if f"{scope}/{ct2}/{leaf}" in v:
                out[f"blocks.{i}.{whisper}.{CT2_LEAF[leaf]}"] = v[f"{scope}/{ct2}/{leaf}"]
    return out


def _read(f: BinaryIO, n: int, parts: list[Path]) -> bytes:
    data = f.read(n)
    if len(data) != n:
        raise BundleError(f"{parts[0]}: model.bin ends early (truncated, or a part of a split file is missing)")
    return data


def _unpack(f: BinaryIO, fmt: str, parts: list[Path]) -> int:
    return struct.unpack("<" + fmt, _read(f, struct.calcsize(fmt), parts))[0]


def _string(f: BinaryIO, parts: list[Path]) -> str:
    return _read(f, _unpack(f, "H", parts), parts)[:-1].decode("utf-8")  # stored with its NUL terminator


def _array(data: bytes, dtype: int, shape: list[int], name: str, parts: list[Path]) -> np.ndarray:
    if dtype not in CT2_DTYPES:
        raise BundleError(f"{parts[0]}: {name} has unknown CTranslate2 dtype id {dtype}")
    if dtype == 5:  # bfloat16: the high half of a float32
        return (np.frombuffer(data, np.uint16).astype(np.uint32) << 16).view(np.float32).reshape(shape)
    a = np.frombuffer(data, CT2_DTYPES[dtype]).reshape(shape)
    if dtype not in CT2_FLOAT_DTYPES and name.endswith(("weight", "encodings", "gamma", "beta", "bias")):
        raise BundleError(
            f"{parts[0]}: {name} is quantized ({np.dtype(CT2_DTYPES[dtype]).name}); convert the model again "
            f"with --quantization float16 or float32 to train from it"
        )
    return a
