"""Configuration dataclasses: shapes of each model part, and decoding options.

Shapes only, no behaviour: every module that needs a number takes it from here, and a bundle stores these
dataclasses as JSON so that it describes itself.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from speech_proactive import audio


@dataclass(frozen=True)
class FrontendConfig:
    n_mels: int = 80  # Whisper v1-v2 use 80 mel bins, large-v3 uses 128
    # Whisper clamps log-mel to (max - 8) over the whole utterance, which is not causal; we clamp to
    # (running max so far - 8), which is identical once the loudest frame has been heard.
    dynamic_range_log10: float = 8.0


@dataclass(frozen=True)
class EncoderConfig:
    """Whisper `ModelDimensions` for the audio side, plus the streaming chunk size."""

    n_mels: int = 80
    n_audio_ctx: int = 1500  # positional table length in encoder frames (1500 = 30 s at 20 ms)
    n_audio_state: int = 384
    n_audio_head: int = 6
    n_audio_layer: int = 4
    chunk_ms: int = 320  # streaming unit: each chunk attends to itself and earlier chunks
    # Earlier chunks each chunk's self-attention sees; 0: all of them. Bounded, a chunk's cost and the
    # encoder's cache stop growing with the stream (what streaming ASR encoders do): 31 chunks of 320 ms is
    # 9.92 s. A window longer than every training utterance changes nothing in training.
    left_context_chunks: int = 0

    @property
    def chunk_mel_frames(self) -> int:
        return self.chunk_ms // audio.FRAME_MS  # 32 at 320 ms

    @property
    def chunk_enc_frames(self) -> int:
        return self.chunk_mel_frames // audio.CONV_STRIDE  # 16 at 320 ms

    @property
    def left_context_frames(self) -> int:
        """Encoder frames of left context a chunk sees; 0 = unbounded."""
        return self.left_context_chunks * self.chunk_enc_frames

    def validate(self) -> None:
        if self.left_context_chunks < 0:
            raise ValueError(f"left_context_chunks={self.left_context_chunks} must be >= 0 (0: unbounded)")
        if self.chunk_ms <= 0 or self.chunk_ms % (audio.FRAME_MS * audio.CONV_STRIDE):
            raise ValueError(
                f"chunk_ms={self.chunk_ms} must be a positive multiple of "
                f"{audio.FRAME_MS * audio.CONV_STRIDE} ms (one encoder frame)"
            )
        if self.n_audio_state % self.n_audio_head:
            raise ValueError(f"n_audio_state={self.n_audio_state} not divisible by n_audio_head={self.n_audio_head}")


@dataclass(frozen=True)
class AdapterConfig:
    stack: int = 4  # encoder frames stacked into one LLM vector: 4 x 20 ms = 80 ms per vector
    hidden: int = 512
    # LayerNorm on the output, its gain starting at the token embeddings' scale: without it the vectors grew
    # to 200x the token embeddings and collapsed onto one shared direction (measured: cosine 0.9999 between
    # two utterances' mean vectors), so the LLM could not tell utterances apart.
    out_norm: bool = True
    # "vectors": an MLP into the embedding space. "tokens": a distribution over the LLM's vocabulary per
    # vector (trained with CTC against the source transcript), fed as the expected token embedding: the LLM
    # reads speech as soft text, which a text warm-up has already taught it to translate.
    output: str = "vectors"

    def validate(self) -> None:
        if self.output not in ("vectors", "tokens"):
            raise ValueError(f"adapter output={self.output!r}: choose 'vectors' or 'tokens'")


@dataclass(frozen=True)
class LayoutConfig:
    # Target tokens restart their positions here (relative to the end of the prompt): the "group position
    # encoding" of DESIGN.md section 2. 0 means target token t sits at the same position as source vector t.
    target_position_offset: int = 0


CTC_UNITS = ("bytes", "tokens")


@dataclass(frozen=True)
class ModelConfig:
    frontend: FrontendConfig = field(default_factory=FrontendConfig)
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    adapter: AdapterConfig = field(default_factory=AdapterConfig)
    layout: LayoutConfig = field(default_factory=LayoutConfig)
    # Units of the auxiliary CTC head (training only): "bytes" of the normalised transcript on the encoder
    # output (50 Hz), or the LLM's "tokens" on the adapter output. Measured from scratch on the grammar corpus
    # (d192, 2 layers): byte CTC left its blank plateau within 100 steps, token CTC after ~200 and then
    # learnt slowly (2.4 nats/token at step 625).
    ctc_units: str = "bytes"

    def validate(self) -> None:
        self.encoder.validate()
        self.adapter.validate()
        if self.ctc_units not in CTC_UNITS:
            raise ValueError(f"ctc_units={self.ctc_units!r}: choose from {CTC_UNITS}")
        if self.frontend.n_mels != self.encoder.n_mels:
            raise ValueError(f"frontend n_mels={self.frontend.n_mels} != encoder n_mels={self.encoder.n_mels}")
        if self.encoder.chunk_enc_frames % self.adapter.stack:
            raise ValueError(
                f"adapter stack={self.adapter.stack} must divide the {self.encoder.chunk_enc_frames} "
                f"encoder frames of a {self.encoder.chunk_ms} ms chunk"
            )

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any], coerce: bool = True) -> ModelConfig:
        """`coerce`: read numbers written as strings (YAML); a bundle's own JSON is taken as it is."""
        return cls(
            frontend=_build(FrontendConfig, d.get("frontend", {}), coerce),
            encoder=_build(EncoderConfig, d.get("encoder", {}), coerce),
            adapter=_build(AdapterConfig, d.get("adapter", {}), coerce),
            layout=_build(LayoutConfig, d.get("layout", {}), coerce),
            ctc_units=d.get("ctc_units", "bytes"),
        )


