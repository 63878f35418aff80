"""An edited avatar as LAM's OpenAvatarChat zip: the input's files with the edit written into them.

``avatarcheck bake --format oac`` hands over the avatar that passed the gate in the format LAM's web renderer
and OpenAvatarChat load, with no code change on their side. From the input's own members (an OAC input's
files; any other avatar's ``export/oac.py`` export), the zip holds:

- ``skin.glb``: the edited vertex positions and the 51 morph targets re-evaluated on the edit (the same basis
  the recipe's ``chibi_arkit_bs.npy`` holds, gaze in ``eyeLook*``), by target name, sparse where the input's
  are; skeleton, skin weights, material, names and every other byte kept (``io/glb_rewrite.py``);
- ``offset.ply``: the corrected splats in LAM's layout (scales, and rotations and offsets where the
  correction changes them), offsets from the edited vertices;
- ``vertex_order.json``: recomputed by LAM's rule (``export/oac.vertex_order``);
- ``animation.glb`` and any other file of the input's avatar folder (``bsData.json``): copied;
- ``avatarcheck_edit.json``: the edit, the correction, the SHA-256 of ``skin.glb`` and the input's vertex sets
  (``sources/edit_marker.py``: how a reader knows the midpoints were moved by an edit, and keeps the regions).

Before anything is written, the members are read back by the OAC source and compared with the edited avatar
in memory (positions and basis exactly, splats to the PLY's float32 precision); the zip is then written
atomically.
"""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from avatarcheck.arkit import arkit_index
from avatarcheck.errors import InputError
from avatarcheck.sources.edit_marker import MARKER, marker_bytes

OAC_NEEDED = ("skin.glb", "offset.ply", "animation.glb")  # vertex_order.json is recomputed
OAC_REPLACED = ("vertex_order.json", MARKER)


def carried_names(path: Path) -> tuple[str, ...]:
    """Other files of an OAC bundle's avatar folder (the one holding ``skin.glb``), hidden files left out."""
    known = set(OAC_NEEDED + OAC_REPLACED)
    if path.is_dir():
        folder = path if (path / "skin.glb").is_file() else next((d for d in sorted(path.iterdir())
                                                                 if (d / "skin.glb").is_file()), path)
        names = [p.name for p in folder.iterdir() if p.is_file()]
    else:
        with zipfile.ZipFile(path) as zf:  # read_bundle has checked the archive by now
            members = [PurePosixPath(n) for n in zf.namelist() if not n.endswith("/")]
        skin = next(m for m in members if m.name == "skin.glb" and len(m.parts) <= 2)
        names = [m.name for m in members if m.parent == skin.parent]
    return tuple(sorted(n for n in names if n not in known and not n.startswith(".")))


def base_members(loaded) -> tuple[dict[str, bytes], np.ndarray]:
    """(the input's OAC members, (3,) shift from the avatar's frame to the members' body frame).

    An OAC input's own files (its skin.glb, animation.glb, other files); any other avatar's members as
    ``export/oac.py`` writes them (a generated body skeleton, the head moved into the body frame)."""
    from avatarcheck.export.oac import body_offset, oac_members
    from avatarcheck.io.zipped import read_bundle

    if loaded.info.kind != "oac":
        return oac_members(loaded.avatar), body_offset(loaded.avatar.head_sub.v_template)
    path = Path(loaded.info.spec)
    files = read_bundle(path, OAC_NEEDED, carried_names(path))  # a missing animation.glb is named here
    return files, np.zeros(3, np.float32)


def _check_edit_fits(avatar, edited, source: str) -> None:
    """The edited avatar must be the input avatar's topology: same faces, one splat per subdivided vertex."""
    n = avatar.head_sub.num_vertices
    got = edited.head_sub.v_template.shape
    if got != (n, 3) or not np.array_equal(edited.head_sub.faces, avatar.head_sub.faces):
        raise InputError(source, "edited mesh", f"the avatar's subdivided mesh ({n} vertices, its faces)",
                         f"{got[0]} vertices" + ("" if got[0] != n else ", other faces"))
    if edited.cloud.num_splats != n:
        raise InputError(source, "edited splats", f"{n} splats (one per vertex)", str(edited.cloud.num_splats))


def edited_members(base: dict[str, bytes], shift: np.ndarray, edited, provenance: dict[str, Any]
                   ) -> dict[str, bytes]:
    """The zip's members for ``edited`` (an ``Avatar``) written over ``base`` (``base_members``)."""
    from avatarcheck.export.gaze import gaze_basis
    from avatarcheck.export.oac import lam_ply_bytes, vertex_order
    from avatarcheck.io.glb import read_skin_glb
    from avatarcheck.io.glb_rewrite import rewrite_skin_glb

    names = read_skin_glb(base["skin.glb"], "skin.glb").target_names
    positions = (np.asarray(edited.head_sub.v_template, np.float32) + np.asarray(shift, np.float32))
    basis = gaze_basis(edited.head_sub)  # unchanged for an OAC input: its gaze is in the targets already
    glb = rewrite_skin_glb(base["skin.glb"], "skin.glb", positions, {n: basis[arkit_index(n)] for n in names})
    members = {"skin.glb": glb, "offset.ply": lam_ply_bytes(edited.cloud, positions)}
    members["vertex_order.json"] = json.dumps(vertex_order(positions)).encode()
    members |= {k: v for k, v in base.items() if k not in members and k not in OAC_REPLACED}
    members[MARKER] = marker_bytes("skin.glb", glb, provenance, edited.head.vertex_sets)
    return members


def verify_members(members: dict[str, bytes], out: Path, edited, shift: np.ndarray) -> None:
    """Read ``members`` back with the OAC source and compare them with ``edited`` (``export/read_back.py``)."""
    from avatarcheck.export.gaze import gaze_basis
    from avatarcheck.export.read_back import check_read_back
    from avatarcheck.sources.oac import avatar_from_members

    back = avatar_from_members(members, out).avatar
    want = np.asarray(edited.head_sub.v_template, np.float32) + np.asarray(shift, np.float32)
    check_read_back(back, edited, want, gaze_basis(edited.head_sub), out)


def write_edited_oac(loaded, edited, out: str | os.PathLike, provenance: dict[str, Any]) -> dict[str, bytes]:
    """``loaded`` (the input ``LoadedAvatar``), ``edited`` (the edit applied, an ``Avatar``) -> the zip ``out``,
    written atomically under one folder named after it; returns the members written."""
    from avatarcheck.io.zipped import write_zip_atomic
    from avatarcheck.sources.base import avatar_name

    out = Path(out)
    _check_edit_fits(loaded.avatar, edited, str(out))
    base, shift = base_members(loaded)
    members = edited_members(base, shift, edited, provenance)
    verify_members(members, out, edited, shift)
    write_zip_atomic(out, members, folder=avatar_name(out))
    return members
