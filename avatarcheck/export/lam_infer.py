"""Write an avatar as LAM's infer output (``sources/lam_infer.py`` reads it back).

``<name>_shaped_mesh.obj`` (the subdivided mesh: the splat anchors), ``<name>_gs_offset.ply`` (LAM's PLY
layout) and, since LAM's infer output carries no motion, ``flame/head.npz``: our pickle-free head with the
coarse ARKit basis. A basis given on the subdivided vertices (an OAC export's) keeps only its coarse rows.
"""

from __future__ import annotations

import os
from pathlib import Path

from avatarcheck.sources.lam_infer import FLAME_SUBFOLDER, PLY_SUFFIX


def write_lam_infer(avatar, out: str | os.PathLike, name: str = "avatar") -> Path:
    """Write ``avatar`` into the folder ``out`` (created); returns it."""
    from avatarcheck.head.loaders import save_head_npz
    from avatarcheck.io.obj import write_obj
    from avatarcheck.splats.ply import write_ply

    out = Path(out)
    (out / FLAME_SUBFOLDER).mkdir(parents=True, exist_ok=True)
    sub = avatar.head_sub
    write_obj(out / f"{name}_shaped_mesh.obj", sub.v_template, sub.faces,
              comment=f"avatarcheck: {name}, the shaped once-subdivided mesh (splat anchors)")
    write_ply(out / f"{name}{PLY_SUFFIX}", avatar.cloud, sub.v_template, layout="lam")
    save_head_npz(avatar.head, out / FLAME_SUBFOLDER / "head.npz")
    return out
