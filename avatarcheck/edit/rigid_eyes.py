"""Rigid eyeballs: each edited eyeball replaced by a similarity image of the rest eyeball (issue 14).

An edit deforms the eyeball with everything else, so a chibi or anime-eyes eyeball becomes an
ellipsoid. LAM's ARKit path leaves the eye joints at rest, but a gaze rotation (``eyes`` pose) turns
that ellipsoid about its centre, and its long axis sweeps through the lids (pear post-fix, the
half-blink-down moment with the take's 21-degree downward gaze: leak max 0.999). An eye is a ball that turns
in its socket; the correction keeps it one, for any edit kind (chibi, anime eyes, a sculpt).

Per eye, with ``X`` the rest eyeball's vertices and ``Y`` the edited ones::

    Y ~ X A^T + b                least-squares affine fit (the edit's linear part over the eyeball)
    A = U diag(sigma) V^T        sigma_max / sigma_min: the edited eyeball's anisotropy (1 = a sphere)
    R = U V^T                    (det fixed to +1) the rotation nearest to A (polar decomposition)
    s = sigma_min                the uniform scale (below)
    c' = A c + b                 c = the rest eye joint (what the eye turns about): the edited centre
    x -> c' + s R (x - c)        the corrected eyeball (every subdivided eyeball anchor)

Why ``s = sigma_min``: the lids slide on a lid surface concentric with the eyeball (radius r + gap), and
the edit maps it to roughly an ellipsoid with semi-axes ``sigma_i (r + gap)`` about ``c'``. The largest
sphere that keeps the rest gap ratio in every direction is ``sigma_min r``; any larger one pokes through
the lid or the skin around it along the squashed axis once it turns (anime eyes squash 0.7x up: the
least-squares scale, the mean of sigma, would be 1.1 r inside a 0.79 r socket). The cost is a smaller
iris where the edit stretched the eye (measured in the README: eye-wide visibility stays above the gate's
threshold).

Everything coupled to the eyeball's anchors follows the same map: the re-evaluated basis on the coarse
eyeball vertices is ``s R b`` (the similarity's linear part), the Jacobian is ``s R`` and the scale ratio
(mean incident edge length) is exactly ``s``: uniform on the eyeball. The eye joint needs no asset of its
own: LAM regresses it from the coarse mesh, and when the regressor row is an affine combination of the
eyeball's vertices (FLAME's and the synthetic head's are) the similarity carries it to ``c'`` exactly.
``joint_offset_m`` measures that, so a head whose regressor reaches off the eyeball is reported.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import numpy as np

from avatarcheck.edit.corrections import scale_ratio
from avatarcheck.errors import InputError
from avatarcheck.head.model import JOINT_NAMES

if TYPE_CHECKING:
    from avatarcheck.avatar import Avatar
    from avatarcheck.edit.interface import EditAssets
    from avatarcheck.head.model import HeadModel

EYES = ("left", "right")
# An eyeball whose anisotropy exceeds this is not rigid (a rest sphere fit to itself gives 1 + 1e-7).
RIGID_TOL = 1.01


@dataclasses.dataclass(frozen=True)
class EyeballFit:
    """One eye's correction and what it measured: ``anisotropy_before`` of the raw edit, ``scale`` s,
    ``rotation`` R (3, 3), ``centre_rest`` c and ``centre_edited`` c' (3,), ``joint_offset_m``: the distance
    of the eye joint regressed from the corrected mesh to c' (0 when the regressor lives on the eyeball)."""

    side: str
    anisotropy_before: float
    scale: float
    rotation: np.ndarray
    centre_rest: np.ndarray
    centre_edited: np.ndarray
    joint_offset_m: float

    def apply(self, points: np.ndarray) -> np.ndarray:
        """Rest points (N, 3) -> their similarity image (N, 3) float64."""
        d = np.asarray(points, np.float64) - self.centre_rest
        return self.centre_edited + self.scale * d @ self.rotation.T

    def summary(self) -> dict[str, float]:
        return {"anisotropy_before": round(self.anisotropy_before, 6), "anisotropy_after": 1.0,
                "scale": round(self.scale, 6), "joint_offset_mm": round(1e3 * self.joint_offset_m, 6)}


