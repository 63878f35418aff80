"""Head coverage: where the splats leave holes in a surface the mesh says is there.

An edit that stretches the head without pulling the splat scales along leaves gaps between the
splats. On a trained LAM avatar they show first away from the eyes: seen from below, the forehead
and hair fall apart into streaks (a public export: 6 % of the unedited head has alpha < 0.9, 19 %
of the LAM chibi recipe's pear at strength 2 without the scale ratio, and the ratio closes most of
it). The lid checks never look there; this one does.

Per view (front, and from below, where grazing surfaces open first) and per region of the head:

* **silhouette**: pixels where the posed mesh's triangle-ID raster puts a triangle of the region,
  eroded by ``ERODE_PX`` so the antialiased rim of the head does not count;
* **holes**: silhouette pixels whose splat alpha is below ``OPAQUE``;
* **share** of a region = its holes / the whole head's silhouette pixels (so the regions add up to the
  head's share, and a region seen edge-on cannot dominate), plus ``head``, the sum.

Eyeball triangles belong to no region (an open eye shows faint trained eyeball splats, which the
eye checks judge), nor does the neck (LAM's mesh carries the body's collar there).
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np
from scipy import ndimage

from avatarcheck.avatar import Avatar
from avatarcheck.head.model import HeadModel
from avatarcheck.head.pose import Pose
from avatarcheck.render.api import render
from avatarcheck.render.camera import Camera, head_camera
from avatarcheck.render.mesh_ids import triangle_ids_batch
from avatarcheck.render.shaders import shaded_state
from avatarcheck.splats.plausibility import eyeball_sphere

HEAD_REGIONS: tuple[str, ...] = ("crown_forehead", "eye_band", "lower_face")
HEAD_VIEWS: dict[str, float] = {"front": 0.0, "below": -25.0}  # camera pitch, degrees (negative: below)
HEAD = "head"        # the whole head's share, beside the regions'
OPAQUE = 0.9         # alpha below this inside the silhouette is a hole
ERODE_PX = 2         # the silhouette's rim, left out
EYE_BAND_RADII = 2.0  # the eye band reaches this many eyeball radii above and below the eye centres


@dataclasses.dataclass(frozen=True)
class HeadView:
    """One view of one frame: images (H, W[, 3]) and the hole share per region."""

    rgb: np.ndarray          # (H, W, 3) rgb shader over white
    regions: np.ndarray      # (H, W) int8: index into HEAD_REGIONS, -1 outside every (eroded) region
    holes: np.ndarray        # (H, W) bool: region pixels with alpha < OPAQUE
    shares: dict[str, float]  # region -> its holes / head pixels; "head" -> all holes / head pixels


def face_regions(head: HeadModel) -> np.ndarray:
    """(F,) int8: each triangle's region (index into ``HEAD_REGIONS``), -1 for eyeball and neck triangles.

    Regions split the head by the height of the triangle's centroid: the eye band is within
    ``EYE_BAND_RADII`` eyeball radii of the eye centres' mean height; above it crown and forehead,
    below it the lower face. Without fitted eyeballs the band is the middle fifth of the head's height.
    """
    return _face_regions(head)


@functools.lru_cache(maxsize=8)
def _face_regions(head: HeadModel) -> np.ndarray:
    v, faces = head.v_template.astype(np.float64), head.faces
    y = v[faces].mean(axis=1)[:, 1]
    spheres = [s for s in (eyeball_sphere(head, side) for side in ("left", "right")) if s is not None]
    if spheres:
        mid = float(np.mean([c[1] for c, _ in spheres]))
        half = EYE_BAND_RADII * float(np.mean([r for _, r in spheres]))
    else:
        lo, hi = float(v[:, 1].min()), float(v[:, 1].max())
        mid, half = (lo + hi) / 2, (hi - lo) / 10
    out = np.where(y > mid + half, 0, np.where(y >= mid - half, 1, 2)).astype(np.int8)
    excluded = np.zeros(head.num_vertices, bool)
    for name in ("eyeball_left", "eyeball_right", "neck"):
        excluded[head.vertex_sets.get(name, np.zeros(0, np.int64))] = True
    out[excluded[faces].any(axis=1)] = -1
    out.setflags(write=False)
    return out


def view_camera(head: HeadModel, view: str, size: int) -> Camera:
    """The camera of ``view`` framing ``head``'s canonical mesh without the neck (each variant frames its
    own head: shares are per region, so a larger chibi head is not penalised for its size)."""
    neck = head.vertex_sets.get("neck", np.zeros(0, np.int64))
    keep = np.setdiff1d(np.arange(head.num_vertices), neck)
    return head_camera(head.v_template, size=size, pitch_deg=HEAD_VIEWS[view], region=keep)


def region_map(ids: np.ndarray, regions_of_faces: np.ndarray, erode_px: int = ERODE_PX) -> np.ndarray:
    """ids (H, W) triangle ids (-1: none) -> (H, W) int8 region per pixel, each region eroded by
    ``erode_px`` (4-neighbourhood) so rims and region borders are left out."""
    raw = np.where(ids >= 0, regions_of_faces[np.maximum(ids, 0)], -1).astype(np.int8)
    if erode_px <= 0:
        return raw
    out = np.full(raw.shape, -1, np.int8)
    for k in range(len(HEAD_REGIONS)):
        inner = ndimage.binary_erosion(raw == k, iterations=erode_px, border_value=0)
        out[inner] = k
    return out


def hole_shares(alpha: np.ndarray, regions: np.ndarray, opaque: float = OPAQUE) -> tuple[np.ndarray, dict[str, float]]:
    """alpha (H, W), regions (H, W) int8 -> (holes (H, W) bool, {region: its holes / head pixels,
    "head": all holes / head pixels}); all 0 when no region is seen."""
    holes = (regions >= 0) & (np.asarray(alpha) < opaque)
    head_px = int((regions >= 0).sum())
    shares = {name: float((holes & (regions == k)).sum() / head_px) if head_px else 0.0
              for k, name in enumerate(HEAD_REGIONS)}
    shares[HEAD] = float(holes.sum() / head_px) if head_px else 0.0
    return holes, shares


def head_views(avatar: Avatar, pose: Pose, size: int, backend: str = "auto",
               views: tuple[str, ...] = tuple(HEAD_VIEWS)) -> dict[str, HeadView]:
    """Frame 0 of ``pose`` seen from each view: one rgb splat render and one triangle-ID raster per view."""
    posed = avatar.pose(pose)
    state = shaded_state(avatar.cloud, posed, "rgb").frame(0)
    mesh = posed.anchors.detach().cpu().numpy()[:1]
    of_faces = face_regions(avatar.head_sub)
    out = {}
    for view in views:
        camera = view_camera(avatar.head_sub, view, size)
        image = render(state, camera, backend)
        regions = region_map(triangle_ids_batch(mesh, avatar.head_sub.faces, camera)[0], of_faces)
        holes, shares = hole_shares(image.alpha[0], regions)
        out[view] = HeadView(image.rgb[0], regions, holes, shares)
    return out


def worst_excess(variant: dict[str, HeadView], reference: dict[str, HeadView]) -> tuple[str, float]:
    """("view/region", value) where the variant's hole share exceeds the reference's the most (the
    first on ties); views or regions the reference lacks are compared with 0."""
    best_key, best = "", -np.inf
    for view, hv in variant.items():
        ref = reference.get(view)
        for region, share in hv.shares.items():
            excess = share - (ref.shares.get(region, 0.0) if ref else 0.0)
            if excess > best:
                best_key, best = f"{view}/{region}", excess
    return best_key, float(best)
