"""Adapter: stack consecutive encoder frames and map them into the LLM's embedding space."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from speech_proactive.config import AdapterConfig


class Adapter(nn.Module):
    def __init__(self, cfg: AdapterConfig, d_encoder: int, d_llm: int, embedding_rms: float = 1.0):
        super().__init__()
        self.stack = cfg.stack
        self.proj_in = nn.Linear(cfg.stack * d_encoder, cfg.hidden)
        self.proj_out = nn.Linear(cfg.hidden, d_llm)
        self.out_norm = nn.LayerNorm(d_llm) if cfg.out_norm else None
        if self.out_norm is not None:
            nn.init.constant_(self.out_norm.weight, embedding_rms)

    def forward(self, frames: Tensor) -> Tensor:
        """[B, n, d_encoder] -> [B, ceil(n / stack), d_llm].

        A ragged tail (only ever the end of an utterance: a chunk holds a whole number of stacks) is padded
        with zero frames, the same in batch and streaming.
        """
        b, n, d = frames.shape
        frames = F.pad(frames, (0, 0, 0, -n % self.stack))
        stacked = frames.reshape(b, -1, self.stack * d)
        out = self.proj_out(F.gelu(self.proj_in(stacked)))
        return out if self.out_norm is None else self.out_norm(out)