def affine_fit(rest: np.ndarray, edited: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares ``edited ~ rest A^T + b``: A (3, 3), b (3,). rest, edited (N, 3), N >= 4 not coplanar."""
    x, y = np.asarray(rest, np.float64), np.asarray(edited, np.float64)
    mx, my = x.mean(axis=0), y.mean(axis=0)
    dx = x - mx
    if x.shape != y.shape or x.ndim != 2 or x.shape[1] != 3 or np.linalg.matrix_rank(dx) < 3:
        raise InputError("affine_fit", "rest", "(N, 3) points spanning 3-D, edited of the same shape",
                         f"shapes {x.shape}, {y.shape}")
    At, *_ = np.linalg.lstsq(dx, y - my, rcond=None)
    A = At.T
    return A, my - A @ mx


def anisotropy(rest: np.ndarray, edited: np.ndarray) -> float:
    """sigma_max / sigma_min of the affine fit of ``edited`` (N, 3) to ``rest`` (N, 3): 1 for a similarity.

    The ratio of the edited eyeball's largest to smallest principal axis, measured against the rest
    eyeball rather than from the edited vertices alone, so uneven vertex sampling (a UV sphere's rings
    crowd its pole) does not read as shape."""
    sigma = np.linalg.svd(affine_fit(rest, edited)[0], compute_uv=False)
    return float(sigma[0] / sigma[-1])


def eye_joint(head: "HeadModel", side: str) -> int:
    return JOINT_NAMES.index(f"eye_{side}")


def eyeball_ids(head: "HeadModel", side: str, source: str = "rigid_eyes") -> np.ndarray:
    name = f"eyeball_{side}"
    if name not in head.vertex_sets or len(head.vertex_sets[name]) < 4:
        raise InputError(source, f"vertex_sets[{name!r}]", "an eyeball vertex set (FLAME masks: "
                         f"{side}_eyeball) to keep the eyeball rigid", "none" if name not in head.vertex_sets
                         else f"{len(head.vertex_sets[name])} vertices")
    return head.vertex_sets[name]


def fit_eyeball(rest: np.ndarray, edited: np.ndarray, centre: np.ndarray, side: str) -> EyeballFit:
    """The similarity (module docstring) for one eyeball: rest, edited (N, 3); centre (3,) the rest eye joint."""
    A, b = affine_fit(rest, edited)
    U, sigma, Vt = np.linalg.svd(A)
    if np.linalg.det(U @ Vt) < 0:  # a reflecting edit: keep a proper rotation (flip the weakest axis)
        U[:, -1] *= -1
    if not sigma[-1] > 1e-6:
        raise InputError("rigid_eyes", f"eyeball_{side}", "an edit that keeps the eyeball 3-D",
                         f"an eyeball flattened to scale {sigma[-1]:.3g}")
    c = np.asarray(centre, np.float64)
    return EyeballFit(side, float(sigma[0] / sigma[-1]), float(sigma[-1]), U @ Vt, c, A @ c + b, 0.0)


def rigid_eyeballs(avatar: "Avatar", assets: "EditAssets") -> "EditAssets":
    """``assets`` with both eyeballs made similarity images of the rest ones (module docstring).

    Replaces, per eye, the subdivided anchors (V_sub, 3), the coarse basis rows (52, V, 3), the
    Jacobians (V_sub, 3, 3) and the ratio (V_sub,) on the eyeball; everything else is untouched.
    """
    head, sub = avatar.head, avatar.head_sub
    canon_sub = np.asarray(sub.v_template, np.float64)
    edited = np.asarray(assets.edited_sub, np.float64).copy()
    basis = np.asarray(assets.basis, np.float64).copy()
    jac = np.asarray(assets.jacobians, np.float32).copy()
    fits = []
    for side in EYES:
        ids, ids_sub = eyeball_ids(head, side), eyeball_ids(sub, side)
        j = eye_joint(head, side)
        centre = head.J_regressor[j].astype(np.float64) @ np.asarray(head.v_template, np.float64)
        fit = fit_eyeball(canon_sub[ids_sub], edited[ids_sub], centre, side)
        edited[ids_sub] = fit.apply(canon_sub[ids_sub])
        rows = ids_sub if basis.shape[1] == sub.num_vertices else ids  # a basis on the subdivided mesh
        basis[:, rows] = fit.scale * basis[:, rows] @ fit.rotation.T
        jac[ids_sub] = fit.scale * fit.rotation
        fits.append(fit)
    n = head.num_vertices
    joints = head.J_regressor.astype(np.float64) @ edited[:n]  # the first V subdivided vertices are the coarse ones
    fits = [dataclasses.replace(f, joint_offset_m=float(np.linalg.norm(joints[eye_joint(head, f.side)]
                                                                       - f.centre_edited))) for f in fits]
    ratio = scale_ratio(canon_sub, edited, avatar.topology.edges_sub)
    return dataclasses.replace(assets, edited_sub=edited.astype(np.float32), basis=basis.astype(np.float32),
                               jacobians=jac, ratio=ratio, eyeballs=tuple(fits))


def eyeball_anisotropy(rest: "HeadModel", edited: "HeadModel") -> dict[str, float]:
    """Per eye, the anisotropy of ``edited``'s eyeball against ``rest``'s (two heads of one topology);
    empty when the head has no eyeball vertex sets (nothing to audit)."""
    if not all(f"eyeball_{side}" in rest.vertex_sets for side in EYES):
        return {}
    rv, ev = np.asarray(rest.v_template, np.float64), np.asarray(edited.v_template, np.float64)
    return {side: anisotropy(rv[ids], ev[ids]) for side in EYES for ids in [eyeball_ids(rest, side, "audit")]}
