#!/usr/bin/env bash
# Run HERE (this machine reaches PyPI and Debian), before a session's first device call. Fills the git-ignored
# .gpu/ with what scripts/gpu_check.sh needs on the GPU machine, which has PyTorch, transformers, tokenizers,
# safetensors, numpy, scipy and Pillow but reaches no package index. Its python3 is 3.12 (the device tool's
# KINDS.md), hence the wheel target below.
#   .gpu/wheels  the packages listed in scripts/gpu_packages.txt, each installed there only if its import fails
#   .gpu/debs    espeak-ng and its libraries (Debian 12), unpacked there into .gpu/root for the corpus build
# Then, with the device tool: command "bash scripts/gpu_check.sh", carry [".gpu"] (about 30 MB).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
mkdir -p .gpu/wheels .gpu/debs
# --no-deps: torch must never be pulled in (the image has its own CUDA build)
"$PY" -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux_2_28_x86_64 \
    -d .gpu/wheels $(grep -v '^#' scripts/gpu_packages.txt | cut -d' ' -f2)
(cd .gpu/debs && apt-get download espeak-ng libespeak-ng1 espeak-ng-data libpcaudio0 libsonic0 2>/dev/null)
ls -1 .gpu/wheels .gpu/debs
du -sh .gpu
