"""Stream the utterances of a manifest through a session, as a simultaneous system would hear them.

Audio goes in 320 ms pieces (the encoder's chunk); each output word gets two times: the audio heard when it
was complete (`delays`, what AL measures) and that plus the compute spent so far (`elapsed`, the
computation-aware time: SimulEval's definition).
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass

import numpy as np
from tqdm import tqdm

from speech_proactive import audio
from speech_proactive.config import TaskSpec
from speech_proactive.data.manifest import Manifest, Utterance
from speech_proactive.model.speech_llm import SpeechLLM
from speech_proactive.streaming.policies import Oracle, Policy
from speech_proactive.streaming.session import Session


@dataclass(frozen=True)
class Decoded:
    id: str
    hyp: str
    ref: str
    word_delays_ms: tuple[float, ...]  # audio heard when each hypothesis word was complete
    word_elapsed_ms: tuple[float, ...]  # that plus the compute time spent up to then
    source_ms: float
    compute_ms: float
    task: str = "st"  # "st" | "asr" | "qa"
    ideal_ms: float | None = None  # qa: when the answer's evidence was complete (the last tgt_ideal_ms)
    src_lang: str = ""  # the row's languages: the scorer picks its BLEU tokenizer by tgt_lang ("" in files
    tgt_lang: str = ""  # decoded before they were recorded)

    @classmethod
    def from_dict(cls, d: dict) -> Decoded:
        return cls(
            **{**d, "word_delays_ms": tuple(d["word_delays_ms"]), "word_elapsed_ms": tuple(d["word_elapsed_ms"])}
        )


@dataclass(frozen=True)
class WordTimes:
    text: str
    delays_ms: tuple[float, ...]
    elapsed_ms: tuple[float, ...]
    compute_ms: float


def decode_one(session: Session, samples: np.ndarray, chunk_ms: int) -> WordTimes:
    """Stream one utterance; the final text with each word's delay and elapsed time."""
    session.reset()
    step = audio.ms_to_samples(chunk_ms)
    delays: list[float] = []
    elapsed: list[float] = []
    compute_ms = 0.0
    for start in range(0, max(len(samples), 1), step):
        finished = start + step >= len(samples)
        t0 = time.perf_counter()
        session.push_audio(samples[start : start + step], finished=finished)
        compute_ms += (time.perf_counter() - t0) * 1000
        n_done = session.n_complete_words  # of the whole text, not the sum of pieces: a revised tail is not doubled
        heard_ms = audio.samples_to_ms(min(start + step, len(samples)))
        new = max(0, n_done - len(delays))
        delays += [heard_ms] * new
        elapsed += [heard_ms + compute_ms] * new
    n = len(session.final_text.split())
    return WordTimes(session.final_text, tuple(delays[:n]), tuple(elapsed[:n]), compute_ms)


def task_of(u: Utterance) -> TaskSpec:
    return TaskSpec(u.task_name, u.src_lang, u.tgt_lang, u.question or "")


def policy_for(policy: Policy, u: Utterance) -> Policy:
    """The oracle reads each utterance's ideal read points; every other policy is the same for all."""
    if isinstance(policy, Oracle):
        if u.tgt_ideal_ms is None:
            raise ValueError(f"{u.id}: the oracle policy needs tgt_ideal_ms (word alignments) in the manifest")
        return dataclasses.replace(policy, ideal_ms=tuple(u.tgt_ideal_ms))
    return policy


def decode_manifest(
    model: SpeechLLM,
    manifest: Manifest,
    policy: Policy,
    rows: list[Utterance] | None = None,
    progress: bool = True,
    desc: str = "",
) -> list[Decoded]:
    out, session = [], None
    rows = manifest.rows if rows is None else rows
    for u in tqdm(rows, desc=desc or f"decoding {manifest.path.name}", disable=not progress, dynamic_ncols=True):
        task = task_of(u)
        if session is None or session.task != task:  # a QA question is part of the task: new prompt, new session
            session = Session(model, policy, task)
        session.policy = policy_for(policy, u)
        w = decode_one(session, audio.load_audio(manifest.audio_path(u)), model.cfg.encoder.chunk_ms)
        ideal = u.tgt_ideal_ms[-1] if u.tgt_ideal_ms else None
        out.append(
            Decoded(
                u.id,
                w.text,
                u.tgt_text,
                w.delays_ms,
                w.elapsed_ms,
                u.duration_ms,
                w.compute_ms,
                task.task,
                ideal,
                task.src_lang,
                task.tgt_lang,
            )
        )
    return out
