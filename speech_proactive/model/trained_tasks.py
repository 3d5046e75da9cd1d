"""What a bundle was trained to do: its tasks and language pairs, so that a request it cannot serve is refused.

A model asked for a pair it never saw does not fail: given German audio and `st en > en` it writes fluent
German, scored as if it were a translation. So every entry point checks the request against the bundle.
Bundles written by the training loop list their tasks in bundle.json (`meta.tasks`); for older bundles they
are read from the training manifests named in `meta.train_config`, when those files are still there.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any, NamedTuple

from speech_proactive.config import TaskSpec
from speech_proactive.data.manifest import Utterance, read_manifest


class TaskKey(NamedTuple):
    task: str  # "st", "asr" or "qa"
    src_lang: str
    tgt_lang: str  # equals src_lang for asr and qa

    def __str__(self) -> str:
        return f"{self.task} {self.src_lang}>{self.tgt_lang}" if self.task == "st" else f"{self.task} {self.src_lang}"


class UnknownTask(ValueError):
    """A task or language pair the bundle was not trained on."""


def key_of(task: TaskSpec) -> TaskKey:
    return TaskKey(task.task, task.src_lang, task.tgt_lang if task.task == "st" else task.src_lang)


def keys_of(tasks: Iterable[TaskSpec]) -> list[TaskKey]:
    return sorted(set(map(key_of, tasks)))


def to_meta(keys: Iterable[TaskKey]) -> list[dict[str, str]]:
    return [k._asdict() for k in keys]


def row_tasks(u: Utterance, tasks: tuple[str, ...]) -> list[TaskSpec]:
    """What training asks of one manifest row, in order: its QA question or its translation, then its
    transcript; `tasks` is the training config's choice among "st", "asr" and "qa"."""
    out = []
    if u.task_name == "qa":
        if "qa" in tasks:
            out.append(TaskSpec("qa", u.src_lang, u.tgt_lang, u.question))
    elif "st" in tasks and u.tgt_lang != u.src_lang:
        out.append(TaskSpec("st", u.src_lang, u.tgt_lang))
    if "asr" in tasks:
        out.append(TaskSpec("asr", u.src_lang, u.src_lang))
    return out


def known_tasks(meta: dict[str, Any]) -> list[TaskKey] | None:
    """The tasks a bundle's metadata (bundle.json's `meta`) says it was trained on; None when it cannot tell."""
    if "tasks" in meta:
        return sorted(TaskKey(**k) for k in meta["tasks"])
    train_config = meta.get("train_config") or {}
    paths = [Path(p) for p in train_config.get("train", [])]
    if not paths or not all(p.is_file() for p in paths):
        return None
    tasks = tuple(train_config.get("tasks", ("st", "asr")))
    rows = (u for p in paths for u in read_manifest(p, check_audio=False).rows)
    return keys_of(t for u in rows for t in row_tasks(u, tasks))


def check_task(task: TaskSpec | TaskKey, known: list[TaskKey] | None, what: str = "the bundle") -> None:
    """Refuse a task or language pair outside `known` (None: unknown, nothing to check against)."""
    asked = task if isinstance(task, TaskKey) else key_of(task)
    if known is None or asked in known:
        return
    raise UnknownTask(
        f"{what} was not trained for {asked}; it knows: {', '.join(map(str, known))}"
        f" (set --task/--src-lang/--tgt-lang to one of these)"
    )


def resolve_task(
    task: str,
    src_lang: str | None = None,
    tgt_lang: str | None = None,
    question: str = "",
    known: list[TaskKey] | None = None,
) -> TaskSpec:
    """The TaskSpec a request names, its missing languages filled in from what the bundle knows when that
    leaves one choice (German audio: `tgt_lang="en"` is enough for a bundle trained on en>de and de>en).
    A request the bundle was not trained for is refused, listing what it knows. ASR and QA stay in the source
    language (tgt_lang is ignored). Without `known` (a bundle that cannot tell) the languages default to en
    and de."""
    if task != "st":
        tgt_lang = None
    if known is None:
        src = src_lang or "en"
        return TaskSpec(task, src, (tgt_lang or "de") if task == "st" else src, question)
    fits = [k for k in known if k.task == task and src_lang in (None, k.src_lang) and tgt_lang in (None, k.tgt_lang)]
    if len(fits) != 1:
        asked = ", ".join(f"{n} {v}" for n, v in (("task", task), ("source", src_lang), ("target", tgt_lang)) if v)
        why = "fits more than one: name the languages" if fits else "is none of them"
        raise UnknownTask(
            f"the bundle was trained for {', '.join(map(str, known))}; the request ({asked}) {why}"
            f" (--task, --src-lang, --tgt-lang)"
        )
    return TaskSpec(task, fits[0].src_lang, fits[0].tgt_lang, question)
