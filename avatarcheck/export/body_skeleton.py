"""A body skeleton under the head, shaped like the one LAM's ``skin.glb`` carries, and skin weights on it.

LAM's export (Blender, from its template FBX) skins the head to a 262-joint body skeleton under a cm
armature (scale 0.01, rotated 90 degrees about x): the vertices use six joints (head, neckUpper,
neckLower, chestUpper and both collars), up to four per vertex, and skinning at rest is the identity.
Our writer cannot ship LAM's template, so it builds the spine-to-head chain plus the collars in the same
layout (joint names, armature transform, inverse bind matrices, uint8 joints, several influences per
vertex): readers and the edited-avatar writer then meet the shapes real exports have.
"""

from __future__ import annotations

import numpy as np

from avatarcheck.io.glb import Skeleton

# (name, parent, (x, y, z) offset in metres from the head's lowest vertex at the head's centre in x, z)
_JOINTS = (
    ("hip", -1, (0.0, -0.60, 0.0)),
    ("abdomenLower", 0, (0.0, -0.50, 0.0)),
    ("abdomenUpper", 1, (0.0, -0.40, 0.0)),
    ("chestLower", 2, (0.0, -0.30, 0.0)),
    ("chestUpper", 3, (0.0, -0.16, -0.02)),
    ("neckLower", 4, (0.0, -0.03, -0.01)),
    ("neckUpper", 5, (0.0, 0.03, 0.0)),
    ("head", 6, (0.0, 0.08, 0.0)),
    ("lCollar", 4, (0.035, -0.08, 0.0)),
    ("rCollar", 4, (-0.035, -0.08, 0.0)),
)
CHAIN = ("chestUpper", "neckLower", "neckUpper", "head")  # the joints the weights blend along, bottom up
LAM_ARMATURE_ROTATION = (np.sqrt(0.5), 0.0, 0.0, np.sqrt(0.5))  # xyzw: 90 degrees about x, as LAM's
LAM_ARMATURE_SCALE = 0.01  # Blender's cm armature


def body_skeleton(vertices: np.ndarray) -> Skeleton:
    """The skeleton for a head mesh (V, 3) in the body frame (metres, y up)."""
    v = np.asarray(vertices, np.float64)
    base = np.array([0.5 * (v[:, 0].min() + v[:, 0].max()), v[:, 1].min(), 0.5 * (v[:, 2].min() + v[:, 2].max())])
    names = tuple(n for n, _, _ in _JOINTS)
    return Skeleton(names, tuple(p for _, p, _ in _JOINTS), base + np.array([o for _, _, o in _JOINTS]),
                    LAM_ARMATURE_ROTATION, LAM_ARMATURE_SCALE)


def chain_weights(vertices: np.ndarray, skeleton: Skeleton) -> tuple[np.ndarray, np.ndarray]:
    """(joints (V, 4) int64, weights (V, 4) float32): each vertex between the two ``CHAIN`` joints around its
    height, linearly by height (all on ``head`` above it); a slot with weight 0 names joint 0, as Blender
    writes it (the glTF validator warns about a used joint with weight 0)."""
    v = np.asarray(vertices, np.float64)
    ids = [skeleton.names.index(n) for n in CHAIN]
    heights = np.asarray(skeleton.positions)[ids, 1]
    k = np.clip(np.searchsorted(heights, v[:, 1]) - 1, 0, len(ids) - 2)
    t = np.clip((v[:, 1] - heights[k]) / (heights[k + 1] - heights[k]), 0.0, 1.0)
    chain = np.asarray(ids)
    joints = np.zeros((len(v), 4), np.int64)
    weights = np.zeros((len(v), 4), np.float32)
    joints[:, 0], joints[:, 1] = chain[k + 1], chain[k]
    weights[:, 0] = t
    weights[:, 1] = 1.0 - weights[:, 0]
    joints[weights == 0] = 0
    return joints, weights
