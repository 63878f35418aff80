"""Load or save a take by file suffix: ``.csv`` (Live Link Face) or ``.npz``.

Inputs are read with a size bound (``MAX_TAKE_BYTES``) after checking they are regular files
(``io.inputs``), so ``/dev/zero``, a FIFO, a directory or a symlink loop is a clean ``InputError``,
never a hang or a ``MemoryError``. Outputs are checked before any work (``check_output_path``), so a bad
``--out`` fails in a second, not after a recording.
"""

from __future__ import annotations

import os
from pathlib import Path

from avatarcheck.errors import InputError
from avatarcheck.io.atomic import check_output_file
from avatarcheck.takes.limits import MAX_TAKE_BYTES  # noqa: F401  (re-exported: files.MAX_TAKE_BYTES)
from avatarcheck.takes.take import Take

SUFFIXES = (".csv", ".npz")


def _suffix(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise InputError(path, "suffix", "a .csv (Live Link Face) or .npz take", repr(path.suffix or "none"))
    return suffix


def check_output_path(path: str | os.PathLike, suffixes: tuple[str, ...] = SUFFIXES) -> Path:
    """``path`` as an output we can write, checked before any work: one of ``suffixes`` (a take's
    by default), then ``io.atomic.check_output_file`` (not a directory, a writable folder, nothing
    created). Raises ``InputError`` naming the path."""
    p = Path(path)
    if p.suffix.lower() not in suffixes:
        raise InputError(p, "suffix", " or ".join(suffixes), repr(p.suffix or "none"))
    return check_output_file(p)


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
        raise InputError(path, "output file", "a writable file path", f"{type(err).__name__}: {err.strerror}") from None
