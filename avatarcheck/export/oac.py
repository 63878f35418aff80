"""Write an avatar as LAM's OpenAvatarChat export (``sources/oac.py`` reads it back).

Members, under one folder named after the avatar (LAM's zip layout):

- ``skin.glb``: the subdivided mesh in a body frame (head centred at y ``BODY_Y``, as LAM's are), its faces,
  the 51 ARKit morph targets LAM's template has (no ``tongueOut``), sparse, names in ``extras.targetNames``,
  gaze baked into ``eyeLook*`` (``export/gaze.py``), skinned to a body skeleton laid out like LAM's
  (``export/body_skeleton.py``: cm armature, inverse bind matrices, two influences along the neck);
- ``offset.ply``: the splats in LAM's PLY layout (offset from the vertex, RGB);
- ``vertex_order.json``: LAM's rule (``vertex_order``);
- ``animation.glb``: the skeleton alone, no clips (LAM ships its own sample clips; we cannot).
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


def vertex_order(positions: np.ndarray) -> list[int]:
    """LAM's ``vertex_order.json`` for positions (V, 3): the vertex indices sorted by height, lowest first.

    LAM's exporter sorts Blender's vertices by world z (Python's stable ``sorted``); Blender's z is glTF's y.
    (Three public exports agree to within 7 mm of height: their orders come from each person's own shape,
    while the three zips carry one template's skin.glb.)"""
    return np.argsort(np.asarray(positions, np.float32)[:, 1], kind="stable").tolist()


def lam_ply_bytes(cloud, anchors: np.ndarray) -> bytes:
    """``cloud`` on anchors (V, 3) as LAM's ``offset.ply`` (``splats/ply.py``'s LAM layout), in memory."""
    from avatarcheck.splats.ply import write_ply

    with tempfile.TemporaryDirectory(prefix="avatarcheck-oac-") as tmp:
        ply = Path(tmp) / "offset.ply"
        write_ply(ply, cloud, anchors, layout="lam")
        return ply.read_bytes()


def oac_members(avatar) -> dict[str, bytes]:
    """The four members' bytes for ``avatar`` (an ``Avatar``)."""
    from avatarcheck.export.body_skeleton import body_skeleton, chain_weights
    from avatarcheck.export.gaze import gaze_basis
    from avatarcheck.io.glb import SkinMesh, write_skin_glb

    sub = avatar.head_sub
    positions = (np.asarray(sub.v_template, np.float32) + body_offset(sub.v_template)).astype(np.float32)
    basis = gaze_basis(sub)
    keep = [i for i, n in enumerate(ARKIT_NAMES) if n not in ABSENT]
    skeleton = body_skeleton(positions)
    joints, weights = chain_weights(positions, skeleton)
    mesh = SkinMesh(positions=positions, triangles=np.asarray(sub.faces, np.int64),
                    target_names=tuple(ARKIT_NAMES[i] for i in keep), target_deltas=basis[keep],
                    joints=joints, weights=weights, source="skin.glb")
    return {"skin.glb": write_skin_glb(mesh, skeleton=skeleton, material=True),
            "offset.ply": lam_ply_bytes(avatar.cloud, positions),
            "vertex_order.json": json.dumps(vertex_order(positions)).encode(),
            "animation.glb": skeleton_glb(skeleton)}


def skeleton_glb(skeleton) -> bytes:
    """A valid GLB holding ``skeleton``'s armature and joint nodes alone (no mesh, no clips, no BIN chunk)."""
    from avatarcheck.io.glb_rewrite import pack_glb

    arm: dict = {"name": "Armature", "rotation": [float(q) for q in skeleton.armature_rotation],
                 "scale": [float(skeleton.armature_scale)] * 3}
    nodes = [arm] + [{"name": n, "translation": [float(x) for x in t]}
                     for n, t in zip(skeleton.names, skeleton.local_translations())]
    for j, parent in enumerate(skeleton.parents):
        owner = arm if parent < 0 else nodes[1 + parent]
        owner.setdefault("children", []).append(1 + j)
    doc = {"asset": {"generator": "avatarcheck", "version": "2.0"}, "scene": 0, "scenes": [{"nodes": [0]}],
           "nodes": nodes}
    return pack_glb(doc, None)


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
