"""Model bundles: one self-describing folder, written atomically; and loading of pretrained parts.

Bundle layout:
    bundle.json          format, version, ModelConfig, file sizes and sha256, free-form metadata
    audio.safetensors    encoder.*, adapter.* and ctc.* (auxiliary CTC head on the adapter output) weights
    llm/                 the LLM, as `save_pretrained` writes it
    tokenizer/           the tokenizer, as `save_pretrained` writes it
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

import torch
from torch import nn

from speech_proactive.config import ModelConfig
from speech_proactive.model import lora
from speech_proactive.model.speech_llm import SpeechLLM

BUNDLE_FORMAT = "speech_proactive.bundle"
BUNDLE_VERSION = 1
AUDIO_WEIGHTS = "audio.safetensors"


class BundleError(ValueError):
    """A bundle or pretrained file that cannot be loaded; the message names the file and what is wrong."""


# -- saving ------------------------------------------------------------------------------------------------
TRAIN_STATE = "train_state.pt"


def save_bundle(
    model: SpeechLLM, path: str | Path, meta: dict[str, Any] | None = None, train_state: dict[str, Any] | None = None
) -> Path:
    """Write the bundle to a temporary sibling folder, then rename it into place (never half-written).

    `train_state` (optimizer, step, random states) makes the bundle a resumable training checkpoint.
    """
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # one bundle is not a long job; the bars only clutter logs
    path = Path(path)
    tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        _write_bundle(model, tmp, meta, train_state)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)  # a failed save leaves nothing behind, the old bundle intact
        raise
    replace_dir(tmp, path)
    return path


def _write_bundle(model: SpeechLLM, tmp: Path, meta: dict[str, Any] | None, train_state: dict[str, Any] | None) -> None:
    audio_state = {f"encoder.{k}": v for k, v in model.encoder.state_dict().items()}
    audio_state |= {f"adapter.{k}": v for k, v in model.adapter.state_dict().items()}
    audio_state |= {f"ctc.{k}": v for k, v in model.ctc_head.state_dict().items()}
    _save_tensors(audio_state, tmp / AUDIO_WEIGHTS)
    llm = model.lm.model
    if model.lora is not None:  # the LLM's own weights where every tool expects them, the update beside them
        llm.save_pretrained(str(tmp / "llm"), state_dict=lora.base_state(llm))
        _save_tensors(lora.lora_state(llm), tmp / lora.LORA_WEIGHTS)
    else:
        llm.save_pretrained(str(tmp / "llm"))
    model.tokenizer.save_pretrained(str(tmp / "tokenizer"))
    if train_state is not None:
        torch.save(train_state, tmp / TRAIN_STATE)
    manifest = {
        "format": BUNDLE_FORMAT,
        "version": BUNDLE_VERSION,
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "model_config": model.cfg.to_dict(),
        "files": {
            str(f.relative_to(tmp)): _describe(f)
            for f in sorted(tmp.rglob("*"))
            if f.is_file() and f.name != TRAIN_STATE
        },  # the model, not how it was being trained
        "meta": meta or {},
    }
    if model.lora is not None:
        manifest["lora"] = model.lora.to_dict()
    (tmp / "bundle.json").write_text(json.dumps(manifest, indent=2) + "\n")


def _save_tensors(state: dict[str, torch.Tensor], file: Path) -> None:
    from safetensors.torch import save_file

    save_file({k: v.detach().contiguous().cpu() for k, v in state.items()}, str(file))


def replace_dir(src: Path, dst: Path) -> None:
    """Put folder src at dst; an existing dst is moved aside first and removed after."""
    old = dst.with_name(f"{dst.name}.old-{os.getpid()}")
    shutil.rmtree(old, ignore_errors=True)  # left by a crash between the two renames
    if dst.exists():
        os.replace(dst, old)
    os.replace(src, dst)
    shutil.rmtree(old, ignore_errors=True)


def _describe(f: Path) -> dict[str, Any]:
    h = hashlib.sha256()
    with open(f, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return {"bytes": f.stat().st_size, "sha256": h.hexdigest()}


# -- loading -----------------------------------------------------------------------------------------------
def read_manifest(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    mf = path / "bundle.json"
    if not mf.is_file():
        raise BundleError(f"{path}: not a model bundle (no bundle.json)")
    try:
        manifest = json.loads(mf.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise BundleError(f"{mf}: not valid JSON ({e})") from e
    if not isinstance(manifest, dict):
        raise BundleError(f"{mf}: expected a JSON object, got {type(manifest).__name__}")
    if manifest.get("format") != BUNDLE_FORMAT:
        raise BundleError(f"{mf}: format {manifest.get('format')!r}, expected {BUNDLE_FORMAT!r}")
    if not isinstance(manifest.get("version", 0), int):
        raise BundleError(f"{mf}: version must be an integer, got {manifest['version']!r}")
    if manifest.get("version", 0) > BUNDLE_VERSION:
        raise BundleError(f"{mf}: bundle version {manifest['version']} is newer than this code ({BUNDLE_VERSION})")
    missing = [k for k in ("model_config", "files") if not isinstance(manifest.get(k), dict)]
    if missing:
        raise BundleError(f"{mf}: missing or malformed field(s) {missing}")
    return manifest


def verify_files(path: Path, manifest: dict[str, Any], checksums: bool = True) -> None:
    """Every listed file exists with its recorded size (and sha256): catches truncated or swapped files."""
    for name, want in manifest.get("files", {}).items():
        f = path / name
        if not isinstance(want, dict) or not isinstance(want.get("bytes"), int) or "sha256" not in want:
            raise BundleError(f"{path / 'bundle.json'}: malformed entry for {name}: {want!r}")
        if not f.is_file():
            raise BundleError(f"{f}: missing (listed in bundle.json)")
        if f.stat().st_size != want["bytes"]:
            raise BundleError(f"{f}: {f.stat().st_size} bytes, bundle.json records {want['bytes']}")
        if checksums and _describe(f)["sha256"] != want["sha256"]:
            raise BundleError(f"{f}: sha256 differs from bundle.json (file replaced or corrupt)")


def load_model(
    path: str | Path, device: str | torch.device = "cpu", checksums: bool = True, merge_lora: bool = True
) -> SpeechLLM:
    """Rebuild a SpeechLLM from a bundle folder written by `save_bundle`. A LoRA bundle's update is merged
    into the LLM's weights unless `merge_lora=False` (to resume training it)."""
    from speech_proactive.model.tokenizer import load_tokenizer

    path = Path(path)
    manifest = read_manifest(path)
    verify_files(path, manifest, checksums)
    try:
        # bundles written before byte-level CTC existed carry a token CTC head and no `ctc_units`
        cfg = ModelConfig.from_dict({"ctc_units": "tokens", **manifest["model_config"]}, coerce=False)
        cfg.validate()
    except (TypeError, ValueError) as e:
        raise BundleError(f"{path / 'bundle.json'}: bad model_config ({e})") from e
    llm = load_llm(path / "llm")
    lora_cfg = _load_lora(llm, path, manifest, merge_lora)
    try:
        model = SpeechLLM(cfg, llm, load_tokenizer(path / "tokenizer"))
    except (TypeError, ValueError, OSError) as e:
        raise BundleError(f"{path}: parts do not fit together ({e})") from e
    model.lora = lora_cfg
    load_audio_weights(model, path / AUDIO_WEIGHTS)
    return model.to(device).eval()


