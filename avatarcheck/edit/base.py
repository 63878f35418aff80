"""The edit interface: a deformation of the canonical head, the assets it bakes, and how to save them.

An edit (the LAM chibi recipe's chibi, horns, anime eyes, ...) is a smooth map D of canonical
space with its Jacobian. Baking evaluates it on an avatar (pure, in memory):

=================  ==============  ==================================================================
``EditAssets``     shape           content
=================  ==============  ==================================================================
``edited_sub``     (V_sub, 3)      D(canonical subdivided mesh): the splat anchors LAM is handed
``basis``          (52, V, 3)      D(v + b_k) - D(v) on the coarse mesh: the re-evaluated ARKit basis
                                  ((52, V_sub, 3) when the avatar's basis comes on the subdivided mesh)
``ratio``          (V_sub,)        mean incident edge length, edited / canonical: the scale pull-back
``jacobians``      (V_sub, 3, 3)   J_D at each anchor: the anisotropic pull-back (J S S^T J^T)
``eyeballs``       2 ``EyeballFit``  rigid eyes only: each eyeball's similarity and what it measured
=================  ==============  ==================================================================

By default every bake keeps the eyeballs rigid (``edit.rigid_eyes``): each edited eyeball is replaced by
a uniformly scaled, rotated and moved copy of the rest one, and the four arrays follow on its anchors.

``save_assets`` writes them under the recipe's file names (``OVERRIDE_ASSETS``) with a manifest; a
folder holds one bake (an earlier bake's asset files of any kind are removed).
A new edit is one module defining an ``EditKind`` (``edit/interface.py``) plus one line in ``edit/registry.py``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from avatarcheck.edit.basis import reevaluate_basis
from avatarcheck.edit.corrections import scale_ratio
# The interface lives in edit.interface (a leaf, so kinds import it without a cycle); re-exported here.
from avatarcheck.edit.interface import REQUIRED, Deformation, EditAssets, EditKind, checked_params
from avatarcheck.edit.rigid_eyes import rigid_eyeballs

if TYPE_CHECKING:
    from avatarcheck.avatar import Avatar

__all__ = ["MANIFEST_FILE", "REQUIRED", "Deformation", "EditAssets", "EditKind", "asset_files", "bake",
           "checked_params", "save_assets", "stale_asset_files"]

MANIFEST_FILE = "manifest.json"


def bake(avatar: "Avatar", deformation: Deformation, name: str, kind: str,
         params: Mapping[str, Any] | None = None, rigid_eyes: bool = True) -> EditAssets:
    """Evaluate ``deformation`` on ``avatar``: the assets, in memory, float32 (eyeballs rigid unless
    ``rigid_eyes=False``: ``edit.rigid_eyes``)."""
    canon_sub = avatar.head_sub.v_template
    edited_sub = np.asarray(deformation(canon_sub)).astype(np.float32)
    if avatar.basis_on_subdivided:  # an OAC avatar's morph targets: re-evaluate where they are given
        basis = reevaluate_basis(deformation, canon_sub, avatar.head_sub.arkit_basis).astype(np.float32)
    else:
        basis = reevaluate_basis(deformation, avatar.head.v_template, avatar.head.arkit_basis).astype(np.float32)
    ratio = scale_ratio(canon_sub, edited_sub, avatar.topology.edges_sub)
    jac = np.asarray(deformation.jacobian(canon_sub)).astype(np.float32)
    assets = EditAssets(name, kind, dict(params or {}), avatar.head.name, edited_sub, basis, ratio, jac)
    return rigid_eyeballs(avatar, assets) if rigid_eyes else assets


def asset_files(kind: str) -> dict[str, str]:
    """Override gate name -> file name for an edit kind (the LAM chibi recipe's names for chibi)."""
    from avatarcheck.edit.override_assets import OVERRIDE_ASSETS

    return {a.gate_name: f"{kind}_{a.file_stem}" for a in OVERRIDE_ASSETS if a.file_stem}


def _asset_name_pattern() -> re.Pattern[str]:
    """``<kind>_<file stem>`` for any kind (an identifier, ``register_edit``) and every asset's stem."""
    from avatarcheck.edit.override_assets import OVERRIDE_ASSETS

    stems = "|".join(re.escape(a.file_stem) for a in OVERRIDE_ASSETS if a.file_stem)
    return re.compile(rf"[A-Za-z_][A-Za-z0-9_]*_(?:{stems})")


def stale_asset_files(folder: Path, keep: set[str]) -> list[Path]:
    """Files in ``folder`` named like an asset of any edit kind (``<kind>_<file stem>``), except ``keep``.

    An earlier bake's files under those names (another kind's ``mesh_*`` beside ``chibi_*``, the
    Jacobians a bake without ``--jacobians`` does not rewrite) are what ``LAM_*`` variables and old
    ``use:`` lines point at, so they must not outlive the bake that wrote them.
    """
    if not folder.is_dir():
        return []
    pattern = _asset_name_pattern()
    return sorted(p for p in folder.iterdir() if pattern.fullmatch(p.name) and p.name not in keep
                  and (p.is_file() or p.is_symlink()))


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def save_assets(assets: EditAssets, out_dir: str | os.PathLike, head_sub_faces: np.ndarray,
                jacobians: bool = False) -> dict:
    """Write the assets atomically, the manifest last (a folder with a manifest is complete).

    The folder holds one bake: the old manifest goes first, then every asset file of any kind this
    bake does not write (``stale_asset_files``), then the new files (each atomic), then the manifest.
    A reader that finds a manifest therefore finds exactly its files; a bake that fails midway leaves
    no manifest and none of the earlier bake's files.
    """
    from avatarcheck.io.atomic import save_npy_atomic, write_text_atomic
    from avatarcheck.io.obj import write_obj

    out = Path(out_dir)
    files = asset_files(assets.kind)
    written = [files["xyz"], files["arkit_bs"], files["scale_ratio"]] + ([files["jacobians"]] if jacobians else [])
    (out / MANIFEST_FILE).unlink(missing_ok=True)  # an old manifest must not vouch for new files
    for stale in stale_asset_files(out, set(written)):
        stale.unlink(missing_ok=True)
    write_obj(out / files["xyz"], assets.edited_sub, head_sub_faces,
              comment=f"avatarcheck {assets.name}: {assets.avatar} deformed by {assets.kind} {assets.params}")
    save_npy_atomic(out / files["arkit_bs"], assets.basis)
    save_npy_atomic(out / files["scale_ratio"], assets.ratio)
    if jacobians:
        save_npy_atomic(out / files["jacobians"], assets.jacobians)
    manifest = {
        "edit": assets.name,
        "kind": assets.kind,
        "avatar": assets.avatar,
        "params": assets.params,
        "vertices": int(assets.basis.shape[1]),
        "vertices_subdivided": int(assets.edited_sub.shape[0]),
        "shapes": {files["xyz"]: list(assets.edited_sub.shape), files["arkit_bs"]: list(assets.basis.shape),
                   files["scale_ratio"]: list(assets.ratio.shape)},
        "scale_ratio": assets.ratio_stats(),
        "rigid_eyes": {f.side: f.summary() for f in assets.eyeballs} or None,
        "files": {g: f for g, f in files.items() if f in written},
        "sha256": {f: _sha256(out / f) for f in written},
    }
    write_text_atomic(out / MANIFEST_FILE, json.dumps(manifest, indent=2) + "\n")
    return manifest
