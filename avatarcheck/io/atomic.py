"""Atomic file writes, stale temp-file cleanup, and output paths checked before any work.

A write goes to a hidden temp file beside the target, ``.NAME.<host>-<pid>.XXXXXXXX.tmp``, which
is fsynced and renamed over the target: a reader never sees a partial file, and a failed write
leaves the old file (or none). A process killed mid-write (SIGKILL, power loss) leaves its temp
file behind; the next successful write into the same folder removes temp files whose writer (by
host tag and pid) is gone (``remove_stale_temps``, run on a process's first write to a folder). Temp files get
the mode a plain ``open()`` would give (not ``mkstemp``'s 0600), so neither outputs nor leftovers differ from
normal files. ``atomic_dir`` does the same for a whole folder: built under a temp name, renamed when complete
(stale temp folders are swept like files).

``check_output_dir`` / ``check_output_file`` let a command refuse a bad ``--out`` up front (an
existing file where a folder is wanted, a parent that is a file, a folder it cannot write in)
with an ``InputError``, before minutes of work are lost.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shutil
import socket
import tempfile
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import numpy as np

from avatarcheck.errors import InputError

# Writers on other hosts (a shared NFS folder) have pids that mean nothing here: the host tag
# keeps this process from judging their temp files.
HOST_TAG = f"{zlib.crc32(socket.gethostname().encode()) & 0xFFFF:04x}"
_TEMP = re.compile(r"^\.(?P<name>.+)\.(?P<host>[0-9a-f]{4})-(?P<pid>\d+)\.[a-z0-9_]{8}\.tmp$")
# Temp files written before the host/pid tag existed: removed only when their target exists and
# they are older than this (no pid to ask whether the writer is alive).
_LEGACY_TEMP = re.compile(r"^\.(?P<name>.+)\.[a-z0-9_]{8}\.tmp$")
LEGACY_TEMP_AGE_S = 3600.0


def _umask() -> int:
    """The process umask, read without changing it where Linux allows (os.umask is racy)."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True  # another user's live process (or an absurd number: leave the file alone)
    return True


def remove_stale_temps(folder: str | os.PathLike, name: str | None = None) -> list[Path]:
    """Remove temp files in ``folder`` left by killed writers (of ``name`` only, if given).

    A temp file is stale when its host tag is this host's and its pid is no longer running, or
    (untagged legacy names) when its target exists and it is older than ``LEGACY_TEMP_AGE_S``.
    Returns the paths removed. Never raises for files that vanish or cannot be removed.
    """
    removed: list[Path] = []
    now = time.time()
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        if not entry.name.endswith(".tmp") or not entry.name.startswith("."):
            continue
        m = _TEMP.match(entry.name)
        stale = False
        if m:
            stale = m["host"] == HOST_TAG and int(m["pid"]) != os.getpid() and not _pid_alive(int(m["pid"]))
        elif m := _LEGACY_TEMP.match(entry.name):
            with contextlib.suppress(OSError):
                stale = os.path.exists(os.path.join(folder, m["name"])) and \
                    now - entry.stat(follow_symlinks=False).st_mtime > LEGACY_TEMP_AGE_S
        if not m or (name is not None and m["name"] != name) or not stale:
            continue
        with contextlib.suppress(OSError):
            if entry.is_file(follow_symlinks=False):
                os.unlink(entry.path)
                removed.append(Path(entry.path))
            elif entry.is_dir(follow_symlinks=False) and _TEMP.match(entry.name):  # an ``atomic_dir`` build
                shutil.rmtree(entry.path)
                removed.append(Path(entry.path))
    return removed


def _nearest_existing(path: Path) -> Path:
    p = path
    while not os.path.lexists(p) and p != p.parent:
        p = p.parent
    return p


