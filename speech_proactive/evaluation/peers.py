"""A real system on the same audio, scored by the same scorer, so that a results table shows where one stands:
Whisper (CTranslate2 weights, run by ctranslate2) offline, and under whisper_streaming's LocalAgreement-2.

    --peers whisper:DIR          offline: the whole utterance, one decode (delays: every word at the end)
    --peers whisper:DIR:la2      LocalAgreement-2 at the encoder's chunk: after every chunk the prefix heard so
                                 far is decoded again, and the words two consecutive hypotheses agree on are
                                 committed (the last hypothesis is committed whole at the end)

Whisper transcribes in its languages and translates into English only: a test set asking for anything else gets
no peer row (said on stderr). Decoding is greedy, on features padded to Whisper's 30 s window as it expects.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from speech_proactive import audio
from speech_proactive.config import TaskSpec
from speech_proactive.data.manifest import Manifest
from speech_proactive.streaming.decode import Decoded, task_of

PEER_MODES = ("offline", "la2")
MAX_TOKENS = 224  # Whisper's own limit for one 30 s window is 448 with the prompt; sentences need far fewer


@dataclass(frozen=True)
class PeerSpec:
    kind: str  # "whisper"
    folder: Path
    mode: str = "offline"

    @property
    def label(self) -> str:
        return f"{self.kind}:{self.folder.name}" + ("" if self.mode == "offline" else f":{self.mode}")


def parse_peer(text: str) -> PeerSpec:
    kind, _, rest = text.partition(":")
    folder, _, mode = rest.partition(":")
    if kind != "whisper" or not folder:
        raise ValueError(f"peer {text!r}: expected whisper:DIR or whisper:DIR:la2 (a CTranslate2 Whisper folder)")
    if mode and mode not in PEER_MODES:
        raise ValueError(f"peer {text!r}: mode {mode!r}, choose from {PEER_MODES}")
    return PeerSpec(kind, Path(folder), mode or "offline")


def vocabulary_size(folder: Path) -> int:
    """Tokens in a CTranslate2 folder's vocabulary (vocabulary.json, a list, or vocabulary.txt, one per line)."""
    if (folder / "vocabulary.json").is_file():
        return len(json.loads((folder / "vocabulary.json").read_text(encoding="utf-8")))
    if (folder / "vocabulary.txt").is_file():
        return len((folder / "vocabulary.txt").read_text(encoding="utf-8").splitlines())
    raise ValueError(f"{folder}: no vocabulary.json or vocabulary.txt (not a CTranslate2 Whisper folder)")


def agreed_prefix(previous: list[str], current: list[str]) -> int:
    """How many leading words two consecutive hypotheses share: what LocalAgreement-2 may commit."""
    n = 0
    for a, b in zip(previous, current):
        if a != b:
            break
        n += 1
    return n


class WhisperPeer:
    """Whisper through ctranslate2 on the CPU; prompts and text through openai-whisper's own tokenizer."""

    def __init__(self, folder: Path, threads: int = 1):
        import ctranslate2
        import whisper.tokenizer

        self.folder = folder
        self.model = ctranslate2.models.Whisper(
            str(folder), device="cpu", compute_type="float32", intra_threads=threads
        )
        self.n_mels = self.model.n_mels
        # openai-whisper's own rules (whisper/model.py), from the vocabulary size: multilingual from 51,865 tokens,
        # and the language count the size implies (99 for base, 100 for large-v3)
        n_vocab = vocabulary_size(folder)
        self.multilingual = n_vocab >= 51865
        self.num_languages = n_vocab - 51765 - int(self.multilingual)
        self.tokenizer = whisper.tokenizer.get_tokenizer(self.multilingual, num_languages=self.num_languages)
        self._ctranslate2 = ctranslate2

    def prompt(self, task: TaskSpec) -> list[int] | None:
        """The decoder prompt of a task, or None when Whisper cannot do it (translation into a language but English)."""
        import whisper.tokenizer

        if task.task == "st" and task.tgt_lang != "en" or task.task == "qa":
            return None
        if not self.multilingual and (task.src_lang != "en" or task.task == "st"):
            return None
        if task.src_lang not in whisper.tokenizer.LANGUAGES:
            return None
        kind = "translate" if task.task == "st" else "transcribe"
        t = whisper.tokenizer.get_tokenizer(
            self.multilingual, num_languages=self.num_languages, language=task.src_lang, task=kind
        )
        return list(t.sot_sequence_including_notimestamps)

    def decode(self, samples: np.ndarray, prompt: list[int]) -> str:
        import whisper

        mel = whisper.log_mel_spectrogram(whisper.pad_or_trim(samples), self.n_mels).numpy()[None]
        features = self._ctranslate2.StorageView.from_array(np.ascontiguousarray(mel))
        result = self.model.generate(features, [prompt], beam_size=1, max_length=MAX_TOKENS)[0]
        return self.tokenizer.decode([i for i in result.sequences_ids[0] if i < self.tokenizer.eot]).strip()


