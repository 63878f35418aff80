"""Oversized anime eyes: each eye region enlarged about its eyeball centre, far more across than up.

A strongly anisotropic edit, the case where the LAM chibi recipe's isotropic scale ratio is not
enough (issue 14). Heads are FLAME-layout, metres, y up, face towards +z, x across.

Field
-----
Per eye e with centre ``c_e`` (mean of the ``eyeball_<side>`` vertex set) and eyeball radius ``r_e``
(mean distance of those vertices from ``c_e``), with ``d = p - c_e``, ``rho = |d|``::

    D(p) = p + sum_e w_e(rho) (K - I) d
    K    = diag(k_x, k_y, k_z),   k_i = 1 + s (peak_i - 1)     (peak_x = horizontal, ...)
    w(rho) = 1                            rho <= a = inner r_e      (the plateau: exactly affine)
           = 1 - 3 u^2 + 2 u^3            u = (rho - a) / (b - a)   (smoothstep falloff, C1 at a and b)
           = 0                            rho >= b = outer r_e      (identity)

Inside the plateau (eyeball and lids) the map is ``c + K d``: the Jacobian correction is exact there.

Jacobian (``d out_i / d in_j``)::

    J = I + sum_e [ w (K - I) + w'(rho) (K - I) d d^T / rho ]

Invertibility: for one eye, ``det J = det(A) (1 + sum_i (d_i / rho)^2 (k_i - 1) rho w' / (1 + (k_i - 1) w))``
with ``A = I + w (K - I)``, a convex combination of the per-axis terms, so ``det J > 0`` iff
``1 + (k - 1)(w + rho w') > 0`` for every axis scale ``k`` (the radial profile ``rho (1 + (k - 1) w)`` is
increasing). ``validate`` checks that margin for one eye. Where the two eyes' falloffs overlap over the
nose bridge both squeeze it horizontally, so binding to a head also checks ``det J`` on a grid over
both eyes' falloff boxes (``min_det_near_eyes``): an outer radius ending near the bridge folds there.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from avatarcheck.edit.interface import EditKind
from avatarcheck.errors import InputError

EYE_SETS = ("eyeball_left", "eyeball_right")
# det J along the worst axis must stay above this (a fold would turn splats inside out).
MIN_RADIAL_SLOPE = 0.2
# det J anywhere near the eyes (two overlapping falloffs both squeeze the nose bridge).
MIN_DET = 0.05


@dataclasses.dataclass(frozen=True)
class AnimeEyesParams:
    """``horizontal`` / ``vertical`` / ``depth``: the eye region's scale along x / y / z at strength 1;
    ``strength`` s blends them (k = 1 + s (peak - 1)); ``inner`` / ``outer``: plateau and falloff radii
    in eyeball radii."""

    strength: float = 1.0
    horizontal: float = 1.6
    vertical: float = 0.7
    depth: float = 1.0
    inner: float = 1.1
    outer: float = 4.4

    @property
    def scales(self) -> np.ndarray:
        """(3,) k_x, k_y, k_z."""
        peaks = np.array([self.horizontal, self.vertical, self.depth], np.float64)
        return 1.0 + float(self.strength) * (peaks - 1.0)


def _smoothstep_falloff(rho: np.ndarray, a: float, b: float) -> tuple[np.ndarray, np.ndarray]:
    """w(rho) and dw/drho (same shape as rho): 1 inside a, 0 beyond b, C1 smoothstep between."""
    u = np.clip((rho - a) / (b - a), 0.0, 1.0)
    w = 1.0 - u * u * (3.0 - 2.0 * u)
    dw = (6.0 * u * (u - 1.0)) / (b - a)  # 0 at u = 0 and u = 1: C1 at both radii
    return w, dw


def radial_slope_min(params: AnimeEyesParams, samples: int = 2001) -> float:
    """min over rho and axes of d/drho [rho (1 + (k - 1) w(rho))] = 1 + (k - 1)(w + rho w') (one eye)."""
    a, b = float(params.inner), float(params.outer)
    rho = np.linspace(a, b, samples)
    w, dw = _smoothstep_falloff(rho, a, b)
    k = params.scales[:, None]
    return float(np.min(1.0 + (k - 1.0) * (w + rho * dw)[None]))


def validate_params(params: AnimeEyesParams, source: str, where: str = "anime_eyes") -> None:
    for f in dataclasses.fields(params):
        val = getattr(params, f.name)
        if not isinstance(val, (int, float)) or isinstance(val, bool) or not math.isfinite(float(val)):
            raise InputError(source, f"{where}.{f.name}", "a finite number", repr(val))
    if params.strength < 0:
        raise InputError(source, f"{where}.strength", ">= 0", repr(params.strength))
    if (params.scales <= 0).any():
        raise InputError(source, f"{where}.horizontal/vertical/depth", "scales 1 + strength (peak - 1) > 0",
                         str(params.scales.round(4).tolist()))
    if not 0 < params.inner < params.outer:
        raise InputError(source, f"{where}.inner/outer", "0 < inner < outer (eyeball radii)",
                         f"inner {params.inner}, outer {params.outer}")
    slope = radial_slope_min(params)
    if slope < MIN_RADIAL_SLOPE:
        raise InputError(source, f"{where}.outer", f"a falloff wide enough for these scales (radial slope >= "
                         f"{MIN_RADIAL_SLOPE}: the map must not fold)", f"slope {slope:.3f}; widen outer or lower strength")


@dataclasses.dataclass(frozen=True, eq=False)
class AnimeEyesField:
    """The anime-eyes deformation bound to eye centres (E, 3) and eyeball radii (E,)."""

    params: AnimeEyesParams
    centres: np.ndarray
    radii: np.ndarray

    def __post_init__(self) -> None:
        validate_params(self.params, "AnimeEyesField", "params")
        c, r = np.asarray(self.centres, np.float64), np.asarray(self.radii, np.float64)
        if c.ndim != 2 or c.shape[1] != 3 or r.shape != (len(c),) or not np.isfinite(c).all():
            raise InputError("AnimeEyesField", "centres/radii", "finite centres (E, 3) and radii (E,)",
                             f"shapes {c.shape} and {r.shape}")
        if not (np.isfinite(r).all() and (r > 0).all()):
            raise InputError("AnimeEyesField", "radii", "positive eyeball radii", str(r.tolist()))
        object.__setattr__(self, "centres", c)
        object.__setattr__(self, "radii", r)

    def _terms(self, p: np.ndarray):
        """Per eye: d (N, 3), rho (N,), w (N,), dw (N,)."""
        for c, r in zip(self.centres, self.radii):
            d = p - c
            rho = np.linalg.norm(d, axis=1)
            w, dw = _smoothstep_falloff(rho, float(self.params.inner) * r, float(self.params.outer) * r)
            yield d, rho, w, dw

    def __call__(self, points: np.ndarray) -> np.ndarray:
        """Deform points (N, 3) -> (N, 3) float64."""
        p = _points(points, "AnimeEyesField")
        km1 = self.params.scales - 1.0
        out = p.copy()
        for d, _, w, _ in self._terms(p):
            out += w[:, None] * km1 * d
        return out

    def jacobian(self, points: np.ndarray) -> np.ndarray:
        """Analytic Jacobian (N, 3, 3) float64, J[n, i, j] = d out_i / d in_j."""
        p = _points(points, "AnimeEyesField.jacobian")
        km1 = self.params.scales - 1.0
        jac = np.broadcast_to(np.eye(3), (len(p), 3, 3)).copy()
        for d, rho, w, dw in self._terms(p):
            jac += w[:, None, None] * np.diag(km1)[None]
            # dw/dp = w'(rho) d / rho; w' = 0 on the plateau, so rho > 0 wherever it is used
            g = np.where(rho > 0, dw / np.where(rho > 0, rho, 1.0), 0.0)
            jac += g[:, None, None] * (km1 * d)[:, :, None] * d[:, None, :]
        return jac


def _points(points: np.ndarray, source: str) -> np.ndarray:
    p = np.asarray(points, np.float64)
    if p.ndim != 2 or p.shape[1] != 3 or not np.isfinite(p).all():
        raise InputError(source, "points", "finite (N, 3) points", f"shape {p.shape}")
    return p


def eye_centres(vertices: np.ndarray, vertex_sets: Mapping[str, np.ndarray], source: str = "anime_eyes"
                ) -> tuple[np.ndarray, np.ndarray]:
    """Eyeball centres (2, 3) and radii (2,) from the ``eyeball_left`` / ``eyeball_right`` vertex sets."""
    v = np.asarray(vertices, np.float64)
    centres, radii = [], []
    for name in EYE_SETS:
        idx = vertex_sets.get(name)
        if idx is None or len(idx) < 4:
            raise InputError(source, f"vertex_sets[{name!r}]", "an eyeball vertex set (FLAME masks: left_eyeball)",
                             "missing" if idx is None else f"{len(idx)} vertices")
        e = v[np.asarray(idx)]
        c = e.mean(axis=0)
        centres.append(c)
        radii.append(float(np.linalg.norm(e - c, axis=1).mean()))
    return np.array(centres), np.array(radii)


def anime_eyes_field(vertices: np.ndarray, vertex_sets: Mapping[str, np.ndarray],
                     params: AnimeEyesParams | None = None) -> AnimeEyesField:
    params = params or AnimeEyesParams()
    validate_params(params, "anime_eyes_field")
    centres, radii = eye_centres(vertices, vertex_sets)
    return AnimeEyesField(params, centres, radii)


def _from_mapping(params: Mapping[str, Any]) -> AnimeEyesParams:
    return AnimeEyesParams(**{f.name: params[f.name] for f in dataclasses.fields(AnimeEyesParams)})


def _validate(params: Mapping[str, Any], source: str, where: str) -> None:
    validate_params(_from_mapping(params), source, where)


def min_det_near_eyes(field: AnimeEyesField, n: int = 41) -> float:
    """min det J on an n^3 grid over the box holding both eyes' falloff spheres."""
    reach = (float(field.params.outer) * field.radii)[:, None]
    lo, hi = (field.centres - reach).min(axis=0), (field.centres + reach).max(axis=0)
    axes = [np.linspace(lo[i], hi[i], n) for i in range(3)]
    grid = np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, 3)
    return float(np.linalg.det(field.jacobian(grid)).min())


def _make(avatar, params: Mapping[str, Any], source: str) -> AnimeEyesField:
    head = avatar.head
    centres, radii = eye_centres(head.v_template, head.vertex_sets, source)
    field = AnimeEyesField(_from_mapping(params), centres, radii)
    det = min_det_near_eyes(field)
    if det < MIN_DET:
        raise InputError(source, "anime_eyes.outer", f"det J >= {MIN_DET} near the eyes (no fold where the two "
                         "eyes' falloffs overlap)", f"det {det:.3f}; move outer off the nose bridge or lower strength")
    return field


ANIME_EYES = EditKind(
    name="anime_eyes",
    description="oversized anime eyes: each eye region scaled about its eyeball centre, far more across than up",
    params={f.name: (float, f.default) for f in dataclasses.fields(AnimeEyesParams)},
    make=_make,
    validate=_validate,
)
