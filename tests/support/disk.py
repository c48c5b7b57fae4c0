"""Real small file systems for storage-fault tests: a disk that fills, a mount that turns
read-only.

:func:`small_disk` mounts a tmpfs of a few MB in a temporary directory, or, where tmpfs cannot be
mounted, a loop-mounted ext4 image. Both need root (CI runs as root); when neither works the test
**fails** (it does not skip), since a storage-fault test that ran against nothing proves nothing.
:func:`fill` takes every free block with a filler file; removing it gives the room back.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

_CHUNKS = (1 << 20, 64 << 10, 4 << 10, 512, 1)
_MAX_FILL = 256 << 20
"""Bound on what :func:`fill` writes, whatever the file system claims."""


def _run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)


@contextlib.contextmanager
def small_disk(size_mb: int = 4, *, ext4: bool = False) -> Iterator[Path]:
    """A freshly mounted file system of about ``size_mb`` MB; unmounted on exit.

    ``ext4`` skips tmpfs (whose writes ignore ``chattr +i`` on a file already open)."""
    root = Path(tempfile.mkdtemp(prefix="check502-disk-"))
    mount = root / "mnt"
    mount.mkdir()
    image = root / "disk.img"
    errors: list[str] = []
    done = subprocess.CompletedProcess[str]((), 1, "", "not tried")
    if not ext4:
        done = _run("mount", "-t", "tmpfs", "-o", f"size={size_mb}m,mode=0755", "tmpfs", str(mount))
        errors.append(f"tmpfs: {done.stderr.strip()}")
    if done.returncode != 0:
        with open(image, "wb") as f:
            f.truncate(size_mb << 20)
        made = _run("mkfs.ext4", "-q", "-F", "-m", "0", str(image))
        done = _run("mount", "-o", "loop", str(image), str(mount)) if made.returncode == 0 else made
        errors.append(f"loop ext4: {done.stderr.strip()}")
    if done.returncode != 0:
        shutil.rmtree(root, ignore_errors=True)
        pytest.fail("no small file system could be mounted (needs root): " + "; ".join(errors))
    try:
        yield mount
    finally:
        _run("umount", "-l", str(mount))
        shutil.rmtree(root, ignore_errors=True)


def remount(mount: Path, mode: str) -> None:
    """``mode`` is ``"ro"`` or ``"rw"``: the whole file system turns read-only (or back)."""
    done = _run("mount", "-o", f"remount,{mode}", str(mount))
    if done.returncode != 0:
        pytest.fail(f"could not remount {mount} {mode}: {done.stderr.strip()}")


def fill(mount: Path, leave: int = 0) -> Path:
    """Write a filler file until the file system says ENOSPC, then give back ``leave`` bytes
    (whole pages); return the file (delete it for all the room)."""
    filler = mount / "filler"
    written = 0
    with open(filler, "wb", buffering=0) as f:
        for chunk in _CHUNKS:
            block = b"\0" * chunk
            while written < _MAX_FILL:
                try:
                    f.write(block)
                except OSError as exc:
                    if exc.errno != errno.ENOSPC:
                        raise
                    break
                written += chunk
        with contextlib.suppress(OSError):
            os.fsync(f.fileno())
        if leave:
            f.truncate(max(0, f.tell() - leave))
    assert written < _MAX_FILL, "the file system never filled"
    return filler