def _check_writable_folder(folder: Path, target: Path, field: str) -> None:
    """``folder`` exists and is a folder; prove it is writable by creating and removing a file.

    ``os.access`` is not enough: as root it says yes for ``/proc`` or a read-only mount.
    """
    if not folder.is_dir():
        raise InputError(target, field, "a path whose parents are folders", f"{folder}, which is a file")
    try:
        fd, probe = tempfile.mkstemp(prefix=".avatarcheck-probe.", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        raise InputError(target, field, "a folder this process can write in",
                         f"{folder}: {err.strerror or err}") from None


def check_output_dir(path: str | os.PathLike) -> Path:
    """``path`` as an output folder, checked before any work: ``InputError`` if it cannot be one.

    It may exist (as a folder) or not (its nearest existing parent must be a writable folder);
    nothing is created.
    """
    p = Path(path)
    if os.path.lexists(p) and not p.is_dir():
        raise InputError(p, "output folder", "a folder (or a path to create)", "an existing file")
    _check_writable_folder(_nearest_existing(p), p, "output folder")
    return p


def check_output_file(path: str | os.PathLike) -> Path:
    """``path`` as an output file, checked before any work: ``InputError`` if it cannot be one.

    It may exist (a regular file, replaced atomically) or not; its folder need not exist yet, but
    its nearest existing parent must be a writable folder. Nothing is created.
    """
    p = Path(path)
    if p.is_dir():
        raise InputError(p, "output file", "a file path (or a new one)", "a directory")
    if os.path.exists(p) and not p.is_file():
        raise InputError(p, "output file", "a regular file (or a new path)", "a device, pipe or socket")
    _check_writable_folder(_nearest_existing(p.parent), p, "output file")
    return p


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "wb", encoding: str | None = None) -> Iterator[IO]:
    """Open a temp file in ``path``'s folder; on clean exit fsync it and rename it to ``path``.

    A folder that cannot be made (a parent is a file, no permission) is an ``InputError``.
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_open: mode must be 'w' or 'wb', got {mode!r}")
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.{HOST_TAG}-{os.getpid()}.", suffix=".tmp",
                                        dir=target.parent)
    except OSError as err:
        raise InputError(target, "output file", "a path in a folder this process can write in",
                         f"{type(err).__name__}: {err.strerror or err}") from None
    try:
        os.chmod(tmp_name, 0o666 & ~_umask())  # mkstemp makes 0600; give what open() would
        with os.fdopen(fd, mode, encoding=encoding if "b" not in mode else None) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise
    _sweep_once(target.parent)


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike) -> Iterator[Path]:
    """Build a folder in a temp sibling (named like ``atomic_open``'s temp files); on clean exit rename it to
    ``path``. A reader sees the whole folder or none; a builder killed midway leaves a temp folder that the next
    ``remove_stale_temps`` of the parent removes. ``path`` must not exist: if it appears meanwhile (another
    writer finished first), the build is discarded and ``FileExistsError`` raised."""
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.{HOST_TAG}-{os.getpid()}.", suffix=".tmp",
                                    dir=target.parent))
        os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes 0700; give what mkdir would
    except OSError as err:
        raise InputError(target, "output folder", "a path in a folder this process can write in",
                         f"{type(err).__name__}: {err.strerror or err}") from None
    try:
        yield tmp
        try:
            os.rename(tmp, target)  # atomic; refuses (on Linux) a target that exists and is not empty
        except OSError as err:
            if not target.exists():
                raise
            raise FileExistsError(f"{target}: finished by another writer") from err
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _sweep_once(target.parent)


_SWEPT: set[str] = set()  # folders this process has already swept for stale temp files


def _sweep_once(folder: Path) -> None:
    """``remove_stale_temps`` on a folder's first successful write in this process.

    Once is enough for the case that matters (a killed run, then a new run into the same folder)
    and keeps a 4000-frame render from listing its folder 4000 times.
    """
    key = os.path.abspath(folder)
    if key in _SWEPT:
        return
    if len(_SWEPT) > 4096:  # bounded, like every cache here
        _SWEPT.clear()
    _SWEPT.add(key)
    remove_stale_temps(folder)


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> None:
    with atomic_open(path, "wb") as handle:
        handle.write(data)


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    with atomic_open(path, "w", encoding="utf-8") as handle:
        handle.write(text)


def save_npy_atomic(path: str | os.PathLike, array: np.ndarray) -> None:
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(array), allow_pickle=False)
    write_bytes_atomic(path, buffer.getvalue())


def save_npz_atomic(path: str | os.PathLike, **arrays: np.ndarray) -> None:
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **{k: np.asarray(v) for k, v in arrays.items()})
    write_bytes_atomic(path, buffer.getvalue())
