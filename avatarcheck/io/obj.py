"""Wavefront OBJ: triangle meshes with positions only (what LAM's edit-xyz override reads).

Writing is atomic. Reading accepts what exporters produce (``v x y z [r g b]``, ``f a/b/c ...``,
negative indices, quads split into triangles) and reports bad lines with file and line number.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np

from avatarcheck.errors import InputError
from avatarcheck.io.atomic import write_text_atomic


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


def read_obj(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """OBJ -> (vertices (V, 3) float64, faces (F, 3) int64, zero-based)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8", errors="strict")
    except UnicodeDecodeError as err:
        raise InputError(p, "file", "a UTF-8 text OBJ", f"undecodable bytes at offset {err.start}") from None
    verts: list[list[float]] = []
    faces: list[list[int]] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        parts = line.split()
        if not parts or parts[0] not in ("v", "f"):
            continue
        if parts[0] == "v":
            try:
                xyz = [float(x) for x in parts[1:4]]
            except ValueError:
                xyz = []
            if len(xyz) != 3 or not np.isfinite(xyz).all():
                raise InputError(f"{p}:{lineno}", "v", "three finite coordinates", line.strip()[:80])
            verts.append(xyz)
        else:
            try:
                idx = [int(tok.split("/")[0]) for tok in parts[1:]]
            except ValueError:
                idx = []
            if len(idx) < 3 or 0 in idx:
                raise InputError(f"{p}:{lineno}", "f", "three or more vertex indices (1-based)", line.strip()[:80])
            # Negative indices count back from the vertices read so far.
            idx = [i - 1 if i > 0 else len(verts) + i for i in idx]
            faces.extend([idx[0], idx[k], idx[k + 1]] for k in range(1, len(idx) - 1))
    v = np.asarray(verts, np.float64).reshape(-1, 3)
    f = np.asarray(faces, np.int64).reshape(-1, 3)
    if not len(v):
        raise InputError(p, "v", "at least one vertex", "none (empty or not an OBJ)")
    if f.size and (f.min() < 0 or f.max() >= len(v)):
        raise InputError(p, "f", f"indices in [1, {len(v)}]", f"[{f.min() + 1}, {f.max() + 1}]")
    return v, f
