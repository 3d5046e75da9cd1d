"""Decode a manifest with a policy through the streaming session and score quality and latency.

    python -m speech_proactive.evaluate --model BUNDLE --manifest data/grammar/test.en-de.jsonl \
        [--policy offline|wait-k] [--k 3] [--limit N] [--json OUT]

Quality: sacrebleu BLEU and chrF. Latency (non-computation-aware, from the audio heard when each target word
was written): AL with the reference length, LAAL with max(|hyp|, |ref|), both in ms.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from tqdm import tqdm

from speech_proactive import audio
from speech_proactive.checkpoint import load_model
from speech_proactive.config import TaskSpec
from speech_proactive.data.manifest import Manifest, read_manifest
from speech_proactive.model import SpeechLLM
from speech_proactive.policies import Policy, make_policy
from speech_proactive.session import Session


@dataclass(frozen=True)
class Decoded:
    id: str
    hyp: str
    ref: str
    word_delays_ms: tuple[float, ...]  # audio heard when each hypothesis word was complete
    source_ms: float
    compute_ms: float


@dataclass(frozen=True)
class Scores:
    n: int
    bleu: float
    chrf: float
    al_ms: float
    laal_ms: float
    rtf: float  # compute time / audio time


def complete_words(text: str) -> int:
    """Words known to be finished: all but the last, unless whitespace already follows it."""
    n = len(text.split())
    return n if n == 0 or text[-1].isspace() else n - 1


def decode_one(session: Session, samples, chunk_ms: int) -> tuple[str, list[float]]:
    """Stream one utterance; return the text and the audio time at which each word was finished."""
    session.reset()
    step = audio.ms_to_samples(chunk_ms)
    text, delays = "", []
    for start in range(0, len(samples), step):
        for e in session.push_audio(samples[start:start + step], finished=start + step >= len(samples)):
            text += e.text
            delays += [e.source_ms] * (complete_words(text) - len(delays))
    final = session.final_text
    delays += [audio.samples_to_ms(len(samples))] * (len(final.split()) - len(delays))
    return final, delays[: len(final.split())]


def decode_manifest(model: SpeechLLM, manifest: Manifest, policy: Policy, limit: int | None = None,
                    progress: bool = True) -> list[Decoded]:
    out, sessions = [], {}
    rows = manifest.rows[:limit] if limit else manifest.rows
    for u in tqdm(rows, desc=f"decoding {manifest.path.name}", disable=not progress, dynamic_ncols=True):
        task = TaskSpec("asr" if u.src_lang == u.tgt_lang else "st", u.src_lang, u.tgt_lang)
        if task not in sessions:  # one session per task, reset per utterance by decode_one
            sessions[task] = Session(model, policy, task)
        session = sessions[task]
        samples = audio.load_audio(manifest.audio_path(u))
        t0 = time.perf_counter()
        hyp, delays = decode_one(session, samples, model.cfg.encoder.chunk_ms)
        out.append(Decoded(u.id, hyp, u.tgt_text, tuple(delays), u.duration_ms, (time.perf_counter() - t0) * 1e3))
    return out


def average_lagging(delays_ms: list[float], source_ms: float, ref_len: int, hyp_len: int | None = None) -> float:
    """AL (Ma et al. 2019) in ms; with `hyp_len` given, LAAL's length term max(|hyp|, |ref|)."""
    if not delays_ms:
        return source_ms
    length = max(hyp_len, ref_len) if hyp_len is not None else ref_len
    rate = length / source_ms
    total, tau = 0.0, 0
    for i, d in enumerate(delays_ms):
        total += d - i / rate
        tau = i + 1
        if d >= source_ms:  # cut-off: the first word written after the whole source was heard
            break
    return total / tau


def score(decoded: list[Decoded], wall_compute_ms: float | None = None) -> Scores:
    import sacrebleu

    hyps, refs = [d.hyp for d in decoded], [d.ref for d in decoded]
    al = [average_lagging(list(d.word_delays_ms), d.source_ms, len(d.ref.split())) for d in decoded]
    laal = [average_lagging(list(d.word_delays_ms), d.source_ms, len(d.ref.split()), len(d.hyp.split()))
            for d in decoded]
    audio_ms = sum(d.source_ms for d in decoded)
    return Scores(len(decoded), sacrebleu.corpus_bleu(hyps, [refs]).score, sacrebleu.corpus_chrf(hyps, [refs]).score,
                  sum(al) / len(al), sum(laal) / len(laal), sum(d.compute_ms for d in decoded) / audio_ms)


