"""Small smooth scalar fields over vertex positions, shared by the rig and the blendshapes."""

from __future__ import annotations

import numpy as np

from avatarcheck.head.synthetic.params import SyntheticHeadParams


def smoothstep(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    t = np.clip((np.asarray(x, float) - lo) / (hi - lo), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def gaussian(v: np.ndarray, centre, radii) -> np.ndarray:
    """Anisotropic Gaussian weight exp(-|(v - centre) / radii|^2 / 2) for points v (N, 3) -> (N,)."""
    q = (v - np.asarray(centre, float)) / np.asarray(radii, float)
    return np.exp(-0.5 * np.einsum("ij,ij->i", q, q))


def jaw_weight(v: np.ndarray, p: SyntheticHeadParams) -> np.ndarray:
    """Lower face below the mouth line, in front of the jaw hinge, above the neck -> [0, 1]."""
    below_mouth = smoothstep(p.mouth_y + 0.003 - v[:, 1], 0.0, 0.010)
    in_front = smoothstep(v[:, 2], -0.035, 0.0)
    above_neck = 1.0 - smoothstep(-v[:, 1], 0.100, 0.118)
    return below_mouth * in_front * above_neck


def neck_base_weight(v: np.ndarray) -> np.ndarray:
    """Bottom of the neck, bound to the global joint -> [0, 1]."""
    return smoothstep(-v[:, 1], 0.13, 0.175)
