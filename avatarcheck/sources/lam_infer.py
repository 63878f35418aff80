"""LAM's infer output: the shaped subdivided mesh ``.obj``, its ``<name>_gs_offset.ply``, FLAME for the motion.

LAM's infer runner writes, per avatar, the identity-shaped once-subdivided FLAME mesh (an OBJ; 20018 vertices
on FLAME) and the splats as ``<name>_gs_offset.ply`` in LAM's PLY layout (offsets + RGB). Neither carries
motion, so the folder must also hold FLAME's assets (the model pickle with masks and ARKit basis, or our
pickle-free head ``.npz``), beside the files or in a ``flame/`` sub-folder. The OBJ's first V vertices
replace FLAME's template (the avatar's identity shape); the rest must be the midpoints of LAM's
subdivision (checked), and its faces, when given, the subdivided faces. An edited avatar written by
``avatarcheck bake --format lam`` holds ``avatarcheck_edit.json`` beside the mesh (``sources/edit_marker.py``):
its subdivided vertices, which the edit moved off their edges' midpoints, are then the splat anchors as written.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from avatarcheck.errors import InputError
from avatarcheck.sources.base import AvatarSource, LoadedAvatar, LoadOptions, SourceInfo, avatar_name

PLY_SUFFIX = "_gs_offset.ply"
FLAME_SUBFOLDER = "flame"
FLAME_TEMPLATE_OBJ = "head_template_mesh.obj"  # part of a FLAME asset folder, not an avatar's mesh


def _files(folder: Path, suffix: str) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() == suffix
                  and p.name != FLAME_TEMPLATE_OBJ)


def detect(spec: str) -> str | None:
    path = Path(spec)
    try:
        if not path.is_dir() or (path / "skin.glb").exists():
            return None
        objs, plys = _files(path, ".obj"), _files(path, ".ply")
    except OSError:
        return None
    if objs and any(p.name.endswith(PLY_SUFFIX) for p in plys):
        return f"a folder with a mesh {objs[0].name} and splats {plys[0].name}"
    return None


def _one(folder: Path, found: list[Path], what: str) -> Path:
    if len(found) != 1:
        raise InputError(folder, what, f"one {what} in LAM's infer output folder",
                         ", ".join(p.name for p in found) or "none")
    return found[0]


def flame_assets(folder: Path) -> Path:
    """Where the FLAME assets for the motion are: the folder itself, one head ``.npz`` in it, or ``flame/``."""
    from avatarcheck.head.loaders import MODEL_PICKLES

    for place in (folder, folder / FLAME_SUBFOLDER):
        if place.is_dir() and any((place / n).is_file() for n in MODEL_PICKLES):
            return place
        npz = _files(place, ".npz") if place.is_dir() else []
        if len(npz) == 1:
            return npz[0]
    raise InputError(folder, "FLAME assets", f"FLAME's model pickle ({', '.join(MODEL_PICKLES)}) or one head .npz, "
                     f"beside the mesh or in {FLAME_SUBFOLDER}/ (LAM's infer output carries no motion)", "none")


def _edit_note(folder: Path, obj: Path) -> str | None:
    """A line naming the edit when ``avatarcheck_edit.json`` beside the mesh vouches for it, else None."""
    from avatarcheck.io.inputs import read_bytes_checked
    from avatarcheck.sources.edit_marker import MARKER, MAX_MARKER_BYTES, describe, vouched_edit

    marker = folder / MARKER
    if not marker.is_file():
        return None
    note = vouched_edit(read_bytes_checked(marker, MAX_MARKER_BYTES, MARKER), obj.name,
                        read_bytes_checked(obj, 1 << 30, obj.name), str(marker))
    return describe(note)


def _shaped(head, xyz: np.ndarray, faces: np.ndarray, obj: Path, flame: Path, edited: str | None):
    """(head, head_sub, topology) with the OBJ's shape: its coarse vertices replace FLAME's template; a
    subdivided OBJ's midpoints are checked (or, for a vouched edit, become the anchors as written)."""
    from avatarcheck.head.subdivide import coarse_of_subdivided
    from avatarcheck.head.subdivided import subdivide_head
    from avatarcheck.sources.skin_head import with_exact_midpoints

    n = head.num_vertices
    if len(xyz) == n:
        head = head.replace(v_template=np.asarray(xyz, np.float32))
        return (head, *subdivide_head(head))
    if len(faces):
        coarse_faces, _ = coarse_of_subdivided(with_exact_midpoints(xyz, faces) if edited else xyz, faces, str(obj))
        if not np.array_equal(coarse_faces, head.faces):
            raise InputError(obj, "f", f"the subdivision of the FLAME faces in {flame.name}",
                             "other triangles (a mesh of another topology)")
    head = head.replace(v_template=np.asarray(xyz[:n], np.float32))
    head_sub, topo = subdivide_head(head)
    if len(xyz) != topo.num_vertices_sub:
        raise InputError(obj, "v", f"{n} (coarse) or {topo.num_vertices_sub} (subdivided) vertices", f"{len(xyz)}")
    if edited:
        return head, head_sub.replace(v_template=np.asarray(xyz, np.float32)), topo
    err = float(np.abs(head_sub.v_template - xyz).max())
    if err > 1e-5:
        raise InputError(obj, "v", "edge midpoints after the first V vertices (LAM's subdivision)",
                         f"vertices {err:.3g} m away from them")
    return head, head_sub, topo


def load(spec: str, options: LoadOptions) -> LoadedAvatar:
    from avatarcheck.avatar import Avatar
    from avatarcheck.sources.ply_cloud import ply_cloud
    from avatarcheck.head.loaders import load_head
    from avatarcheck.io.obj import read_obj

    folder = Path(spec)
    obj = _one(folder, _files(folder, ".obj"), "mesh .obj")
    plys = _files(folder, ".ply")
    ply = _one(folder, [p for p in plys if p.name.endswith(PLY_SUFFIX)] or plys, f"splat *{PLY_SUFFIX}")
    flame = flame_assets(folder)
    edited = _edit_note(folder, obj)
    xyz, faces = read_obj(obj)
    head, head_sub, topo = _shaped(load_head(flame), xyz, faces, obj, flame, edited)
    cloud, decision = ply_cloud(ply, head_sub, options.ply_layout)
    notes = (f"{ply.name}: {decision}", f"motion from the FLAME assets {flame}") + ((edited,) if edited else ())
    return LoadedAvatar(avatar_name(folder), Avatar(head, head_sub, topo, cloud),
                        SourceInfo("lam-infer", spec, (str(obj), str(ply), str(flame)), notes,
                                   calibrated=True, edited=edited or ""))


LAM_INFER = AvatarSource("lam-infer", "LAM's infer output: a folder with the shaped mesh .obj, its *_gs_offset.ply "
                         "and FLAME assets", detect, load)
