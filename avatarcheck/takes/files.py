"""Load or save a take by file suffix: ``.csv`` (Live Link Face) or ``.npz``."""

from __future__ import annotations

import os
from pathlib import Path

from avatarcheck.errors import InputError
from avatarcheck.takes.take import Take

SUFFIXES = (".csv", ".npz")


def _suffix(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise InputError(path, "suffix", "a .csv (Live Link Face) or .npz take", repr(path.suffix or "none"))
    return suffix


def load_take(path: str | os.PathLike, fps: float | None = None) -> Take:
    """Read a take; ``fps`` is the CSV timecode rate (ignored for .npz, which stores its own)."""
    path = Path(path)
    if _suffix(path) == ".csv":
        from avatarcheck.takes.csv_io import read_livelink_csv

        return read_livelink_csv(path, fps)
    from avatarcheck.takes.npz_io import load_take_npz

    return load_take_npz(path)


def save_take(path: str | os.PathLike, take: Take) -> None:
    """Write a take atomically in the format its suffix names."""
    path = Path(path)
    if _suffix(path) == ".csv":
        from avatarcheck.takes.csv_io import write_livelink_csv

        write_livelink_csv(path, take)
    else:
        from avatarcheck.takes.npz_io import save_take_npz

        save_take_npz(path, take)
