"""The CPU backend: the numba reference rasteriser (``cpu_raster``), all B frames in one call."""

from __future__ import annotations

import numpy as np

from avatarcheck.render.camera import Camera
from avatarcheck.render.state import SplatState


def rasterize(state: SplatState, camera: Camera, background: np.ndarray,
              only: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """state (B frames), background (D,) float32 -> colors (B, H, W, D), alpha (B, H, W) float32.

    The background is composited in the kernel (``colour + (1 - alpha) * background``, gsplat's rule).
    ``only`` (B, H, W) bool: only the 16-px tiles holding a wanted pixel are rendered (the rest read
    as background), bit for bit as in the full image.
    """
    from avatarcheck.render.cpu_raster import rasterize_splats_batch

    return rasterize_splats_batch(state.means, state.quats, state.scales, state.opacities, state.colors,
                                  camera.viewmat, camera.K, camera.width, camera.height, camera.near, camera.far,
                                  background=np.asarray(background, np.float32), only=only)
