"""Colour overrides per splat label, producing the [R, G, B, E] channels the gate reads.

E is 1 on eyeball splats and 0 elsewhere, so after alpha blending E per pixel is exactly the
share of that pixel's colour that comes from the eyeball. The magenta shader also paints the
eyeball (1, 0, 1) for people looking at the images: an iris behind a flesh-coloured lid reads
as "soft", a magenta one cannot be missed. The numbers always come from E.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import Tensor

from avatarcheck.errors import InputError
from avatarcheck.render.gsplat_adapter import sh_colors
from avatarcheck.render.state import SplatState
from avatarcheck.splats.cloud import EYEBALL_LABELS, SplatCloud

if TYPE_CHECKING:
    from avatarcheck.splats.binding import PosedSplats

SHADERS = ("rgb", "magenta")
MAGENTA = (1.0, 0.0, 1.0)


def shade(cloud: SplatCloud, shader: str = "rgb", means: Tensor | None = None,
          camera_position: np.ndarray | None = None) -> Tensor:
    """Per-splat colours [R, G, B, E]: (N, 4), or (B, N, 4) when view-dependent.

    SH degree 0 is view-independent. With higher degrees pass the posed ``means`` (B, N, 3) and
    the camera centre to evaluate the SH per frame, as gsplat does.
    """
    if shader not in SHADERS:
        raise InputError("shade", "shader", f"one of {SHADERS}", repr(shader))
    eye = torch.from_numpy(cloud.mask(*EYEBALL_LABELS))
    if cloud.sh_degree > 0 and means is not None and camera_position is not None:
        cam = torch.as_tensor(camera_position, dtype=means.dtype, device=means.device)
        sh = torch.from_numpy(cloud.sh).to(means.device, means.dtype).expand(means.shape[0], -1, -1, -1)
        rgb = sh_colors(sh, means - cam, cloud.sh_degree)
    else:
        rgb = torch.from_numpy(cloud.rgb)
        if means is not None:
            rgb = rgb.to(means.device, means.dtype)
    if shader == "magenta":
        rgb = torch.where(eye.to(rgb.device)[..., :, None], torch.tensor(MAGENTA, dtype=rgb.dtype, device=rgb.device), rgb)
    e = eye.to(rgb.device, rgb.dtype).expand(rgb.shape[:-1])[..., None]
    return torch.cat([rgb, e], dim=-1)


def shaded_state(cloud: SplatCloud, posed: "PosedSplats", shader: str = "rgb",
                 drop_eyeballs: bool = False) -> SplatState:
    """What a rasteriser needs: the posed geometry with the cloud's opacities and ``shader``'s colours.

    ``drop_eyeballs`` keeps only the other splats (the occluder render)."""
    s = SplatState.from_parts(posed.means, posed.quats, posed.scales, cloud.opacities, shade(cloud, shader))
    return s.select(~cloud.mask(*EYEBALL_LABELS)) if drop_eyeballs else s
