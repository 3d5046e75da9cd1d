"""A ready session from a bundle folder and a policy string: the one way every program opens a model.

Loads the bundle, resolves the policy (its probe head from the bundle, a `qQ` threshold calibrated once on the
bundle's dev set and kept there), and checks each task and language pair against what the bundle was trained on.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from speech_proactive.config import DecodeOptions, TaskSpec
from speech_proactive.model.bundle import load_model, read_manifest
from speech_proactive.model.speech_llm import SpeechLLM
from speech_proactive.model.trained_tasks import TaskKey, check_task, known_tasks, resolve_task
from speech_proactive.streaming.calibrate import resolve
from speech_proactive.streaming.policies import Policy
from speech_proactive.streaming.policy_spec import parse_policy
from speech_proactive.streaming.session import Session


@dataclass(frozen=True)
class OpenBundle:
    """A loaded bundle with its policy resolved: make as many sessions of it as there are streams or tasks."""

    path: Path
    model: SpeechLLM
    policy: Policy
    known: list[TaskKey] | None  # the tasks it was trained on; None when the bundle cannot tell

    def task(
        self, task: str = "st", src_lang: str | None = None, tgt_lang: str | None = None, question: str = ""
    ) -> TaskSpec:
        """The TaskSpec a request names, completed from and checked against what the bundle knows."""
        return resolve_task(task, src_lang, tgt_lang, question, self.known)

    def session(self, task: TaskSpec, options: DecodeOptions = DecodeOptions()) -> Session:
        check_task(task, self.known, str(self.path))
        return Session(self.model, self.policy, task, options)


def bundle_tasks(bundle: str | Path) -> list[TaskKey] | None:
    return known_tasks(read_manifest(bundle).get("meta", {}))


def open_bundle(bundle: str | Path, policy: str = "offline", device: str = "cpu") -> OpenBundle:
    """Raises BundleError (not a bundle) or ValueError (a bad policy spec, a threshold it cannot calibrate)."""
    bundle = Path(bundle)
    known = bundle_tasks(bundle)
    model = load_model(bundle, device=device)
    return OpenBundle(bundle, model, resolve(parse_policy(policy), bundle, model), known)


def open_session(
    bundle: str | Path,
    policy: str = "offline",
    task: str = "st",
    src_lang: str | None = None,
    tgt_lang: str | None = None,
    question: str = "",
    options: DecodeOptions = DecodeOptions(),
) -> Session:
    """`Session.from_bundle`: the request is checked before the model is loaded, so a wrong pair fails fast."""
    spec = resolve_task(task, src_lang, tgt_lang, question, bundle_tasks(bundle))
    return open_bundle(bundle, policy).session(spec, options)
