#!/usr/bin/env bash
# The MBROLA voices the default corpus is spoken in: Debian's `mbrola` (contrib) and its voices (non-free).
# Debian's default sources list only `main`; this adds a deb822 file with the same URIs, suites and signing key
# and the components contrib and non-free, then installs the packages. Idempotent: a second run checks dpkg
# and does nothing. The voices carry their own non-free licence: audio made with them is built at setup time
# and never committed.
set -euo pipefail

PKGS=(mbrola mbrola-de1 mbrola-de2 mbrola-de3 mbrola-de4 mbrola-de5 mbrola-de6 mbrola-de7 mbrola-de8
      mbrola-us1 mbrola-us2 mbrola-us3 mbrola-en1)
MAIN_SOURCES=/etc/apt/sources.list.d/debian.sources
EXTRA_SOURCES=/etc/apt/sources.list.d/debian-contrib-non-free.sources

missing=()
for pkg in "${PKGS[@]}"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if ((${#missing[@]} == 0)); then
    echo "MBROLA voices: ok"
    exit 0
fi

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
    if ! command -v sudo >/dev/null 2>&1; then
        echo "install_voices: need root (or sudo) to install ${missing[*]}" >&2
        exit 1
    fi
    SUDO=(sudo)
fi
if ! apt-cache policy mbrola 2>/dev/null | grep -q 'Candidate: [0-9]'; then
    if [ ! -f "$EXTRA_SOURCES" ]; then
        if [ ! -f "$MAIN_SOURCES" ]; then
            echo "install_voices: no $MAIN_SOURCES (a deb822 Debian sources file) to copy; add Debian's" \
                 "contrib and non-free components to your apt sources, then rerun" >&2
            exit 1
        fi
        # same stanzas, comments dropped, only the components changed
        grep -v '^#' "$MAIN_SOURCES" | sed -E 's/^Components:.*/Components: contrib non-free/' \
            | "${SUDO[@]}" tee "$EXTRA_SOURCES" >/dev/null
        echo "MBROLA voices: added $EXTRA_SOURCES (contrib non-free)"
    fi
    "${SUDO[@]}" apt-get update -qq
fi
DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "MBROLA voices: installed ${missing[*]}"
