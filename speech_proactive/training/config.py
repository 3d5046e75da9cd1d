"""Training configuration: one dataclass, loadable from a recipe's YAML file plus `key=value` overrides."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from speech_proactive.config import ModelConfig, coerce_fields
from speech_proactive.model.lora import LoRAConfig
from speech_proactive.model.speech_llm import LLMSize
from speech_proactive.training.augment import AugmentConfig
from speech_proactive.training.losses import LossConfig


@dataclass(frozen=True)
class TrainConfig:
    train: tuple[str, ...] = ()  # manifests (JSONL)
    dev: tuple[str, ...] = ()
    out: str = "runs/st"  # run folder: checkpoints/, log.jsonl, loss.png, bundle/ (the best model)
    tasks: tuple[str, ...] = ("st", "asr")
    model: ModelConfig = field(default_factory=ModelConfig)
    llm: LLMSize = field(default_factory=LLMSize)
    vocab_size: int = 2000  # BPE trained on the training text when no pretrained LLM is given
    whisper: str | None = None  # pretrained parts (optional)
    llm_dir: str | None = None
    loss: LossConfig = field(default_factory=LossConfig)
    ctc_warmup_steps: int = 0  # first steps train the audio side with CTC alone (LLM untouched)
    # First steps train the LLM on the corpus text (the source transcript's token embeddings as the source,
    # L_batch) while the audio side trains on CTC: the LLM learns to translate before it learns to listen.
    text_warmup_steps: int = 0
    # false: the text warm-up trains the LLM alone (a text step costs a fraction of an audio one, so a task the
    # LLM learns slowly, like QA, gets many more of them; the audio side then needs ctc_warmup_steps)
    text_warmup_ctc: bool = True
    batch_size: int = 16
    max_steps: int = 2000
    lr: float = 1e-3
    # the LLM's own peak learning rate (None: `lr`). Measured on the grammar corpus with text as the source:
    # 1e-3 learnt the copy (ASR) task to 0.08 nats/token in 275 steps, 3e-3 stayed at 0.6.
    llm_lr: float | None = None
    warmup_steps: int = 100
    weight_decay: float = 0.01
    grad_clip: float = 1.0
    eval_every: int = 500
    eval_n: int = 100  # dev utterances decoded for BLEU at each evaluation
    save_every: int = 250
    keep_last: int = 2
    seed: int = 0
    device: str = "auto"  # "auto" (cuda when there is one), "cpu", "cuda"
    # "bf16": autocast matrix products to bfloat16 (weights, optimizer and losses stay fp32). On a GPU; and on
    # a CPU with AVX-512 (oneDNN's bf16 kernels), where it trained the default recipe faster (README "Training");
    # on other CPUs train.usable_precision falls back to fp32 with a warning.
    precision: str = "fp32"
    freeze: tuple[str, ...] = ()  # parts not trained: "encoder", "adapter", "llm" (e.g. a pretrained encoder)
    # > 0: of the encoder, only its top N blocks and final norm train (convolutions, positions and lower blocks
    # keep their pretrained weights): fine-tuning a pretrained Whisper to the block-causal mask for less
    encoder_top_layers: int = 0
    lora: LoRAConfig = field(default_factory=LoRAConfig)  # lora.r > 0: the LLM trains only LoRA matrices
    tensorboard: bool = False  # also write the logged scalars as TensorBoard events to OUT/tensorboard
    augment: AugmentConfig = field(default_factory=AugmentConfig)  # training audio only (augment.py)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _set(d: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, leaf = dotted.split(".")
    for p in parents:
        d = d.setdefault(p, {})
    d[leaf] = value


def load_train_config(path: str | Path | None, overrides: list[str] = ()) -> TrainConfig:
    """YAML file (nested like the dataclasses) + overrides such as `loss.spsd=false max_steps=100`."""
    raw: dict[str, Any] = yaml.safe_load(Path(path).read_text()) if path else {}
    raw = raw or {}
    for o in overrides:
        if "=" not in o:
            raise ValueError(f"override {o!r} is not key=value")
        key, value = o.split("=", 1)
        _set(raw, key, yaml.safe_load(value))
    return from_dict(raw)


def from_dict(raw: dict[str, Any]) -> TrainConfig:
    names = {f.name for f in dataclasses.fields(TrainConfig)}
    unknown = set(raw) - names
    if unknown:
        raise ValueError(f"unknown training option(s) {sorted(unknown)}; known: {sorted(names)}")
    d = dict(raw)
    d["model"] = ModelConfig.from_dict(raw.get("model", {}))
    d["llm"] = _sub(LLMSize, raw.get("llm", {}), "llm")
    d["loss"] = _sub(LossConfig, raw.get("loss", {}), "loss")
    d["lora"] = _sub(LoRAConfig, raw.get("lora", {}), "lora")
    d["augment"] = _sub(AugmentConfig, raw.get("augment", {}), "augment")
    for k in ("train", "dev", "tasks", "freeze"):
        if k in d:
            d[k] = tuple([d[k]] if isinstance(d[k], str) else d[k])
    cfg = TrainConfig(**coerce_fields(TrainConfig, d))
    _check_choices(cfg)
    return cfg


def _check_choices(cfg: TrainConfig) -> None:
    bad_tasks = [t for t in cfg.tasks if t not in ("st", "asr", "qa")]
    if bad_tasks:
        raise ValueError(f"tasks: unknown task(s) {bad_tasks}; choose from st, asr, qa")
    bad = [f for f in cfg.freeze if f not in ("encoder", "adapter", "llm")]
    if bad:
        raise ValueError(f"freeze: unknown part(s) {bad}; choose from encoder, adapter, llm")
    cfg.lora.validate()
    if cfg.encoder_top_layers < 0:
        raise ValueError(f"encoder_top_layers={cfg.encoder_top_layers}: 0 trains every layer, N > 0 the top N")
    if cfg.encoder_top_layers and "encoder" in cfg.freeze:
        raise ValueError("freeze: [encoder] and encoder_top_layers > 0 contradict each other")
    if cfg.lora.enabled and "llm" in cfg.freeze:
        raise ValueError("freeze: [llm] and lora.r > 0 contradict each other: LoRA trains inside the LLM")
    if cfg.precision not in ("fp32", "bf16"):
        raise ValueError(f"precision={cfg.precision!r}: choose fp32 or bf16")
    if cfg.device not in ("auto", "cpu", "cuda"):
        raise ValueError(f"device={cfg.device!r}: choose auto, cpu or cuda")


def _sub(cls: type, d: dict[str, Any], name: str) -> Any:
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = set(d) - names
    if unknown:
        raise ValueError(f"unknown {name} option(s) {sorted(unknown)}; known: {sorted(names)}")
    return cls(**coerce_fields(cls, d))
