"""Golden images: ``golden/<gate>/<avatar>/<take>/<edit>/<variant>/<moment>.<backend>.png`` (magenta).

``<take>`` is the take's name plus a short hash of its weights (``gate.inputs.take_key``): goldens of
one take are never compared with renders of another.

A comparison passes when SSIM (scikit-image) is at least ``ssim_min``, the mean NVIDIA FLIP error
(``flip-evaluator``, LDR) at most ``flip_max`` and the largest per-pixel channel difference at most
``max_abs``; tolerances per backend come from the gate file. Only ``--golden-update`` writes
goldens, and then nothing else happens to them; a missing golden fails with the command that
creates it.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
from PIL import Image

from avatarcheck.errors import InputError
from avatarcheck.io.images import write_png


@dataclasses.dataclass(frozen=True)
class Comparison:
    ssim: float
    flip: float
    max_abs: float
    diff: np.ndarray  # (H, W, 3) float in [0, 1]: |golden - result|, amplified for people

    def passes(self, tol: dict[str, float]) -> bool:
        return self.ssim >= tol["ssim_min"] and self.flip <= tol["flip_max"] and self.max_abs <= tol["max_abs"]


def golden_relpath(gate: str, avatar: str, take: str, edit: str, variant: str, moment: str, backend: str) -> Path:
    return Path(gate) / avatar / take / edit / variant / f"{moment}.{backend}.png"


# A golden is an eye-camera render: anything much larger is not one of ours (and PIL's own bomb
# limit is far above what a gate renders).
MAX_GOLDEN_PIXELS = 4096 * 4096


def read_image(path: str | Path) -> np.ndarray:
    """PNG -> (H, W, 3) float32 in [0, 1]; a clear error for a missing, unreadable or oversized file."""
    try:
        with Image.open(path) as im:
            if im.width * im.height > MAX_GOLDEN_PIXELS:
                raise InputError(path, "golden", f"a PNG of at most {MAX_GOLDEN_PIXELS} pixels",
                                 f"{im.width} x {im.height}")
            return np.asarray(im.convert("RGB"), np.float32) / 255.0
    except FileNotFoundError:
        raise InputError(path, "golden", "an existing PNG", "no such file") from None
    except (OSError, ValueError, Image.DecompressionBombError) as err:
        if isinstance(err, InputError):
            raise
        raise InputError(path, "golden", "a readable PNG", f"{type(err).__name__}: {err}") from None


def quantise(image: np.ndarray) -> np.ndarray:
    """What a PNG round trip keeps: float [0, 1] -> 8-bit levels, as float32 in [0, 1]."""
    return (np.clip(np.asarray(image, np.float32), 0, 1) * 255.0 + 0.5).astype(np.uint8).astype(np.float32) / 255.0


def compare_images(golden: np.ndarray, result: np.ndarray, source: str | Path = "golden") -> Comparison:
    """golden, result (H, W, 3) float in [0, 1] -> SSIM, mean FLIP, max abs difference and a diff image.
    ``source`` names the golden file in errors."""
    from skimage.metrics import structural_similarity

    g, r = quantise(golden), quantise(result)
    if g.shape != r.shape:
        raise InputError(source, "shape", f"the result's shape {r.shape} (re-create it with --golden-update)",
                         str(g.shape))
    if np.array_equal(g, r):
        # The usual CPU outcome (the renderer is deterministic): SSIM 1 and FLIP 0 by definition,
        # without the ~0.15 s the two metrics cost per image.
        return Comparison(1.0, 0.0, 0.0, np.zeros_like(g))
    ssim = float(structural_similarity(g, r, channel_axis=2, data_range=1.0))
    try:
        import flip_evaluator

        _, flip, _ = flip_evaluator.evaluate(g, r, "LDR")
        flip = float(flip)
    except ImportError:  # pragma: no cover - flip-evaluator is a declared dependency
        flip = float("nan")
    absdiff = np.abs(g - r)
    return Comparison(ssim, flip, float(absdiff.max()), np.clip(absdiff * 4.0, 0.0, 1.0))


def write_golden(path: Path, image: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_png(path, image)
