"""Skin mesh: sample the parameter sphere, triangulate it, cut the eye openings, embed in 3D.

Points on the unit "parameter sphere" (directions from the head centre) are triangulated by their
convex hull, which is the spherical Delaunay triangulation: a closed, consistently oriented
surface for any point set. Around each eye the points are rings that follow the lid margin;
faces whose three corners all lie on a margin ring fill the opening and are removed. Every
point is then placed in 3D by blending the skull surface with its eye's lid sphere.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy.spatial import ConvexHull, cKDTree

from avatarcheck.head.synthetic.eye_frame import lid_point, lid_weight
from avatarcheck.head.synthetic.eyes import EyeFrame, almond_distance, eye_rings
from avatarcheck.head.synthetic.params import SyntheticHeadParams
from avatarcheck.head.synthetic.skull import fibonacci_directions, skull_points


@dataclasses.dataclass(frozen=True)
class SkinMesh:
    vertices: np.ndarray  # (N, 3)
    faces: np.ndarray  # (F, 3) outward
    param_dirs: np.ndarray  # (N, 3) unit directions on the parameter sphere
    # Per eye side: lid angles (N,) (NaN away from that eye), lid weight (N,), margin vertex ids.
    alpha: dict[str, np.ndarray]
    beta: dict[str, np.ndarray]
    weight: dict[str, np.ndarray]
    margin: dict[str, np.ndarray]


def _local_spacing(dirs: np.ndarray, around: np.ndarray, radius: float = 0.45) -> float:
    near = dirs[dirs @ around > np.cos(radius)]
    dist, _ = cKDTree(near).query(near, k=2)
    return float(np.median(dist[:, 1]))


def build_skin(p: SyntheticHeadParams, frames: list[EyeFrame]) -> SkinMesh:
    skull_dirs = fibonacci_directions(p.n_global, p.front_density, p.neck_density)
    keep = np.ones(len(skull_dirs), bool)
    margin_ids, start = {}, 0
    eye_dirs = []
    for f in frames:
        rings, clear_offset = eye_rings(p, stop_spacing=f.k * _local_spacing(skull_dirs, f.e))
        a, b, front = f.from_param(skull_dirs)
        keep &= ~(front & (almond_distance(np.stack([a, b], 1), p) < clear_offset))
        ab = np.concatenate(rings)
        eye_dirs.append((f, f.to_param(ab[:, 0], ab[:, 1]), len(rings[0])))
    kept = skull_dirs[keep]
    all_dirs = [kept]
    start = len(kept)
    for f, dirs, n_margin in eye_dirs:
        margin_ids[f.side] = np.arange(start, start + n_margin)
        all_dirs.append(dirs)
        start += len(dirs)
    dirs = np.concatenate(all_dirs)

    faces = ConvexHull(dirs).simplices.astype(np.int64)
    # Orient outward on the sphere.
    n = np.cross(dirs[faces[:, 1]] - dirs[faces[:, 0]], dirs[faces[:, 2]] - dirs[faces[:, 0]])
    flip = np.einsum("ij,ij->i", n, dirs[faces[:, 0]]) < 0
    faces[flip] = faces[flip][:, [0, 2, 1]]
    # Cut the openings: faces spanned by margin points only.
    for ids in margin_ids.values():
        on_margin = np.zeros(len(dirs), bool)
        on_margin[ids] = True
        faces = faces[~on_margin[faces].all(axis=1)]

    verts = skull_points(dirs, p)
    alpha, beta, weight = {}, {}, {}
    for f in frames:
        a, b, front = f.from_param(dirs)
        w = np.where(front, lid_weight(a, b, p), 0.0)
        lid = lid_point(f.centre, p.lid_radius, np.where(front, a, 0.0), np.where(front, b, 0.0))
        verts = verts + w[:, None] * (lid - verts)
        alpha[f.side] = np.where(front, a, np.nan)
        beta[f.side] = np.where(front, b, np.nan)
        weight[f.side] = w
    return SkinMesh(verts, faces, dirs, alpha, beta, weight, margin_ids)
