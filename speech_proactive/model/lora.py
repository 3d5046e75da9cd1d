"""LoRA on the LLM through peft: only low-rank updates of chosen projections train, the LLM's weights stay.

A bundle of a LoRA run keeps the LLM's (unchanged) weights in `llm/` as usual and the low-rank matrices in
`lora.safetensors`, with the LoRA settings in bundle.json. Loading for use merges them into the weights
(W + alpha/r * B A), so inference costs the same as without LoRA; loading to resume training keeps them apart,
so the next step is the one the killed run would have taken.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

LORA_WEIGHTS = "lora.safetensors"
_MARK = ".lora_"  # peft names its matrices `<module>.lora_A.<adapter>.weight` / `lora_B`
_BASE = ".base_layer."  # and moves the wrapped layer's own weights under `<module>.base_layer.`


@dataclass(frozen=True)
class LoRAConfig:
    r: int = 0  # rank; 0: no LoRA, the whole LLM trains (unless frozen)
    alpha: float = 16.0  # the update is scaled by alpha / r
    dropout: float = 0.0
    targets: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "o_proj")  # module names inside the LLM

    def __post_init__(self) -> None:  # YAML gives a list (or one name); the config stays hashable
        targets = (self.targets,) if isinstance(self.targets, str) else tuple(self.targets)
        object.__setattr__(self, "targets", targets)

    @property
    def enabled(self) -> bool:
        return self.r > 0

    def validate(self) -> None:
        if self.r < 0:
            raise ValueError(f"lora.r={self.r}: must be 0 (off) or a positive rank")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"lora.dropout={self.dropout}: must be in [0, 1)")
        if self.enabled and not self.targets:
            raise ValueError("lora.targets is empty: name the LLM's projections to adapt (e.g. q_proj, v_proj)")

    def to_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "targets": list(self.targets)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LoRAConfig:
        return cls(**d)


def add_lora(llm: nn.Module, cfg: LoRAConfig) -> None:
    """Wrap the target projections of `llm` in place; afterwards only the LoRA matrices require grad."""
    try:
        from peft import LoraConfig, inject_adapter_in_model
    except ImportError as e:
        raise RuntimeError("lora.r > 0 needs the peft package (pip install peft)") from e
    cfg.validate()
    names = {n.rsplit(".", 1)[-1] for n, _ in llm.named_modules()}
    missing = [t for t in cfg.targets if t not in names]
    if missing:
        raise ValueError(f"lora.targets {missing} name no module of the LLM ({type(llm).__name__})")
    peft_cfg = LoraConfig(r=cfg.r, lora_alpha=cfg.alpha, lora_dropout=cfg.dropout, target_modules=list(cfg.targets))
    inject_adapter_in_model(peft_cfg, llm)


def has_lora(llm: nn.Module) -> bool:
    return any(_MARK in n for n, _ in llm.named_parameters())


def lora_state(llm: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v for k, v in llm.state_dict().items() if _MARK in k}


def base_state(llm: nn.Module) -> dict[str, torch.Tensor]:
    """The LLM's own weights under their usual names, as if no LoRA had been added."""
    return {k.replace(_BASE, "."): v for k, v in llm.state_dict().items() if _MARK not in k}


def load_lora_state(llm: nn.Module, state: dict[str, torch.Tensor], source: str) -> None:
    own = lora_state(llm)
    problems = sorted(set(own) ^ set(state)) + [k for k in own if k in state and own[k].shape != state[k].shape]
    if problems:
        raise ValueError(f"{source}: LoRA weights do not match the LoRA settings ({', '.join(problems[:4])} ...)")
    llm.load_state_dict(state, strict=False)


def merge_lora(llm: nn.Module) -> None:
    """Fold every LoRA update into its layer's weight and put the plain layer back."""
    from peft.tuners.lora import LoraLayer

    wrapped = [(n, m) for n, m in llm.named_modules() if isinstance(m, LoraLayer)]
    for name, module in wrapped:
        module.merge()
        parent, _, child = name.rpartition(".")
        setattr(llm.get_submodule(parent) if parent else llm, child, module.get_base_layer())


def attach(model: nn.Module, cfg: LoRAConfig) -> None:
    """Give a SpeechLLM's LLM LoRA layers (a no-op when `cfg` is off or the model already has them)."""
    if cfg.enabled and model.lora is None:
        add_lora(model.lm.model, cfg)
        model.lora = cfg
