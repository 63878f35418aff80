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
def _raster_ids_box(xy: np.ndarray, depth: np.ndarray, faces: np.ndarray, x_lo: int, y_lo: int, x_hi: int,
                    y_hi: int, near: float) -> np.ndarray:
    """The nearest face per pixel of the box [x_lo, x_hi) x [y_lo, y_hi) -> (y_hi - y_lo, x_hi - x_lo)
    int64, -1 for none. Pixel coordinates stay the full image's (centres at px + 0.5), so a pixel
    gets the same id whatever box it is rendered in."""
    h, w = y_hi - y_lo, x_hi - x_lo
    ids = np.full((h, w), -1, np.int64)
    zbuf = np.full((h, w), np.inf)
    for f in range(faces.shape[0]):
        a, b, c = faces[f, 0], faces[f, 1], faces[f, 2]
        x0, y0, x1, y1, x2, y2 = xy[a, 0], xy[a, 1], xy[b, 0], xy[b, 1], xy[c, 0], xy[c, 1]
        # Faces off the box first (most of them, for an eye camera): the cheapest test.
        if (max(x0, x1, x2) < x_lo - 0.5 or min(x0, x1, x2) > x_hi + 0.5
                or max(y0, y1, y2) < y_lo - 0.5 or min(y0, y1, y2) > y_hi + 0.5):
            continue
        za, zb, zc = depth[a], depth[b], depth[c]
        if za <= near or zb <= near or zc <= near:
            continue
        area = (x1 - x0) * (y2 - y0) - (x2 - x0) * (y1 - y0)
        if area == 0.0:
            continue
        lo_x = max(int(np.floor(min(x0, x1, x2) - 0.5)), x_lo)
        hi_x = min(int(np.ceil(max(x0, x1, x2) - 0.5)), x_hi - 1)
        lo_y = max(int(np.floor(min(y0, y1, y2) - 0.5)), y_lo)
        hi_y = min(int(np.ceil(max(y0, y1, y2) - 0.5)), y_hi - 1)
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
                if z < zbuf[py - y_lo, px - x_lo]:
                    zbuf[py - y_lo, px - x_lo] = z
                    ids[py - y_lo, px - x_lo] = f
    return ids


