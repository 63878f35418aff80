"""Write an avatar as LAM's OpenAvatarChat export (``sources/oac.py`` reads it back).

Members, under one folder named after the avatar (LAM's zip layout):

- ``skin.glb``: the subdivided mesh in a body frame (head centred at y ``BODY_Y``, as LAM's are), its faces,
  the 51 ARKit morph targets LAM's template has (no ``tongueOut``), sparse, names in ``extras.targetNames``,
  gaze baked into ``eyeLook*`` (``export/gaze.py``), every vertex skinned to one head joint;
- ``offset.ply``: the splats in LAM's PLY layout (offset from the vertex, RGB);
- ``vertex_order.json``: the vertex indices sorted by depth (z), back to front;
- ``animation.glb``: a skeleton-only placeholder (LAM ships its own sample clips; we cannot).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import numpy as np

from avatarcheck.arkit import ARKIT_NAMES

BODY_Y = 1.64            # LAM's heads span y 1.48-1.80 m in the body frame
ABSENT = ("tongueOut",)  # LAM's template has no tongue target


def body_offset(vertices: np.ndarray) -> np.ndarray:
    """(3,) translation putting the head's bounding-box centre at y = ``BODY_Y`` (zero when it is within 5 cm,
    so an avatar read from an OAC export is written back bit for bit)."""
    v = np.asarray(vertices, np.float64)
    dy = BODY_Y - 0.5 * (v[:, 1].min() + v[:, 1].max())
    return np.array([0.0, 0.0 if abs(dy) < 0.05 else dy, 0.0], np.float32)


def oac_members(avatar) -> dict[str, bytes]:
    """The four members' bytes for ``avatar`` (an ``Avatar``)."""
    from avatarcheck.export.gaze import gaze_basis
    from avatarcheck.io.glb import SkinMesh, write_skin_glb
    from avatarcheck.splats.ply import write_ply

    sub = avatar.head_sub
    positions = (np.asarray(sub.v_template, np.float32) + body_offset(sub.v_template)).astype(np.float32)
    basis = gaze_basis(sub)
    keep = [i for i, n in enumerate(ARKIT_NAMES) if n not in ABSENT]
    n = len(positions)
    joints = np.zeros((n, 4), np.int64)
    weights = np.zeros((n, 4), np.float32)
    weights[:, 0] = 1.0
    mesh = SkinMesh(positions=positions, triangles=np.asarray(sub.faces, np.int64),
                    target_names=tuple(ARKIT_NAMES[i] for i in keep), target_deltas=basis[keep],
                    joints=joints, weights=weights, source="skin.glb")
    with tempfile.TemporaryDirectory(prefix="avatarcheck-oac-") as tmp:
        ply = Path(tmp) / "offset.ply"
        write_ply(ply, avatar.cloud, positions, layout="lam")
        ply_bytes = ply.read_bytes()
    order = np.argsort(positions[:, 2], kind="stable").tolist()
    return {"skin.glb": write_skin_glb(mesh), "offset.ply": ply_bytes,
            "vertex_order.json": json.dumps(order).encode(), "animation.glb": skeleton_glb()}


def skeleton_glb() -> bytes:
    """A minimal valid GLB: one scene with one ``root`` node (no mesh, no clips)."""
    import pygltflib

    doc = pygltflib.GLTF2(scene=0, scenes=[pygltflib.Scene(nodes=[0])], nodes=[pygltflib.Node(name="root")],
                          asset=pygltflib.Asset(generator="avatarcheck", version="2.0"))
    return b"".join(doc.save_to_bytes())


def write_oac(avatar, out: str | os.PathLike, name: str = "avatar") -> Path:
    """Write ``avatar`` to ``out``: a ``.zip`` (atomic) or, for any other path, a folder of the four files."""
    from avatarcheck.io.atomic import write_bytes_atomic
    from avatarcheck.io.zipped import write_zip_atomic

    out = Path(out)
    members = oac_members(avatar)
    if out.suffix.lower() == ".zip":
        write_zip_atomic(out, members, folder=name)
    else:
        out.mkdir(parents=True, exist_ok=True)
        for member, data in members.items():
            write_bytes_atomic(out / member, data)
    return out
