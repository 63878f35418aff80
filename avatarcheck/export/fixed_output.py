"""Where a fixed avatar may be written (``avatarcheck bake --format oac|lam``), checked before any work.

- ``oac`` writes one ``.zip`` file, ``lam`` one folder; each is published whole (``io/atomic.py``), so a
  killed bake leaves the old output or none, never half of one.
- An existing output is replaced only with ``--force`` (a fixed avatar is a hand-off, not a scratch folder).
- The output may not be, lie inside, or contain the input: writing over the avatar being read (or a
  ``--force`` that replaces the folder holding it) would destroy the input.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from avatarcheck.errors import InputError

FIXED_FORMATS = ("oac", "lam")


def _inside(child: Path, parent: Path) -> bool:
    return child == parent or parent in child.parents


def check_fixed_output(out: str | os.PathLike, fmt: str, avatar_spec: str | None, force: bool) -> Path:
    """``out`` checked for format ``fmt`` against the input path ``avatar_spec`` (None or ``synthetic...``:
    no input file) -> the path. ``InputError`` naming ``--out`` when it cannot be the output."""
    from avatarcheck.io.atomic import check_output_dir, check_output_file

    out = Path(out)
    if fmt == "oac" and out.suffix.lower() != ".zip":
        raise InputError(out, "--out", "a .zip path for --format oac (LAM's OpenAvatarChat zip)", repr(out.suffix))
    (check_output_file if fmt == "oac" else check_output_dir)(out)
    if os.path.lexists(out) and not force:
        raise InputError(out, "--out", "a path that does not exist yet (or --force to replace it)",
                         f"an existing {'folder' if out.is_dir() else 'file'}")
    if avatar_spec is not None and os.path.exists(avatar_spec):
        src, dst = Path(avatar_spec).resolve(), out.resolve()
        if _inside(dst, src) or (fmt == "lam" and _inside(src, dst)):
            raise InputError(out, "--out", f"a path outside the input avatar {avatar_spec} (and not holding it)",
                             "the input itself" if src == dst else "a path inside it" if _inside(dst, src)
                             else "a folder holding it")
    return out


def move_aside(path: Path) -> Path:
    """Rename an existing output out of the way (named like ``atomic_dir``'s temp folders, so a bake killed
    before removing it leaves something the next sweep of the folder removes) -> its new path."""
    from avatarcheck.io.atomic import HOST_TAG

    aside = Path(tempfile.mkdtemp(prefix=f".{path.name}.{HOST_TAG}-{os.getpid()}.", suffix=".tmp",
                                  dir=path.parent))
    os.rename(path, aside / "old")  # within one folder: atomic
    return aside


def discard(aside: Path) -> None:
    shutil.rmtree(aside, ignore_errors=True)
