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

``save_assets`` writes them under the recipe's file names (``OVERRIDE_ASSETS``) with a manifest.
A new edit is one module defining an ``EditKind`` plus one line in ``edit/registry.py``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from avatarcheck.edit.corrections import scale_ratio
from avatarcheck.errors import InputError

if TYPE_CHECKING:
    from avatarcheck.avatar import Avatar

MANIFEST_FILE = "manifest.json"


class Deformation(Protocol):
    """A smooth map of canonical space: points (N, 3) -> (N, 3), and its Jacobian (N, 3, 3)."""

    def __call__(self, points: np.ndarray) -> np.ndarray: ...

    def jacobian(self, points: np.ndarray) -> np.ndarray: ...


@dataclasses.dataclass(frozen=True)
class EditKind:
    """A registered kind of edit.

    ``params``: parameter name -> (type, default or ``REQUIRED``), the keys a gate file's
    ``[[edits]]`` entry (or the bake command) may set beside ``name`` and ``kind``.
    ``make(avatar, params, source)``: bind the deformation to an avatar (params already checked).
    ``validate(params, source, where)``: value checks beyond types, run when a gate file is read, so
    a bad value fails before any rendering (raise ``InputError`` naming ``where.key``).
    """

    name: str
    description: str
    params: Mapping[str, tuple[type, Any]]
    make: Callable[["Avatar", Mapping[str, Any], str], Deformation]
    validate: Callable[[Mapping[str, Any], str, str], None] | None = None


REQUIRED = object()


def checked_params(kind: EditKind, given: Mapping[str, Any], source: str, where: str) -> dict[str, Any]:
    """Fill defaults and check names and types; errors name ``source`` and ``where.key``."""
    out: dict[str, Any] = {}
    for key in given:
        if key not in kind.params:
            raise InputError(source, f"{where}.{key}", f"a parameter of edit kind {kind.name!r} "
                             f"({', '.join(sorted(kind.params))})", "an unknown key")
    for key, (typ, default) in kind.params.items():
        if key not in given:
            if default is REQUIRED:
                raise InputError(source, f"{where}.{key}", f"a {typ.__name__}", "nothing (missing)")
            out[key] = default
            continue
        value = given[key]
        numeric = typ is float and isinstance(value, (int, float)) and not isinstance(value, bool)
        if not (numeric or (isinstance(value, typ) and not (typ is not bool and isinstance(value, bool)))):
            raise InputError(source, f"{where}.{key}", f"a {typ.__name__}", repr(value))
        if typ is float and not np.isfinite(float(value)):
            raise InputError(source, f"{where}.{key}", "a finite number", repr(value))
        out[key] = float(value) if typ is float else value
    if kind.validate is not None:
        kind.validate(out, source, where)
    return out


@dataclasses.dataclass(frozen=True, eq=False)
class EditAssets:
    """An edit baked on one avatar (see the module docstring for the arrays)."""

    name: str
    kind: str
    params: dict[str, Any]
    avatar: str
    edited_sub: np.ndarray
    basis: np.ndarray
    ratio: np.ndarray
    jacobians: np.ndarray
    eyeballs: tuple = ()  # (EyeballFit, EyeballFit) when baked with rigid eyes

    def ratio_stats(self) -> dict[str, float]:
        r = self.ratio
        return {"min": float(r.min()), "median": float(np.median(r)), "max": float(r.max())}


def bake(avatar: "Avatar", deformation: Deformation, name: str, kind: str,
         params: Mapping[str, Any] | None = None, rigid_eyes: bool = True) -> EditAssets:
    """Evaluate ``deformation`` on ``avatar``: the assets, in memory, float32 (eyeballs rigid unless
    ``rigid_eyes=False``: ``edit.rigid_eyes``)."""
    from avatarcheck.edit.chibi import reevaluate_basis
    from avatarcheck.edit.rigid_eyes import rigid_eyeballs

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


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def save_assets(assets: EditAssets, out_dir: str | os.PathLike, head_sub_faces: np.ndarray,
                jacobians: bool = False) -> dict:
    """Write the assets atomically, the manifest last (a folder with a manifest is complete)."""
    from avatarcheck.io.atomic import save_npy_atomic, write_text_atomic
    from avatarcheck.io.obj import write_obj

    out = Path(out_dir)
    files = asset_files(assets.kind)
    (out / MANIFEST_FILE).unlink(missing_ok=True)  # an old manifest must not vouch for new files
    write_obj(out / files["xyz"], assets.edited_sub, head_sub_faces,
              comment=f"avatarcheck {assets.name}: {assets.avatar} deformed by {assets.kind} {assets.params}")
    save_npy_atomic(out / files["arkit_bs"], assets.basis)
    save_npy_atomic(out / files["scale_ratio"], assets.ratio)
    written = [files["xyz"], files["arkit_bs"], files["scale_ratio"]]
    if jacobians:
        save_npy_atomic(out / files["jacobians"], assets.jacobians)
        written.append(files["jacobians"])
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
