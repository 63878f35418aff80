"""Which triangle of a mesh each pixel sees: a z-buffered ID rasteriser (numba).

The gate needs geometric truth independent of any splat: where the posed mesh says a lid is in
front of the eyeball, E must be near zero whatever the splats do. Same camera convention as the
splat renderers (OpenCV, pixel centres at +0.5); triangles are not culled by orientation.
"""

from __future__ import annotations

import numba
import numpy as np

from avatarcheck.render.camera import Camera


@numba.njit(cache=True)
def _raster_ids(xy: np.ndarray, depth: np.ndarray, faces: np.ndarray, width: int, height: int,
                near: float) -> np.ndarray:
    ids = np.full((height, width), -1, np.int64)
    zbuf = np.full((height, width), np.inf)
    for f in range(faces.shape[0]):
        a, b, c = faces[f, 0], faces[f, 1], faces[f, 2]
        x0, y0, x1, y1, x2, y2 = xy[a, 0], xy[a, 1], xy[b, 0], xy[b, 1], xy[c, 0], xy[c, 1]
        # Off-screen faces first (most of them, in a cropped eye camera): the cheapest test.
        if (max(x0, x1, x2) < 0.5 - 1.0 or min(x0, x1, x2) > width + 0.5
                or max(y0, y1, y2) < 0.5 - 1.0 or min(y0, y1, y2) > height + 0.5):
            continue
        za, zb, zc = depth[a], depth[b], depth[c]
        if za <= near or zb <= near or zc <= near:
            continue
        area = (x1 - x0) * (y2 - y0) - (x2 - x0) * (y1 - y0)
        if area == 0.0:
            continue
        lo_x = max(int(np.floor(min(x0, x1, x2) - 0.5)), 0)
        hi_x = min(int(np.ceil(max(x0, x1, x2) - 0.5)), width - 1)
        lo_y = max(int(np.floor(min(y0, y1, y2) - 0.5)), 0)
        hi_y = min(int(np.ceil(max(y0, y1, y2) - 0.5)), height - 1)
        if lo_x > hi_x or lo_y > hi_y:
            continue
        for py in range(lo_y, hi_y + 1):
            cy = py + 0.5
            for px in range(lo_x, hi_x + 1):
                cx = px + 0.5
                w0 = ((x1 - cx) * (y2 - cy) - (x2 - cx) * (y1 - cy)) / area
                w1 = ((x2 - cx) * (y0 - cy) - (x0 - cx) * (y2 - cy)) / area
                w2 = 1.0 - w0 - w1
                if w0 < 0.0 or w1 < 0.0 or w2 < 0.0:
                    continue
                # Perspective-correct depth: interpolate 1/z in screen space.
                z = 1.0 / (w0 / za + w1 / zb + w2 / zc)
                if z < zbuf[py, px]:
                    zbuf[py, px] = z
                    ids[py, px] = f
    return ids


@numba.njit(parallel=True, cache=True)
def _raster_ids_frames(xy: np.ndarray, depth: np.ndarray, faces: np.ndarray, width: int, height: int,
                       near: float) -> np.ndarray:
    """B frames in parallel (one frame per thread: each frame's z-buffer is its own)."""
    out = np.empty((xy.shape[0], height, width), np.int64)
    for b in numba.prange(xy.shape[0]):
        out[b] = _raster_ids(xy[b], depth[b], faces, width, height, near)
    return out


