"""Load or save a take by file suffix: ``.csv`` (Live Link Face) or ``.npz``.

Inputs are read with a size bound (``MAX_TAKE_BYTES``) after checking they are regular files
(``io.inputs``), so ``/dev/zero``, a FIFO, a directory or a symlink loop is a clean ``InputError``,
never a hang or a ``MemoryError``. Outputs are checked before any work (``check_output_path``), so a bad
``--out`` fails in a second, not after a recording.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from avatarcheck.errors import InputError
from avatarcheck.io.inputs import checked_input_file
from avatarcheck.takes.take import Take

SUFFIXES = (".csv", ".npz")
#: Largest take file read: a one-hour 60 fps Live Link Face CSV is about 150 MB.
MAX_TAKE_BYTES = 512 << 20


def _suffix(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise InputError(path, "suffix", "a .csv (Live Link Face) or .npz take", repr(path.suffix or "none"))
    return suffix


def read_checked_bytes(path: str | os.PathLike, max_bytes: int = MAX_TAKE_BYTES) -> bytes:
    """The bytes of ``path`` after ``io.inputs.checked_input_file`` (a regular file of at most
    ``max_bytes``; a link to ``/dev/zero`` is refused as a device). ``FileNotFoundError`` passes."""
    size = checked_input_file(path, max_bytes)
    try:
        with open(path, "rb") as handle:
            # read(n) allocates n bytes up front: ask for the stat size (+ 1 catches growth), not the cap
            data = handle.read(size + 1)
    except FileNotFoundError:
        raise
    except OSError as err:
        raise InputError(path, "file", "a readable take file", f"{type(err).__name__}: {err.strerror or err}") from None
    if len(data) > size:
        raise InputError(path, "file size", f"{size} bytes as stat() said", "more (it grew while read)")
    return data


def check_output_path(path: str | os.PathLike, suffixes: tuple[str, ...] = SUFFIXES) -> Path:
    """``path`` as an output we can write: one of ``suffixes`` (a take's by default), not a directory, and a folder that
    exists (or can be made) and is writable. Raises ``InputError`` naming the path otherwise; makes
    no folder and writes nothing, so it is safe to call before a long recording."""
    p = Path(path)
    if p.suffix.lower() not in suffixes:
        raise InputError(p, "suffix", " or ".join(suffixes), repr(p.suffix or "none"))
    if p.is_dir():
        raise InputError(p, "output", "a file path", "an existing directory")
    parent = p.parent
    # the nearest folder that exists: every missing one below it would be created by the writer
    existing = parent
    while not existing.exists() and existing != existing.parent:
        if existing.is_symlink():
            raise InputError(p, "output", "a path whose folders exist or can be made", f"a dangling link {existing}")
        existing = existing.parent
    if not existing.is_dir():
        raise InputError(p, "output", "a path under a folder", f"{existing} is a file, not a folder")
    if p.exists() and not p.is_file():
        raise InputError(p, "output", "a regular file path", "a device, pipe or socket")
    if existing == parent:
        # a real probe: permissions say little for root or for /proc, a create-and-delete says it all
        try:
            fd, probe = tempfile.mkstemp(prefix=f".{p.name[:40]}.", suffix=".probe", dir=parent)
            os.close(fd)
            os.unlink(probe)
        except OSError as err:
            raise InputError(p, "output", "a path in a writable folder",
                             f"{type(err).__name__}: {err.strerror or err}") from None
    elif not os.access(existing, os.W_OK | os.X_OK):
        raise InputError(p, "output", "a path in a writable folder", f"{existing} is not writable")
    return p


def load_take(path: str | os.PathLike, fps: float | None = None) -> Take:
    """Read a take; ``fps`` is the CSV timecode rate (ignored for .npz, which stores its own)."""
    path = Path(path)
    if _suffix(path) == ".csv":
        from avatarcheck.takes.csv_io import read_livelink_csv

        return read_livelink_csv(path, fps)
    from avatarcheck.takes.npz_io import load_take_npz

    return load_take_npz(path)


def save_take(path: str | os.PathLike, take: Take) -> None:
    """Write a take atomically in the format its suffix names (the output is checked first)."""
    path = check_output_path(path)
    try:
        if _suffix(path) == ".csv":
            from avatarcheck.takes.csv_io import write_livelink_csv

            write_livelink_csv(path, take)
        else:
            from avatarcheck.takes.npz_io import save_take_npz

            save_take_npz(path, take)
    except (FileExistsError, NotADirectoryError, PermissionError) as err:  # raced with another process
        raise InputError(path, "output", "a writable file path", f"{type(err).__name__}: {err.strerror}") from None
