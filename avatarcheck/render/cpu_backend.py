"""The CPU backend: the numba reference rasteriser (``cpu_raster``), frame by frame, over a background."""

from __future__ import annotations

import numpy as np

from avatarcheck.render.camera import Camera
from avatarcheck.render.state import SplatState


def rasterize(state: SplatState, camera: Camera, background: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """state (B frames), background (D,) float32 -> colors (B, H, W, D), alpha (B, H, W) float32."""
    from avatarcheck.render.cpu_raster import rasterize_splats

    colors = np.empty((state.num_frames, camera.height, camera.width, state.num_channels), np.float32)
    alpha = np.empty((state.num_frames, camera.height, camera.width), np.float32)
    for b in range(state.num_frames):
        c, a = rasterize_splats(state.means[b], state.quats[b], state.scales[b], state.opacities[b],
                                state.colors[b], camera.viewmat, camera.K, camera.width, camera.height,
                                camera.near, camera.far)
        colors[b] = c + (1.0 - a)[..., None] * background  # gsplat: colour + T * background
        alpha[b] = a
    return colors, alpha
