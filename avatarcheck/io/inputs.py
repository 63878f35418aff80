"""Input files checked before they are read: a regular file of bounded size.

Every reader of user files goes through here first, so a directory, ``/dev/zero``, a FIFO, a
symlink loop or a 50 GB file is a clean ``InputError`` naming the path instead of a traceback,
a hang or an unbounded read. ``FileNotFoundError`` passes through unchanged: the command-line
layer reports a missing file on its own.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from avatarcheck.errors import InputError

# The largest input any reader accepts unless told otherwise. FLAME's biggest pickle is about
# 100 MB and a 20k-splat PLY a few MB, so 2 GiB only stops garbage and device files.
MAX_INPUT_BYTES = 2 << 30


def checked_input_file(path: str | os.PathLike, max_bytes: int = MAX_INPUT_BYTES, what: str = "a file") -> int:
    """The size in bytes of ``path`` after checking it is a regular file of at most ``max_bytes``.

    Symlinks are followed, so a link to ``/dev/zero`` is refused as a device.
    """
    p = Path(path)
    try:
        st = p.stat()
    except FileNotFoundError:
        raise
    except OSError as err:  # symlink loop, permission, name too long
        raise InputError(p, "file", f"{what} that can be read", f"{type(err).__name__}: {err.strerror or err}") from None
    if stat.S_ISDIR(st.st_mode):
        raise InputError(p, "file", f"{what} (a regular file)", "a directory")
    if not stat.S_ISREG(st.st_mode):
        raise InputError(p, "file", f"{what} (a regular file)", "a device, pipe or socket")
    if st.st_size > max_bytes:
        raise InputError(p, "file size", f"{what} of at most {max_bytes} bytes", f"{st.st_size} bytes")
    return int(st.st_size)


def read_bytes_checked(path: str | os.PathLike, max_bytes: int = MAX_INPUT_BYTES, what: str = "a file") -> bytes:
    """The whole of ``path`` (checked by ``checked_input_file``); never reads past ``max_bytes``."""
    size = checked_input_file(path, max_bytes, what)
    try:
        with open(path, "rb") as handle:
            # read(n) allocates n bytes up front: ask for the real size (+ 1 to notice growth),
            # never for max_bytes
            data = handle.read(size + 1)
            while len(data) <= max_bytes and (more := handle.read(min(1 << 20, max_bytes + 1 - len(data)))):
                data += more
    except FileNotFoundError:
        raise
    except OSError as err:
        raise InputError(path, "file", f"{what} that can be read", f"{type(err).__name__}: {err.strerror or err}") from None
    if len(data) > max_bytes:
        raise InputError(path, "file size", f"{what} of at most {max_bytes} bytes", "more (it grew while read)")
    return data
