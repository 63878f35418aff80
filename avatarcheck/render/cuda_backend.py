"""gsplat's CUDA rasteriser (``gsplat.rasterization``), batched over frames in one call.

Dense (``packed=False``) mode: every frame sees the same N splats, so the dense layout wastes
nothing and keeps outputs in frame order; the pixels are the same as packed mode. Classic 3DGS
rasterisation (no antialiasing compensation), eps2d 0.3, 16-px tiles: the numerics the CPU
reference reproduces. Any channel count works; gsplat pads D to a size it supports.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from avatarcheck.render.camera import Camera
from avatarcheck.render.gsplat_adapter import EPS2D, TILE_SIZE
from avatarcheck.render.state import SplatState


def cuda_available() -> bool:
    return torch.cuda.is_available()


def rasterize_cuda(state: SplatState, camera: Camera, background: Tensor) -> tuple[Tensor, Tensor]:
    """state (B frames), one camera, background (D,) -> colors (B, H, W, D), alpha (B, H, W)."""
    import gsplat

    dev = torch.device("cuda")
    B = state.num_frames
    f32 = dict(device=dev, dtype=torch.float32)
    viewmats = torch.as_tensor(camera.viewmat, **f32).expand(B, 1, 4, 4)
    Ks = torch.as_tensor(camera.K, **f32).expand(B, 1, 3, 3)
    colors, alphas, _ = gsplat.rasterization(
        means=state.means.to(**f32), quats=state.quats.to(**f32), scales=state.scales.to(**f32),
        opacities=state.opacities.to(**f32), colors=state.colors.to(**f32),
        viewmats=viewmats, Ks=Ks, width=camera.width, height=camera.height,
        near_plane=camera.near, far_plane=camera.far, eps2d=EPS2D, tile_size=TILE_SIZE,
        packed=False, rasterize_mode="classic", render_mode="RGB", sh_degree=None,
        backgrounds=background.to(**f32).expand(B, 1, -1))
    return colors[:, 0], alphas[:, 0, ..., 0]


def rasterize(state: SplatState, camera: Camera, background: np.ndarray,
              only: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The backend registry's entry point: numpy in (background (D,)), numpy out.

    ``only`` (the pixels the caller reads) is a hint this backend does not need: gsplat renders
    the whole image in one launch, and pixels outside ``only`` are simply not read.
    """
    colors, alpha = rasterize_cuda(state, camera, torch.as_tensor(background, dtype=torch.float32))
    return colors.float().cpu().numpy(), alpha.float().cpu().numpy()
