"""The chibi field: a smooth, separable head deformation (vertical stretch x radial swell).

Heads are FLAME-layout, metres, y up, face towards +z.

Profiles
--------
Two bump functions ``b_R(t)`` (radial) and ``b_Y(t)`` (vertical) on ``t in [0, 1]`` are
C1 piecewise-cubic Hermite splines through the knots ``t in {0, 0.3, 0.5, 0.75, 1.0}``::

    b_R: values [0, 0.20, 0.55, 1.0, 0.50]   slopes [0, 1.2,  2.0, 0, 0]    (peak 1 at t = 0.75)
    b_Y: values [0, 0.60, 1.00, 0.7, 0.35]   slopes [0, 2.0,  0,  -1.3, 0]  (peak 1 at t = 0.5)

On every piece the end slopes have the sign of the piece's secant d and satisfy the
Fritsch-Carlson condition ``(m_0/d)^2 + (m_1/d)^2 <= 9``, so each piece is monotone between
its knots and neither bump overshoots its peak value 1.  (The radial values are chosen so
that at s = 2 with the pear anchor the mean radial scale over the upper half of a
head-sized ellipsoid is about 1.4.)  ``b(0) = b'(0) = 0`` (C1 join with the identity below the
anchor) and ``b'(1) = 0`` (C1 join with the constant continuation above the top).
With strength ``s``::

    S_R(t) = 1 + s (radial_peak   - 1) b_R(t)
    S_Y(t) = 1 + s (vertical_peak - 1) b_Y(t)

so ``max_t S_R = 1 + s (radial_peak - 1)`` (1.3 at s = 1) and ``S_R(0) = S_Y(0) = 1``.
For ``t > 1`` the profiles hold their ``t = 1`` value (zero-derivative continuation).

Field
-----
``chibi_field(vertices, params)`` records::

    y_bottom = y_min + y_anchor_frac_baked (y_max - y_min)      (pear 0.20, hourglass 0.50)
    y_top    = y_max
    H        = y_top - y_bottom    (> 0, else InputError)
    (cx, cz) = centre of the x/z bounding box of the vertices with y >= y_bottom

Below the anchor: the taper (neck and shoulders)
------------------------------------------------
The recipe's field "tapers near the chin": splats below the anchor get ratio < 1 ("a fat round head
and tiny shoulders"; on FLAME at pear s = 2 its ratio spans 0.275 / 1.358 / 2.368). Below the
anchor both scales shrink together, from 1 at the anchor to ``taper_scale ** s`` at the mesh bottom
``y_floor`` (a power, so it stays positive at any strength), with ``T = (y_bottom - y_floor) / H``
and ``q = clip(-t / T, 0, 1)``::

    S_T(t) = 1 - a_T sigma(q),   a_T = 1 - taper_scale ** s,   sigma(q) = 3 q^2 - 2 q^3

``sigma(0) = sigma'(0) = 0`` joins the identity slope at the anchor (C1) and ``sigma'(1) = 0`` the
constant continuation below the floor. ``y_floor = None`` (or ``T = 0``) leaves the identity below.

For a point ``(x, y, z)`` let ``u = y - y_bottom`` and ``t = u / H``; the total scales are
``R(t) = S_R(min(t, 1)) S_T(t)`` and ``Y(t) = S_Y(min(t, 1)) S_T(t)`` (each factor is 1 on the
other side of the anchor)::

      y' = y_bottom + H A(t),   A(t) = integral_0^t Y
      A(t) = t + s (vertical_peak - 1) B_Y(min(t, 1)) + max(t - 1, 0) s (vertical_peak - 1) b_Y(1)   t > 0
      A(t) = t + a_T T Sigma(q)                                                 -T <= t <= 0
      A(t) = A(-T) + (1 - a_T)(t + T)                                           t < -T
      x' = cx + R(t) (x - cx)
      z' = cz + R(t) (z - cz)

where ``B_Y`` is the exact antiderivative of the cubic spline ``b_Y`` with ``B_Y(0) = 0`` and
``Sigma(q) = q^3 - q^4 / 2`` that of ``sigma``. The radial scale is evaluated at the ORIGINAL height.

Jacobian (``d out_i / d in_j``, rows x', y', z'; columns x, y, z)::

    [[R,   R'(t) (x - cx) / H,   0],
     [0,   Y(t),                 0],
     [0,   R'(t) (z - cz) / H,   R]]

with ``R'(t) = 0`` for ``t > 1`` and ``t < -T``.  Because ``R(0) = Y(0) = 1`` and ``R'(0) = 0`` from
both sides the field and its Jacobian are continuous across the anchor plane (the field is C1
everywhere).  ``Y > 0`` makes ``y'`` strictly increasing in ``y``. Strength 0 is the identity exactly
(the code returns the input unchanged).

Basis re-evaluation (the LAM chibi recipe's asset #2, ``chibi_arkit_bs.npy``)::

    reevaluate_basis(field, v, B)[k] = D(v + B[k]) - D(v)
    linearised_basis(field, v, B)[k] = J(v) B[k]

computed in float64, returned float32 (defined in ``edit.basis`` for any deformation; re-exported here).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
from scipy.interpolate import CubicHermiteSpline

from avatarcheck.edit.basis import check_points as _check_points
from avatarcheck.edit.basis import linearised_basis, reevaluate_basis  # re-exported: chibi's public API
from avatarcheck.edit.interface import REQUIRED, EditKind
from avatarcheck.errors import InputError

__all__ = [
    "ChibiParams",
    "ChibiField",
    "PRESETS",
    "KNOTS",
    "chibi_params",
    "chibi_field",
    "radial_profile",
    "vertical_profile",
    "reevaluate_basis",
    "linearised_basis",
    "field_summary",
    "replace_strength",
]

KNOTS = np.array([0.0, 0.3, 0.5, 0.75, 1.0])
_BR_VALUES = np.array([0.0, 0.20, 0.55, 1.0, 0.50])
_BR_SLOPES = np.array([0.0, 1.2, 2.0, 0.0, 0.0])
_BY_VALUES = np.array([0.0, 0.60, 1.0, 0.7, 0.35])
_BY_SLOPES = np.array([0.0, 2.0, 0.0, -1.3, 0.0])

#: t at which each bump reaches its peak value 1
RADIAL_PEAK_T = 0.75
VERTICAL_PEAK_T = 0.5

_B_R = CubicHermiteSpline(KNOTS, _BR_VALUES, _BR_SLOPES, extrapolate=False)
_DB_R = _B_R.derivative()
_B_Y = CubicHermiteSpline(KNOTS, _BY_VALUES, _BY_SLOPES, extrapolate=False)
_IB_Y = _B_Y.antiderivative()  # B_Y(0) = 0
_IB_Y_1 = float(_IB_Y(1.0))
_B_Y_1 = float(_BY_VALUES[-1])

#: scale of the taper at the mesh bottom at strength 1 (s = 2: 0.525^2 = 0.276, the recipe's ratio min 0.275
#: on FLAME; on the embedded head the ratio min at pear s = 2 is then about 0.28 too)
TAPER_SCALE = 0.525

#: preset name -> y_anchor_frac_baked
PRESETS: dict[str, float] = {"pear": 0.20, "hourglass": 0.50}


@dataclass(frozen=True)
class ChibiParams:
    """Chibi field parameters.

    ``radial_peak`` / ``vertical_peak`` are the scales at the profile peaks for strength 1;
    ``strength`` s blends the peak: peak scale = 1 + s (peak - 1).
    """

    strength: float = 2.0
    y_anchor_frac_baked: float = 0.20
    radial_peak: float = 1.3
    vertical_peak: float = 1.15
    taper_scale: float = TAPER_SCALE

    @property
    def radial_amp(self) -> float:
        """s (radial_peak - 1): S_R = 1 + radial_amp * b_R."""
        return float(self.strength) * (float(self.radial_peak) - 1.0)

    @property
    def vertical_amp(self) -> float:
        """s (vertical_peak - 1): S_Y = 1 + vertical_amp * b_Y."""
        return float(self.strength) * (float(self.vertical_peak) - 1.0)

    @property
    def taper_amp(self) -> float:
        """a_T = 1 - taper_scale ** s: S_T = 1 - taper_amp * sigma (scale taper_scale ** s at the floor)."""
        return 1.0 - float(self.taper_scale) ** float(self.strength)


def chibi_params(preset: str, strength: float = 2.0) -> ChibiParams:
    """ChibiParams for a named preset (``"pear"`` anchor 0.20, ``"hourglass"`` anchor 0.50)."""
    if preset not in PRESETS:
        raise InputError("chibi_params", "preset", f"one of {sorted(PRESETS)}", repr(preset))
    return ChibiParams(strength=float(strength), y_anchor_frac_baked=PRESETS[preset])


def _validate_params(params: ChibiParams, source: str) -> None:
    for name in ("strength", "y_anchor_frac_baked", "radial_peak", "vertical_peak", "taper_scale"):
        val = getattr(params, name)
        if not isinstance(val, (int, float, np.floating, np.integer)) or not math.isfinite(float(val)):
            raise InputError(source, name, "a finite number", repr(val))
    if not 0.0 < float(params.taper_scale) <= 1.0:
        raise InputError(source, "taper_scale", "a scale in (0, 1] (the neck shrinks, never flips)",
                         repr(params.taper_scale))
    if float(params.strength) < 0.0:
        raise InputError(source, "strength", ">= 0", repr(params.strength))
    frac = float(params.y_anchor_frac_baked)
    if not 0.0 <= frac < 1.0:
        raise InputError(source, "y_anchor_frac_baked", "a fraction in [0, 1)", repr(frac))
    # profiles must stay positive: min over b in [0, 1] of 1 + amp b is min(1, 1 + amp)
    for name, amp in (("radial_peak", params.radial_amp), ("vertical_peak", params.vertical_amp)):
        if 1.0 + amp <= 0.0:
            raise InputError(source, f"strength * ({name} - 1)", "> -1 (scales must stay positive)",
                             repr(amp))


def _bump(spline: CubicHermiteSpline, t: np.ndarray) -> np.ndarray:
    """Evaluate a bump on t clamped to [0, 1] (float64)."""
    return spline(np.clip(np.asarray(t, dtype=np.float64), 0.0, 1.0))


def radial_profile(t: np.ndarray, params: ChibiParams) -> np.ndarray:
    """S_R(t) (same shape as t): 1 for t <= 0, held at S_R(1) for t > 1."""
    return 1.0 + params.radial_amp * _bump(_B_R, t)


def vertical_profile(t: np.ndarray, params: ChibiParams) -> np.ndarray:
    """S_Y(t) (same shape as t): 1 for t <= 0, held at S_Y(1) for t > 1."""
    return 1.0 + params.vertical_amp * _bump(_B_Y, t)


def _radial_profile_dt(t: np.ndarray, params: ChibiParams) -> np.ndarray:
    """dS_R/dt: 0 outside (0, 1)."""
    t = np.asarray(t, dtype=np.float64)
    d = params.radial_amp * _DB_R(np.clip(t, 0.0, 1.0))
    return np.where((t > 0.0) & (t < 1.0), d, 0.0)


def _vertical_integral(t: np.ndarray, params: ChibiParams) -> np.ndarray:
    """A(t) = integral_0^t S_Y(tau) dtau for t >= 0 (linear continuation past t = 1)."""
    t = np.asarray(t, dtype=np.float64)
    tc = np.clip(t, 0.0, 1.0)
    over = np.maximum(t - 1.0, 0.0)
    return t + params.vertical_amp * (_IB_Y(tc) + over * _B_Y_1)


def _taper(t: np.ndarray, taper_len: float, amp: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Below the anchor: S_T(t), dS_T/dt and A(t) = integral_0^t S_T for t <= 0 (1, 0, t above)."""
    t = np.asarray(t, dtype=np.float64)
    if taper_len <= 0.0 or amp == 0.0:
        return np.ones_like(t), np.zeros_like(t), t.copy()
    q = np.clip(-t / taper_len, 0.0, 1.0)
    scale = 1.0 - amp * q * q * (3.0 - 2.0 * q)
    inside = (t < 0.0) & (t > -taper_len)
    dscale = np.where(inside, amp * 6.0 * q * (1.0 - q) / taper_len, 0.0)  # d/dt = -d/dq / T
    sigma_int = q ** 3 - 0.5 * q ** 4
    area = np.where(t >= -taper_len, t + amp * taper_len * sigma_int,
                    -taper_len * (1.0 - 0.5 * amp) + (1.0 - amp) * (t + taper_len))
    below = t < 0.0
    return np.where(below, scale, 1.0), np.where(below, dscale, 0.0), np.where(below, area, t)


