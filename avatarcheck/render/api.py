"""One functional entry point: ``render(state, camera, backend="auto") -> RenderOutput``.

``auto`` takes gsplat on CUDA when a GPU is there, else the CPU reference rasteriser; both have
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

BACKENDS = ("auto", "cpu", "cuda")


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


def resolve_backend(backend: str) -> str:
    if backend not in BACKENDS:
        raise InputError("render", "backend", f"one of {BACKENDS}", repr(backend))
    if backend == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if backend == "cuda" and not torch.cuda.is_available():
        raise InputError("render", "backend", "a CUDA GPU for backend 'cuda' (or use 'cpu' / 'auto')",
                         "torch.cuda.is_available() is False")
    return backend


def default_background(channels: int) -> Tensor:
    """White RGB, zero for every extra channel."""
    bg = torch.zeros(channels)
    bg[: min(3, channels)] = 1.0
    return bg


def render(state: SplatState, camera: Camera, backend: str = "auto",
           background: Tensor | np.ndarray | None = None) -> RenderOutput:
    """Rasterise B frames of splats into one camera."""
    used = resolve_backend(backend)
    bg = default_background(state.num_channels) if background is None else torch.as_tensor(background, dtype=torch.float32)
    if bg.shape != (state.num_channels,):
        raise InputError("render", "background", f"shape ({state.num_channels},)", str(tuple(bg.shape)))
    if used == "cuda":
        from avatarcheck.render.cuda_backend import rasterize_cuda

        colors, alpha = rasterize_cuda(state, camera, bg)
        return RenderOutput(colors.float().cpu().numpy(), alpha.float().cpu().numpy(), used)
    from avatarcheck.render.cpu_raster import rasterize_splats

    bg_np = bg.numpy().astype(np.float32)
    colors = np.empty((state.num_frames, camera.height, camera.width, state.num_channels), np.float32)
    alpha = np.empty((state.num_frames, camera.height, camera.width), np.float32)
    for b in range(state.num_frames):
        c, a = rasterize_splats(state.means[b], state.quats[b], state.scales[b], state.opacities[b],
                                state.colors[b], camera.viewmat, camera.K, camera.width, camera.height,
                                camera.near, camera.far)
        colors[b] = c + (1.0 - a)[..., None] * bg_np  # gsplat: colour + T * background
        alpha[b] = a
    return RenderOutput(colors, alpha, used)
