"""Bake the seed's edit assets for any avatar and deformation field.

``bake_chibi`` writes, into one folder:

==========================  ==============  ==========================================
file                        shape           content
==========================  ==============  ==========================================
chibi_textured_mesh.obj     V_sub vertices  D(canonical subdivided mesh), subdivided faces
chibi_arkit_bs.npy          (52, V, 3)      D(v + b_k) - D(v) on the coarse mesh
chibi_scale_ratio.npy       (V_sub,)        mean incident edge, edited / canonical
chibi_j_per_vert.npy        (V_sub, 3, 3)   optional: Jacobian of D at each anchor
manifest.json                               parameters, shapes, ratio stats, sha256
==========================  ==============  ==========================================

Files are written atomically and the manifest last, so a folder with a manifest is complete.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from pathlib import Path

import numpy as np

from avatarcheck.avatar import Avatar
from avatarcheck.edit.chibi import ChibiParams, chibi_field, reevaluate_basis
from avatarcheck.edit.corrections import scale_ratio
from avatarcheck.io.atomic import save_npy_atomic, write_text_atomic
from avatarcheck.io.obj import write_obj

MESH_FILE = "chibi_textured_mesh.obj"
BASIS_FILE = "chibi_arkit_bs.npy"
RATIO_FILE = "chibi_scale_ratio.npy"
JACOBIAN_FILE = "chibi_j_per_vert.npy"
MANIFEST_FILE = "manifest.json"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def bake_chibi(avatar: Avatar, params: ChibiParams, out_dir: str | os.PathLike, jacobians: bool = False,
               name: str = "chibi") -> dict:
    """Compute and write the assets; returns the manifest (also written as manifest.json)."""
    out = Path(out_dir)
    field = chibi_field(avatar.head.v_template, params)
    canon_sub = avatar.head_sub.v_template
    edited_sub = field(canon_sub).astype(np.float32)
    basis = reevaluate_basis(field, avatar.head.v_template, avatar.head.arkit_basis)
    ratio = scale_ratio(canon_sub, edited_sub, avatar.topology.edges_sub)

    (out / MANIFEST_FILE).unlink(missing_ok=True)  # an old manifest must not vouch for new files
    write_obj(out / MESH_FILE, edited_sub, avatar.head_sub.faces,
              comment=f"avatarcheck {name}: {avatar.head_sub.name} deformed, {dataclasses.asdict(params)}")
    save_npy_atomic(out / BASIS_FILE, basis.astype(np.float32))
    save_npy_atomic(out / RATIO_FILE, ratio)
    files = [MESH_FILE, BASIS_FILE, RATIO_FILE]
    if jacobians:
        save_npy_atomic(out / JACOBIAN_FILE, field.jacobian(canon_sub).astype(np.float32))
        files.append(JACOBIAN_FILE)
    manifest = {
        "edit": name,
        "avatar": avatar.head.name,
        "params": dataclasses.asdict(params),
        "vertices": avatar.head.num_vertices,
        "vertices_subdivided": avatar.head_sub.num_vertices,
        "shapes": {MESH_FILE: list(edited_sub.shape), BASIS_FILE: list(basis.shape), RATIO_FILE: list(ratio.shape)},
        "scale_ratio": {"min": float(ratio.min()), "median": float(np.median(ratio)), "max": float(ratio.max())},
        "sha256": {f: _sha256(out / f) for f in files},
    }
    write_text_atomic(out / MANIFEST_FILE, json.dumps(manifest, indent=2) + "\n")
    return manifest
