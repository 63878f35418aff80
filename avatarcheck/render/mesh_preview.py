"""A small z-buffered, Lambert-shaded triangle rasteriser for previews of meshes (not splats).

Good enough to look at the synthetic head and its blendshapes; the splat renderers live beside
it. Pinhole camera looking down -z from ``(0, 0, distance)`` after rotating the mesh by ``yaw``
about y, OpenCV image convention (x right, y down), pixel centres at +0.5.
"""

from __future__ import annotations

import numba
import numpy as np


def _yaw_matrix(yaw: float) -> np.ndarray:
    c, s = np.cos(yaw), np.sin(yaw)
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


def render_mesh_preview(
    vertices: np.ndarray,
    faces: np.ndarray,
    *,
    size: int = 512,
    vertex_colors: np.ndarray | None = None,
    distance: float = 0.6,
    fov_deg: float = 30.0,
    yaw: float = 0.0,
    centre: np.ndarray | None = None,
    background: tuple[float, float, float] = (1.0, 1.0, 1.0),
) -> np.ndarray:
    """Render vertices (V, 3), faces (F, 3) -> uint8 image (size, size, 3).

    vertex_colors (V, 3) in [0, 1] (default light grey) are interpolated per face (flat: the
    mean of the three corners) and shaded by a head-on light.
    """
    v = np.asarray(vertices, np.float64)
    c = v.mean(axis=0) if centre is None else np.asarray(centre, np.float64)
    cam = (v - c) @ _yaw_matrix(yaw).T
    depth = distance - cam[:, 2]
    f = 0.5 * size / np.tan(np.radians(fov_deg) / 2)
    px = f * cam[:, 0] / depth + size / 2
    py = -f * cam[:, 1] / depth + size / 2
    colors = np.full((len(v), 3), 0.8) if vertex_colors is None else np.asarray(vertex_colors, float)

    tri = faces
    n = np.cross(cam[tri[:, 1]] - cam[tri[:, 0]], cam[tri[:, 2]] - cam[tri[:, 0]])
    n /= np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)
    light = np.array([0.3, 0.4, 1.0]) / np.linalg.norm([0.3, 0.4, 1.0])
    shade = 0.25 + 0.75 * np.abs(n @ light)
    face_rgb = colors[tri].mean(axis=1) * shade[:, None]

    image = np.empty((size, size, 3))
    image[:] = background
    _zbuffer_faces(px[tri], py[tri], depth[tri], face_rgb, image)
    return (np.clip(image, 0, 1) * 255 + 0.5).astype(np.uint8)


@numba.njit(cache=True)
def _zbuffer_faces(X: np.ndarray, Y: np.ndarray, Z: np.ndarray, face_rgb: np.ndarray, image: np.ndarray) -> None:
    """Paint faces into image (S, S, 3) in place, nearest wins. X, Y (F, 3) pixel corners, Z (F, 3)
    depths (faces with a corner behind the eye skipped), face_rgb (F, 3). Pixel centres at +0.5;
    a pixel is inside when all three barycentrics are >= 0 (edges shared by two faces draw twice,
    the nearer wins); depth is interpolated linearly in screen space (a preview, not a measurement)."""
    size = image.shape[0]
    zbuf = np.full((size, size), np.inf)
    for i in range(X.shape[0]):
        if min(Z[i, 0], Z[i, 1], Z[i, 2]) <= 0.0:
            continue
        ax, bx, cx = X[i, 0], X[i, 1], X[i, 2]
        ay, by, cy = Y[i, 0], Y[i, 1], Y[i, 2]
        den = (by - cy) * (ax - cx) + (cx - bx) * (ay - cy)
        if abs(den) < 1e-12:
            continue
        x0 = min(max(int(np.floor(min(ax, bx, cx))), 0), size)
        x1 = min(max(int(np.ceil(max(ax, bx, cx))) + 1, 0), size)
        y0 = min(max(int(np.floor(min(ay, by, cy))), 0), size)
        y1 = min(max(int(np.ceil(max(ay, by, cy))) + 1, 0), size)
        for yi in range(y0, y1):
            ys = yi + 0.5
            for xi in range(x0, x1):
                xs = xi + 0.5
                w0 = ((by - cy) * (xs - cx) + (cx - bx) * (ys - cy)) / den
                w1 = ((cy - ay) * (xs - cx) + (ax - cx) * (ys - cy)) / den
                w2 = 1.0 - w0 - w1
                if w0 < 0.0 or w1 < 0.0 or w2 < 0.0:
                    continue
                z = w0 * Z[i, 0] + w1 * Z[i, 1] + w2 * Z[i, 2]
                if z < zbuf[yi, xi]:
                    zbuf[yi, xi] = z
                    image[yi, xi, 0] = face_rgb[i, 0]
                    image[yi, xi, 1] = face_rgb[i, 1]
                    image[yi, xi, 2] = face_rgb[i, 2]
