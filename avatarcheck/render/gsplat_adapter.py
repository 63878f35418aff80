"""The one place that touches gsplat's private pure-torch pieces.

gsplat 1.5.3's ``gsplat.cuda._torch_impl`` runs on the CPU (EWA projection, quaternion/scale to
covariance); its CUDA rasteriser does not. The CPU reference rasteriser therefore reuses these
pieces and writes only the per-pixel loop. Underscore APIs can move between gsplat releases:
keeping them behind this module means one file to fix.
"""

from __future__ import annotations

import dataclasses

import torch
from torch import Tensor

from gsplat.cuda._torch_impl import _fully_fused_projection, _quat_scale_to_covar_preci

# gsplat's defaults for 3DGS rasterisation (``gsplat.rasterization``) and LAM's camera planes.
EPS2D = 0.3
NEAR_PLANE = 0.01
FAR_PLANE = 100.0
TILE_SIZE = 16


@dataclasses.dataclass(frozen=True)
class Projected:
    """Per splat, per camera (leading dims ``...``): what the rasteriser needs.

    radii (..., N, 2) int32 (0 = culled), means2d (..., N, 2) pixels, depths (..., N) camera z,
    conics (..., N, 3) inverse 2D covariance (a, b, c) with sigma = 0.5 (a dx^2 + c dy^2) + b dx dy.
    """

    radii: Tensor
    means2d: Tensor
    depths: Tensor
    conics: Tensor


def covariances(quats: Tensor, scales: Tensor) -> Tensor:
    """quats (..., 4) wxyz (normalised inside), scales (..., 3) linear sigma -> (..., 3, 3) R S S R^T."""
    covars, _ = _quat_scale_to_covar_preci(quats, scales, compute_covar=True, compute_preci=False)
    return covars


def project(means: Tensor, covars: Tensor, viewmat: Tensor, K: Tensor, width: int, height: int,
            eps2d: float = EPS2D, near_plane: float = NEAR_PLANE, far_plane: float = FAR_PLANE) -> Projected:
    """EWA projection of N Gaussians into one pinhole camera, gsplat's own torch code.

    means (N, 3), covars (N, 3, 3) world; viewmat (4, 4) world-to-camera (OpenCV); K (3, 3).
    Returns ``Projected`` with the camera axis squeezed: (N, ...).
    """
    radii, means2d, depths, conics, _ = _fully_fused_projection(
        means, covars, viewmat[None], K[None], width, height,
        eps2d=eps2d, near_plane=near_plane, far_plane=far_plane)
    return Projected(radii[0], means2d[0], depths[0], conics[0])


def sh_colors(sh: Tensor, dirs: Tensor, degree: int) -> Tensor:
    """View-dependent colour from SH: sh (..., K, 3), dirs (..., 3) camera -> splat.

    gsplat's own evaluation, then its ``+ 0.5`` offset and clamp at 0.
    """
    from gsplat.cuda._torch_impl import _spherical_harmonics

    return torch.clamp_min(_spherical_harmonics(degree, dirs, sh) + 0.5, 0.0)
