"""The wire protocol: what a client sends, what the server answers, and the clear errors for anything else.

Client -> server
    {"type": "start", "task": "st", "src_lang": "de", "tgt_lang": "en", "policy": "probe:q0.9",
     "question": "...", "sample_rate": 16000, "vad": "silero"}     once, first; every field optional
    binary frames: 16-bit little-endian mono PCM at 16 kHz, any number of samples per frame
    {"type": "stop"}                                                 end of input: flush and close
Server -> client (JSON text, one event per message, field "event")
    ready, segment_start, text (committed words with source_ms and compute_ms, and the unfinished tail),
    segment_end, status (source position heard, model time), error (the stream goes on), final (then close).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

from speech_proactive import audio

PCM_BYTES_PER_SAMPLE = 2  # int16
VAD_MODES = ("silero", "energy", "off")


class ProtocolError(ValueError):
    """A message the server cannot use; its text goes to the client in an error event."""


@dataclass(frozen=True)
class StartRequest:
    task: str = "st"
    src_lang: str | None = None
    tgt_lang: str | None = None
    policy: str | None = None  # None: the server's --policy
    question: str = ""
    vad: str = "silero"  # "off": every sample goes to one session, exactly as `translate --vad off` feeds it


def parse_json(text: str) -> dict:
    try:
        message = json.loads(text)
    except json.JSONDecodeError as e:
        raise ProtocolError(f"not JSON ({e.msg} at character {e.pos})") from None
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        raise ProtocolError('a text message must be a JSON object with a "type" ("start" or "stop")')
    return message


def parse_start(message: dict) -> StartRequest:
    known = {"type", "task", "src_lang", "tgt_lang", "policy", "question", "sample_rate", "vad"}
    if unknown := sorted(set(message) - known):
        raise ProtocolError(f"unknown start field(s) {unknown}; known: {sorted(known)}")
    rate = message.get("sample_rate", audio.SAMPLE_RATE)
    if rate != audio.SAMPLE_RATE:
        raise ProtocolError(f"sample_rate {rate!r}: send 16-bit mono PCM at {audio.SAMPLE_RATE} Hz (resample first)")
    vad = message.get("vad", "silero")
    if vad not in VAD_MODES:
        raise ProtocolError(f"vad {vad!r}: choose from {VAD_MODES}")
    for key in ("task", "src_lang", "tgt_lang", "policy", "question"):
        if key in message and not isinstance(message[key], str):
            raise ProtocolError(f"{key} must be a string, got {message[key]!r}")
    return StartRequest(
        task=message.get("task", "st"),
        src_lang=message.get("src_lang"),
        tgt_lang=message.get("tgt_lang"),
        policy=message.get("policy"),
        question=message.get("question", ""),
        vad=vad,
    )


def pcm_samples(frame: bytes) -> np.ndarray:
    """float32 samples of one binary frame."""
    if len(frame) % PCM_BYTES_PER_SAMPLE:
        raise ProtocolError(f"a PCM frame of {len(frame)} bytes: 16-bit samples need an even byte count")
    return np.frombuffer(frame, dtype="<i2").astype(np.float32) / 32768.0


def event(kind: str, **fields) -> str:
    rounded = {k: round(v, 2) if isinstance(v, float) else v for k, v in fields.items()}
    return json.dumps({"event": kind, **rounded}, ensure_ascii=False)
