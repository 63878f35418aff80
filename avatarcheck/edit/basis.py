"""The ARKit basis re-evaluated through any deformation (the LAM chibi recipe's asset #2).

    reevaluate_basis(D, v, B)[k] = D(v + B[k]) - D(v)      (exact: what the edited head does)
    linearised_basis(D, v, B)[k] = J(v) B[k]                (first order: the local Jacobian only)

computed in float64, returned float32. ``D`` is any ``edit.interface.Deformation`` (the chibi field,
the anime eyes, a sculpt's ``MeshDeformation``); this module imports no edit kind, so ``edit.base``
and every kind can use it without an import cycle.
"""

from __future__ import annotations

import numpy as np

from avatarcheck.edit.interface import Deformation
from avatarcheck.errors import InputError


def check_points(points: np.ndarray, source: str, field: str) -> np.ndarray:
    """``points`` as finite (N, 3) float64, or an ``InputError`` naming ``source`` and ``field``."""
    try:
        p = np.asarray(points, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError(source, field, "a numeric (N, 3) array", type(points).__name__) from exc
    if p.ndim != 2 or p.shape[1] != 3:
        raise InputError(source, field, "shape (N, 3)", str(tuple(p.shape)))
    if not np.all(np.isfinite(p)):
        bad = int(np.count_nonzero(~np.isfinite(p).all(axis=1)))
        raise InputError(source, field, "finite values", f"{bad} rows with NaN/inf")
    return p


def _check_basis(vertices: np.ndarray, basis: np.ndarray, source: str) -> tuple[np.ndarray, np.ndarray]:
    """vertices (V, 3), basis (K, V, 3) -> both finite float64."""
    v = check_points(vertices, source, "vertices")
    try:
        b = np.asarray(basis, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError(source, "basis", "a numeric (K, V, 3) array", type(basis).__name__) from exc
    if b.ndim != 3 or b.shape[1:] != v.shape:
        raise InputError(source, "basis", f"shape (K, {v.shape[0]}, 3)", str(tuple(b.shape)))
    if not np.all(np.isfinite(b)):
        raise InputError(source, "basis", "finite values", "NaN/inf entries")
    return v, b


def reevaluate_basis(field: Deformation, vertices: np.ndarray, basis: np.ndarray) -> np.ndarray:
    """Basis re-evaluated on the deformed mesh: (K, V, 3) float32, [k] = D(v + b_k) - D(v)."""
    v, b = _check_basis(vertices, basis, "reevaluate_basis")
    k = b.shape[0]
    if k == 0:
        return np.zeros(b.shape, dtype=np.float32)
    dv = field(v)
    moved = field((v[None] + b).reshape(-1, 3)).reshape(b.shape)
    return (moved - dv[None]).astype(np.float32)


def linearised_basis(field: Deformation, vertices: np.ndarray, basis: np.ndarray) -> np.ndarray:
    """First-order re-evaluation: (K, V, 3) float32, [k] = J(v) b_k."""
    v, b = _check_basis(vertices, basis, "linearised_basis")
    jac = field.jacobian(v)
    return np.einsum("vij,kvj->kvi", jac, b).astype(np.float32)
