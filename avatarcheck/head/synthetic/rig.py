"""Joints, joint regressor and skinning weights of the synthetic head (FLAME's 5-joint tree)."""

from __future__ import annotations

import numpy as np
from scipy.optimize import nnls

from avatarcheck.head.synthetic.fields import jaw_weight, neck_base_weight
from avatarcheck.head.synthetic.params import SyntheticHeadParams


def regress_to_point(points: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Non-negative weights (K,) summing to 1 with ``weights @ points == target`` (points (K, 3)).

    FLAME's J_regressor is such a convex combination of vertices; solving for it makes the
    regressed joint land exactly where the synthetic rig puts it.
    """
    lam = 10.0  # weight of the sum-to-one row
    A = np.vstack([points.T, lam * np.ones(len(points))])
    b = np.concatenate([target, [lam]])
    w, residual = nnls(A, b)
    if residual > 1e-6:
        raise RuntimeError(f"joint {target} is not inside its vertex set (residual {residual:.2e})")
    return w / w.sum()


def joint_positions(p: SyntheticHeadParams, eye_centres: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """(5, 3): global (neck base), neck, jaw hinge, eye left, eye right."""
    return np.array([
        [0.0, -0.165, -0.008],
        [0.0, -0.100, -0.010],
        [0.0, -0.022, -0.014],
        eye_centres[0],
        eye_centres[1],
    ])


def build_rig(
    vertices: np.ndarray, n_skin: int, eyeball_ids: tuple[np.ndarray, np.ndarray],
    joints: np.ndarray, p: SyntheticHeadParams,
) -> tuple[np.ndarray, np.ndarray]:
    """J_regressor (5, V) and lbs_weights (V, 5)."""
    V = len(vertices)
    J_reg = np.zeros((5, V))
    skin_y = vertices[:n_skin, 1]
    for j in range(3):
        # The skin ring around the joint's height: its convex hull contains the joint.
        slab = np.argsort(np.abs(skin_y - joints[j, 1]), kind="stable")[:120]
        J_reg[j, slab] = regress_to_point(vertices[slab], joints[j])
    for j, ids in zip((3, 4), eyeball_ids):
        J_reg[j, ids] = regress_to_point(vertices[ids], joints[j])

    W = np.zeros((V, 5))
    skin = vertices[:n_skin]
    w_global = neck_base_weight(skin)
    w_jaw = jaw_weight(skin, p) * (1.0 - w_global)
    W[:n_skin, 0] = w_global
    W[:n_skin, 2] = w_jaw
    W[:n_skin, 1] = 1.0 - w_global - w_jaw
    W[eyeball_ids[0], 3] = 1.0
    W[eyeball_ids[1], 4] = 1.0
    return J_reg, W
