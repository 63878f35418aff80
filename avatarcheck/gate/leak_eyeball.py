"""Which eyeball splats the leak counts: the eyeball, not every splat bound to an eyeball vertex.

A trained LAM avatar uses about half of its eyeball splats as **skin paint**: their centres sit
outside the eyeball sphere, over the lids and around the eye, at opacity ~0.01 (DESIGN.md "LAM's
real exports"). Rendered magenta they put a haze over the whole closed lid, though the RGB render
shows skin there. The leak counts the splats on the sphere (within ``OUTSIDE_MARGIN``, as the
plausibility statistics do); the paint is skin for E, the eye regions and the occluder. On the
embedded stand-in every eyeball splat is on the sphere, so its verdicts and images are unchanged.

The **exposed cap** (``exposed_vertices``) is the part of the eyeball the mesh shows with the eye
open at rest, the gaze turned up to ``GAZE_DEG`` any way. Its splats carry the iris and sclera a
person knows; the rest of the sphere, hidden by the lids even when open, is never seen in training.
E counted over the cap alone, on the unedited avatar at a full blink, is the iris ghost at the lash
line (README, "The lash-line seam"; ``bench/lash_line.py`` measures it). It is a finding, not a check.
"""

from __future__ import annotations

import functools

import numpy as np
from scipy.spatial.transform import Rotation

from avatarcheck.avatar import Avatar
from avatarcheck.head.pose import Pose
from avatarcheck.render.mesh_ids import triangle_ids_batch
from avatarcheck.splats.cloud import EYEBALL_LABELS, label_code
from avatarcheck.splats.plausibility import OUTSIDE_MARGIN, eyeball_sphere

GAZE_DEG = 20.0       # gaze range the exposed cap covers (Live Link Face eye pitch/yaw rarely exceed it)
RASTER_PX = 512       # eye camera resolution of the exposure raster


def gaze_poses(gaze_deg: float = GAZE_DEG) -> Pose:
    """Nine rest poses: the eyes straight ahead and turned ``gaze_deg`` to each side and diagonal."""
    eyes = []
    for yaw in (0.0, -gaze_deg, gaze_deg):
        for pitch in (0.0, -gaze_deg, gaze_deg):
            rv = Rotation.from_euler("YX", np.radians([yaw, pitch])).as_rotvec()
            eyes.append(np.concatenate([rv, rv]))
    eyes_arr = np.asarray(eyes, np.float32)
    return Pose(np.zeros((len(eyes_arr), 52), np.float32), eyes=eyes_arr)


def exposed_vertices(avatar: Avatar, gaze_deg: float = GAZE_DEG, size: int = RASTER_PX) -> np.ndarray:
    """(V_sub,) bool: vertices of a triangle the mesh shows in the eye camera in any ``gaze_poses``."""
    posed = avatar.pose(gaze_poses(gaze_deg))
    ids = triangle_ids_batch(posed.anchors.detach().cpu().numpy(), avatar.head_sub.faces, avatar.eye_camera(size))
    seen = np.zeros(avatar.head_sub.num_vertices, bool)
    seen[avatar.head_sub.faces[np.unique(ids[ids >= 0])].ravel()] = True
    return seen


def on_sphere(avatar: Avatar, margin: float = OUTSIDE_MARGIN) -> np.ndarray:
    """(N,) bool: eyeball splats whose canonical centre lies within ``margin`` of their eyeball's sphere
    (or every eyeball splat of an eye whose sphere cannot be fitted)."""
    cloud, sub = avatar.cloud, avatar.head_sub
    centres = sub.v_template.astype(np.float64) + cloud.offsets
    out = np.zeros(cloud.num_splats, bool)
    for label in EYEBALL_LABELS:
        mine = cloud.labels == label_code(label)
        sphere = eyeball_sphere(sub, label.removeprefix("eyeball_"))
        if sphere is None:
            out |= mine
            continue
        centre, radius = sphere
        out |= mine & (np.linalg.norm(centres - centre, axis=1) <= radius + margin)
    return out


def leak_eyeball_mask(avatar: Avatar) -> np.ndarray:
    """(N,) bool, read-only: the eyeball splats the leak counts (those on the sphere).

    Decided on the avatar as given (the unedited one): edits keep the splat order, so the same mask
    applies to every variant."""
    return _mask(avatar)


@functools.lru_cache(maxsize=8)
def _mask(avatar: Avatar) -> np.ndarray:
    out = avatar.cloud.mask(*EYEBALL_LABELS) & on_sphere(avatar)
    out.setflags(write=False)
    return out


def as_leak_view(avatar: Avatar, counted: np.ndarray) -> Avatar:
    """The avatar with every eyeball splat outside ``counted`` (N,) bool relabelled skin, for the gate's
    renders only: E, the eye regions and the occluder then follow the counted eyeball. Geometry and
    colours are untouched, so the RGB render is the same."""
    cloud = avatar.cloud
    demote = cloud.mask(*EYEBALL_LABELS) & ~np.asarray(counted, bool)
    if not demote.any():
        return avatar
    labels = cloud.labels.copy()
    labels[demote] = label_code("skin")
    return avatar.with_cloud(cloud.replace(labels=labels))