@numba.njit(parallel=True, cache=True)
def _raster_ids_frames_masked(xy: np.ndarray, depth: np.ndarray, faces: np.ndarray, width: int, height: int,
                              near: float, mask: np.ndarray) -> np.ndarray:
    """``_raster_ids_frames`` at the pixels of mask (B, H, W) only (-1 elsewhere).

    A face whose pixel box holds no mask pixel is not drawn (a summed-area table answers that in
    four reads); every other face is drawn as in ``_raster_ids``, in face order, so each mask pixel
    gets exactly the id of the full raster: only faces touching it could have won it.
    """
    n_b = xy.shape[0]
    out = np.empty((n_b, height, width), np.int64)
    for b in numba.prange(n_b):
        sat = np.zeros((height + 1, width + 1), np.int64)
        for py in range(height):
            for px in range(width):
                sat[py + 1, px + 1] = sat[py, px + 1] + sat[py + 1, px] - sat[py, px] + mask[b, py, px]
        sub = np.zeros_like(faces)
        keep = np.empty(faces.shape[0], np.int64)  # position in sub -> index in faces
        n_sub = 0
        xb, db = xy[b], depth[b]
        for f in range(faces.shape[0]):
            a, c, d = faces[f, 0], faces[f, 1], faces[f, 2]
            lo_x = max(int(np.floor(min(xb[a, 0], xb[c, 0], xb[d, 0]) - 0.5)), 0)
            hi_x = min(int(np.ceil(max(xb[a, 0], xb[c, 0], xb[d, 0]) - 0.5)), width - 1)
            lo_y = max(int(np.floor(min(xb[a, 1], xb[c, 1], xb[d, 1]) - 0.5)), 0)
            hi_y = min(int(np.ceil(max(xb[a, 1], xb[c, 1], xb[d, 1]) - 0.5)), height - 1)
            if lo_x > hi_x or lo_y > hi_y:
                continue
            if sat[hi_y + 1, hi_x + 1] - sat[lo_y, hi_x + 1] - sat[hi_y + 1, lo_x] + sat[lo_y, lo_x] > 0:
                sub[n_sub] = faces[f]
                keep[n_sub] = f
                n_sub += 1
        ids = _raster_ids(xb, db, sub[:n_sub], width, height, near)
        for py in range(height):
            for px in range(width):
                i = ids[py, px]
                out[b, py, px] = keep[i] if (i >= 0 and mask[b, py, px]) else -1
    return out


def _screen(vertices: np.ndarray, camera: Camera) -> tuple[np.ndarray, np.ndarray]:
    """vertices (..., V, 3) world -> pixel xy (..., V, 2) and camera depth (..., V), float64."""
    v = np.asarray(vertices, np.float64)
    cam = v @ camera.viewmat[:3, :3].T.astype(np.float64) + camera.viewmat[:3, 3]
    depth = np.ascontiguousarray(cam[..., 2])
    uv = cam @ camera.K.T.astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        xy = uv[..., :2] / uv[..., 2:3]
    return np.ascontiguousarray(np.where(np.isfinite(xy), xy, 0.0)), depth


def triangle_ids(vertices: np.ndarray, faces: np.ndarray, camera: Camera) -> np.ndarray:
    """vertices (V, 3) world, faces (F, 3) -> (H, W) int64: the nearest face per pixel, -1 for none.

    Triangles with a vertex at or behind the near plane are skipped (heads are far from it).
    """
    xy, depth = _screen(vertices, camera)
    return _raster_ids(xy, depth, np.ascontiguousarray(faces, np.int64), camera.width, camera.height,
                       float(camera.near))


def triangle_ids_batch(vertices: np.ndarray, faces: np.ndarray, camera: Camera,
                       only: np.ndarray | None = None) -> np.ndarray:
    """vertices (B, V, 3) -> (B, H, W) int64, frame b identical to ``triangle_ids(vertices[b], ...)``.

    ``only`` (B, H, W) bool: the pixels that are wanted; the others read -1 and faces that touch
    none of them are skipped (the gate needs ids inside the eye regions only).
    """
    xy, depth = _screen(vertices, camera)
    faces = np.ascontiguousarray(faces, np.int64)
    if only is None:
        return _raster_ids_frames(xy, depth, faces, camera.width, camera.height, float(camera.near))
    only = np.ascontiguousarray(only, np.bool_)
    if only.shape != (xy.shape[0], camera.height, camera.width):
        raise ValueError(f"only: expected shape {(xy.shape[0], camera.height, camera.width)}, got {only.shape}")
    return _raster_ids_frames_masked(xy, depth, faces, camera.width, camera.height, float(camera.near), only)
