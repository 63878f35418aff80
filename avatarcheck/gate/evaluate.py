"""Render a batch of frames of one avatar the way the gate looks at them, and measure each eye.

Per batch: three splat renders (magenta [R, G, B, E]; eyeball-only, one channel per eye, for the
regions; the occluder: no eyeball splats and nothing behind the eyeball centres, for coverage) and
one triangle-ID raster of the posed mesh (which pixels the lid covers). ``face_view`` renders one
frame with a face camera for the sharpness check (``gate.sharpness``).

The camera is head-locked: the take's head rotation is not applied (the gate is about lids, and a
moving head would move the eyes out of a tight eye camera); its 52 channels and eye rotations are.
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np
import torch

from avatarcheck.avatar import Avatar
from avatarcheck.gate.metrics import eye_metrics, eye_regions
from avatarcheck.gate.sharpness import gradient_energy, luminance, region_pixels
from avatarcheck.head.model import HeadModel
from avatarcheck.head.pose import Pose
from avatarcheck.render.api import render
from avatarcheck.render.camera import Camera
from avatarcheck.render.culling import reaching_splats
from avatarcheck.render.mesh_ids import triangle_ids_batch
from avatarcheck.render.shaders import shade, shaded_state
from avatarcheck.render.state import SplatState

EYES = ("left", "right")


@dataclasses.dataclass
class FrameEval:
    """One frame: images (H, W[, 3]) and per-eye metrics."""

    rgb: np.ndarray               # (H, W, 3) magenta-shaded colour over white
    E: np.ndarray                 # (H, W) eyeball share
    occluder_alpha: np.ndarray | None  # (H, W); None when not rendered (``coverage=False``)
    regions: dict[str, np.ndarray]
    covered: dict[str, np.ndarray]
    metrics: dict[str, dict[str, float]]
    plain: np.ndarray | None = None  # (H, W, 3) the same frame with the avatar's own colours (``with_rgb``)


def eyeball_face_eye(avatar: Avatar) -> np.ndarray:
    """(F_sub,) int8, read-only: 0 left eyeball face, 1 right eyeball face, -1 anything else."""
    return _eyeball_face_eye(avatar.head_sub)


@functools.lru_cache(maxsize=8)
def _eyeball_face_eye(head_sub: HeadModel) -> np.ndarray:
    # Cached per (identity-hashed) subdivided head: every batch of a variant asks again.
    faces = head_sub.faces
    out = np.full(len(faces), -1, np.int8)
    for k, eye in enumerate(EYES):
        on = np.zeros(head_sub.num_vertices, bool)
        on[head_sub.vertex_set(f"eyeball_{eye}")] = True
        out[on[faces].all(axis=1)] = k
    out.setflags(write=False)
    return out


def occluder_keep(avatar: Avatar, means: np.ndarray, posed_vertices: np.ndarray) -> np.ndarray:
    """(B, N) bool: splats that may occlude an eyeball: not eyeballs, and in front of both eyeball centres.

    means (B, N, 3) posed splat centres; posed_vertices (B, V_sub, 3). Without the depth cut the back
    of the skull would show through an open eye and every opening would read as fully covered. The
    cut uses posed positions: a lid that slides down over the eye starts behind the centre plane.
    The camera is head-locked and looks down -z, so "in front" is a larger z.
    """
    sub = avatar.head_sub
    centre_z = np.min([posed_vertices[:, sub.vertex_set(f"eyeball_{eye}"), 2].mean(axis=1) for eye in EYES], axis=0)
    not_eyeball = ~avatar.cloud.mask("eyeball_left", "eyeball_right")
    return not_eyeball[None] & (np.asarray(means)[..., 2] > centre_z[:, None])


def eye_box(regions: np.ndarray, width: int, height: int, tile: int = 16) -> tuple[int, int, int, int]:
    """regions (B, H, W) bool -> (x0, y0, x1, y1): their bounding box over all frames, grown to whole
    16-px tiles (the rasteriser's tiles), so a camera cropped to it sees every wanted tile."""
    any_y, any_x = regions.any(axis=(0, 2)), regions.any(axis=(0, 1))
    if not any_x.any():
        return 0, 0, width, height
    ys, xs = np.flatnonzero(any_y), np.flatnonzero(any_x)
    x0, y0 = xs[0] // tile * tile, ys[0] // tile * tile
    x1, y1 = min(width, -(-(xs[-1] + 1) // tile) * tile), min(height, -(-(ys[-1] + 1) // tile) * tile)
    return int(x0), int(y0), int(x1), int(y1)


def crop_camera(camera: Camera, box: tuple[int, int, int, int]) -> Camera:
    """The same camera seeing only the pixel box (x0, y0, x1, y1): principal point shifted."""
    x0, y0, x1, y1 = box
    K = camera.K.copy()
    K[0, 2] -= x0
    K[1, 2] -= y0
    return dataclasses.replace(camera, K=K, width=x1 - x0, height=y1 - y0)


def evaluate_frames(avatar: Avatar, pose: Pose, camera: Camera, backend: str = "auto",
                    visible: float = 0.1, dilate_px: int = 2, regions_only: bool = False,
                    coverage: bool = True, with_rgb: bool = False) -> list[FrameEval]:
    """B frames of ``pose`` -> B FrameEvals. The head is posed once: splats and mesh come from one LBS.

    ``regions_only``: after the eyeball-only pass, render the other passes only where the eye regions
    are (the metrics never look elsewhere): the backend may skip every 16-px tile without a region
    pixel, and only splats that can reach the regions' box are sent. The metrics are the full
    frame's bit for bit; the images read as background away from the regions (the leak curve
    uses this; moments and goldens render the full frame).
    ``coverage=False`` skips the occluder render (about a sixth of the work): the metrics then have
    no ``COVERAGE_STATS`` and ``occluder_alpha`` is None (the leak curve needs only leak).
    ``with_rgb`` also returns each frame with the avatar's own colours (``FrameEval.plain``), from the
    same pass: three more channels after E, so the magenta image and E are the same bits as without.
    """
    posed = avatar.pose(pose)
    state = shaded_state(avatar.cloud, posed, "magenta")
    cloud = avatar.cloud
    per_eye = np.stack([cloud.mask(f"eyeball_{eye}") for eye in EYES], axis=1).astype(np.float32)  # (N, 2)
    B = pose.num_frames
    means = posed.means.detach().cpu().numpy()

    # Eyeball-only render: every other splat has zero opacity, so only eyeball splats are sent.
    eyeballs = torch.as_tensor(per_eye.any(axis=1))
    only_eyes = SplatState(state.means, state.quats, state.scales, state.opacities,
                           torch.as_tensor(per_eye)[None].expand(B, -1, -1)).select(eyeballs)  # shared colours
    shares = render(only_eyes, camera, backend, background=np.zeros(2, np.float32)).colors
    regions_all = eye_regions(shares, dilate_px)                                  # (B, 2, H, W)
    wanted = regions_all.any(axis=1)                                              # (B, H, W)

    # Only splats that can reach the camera (or, with regions_only, the regions' box) are rasterised;
    # the rest cannot change a pixel there.
    reach_camera = crop_camera(camera, eye_box(wanted, camera.width, camera.height)) if regions_only else camera
    reach = torch.as_tensor(reaching_splats(means, cloud.scales, reach_camera))
    only = wanted if regions_only else None
    shown = state
    if with_rgb:
        plain = shade(cloud, "rgb")[..., :3].to(state.colors.dtype)
        # Colours shared by every frame stay one shared tensor (the rasteriser then reads them once).
        colors = (torch.cat([state.colors[:1], plain[None]], dim=-1).expand(B, -1, -1) if state.colors.stride(0) == 0
                  else torch.cat([state.colors, plain.expand(B, -1, -1)], dim=-1))
        shown = SplatState(state.means, state.quats, state.scales, state.opacities, colors)
    # White behind the plain colours too (the default background is white RGB, then zeros).
    background = np.array([1, 1, 1, 0, 1, 1, 1], np.float32) if with_rgb else None
    main = render(shown.select(reach), camera, backend, background=background, only=only)

    mesh = posed.anchors.detach().cpu().numpy()
    occ_alpha = [None] * B
    if coverage:
        keep = torch.as_tensor(occluder_keep(avatar, means, mesh))
        occluder = SplatState(state.means, state.quats, state.scales, state.opacities * keep,
                              state.colors[..., :1].contiguous()).select(keep.any(dim=0) & reach)
        occ_alpha = render(occluder, camera, backend, only=only).alpha

    face_eye = eyeball_face_eye(avatar)
    # Mesh ids only where a region is: ``covered`` never looks elsewhere.
    all_ids = triangle_ids_batch(mesh, avatar.head_sub.faces, camera, only=wanted)
    # Which eyeball the mesh shows at each pixel (-1: anything else, or no face); looked up at the
    # wanted pixels only, the ids read -1 everywhere else.
    seen_eye = np.full(all_ids.shape, -1, np.int8)
    ids_there = all_ids[wanted]
    seen_eye[wanted] = np.where(ids_there >= 0, face_eye[np.maximum(ids_there, 0)], -1)
    covered_all = regions_all & (seen_eye[:, None] != np.arange(len(EYES), dtype=np.int8)[None, :, None, None])
    out = []
    for b in range(B):
        E = main.colors[b, ..., 3]
        regions, covered, metrics = {}, {}, {}
        for k, eye in enumerate(EYES):
            regions[eye] = regions_all[b, k]
            covered[eye] = covered_all[b, k]
            metrics[eye] = eye_metrics(E, occ_alpha[b], regions[eye], covered[eye], visible)
        plain_b = main.colors[b, ..., 4:7] if with_rgb else None
        out.append(FrameEval(main.colors[b, ..., :3], E, occ_alpha[b], regions, covered, metrics, plain_b))
    return out


@dataclasses.dataclass
class FaceView:
    """One frame seen by the face camera, for the sharpness check (``gate.sharpness``)."""

    rgb: np.ndarray               # (H, W, 3) rgb shader over white
    region: np.ndarray            # (H, W) bool: opaque pixels of the face region's triangles
    energy: float                 # gradient energy of the luminance over ``region``


def face_view(avatar: Avatar, pose: Pose, camera: Camera, region: np.ndarray, backend: str = "auto") -> FaceView:
    """Render frame 0 of ``pose`` with the rgb shader and measure the face region.

    region (V_sub,) bool: the region's vertices (``sharpness.face_region``); a triangle counts when all
    three of its vertices are in it. One splat render and one triangle-ID raster.
    """
    posed = avatar.pose(pose)
    out = render(shaded_state(avatar.cloud, posed, "rgb").frame(0), camera, backend)
    mesh = posed.anchors.detach().cpu().numpy()[:1]
    ids = triangle_ids_batch(mesh, avatar.head_sub.faces, camera)[0]
    pixels = region_pixels(ids, np.asarray(region, bool)[avatar.head_sub.faces].all(axis=1), out.alpha[0])
    rgb = out.rgb[0]
    return FaceView(rgb, pixels, gradient_energy(luminance(rgb), pixels))