@dataclass(frozen=True)
class ChibiField:
    """A chibi deformation bound to one mesh's y-range and vertical axis (see module docstring)."""

    params: ChibiParams
    y_bottom: float
    y_top: float
    cx: float
    cz: float
    y_floor: float | None = None  # the mesh bottom: the taper reaches taper_scale ** s there

    def __post_init__(self) -> None:
        _validate_params(self.params, "ChibiField")
        for name in ("y_bottom", "y_top", "cx", "cz"):
            if not math.isfinite(float(getattr(self, name))):
                raise InputError("ChibiField", name, "a finite number", repr(getattr(self, name)))
        if not self.y_top > self.y_bottom:
            raise InputError("ChibiField", "y_top - y_bottom", "> 0 (non-degenerate y-range)",
                             repr(float(self.y_top) - float(self.y_bottom)))
        if self.y_floor is not None and not (math.isfinite(float(self.y_floor)) and self.y_floor <= self.y_bottom):
            raise InputError("ChibiField", "y_floor", "a finite height at or below y_bottom", repr(self.y_floor))

    @property
    def taper_length(self) -> float:
        """T = (y_bottom - y_floor) / H: the taper's extent below the anchor in units of t (0: none)."""
        return 0.0 if self.y_floor is None else (float(self.y_bottom) - float(self.y_floor)) / self.height

    @property
    def height(self) -> float:
        """H = y_top - y_bottom."""
        return float(self.y_top) - float(self.y_bottom)

    @property
    def is_identity(self) -> bool:
        return self.params.radial_amp == 0.0 and self.params.vertical_amp == 0.0 and \
            (self.params.taper_amp == 0.0 or self.taper_length == 0.0)

    def scales(self, t: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """R(t), dR/dt, Y(t) and A(t) = integral_0^t Y (module docstring), float64, any t."""
        t = np.asarray(t, dtype=np.float64)
        taper, dtaper, area_below = _taper(t, self.taper_length, self.params.taper_amp)
        sr = radial_profile(t, self.params)  # 1 below the anchor; the taper is 1 above it
        radial = sr * taper
        dradial = _radial_profile_dt(t, self.params) * taper + sr * dtaper
        vertical = vertical_profile(t, self.params) * taper
        area = np.where(t > 0.0, _vertical_integral(t, self.params), area_below)
        return radial, dradial, vertical, area

    def t(self, y: np.ndarray) -> np.ndarray:
        """Normalised height t = (y - y_bottom) / H (unclamped)."""
        return (np.asarray(y, dtype=np.float64) - self.y_bottom) / self.height

    def __call__(self, points: np.ndarray) -> np.ndarray:
        """Deform points (N, 3) -> (N, 3) float64."""
        p = _check_points(points, "ChibiField", "points")
        if self.is_identity:
            return p.copy()
        out = p.copy()
        t = self.t(p[:, 1])
        radial, _, _, area = self.scales(t)
        out[:, 0] = self.cx + radial * (p[:, 0] - self.cx)
        out[:, 2] = self.cz + radial * (p[:, 2] - self.cz)
        out[:, 1] = self.y_bottom + self.height * area
        # the anchor plane itself and (without a taper) everything below it stay bit-exact
        fixed = (t == 0.0) | ((t < 0.0) & (self.taper_length == 0.0 or self.params.taper_amp == 0.0))
        out[fixed] = p[fixed]
        return out

    def jacobian(self, points: np.ndarray) -> np.ndarray:
        """Analytic Jacobian (N, 3, 3) float64, J[n, i, j] = d out_i / d in_j."""
        p = _check_points(points, "ChibiField.jacobian", "points")
        n = p.shape[0]
        jac = np.broadcast_to(np.eye(3), (n, 3, 3)).copy()
        if self.is_identity:
            return jac
        radial, dradial, vertical, _ = self.scales(self.t(p[:, 1]))
        dr = dradial / self.height
        jac[:, 0, 0] = radial
        jac[:, 2, 2] = radial
        jac[:, 1, 1] = vertical
        jac[:, 0, 1] = dr * (p[:, 0] - self.cx)
        jac[:, 2, 1] = dr * (p[:, 2] - self.cz)
        return jac


def chibi_field(vertices: np.ndarray, params: ChibiParams | None = None) -> ChibiField:
    """Bind a chibi field to a mesh: vertices (V, 3) -> ChibiField (anchor, top, floor, vertical axis)."""
    params = ChibiParams() if params is None else params
    _validate_params(params, "chibi_field")
    v = _check_points(vertices, "chibi_field", "vertices")
    if v.shape[0] == 0:
        raise InputError("chibi_field", "vertices", "at least one vertex", "0 vertices")
    y_min, y_max = float(v[:, 1].min()), float(v[:, 1].max())
    y_bottom = y_min + float(params.y_anchor_frac_baked) * (y_max - y_min)
    if not y_max > y_bottom:
        raise InputError("chibi_field", "vertices y-range (y_top - y_bottom)",
                         "> 0 (non-degenerate y-range)", repr(y_max - y_bottom))
    upper = v[v[:, 1] >= y_bottom]
    cx = 0.5 * (float(upper[:, 0].min()) + float(upper[:, 0].max()))
    cz = 0.5 * (float(upper[:, 2].min()) + float(upper[:, 2].max()))
    return ChibiField(params=params, y_bottom=y_bottom, y_top=y_max, cx=cx, cz=cz, y_floor=y_min)


def field_summary(field: ChibiField, vertices: np.ndarray) -> dict:
    """Numbers for reports: peak scales, anchor, and mean radial scale over the mesh's upper half."""
    v = _check_points(vertices, "field_summary", "vertices")
    y_min, y_max = float(v[:, 1].min()), float(v[:, 1].max())
    upper = v[v[:, 1] >= 0.5 * (y_min + y_max)]
    sr_upper = radial_profile(field.t(upper[:, 1]), field.params) if len(upper) else np.ones(0)
    return {
        "strength": float(field.params.strength),
        "y_anchor_frac_baked": float(field.params.y_anchor_frac_baked),
        "y_bottom": float(field.y_bottom),
        "y_top": float(field.y_top),
        "axis_xz": [float(field.cx), float(field.cz)],
        "radial_scale_peak": float(radial_profile(np.array(RADIAL_PEAK_T), field.params)),
        "radial_peak_t": RADIAL_PEAK_T,
        "vertical_scale_peak": float(vertical_profile(np.array(VERTICAL_PEAK_T), field.params)),
        "vertical_peak_t": VERTICAL_PEAK_T,
        "radial_scale_mean_upper_half": float(sr_upper.mean()) if len(sr_upper) else 1.0,
        "vertical_stretch_total": float(_vertical_integral(np.array(1.0), field.params)),
    }


def replace_strength(params: ChibiParams, strength: float) -> ChibiParams:
    """Same params at another strength."""
    return dataclasses.replace(params, strength=float(strength))


def _params(params) -> ChibiParams:
    return ChibiParams(strength=params["strength"], y_anchor_frac_baked=PRESETS[params["preset"]],
                       radial_peak=params["radial_peak"], vertical_peak=params["vertical_peak"],
                       taper_scale=params["taper_scale"])


def _validate_chibi(params, source: str, where: str) -> None:
    if params["preset"] not in PRESETS:
        raise InputError(source, f"{where}.preset", f"one of {sorted(PRESETS)}", repr(params["preset"]))
    _validate_params(_params(params), f"{source}: {where}")


def _make_chibi(avatar, params, source: str) -> ChibiField:
    """The registry's constructor: a preset's field (with optional peak overrides) bound to the coarse head."""
    return chibi_field(avatar.head.v_template, _params(params))


CHIBI = EditKind(
    name="chibi",
    description="the LAM chibi recipe's field: separable vertical stretch x radial swell above an anchor, "
                "tapering below it (tiny shoulders)",
    params={"preset": (str, REQUIRED), "strength": (float, 2.0),
            "radial_peak": (float, ChibiParams.radial_peak), "vertical_peak": (float, ChibiParams.vertical_peak),
            "taper_scale": (float, TAPER_SCALE)},
    make=_make_chibi,
    validate=_validate_chibi,
)
