"""SimulEval 1.1.4 speech-to-text agent: any bundle, any policy, each output word written once it is complete.

    simuleval --agent speech_proactive/integrations/simuleval_agent.py --model BUNDLE --policy wait-k:3 \
        --source wav_list.txt --target refs.txt --source-segment-size 320 --output OUT

Score the run with `speech_proactive.evaluation.metrics.instances_log.score_log("OUT/instances.log",
tgt_lang=...)`: it gives the non-CA and computation-aware metrics side by side, which SimulEval 1.1.4 itself
cannot (see evaluation/metrics/latency.py).

Agent options: --model BUNDLE, --policy SPEC (policy_spec.py: offline, wait-k:K, entropy:q0.9, ...),
--task st|asr|qa, --src-lang CODE, --target-lang CODE, --exact-resampling. The target language is not
`--tgt-lang`: SimulEval 1.1.4 owns that flag and opens its value as a file with one line per instance. Given such
a file, each instance's line (which arrives with its audio) overrides --target-lang, so one run can cover several
directions. With --task qa that file holds each instance's QUESTION instead: it is SimulEval's only per-instance
text channel (`python -m speech_proactive.data.simuleval_lists` writes the three lists from a QA manifest).

SimulEval hands over audio as float lists at the file's own sample rate, in `--source-segment-size` ms pieces,
and calls `policy()` once per piece. The piece that ends the input gets exactly one call, and nothing after it
is read: that call flushes everything left, unfinished last word included, as one WriteAction(finished=True).

No `from __future__ import annotations` here: SimulEval imports this file under a module name that is not in
sys.modules, and dataclasses then cannot resolve string annotations.
"""

from argparse import ArgumentParser, ArgumentTypeError, Namespace
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from simuleval.agents import SpeechToTextAgent
from simuleval.agents.actions import Action, ReadAction, WriteAction
from simuleval.utils import entrypoint

from speech_proactive import audio
from speech_proactive.config import TaskSpec
from speech_proactive.streaming.from_bundle import open_bundle
from speech_proactive.streaming.policy_spec import SYNTAX, parse_policy
from speech_proactive.streaming.resample import StreamResampler
from speech_proactive.streaming.session import Session


@dataclass
class InstanceState:
    """The utterance in progress; reset() before the next one."""

    session: Session | None = None  # picked on the first call, when the instance's target language is known
    resampler: StreamResampler | None = None
    n_source_used: int = 0  # entries of states.source already passed on
    n_words_written: int = 0

    def reset(self) -> None:
        self.session = None
        self.resampler = None
        self.n_source_used = 0
        self.n_words_written = 0


def _policy_spec(spec: str) -> str:
    try:
        parse_policy(spec)
    except ValueError as e:
        raise ArgumentTypeError(str(e)) from e
    return spec


@entrypoint
class SpeechProactiveAgent(SpeechToTextAgent):
    def __init__(self, args: Namespace):
        self.stream = InstanceState()  # before super().__init__, which calls reset()
        super().__init__(args)
        self.bundle = open_bundle(args.model, args.policy, device=getattr(args, "device", "cpu"))
        if args.task != "qa" and (args.src_lang or args.target_lang):  # a pair the bundle lacks fails at once
            self.bundle.task(args.task, args.src_lang, args.target_lang)
        self.sessions: dict[TaskSpec, Session] = {}  # one per task; reset per instance

    @staticmethod
    def add_args(parser: ArgumentParser) -> None:
        parser.add_argument("--model", type=Path, required=True, help="bundle folder")
        parser.add_argument(
            "--policy",
            type=_policy_spec,
            default="offline",
            help=f"{SYNTAX} (default: offline); a threshold qQ is calibrated on the bundle's "
            "dev set once and kept in the bundle",
        )
        parser.add_argument(
            "--task",
            choices=["st", "asr", "qa"],
            default="st",
            help="qa: SimulEval's --tgt-lang FILE gives each instance's question, one per line",
        )
        parser.add_argument(
            "--src-lang", help="source language code (default: the bundle's, when the target leaves one choice)"
        )
        parser.add_argument(
            "--target-lang",
            help="target language code (default: the bundle's, when the source leaves one choice); "
            "SimulEval's --tgt-lang FILE overrides it per instance",
        )
        parser.add_argument(
            "--exact-resampling",
            action="store_true",
            help="non-16 kHz input: resample bit-exactly as the whole file would be, at the cost "
            "of reading each chunk one segment late (see StreamResampler)",
        )

    def reset(self) -> None:
        super().reset()
        self.stream.reset()

    def policy(self) -> Action:
        finished = self.states.source_finished
        if self.stream.session is None:
            self._start_instance()
        self.stream.session.push_audio(self._new_samples(finished), finished=finished)
        words = self._new_words()
        if finished:
            return WriteAction(" ".join(words), finished=True)
        return WriteAction(" ".join(words), finished=False) if words else ReadAction()

    def _start_instance(self) -> None:
        task = self._task()
        if task not in self.sessions:
            if task.task == "qa":  # a question per instance: keep one session, not one per question ever asked
                self.sessions.clear()
            self.sessions[task] = self.bundle.session(task)
        self.stream.session = self.sessions[task]
        self.stream.session.reset()
        # a source without any samples arrives as an EmptySegment that sets no rate: nothing to resample then
        rate = self.states.source_sample_rate or audio.SAMPLE_RATE
        self.stream.resampler = StreamResampler(rate, exact=self.args.exact_resampling)

    def _task(self) -> TaskSpec:
        # without a --tgt-lang file the segments carry None (and SpeechSegment's own default is typing's Optional[str])
        per_instance = self.states.tgt_lang if isinstance(self.states.tgt_lang, str) else None
        if self.args.task == "qa":
            if not (per_instance or "").strip():
                raise ValueError(
                    "--task qa: give each instance's question in SimulEval's --tgt-lang FILE (one line per source file)"
                )
            return self.bundle.task("qa", self.args.src_lang, None, per_instance.strip())
        return self.bundle.task(self.args.task, self.args.src_lang, per_instance or self.args.target_lang)

    def _new_samples(self, finished: bool) -> np.ndarray:
        """16 kHz mono float32 samples that arrived since the previous call."""
        s = self.stream
        new = np.asarray(self.states.source[s.n_source_used :], dtype=np.float32)
        s.n_source_used = len(self.states.source)
        if new.ndim == 2:  # a multi-channel file arrives as [n, channels] (soundfile's layout): downmix
            new = new.mean(axis=1, dtype=np.float32)
        return s.resampler.push(new, finished)

    def _new_words(self) -> list[str]:
        """Words not yet written that are complete (Session.n_complete_words), all of them at the end."""
        session = self.stream.session
        words = session.state.text.split()  # whole text so far: a word split across emissions stays whole
        n_ready = session.n_complete_words  # all of them once the input has finished
        new = words[self.stream.n_words_written : n_ready]
        self.stream.n_words_written = max(self.stream.n_words_written, n_ready)
        return new
