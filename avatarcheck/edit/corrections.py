"""Pull-backs for the splat channels coupled to an xyz override (the LAM chibi recipe's fix and its variants).

All corrections **multiply the linear sigma** that ``SplatCloud.scales`` stores (LAM's
``_gm.scaling`` is already exponentiated; adding ``log(boost)`` to it is the LAM chibi recipe's
screen-spanning-oval mistake).

* ``scale_ratio``: per subdivided vertex, mean incident edge length on the edited mesh over the
  same on the canonical mesh (isotropic, the LAM chibi recipe's v2 fix).
* ``LAM_CHIBI_SCALE_BOOST``: one constant multiplier (the diagnostic).
* ``anisotropic_correction``: covariance ``J R S S R^T J^T`` re-decomposed into a rotation and
  three scales (exact for affine deformations).
* ``lash_ring``: the blink mask's vertices on the mesh boundary (the lid margin), for a targeted boost.
"""

from __future__ import annotations

import numpy as np
import torch

from avatarcheck.errors import InputError
from avatarcheck.geometry.mesh import mean_incident_edge_length
from avatarcheck.geometry.rotations import matrix_to_quat, quat_to_matrix
from avatarcheck.head.subdivide import unique_edges


def scale_ratio(canonical: np.ndarray, edited: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """(N,) float32 = mean incident edge length on ``edited`` / on ``canonical``.

    canonical, edited (N, 3) vertices of the same (subdivided) topology; edges (E, 2).
    A zero-length canonical edge neighbourhood has no density to compare: an error.
    """
    c, e = np.asarray(canonical, np.float64), np.asarray(edited, np.float64)
    if c.shape != e.shape or c.ndim != 2 or c.shape[1] != 3:
        raise InputError("scale_ratio", "edited", f"vertices of shape {c.shape} like the canonical mesh", str(e.shape))
    for name, v in (("canonical", c), ("edited", e)):
        if not np.isfinite(v).all():
            raise InputError("scale_ratio", name, "finite vertices", "NaN or inf")
    before = mean_incident_edge_length(c, edges, "scale_ratio(canonical)")
    after = mean_incident_edge_length(e, edges, "scale_ratio(edited)")
    if (before <= 0).any() or (after <= 0).any():
        bad = int(np.argmin(np.minimum(before, after)))
        raise InputError("scale_ratio", "edges", "non-degenerate edges around every vertex",
                         f"zero mean edge length at vertex {bad}")
    return (after / before).astype(np.float32)


def check_positive_factors(factors: np.ndarray, n: int, source: str, field: str) -> np.ndarray:
    """(n,) finite positive float32 multipliers, or an InputError naming ``source`` and ``field``."""
    f = np.asarray(factors, np.float32)
    if f.shape != (n,):
        raise InputError(source, field, f"shape ({n},): one factor per subdivided vertex", f"shape {f.shape}")
    if not np.isfinite(f).all() or (f <= 0).any():
        raise InputError(source, field, "finite positive factors", f"range [{np.nanmin(f):.3g}, {np.nanmax(f):.3g}]"
                         if np.isfinite(f).any() else "no finite values")
    return f


def scale_by(scales: np.ndarray, factors: np.ndarray | float) -> np.ndarray:
    """Linear sigmas (N, 3) times per-splat (N,) or one constant factor: multiply, never add logs."""
    f = np.asarray(factors, np.float32)
    return (scales * (f[:, None] if f.ndim == 1 else f)).astype(np.float32)


def anisotropic_correction(quats: np.ndarray, scales: np.ndarray, jacobians: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """New (quats (N, 4), scales (N, 3)) with covariance J Sigma J^T.

    quats (N, 4) wxyz, scales (N, 3) linear sigmas, jacobians (N, 3, 3) of the deformation at
    each anchor. The symmetric eigendecomposition gives the principal axes (a right-handed frame
    -> quaternion) and sigmas = sqrt(eigenvalues).
    """
    J = np.asarray(jacobians, np.float64)
    n = len(scales)
    if J.shape != (n, 3, 3) or not np.isfinite(J).all():
        raise InputError("anisotropic_correction", "jacobians", f"finite shape ({n}, 3, 3)", str(J.shape))
    if (np.abs(np.linalg.det(J)) < 1e-12).any():
        raise InputError("anisotropic_correction", "jacobians", "invertible 3x3 Jacobians",
                         f"{int((np.abs(np.linalg.det(J)) < 1e-12).sum())} singular")
    R = quat_to_matrix(torch.from_numpy(np.asarray(quats, np.float64))).numpy()
    M = J @ (R * np.asarray(scales, np.float64)[:, None, :])
    cov = M @ M.transpose(0, 2, 1)
    evals, evecs = np.linalg.eigh(cov)
    flip = np.linalg.det(evecs) < 0  # keep a proper rotation
    evecs[flip, :, 2] *= -1
    new_q = matrix_to_quat(torch.from_numpy(evecs)).numpy().astype(np.float32)
    return new_q, np.sqrt(np.maximum(evals, 0.0)).astype(np.float32)


def lash_ring(faces: np.ndarray, blink_displacement: np.ndarray, eps: float = 1e-7) -> np.ndarray:
    """The mesh-topology-boundary vertices of the blink-displacement mask: the lash line.

    faces (F, 3); blink_displacement (V, 3) (an eyeBlink row of the basis, or both summed).
    A vertex is on the ring when the blink moves it and it lies on a boundary edge of the mesh
    (an edge with one face: the eye opening's margin). Sorted indices (K,); on FLAME about 220.
    """
    moved = np.linalg.norm(np.asarray(blink_displacement, np.float64), axis=1) > eps
    edges, face_edges = unique_edges(faces, len(moved))
    rim = np.unique(edges[np.bincount(face_edges.ravel(), minlength=len(edges)) == 1])
    return rim[moved[rim]]
