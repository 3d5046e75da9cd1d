"""Adapter: stack consecutive encoder frames and map them into the LLM's embedding space."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from speech_proactive.config import AdapterConfig


class Adapter(nn.Module):
    def __init__(
        self,
        cfg: AdapterConfig,
        d_encoder: int,
        d_llm: int,
        embedding_rms: float = 1.0,
        embedding: nn.Embedding | None = None,
    ):
        super().__init__()
        self.stack = cfg.stack
        self.proj_in = nn.Linear(cfg.stack * d_encoder, cfg.hidden)
        if cfg.output == "tokens":
            if embedding is None:
                raise ValueError("adapter output='tokens' needs the LLM's input embedding")
            self.to_vocab = nn.Linear(cfg.hidden, embedding.num_embeddings)
            self._embedding = (embedding,)  # a tuple: the LLM owns (and saves) it, not the adapter
            return
        self.proj_out = nn.Linear(cfg.hidden, d_llm)
        self.out_norm = nn.LayerNorm(d_llm) if cfg.out_norm else None
        if self.out_norm is not None:
            nn.init.constant_(self.out_norm.weight, embedding_rms)

    def forward(self, frames: Tensor) -> Tensor:
        """[B, n, d_encoder] -> [B, ceil(n / stack), d_llm]."""
        return self.forward_with_logits(frames)[0]

    def forward_with_logits(self, frames: Tensor) -> tuple[Tensor, Tensor | None]:
        """The vectors and, with output='tokens', the vocabulary logits they come from.

        A ragged tail (only ever the end of an utterance: a chunk holds a whole number of stacks) is padded
        with zero frames, the same in batch and streaming.
        """
        b, n, d = frames.shape
        frames = F.pad(frames, (0, 0, 0, -n % self.stack))
        h = F.gelu(self.proj_in(frames.reshape(b, -1, self.stack * d)))
        if hasattr(self, "to_vocab"):
            logits = self.to_vocab(h)
            weights = self._embedding[0].weight
            return torch.softmax(logits.float(), dim=-1).to(weights.dtype) @ weights, logits
        out = self.proj_out(h)
        return (out if self.out_norm is None else self.out_norm(out)), None