@numba.njit(cache=True)
def _raster_ids(xy: np.ndarray, depth: np.ndarray, faces: np.ndarray, width: int, height: int,
                near: float) -> np.ndarray:
    return _raster_ids_box(xy, depth, faces, 0, 0, width, height, near)


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

    Only the mask's bounding box is rasterised, and a face whose pixel box holds no mask pixel is
    not drawn (a summed-area table answers that in four reads); every other face is drawn as in
    ``_raster_ids``, in face order, so each mask pixel gets exactly the id of the full raster: only
    faces touching it could have won it.
    """
    n_b = xy.shape[0]
    out = np.full((n_b, height, width), -1, np.int64)
    for b in numba.prange(n_b):
        x_lo, y_lo, x_hi, y_hi = width, height, 0, 0
        for py in range(height):
            for px in range(width):
                if mask[b, py, px]:
                    x_lo, x_hi = min(x_lo, px), max(x_hi, px + 1)
                    y_lo, y_hi = min(y_lo, py), max(y_hi, py + 1)
        if x_lo >= x_hi:
            continue
        h, w = y_hi - y_lo, x_hi - x_lo
        sat = np.zeros((h + 1, w + 1), np.int64)
        for py in range(h):
            for px in range(w):
                sat[py + 1, px + 1] = sat[py, px + 1] + sat[py + 1, px] - sat[py, px] + mask[b, y_lo + py, x_lo + px]
        sub = np.empty_like(faces)
        keep = np.empty(faces.shape[0], np.int64)  # position in sub -> index in faces
        n_sub = 0
        xb, db = xy[b], depth[b]
        for f in range(faces.shape[0]):
            a, c, d = faces[f, 0], faces[f, 1], faces[f, 2]
            min_x, max_x = min(xb[a, 0], xb[c, 0], xb[d, 0]), max(xb[a, 0], xb[c, 0], xb[d, 0])
            min_y, max_y = min(xb[a, 1], xb[c, 1], xb[d, 1]), max(xb[a, 1], xb[c, 1], xb[d, 1])
            # Most faces are far from the mask's box: reject them with comparisons alone (the pixel
            # range below would be empty for them anyway).
            if max_x < x_lo - 0.5 or min_x > x_hi + 0.5 or max_y < y_lo - 0.5 or min_y > y_hi + 0.5:
                continue
            lo_x = max(int(np.floor(min_x - 0.5)), x_lo)
            hi_x = min(int(np.ceil(max_x - 0.5)), x_hi - 1)
            lo_y = max(int(np.floor(min_y - 0.5)), y_lo)
            hi_y = min(int(np.ceil(max_y - 0.5)), y_hi - 1)
            if lo_x > hi_x or lo_y > hi_y:
                continue
            lo_x -= x_lo
            hi_x -= x_lo
            lo_y -= y_lo
            hi_y -= y_lo
            if sat[hi_y + 1, hi_x + 1] - sat[lo_y, hi_x + 1] - sat[hi_y + 1, lo_x] + sat[lo_y, lo_x] > 0:
                sub[n_sub] = faces[f]
                keep[n_sub] = f
                n_sub += 1
        ids = _raster_ids_box(xb, db, sub[:n_sub], x_lo, y_lo, x_hi, y_hi, near)
        for py in range(h):
            for px in range(w):
                i = ids[py, px]
                if i >= 0 and mask[b, y_lo + py, x_lo + px]:
                    out[b, y_lo + py, x_lo + px] = keep[i]
    return out


@numba.njit(parallel=True, cache=True)
def _screen_frames(v: np.ndarray, R: np.ndarray, t: np.ndarray, K: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """v (B, V, 3) world -> pixel xy (B, V, 2) (0 where not finite) and camera depth (B, V), float64."""
    n_b, n = v.shape[:2]
    xy = np.empty((n_b, n, 2))
    depth = np.empty((n_b, n))
    for b in numba.prange(n_b):
        for i in range(n):
            x, y, z = np.float64(v[b, i, 0]), np.float64(v[b, i, 1]), np.float64(v[b, i, 2])
            cx = R[0, 0] * x + R[0, 1] * y + R[0, 2] * z + t[0]
            cy = R[1, 0] * x + R[1, 1] * y + R[1, 2] * z + t[1]
            cz = R[2, 0] * x + R[2, 1] * y + R[2, 2] * z + t[2]
            depth[b, i] = cz
            u = K[0, 0] * cx + K[0, 1] * cy + K[0, 2] * cz
            w = K[1, 0] * cx + K[1, 1] * cy + K[1, 2] * cz
            s = K[2, 0] * cx + K[2, 1] * cy + K[2, 2] * cz
            px, py = u / s, w / s
            xy[b, i, 0] = px if np.isfinite(px) else 0.0
            xy[b, i, 1] = py if np.isfinite(py) else 0.0
    return xy, depth


def _screen(vertices: np.ndarray, camera: Camera) -> tuple[np.ndarray, np.ndarray]:
    """vertices (..., V, 3) world -> pixel xy (..., V, 2) and camera depth (..., V), float64."""
    v = np.asarray(vertices)
    if not np.issubdtype(v.dtype, np.floating) or v.dtype.itemsize > 8:
        v = v.astype(np.float64)
    lead = v.shape[:-2]
    v3 = np.ascontiguousarray(v.reshape((-1,) + v.shape[-2:]))
    vm = np.asarray(camera.viewmat, np.float64)
    xy, depth = _screen_frames(v3, np.ascontiguousarray(vm[:3, :3]), np.ascontiguousarray(vm[:3, 3]),
                               np.asarray(camera.K, np.float64))
    return xy.reshape(lead + xy.shape[1:]), depth.reshape(lead + depth.shape[1:])


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
