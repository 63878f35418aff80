"""Identity (shape) blendshapes of the synthetic head: low-frequency fields, 10 components.

Each eye's socket and eyeball move rigidly with the field's value at the eyeball centre, so no
identity shape can push a lid into its eyeball.
"""

from __future__ import annotations

import numpy as np

from avatarcheck.head.synthetic.fields import gaussian, jaw_weight, smoothstep
from avatarcheck.head.synthetic.params import SyntheticHeadParams

SHAPE_NAMES = (
    "scale", "width", "height", "depth", "jaw_width",
    "nose_length", "chin_length", "forehead_slope", "cheek_fullness", "eye_spacing",
)


def _fields(v: np.ndarray, p: SyntheticHeadParams) -> np.ndarray:
    """(10, N, 3) displacement per unit coefficient at points v (N, 3)."""
    n = len(v)
    zero = np.zeros(n)
    x, y, z = v[:, 0], v[:, 1], v[:, 2]
    nose = gaussian(v, (0.0, -0.015, 0.11), (0.012, 0.02, 0.02))
    chin = gaussian(v, (0.0, -0.095, 0.07), (0.025, 0.015, 0.03))
    cheeks = gaussian(v, (0.045, -0.035, 0.06), (0.02, 0.02, 0.025)) + gaussian(
        v, (-0.045, -0.035, 0.06), (0.02, 0.02, 0.025))
    outward = np.stack([x, zero, z], 1) / np.maximum(np.hypot(x, z), 1e-9)[:, None]
    return np.stack([
        0.04 * v,
        np.stack([0.05 * x, zero, zero], 1),
        np.stack([zero, 0.05 * y, zero], 1),
        np.stack([zero, zero, 0.05 * z], 1),
        np.stack([0.08 * x * jaw_weight(v, p), zero, zero], 1),
        np.stack([zero, zero, 0.004 * nose], 1),
        np.stack([zero, -0.004 * chin, zero], 1),
        np.stack([zero, zero, -0.004 * smoothstep(y, 0.03, 0.1)], 1),
        0.004 * cheeks[:, None] * outward,
        np.stack([0.003 * np.tanh(x / 0.02), zero, zero], 1),
    ])


def identity_shapedirs(vertices: np.ndarray, eye_weight: dict[str, np.ndarray],
                       eye_ids: dict[str, np.ndarray], eye_centres: dict[str, np.ndarray],
                       n_skin: int, p: SyntheticHeadParams) -> np.ndarray:
    """shapedirs (V, 3, 10) in FLAME's layout."""
    d = _fields(vertices, p)  # (10, V, 3)
    for side, centre in eye_centres.items():
        at_eye = _fields(centre[None], p)[:, 0]  # (10, 3)
        w = np.zeros(len(vertices))
        w[:n_skin] = eye_weight[side]
        w[eye_ids[side]] = 1.0
        d = d * (1.0 - w)[None, :, None] + w[None, :, None] * at_eye[:, None, :]
    return np.transpose(d, (1, 2, 0)).astype(np.float32)
