"""The speech LLM: streaming Whisper encoder -> adapter -> decoder-only LLM, plus its tokenizer."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from transformers import PreTrainedTokenizerBase

from speech_proactive.config import ModelConfig, TaskSpec
from speech_proactive.model import ctc
from speech_proactive.model import tokenizer as tk
from speech_proactive.model.adapter import Adapter
from speech_proactive.model.encoder import StreamingEncoder
from speech_proactive.model.llm.streaming_lm import StreamingLM


@dataclass(frozen=True)
class LLMSize:
    """Shape of a randomly initialised Qwen2-style LLM, for when no pretrained LLM directory is given."""

    hidden_size: int = 256
    intermediate_size: int = 768
    num_hidden_layers: int = 4
    num_attention_heads: int = 4
    num_key_value_heads: int = 2
    max_position_embeddings: int = 4096
    tie_word_embeddings: bool = True  # saves vocab x hidden parameters; an untrained tied model echoes its input


def random_llm(size: LLMSize, vocab_size: int, seed: int = 0) -> nn.Module:
    from transformers import Qwen2Config, Qwen2ForCausalLM

    cfg = Qwen2Config(vocab_size=vocab_size, **size.__dict__)
    torch.manual_seed(seed)
    return Qwen2ForCausalLM(cfg)


class SpeechLLM(nn.Module):
    def __init__(self, cfg: ModelConfig, llm: nn.Module, tokenizer: PreTrainedTokenizerBase):
        super().__init__()
        cfg.validate()
        self.cfg = cfg
        self.tokenizer = tokenizer
        self.lora = None  # a lora.LoRAConfig while the LLM carries unmerged LoRA layers (lora.py)
        self.encoder = StreamingEncoder(cfg.encoder)
        self.lm = StreamingLM(llm, cfg.layout.target_position_offset)
        emb = self.lm.model.get_input_embeddings().weight
        self.adapter = Adapter(
            cfg.adapter,
            cfg.encoder.n_audio_state,
            self.lm.hidden_size,
            embedding_rms=float(emb.detach().pow(2).mean().sqrt()),
            embedding=self.lm.model.get_input_embeddings(),
        )
        if len(tokenizer) > self.lm.vocab_size:
            raise ValueError(
                f"tokenizer has {len(tokenizer)} tokens but the LLM's vocabulary only "
                f"{self.lm.vocab_size}: they do not belong together"
            )
        self.start_id = tk.start_id(tokenizer)
        self.eos_id = tk.eos_id(tokenizer)
        # CTC over LLM tokens (the token head, or the adapter's distribution) uses the pad token as its blank
        self.token_blank_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else self.eos_id
        if cfg.ctc_units == "bytes":
            self.blank_id = ctc.BYTE_BLANK
            self.ctc_head = ctc.make_head(cfg.encoder.n_audio_state, ctc.N_BYTE_CLASSES)
        else:
            self.blank_id = self.token_blank_id
            self.ctc_head = ctc.make_head(self.lm.hidden_size, len(tokenizer))

    @functools.cached_property
    def word_starts(self) -> list[bool]:
        """Per token id the LLM can output: does it begin a new word (the session's unit of output)?
        An LLM may have more rows than its tokenizer has tokens (Qwen2.5: 151,936 vs 151,665): those count
        as boundaries."""
        starts = tk.word_starts(self.tokenizer)
        return starts + [True] * (self.lm.vocab_size - len(starts))

    @property
    def vectors_per_chunk(self) -> int:
        return self.cfg.encoder.chunk_enc_frames // self.cfg.adapter.stack

    @property
    def device(self) -> torch.device:
        return self.adapter.proj_in.weight.device

    def prompt_ids(self, task: TaskSpec) -> Tensor:
        ids = self.tokenizer(task.prompt(), add_special_tokens=False)["input_ids"]
        return torch.tensor(ids, dtype=torch.long, device=self.device)

    def source_vectors(self, mel: Tensor) -> Tensor:
        """[B, n_mels, T] -> [B, S, d_llm] with the streaming (block-causal) encoder, in one pass."""
        return self.adapter(self.encoder.forward_blockwise(mel))

    def transcript_ids(self, text: str) -> Tensor:
        """CTC targets of a source transcript, in the head's units (`ModelConfig.ctc_units`)."""
        if self.cfg.ctc_units == "bytes":
            return ctc.byte_targets(text).to(self.device)
        return self.text_ids(text)

    def text_ids(self, text: str) -> Tensor:
        ids = self.tokenizer(text, add_special_tokens=False)["input_ids"]
        return torch.tensor(ids, dtype=torch.long, device=self.device)

    def target_ids(self, text: str) -> Tensor:
        """`<start> y_1 .. y_L <eos>`: position t's outputs predict token t + 1."""
        ids = self.tokenizer(text, add_special_tokens=False)["input_ids"]
        return torch.tensor([self.start_id, *ids, self.eos_id], dtype=torch.long, device=self.device)
