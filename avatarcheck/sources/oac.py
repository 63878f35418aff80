"""LAM's OpenAvatarChat (OAC) export: a zip (or its unpacked folder) that animates without any FLAME file.

LAM's app writes one folder per avatar (facts measured on public exports, ``DESIGN.md``):

=====================  ===============================================================================
member                 content
=====================  ===============================================================================
``skin.glb``           one mesh, LAM's subdivided FLAME (20018 vertices, 39904 triangles in pytorch3d
                       order), 51 ARKit morph targets (sparse; names in ``extras.targetNames``; no
                       ``tongueOut``), skinned to a body skeleton; body frame (head at y 1.5-1.8 m)
``offset.ply``         one splat per GLB vertex in LAM's PLY layout: ``x y z`` = offset from the vertex,
                       ``f_dc`` = RGB (``splats/ply.py``)
``vertex_order.json``  the vertex indices sorted by height for the web renderer (checked to be a permutation)
``animation.glb``      LAM's sample skeleton clips: not used
=====================  ===============================================================================

The head is built from ``skin.glb`` by ``sources/skin_head.py`` (coarse mesh recovered and checked, ARKit
basis by name, rigid head pose, vertex sets); splat i sits at vertex i + offset i. An edited avatar
written by ``avatarcheck bake --format oac`` also holds ``avatarcheck_edit.json`` (``sources/edit_marker.py``):
its mesh's midpoints are then used as written.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import numpy as np

from avatarcheck.errors import InputError
from avatarcheck.sources.base import AvatarSource, LoadedAvatar, LoadOptions, SourceInfo, avatar_name
from avatarcheck.sources.edit_marker import MARKER

REQUIRED = ("skin.glb", "offset.ply")
OPTIONAL = ("vertex_order.json", "animation.glb", MARKER)
ZIP_MAGIC = b"PK\x03\x04"


def _bundle_names(path: Path) -> set[str]:
    """Base names of the files in a zip or a folder (and its sub-folders one level down); cheap, never raises."""
    import zipfile

    try:
        if path.is_dir():
            return {p.name for p in path.iterdir()} | {p.name for d in path.iterdir() if d.is_dir()
                                                        for p in d.iterdir()}
        with open(path, "rb") as fh:
            if fh.read(4) != ZIP_MAGIC:
                return set()
        with zipfile.ZipFile(path) as zf:
            return {os.path.basename(n.rstrip("/")) for n in zf.namelist()[:4096]}
    except (OSError, zipfile.BadZipFile, ValueError):
        return set()


def detect(spec: str) -> str | None:
    path = Path(spec)
    names = _bundle_names(path)
    if "skin.glb" not in names:
        return None
    kind = "folder" if path.is_dir() else "zip"
    return f"a {kind} holding {', '.join(n for n in REQUIRED + OPTIONAL if n in names)}"


def _checked_order(raw: bytes, n: int, source: str) -> str:
    """A note on ``vertex_order.json``: a permutation of the vertex indices, else an error naming the problem."""
    try:
        order = np.asarray(json.loads(raw.decode("utf-8")))
    except (UnicodeDecodeError, ValueError) as err:
        raise InputError(source, "vertex_order.json", "a JSON list of vertex indices", f"{type(err).__name__}: {err}"
                         ) from None
    if order.shape != (n,) or order.dtype.kind not in "iu" or not np.array_equal(np.sort(order), np.arange(n)):
        raise InputError(source, "vertex_order.json", f"a permutation of the {n} vertex indices",
                         f"{order.dtype} array of shape {order.shape}")
    return "vertex_order.json: a permutation of the vertices (the web renderer's order; not needed here)"


def read_offset_ply(data: bytes, head_sub, layout: str, source: str):
    """``offset.ply``'s bytes on ``head_sub``'s anchors -> (cloud, layout note); errors name ``source``."""
    from avatarcheck.sources.ply_cloud import ply_cloud

    with tempfile.TemporaryDirectory(prefix="avatarcheck-oac-") as tmp:
        path = Path(tmp) / "offset.ply"
        path.write_bytes(data)
        try:
            return ply_cloud(path, head_sub, layout)
        except InputError as err:  # name the member of the user's archive, not our temp file
            raise InputError(source, err.field, err.expected, err.got) from None


def avatar_from_members(files: dict[str, bytes], path: str | os.PathLike, options: LoadOptions = LoadOptions()
                        ) -> LoadedAvatar:
    """The avatar the bundle's members {base name: bytes} hold (``read_bundle``'s result for ``path``; errors
    name ``path:member``). Also how a writer re-reads what it is about to publish."""
    from avatarcheck.avatar import Avatar
    from avatarcheck.io.glb import read_skin_glb
    from avatarcheck.sources.edit_marker import describe, vouched_edit
    from avatarcheck.sources.skin_head import head_from_skin

    glb_source = f"{path}:skin.glb"
    note = vouched_edit(files.get(MARKER), "skin.glb", files["skin.glb"], f"{path}:{MARKER}")
    edited = None if note is None else describe(note)
    mesh = read_skin_glb(files["skin.glb"], glb_source)
    name = avatar_name(path)
    skin = head_from_skin(mesh.positions, mesh.triangles, mesh.target_names, mesh.target_deltas, glb_source, name,
                          edited=edited, marker=note)
    cloud, decision = read_offset_ply(files["offset.ply"], skin.head_sub, options.ply_layout, f"{path}:offset.ply")
    notes = [f"offset.ply: {decision}", *skin.notes]
    if "vertex_order.json" in files:
        notes.append(_checked_order(files["vertex_order.json"], len(mesh.positions), f"{path}:vertex_order.json"))
    members = tuple(f"{path}:{m}" for m in REQUIRED + OPTIONAL if m in files)
    return LoadedAvatar(name, Avatar(skin.head, skin.head_sub, skin.topology, cloud),
                        SourceInfo("oac", os.fspath(path), members, tuple(notes), calibrated=True, edited=edited or ""))


def load(spec: str, options: LoadOptions) -> LoadedAvatar:
    from avatarcheck.io.zipped import read_bundle

    return avatar_from_members(read_bundle(Path(spec), REQUIRED, OPTIONAL), spec, options)


OAC = AvatarSource("oac", "LAM's OpenAvatarChat export: a zip or folder with skin.glb and offset.ply", detect, load)
