"""How sure the model is of its first answer token as a spoken QA passage is heard, around the ideal moment.

    python -m speech_proactive.evaluation.qa_timeline --model BUNDLE --manifest data/qa/test.qa-en.jsonl [--limit 100]

For every passage, the first answer token is predicted after each chunk heard (one forward over a shared
source, as the probe's labels are made: `probe_data.partial_views`). Grouped by where the asked fact sits
(early / middle / end) and aligned on the chunk that completes the evidence, the table shows the mean and
median next-token entropy and how often the prediction is the reference's first token. It says what limits a
head's early answers: a head can answer within 1 s of the ideal moment only if the entropy falls there, and
answering there is right only if the prediction is. Scores need no policy and no threshold.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass

import numpy as np
import torch
from tqdm import tqdm

from speech_proactive import audio
from speech_proactive.data.manifest import Utterance, read_manifest
from speech_proactive.model.frontend import log_mel
from speech_proactive.model.speech_llm import SpeechLLM
from speech_proactive.streaming.decode import task_of
from speech_proactive.streaming.policies import token_entropy
from speech_proactive.training.probe_data import partial_views

OFFSETS = range(-3, 7)  # chunks after the one that completes the evidence


@dataclass(frozen=True)
class Timeline:
    """One passage: per chunk heard (1..n), the first answer token's entropy (nats) and correctness."""

    position: str  # early | middle | end: where the asked fact sits
    ideal_chunk: int  # chunks heard once the evidence is complete
    entropy: list[float]
    correct: list[bool]


@torch.no_grad()
def timeline(model: SpeechLLM, mel: torch.Tensor, u: Utterance) -> Timeline:
    if u.tgt_ideal_ms is None or u.task_name != "qa":
        raise ValueError(f"{u.id}: a timeline needs a QA row with tgt_ideal_ms (its ideal moment)")
    source = model.source_vectors(mel[None].to(model.device))[0]
    n_chunks = -(-len(source) // model.vectors_per_chunk)
    ref = model.target_ids(u.tgt_text)  # <start> y_1 ..: query <start> predicts the first answer token
    views = partial_views(model, model.prompt_ids(task_of(u)), source, ref[:1], list(range(1, n_chunks + 1)))
    entropy = token_entropy(views.logits[:, 0])  # what the entropy head reads
    correct = views.logits[:, 0].argmax(-1) == ref[1]
    ideal = min(n_chunks, math.ceil(u.tgt_ideal_ms[-1] / model.cfg.encoder.chunk_ms))
    return Timeline((u.meta or {}).get("position", "all"), ideal, entropy.tolist(), correct.tolist())


def aligned(timelines: list[Timeline], offset: int) -> tuple[list[float], list[bool]]:
    """Entropy and correctness `offset` chunks after each passage's ideal chunk (passages too short left out)."""
    pairs = [
        (t.entropy[c - 1], t.correct[c - 1]) for t in timelines if 1 <= (c := t.ideal_chunk + offset) <= len(t.entropy)
    ]
    return [e for e, _ in pairs], [k for _, k in pairs]


def table(timelines: list[Timeline], chunk_ms: float) -> str:
    lines = []
    for pos in ("early", "middle", "end", "all"):
        group = [t for t in timelines if t.position == pos]
        if not group:
            continue
        lines += [
            f"asked fact {pos}: {len(group)} passages; at the end of the audio: mean entropy "
            f"{np.mean([t.entropy[-1] for t in group]):.2f} nats, first token right "
            f"{100 * np.mean([t.correct[-1] for t in group]):.0f}%",
            f"  {'after the evidence':>20} {'n':>4} {'mean H':>7} {'median H':>9} {'right':>6}",
        ]
        for off in OFFSETS:
            ent, ok = aligned(group, off)
            if ent:
                lines.append(
                    f"  {off:+3d} chunks ({off * chunk_ms / 1000:+5.2f} s) {len(ent):4d} {np.mean(ent):7.2f} "
                    f"{np.median(ent):9.2f} {100 * np.mean(ok):5.0f}%"
                )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from speech_proactive.model.bundle import load_model

    p = argparse.ArgumentParser(
        prog="python -m speech_proactive.evaluation.qa_timeline",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--model", required=True, help="bundle folder")
    p.add_argument("--manifest", required=True, help="a QA manifest (tgt_ideal_ms and meta.position per row)")
    p.add_argument("--limit", type=int, default=None, help="first N passages")
    args = p.parse_args(argv)
    model = load_model(args.model).eval()
    m = read_manifest(args.manifest)
    rows = m.rows[: args.limit] if args.limit else m.rows
    timelines = [
        timeline(model, log_mel(audio.load_audio(m.audio_path(u)), model.cfg.frontend), u)
        for u in tqdm(rows, desc="timelines", dynamic_ncols=True)
    ]
    print(table(timelines, model.cfg.encoder.chunk_ms))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
