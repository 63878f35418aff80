"""Which splats can reach a camera's image at all: render only those (the gate's eye camera sees a
small part of the head). Conservative by construction, so images are bit-identical with or without.

A splat draws nowhere outside its screen box of half-width ``3.33 sqrt(lambda_max(J S J^T) + eps2d)``
(gsplat's bound; alpha below 1/255 is skipped anyway). ``lambda_max(J S J^T) <= ||J||_F^2 sigma_max^2``
with the EWA Jacobian ``J = [[fx/z, 0, -fx x/z^2], [0, fy/z, -fy y/z^2]]`` taken unclamped (gsplat clamps
x/z, which only shrinks it), so a box from that bound contains the true one. Splats well behind the
near plane are dropped too (the projection culls them).
"""

from __future__ import annotations

import numpy as np

from avatarcheck.render.camera import Camera
from avatarcheck.render.gsplat_adapter import EPS2D

EXTENT_SIGMAS = 3.33   # gsplat's screen extent in standard deviations
MARGIN_PX = 2.0        # rounding of the box (ceil) and of pixel centres, with room to spare


def reaching_splats(means: np.ndarray, scales: np.ndarray, camera: Camera) -> np.ndarray:
    """(N,) bool: splats whose screen box meets the image in at least one of the B frames.

    means (B, N, 3) world positions; scales (B, N, 3) or (N, 3) linear sigmas.
    """
    m = np.asarray(means, np.float64)
    R, t = camera.viewmat[:3, :3].astype(np.float64), camera.viewmat[:3, 3].astype(np.float64)
    cam = m @ R.T + t                                            # (B, N, 3)
    x, y, z = cam[..., 0], cam[..., 1], cam[..., 2]
    fx, fy, cx, cy = (float(camera.K[0, 0]), float(camera.K[1, 1]), float(camera.K[0, 2]), float(camera.K[1, 2]))
    front = z > 0.5 * camera.near
    zs = np.where(front, z, 1.0)
    jac_f2 = (fx * fx + fy * fy) / zs**2 + ((fx * x) ** 2 + (fy * y) ** 2) / zs**4
    sigma = np.asarray(scales, np.float64).max(axis=-1)
    radius = EXTENT_SIGMAS * np.sqrt(jac_f2 * sigma**2 + EPS2D) + MARGIN_PX
    px, py = fx * x / zs + cx, fy * y / zs + cy
    inside = (px + radius >= 0) & (px - radius <= camera.width) & (py + radius >= 0) & (py - radius <= camera.height)
    return (front & inside).any(axis=0)
