"""Fetch a Debian package's files without installing it: `apt-get download` into a cache folder, then unpack.

Nothing is installed and no root is needed for the unpacking (`dpkg --fsys-tarfile X.deb | tar -x`). Both steps
are idempotent: a .deb already in the cache is not downloaded again, and a package already unpacked is not
unpacked again. Only when `apt-get download` fails because the package lists are missing or stale is
`apt-get update` run, once, before one more try.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

_UNPACKED_MARKER = ".unpacked-from"


class DebianError(RuntimeError):
    """A package could not be downloaded or unpacked; the message says which and why."""


@dataclass(frozen=True)
class UnpackedPackage:
    name: str
    deb: Path  # the downloaded .deb in the cache folder
    root: Path  # the folder the package's file tree was unpacked into (root / "usr/share/...")


def cached_deb(package: str, cache_dir: Path) -> Path | None:
    """The newest .deb of `package` already in the cache folder, or None."""
    debs = sorted(Path(cache_dir).glob(f"{package}_*.deb"), key=lambda p: (p.stat().st_mtime, p.name))
    return debs[-1] if debs else None


def _apt_get(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    if shutil.which("apt-get") is None:
        raise DebianError("apt-get not found: fetching Debian packages needs a Debian-based system")
    return subprocess.run(["apt-get", *args], cwd=cwd, capture_output=True, text=True)


def _lacks_package_lists(stderr: str) -> bool:
    signs = ("Unable to locate package", "has no installation candidate", "404", "Failed to fetch")
    return any(s in stderr for s in signs)


def download_deb(package: str, cache_dir: str | Path) -> Path:
    """The package's .deb in `cache_dir`, downloaded with `apt-get download` unless it is already there."""
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    found = cached_deb(package, cache_dir)
    if found is not None:
        return found
    result = _apt_get(["download", package], cache_dir)
    if result.returncode != 0 and _lacks_package_lists(result.stderr):
        update = _apt_get(["update"], cache_dir)
        if update.returncode != 0:
            raise DebianError(f"apt-get update failed (needed to find {package!r}):\n{update.stderr.strip()}")
        result = _apt_get(["download", package], cache_dir)
    found = cached_deb(package, cache_dir)
    if result.returncode != 0 or found is None:
        raise DebianError(f"apt-get download {package} failed (exit {result.returncode}):\n{result.stderr.strip()}")
    return found


def unpack_deb(deb: str | Path, dest: str | Path) -> Path:
    """Unpack the file tree of `deb` into `dest` (atomically: a half-unpacked tree is never taken as done)."""
    deb, dest = Path(deb), Path(dest)
    marker = dest / _UNPACKED_MARKER
    if marker.is_file() and marker.read_text(encoding="utf-8").strip() == deb.name:
        return dest
    if not deb.is_file():
        raise DebianError(f"{deb}: no such .deb file")
    tmp = dest.with_name(dest.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    _extract(deb, tmp)
    (tmp / _UNPACKED_MARKER).write_text(deb.name + "\n", encoding="utf-8")
    shutil.rmtree(dest, ignore_errors=True)
    tmp.rename(dest)
    return dest


def _extract(deb: Path, dest: Path) -> None:
    dpkg = subprocess.Popen(["dpkg", "--fsys-tarfile", str(deb)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    tar = subprocess.run(["tar", "-x", "-C", str(dest)], stdin=dpkg.stdout, capture_output=True, text=True)
    dpkg.stdout.close()
    dpkg_err = dpkg.stderr.read().decode(errors="replace")
    dpkg.stderr.close()
    if dpkg.wait() != 0 or tar.returncode != 0:
        raise DebianError(f"could not unpack {deb}: {dpkg_err.strip()} {tar.stderr.strip()}".strip())


def fetch_package(package: str, cache_dir: str | Path) -> UnpackedPackage:
    """Download (if needed) and unpack (if needed) `package`: debs in cache_dir, trees in cache_dir/unpacked/."""
    cache_dir = Path(cache_dir)
    deb = download_deb(package, cache_dir)
    root = unpack_deb(deb, cache_dir / "unpacked" / package)
    return UnpackedPackage(name=package, deb=deb, root=root)
