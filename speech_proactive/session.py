"""A streaming session: audio in, READ/WRITE decisions by a policy, text out.

Per 320 ms chunk: frontend -> encoder step (KV cache) -> adapter -> LLM read (same KV cache as the output).
After each chunk the policy is asked, token by token, whether to WRITE now or READ the next chunk. To let a
policy look at the next-token distribution given all it has heard, the pending token is fed; if the policy
then says READ, that one entry is dropped again so that it is recomputed with the new audio.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor

from speech_proactive import audio
from speech_proactive.config import DecodeOptions, TaskSpec
from speech_proactive.encoder import EncoderState
from speech_proactive.frontend import MelState, MelStream
from speech_proactive.lm import LMState
from speech_proactive.model import SpeechLLM
from speech_proactive.policies import Action, Offline, Policy, PolicyView


@dataclass(frozen=True)
class Emission:
    text: str  # new text since the previous emission
    token_ids: tuple[int, ...]
    source_ms: float  # audio heard when these tokens were written
    compute_ms: float  # processing time of the chunk that triggered them, up to this emission


@dataclass
class StreamState:
    mel: MelState = field(default_factory=MelState)
    encoder: EncoderState = field(default_factory=EncoderState)
    lm: LMState = field(default_factory=LMState)
    pending_mel: Tensor | None = None  # [1, n_mels, < chunk frames] waiting for a full chunk
    n_chunks_read: int = 0
    source_finished: bool = False
    tokens: list[int] = field(default_factory=list)
    token_n_source: list[int] = field(default_factory=list)  # source vectors each written token's query saw
    pending_token: int = -1  # last written token (or the start token), not yet fed to the LLM
    done: bool = False  # EOS written or the length cap reached
    text: str = ""  # text emitted so far

    def reset(self) -> None:
        self.mel.reset()
        self.encoder.reset()
        self.lm.reset()
        self.pending_mel = None
        self.n_chunks_read = 0
        self.source_finished = False
        self.tokens = []
        self.token_n_source = []
        self.pending_token = -1
        self.done = False
        self.text = ""


class Session:
    def __init__(self, model: SpeechLLM, policy: Policy | None = None, task: TaskSpec = TaskSpec(),
                 options: DecodeOptions = DecodeOptions()):
        self.model = model.eval()
        self.policy = policy or Offline()
        self.task = task
        self.options = options
        self.state = StreamState()
        self._mel = MelStream(model.cfg.frontend)
        self.reset()

    def reset(self) -> None:
        self.state.reset()
        self._mel.state = self.state.mel
        with torch.inference_mode():
            self.model.lm.start(self.state.lm, self.model.prompt_ids(self.task))
        self.state.pending_token = self.model.start_id

    @property
    def heard_ms(self) -> float:
        return audio.samples_to_ms(self.state.mel.n_samples)

    @torch.inference_mode()
    def push_audio(self, samples: np.ndarray, finished: bool = False) -> list[Emission]:
        """Feed 16 kHz mono float32 samples (any count, possibly none); `finished` marks the end of input."""
        if self.state.source_finished:
            raise RuntimeError("push_audio after the input was finished: call reset() for a new utterance")
        t0 = time.perf_counter()
        samples = audio.to_float32(samples, "push_audio")  # int PCM is scaled; NaN/Inf is an error
        if samples.ndim != 1:
            raise audio.AudioError(f"push_audio: expected 16 kHz mono samples (n,), got shape {samples.shape}")
        mel = self._mel.push(samples)[None].to(self.model.device)
        s = self.state
        s.pending_mel = mel if s.pending_mel is None else torch.cat([s.pending_mel, mel], dim=2)
        emissions = []
        n = self.model.cfg.encoder.chunk_mel_frames
        while s.pending_mel.shape[2] >= n:
            chunk, s.pending_mel = s.pending_mel[:, :, :n], s.pending_mel[:, :, n:]
            emissions += self._read_chunk(chunk, t0)
            t0 = time.perf_counter()
        if finished:
            if s.pending_mel.shape[2] > 0:
                self._read_source(s.pending_mel)
            s.pending_mel = s.pending_mel[:, :, :0]
            s.source_finished = True
            emissions += self._decide_and_write(t0)
        return emissions

    def _read_chunk(self, mel_chunk: Tensor, t0: float) -> list[Emission]:
        self._read_source(mel_chunk)
        self.state.n_chunks_read += 1
        return self._decide_and_write(t0)

    def _read_source(self, mel: Tensor) -> None:
        vectors = self.model.adapter(self.model.encoder.step(mel, self.state.encoder))
        self.model.lm.read(self.state.lm, vectors[0])

    def _decide_and_write(self, t0: float) -> list[Emission]:
        s, lm = self.state, self.model.lm
        new: list[int] = []
        while not s.done:
            if len(s.tokens) >= self._max_tokens():
                s.done = True
                break
            out = lm.write(s.lm, s.pending_token) if self.policy.needs_logits or s.source_finished else None
            if not s.source_finished:
                view = PolicyView(s.n_chunks_read, False, len(s.tokens), None if out is None else out.logits[0, -1])
                if self.policy.decide(view) is Action.READ:
                    if out is not None:
                        lm.unwrite(s.lm)
                    break
            if out is None:
                out = lm.write(s.lm, s.pending_token)
            token = int(out.logits[0, -1].argmax())
            if token == self.model.eos_id:
                s.done = True
                break
            s.tokens.append(token)
            s.token_n_source.append(s.lm.n_source)
            s.pending_token = token
            new.append(token)
        return self._emit(new, t0)

    def _max_tokens(self) -> int:
        n_chunks = max(1, self.state.n_chunks_read + int(self.state.source_finished))
        return self.options.max_tokens_per_chunk * n_chunks + self.options.max_tokens_extra

    def _emit(self, new: list[int], t0: float) -> list[Emission]:
        s = self.state
        if not new and not s.done:  # nothing written: skip re-decoding the whole output on every chunk
            return []
        text = self.model.tokenizer.decode(s.tokens, skip_special_tokens=True)
        if text.endswith("\ufffd") and not s.done:  # an incomplete UTF-8 character: wait for its other bytes
            text = text.rstrip("\ufffd")
        if not new and text == s.text:
            return []
        delta = text[len(s.text):] if text.startswith(s.text) else text
        s.text = text
        compute_ms = (time.perf_counter() - t0) * 1000
        source_ms = self.heard_ms if s.source_finished else s.n_chunks_read * self.model.cfg.encoder.chunk_ms
        return [Emission(delta, tuple(new), source_ms, compute_ms)]

    @property
    def final_text(self) -> str:
        return self.state.text.strip()
