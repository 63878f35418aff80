"""Render backends: one interface, one registry (the only list of backends in the package).

A backend turns a ``SplatState`` (B frames) and a camera into colours (B, H, W, D) composited over a
background, and alpha (B, H, W). Every backend has gsplat 1.5.3's numerics (DESIGN.md, "Renderer
contract"). Adding one is a module with a ``rasterize`` function plus one ``register_backend`` line
below; the CLI, the pytest plugin, the gate and the benchmarks read their choices from here.
"""

from __future__ import annotations

import dataclasses
import importlib
import platform
from collections.abc import Callable

import numpy as np

from avatarcheck.errors import InputError

AUTO = "auto"

# (state, camera, background (D,) float32 numpy, only=None) -> (colors (B, H, W, D), alpha (B, H, W))
# float32 numpy. ``only`` (B, H, W) bool names the pixels the caller will read: a backend may skip the
# others (they then read as background), or ignore it; wanted pixels are the full image's.
Rasterize = Callable[..., tuple[np.ndarray, np.ndarray]]


@dataclasses.dataclass(frozen=True)
class Backend:
    """name; ``target`` "module:function" of the rasteriser (imported on first use, so a CUDA backend
    costs nothing on a CPU machine); ``available()``; ``device_name()`` for reports; ``preference``:
    ``auto`` takes the available backend with the highest one."""

    name: str
    target: str
    available: Callable[[], bool]
    device_name: Callable[[], str]
    preference: int = 0
    description: str = ""

    @property
    def rasterize(self) -> Rasterize:
        module, _, func = self.target.partition(":")
        return getattr(importlib.import_module(module), func)


BACKENDS: dict[str, Backend] = {}


def register_backend(backend: Backend) -> Backend:
    """Add (or replace) a backend; returns it so a module can keep a handle."""
    if not backend.name.isidentifier() or backend.name == AUTO:
        raise InputError("register_backend", "name", "an identifier other than 'auto'", repr(backend.name))
    BACKENDS[backend.name] = backend
    return backend


def backend_names(include_auto: bool = True) -> tuple[str, ...]:
    return ((AUTO,) if include_auto else ()) + tuple(BACKENDS)


def resolve_backend(name: str) -> Backend:
    """``auto`` -> the preferred available backend; a named one must exist and be available."""
    if name == AUTO:
        usable = [b for b in BACKENDS.values() if b.available()]
        return max(usable, key=lambda b: b.preference)
    if name not in BACKENDS:
        raise InputError("render", "backend", f"one of {backend_names()}", repr(name))
    b = BACKENDS[name]
    if not b.available():
        others = [n for n, o in BACKENDS.items() if o.available()]
        raise InputError("render", "backend", f"an available backend ({' / '.join([AUTO, *others])})",
                         f"{name!r}, which is not available here ({b.description or 'no device'})")
    return b


def _cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def _cuda_device() -> str:
    import torch

    return torch.cuda.get_device_name(0)


def _cpu_device() -> str:
    return f"CPU ({platform.processor() or platform.machine()})"


register_backend(Backend("cpu", "avatarcheck.render.cpu_backend:rasterize", lambda: True, _cpu_device,
                         preference=0, description="numba reference rasteriser with gsplat's numerics"))
register_backend(Backend("cuda", "avatarcheck.render.cuda_backend:rasterize", _cuda_available, _cuda_device,
                         preference=10, description="gsplat.rasterization; needs an NVIDIA GPU with CUDA"))
