"""Gate metrics over one eye region of one render (pure functions over image arrays).

A render carries [R, G, B, E] with E = 1 on eyeball splats, so E per pixel is the eyeball's share of
that pixel's colour. Per eye and moment:

* **region**: the projected eyeball, from an eyeball-only render (that eye's share of alpha > 0.5),
  dilated by a few pixels so the lid's edge is inside it;
* **covered**: the part of the region where the posed *mesh* puts something other than the eyeball
  in front (a triangle-ID z-buffer). Geometry, not splats, says where a lid is, so the mask is the
  same for every scale correction and a lid that fails to tile cannot hide its own gaps;
* **open**: the rest of the region, where the mesh shows the eyeball;
* **leak** = E over covered pixels: mean, p99, max, and area (share of covered pixels with
  E > ``visible``); zero when nothing is covered;
* **coverage** = alpha of the occluder render (no eyeball splats, nothing behind the eyeball
  centres) over covered pixels: min and p1;
* **open_e_mean** = mean E over open pixels: at eye-wide it must be high, so a "fix" that glues the
  lid shut fails.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

# Every statistic a check may name, and the direction in which it is bad.
STATS: dict[str, str] = {
    "leak_mean": "high", "leak_p99": "high", "leak_max": "high", "leak_area": "high",
    "coverage_min": "low", "coverage_p1": "low", "open_e_mean": "low",
}
# The statistics that need the occluder render (the other ones come from the main render and the mesh).
COVERAGE_STATS = frozenset({"coverage_min", "coverage_p1"})
# Statistics of the face region (``gate.sharpness``), not of an eye: a check on one compares the
# variant with the gate's reference variant at the same frame.
FACE_STATS: dict[str, str] = {"sharpness": "low"}


def eye_region(eyeball_share: np.ndarray, dilate_px: int = 2, threshold: float = 0.5) -> np.ndarray:
    """eyeball_share (H, W): one eyeball's alpha in an eyeball-only render -> region (H, W) bool."""
    core = np.asarray(eyeball_share) > threshold
    if dilate_px <= 0 or not core.any():
        return core
    # Dilate only the core's bounding box grown by dilate_px: the same pixels, a tiny fraction of
    # the work (an eye covers a few percent of the eye camera's frame).
    ys, xs = np.flatnonzero(core.any(axis=1)), np.flatnonzero(core.any(axis=0))
    y0, y1 = max(ys[0] - dilate_px, 0), min(ys[-1] + dilate_px + 1, core.shape[0])
    x0, x1 = max(xs[0] - dilate_px, 0), min(xs[-1] + dilate_px + 1, core.shape[1])
    region = np.zeros_like(core)
    region[y0:y1, x0:x1] = ndimage.binary_dilation(
        core[y0:y1, x0:x1], structure=ndimage.generate_binary_structure(2, 1), iterations=dilate_px)
    return region


def eye_metrics(E: np.ndarray, occluder_alpha: np.ndarray | None, region: np.ndarray, covered: np.ndarray,
                visible: float = 0.1) -> dict[str, float]:
    """Statistics of one eye: E, occluder_alpha (H, W) float; region, covered (H, W) bool.

    ``covered`` is intersected with ``region``; ``open`` is region minus covered. Without an
    occluder render (``None``) the ``COVERAGE_STATS`` are left out.
    """
    region = np.asarray(region, bool)
    # Work on the region's bounding box: the same pixels in the same (row-major) order, so the same
    # numbers, without converting and masking whole frames.
    rows, cols = np.flatnonzero(region.any(axis=1)), np.flatnonzero(region.any(axis=0))
    box = (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1)) if rows.size else (slice(0, 0),) * 2
    region = region[box]
    E = np.asarray(np.asarray(E)[box], np.float64)
    covered = region & np.asarray(covered, bool)[box]
    if occluder_alpha is not None:
        occluder_alpha = np.asarray(occluder_alpha)[box]
    opened = region & ~covered
    leak = E[covered]
    cov = None if occluder_alpha is None else np.asarray(occluder_alpha, np.float64)[covered]
    out = {
        "region_px": float(region.sum()), "covered_px": float(covered.sum()), "open_px": float(opened.sum()),
        "leak_mean": float(leak.mean()) if leak.size else 0.0,
        "leak_p99": float(np.percentile(leak, 99)) if leak.size else 0.0,
        "leak_max": float(leak.max()) if leak.size else 0.0,
        "leak_area": float((leak > visible).mean()) if leak.size else 0.0,
        "open_e_mean": float(E[opened].mean()) if opened.any() else 0.0,
    }
    if cov is not None:
        out["coverage_min"] = float(cov.min()) if cov.size else 1.0
        out["coverage_p1"] = float(np.percentile(cov, 1)) if cov.size else 1.0
    return out


def worst_eye(per_eye: dict[str, dict[str, float]], stat: str) -> tuple[str, float]:
    """(eye, value) of the eye that does worse on ``stat`` (ties: the first eye)."""
    bad_high = STATS[stat] == "high"
    best_eye, best = None, None
    for eye, m in per_eye.items():
        v = m[stat]
        if best is None or (v > best if bad_high else v < best):
            best_eye, best = eye, v
    assert best_eye is not None and best is not None
    return best_eye, best
