"""Gaze as morph targets: the eyeball rotations LAM's template bakes into ``eyeLook*`` (its OAC export).

Our FLAME path turns the eyes with the eye joints and its ``eyeLook*`` rows move only the lids; LAM's
template moves the eyeball vertices in ``eyeLook*`` and nothing else. A writer of LAM's format bakes a
fixed rotation per channel (``LOOK_DEG``) about each eyeball's centre, on the subdivided vertices.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

from avatarcheck.arkit import ARKIT_NAMES
from avatarcheck.head.model import HeadModel

# Full-weight gaze angles (degrees): ARKit's eyeLook channels reach about this far on a real face.
LOOK_DEG = {"Up": 25.0, "Down": 25.0, "In": 30.0, "Out": 30.0}


def look_rotvec(direction: str, side: str) -> np.ndarray:
    """(3,) axis-angle of ``eyeLook<direction><Side>`` at weight 1. Head frame: y up, face +z, left +x.

    Looking down turns +z towards -y (a positive rotation about +x); looking towards -x is a negative
    rotation about +y, and "in" is towards the nose: -x for the left eye, +x for the right."""
    a = np.radians(LOOK_DEG[direction])
    if direction in ("Up", "Down"):
        return np.array([a if direction == "Down" else -a, 0.0, 0.0])
    towards_minus_x = (direction == "In") == (side == "left")
    return np.array([0.0, -a if towards_minus_x else a, 0.0])


def gaze_in_targets(head_sub: HeadModel) -> bool:
    """Whether the ``eyeLook*`` rows already move the eyeball vertices (an OAC-read head)."""
    ids = np.concatenate([head_sub.vertex_sets["eyeball_left"], head_sub.vertex_sets["eyeball_right"]])
    rows = [i for i, n in enumerate(ARKIT_NAMES) if n.startswith("eyeLook")]
    return bool(np.abs(head_sub.arkit_basis[rows][:, ids]).max() > 1e-7)


def gaze_basis(head_sub: HeadModel) -> np.ndarray:
    """(52, V_sub, 3): ``head_sub``'s basis with each ``eyeLook*`` row replaced by the eyeball rotation alone
    (unchanged when the rows already move the eyeballs)."""
    basis = np.array(head_sub.arkit_basis, np.float32)
    if gaze_in_targets(head_sub):
        return basis
    v = np.asarray(head_sub.v_template, np.float64)
    for k, name in enumerate(ARKIT_NAMES):
        if not name.startswith("eyeLook"):
            continue
        side = "left" if name.endswith("Left") else "right"
        direction = name[len("eyeLook"):-len(side)]
        ids = head_sub.vertex_sets[f"eyeball_{side}"]
        centre = v[ids].mean(axis=0)
        turned = Rotation.from_rotvec(look_rotvec(direction, side)).apply(v[ids] - centre) + centre
        basis[k] = 0.0
        basis[k, ids] = (turned - v[ids]).astype(np.float32)
    return basis
