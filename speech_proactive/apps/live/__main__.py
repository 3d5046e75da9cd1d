"""python -m speech_proactive.live --model BUNDLE [--policy SPEC] [--task st|asr|qa] [--wav FILE [--speed X]] ...

Translate (or transcribe) speech live: from the microphone (default), or from a file played in real time.
With `--task qa --prompt "Where does Anna live?"` it listens for the answer and writes it as soon as it has
heard enough (a QA model, e.g. `make recipe-qa`'s; a pause then starts listening for the same question anew).
Stop with Ctrl-C: the output is flushed and a summary printed. Exit codes: 0 done, 1 the input failed while
playing, 2 cannot start (no microphone, bad bundle, bad option), 130 a second Ctrl-C before the flush ended.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from speech_proactive.streaming.segmenter import SegmenterConfig
from speech_proactive.streaming.vad import VadConfig

if TYPE_CHECKING:
    from speech_proactive.apps.live.app import LiveConfig
    from speech_proactive.apps.live.microphone import MicSettings


QA_PAUSE_MS = 2000.0  # espeak-ng and most speakers pause well under 2 s between the sentences of a passage


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m speech_proactive.live",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--model", type=Path, help="bundle folder (required unless --list-devices)")
    p.add_argument(
        "--policy",
        default="entropy:q0.9",
        help="offline, wait-k:K[:PER_CHUNK], entropy:T|qQ, attention:T|qQ[:RECENT], hold-n:N, "
        "local-agreement (default: entropy:q0.9, calibrated once on the bundle's dev set)",
    )
    p.add_argument("--task", choices=["st", "asr", "qa"], default="st")
    p.add_argument("--prompt", help="qa: the question to answer about what is said")
    p.add_argument("--src-lang", help="source language (default: the bundle's, when it knows only one)")
    p.add_argument(
        "--tgt-lang",
        help="target language of st (default: the bundle's, when that leaves one; asr writes the source language)",
    )
    src = p.add_argument_group("input")
    src.add_argument("--wav", type=Path, help="play this sound file (any rate and channels) instead of the microphone")
    src.add_argument("--speed", type=float, default=1.0, help="--wav playback: 1 real time, 0 as fast as possible")
    src.add_argument("--device", type=int, help="input device number (see --list-devices)")
    src.add_argument("--list-devices", action="store_true", help="list the input devices and exit")
    src.add_argument(
        "--queue-chunks",
        type=int,
        default=16,
        help="audio queued for the model before chunks are dropped (default 16 = 5 s)",
    )
    seg = p.add_argument_group("segmentation (bounds memory and compute over long sessions)")
    seg.add_argument(
        "--pause-ms",
        type=float,
        help="a pause this long ends the segment: output flushed, model state reset (default "
        f"{SegmenterConfig.pause_ms:.0f}; qa: {QA_PAUSE_MS:.0f}, so that a passage's sentences "
        "stay one segment)",
    )
    seg.add_argument(
        "--max-segment-s",
        type=float,
        default=SegmenterConfig.max_segment_ms / 1000,
        help="cut uninterrupted speech after this long; below the encoder's 30 s (default 20)",
    )
    seg.add_argument(
        "--vad-dbfs",
        type=float,
        default=VadConfig.threshold_dbfs,
        help="speech is louder than this RMS level (default -45 dBFS; lower for a quiet microphone)",
    )
    seg.add_argument(
        "--vad",
        choices=["energy", "silero"],
        default="silero",
        help="voice-activity gate: silero (default: Silero's neural speech detector, which also rejects loud noise "
        "and hum; the silero-vad package) or energy (level above the learnt noise)",
    )
    out = p.add_argument_group("output")
    out.add_argument("--jsonl", action="store_true", help="one JSON event per line instead of text")
    out.add_argument("--save-audio", type=Path, help="write the audio the model received to this WAV")
    out.add_argument("--save-transcript", type=Path, help="write one line per finished segment to this file")
    return p


def config(args: argparse.Namespace) -> LiveConfig:
    from speech_proactive.apps.live.app import LiveConfig
    from speech_proactive.config import TaskSpec
    from speech_proactive.model.trained_tasks import resolve_task
    from speech_proactive.streaming.from_bundle import bundle_tasks

    pause_ms = args.pause_ms if args.pause_ms is not None else QA_PAUSE_MS if args.task == "qa" else None
    segmenter = SegmenterConfig(
        pause_ms=pause_ms or SegmenterConfig.pause_ms,
        max_segment_ms=args.max_segment_s * 1000,
        vad=VadConfig(threshold_dbfs=args.vad_dbfs, detector=args.vad),
    )
    TaskSpec.check_prompt(args.task, args.prompt)
    task = resolve_task(args.task, args.src_lang, args.tgt_lang, args.prompt or "", bundle_tasks(args.model))
    return LiveConfig(
        args.model,
        args.policy,
        task,
        args.wav,
        args.speed,
        args.device,
        args.queue_chunks,
        segmenter,
        args.jsonl,
        args.save_audio,
        args.save_transcript,
    )


def main(argv: list[str] | None = None) -> int:
    p = parser()
    args = p.parse_args(argv)
    from speech_proactive.apps.live import microphone

    try:
        if args.list_devices:
            print(microphone.describe_devices())
            return 0
        if args.model is None:
            p.error("--model BUNDLE is required")
        if args.speed < 0 or args.queue_chunks < 1:
            p.error("--speed must be >= 0 and --queue-chunks >= 1")
        try:
            cfg = config(args)
        except ValueError as e:  # options that do not go together (--task qa without --prompt, ...)
            p.error(str(e))
        mic = None if args.wav is not None else microphone.probe(args.device)  # before the slow model load
        return _run(cfg, mic)
    except microphone.NoMicrophone as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def _run(cfg: LiveConfig, mic: MicSettings | None) -> int:
    from speech_proactive.apps.live import app
    from speech_proactive.audio import AudioError
    from speech_proactive.model.bundle import BundleError

    try:
        session = app.load_session(cfg)
        live = app.prepare(cfg, session, mic, sys.stdout)
    except (BundleError, AudioError, ValueError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    try:
        app.run(live)
    except AudioError as e:  # audio that could not be converted mid-stream
        print(f"error: {e}", file=sys.stderr)
        return 1
    if live.source.error is not None:
        print(f"error: {live.source.error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
