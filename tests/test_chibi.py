"""Chibi field: identity cases, smoothness, profile shape, presets, basis re-evaluation, errors.

Expectations are derived from the definitions (finite differences, the parameter formulas,
geometry of the output), never from numbers the code printed.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from avatarcheck.edit.chibi import (
    PRESETS,
    ChibiField,
    ChibiParams,
    chibi_field,
    chibi_params,
    field_summary,
    linearised_basis,
    radial_profile,
    reevaluate_basis,
    vertical_profile,
)
from avatarcheck.errors import InputError
from tests.conftest import fd_jacobian

# head-sized box: half-extents 8 x 12 x 10 cm, centre slightly off the origin
_HALF = np.array([0.08, 0.12, 0.10])
_CENTRE = np.array([0.003, 0.01, -0.004])


def _ellipsoid(n: int = 20000, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    p = rng.uniform(-1.0, 1.0, (n, 3))
    p = p[(p ** 2).sum(1) <= 1.0]
    return _CENTRE + p * _HALF


MESH = _ellipsoid()
Y_MIN, Y_MAX = MESH[:, 1].min(), MESH[:, 1].max()

strengths = st.floats(0.0, 3.0)
fracs = st.sampled_from(sorted(PRESETS.values()))
coords = st.tuples(st.floats(-0.1, 0.1), st.floats(-0.15, 0.2), st.floats(-0.1, 0.12))


def _field(strength: float = 2.0, frac: float = 0.2) -> ChibiField:
    return chibi_field(MESH, ChibiParams(strength=strength, y_anchor_frac_baked=frac))


# ---------------------------------------------------------------- identity cases


@given(fracs, st.lists(coords, min_size=1, max_size=20))
def test_strength_zero_is_exact_identity(frac, pts):
    f = _field(0.0, frac)
    p = np.array(pts, dtype=np.float64)
    np.testing.assert_array_equal(f(p), p)
    np.testing.assert_array_equal(f.jacobian(p), np.broadcast_to(np.eye(3), (len(p), 3, 3)))


@given(strengths, fracs, st.lists(coords, min_size=1, max_size=20))
def test_points_on_the_anchor_plane_do_not_move(s, frac, pts):
    f = _field(s, frac)
    p = np.array(pts, dtype=np.float64)
    p[:, 1] = f.y_bottom
    np.testing.assert_array_equal(f(p), p)


@given(strengths, fracs, st.lists(coords, min_size=1, max_size=20))
def test_without_a_floor_points_below_the_anchor_do_not_move(s, frac, pts):
    f = dataclasses.replace(_field(s, frac), y_floor=None)
    p = np.array(pts, dtype=np.float64)
    p[:, 1] = np.minimum(p[:, 1], f.y_bottom)
    np.testing.assert_array_equal(f(p), p)


# ---------------------------------------------------------------- the taper below the anchor


@given(st.floats(0.1, 3.0), fracs, st.floats(0.3, 1.0), st.lists(st.floats(0.0, 1.6), min_size=2, max_size=12),
       st.floats(-0.08, 0.08), st.floats(-0.1, 0.1))
def test_taper_shrinks_monotonically_to_taper_scale_power_s_at_the_floor(s, frac, ts, depths, x, z):
    params = ChibiParams(strength=s, y_anchor_frac_baked=frac, taper_scale=ts)
    f = chibi_field(MESH, params)
    depth = np.sort(np.array(depths))  # in units of the anchor-to-floor distance
    p = np.column_stack([np.full(len(depth), x), f.y_bottom - depth * (f.y_bottom - Y_MIN), np.full(len(depth), z)])
    out = f(p)
    # radial scale from the axis, measured on the output geometry
    if abs(x - f.cx) > 1e-3:
        radial = (out[:, 0] - f.cx) / (x - f.cx)
        lam = ts ** s
        assert np.all(np.diff(radial) <= 1e-12) and np.all(radial <= 1 + 1e-12) and np.all(radial >= lam - 1e-12)
        np.testing.assert_allclose(radial[depth >= 1.0], lam, rtol=1e-12)
    # heights keep their order (no fold) and the floor maps to y_bottom - (1 - a_T / 2) (y_bottom - y_floor)
    assert np.all(np.diff(out[:, 1]) <= 0)
    floor = f(np.array([[x, Y_MIN, z]]))[0, 1]
    a_t = 1 - ts ** s
    np.testing.assert_allclose(floor, f.y_bottom - (1 - a_t / 2) * (f.y_bottom - Y_MIN), rtol=1e-12, atol=1e-15)


@given(strengths, fracs, st.floats(-0.1, 0.1), st.floats(-0.1, 0.1))
def test_taper_is_c1_at_the_floor(s, frac, x, z):
    f = _field(s, frac)
    for dy in (1e-4, 1e-6):
        above = f.jacobian(np.array([[x, Y_MIN + dy, z]]))[0]
        below = f.jacobian(np.array([[x, Y_MIN - dy, z]]))[0]
        assert np.abs(above - below).max() <= 1e3 * dy


def test_anchor_and_top_follow_the_mesh_range():
    for name, frac in PRESETS.items():
        f = chibi_field(MESH, chibi_params(name, 2.0))
        assert f.y_bottom == pytest.approx(Y_MIN + frac * (Y_MAX - Y_MIN), abs=1e-15)
        assert f.y_top == Y_MAX
        upper = MESH[MESH[:, 1] >= f.y_bottom]
        assert f.cx == pytest.approx(0.5 * (upper[:, 0].min() + upper[:, 0].max()))
        assert f.cz == pytest.approx(0.5 * (upper[:, 2].min() + upper[:, 2].max()))


def test_presets():
    assert chibi_params("pear", 1.5).y_anchor_frac_baked == 0.20
    assert chibi_params("hourglass", 1.5).y_anchor_frac_baked == 0.50
    assert chibi_params("pear", 1.5).strength == 1.5
    with pytest.raises(InputError, match="preset"):
        chibi_params("pineapple", 2.0)


# ---------------------------------------------------------------- smoothness


@given(strengths, fracs, coords, st.tuples(*[st.floats(-1.0, 1.0)] * 3), st.floats(1e-9, 1e-4))
def test_field_is_lipschitz_continuous(s, frac, p, d, eps):
    f = _field(s, frac)
    p = np.array([p])
    d = np.array(d)
    d = d / max(np.linalg.norm(d), 1e-12) * eps
    # scales are at most 1 + 3 * 0.3 = 1.9 and the shear term is bounded on this box
    assert np.linalg.norm(f(p + d) - f(p)) <= 20.0 * eps + 1e-15


@given(strengths, fracs, st.floats(-1e-4, 1e-4), st.floats(-0.1, 0.1), st.floats(-0.1, 0.1))
def test_continuous_across_anchor_plane(s, frac, dy, x, z):
    f = _field(s, frac)
    p = np.array([[x, f.y_bottom + dy, z]])
    # the displacement vanishes at the plane; above it, it is second order in the height
    disp = np.linalg.norm(f(p) - p)
    assert disp <= 1e3 * dy ** 2 + 1e-15


@given(strengths, fracs, st.lists(st.tuples(st.floats(-0.1, 0.1), st.floats(-1.3, 1.3),
                                            st.floats(-0.1, 0.12)), min_size=1, max_size=10))
def test_jacobian_matches_finite_differences(s, frac, pts):
    f = _field(s, frac)
    p = np.array(pts, dtype=np.float64)
    # t in [-1.3, 1.3]: the taper, below the floor (pear T = 0.25, hourglass T = 1) and above the top
    p[:, 1] = f.y_bottom + p[:, 1] * (f.y_top - f.y_bottom)
    # h = 1e-8: the truncation error at the C1 knots (second derivative jumps) is O(h)
    np.testing.assert_allclose(f.jacobian(p), fd_jacobian(f, p, 1e-8), atol=2e-6, rtol=0)


@pytest.mark.parametrize("frac", sorted(PRESETS.values()))
@pytest.mark.parametrize("where", ["anchor", "top"])
def test_jacobian_matches_fd_near_anchor_and_top(frac, where):
    f = _field(2.5, frac)
    rng = np.random.default_rng(1)
    y0 = f.y_bottom if where == "anchor" else f.y_top
    p = np.column_stack([rng.uniform(-0.08, 0.08, 50), y0 + rng.uniform(-1e-5, 1e-5, 50),
                         rng.uniform(-0.1, 0.1, 50)])
    np.testing.assert_allclose(f.jacobian(p), fd_jacobian(f, p, 1e-8), atol=2e-6, rtol=0)


@given(strengths, fracs, st.floats(1e-9, 1e-4), st.floats(-0.1, 0.1), st.floats(-0.1, 0.1))
def test_jacobian_is_continuous_across_anchor(s, frac, dy, x, z):
    f = _field(s, frac)
    above = f.jacobian(np.array([[x, f.y_bottom + dy, z]]))[0]
    below = f.jacobian(np.array([[x, f.y_bottom - dy, z]]))[0]
    # C1: both sides tend to the identity linearly with the distance to the plane
    assert np.abs(above - np.eye(3)).max() <= 1e3 * dy
    assert np.abs(below - np.eye(3)).max() <= 1e3 * dy


# ---------------------------------------------------------------- profiles


@given(strengths, st.floats(1.0, 2.0), st.floats(1.0, 1.5))
def test_profiles_start_at_one_and_peak_without_overshoot(s, rp, vp):
    params = ChibiParams(strength=s, radial_peak=rp, vertical_peak=vp)
    t = np.linspace(0.0, 1.0, 20001)  # contains every knot
    sr = radial_profile(t, params)
    sy = vertical_profile(t, params)
    assert sr[0] == 1.0 and sy[0] == 1.0
    assert abs(sr.max() - (1 + s * (rp - 1))) <= 1e-9
    assert abs(sy.max() - (1 + s * (vp - 1))) <= 1e-9
    assert sr.min() >= 1.0 - 1e-12 and sy.min() >= 1.0 - 1e-12
    # flat start (C1 join with the identity): one-sided slope at 0 vanishes
    h = 1e-6
    assert abs(radial_profile(np.array(h), params) - 1.0) / h <= 1e-4
    assert abs(vertical_profile(np.array(h), params) - 1.0) / h <= 1e-4
    # below 0: identity; above 1: held
    assert radial_profile(np.array(-0.5), params) == 1.0
    assert radial_profile(np.array(1.7), params) == radial_profile(np.array(1.0), params)


def test_radial_peak_is_1p3_at_strength_one():
    t = np.linspace(0.0, 1.0, 100001)
    assert abs(radial_profile(t, ChibiParams(strength=1.0)).max() - 1.3) <= 1e-9


def test_strength_two_upper_half_about_1p4_wider():
    f = _field(2.0, PRESETS["pear"])
    out = f(MESH)
    upper = MESH[:, 1] >= 0.5 * (Y_MIN + Y_MAX)
    r_in = np.hypot(MESH[upper, 0] - f.cx, MESH[upper, 2] - f.cz)
    r_out = np.hypot(out[upper, 0] - f.cx, out[upper, 2] - f.cz)
    keep = r_in > 1e-4
    mean_scale = float(np.mean(r_out[keep] / r_in[keep]))
    assert 1.3 <= mean_scale <= 1.5
    # the summary reports the same quantity
    assert field_summary(f, MESH)["radial_scale_mean_upper_half"] == pytest.approx(mean_scale, abs=5e-3)
    summ = field_summary(f, MESH)
    assert summ["radial_scale_peak"] == pytest.approx(1 + 2.0 * 0.3)
    assert summ["vertical_scale_peak"] == pytest.approx(1 + 2.0 * 0.15)


# ---------------------------------------------------------------- vertical


@given(strengths, fracs)
def test_vertical_is_strictly_increasing(s, frac):
    f = _field(s, frac)
    y = np.linspace(f.y_bottom - 0.05, f.y_top + 0.05, 4001)
    p = np.column_stack([np.full_like(y, 0.02), y, np.full_like(y, -0.01)])
    assert np.all(np.diff(f(p)[:, 1]) > 0)


@given(st.floats(0.1, 3.0), fracs, st.lists(st.integers(0, 100), min_size=3, max_size=8, unique=True))
def test_stretch_and_radial_scale_constant_above_top(s, frac, offsets):
    f = _field(s, frac)
    y = f.y_top + 1e-3 * np.sort(np.array(offsets, dtype=np.float64))
    p = np.column_stack([np.full_like(y, f.cx + 0.03), y, np.full_like(y, f.cz - 0.02)])
    out = f(p)
    slopes = np.diff(out[:, 1]) / np.diff(y)
    np.testing.assert_allclose(slopes, slopes[0], rtol=1e-6)
    # the constant stretch equals the local stretch just below the top (C1 at the top)
    probe = np.array([[f.cx, f.y_top - 1e-7, f.cz], [f.cx, f.y_top, f.cz]])
    q = f(probe)
    assert slopes[0] == pytest.approx((q[1, 1] - q[0, 1]) / 1e-7, rel=1e-5)
    np.testing.assert_allclose(out[:, 0] - f.cx, (out[0, 0] - f.cx), rtol=1e-12)


# ---------------------------------------------------------------- presets on a head


def test_eye_height_wider_under_pear_than_hourglass():
    p = np.array([[0.03 + _CENTRE[0], Y_MIN + 0.575 * (Y_MAX - Y_MIN), 0.05]])
    scales = {}
    for name in PRESETS:
        f = chibi_field(MESH, chibi_params(name, 2.0))
        out = f(p)
        scales[name] = np.hypot(out[0, 0] - f.cx, out[0, 2] - f.cz) / np.hypot(p[0, 0] - f.cx, p[0, 2] - f.cz)
    assert scales["pear"] > scales["hourglass"] > 1.0


def test_synthetic_head_pear_moves_eyes_and_shrinks_the_neck(head):
    v = np.asarray(head.v_template, dtype=np.float64)
    f = chibi_field(v, chibi_params("pear", 2.0))
    out = f(v)
    eyes = head.vertex_sets["eye_region_left"]
    assert np.all(np.linalg.norm(out[eyes] - v[eyes], axis=1) > 1e-4)
    low = v[:, 1] < f.y_bottom
    assert low.sum() > 0
    r_in = np.hypot(v[low, 0] - f.cx, v[low, 2] - f.cz)
    r_out = np.hypot(out[low, 0] - f.cx, out[low, 2] - f.cz)
    assert np.all(r_out <= r_in * (1 + 1e-12)) and np.all(out[low, 1] >= v[low, 1] - 1e-12)


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_taper_gives_the_recipes_ratio_shape_and_keeps_the_median(preset):
    """Recipe (FLAME, pear s = 2): ratio min 0.275, median 1.358. The taper adds the low tail (ratio
    taper_scale ** s on the floor ring, whose edges all lie at the floor) and leaves the median."""
    from avatarcheck.avatar import synthetic_avatar
    from avatarcheck.edit.registry import bake_edit

    av = synthetic_avatar()
    with_taper = bake_edit(av, "chibi", {"preset": preset, "strength": 2.0}).ratio
    head = av.head.v_template
    flat = chibi_field(head, dataclasses.replace(chibi_params(preset, 2.0), taper_scale=1.0))
    from avatarcheck.edit.base import bake
    without = bake(av, flat, "flat", "chibi").ratio
    assert without.min() >= 1.0 - 0.02  # the identity below the anchor: no tail
    np.testing.assert_allclose(with_taper.min(), ChibiParams().taper_scale ** 2, rtol=1e-3)
    assert abs(ChibiParams().taper_scale ** 2 - 0.275) < 0.005
    assert np.median(with_taper) == pytest.approx(np.median(without), abs=1e-3)
    assert np.max(with_taper) == pytest.approx(np.max(without), abs=1e-6)


# ---------------------------------------------------------------- basis re-evaluation


class _LinearField:
    """D(p) = c + A p: re-evaluation and linearisation must both give A b exactly."""

    def __init__(self, a: np.ndarray, c: np.ndarray) -> None:
        self.a, self.c = a, c

    def __call__(self, p: np.ndarray) -> np.ndarray:
        return self.c + p @ self.a.T

    def jacobian(self, p: np.ndarray) -> np.ndarray:
        return np.broadcast_to(self.a, (len(p), 3, 3)).copy()


def _basis(k: int, v: int, seed: int, scale: float) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(k, v, 3)) * scale


def test_linear_field_basis_is_linear_map():
    v = MESH[:200]
    b = _basis(4, 200, 3, 0.01)
    lf = _LinearField(np.diag([1.4, 1.2, 1.4]), np.array([0.01, -0.02, 0.0]))
    want = np.einsum("ij,kvj->kvi", lf.a, b)
    np.testing.assert_allclose(reevaluate_basis(lf, v, b), want, atol=1e-7)
    np.testing.assert_allclose(linearised_basis(lf, v, b), want, atol=1e-7)


@given(st.floats(0.5, 3.0), fracs, st.integers(0, 1000))
def test_reevaluation_agrees_with_linearisation_to_first_order(s, frac, seed):
    f = _field(s, frac)
    v = MESH[np.random.default_rng(seed).choice(len(MESH), 300, replace=False)]
    b = _basis(3, 300, seed, 1.0)
    errs = []
    for eps in (2e-4, 1e-4):
        r32 = reevaluate_basis(f, v, eps * b)
        lin32 = linearised_basis(f, v, eps * b)
        assert r32.dtype == np.float32 and lin32.dtype == np.float32
        r, lin = r32.astype(np.float64), lin32.astype(np.float64)
        assert np.abs(r).max() > 0
        errs.append(np.abs(r - lin).max())
    # second-order remainder: far below the O(eps) first-order term, and halving eps
    # cuts it by about 4 (float32 output rounding adds ~1e-11)
    assert errs[0] <= 0.1 * 2e-4 * np.abs(b).max()
    assert errs[1] <= 0.35 * errs[0] + 1e-10


def test_reevaluation_identity_and_zero():
    v = MESH[:100]
    b = _basis(5, 100, 7, 0.005)
    f0 = _field(0.0, 0.2)
    np.testing.assert_array_equal(reevaluate_basis(f0, v, b), b.astype(np.float32))
    np.testing.assert_array_equal(linearised_basis(f0, v, b), b.astype(np.float32))
    f = _field(2.0, 0.2)
    z = np.zeros_like(b)
    for fn in (reevaluate_basis, linearised_basis):
        out = fn(f, v, z)
        assert out.dtype == np.float32 and out.shape == b.shape
        np.testing.assert_array_equal(out, 0.0)


# ---------------------------------------------------------------- bad inputs


def test_bad_points_raise_input_error():
    f = _field()
    p = MESH[:5].copy()
    p[2, 1] = np.nan
    with pytest.raises(InputError, match="points"):
        f(p)
    with pytest.raises(InputError, match="points"):
        f.jacobian(p)
    with pytest.raises(InputError, match=r"points.*\(N, 3\)"):
        f(np.zeros((4, 2)))
    with pytest.raises(InputError, match="points"):
        f(np.zeros(3))
    with pytest.raises(InputError, match="vertices"):
        chibi_field(p)
    with pytest.raises(InputError, match="vertices"):
        chibi_field(np.zeros((0, 3)))


def test_degenerate_range_raises_input_error():
    flat = MESH.copy()
    flat[:, 1] = 0.05
    with pytest.raises(InputError, match="y-range"):
        chibi_field(flat)
    with pytest.raises(InputError, match="y_top - y_bottom"):
        ChibiField(ChibiParams(), y_bottom=0.1, y_top=0.1, cx=0.0, cz=0.0)
    with pytest.raises(InputError, match="y_anchor_frac_baked"):
        chibi_field(MESH, ChibiParams(y_anchor_frac_baked=1.0))


def test_bad_basis_raises_input_error():
    f = _field()
    v = MESH[:10]
    with pytest.raises(InputError, match="basis"):
        reevaluate_basis(f, v, np.zeros((2, 9, 3)))
    with pytest.raises(InputError, match="basis"):
        linearised_basis(f, v, np.zeros((10, 3)))
    b = np.zeros((2, 10, 3))
    b[1, 3, 0] = np.nan
    with pytest.raises(InputError, match="basis"):
        reevaluate_basis(f, v, b)
