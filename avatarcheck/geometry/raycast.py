"""Ray-triangle intersection (Moller-Trumbore), vectorised over rays x triangles.

Used to prove mesh-level occlusion independently of any splat renderer: which surface does a
camera ray reach first?
"""

from __future__ import annotations

import numpy as np


def ray_triangle_hits(origins: np.ndarray, directions: np.ndarray, triangles: np.ndarray,
                      eps: float = 1e-12, chunk: int = 256) -> np.ndarray:
    """Ray parameter t of every ray/triangle hit, ``inf`` where a ray misses a triangle.

    origins, directions: (R, 3) (directions need not be unit; t is in their units).
    triangles: (T, 3, 3) corner positions. Returns (R, T) float64, hits with t > 0 only.
    Edges and corners count as hits (closed barycentric test), so a ray through a shared edge
    is never lost between two triangles.
    """
    o = np.asarray(origins, np.float64)
    d = np.asarray(directions, np.float64)
    tri = np.asarray(triangles, np.float64)
    p0 = tri[:, 0]
    e1 = tri[:, 1] - p0
    e2 = tri[:, 2] - p0
    out = np.full((len(o), len(tri)), np.inf)
    for s in range(0, len(o), chunk):
        oo, dd = o[s:s + chunk, None, :], d[s:s + chunk, None, :]
        pvec = np.cross(dd, e2[None])
        det = np.einsum("rtk,tk->rt", pvec, e1)
        ok = np.abs(det) > eps
        inv = np.where(ok, 1.0 / np.where(ok, det, 1.0), 0.0)
        tvec = oo - p0[None]
        u = np.einsum("rtk,rtk->rt", tvec, pvec) * inv
        qvec = np.cross(tvec, e1[None])
        v = np.einsum("rtk,rk->rt", qvec, dd[:, 0]) * inv
        t = np.einsum("rtk,tk->rt", qvec, e2) * inv
        hit = ok & (u >= 0) & (v >= 0) & (u + v <= 1) & (t > 0)
        out[s:s + chunk] = np.where(hit, t, np.inf)
    return out


def first_hit(origins: np.ndarray, directions: np.ndarray, triangles: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(t, triangle index) of the nearest hit per ray; index -1 and t = inf for a miss."""
    t = ray_triangle_hits(origins, directions, triangles)
    idx = np.argmin(t, axis=1)
    t_min = t[np.arange(len(t)), idx]
    return t_min, np.where(np.isfinite(t_min), idx, -1)
