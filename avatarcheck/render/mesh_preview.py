"""A small z-buffered, Lambert-shaded triangle rasteriser for previews of meshes (not splats).

Good enough to look at the synthetic head and its blendshapes; the splat renderers live beside
it. Pinhole camera looking down -z from ``(0, 0, distance)`` after rotating the mesh by ``yaw``
about y, OpenCV image convention (x right, y down), pixel centres at +0.5.
"""

from __future__ import annotations

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
    zbuf = np.full((size, size), np.inf)
    X, Y, Z = px[tri], py[tri], depth[tri]
    x0 = np.clip(np.floor(X.min(1)).astype(int), 0, size)
    x1 = np.clip(np.ceil(X.max(1)).astype(int) + 1, 0, size)
    y0 = np.clip(np.floor(Y.min(1)).astype(int), 0, size)
    y1 = np.clip(np.ceil(Y.max(1)).astype(int) + 1, 0, size)
    for i in np.nonzero((x1 > x0) & (y1 > y0) & (Z.min(1) > 0))[0]:
        xs, ys = np.meshgrid(np.arange(x0[i], x1[i]) + 0.5, np.arange(y0[i], y1[i]) + 0.5)
        (ax, bx, cx), (ay, by, cy) = X[i], Y[i]
        den = (by - cy) * (ax - cx) + (cx - bx) * (ay - cy)
        if abs(den) < 1e-12:
            continue
        w0 = ((by - cy) * (xs - cx) + (cx - bx) * (ys - cy)) / den
        w1 = ((cy - ay) * (xs - cx) + (ax - cx) * (ys - cy)) / den
        w2 = 1.0 - w0 - w1
        inside = (w0 >= 0) & (w1 >= 0) & (w2 >= 0)
        if not inside.any():
            continue
        z = w0 * Z[i, 0] + w1 * Z[i, 1] + w2 * Z[i, 2]
        sub = zbuf[y0[i]:y1[i], x0[i]:x1[i]]
        win = inside & (z < sub)
        sub[win] = z[win]
        image[y0[i]:y1[i], x0[i]:x1[i]][win] = face_rgb[i]
    return (np.clip(image, 0, 1) * 255 + 0.5).astype(np.uint8)
