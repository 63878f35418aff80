"""One functional entry point: ``render(state, camera, backend="auto") -> RenderOutput``.

``auto`` takes the preferred available backend (``render.backend``: gsplat on CUDA when a GPU is
there, else the CPU reference rasteriser); both have
gsplat 1.5.3's numerics (DESIGN.md, "Renderer contract"), so numbers and goldens are defined
on gsplat. Colours are composited over the background per channel: white for RGB, 0 for extra
channels such as E.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch
from torch import Tensor

from avatarcheck.errors import InputError
from avatarcheck.render.camera import Camera
from avatarcheck.render.state import SplatState

from avatarcheck.render.backend import resolve_backend


@dataclasses.dataclass(frozen=True)
class RenderOutput:
    """colors (B, H, W, D) float32 on the background; alpha (B, H, W) float32; backend used."""

    colors: np.ndarray
    alpha: np.ndarray
    backend: str

    @property
    def rgb(self) -> np.ndarray:
        return self.colors[..., :3]

    @property
    def extra(self) -> np.ndarray:
        """(B, H, W, D - 3): the channels after RGB ([..., 0] is E with the magenta shader)."""
        return self.colors[..., 3:]


def default_background(channels: int) -> Tensor:
    """White RGB, zero for every extra channel."""
    bg = torch.zeros(channels)
    bg[: min(3, channels)] = 1.0
    return bg


def render(state: SplatState, camera: Camera, backend: str = "auto",
           background: Tensor | np.ndarray | None = None, only: np.ndarray | None = None) -> RenderOutput:
    """Rasterise B frames of splats into one camera.

    ``only`` (B, H, W) bool: the pixels the caller will read. Those are exactly the full render's;
    a backend may skip the rest (the CPU one renders only the 16-px tiles holding a wanted pixel),
    so elsewhere the output may read as background.
    """
    used = resolve_backend(backend)
    bg = default_background(state.num_channels) if background is None else torch.as_tensor(background, dtype=torch.float32)
    if bg.shape != (state.num_channels,):
        raise InputError("render", "background", f"shape ({state.num_channels},)", str(tuple(bg.shape)))
    args = (state, camera, bg.numpy().astype(np.float32))
    colors, alpha = used.rasterize(*args) if only is None else used.rasterize(*args, only=only)
    return RenderOutput(colors, alpha, used.name)
