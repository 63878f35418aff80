"""Colour maps for images of measurements: the leak heatmap and the ratio-coloured head.

Shared by the gate's artefact writer and the HTML report (numpy only).
"""

from __future__ import annotations

import math

import numpy as np

# matplotlib's "inferno" sampled at t = 0, 0.1, ..., 1. Perceptually uniform and dark at zero, so
# a lid with no leak reads black and any eyeball showing through stands out, also in greyscale.
_INFERNO = np.array([
    [0.001462, 0.000466, 0.013866],
    [0.087411, 0.044556, 0.224813],
    [0.258234, 0.038571, 0.406485],
    [0.416331, 0.090203, 0.432943],
    [0.578304, 0.148039, 0.404411],
    [0.735683, 0.215906, 0.330245],
    [0.865006, 0.316822, 0.226055],
    [0.954506, 0.468744, 0.099874],
    [0.987622, 0.645320, 0.039886],
    [0.964394, 0.843848, 0.273391],
    [0.988362, 0.998364, 0.644924],
], np.float32)

# Diverging blue - white - red (ColorBrewer RdBu ends, pure white centre) at t = -1, -0.5, 0, 0.5, 1.
_DIVERGING = np.array([
    [0.129, 0.400, 0.675],
    [0.573, 0.773, 0.871],
    [1.000, 1.000, 1.000],
    [0.957, 0.647, 0.510],
    [0.698, 0.094, 0.169],
], np.float32)

# Outside the lid region a pixel keeps 35 % of its colour over a dark grey: the region reads as
# an island even where E = 0 (black inside, grey outside), and leak outside it stays visible.
_DIM_KEEP, _DIM_GREY = 0.35, 0.22

def colormap(t: np.ndarray, table: np.ndarray) -> np.ndarray:
    """t (...) in [0, 1] (clipped, NaN -> 0) -> (..., 3) float32, linear between evenly spaced anchors."""
    n = len(table)
    x = np.clip(np.nan_to_num(np.asarray(t, np.float32), nan=0.0), 0.0, 1.0) * (n - 1)
    i = np.minimum(np.floor(x).astype(np.int64), n - 2)
    f = (x - i)[..., None]
    return (table[i] * (1.0 - f) + table[i + 1] * f).astype(np.float32)


def heatmap_image(E: np.ndarray, region: np.ndarray | None = None, *, vmax: float = 1.0) -> np.ndarray:
    """Colour-mapped eyeball coverage for the report.

    E (H, W) float, the eyeball ("E") channel in [0, 1] (values outside are clipped, NaN -> 0).
    region (H, W) bool or None: the lid-covered region the leak is measured over; pixels outside
    it are dimmed toward grey. vmax: E value mapped to the top of the colour map (a shared scale
    keeps cells comparable). Returns (H, W, 3) float32 in [0, 1] (``write_png`` takes it as is).
    """
    e = np.asarray(E, np.float32)
    if e.ndim != 2:
        raise ValueError(f"heatmap_image: E must be (H, W), got shape {e.shape}")
    if not vmax > 0:
        raise ValueError(f"heatmap_image: vmax must be > 0, got {vmax}")
    rgb = colormap(e / vmax, _INFERNO)
    if region is not None:
        r = np.asarray(region, bool)
        if r.shape != e.shape:
            raise ValueError(f"heatmap_image: region shape {r.shape} != E shape {e.shape}")
        rgb = np.where(r[..., None], rgb, _DIM_KEEP * rgb + (1.0 - _DIM_KEEP) * _DIM_GREY)
    return np.clip(rgb, 0.0, 1.0).astype(np.float32)


def ratio_colors(ratio: np.ndarray, *, span: float = 2.0) -> np.ndarray:
    """ratio (V,) positive scale ratios -> (V, 3) float32 RGB in [0, 1].

    White at 1, blue below (shrunk), red above (stretched), symmetric in log space: ``r`` and
    ``1/r`` get mirror colours, and ``span`` (and ``1/span``) saturate. Non-finite or
    non-positive ratios are grey (no meaningful colour).
    """
    if not span > 1:
        raise ValueError(f"ratio_colors: span must be > 1, got {span}")
    r = np.asarray(ratio, np.float64)
    valid = np.isfinite(r) & (r > 0)
    t = np.log(np.where(valid, r, 1.0)) / math.log(span)       # -1 .. 1 in the saturated range
    rgb = colormap(0.5 + 0.5 * np.clip(t, -1.0, 1.0), _DIVERGING)
    return np.where(valid[..., None], rgb, np.float32(0.5)).astype(np.float32)
