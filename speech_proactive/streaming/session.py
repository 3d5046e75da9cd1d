"""A streaming session: audio in, READ/WRITE decisions by a policy, text out.

Per 320 ms chunk: frontend -> encoder step (KV cache) -> adapter -> LLM read (same KV cache as the output).
After each chunk the policy is asked, word by word (`DecodeOptions.granularity`), whether to WRITE the next
word now or READ the next chunk. To let a policy look at the next-token distribution (or attention, or the
last hidden state for the learned probe) given all it has heard, the pending token is fed; if the policy
then says READ, that entry is dropped again so that it is recomputed with the new audio. A WRITE emits
tokens until the next one would start a new word. Re-decoding baselines (hold-n, LocalAgreement) get the
greedy continuation, computed the same way and dropped again.

Apart from the prompt at `reset` and the undo of a peek, the streaming logic does not call the model: it yields
model operations (model_ops.py) and gets their results back, so that one stream runs them one by one (`push_audio`)
and a server runs many streams' operations as batched forwards (lockstep.py), through the same decisions.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from speech_proactive import audio
from speech_proactive.config import DecodeOptions, TaskSpec
from speech_proactive.model.encoder import EncoderState
from speech_proactive.model.frontend import MelState, MelStream
from speech_proactive.model.llm.streaming_lm import LMOutput, LMState
from speech_proactive.model.speech_llm import SpeechLLM
from speech_proactive.streaming import model_ops
from speech_proactive.streaming.model_ops import Encode, Mel, Read, ReadWrite, Steps, Write
from speech_proactive.streaming.policies import Action, Offline, Policy, PolicyView


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
    n_words: int = 0  # words begun among `tokens`
    previous_hypothesis: tuple[int, ...] | None = None  # written + greedy continuation, one chunk earlier
    done: bool = False  # EOS written or the length cap reached
    text: str = ""  # text emitted so far
    # the last written word is known to be whole: writing stopped where the next token starts a word or is EOS
    last_word_complete: bool = False

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
        self.n_words = 0
        self.previous_hypothesis = None
        self.done = False
        self.text = ""
        self.last_word_complete = False


def complete_words(text: str) -> int:
    """Words known to be finished from the text alone: all but the last, unless whitespace already follows it."""
    n = len(text.split())
    return n if n == 0 or text[-1].isspace() else n - 1


class Session:
    def __init__(
        self,
        model: SpeechLLM,
        policy: Policy | None = None,
        task: TaskSpec = TaskSpec(),
        options: DecodeOptions = DecodeOptions(),
    ):
        self.model = model.eval()
        self.policy = policy or Offline()
        self.task = task
        self.options = options
        self.state = StreamState()
        self._mel = MelStream(model.cfg.frontend)
        self._word_start = model.word_starts
        self.reset()

    @classmethod
    def from_bundle(
        cls,
        bundle: str | Path,
        policy: str = "offline",
        task: str = "st",
        src_lang: str | None = None,
        tgt_lang: str | None = None,
        question: str = "",
        options: DecodeOptions = DecodeOptions(),
    ) -> Session:
        """A ready session: `Session.from_bundle("runs/st-default/bundle", policy="probe:q0.9", src_lang="de",
        tgt_lang="en")`. A language missing from the call is taken from what the bundle was trained on when
        that leaves one choice; a task or pair it was not trained on is refused with a list of what it knows."""
        from speech_proactive.streaming.from_bundle import open_session

        return open_session(bundle, policy, task, src_lang, tgt_lang, question, options)

    @property
    def chunk_ms(self) -> int:
        """The encoder's chunk: pushing audio in pieces of this size gives one decision per piece."""
        return self.model.cfg.encoder.chunk_ms

    def reset(self) -> None:
        self.state.reset()
        self._mel.state = self.state.mel
        with torch.inference_mode():
            self.model.lm.start(self.state.lm, self.model.prompt_ids(self.task))
        self.state.pending_token = self.model.start_id

    @property
    def heard_ms(self) -> float:
        return audio.samples_to_ms(self.state.mel.n_samples)

    def push_audio(self, samples: np.ndarray, finished: bool = False) -> list[Emission]:
        """Feed 16 kHz mono float32 samples (any count, possibly none); `finished` marks the end of input."""
        return model_ops.drive(self.push_audio_steps(samples, finished), self.model)

    def push_audio_steps(self, samples: np.ndarray, finished: bool = False) -> Steps[list[Emission]]:
        """`push_audio` as steps (model_ops.py): the model ops it needs are yielded, so that a scheduler can run
        several sessions' ops as batched forwards (lockstep.py). Run it under torch.inference_mode()."""
        if self.state.source_finished:
            raise RuntimeError("push_audio after the input was finished: call reset() for a new utterance")
        t0 = time.perf_counter()
        samples = audio.to_float32(samples, "push_audio")  # int PCM is scaled; NaN/Inf is an error
        if samples.ndim != 1:
            raise audio.AudioError(f"push_audio: expected 16 kHz mono samples (n,), got shape {samples.shape}")
        mel = (yield Mel(self._mel, samples))[None].to(self.model.device)
        s = self.state
        s.pending_mel = mel if s.pending_mel is None else torch.cat([s.pending_mel, mel], dim=2)
        emissions = []
        n = self.model.cfg.encoder.chunk_mel_frames
        while s.pending_mel.shape[2] >= n:
            chunk, s.pending_mel = s.pending_mel[:, :, :n], s.pending_mel[:, :, n:]
            emissions += yield from self._read_chunk(chunk, t0)
            t0 = time.perf_counter()
        if finished:
            if s.pending_mel.shape[2] > 0:
                vectors = yield Encode(s.pending_mel, s.encoder)
                yield Read(s.lm, vectors)
            s.pending_mel = s.pending_mel[:, :, :0]
            s.source_finished = True
            emissions += yield from self._decide_and_write(t0)
        return emissions

    def _read_chunk(self, mel_chunk: Tensor, t0: float) -> Steps[list[Emission]]:
        s, policy = self.state, self.policy
        vectors = yield Encode(mel_chunk, s.encoder)
        s.n_chunks_read += 1
        if policy.needs_continuation or s.done or len(s.tokens) >= self._max_tokens() or not self._feeds_pending():
            yield Read(s.lm, vectors)
            return (yield from self._decide_and_write(t0))
        # the pending token is fed next thing: compute its outputs with the read, in one LLM forward
        peek = yield ReadWrite(s.lm, vectors, s.pending_token, policy.needs_attention)
        return (yield from self._decide_and_write(t0, peek))

    def _feeds_pending(self) -> bool:
        """Whether the pending token is fed right after this chunk's read: always for a policy that peeks (it
        looks at its outputs first); for one that decides without the model (wait-k, the oracle), when it says
        WRITE now. It is pure, so `_decide_and_write` asking it again gets the same answer."""
        return self.policy.peeks or self.policy.decide(self._view(None)) is Action.WRITE

    def _decide_and_write(self, t0: float, peek: LMOutput | None = None) -> Steps[list[Emission]]:
        """Write words while the policy says WRITE. `peek`: the pending token's outputs, already written."""
        s, lm, policy = self.state, self.model.lm, self.policy
        hypothesis = (yield from self._hypothesis()) if policy.needs_continuation and not s.source_finished else None
        new: list[int] = []
        # A policy that needs no peek is asked before any compute wherever a word boundary is known in
        # advance: at entry (a READ always ends at one) and, with token granularity, before every token.
        cheap = not policy.peeks
        at_boundary = True
        while not s.done:
            if len(s.tokens) >= self._max_tokens():  # mid-stream the cap grows with the audio: wait for it
                s.done = s.source_finished
                s.last_word_complete = False  # the cap may cut a word
                break
            asked = cheap and at_boundary and not s.source_finished
            if asked and policy.decide(self._view(hypothesis)) is Action.READ:
                break
            attend = policy.needs_attention and not s.source_finished
            out = peek if peek is not None else (yield Write(s.lm, s.pending_token, attend))
            peek = None
            logits = out.logits[0, -1]
            token = int(logits.argmax())
            if not (asked or s.source_finished) and self._is_boundary(token):
                view = self._view(
                    hypothesis,
                    logits,
                    lm.source_attention(s.lm, out) if attend else None,
                    out.hidden[0, -1] if policy.needs_hidden else None,
                )
                if policy.decide(view) is Action.READ:
                    lm.unwrite(s.lm)
                    s.last_word_complete = self._starts_word(token)
                    break
            if token == self.model.eos_id and not s.source_finished:  # "done" on part of the input: wait
                lm.unwrite(s.lm)
                s.last_word_complete = True
                break
            at_boundary = self.options.granularity == "token"
            if token == self.model.eos_id:
                s.done = True
                break
            s.n_words += int(not s.tokens or self._word_start[token])
            s.tokens.append(token)
            s.token_n_source.append(s.lm.n_source)
            s.pending_token = token
            new.append(token)
        if hypothesis is not None:
            s.previous_hypothesis = hypothesis
        return self._emit(new, t0)

    def _starts_word(self, token: int) -> bool:
        return token == self.model.eos_id or bool(self._word_start[token])

    @property
    def n_complete_words(self) -> int:
        """Words of `state.text` that are final: all of them once the input is finished or writing stopped at a
        word boundary (always, with word granularity, unless the length cap cut in); else all but the last."""
        s = self.state
        if s.source_finished or s.done or s.last_word_complete:
            return len(s.text.split())
        return complete_words(s.text)

    def _is_boundary(self, token: int) -> bool:
        return (
            self.options.granularity == "token"
            or token == self.model.eos_id
            or not self.state.tokens
            or self._word_start[token]
        )

    def _view(
        self,
        hypothesis: tuple[int, ...] | None,
        logits: Tensor | None = None,
        attention: Tensor | None = None,
        hidden: Tensor | None = None,
    ) -> PolicyView:
        s = self.state
        now = before = None
        if hypothesis is not None:
            written = tuple(s.tokens)
            now = self._words(hypothesis[len(written) :])
            prev = s.previous_hypothesis
            before = self._words(prev[len(written) :]) if prev is not None and prev[: len(written)] == written else ()
        n_written = s.n_words if self.options.granularity == "word" else len(s.tokens)
        return PolicyView(
            s.n_chunks_read,
            s.source_finished,
            n_written,
            s.n_words,
            s.n_chunks_read * self.model.cfg.encoder.chunk_ms,
            logits,
            attention,
            now,
            before,
            hidden,
        )

    def _hypothesis(self) -> Steps[tuple[int, ...]]:
        """What greedy decoding would write from here given all heard: written tokens + continuation."""
        s, lm = self.state, self.model.lm
        tokens, pending, n_fed = [], s.pending_token, 0
        while len(s.tokens) + len(tokens) < self._max_tokens():
            token = int((yield Write(s.lm, pending, False)).logits[0, -1].argmax())
            n_fed += 1
            if token == self.model.eos_id:
                break
            tokens.append(token)
            pending = token
        lm.unwrite(s.lm, n_fed)
        return tuple(s.tokens) + tuple(tokens)

    def _words(self, tokens: tuple[int, ...]) -> tuple[tuple[int, ...], ...]:
        words: list[list[int]] = []
        for t in tokens:
            if not words or self._word_start[t] or self.options.granularity == "token":
                words.append([])
            words[-1].append(t)
        return tuple(tuple(w) for w in words)

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
        delta = text[len(s.text) :] if text.startswith(s.text) else text
        s.text = text
        compute_ms = (time.perf_counter() - t0) * 1000
        source_ms = self.heard_ms if s.source_finished else s.n_chunks_read * self.model.cfg.encoder.chunk_ms
        return [Emission(delta, tuple(new), source_ms, compute_ms)]

    @property
    def final_text(self) -> str:
        return self.state.text.strip()
