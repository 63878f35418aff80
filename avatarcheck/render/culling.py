"""Which splats can reach a camera's image at all: render only those (the gate's eye camera sees a
small part of the head). Conservative by construction, so images are bit-identical with or without.

A splat draws nowhere outside its screen box of half-width ``3.33 sqrt(lambda_max(J S J^T) + eps2d)``
(gsplat's bound; alpha below 1/255 is skipped anyway). ``lambda_max(J S J^T) <= ||J||_F^2 sigma_max^2``
with the EWA Jacobian ``J = [[fx/z, 0, -fx x/z^2], [0, fy/z, -fy y/z^2]]`` taken unclamped (gsplat clamps
x/z, which only shrinks it), so a box from that bound contains the true one. Splats well behind the
near plane are dropped too (the projection culls them).
"""

from __future__ import annotations

import numba
import numpy as np

from avatarcheck.render.camera import Camera
from avatarcheck.render.gsplat_adapter import EPS2D

EXTENT_SIGMAS = 3.33   # gsplat's screen extent in standard deviations
MARGIN_PX = 2.0        # rounding of the box (ceil) and of pixel centres, with room to spare


def reaching_splats(means: np.ndarray, scales: np.ndarray, camera: Camera) -> np.ndarray:
    """(N,) bool: splats whose screen box meets the image in at least one of the B frames.

    means (B, N, 3) world positions; scales (B, N, 3) or (N, 3) linear sigmas.
    """
    m = np.ascontiguousarray(means, np.float64)
    s = np.asarray(scales, np.float64).max(axis=-1)
    sigma = np.ascontiguousarray(np.broadcast_to(s, m.shape[:2]) if s.ndim == 2 else s[None])
    K = camera.K.astype(np.float64)
    return _reaching(m, sigma, camera.viewmat.astype(np.float64), float(K[0, 0]), float(K[1, 1]), float(K[0, 2]),
                     float(K[1, 2]), float(camera.width), float(camera.height), 0.5 * float(camera.near))


@numba.njit(parallel=True, cache=True)
def _reaching(m, sigma, view, fx, fy, cx, cy, width, height, near):
    """One pass per splat over the frames (stops at the first frame it reaches): no (B, N) temporaries.
    sigma (Bs, N) with Bs in (1, B)."""
    n_b, n = m.shape[0], m.shape[1]
    out = np.zeros(n, np.bool_)
    for i in numba.prange(n):
        for b in range(n_b):
            x = view[0, 0] * m[b, i, 0] + view[0, 1] * m[b, i, 1] + view[0, 2] * m[b, i, 2] + view[0, 3]
            y = view[1, 0] * m[b, i, 0] + view[1, 1] * m[b, i, 1] + view[1, 2] * m[b, i, 2] + view[1, 3]
            z = view[2, 0] * m[b, i, 0] + view[2, 1] * m[b, i, 1] + view[2, 2] * m[b, i, 2] + view[2, 3]
            if not z > near:
                continue
            jac_f2 = (fx * fx + fy * fy) / z**2 + ((fx * x) ** 2 + (fy * y) ** 2) / z**4
            sg = sigma[b if sigma.shape[0] > 1 else 0, i]
            radius = EXTENT_SIGMAS * np.sqrt(jac_f2 * sg * sg + EPS2D) + MARGIN_PX
            px, py = fx * x / z + cx, fy * y / z + cy
            if px + radius >= 0 and px - radius <= width and py + radius >= 0 and py - radius <= height:
                out[i] = True
                break
    return out
