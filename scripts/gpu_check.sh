#!/usr/bin/env bash
# Run ON the lent GPU machine (device tool) from the repository root, with .gpu carried (scripts/gpu_prepare.sh
# fills it here first). Installs what the image lacks from the carried wheels, then one of:
#   MODE=bench (default)  the CUDA-only tests (pytest -m gpu: replayed CUDA graphs equal uncaptured steps),
#                         then python -m speech_proactive.bench --device cuda --size $SIZE (medium) --graphs, which
#                         times the eager streaming path beside the graphed one; about 5 min. GRAPHS= (empty)
#                         drops --graphs
#   MODE=train            the grammar corpus (espeak-ng from .gpu/debs), then recipes/st/gpu.yaml for at
#                         most TRAIN_S seconds (default 420; OVERRIDES="max_steps=..." shortens it); the log, the
#                         loss plot and the step times come back
# Everything goes to $OUT. EXTRA="--quick" shortens the bench; DEVICE=cpu PY=.venv/bin/python dry-runs it here.
set -uo pipefail
OUT=${OUT:-/tmp/gpu_check_out}
MODE=${MODE:-bench}
SIZE=${SIZE:-medium}
DEVICE=${DEVICE:-cuda}
PY=${PY:-python3}
mkdir -p "$OUT"
exec > >(tee "$OUT/gpu_check-$MODE.log") 2>&1
t0=$(date +%s)
say() { echo "== [$(( $(date +%s) - t0 ))s] $*"; }

say "environment"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>/dev/null || echo "no nvidia-smi"
"$PY" -c "import sys, torch, transformers; print(sys.version.split()[0], 'torch', torch.__version__,
'transformers', transformers.__version__, 'cuda', torch.cuda.is_available() and torch.cuda.get_device_name())"

say "packages the image lacks (installed from .gpu/wheels)"
missing=()
while read -r module package; do
    "$PY" -c "import $module" 2>/dev/null || missing+=("$package")
done < <(grep -v '^#' scripts/gpu_packages.txt)
for mod in scipy PIL numpy; do  # expected in the image: not carried
    "$PY" -c "import $mod" 2>/dev/null || { echo "the image lacks $mod, which .gpu does not carry"; exit 2; }
done
if [ "${#missing[@]}" -gt 0 ]; then
    echo "installing: ${missing[*]}"
    "$PY" -m pip install --quiet --no-index --no-deps --find-links .gpu/wheels "${missing[@]}" \
        || { echo "pip install failed: run scripts/gpu_prepare.sh here and carry .gpu"; exit 2; }
fi
export PYTHONPATH=$PWD HF_HUB_OFFLINE=1

if [ "$MODE" = bench ]; then
    say "CUDA-only tests"
    "$PY" -m pytest -p no:flake8 -q -m gpu tests/ 2>&1 | tail -n 15
    say "bench: size $SIZE on $DEVICE ${GRAPHS---graphs}"
    "$PY" -m speech_proactive.bench --device "$DEVICE" --size "$SIZE" --stride 16 --memory-s 120 ${GRAPHS---graphs} \
        ${EXTRA:-} --json "$OUT/bench-$SIZE-$DEVICE.json"
    rc=$?
elif [ "$MODE" = train ]; then
    if ! command -v espeak-ng > /dev/null; then  # unpack the carried Debian packages into a private prefix
        root=$PWD/.gpu/root
        for f in .gpu/debs/*.deb; do dpkg -x "$f" "$root"; done
        export PATH=$root/usr/bin:$PATH LD_LIBRARY_PATH=$root/usr/lib/x86_64-linux-gnu:${LD_LIBRARY_PATH:-}
        export ESPEAK_DATA_PATH=$root/usr/lib/x86_64-linux-gnu
    fi
    espeak-ng --version || { echo "espeak-ng does not run"; exit 2; }
    say "corpus"
    PY=$PY LAST=1 recipes/st/run.sh || exit 3
    say "training recipes/st/gpu.yaml for at most ${TRAIN_S:-420} s"
    run=${RUN:-runs/st-gpu}
    PY=$PY CONFIG=recipes/st/gpu.yaml RUN=$run STAGE=2 LAST=2 OVERRIDES="${OVERRIDES:-}" \
        timeout "${TRAIN_S:-420}" recipes/st/run.sh
    rc=$?
    [ "$rc" = 124 ] && echo "stopped by TRAIN_S (a partial run: see the last logged step)"
    cp "$run/log.jsonl" "$run/loss.png" "$OUT/" 2>/dev/null
    tail -n 3 "$run/log.jsonl" 2>/dev/null
else
    echo "MODE=$MODE: choose bench or train"; exit 2
fi
say "done, exit $rc"
exit $rc