@dataclass(frozen=True)
class TaskSpec:
    """What the model is asked to do: one prompt, so one model serves ASR, translation and spoken QA."""

    task: str = "st"  # "st" (speech translation), "asr", or "qa" (answer `question` about the audio)
    src_lang: str = "en"
    tgt_lang: str = "de"
    question: str = ""

    def __post_init__(self) -> None:
        if self.task not in ("st", "asr", "qa"):
            raise ValueError(f"unknown task {self.task!r}; expected 'st', 'asr' or 'qa'")
        if self.task == "qa" and not self.question.strip():
            raise ValueError("the qa task needs a question (the prompt says what to answer about the audio)")

    @staticmethod
    def check_prompt(task: str, prompt: str | None) -> None:
        """`--task` and `--prompt` on a command line: a prompt belongs to qa, and qa needs one."""
        if (task == "qa") != bool(prompt and prompt.strip()):
            raise ValueError(
                '--task qa needs --prompt "QUESTION"' if task == "qa" else "--prompt is only for --task qa"
            )

    def prompt(self) -> str:
        if self.task == "asr":
            return f"<asr> {self.src_lang}:"
        if self.task == "st":
            return f"<st> {self.src_lang} > {self.tgt_lang}:"
        return f"<qa> {self.src_lang}: {self.question.strip()}"


@dataclass(frozen=True)
class DecodeOptions:
    # A random or undertrained model may never emit EOS: cap the output relative to what was heard.
    max_tokens_per_chunk: int = 8
    max_tokens_extra: int = 16
    # "word": the policy is asked only where a new word would start, and a WRITE emits the whole word
    # (latency is measured per word); "token": asked before every token.
    granularity: str = "word"

    def __post_init__(self) -> None:
        if self.granularity not in ("word", "token"):
            raise ValueError(f"granularity={self.granularity!r}: choose 'word' or 'token'")


def _build(cls: type, d: dict[str, Any], coerce: bool = True) -> Any:
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = set(d) - names
    if unknown:
        raise ValueError(f"unknown {cls.__name__} field(s): {sorted(unknown)}")
    return cls(**(coerce_fields(cls, d) if coerce else d))


def coerce_fields(cls: type, d: dict[str, Any]) -> dict[str, Any]:
    """Numbers from YAML/overrides as the field's type (YAML reads `3e-3` as a string); wrong types are errors."""
    types = {f.name: f.type for f in dataclasses.fields(cls)}
    out = dict(d)
    for k, v in d.items():
        t = types.get(k)
        if isinstance(t, str) and t.endswith(" | None"):
            t = None if v is None else t[: -len(" | None")]
        if t in ("float", "int") and not isinstance(v, bool):
            try:
                out[k] = float(v) if t == "float" else _as_int(v)
            except (TypeError, ValueError):
                expected = "a number" if t == "float" else "an integer"
                raise ValueError(f"{cls.__name__}.{k}={v!r}: expected {expected}") from None
        elif t == "bool" and not isinstance(v, bool):
            raise ValueError(f"{cls.__name__}.{k}={v!r}: expected true or false")
    return out


def _as_int(v: Any) -> int:
    f = float(v)
    if f != int(f):
        raise ValueError(v)
    return int(f)
