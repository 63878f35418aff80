"""``SplatState``: what a rasteriser needs for B frames of N splats (torch tensors)."""

from __future__ import annotations

import dataclasses

import torch
from torch import Tensor

from avatarcheck.checks import all_finite
from avatarcheck.errors import InputError


@dataclasses.dataclass(frozen=True)
class SplatState:
    """means (B, N, 3), quats (B, N, 4) wxyz, scales (B, N, 3) linear sigma,
    opacities (B, N), colors (B, N, D). ``from_parts`` broadcasts per-splat (N, ...) inputs."""

    means: Tensor
    quats: Tensor
    scales: Tensor
    opacities: Tensor
    colors: Tensor

    @classmethod
    def from_parts(cls, means: Tensor, quats: Tensor, scales: Tensor, opacities: Tensor, colors: Tensor) -> "SplatState":
        means = torch.as_tensor(means)
        if means.ndim == 2:
            means = means[None]
        if means.ndim != 3 or means.shape[-1] != 3:
            raise InputError("SplatState", "means", "shape (B, N, 3) or (N, 3)", str(tuple(means.shape)))
        B, N = means.shape[:2]
        dt, dev = means.dtype, means.device

        def fit(name: str, x, tail: tuple[int, ...]) -> Tensor:
            t = torch.as_tensor(x, dtype=dt, device=dev)
            if t.ndim == len(tail) + 1:
                t = t[None]
            if t.ndim != len(tail) + 2 or t.shape[1] != N or t.shape[0] not in (1, B) or (
                    tail and t.shape[2:] != tail and tail != (-1,)):
                want = ", ".join(["B", str(N), *("D" if s == -1 else str(s) for s in tail)])
                raise InputError("SplatState", name, f"shape ({want})", str(tuple(t.shape)))
            if not all_finite(t):
                raise InputError("SplatState", name, "finite values", "NaN or inf")
            return t.expand((B,) + t.shape[1:])

        if not all_finite(means):
            raise InputError("SplatState", "means", "finite values", "NaN or inf")
        return cls(means, fit("quats", quats, (4,)), fit("scales", scales, (3,)),
                   fit("opacities", opacities, ()), fit("colors", colors, (-1,)))

    @property
    def num_frames(self) -> int:
        return int(self.means.shape[0])

    @property
    def num_channels(self) -> int:
        return int(self.colors.shape[-1])

    def select(self, keep: Tensor) -> "SplatState":
        """Only the splats where ``keep`` (N,) is true (e.g. the no-eyeball occluder render)."""
        idx = torch.nonzero(torch.as_tensor(keep, dtype=torch.bool, device=self.means.device)).squeeze(1)
        B = self.num_frames

        def pick(t: Tensor) -> Tensor:
            # A tensor shared by all frames (expanded, zero stride) stays shared: gathered once, not
            # B times, so the rasteriser still sees it as one frame's data and processes it once.
            if B > 1 and t.stride(0) == 0:
                return t[:1].index_select(1, idx).expand((B,) + t.shape[1:1] + (len(idx),) + t.shape[2:])
            return t.index_select(1, idx)

        return SplatState(*(pick(t) for t in (self.means, self.quats, self.scales, self.opacities, self.colors)))

    def frame(self, i: int) -> "SplatState":
        return SplatState(*(t[i:i + 1] for t in (self.means, self.quats, self.scales, self.opacities, self.colors)))
