"""Translate (or transcribe) audio files by streaming them through a session chunk by chunk.

    python -m speech_proactive.translate --model BUNDLE [--policy SPEC] FILE.wav [FILE2.flac ...]

SPEC is any policy of the evaluation sweep: offline, wait-k:K, entropy:T|qQ, attention:T|qQ, probe:T|qQ,
hold-n:N, local-agreement (a qQ threshold is calibrated once on the bundle's dev set and kept in the bundle).
`--task qa --prompt "QUESTION"` answers a question about the audio.

Any WAV/FLAC/OGG, any sample rate and channel count (converted to 16 kHz mono). Prints one JSON line per
emission, {"file", "text", "source_ms", "compute_ms"}, then one line per file with the final text,
{"file", "final": true, "text", "audio_ms", "compute_ms", "speech"}.

A voice-activity gate (`--vad silero`, the default; `energy`; `off`) listens to the whole file first: a file
in which it hears no speech (silence, noise, hum) gets no words, `"speech": false`, and the model never runs.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from speech_proactive import audio
from speech_proactive.config import TaskSpec
from speech_proactive.model.bundle import BundleError
from speech_proactive.streaming.from_bundle import open_session
from speech_proactive.streaming.session import Session
from speech_proactive.streaming.vad import VadConfig, make_vad

VAD_BLOCK_MS = 320  # the live demo's gate decides per block of this length too


def hears_speech(samples, vad) -> bool:
    """Whether the gate hears speech in any block of the file (it is reset first)."""
    vad.reset()
    step = audio.ms_to_samples(VAD_BLOCK_MS)
    return any(vad(samples[start : start + step]).speech for start in range(0, len(samples), step))


def _print(out, **row) -> None:
    print(json.dumps(row, ensure_ascii=False), file=out, flush=True)


def translate_file(session: Session, file: Path, out=sys.stdout, vad=None) -> str:
    """The file's final text; every emission and the final line printed as JSON to `out`. With a `vad`
    (streaming.vad.make_vad), a file without speech gets no words and costs no model step."""
    samples = audio.load_audio(file)
    audio_ms = round(audio.samples_to_ms(len(samples)), 1)
    if vad is not None and not hears_speech(samples, vad):
        _print(out, file=str(file), final=True, text="", audio_ms=audio_ms, compute_ms=0.0, speech=False)
        return ""
    window_ms = session.model.cfg.encoder.n_audio_ctx * audio.ENC_FRAME_MS
    if audio.samples_to_ms(len(samples)) > window_ms:  # one session hears one utterance of at most the encoder's window
        raise audio.AudioError(
            f"{file}: {audio.samples_to_ms(len(samples)) / 1000:.1f} s is longer than the encoder's "
            f"{window_ms / 1000:.0f} s window; for long recordings use `python -m speech_proactive.live --model "
            f"BUNDLE --wav {file} --speed 0 --jsonl`, which cuts the stream at pauses"
        )
    session.reset()
    step = audio.ms_to_samples(session.chunk_ms)
    t0 = time.perf_counter()
    for start in range(0, len(samples), step):
        end = start + step
        for e in session.push_audio(samples[start:end], finished=end >= len(samples)):
            _print(out, file=str(file), text=e.text, source_ms=round(e.source_ms, 1), compute_ms=round(e.compute_ms, 2))
    final = session.final_text
    compute_ms = round((time.perf_counter() - t0) * 1000, 1)
    _print(out, file=str(file), final=True, text=final, audio_ms=audio_ms, compute_ms=compute_ms, speech=True)
    return final


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m speech_proactive.translate",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--model", required=True, type=Path, help="bundle folder")
    p.add_argument("--policy", default="offline", help="policy spec (see above); plain `wait-k` takes --k")
    p.add_argument("--k", type=int, default=3, help="wait-k: chunks to wait before the first write")
    p.add_argument("--task", default="st", choices=["st", "asr", "qa"])
    p.add_argument("--prompt", help="qa: the question to answer about the audio")
    p.add_argument("--src-lang", help="source language (default: the bundle's, when it knows only one)")
    p.add_argument("--tgt-lang", help="target language of st (default: the bundle's, when that leaves one)")
    p.add_argument(
        "--vad",
        default="silero",
        choices=["silero", "energy", "off"],
        help="gate: a file in which it hears no speech gets no words (default: silero)",
    )
    p.add_argument("files", nargs="+", type=Path)
    args = p.parse_args(argv)
    try:
        TaskSpec.check_prompt(args.task, args.prompt)
    except ValueError as e:
        p.error(str(e))
    spec = f"wait-k:{args.k}" if args.policy == "wait-k" else args.policy
    try:
        session = open_session(args.model, spec, args.task, args.src_lang, args.tgt_lang, args.prompt or "")
    except (BundleError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    vad = None if args.vad == "off" else make_vad(VadConfig(detector=args.vad))
    status = 0
    for f in args.files:
        try:
            translate_file(session, f, vad=vad)
        except audio.AudioError as e:  # one bad file does not stop the others
            print(f"error: {e}", file=sys.stderr)
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