def parse_policy(spec: str) -> tuple[str, Policy]:
    """"offline", "wait-k:K" or "wait-k:K:TOKENS_PER_CHUNK"."""
    name, *nums = spec.split(":")
    keys = ("k", "tokens_per_chunk")
    try:
        return spec, make_policy(name, **{k: int(v) for k, v in zip(keys, nums)})
    except (TypeError, ValueError) as e:
        raise ValueError(f"bad policy {spec!r} ({e}); use offline or wait-k:K[:TOKENS_PER_CHUNK]") from e


def baseline_rows(train: list[Manifest], test: Manifest) -> list[tuple[str, Scores]]:
    import sacrebleu

    from speech_proactive.text_baselines import copy_source, nearest_neighbour

    rows, refs = [], [[u.tgt_text for u in test.rows]]
    pool = [u for m in train for u in m.rows if (u.src_lang, u.tgt_lang) == (test.rows[0].src_lang, test.rows[0].tgt_lang)]
    for name, hyps in (("copy-source", copy_source(test.rows)), ("nearest-neighbour", nearest_neighbour(pool, test.rows))):
        nan = float("nan")
        rows.append((name, Scores(len(hyps), sacrebleu.corpus_bleu(hyps, refs).score,
                                  sacrebleu.corpus_chrf(hyps, refs).score, nan, nan, nan)))
    return rows


def results_table(results: dict[str, list[tuple[str, Scores]]]) -> str:
    lines = ["| test set | system | n | BLEU | chrF | AL ms | LAAL ms | RTF |", "|---|---|---|---|---|---|---|---|"]
    for manifest, rows in results.items():
        for name, s in rows:
            lines.append(f"| {manifest} | {name} | {s.n} | {s.bleu:.1f} | {s.chrf:.1f} | {s.al_ms:.0f} | "
                         f"{s.laal_ms:.0f} | {s.rtf:.3f} |".replace("| nan ", "| - "))
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m speech_proactive.evaluate", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, type=Path)
    p.add_argument("--manifest", required=True, type=Path, nargs="+", help="test manifests")
    p.add_argument("--policies", nargs="+", default=["offline"], help="offline, wait-k:K[:TOKENS_PER_CHUNK]")
    p.add_argument("--baselines-from", type=Path, nargs="*", default=[],
                   help="training manifests: also score copy-source and nearest-neighbour lookup")
    p.add_argument("--limit", type=int, help="first N utterances of each manifest")
    p.add_argument("--out", type=Path, help="folder for results.json and results.md")
    args = p.parse_args(argv)
    model = load_model(args.model)
    policies = [parse_policy(s) for s in args.policies]
    train = [read_manifest(m, check_audio=False) for m in args.baselines_from]
    results, hyps = {}, {}
    for path in args.manifest:
        test = read_manifest(path)
        if args.limit:
            test = Manifest(test.path, test.rows[: args.limit])
        rows = baseline_rows(train, test) if train else []
        for name, policy in policies:
            decoded = decode_manifest(model, test, policy)
            rows.append((name, score(decoded)))
            hyps[f"{path.name}:{name}"] = [asdict(d) for d in decoded]
            s = rows[-1][1]
            print(f"{path.name:<24} {name:<10} n={s.n:<5} BLEU {s.bleu:5.1f}  chrF {s.chrf:5.1f}  "
                  f"AL {s.al_ms:6.0f} ms  LAAL {s.laal_ms:6.0f} ms  RTF {s.rtf:.3f}", flush=True)
        results[path.name] = rows
    table = results_table(results)
    print(table)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "results.md").write_text(table)
        (args.out / "results.json").write_text(json.dumps(
            {"scores": {m: {n: asdict(s) for n, s in rows} for m, rows in results.items()}, "decoded": hyps},
            indent=1, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
