"""LAM's infer output: the shaped subdivided mesh ``.obj``, its ``<name>_gs_offset.ply``, FLAME for the motion.

LAM's infer runner writes, per avatar, the identity-shaped once-subdivided FLAME mesh (an OBJ; 20018 vertices
on FLAME) and the splats as ``<name>_gs_offset.ply`` in LAM's PLY layout (offsets + RGB). Neither carries
motion, so the folder must also hold FLAME's assets (the model pickle with masks and ARKit basis, or our
pickle-free head ``.npz``), beside the files or in a ``flame/`` sub-folder. The OBJ's first V vertices
replace FLAME's template (the avatar's identity shape); the rest must be the midpoints of LAM's
subdivision (checked), and its faces, when given, the subdivided faces.
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


def load(spec: str, options: LoadOptions) -> LoadedAvatar:
    from avatarcheck.avatar import Avatar
    from avatarcheck.sources.ply_cloud import ply_cloud
    from avatarcheck.head.loaders import load_head
    from avatarcheck.head.subdivide import coarse_of_subdivided
    from avatarcheck.head.subdivided import subdivide_head
    from avatarcheck.io.obj import read_obj

    folder = Path(spec)
    obj = _one(folder, _files(folder, ".obj"), "mesh .obj")
    plys = _files(folder, ".ply")
    ply = _one(folder, [p for p in plys if p.name.endswith(PLY_SUFFIX)] or plys, f"splat *{PLY_SUFFIX}")
    flame = flame_assets(folder)
    head = load_head(flame)
    xyz, faces = read_obj(obj)
    n = head.num_vertices
    if len(xyz) != n:  # the subdivided mesh LAM writes: recover and check its coarse part
        if len(faces):
            coarse_faces, _ = coarse_of_subdivided(xyz, faces, str(obj))
            if not np.array_equal(coarse_faces, head.faces):
                raise InputError(obj, "f", f"the subdivision of the FLAME faces in {flame.name}",
                                 "other triangles (a mesh of another topology)")
        head_sub, topo = subdivide_head(head.replace(v_template=np.asarray(xyz[:n], np.float32)))
        if len(xyz) != topo.num_vertices_sub:
            raise InputError(obj, "v", f"{n} (coarse) or {topo.num_vertices_sub} (subdivided) vertices",
                             f"{len(xyz)}")
        err = float(np.abs(head_sub.v_template - xyz).max())
        if err > 1e-5:
            raise InputError(obj, "v", "edge midpoints after the first V vertices (LAM's subdivision)",
                             f"vertices {err:.3g} m away from them")
        head = head.replace(v_template=np.asarray(xyz[:n], np.float32))
    else:
        head = head.replace(v_template=np.asarray(xyz, np.float32))
    head_sub, topo = subdivide_head(head)
    cloud, decision = ply_cloud(ply, head_sub, options.ply_layout)
    notes = (f"{ply.name}: {decision}", f"motion from the FLAME assets {flame}")
    return LoadedAvatar(avatar_name(folder), Avatar(head, head_sub, topo, cloud),
                        SourceInfo("lam-infer", spec, (str(obj), str(ply), str(flame)), notes,
                                   calibrated=True))


LAM_INFER = AvatarSource("lam-infer", "LAM's infer output: a folder with the shaped mesh .obj, its *_gs_offset.ply "
                         "and FLAME assets", detect, load)
