#!/usr/bin/env bash
# Run ON the lent GPU machine (device tool), from the repository root, with .gpu carried (scripts/gpu_prepare.sh
# fills it here first). Installs what the image lacks from the carried wheels, then runs issue 7's GPU bench and
# writes everything to $OUT: the table, the JSON, and the environment. One call, about 5 minutes on the eager
# path; give the machine back afterwards.
#   SIZE=medium (default) | small | default ; EXTRA="--quick" for a shorter run ; DEVICE=cpu to dry-run here
set -uo pipefail
OUT=${OUT:-/tmp/gpu_check_out}
SIZE=${SIZE:-medium}
DEVICE=${DEVICE:-cuda}
PY=${PY:-python3}
mkdir -p "$OUT"
exec > >(tee "$OUT/gpu_check.log") 2>&1

echo "== environment"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>/dev/null || echo "no nvidia-smi"
"$PY" -c "import sys, torch, transformers; print(sys.version.split()[0], 'torch', torch.__version__,
'transformers', transformers.__version__, 'cuda', torch.cuda.is_available() and torch.cuda.get_device_name())"

echo "== packages the image lacks (from .gpu/wheels)"
missing=()
for pair in soundfile:soundfile yaml:pyyaml regex:regex tabulate:tabulate colorama:colorama psutil:psutil \
            tqdm:tqdm scipy:scipy; do
    "$PY" -c "import ${pair%%:*}" 2>/dev/null || missing+=("${pair#*:}")
done
if [ "${#missing[@]}" -gt 0 ]; then
    echo "installing: ${missing[*]}"
    deps=()
    [[ " ${missing[*]} " == *" soundfile "* ]] && ! "$PY" -c "import cffi" 2>/dev/null && deps+=(cffi pycparser)
    "$PY" -m pip install --quiet --no-index --no-deps --find-links .gpu/wheels "${missing[@]}" "${deps[@]}" \
        || { echo "pip install failed: run scripts/gpu_prepare.sh here and carry .gpu"; exit 2; }
fi
export PYTHONPATH=$PWD HF_HUB_OFFLINE=1

echo "== bench: size $SIZE on $DEVICE"
start=$(date +%s)
"$PY" -m speech_proactive.bench --device "$DEVICE" --size "$SIZE" --stride 16 --memory-s 120 ${EXTRA:-} \
    --json "$OUT/bench-$SIZE-$DEVICE.json"
rc=$?
echo "== bench exit $rc after $(( $(date +%s) - start )) s"
exit $rc
