"""Thresholds of the decision heads as quantiles of their own score on a dev set, saved with the bundle.

A head's score (next-token entropy, attention mass on the newest audio, ...) is taken at every word start
of the dev references with the whole source visible, the teacher view. `entropy@q0.9` then READs whenever
the model is more uncertain than at 90% of word starts after hearing everything. The scores are kept in
`BUNDLE/calibration.json`, keyed by head and its other settings, so any quantile is read without recompute.
The probe's key names the trained probe (a hash of probe.pt): retraining it makes its old scores unused.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import torch
from tqdm import tqdm

from speech_proactive import audio
from speech_proactive.data.manifest import Manifest
from speech_proactive.model.frontend import log_mel
from speech_proactive.model.llm import group_positions
from speech_proactive.model.llm.streaming_lm import source_attention
from speech_proactive.model.speech_llm import SpeechLLM
from speech_proactive.streaming.decode import task_of
from speech_proactive.streaming.policies import Policy, PolicyView, Probe
from speech_proactive.streaming.policy_spec import PolicySpec
from speech_proactive.streaming.probe_head import check_fits, load_probe

CALIBRATION_FILE = "calibration.json"
DEFAULT_UTTERANCES = 200  # dev utterances scored: ~1,500 word starts, quantiles to about 1%


def key(policy: Policy) -> str:
    """The head and its settings other than the threshold (they change what the score means). Fields left
    out of comparison (the probe's weight tensors) are named by another field (its probe_id)."""
    params = {
        f.name: getattr(policy, f.name) for f in dataclasses.fields(policy) if f.name != "threshold" and f.compare
    }
    return type(policy).__name__ + "".join(f":{k}={v}" for k, v in sorted(params.items()))


@torch.no_grad()
def word_start_scores(model: SpeechLLM, policy: Policy, manifests: list[Manifest], limit: int) -> list[float]:
    rows = [(m, u) for m in manifests for u in m.rows][:limit]
    scores: list[float] = []
    for m, u in tqdm(rows, desc=f"calibrating {key(policy)}", dynamic_ncols=True):
        task = task_of(u)  # qa rows ask their own question
        mel = log_mel(audio.load_audio(m.audio_path(u)), model.cfg.frontend)[None].to(model.device)
        source = model.source_vectors(mel)[0]
        ids = model.target_ids(u.tgt_text).tolist()  # <start> y_1 .. y_L <eos>: query t decides about y_{t+1}
        target, prompt = torch.tensor(ids[:-1], device=model.device), model.prompt_ids(task)
        full = torch.full((len(target),), len(source))
        out = model.lm.forward_sequence(prompt, source, target, full, attentions=policy.needs_attention)
        kinds = group_positions.sequence(len(prompt), len(source), [full]).kind
        for t in range(len(target) - 1):  # the last query decides about EOS, not a word
            if t > 0 and not model.word_starts[ids[t + 1]]:
                continue
            attn = source_attention(out.attentions, kinds, t) if policy.needs_attention else None
            view = PolicyView(0, False, 0, next_logits=out.logits[0, t], source_attention=attn, hidden=out.hidden[0, t])
            scores.append(policy.score(view))
    return scores


def quantile(scores: list[float], q: float) -> float:
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"quantile {q} outside 0..1")
    return float(torch.quantile(torch.tensor(scores, dtype=torch.float64), q))


def load_scores(bundle: Path) -> dict[str, dict]:
    f = Path(bundle) / CALIBRATION_FILE
    return json.loads(f.read_text()) if f.is_file() else {}


def save_scores(bundle: Path, policy: Policy, scores: list[float], source: list[str]) -> None:
    """Atomic: a crash leaves the previous file, never half of one."""
    data = load_scores(bundle)
    data[key(policy)] = {"dev": source, "n": len(scores), "scores": [round(s, 6) for s in scores]}
    tmp = Path(bundle) / f".{CALIBRATION_FILE}.tmp-{os.getpid()}"
    tmp.write_text(json.dumps(data))
    os.replace(tmp, Path(bundle) / CALIBRATION_FILE)


def calibrated(
    policy: Policy, q: float, bundle: Path, model: SpeechLLM, dev: list[Manifest], limit: int = DEFAULT_UTTERANCES
) -> Policy:
    """`policy` with its threshold at quantile q of its dev scores (computed once per dev set, then read from the
    bundle; scores stored for another dev set are recomputed and replaced)."""
    stored = load_scores(bundle).get(key(policy))
    if stored is not None and dev and stored["dev"] != [str(m.path) for m in dev]:
        stored = None  # scores of another dev set: a named dev set is what the user asked for
    if stored is None:
        if not dev:
            raise ValueError(
                f"{bundle}: no calibration for {key(policy)} and no dev manifest to compute one "
                f"(give --dev, or a bundle whose training config names its dev set)"
            )
        scores = word_start_scores(model, policy, dev, limit)
        if not scores:
            raise ValueError(f"no word starts to calibrate on in {[str(m.path) for m in dev]}")
        save_scores(bundle, policy, scores, [str(m.path) for m in dev])
    else:
        scores = stored["scores"]
    return dataclasses.replace(policy, threshold=quantile(scores, q))


def training_dev_set(bundle: Path) -> list[Manifest]:
    """The dev manifests named in the bundle's training config (paths relative to where training ran)."""
    from speech_proactive.data.manifest import read_manifest
    from speech_proactive.model.bundle import read_manifest as read_bundle_json

    paths = read_bundle_json(bundle).get("meta", {}).get("train_config", {}).get("dev", [])
    return [read_manifest(p) for p in paths if Path(p).is_file()]


def with_bundle_parts(policy: Policy, bundle: Path, model: SpeechLLM) -> Policy:
    """A policy with what it needs from the bundle: the probe gets its trained head (policies read no files)."""
    if isinstance(policy, Probe) and policy.head is None:
        loaded = load_probe(bundle)
        check_fits(loaded.head, model.lm.hidden_size, bundle)
        return dataclasses.replace(policy, head=loaded.head, probe_id=loaded.probe_id)
    return policy


def resolve(spec: PolicySpec, bundle: Path, model: SpeechLLM, dev: list[Manifest] | None = None) -> Policy:
    """The policy a spec names, with its bundle parts, its threshold calibrated when given as a quantile."""
    policy = with_bundle_parts(spec.policy, bundle, model)
    if spec.quantile is None:
        return policy
    return calibrated(policy, spec.quantile, bundle, model, training_dev_set(bundle) if dev is None else dev)
