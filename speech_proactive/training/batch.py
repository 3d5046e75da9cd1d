"""Training batches: padded tensors plus one layout (`layout.Entries`) per example."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass(frozen=True)
class Example:
    mel: Tensor  # [n_mels, T] log-mel of the whole utterance (T even, see StreamingEncoder.forward_blockwise)
    prompt_ids: Tensor  # [P]
    target_ids: Tensor  # [L + 2]: <start> y_1 .. y_L <eos>
    transcript_ids: Tensor  # source transcript tokens, for the auxiliary CTC loss
    source_ids: Tensor | None = None  # the source transcript in LLM tokens, for the text warm-up


@dataclass(frozen=True)
class Batch:
    mel: Tensor  # [B, n_mels, T_max], zero-padded
    n_mel_frames: Tensor  # [B]
    prompts: list[Tensor]
    targets: list[Tensor]
    transcripts: list[Tensor]
    sources: list[Tensor] | None = None  # Example.source_ids

    def __len__(self) -> int:
        return len(self.prompts)

    def to(self, device: torch.device | str) -> Batch:
        move = lambda ts: None if ts is None else [t.to(device) for t in ts]  # noqa: E731
        return Batch(
            self.mel.to(device),
            self.n_mel_frames.to(device),
            move(self.prompts),
            move(self.targets),
            move(self.transcripts),
            move(self.sources),
        )


def even_frames(mel: Tensor) -> Tensor:
    """Drop a final odd mel frame (10 ms) so that padded batches equal streaming exactly."""
    return mel[:, : mel.shape[1] - mel.shape[1] % 2]


def collate(examples: list[Example]) -> Batch:
    lengths = torch.tensor([e.mel.shape[1] for e in examples])
    if bool((lengths % 2).any()):
        raise ValueError("examples need an even number of mel frames: pass mel through batch.even_frames")
    mel = torch.zeros(len(examples), examples[0].mel.shape[0], int(lengths.max()))
    for i, e in enumerate(examples):
        mel[i, :, : e.mel.shape[1]] = e.mel
    sources = [e.source_ids for e in examples] if all(e.source_ids is not None for e in examples) else None
    return Batch(
        mel,
        lengths,
        [e.prompt_ids for e in examples],
        [e.target_ids for e in examples],
        [e.transcript_ids for e in examples],
        sources,
    )
