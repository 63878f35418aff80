"""Wavefront OBJ: triangle meshes with positions only (what LAM's edit-xyz override reads).

Writing is atomic. Reading accepts what exporters produce (``v x y z [r g b]``, ``f a/b/c ...``,
negative indices, quads split into triangles, a UTF-8 byte-order mark) and reports bad lines with
file and line number. Input is bounded: a regular file of at most ``MAX_OBJ_BYTES``.
"""

from __future__ import annotations

import array
import io
import math
import os
from pathlib import Path

import numpy as np

from avatarcheck.errors import InputError
from avatarcheck.io.atomic import write_text_atomic
from avatarcheck.io.inputs import read_bytes_checked
from avatarcheck.numbers import PLAIN_INTEGER, PLAIN_NUMBER

# A subdivided FLAME mesh is about 1.5 MB as OBJ; a million-vertex mesh about 80 MB.
MAX_OBJ_BYTES = 128 << 20
MAX_OBJ_INDEX = 2**31 - 1  # larger face indices cannot refer to a vertex in a bounded file


def write_obj(path: str | os.PathLike, vertices: np.ndarray, faces: np.ndarray, comment: str | None = None) -> None:
    """vertices (V, 3), faces (F, 3) zero-based -> OBJ (one-based) at ``path``."""
    v = np.asarray(vertices, np.float64)
    f = np.asarray(faces, np.int64)
    if v.ndim != 2 or v.shape[1] != 3 or not np.isfinite(v).all():
        raise InputError(path, "vertices", "finite array of shape (V, 3)", f"shape {v.shape}")
    if f.ndim != 2 or f.shape[1] != 3 or (f.size and (f.min() < 0 or f.max() >= len(v))):
        raise InputError(path, "faces", f"array (F, 3) of indices in [0, {len(v)})", f"shape {f.shape}")
    buf = io.StringIO()
    if comment:
        buf.write("".join(f"# {line}\n" for line in comment.splitlines()))
    np.savetxt(buf, v, fmt="v %.9g %.9g %.9g")
    np.savetxt(buf, f + 1, fmt="f %d %d %d")
    write_text_atomic(path, buf.getvalue())


def _coords(parts: list[str]) -> list[float] | None:
    """``v`` tokens -> [x, y, z] or None; accepts x y z, x y z w and x y z r g b (ASCII numbers only)."""
    if len(parts) not in (3, 4, 6) or not all(PLAIN_NUMBER.fullmatch(t) for t in parts):
        return None
    xyz = [float(t) for t in parts[:3]]
    return xyz if all(math.isfinite(x) for x in xyz) else None


def _face_indices(parts: list[str], num_read: int) -> list[int] | None:
    """``f`` tokens (``a``, ``a/b``, ``a//c``, ``a/b/c``) -> zero-based vertex indices, or None.

    Negative indices count back from the ``num_read`` vertices read so far.
    """
    out = []
    for tok in parts:
        first, *rest = tok.split("/")
        if (not PLAIN_INTEGER.fullmatch(first) or len(rest) > 2
                or not all(r == "" or PLAIN_INTEGER.fullmatch(r) for r in rest)):
            return None
        i = int(first)
        if i == 0 or abs(i) > MAX_OBJ_INDEX:
            return None
        out.append(i - 1 if i > 0 else num_read + i)
    return out if len(out) >= 3 else None


def read_obj(path: str | os.PathLike, max_bytes: int = MAX_OBJ_BYTES) -> tuple[np.ndarray, np.ndarray]:
    """OBJ -> (vertices (V, 3) float64, faces (F, 3) int64, zero-based).

    A regular UTF-8 file (a byte-order mark is skipped) of at most ``max_bytes``; numbers must be
    plain ASCII decimals (Python's ``float`` would also take ``1_0`` and Arabic-Indic digits).
    """
    p = Path(path)
    raw = read_bytes_checked(p, max_bytes, "an OBJ file")
    try:
        text = raw.decode("utf-8-sig")  # exporters on Windows write a BOM; it is not part of line 1
    except UnicodeDecodeError as err:
        raise InputError(p, "file", "a UTF-8 text OBJ", f"undecodable bytes at offset {err.start}") from None
    del raw
    verts = array.array("d")  # flat, 8 bytes a number: no per-vertex Python objects
    faces = array.array("q")
    for lineno, line in enumerate(io.StringIO(text), start=1):  # lazily, one line at a time
        parts = line.split()
        if not parts or parts[0] not in ("v", "f"):
            continue
        if parts[0] == "v":
            xyz = _coords(parts[1:])
            if xyz is None:
                raise InputError(f"{p}:{lineno}", "v", "three finite coordinates (x y z [w] or x y z r g b)",
                                 line.strip()[:80])
            verts.extend(xyz)
        else:
            idx = _face_indices(parts[1:], len(verts) // 3)
            if idx is None:
                raise InputError(f"{p}:{lineno}", "f", f"three or more vertex indices (1-based, |i| <= "
                                 f"{MAX_OBJ_INDEX})", line.strip()[:80])
            for k in range(1, len(idx) - 1):
                faces.extend((idx[0], idx[k], idx[k + 1]))
    v = np.frombuffer(verts, np.float64).reshape(-1, 3)  # views on the arrays: no second copy
    f = np.frombuffer(faces, np.int64).reshape(-1, 3)
    if not len(v):
        raise InputError(p, "v", "at least one vertex", "none (empty or not an OBJ)")
    if f.size and (f.min() < 0 or f.max() >= len(v)):
        raise InputError(p, "f", f"indices in [1, {len(v)}]", f"[{f.min() + 1}, {f.max() + 1}]")
    return v, f
