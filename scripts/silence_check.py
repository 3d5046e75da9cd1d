"""What a trained bundle writes when nobody speaks, with every policy, with and without the voice gate.

    .venv/bin/python scripts/silence_check.py --model runs/st-default/bundle [--policies offline wait-k:3 ...]

For each direction the bundle knows and each policy, `translate`'s own code runs on the sounds of
`scripts/vad_compare.py` (digital silence, white noise at -50/-40/-30 dBFS, brown noise, 50 Hz hum):
    ungated  25 s of each, the model alone (one session hears at most the encoder's 30 s window)
    gated    60 s of each behind `translate`'s default Silero gate
and prints the number of words written, as a markdown table.
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "scripts"))

from vad_compare import noises  # noqa: E402

from speech_proactive import audio  # noqa: E402
from speech_proactive.apps.translate import translate_file  # noqa: E402
from speech_proactive.streaming.from_bundle import bundle_tasks, open_session  # noqa: E402
from speech_proactive.streaming.vad import VadConfig, make_vad  # noqa: E402

POLICIES = ("offline", "wait-k:1", "wait-k:3", "wait-k:6", "entropy:q0.9", "attention:q0.9", "probe:q0.9",
            "local-agreement")  # fmt: skip
UNGATED_MS = 25_000


def words_written(session, samples: np.ndarray, folder: Path, vad) -> int:
    path = folder / "sound.wav"
    audio.write_wav(path, samples)
    return len(translate_file(session, path, out=io.StringIO(), vad=vad).split())


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", type=Path, required=True)
    p.add_argument("--policies", nargs="+", default=list(POLICIES))
    args = p.parse_args(argv)
    sounds = noises(np.random.default_rng(0))
    gate = make_vad(VadConfig(detector="silero"))
    pairs = [(t.src_lang, t.tgt_lang) for t in bundle_tasks(args.model) or [] if t.task == "st"]
    print("| direction | policy | " + " | ".join(sounds) + " |")
    print("|---|---|" + "---|" * len(sounds))
    with tempfile.TemporaryDirectory() as tmp:
        for src, tgt in pairs:
            for policy in args.policies:
                session = open_session(args.model, policy, "st", src, tgt)
                cells = []
                for x in sounds.values():
                    ungated = words_written(session, x[: audio.ms_to_samples(UNGATED_MS)], Path(tmp), None)
                    gated = words_written(session, x, Path(tmp), gate)
                    cells.append(f"{ungated} / {gated}")
                print(f"| {src}->{tgt} | {policy} | " + " | ".join(cells) + " |", flush=True)
    print(f"\ncells: words written ungated ({UNGATED_MS // 1000} s, the model alone) / gated (60 s, Silero)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
