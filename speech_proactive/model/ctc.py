"""The auxiliary CTC head (training only): it keeps the audio side about the words from the first step.

Measured: trained from scratch without it, the LLM learnt the text prior first and then drove every source
vector to one constant (cosine 0.99999 between utterances), after which no gradient asked it to listen.

Two unit choices (`ModelConfig.ctc_units`):
- "bytes": UTF-8 bytes of the normalised transcript, on the encoder output (50 Hz). No vocabulary to store,
  any language; umlauts take two frames, which 50 Hz affords.
- "tokens": the LLM's tokens, on the adapter output (12.5 Hz): the very vectors the LLM reads.
"""

from __future__ import annotations

import re

import torch
import torch.nn.functional as F
from torch import Tensor, nn

BYTE_BLANK = 0  # byte b is class b + 1
N_BYTE_CLASSES = 257


def normalise_transcript(text: str) -> str:
    """What speech carries: lower case, letters, digits and apostrophes, single spaces."""
    return " ".join(re.sub(r"[^\w' ]+", " ", text.lower()).split())


def byte_targets(text: str) -> Tensor:
    return torch.tensor([b + 1 for b in normalise_transcript(text).encode("utf-8")], dtype=torch.long)


def bytes_to_text(classes: list[int]) -> str:
    return bytes(c - 1 for c in classes if c != BYTE_BLANK).decode("utf-8", errors="replace")


def make_head(n_in: int, n_classes: int) -> nn.Module:
    # its own LayerNorm: adapter outputs sit at the token embeddings' small scale (adapter.out_norm)
    return nn.Sequential(nn.LayerNorm(n_in), nn.Linear(n_in, n_classes))


def ctc_loss(head: nn.Module, features: Tensor, n_frames: Tensor, targets: list[Tensor], blank: int) -> Tensor:
    """Mean over the batch of CTC NLL per target unit; `features` [B, T, D] with `n_frames` [B] valid."""
    log_probs = F.log_softmax(head(features).float(), dim=-1).transpose(0, 1)  # [T, B, V]
    lengths = torch.tensor([len(t) for t in targets])
    return F.ctc_loss(
        log_probs,
        torch.cat(targets).to(features.device),
        n_frames,
        lengths,
        blank=blank,
        reduction="mean",
        zero_infinity=True,
    )


def greedy(head: nn.Module, features: Tensor, n_frames: int, blank: int) -> list[int]:
    """Best path of one utterance ([T, D] features): repeats merged, blanks dropped."""
    best = head(features[:n_frames]).argmax(-1).tolist()
    return [c for i, c in enumerate(best) if c != blank and (i == 0 or c != best[i - 1])]
