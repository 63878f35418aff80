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

import numba
import numpy as np

# Every statistic a check may name, and the direction in which it is bad.
STATS: dict[str, str] = {
    "leak_mean": "high", "leak_p99": "high", "leak_max": "high", "leak_area": "high",
    "coverage_min": "low", "coverage_p1": "low", "open_e_mean": "low",
}
# The statistics that need the occluder render (the other ones come from the main render and the mesh).
COVERAGE_STATS = frozenset({"coverage_min", "coverage_p1"})
# Statistics of the whole face or head, not of an eye, each measured against the gate's reference
# variant at the same frame: ``sharpness`` (gate.sharpness, the lower face's detail) and ``head_holes``
# (gate.head_coverage: the largest growth of the splats' holes over the mesh, per view and region).
FACE_STATS: dict[str, str] = {"sharpness": "low", "head_holes": "high"}


def eye_region(eyeball_share: np.ndarray, dilate_px: int = 2, threshold: float = 0.5) -> np.ndarray:
    """eyeball_share (H, W): one eyeball's alpha in an eyeball-only render -> region (H, W) bool."""
    share = np.asarray(eyeball_share)
    return eye_regions(share[None, ..., None], dilate_px, threshold)[0, 0]


def eye_regions(shares: np.ndarray, dilate_px: int = 2, threshold: float = 0.5) -> np.ndarray:
    """shares (B, H, W, K): K eyeballs' alpha in B eyeball-only renders -> regions (B, K, H, W) bool.

    The core is ``share > threshold`` (compared in the shares' dtype, as numpy compares an array with
    a Python float); the region adds every pixel within 4-neighbourhood (Manhattan) distance
    ``dilate_px`` of the core, i.e. ``dilate_px`` iterations of a binary dilation by the cross.
    """
    shares = np.asarray(shares)
    if shares.dtype.kind != "f":
        shares = shares.astype(np.float64)
    out = np.zeros((shares.shape[0], shares.shape[3], shares.shape[1], shares.shape[2]), np.bool_)
    _regions(np.ascontiguousarray(shares), shares.dtype.type(threshold), max(int(dilate_px), 0), out)
    return out


@numba.njit(parallel=True, cache=True)
def _regions(shares, threshold, dilate_px, out):
    """``eye_regions`` into out (B, K, H, W), zeros on entry. One (frame, eye) per parallel iteration;
    the dilation looks only at the core's bounding box grown by dilate_px (an eye is a few percent
    of the frame), testing the diamond of offsets around each pixel there."""
    n_b, h, w, n_k = shares.shape
    d = dilate_px
    for f in numba.prange(n_b * n_k):
        b = f // n_k
        k = f - b * n_k
        y0, y1, x0, x1 = h, -1, w, -1
        for y in range(h):
            for x in range(w):
                if shares[b, y, x, k] > threshold:
                    out[b, k, y, x] = True
                    y0, y1, x0, x1 = min(y0, y), max(y1, y), min(x0, x), max(x1, x)
        if y1 < 0 or d == 0:
            continue
        core = out[b, k, y0:y1 + 1, x0:x1 + 1].copy()
        for y in range(max(y0 - d, 0), min(y1 + d + 1, h)):
            for x in range(max(x0 - d, 0), min(x1 + d + 1, w)):
                if out[b, k, y, x]:
                    continue
                hit = False
                for dy in range(-d, d + 1):
                    cy = y + dy - y0
                    if cy < 0 or cy > y1 - y0:
                        continue
                    r = d - abs(dy)
                    for dx in range(-r, r + 1):
                        cx = x + dx - x0
                        if 0 <= cx <= x1 - x0 and core[cy, cx]:
                            hit = True
                            break
                    if hit:
                        break
                out[b, k, y, x] = hit


def percentile(values: np.ndarray, q: float) -> float:
    """``np.percentile(values, q)`` (its default "linear" method) of a non-empty 1-D array of finite
    floats, bit for bit: the same virtual index, neighbours and interpolation, without numpy's
    generic machinery (0.11 -> 0.008 ms on 400 values; the gate calls it twice per eye per frame)."""
    n = values.size
    virtual = (n - 1) * (q / 100)
    prev = float(np.floor(virtual))
    if virtual >= n - 1:  # numpy then takes the last value for both neighbours
        prev, i, j = -1.0, n - 1, n - 1
    else:
        i, j = int(prev), int(prev) + 1
    part = np.partition(values, (i, j) if i != j else i)
    a, b = float(part[i]), float(part[j])
    gamma = virtual - prev
    diff = b - a
    return b - diff * (1 - gamma) if gamma >= 0.5 else a + diff * gamma


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
        "leak_p99": percentile(leak, 99) if leak.size else 0.0,
        "leak_max": float(leak.max()) if leak.size else 0.0,
        "leak_area": float((leak > visible).mean()) if leak.size else 0.0,
        "open_e_mean": float(E[opened].mean()) if opened.any() else 0.0,
    }
    if cov is not None:
        out["coverage_min"] = float(cov.min()) if cov.size else 1.0
        out["coverage_p1"] = percentile(cov, 1) if cov.size else 1.0
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
