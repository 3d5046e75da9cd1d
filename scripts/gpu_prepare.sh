#!/usr/bin/env bash
# Run HERE (this machine reaches PyPI), before a session's first device call: puts into .gpu/wheels the wheels
# that scripts/gpu_check.sh installs on the GPU machine, which has PyTorch, transformers, tokenizers and
# safetensors but reaches no package index. Its python3 is 3.12 (device tool's KINDS.md), hence the target
# below. Only what the bench imports beyond the image (measured with python -X importtime) and their own
# dependencies: each is installed there only if its import fails. .gpu/ is git-ignored; carry it:
#   device run: command "bash scripts/gpu_check.sh", carry [".gpu"]
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
mkdir -p .gpu/wheels
# pure-Python wheels and manylinux cp312 wheels; --no-deps: torch must never be pulled (the image has its own)
"$PY" -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux_2_28_x86_64 \
    -d .gpu/wheels soundfile cffi pycparser pyyaml regex tabulate colorama psutil tqdm scipy
ls -1 .gpu/wheels
du -sh .gpu
