"""Least-squares sphere fit (eyeballs: the vertex mean is biased towards the densely meshed cornea)."""

from __future__ import annotations

import numpy as np


def fit_sphere(points: np.ndarray) -> tuple[np.ndarray, float]:
    """points (N, 3), N >= 4 -> (centre (3,), radius): the algebraic least-squares fit |p|^2 = 2 p.c + k,
    the radius the median distance to that centre (coplanar points: the mean as centre)."""
    p = np.asarray(points, np.float64)
    a = np.concatenate([2 * p, np.ones((len(p), 1))], axis=1)
    sol, _, rank, _ = np.linalg.lstsq(a, (p ** 2).sum(axis=1), rcond=None)
    centre = sol[:3] if rank == 4 and np.isfinite(sol).all() else p.mean(axis=0)
    return centre, float(np.median(np.linalg.norm(p - centre, axis=1)))