def _load_lora(llm: nn.Module, path: Path, manifest: dict[str, Any], merge: bool) -> lora.LoRAConfig | None:
    """Add a LoRA bundle's update to `llm`; the config it stays under (None once merged or without LoRA)."""
    if "lora" not in manifest:
        return None
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        cfg = lora.LoRAConfig.from_dict(manifest["lora"])
        lora.add_lora(llm, cfg)
        lora.load_lora_state(llm, load_file(str(path / lora.LORA_WEIGHTS)), str(path / lora.LORA_WEIGHTS))
    except (TypeError, ValueError, SafetensorError, OSError) as e:
        raise BundleError(f"{path}: bad LoRA part ({e})") from e
    if merge:
        lora.merge_lora(llm)
        return None
    return cfg


def load_audio_weights(model: SpeechLLM, file: Path) -> None:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        state = load_file(str(file))
    except (SafetensorError, OSError) as e:
        raise BundleError(f"{file}: unreadable weights ({e})") from e
    for prefix, module in (("encoder.", model.encoder), ("adapter.", model.adapter), ("ctc.", model.ctc_head)):
        part = {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
        if prefix == "encoder.":  # written before the input norm existed: identity
            part.setdefault("mel_mean", torch.zeros_like(module.mel_mean))
            part.setdefault("mel_std", torch.ones_like(module.mel_std))
        load_strict(module, part, f"{file} ({prefix.rstrip('.')})")


def load_strict(module: nn.Module, state: dict[str, torch.Tensor], source: str) -> None:
    """load_state_dict, but every missing, unexpected or wrongly shaped tensor is named in one error."""
    own = module.state_dict()
    problems = [f"missing {k} {tuple(v.shape)}" for k, v in own.items() if k not in state]
    problems += [f"unexpected {k}" for k in state if k not in own]
    problems += [
        f"{k}: shape {tuple(state[k].shape)} in file, model expects {tuple(v.shape)}"
        for k, v in own.items()
        if k in state and state[k].shape != v.shape
    ]
    if problems:
        shown = "; ".join(problems[:8]) + (f"; ... {len(problems) - 8} more" if len(problems) > 8 else "")
        raise BundleError(f"{source}: weights do not match the model config: {shown}")
    module.load_state_dict(state)


def load_llm(path: str | Path) -> nn.Module:
    """A Hugging Face causal LM from a local folder (never the hub)."""
    from transformers import AutoModelForCausalLM
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    path = Path(path)
    if not (path / "config.json").is_file():
        raise BundleError(f"{path}: not a Hugging Face model folder (no config.json)")
    try:
        return AutoModelForCausalLM.from_pretrained(str(path), local_files_only=True, dtype=torch.float32)
    except Exception as e:  # safetensors, torch and transformers each raise their own types for a bad file
        raise BundleError(f"{path}: cannot load the LLM ({type(e).__name__}: {e})") from e
