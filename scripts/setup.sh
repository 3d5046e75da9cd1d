#!/usr/bin/env bash
# One-command setup for speech_proactive: system packages + .venv with the project installed.
# Idempotent; a second run with an unchanged pyproject.toml takes a few seconds and installs nothing.
set -euo pipefail

start=$(date +%s.%N)
cd "$(dirname "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")")"

VENV=.venv
STAMP="$VENV/.setup-done"
TORCH_PIN="torch==2.13.0"   # exact pin: resolves to the local CPU wheel; never let pip choose torch
APT_PKGS=(espeak-ng sox libportaudio2 chromium chromium-driver)  # chromium: the served page's browser test

# ---- system packages ----------------------------------------------------------------------
missing=()
for pkg in "${APT_PKGS[@]}"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if ((${#missing[@]})); then
    SUDO=()
    if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then SUDO=(sudo); fi
    export DEBIAN_FRONTEND=noninteractive
    "${SUDO[@]}" apt-get update -qq
    "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    echo "system packages: installed ${missing[*]}"
else
    echo "system packages: ok"
fi

bash scripts/install_voices.sh

# ---- virtual env --------------------------------------------------------------------------
if ! python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    echo "setup: python3 is $(python3 -V 2>&1); Python 3.11+ is required" >&2
    exit 1
fi
if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
    echo "venv: created $VENV ($("$VENV/bin/python" -V 2>&1))"
fi

# pip, with the harmless "WARNING: Location 'file:///opt/pypi...' is ignored" lines removed
# from stderr. Real errors stay visible and pip's exit status is kept (pipefail).
pip_q() {
    { "$VENV/bin/pip" "$@" 2>&1 1>&3 3>&- | { grep -v -E "^WARNING: Location '[^']*' is ignored" >&2 || true; }; } 3>&1
}

want=$(sha256sum pyproject.toml | cut -d' ' -f1)
have=$(cat "$STAMP" 2>/dev/null || true)
if [ "$want" = "$have" ]; then
    echo "python packages: ok (pyproject.toml unchanged)"
else
    rm -f "$STAMP"
    echo "python packages: installing $TORCH_PIN, then -e '.[all,test]' ..."
    pip_q install -q "$TORCH_PIN"
    pip_q install -q -e '.[all,test]'
    tmp="$STAMP.tmp-$$"
    echo "$want" > "$tmp"
    mv -f "$tmp" "$STAMP"
    echo "python packages: installed"
fi

end=$(date +%s.%N)
awk -v s="$start" -v e="$end" 'BEGIN { printf "setup: done in %.1fs\n", e - s }'