@dataclass(frozen=True)
class PeerOutput:
    text: str
    delays_ms: tuple[float, ...]  # audio heard when each word was committed
    elapsed_ms: tuple[float, ...]  # that plus the compute spent up to then
    compute_ms: float


def decode_offline(peer: WhisperPeer, samples: np.ndarray, prompt: list[int]) -> PeerOutput:
    t0 = time.perf_counter()
    text = peer.decode(samples, prompt)
    compute_ms = (time.perf_counter() - t0) * 1000
    n, heard = len(text.split()), audio.samples_to_ms(len(samples))
    return PeerOutput(text, (heard,) * n, (heard + compute_ms,) * n, compute_ms)


def decode_la2(peer: WhisperPeer, samples: np.ndarray, prompt: list[int], chunk_ms: int) -> PeerOutput:
    """LocalAgreement-2 over the growing prefix. A committed word is never taken back: a hypothesis that no
    longer starts with the committed words commits nothing until the end, where its remaining words follow."""
    step, committed, delays, elapsed, previous, compute_ms = audio.ms_to_samples(chunk_ms), [], [], [], [], 0.0
    for end in range(step, len(samples) + step, step):
        heard = min(end, len(samples))
        t0 = time.perf_counter()
        words = peer.decode(samples[:heard], prompt).split()
        compute_ms += (time.perf_counter() - t0) * 1000
        if heard == len(samples):
            new = words[len(committed) :]
        elif words[: len(committed)] == committed:
            new = words[len(committed) : agreed_prefix(previous, words)]
        else:
            new = []
        committed += new
        delays += [audio.samples_to_ms(heard)] * len(new)
        elapsed += [audio.samples_to_ms(heard) + compute_ms] * len(new)
        previous = words
    return PeerOutput(" ".join(committed), tuple(delays), tuple(elapsed), compute_ms)


def peer_rows(spec: PeerSpec, manifest: Manifest, limit: int | None, chunk_ms: int) -> list[Decoded] | None:
    """The peer's decoded rows of a test set, or None (with a note) when Whisper cannot do its task."""
    peer = WhisperPeer(spec.folder)
    rows = manifest.rows[:limit] if limit else manifest.rows
    tasks = [task_of(u) for u in rows]
    prompts = [peer.prompt(t) for t in tasks]
    for task, prompt in zip(tasks, prompts):  # before any decoding: a test set gets a whole row or none
        if prompt is None:
            print(f"note: {spec.label} cannot do {task.task} {task.src_lang}>{task.tgt_lang} ({manifest.path.name}):"
                  f" no peer row", file=sys.stderr)  # fmt: skip
            return None
    out = []
    for u, task, prompt in zip(rows, tasks, prompts):
        samples = audio.load_audio(manifest.audio_path(u))
        if spec.mode == "offline":
            o = decode_offline(peer, samples, prompt)
        else:
            o = decode_la2(peer, samples, prompt, chunk_ms)
        out.append(Decoded(u.id, o.text, u.tgt_text, o.delays_ms, o.elapsed_ms, u.duration_ms, o.compute_ms,
                           task.task, None, task.src_lang, task.tgt_lang))  # fmt: skip
    return out
