"""Anime-eyes edit: Jacobian vs finite differences, identity far away, affine plateau, no folds, errors.

Expected values come from the definition (centres and radii of toy eyeballs, central differences),
not from numbers the code printed.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from avatarcheck.edit.anime_eyes import ANIME_EYES, AnimeEyesField, AnimeEyesParams, anime_eyes_field, eye_centres
from avatarcheck.errors import InputError
from tests.conftest import fd_jacobian

# Two toy eyeballs: spheres of radius 0.012 at x = +-0.031 (the embedded head's layout).
R = 0.012
CENTRES = np.array([[0.031, 0.026, 0.07], [-0.031, 0.026, 0.07]])


def _sphere(c: np.ndarray, n: int = 400) -> np.ndarray:
    """n points on the sphere in antipodal pairs, so their mean is exactly the centre."""
    g = np.random.default_rng(0).normal(size=(n // 2, 3))
    g /= np.linalg.norm(g, axis=1, keepdims=True)
    return c + R * np.concatenate([g, -g])


VERTS = np.concatenate([_sphere(CENTRES[0]), _sphere(CENTRES[1])])
SETS = {"eyeball_left": np.arange(400), "eyeball_right": np.arange(400, 800)}



def _unfolded(p: AnimeEyesParams) -> bool:
    """Whether the field accepts ``p``: a wide plateau with a short falloff folds the map, and
    anime_eyes_field refuses it (its own test); the properties below are about fields it builds."""
    try:
        anime_eyes_field(VERTS, SETS, p)
    except InputError:
        return False
    return True


params = st.builds(AnimeEyesParams, strength=st.floats(0.0, 1.0), horizontal=st.floats(1.0, 1.7),
                   vertical=st.floats(0.8, 1.2), depth=st.floats(0.9, 1.1),
                   inner=st.floats(0.8, 1.3), outer=st.floats(3.6, 4.5)).filter(_unfolded)
points = st.lists(st.tuples(st.floats(-0.09, 0.09), st.floats(-0.04, 0.09), st.floats(0.0, 0.14)),
                  min_size=1, max_size=12)


def _field(p: AnimeEyesParams) -> AnimeEyesField:
    return anime_eyes_field(VERTS, SETS, p)


def test_centres_and_radii_come_from_the_eyeball_sets():
    c, r = eye_centres(VERTS, SETS)
    np.testing.assert_allclose(c, CENTRES, atol=1e-15)
    np.testing.assert_allclose(r, R, rtol=1e-9)


@settings(max_examples=60, deadline=None)
@given(params, points)
def test_jacobian_matches_finite_differences(p, pts):
    f = _field(p)
    x = np.array(pts)
    # the smoothstep's second derivative jumps at the two radii: the central difference is O(h) there
    np.testing.assert_allclose(f.jacobian(x), fd_jacobian(f, x, 1e-7), atol=2e-5)


@settings(max_examples=60, deadline=None)
@given(params, points)
def test_identity_beyond_the_outer_radius(p, pts):
    f = _field(p)
    x = np.array(pts)
    far = np.linalg.norm(x[:, None] - CENTRES[None], axis=2).min(axis=1) >= R * p.outer
    assume(far.any())
    np.testing.assert_array_equal(f(x[far]), x[far])
    np.testing.assert_array_equal(f.jacobian(x[far]), np.broadcast_to(np.eye(3), (int(far.sum()), 3, 3)))


def test_plateau_is_the_affine_scaling_about_the_centre():
    p = AnimeEyesParams(strength=1.0, horizontal=1.5, vertical=0.8, depth=1.0, inner=1.1, outer=3.8)
    f = _field(p)
    c, r = eye_centres(VERTS, SETS)
    d = np.random.default_rng(1).uniform(-1, 1, (50, 3))
    d *= (0.9 * p.inner * r[0] / np.linalg.norm(d, axis=1))[:, None] * np.random.default_rng(2).uniform(0, 1, (50, 1))
    x = c[0] + d
    k = np.array([1.5, 0.8, 1.0])
    # the other eye's falloff does not reach this one's plateau (outer 3.8 R < 5.17 R - 1.1 R)
    np.testing.assert_allclose(f(x), c[0] + k * d, atol=1e-12)
    np.testing.assert_allclose(f.jacobian(x), np.broadcast_to(np.diag(k), (50, 3, 3)), atol=1e-12)


def test_strength_zero_is_the_identity():
    f = _field(AnimeEyesParams(strength=0.0))
    x = np.random.default_rng(3).uniform(-0.1, 0.1, (100, 3))
    np.testing.assert_array_equal(f(x), x)


def test_no_fold_on_the_embedded_head_at_the_gate_strength():
    from avatarcheck.avatar import synthetic_avatar
    from avatarcheck.gate.spec import load_gate

    spec = load_gate("anime-eyes")
    av = synthetic_avatar()
    f = ANIME_EYES.make(av, spec.edit("anime").params, "test")
    det = np.linalg.det(f.jacobian(av.head_sub.v_template))
    assert det.min() > 0.1
    # and on a dense grid over the whole eye band, between and around the eyes (off the surface too)
    g = np.stack(np.meshgrid(np.linspace(-0.1, 0.1, 61), np.linspace(-0.05, 0.1, 46),
                             np.linspace(0.0, 0.14, 43)), -1).reshape(-1, 3)
    assert np.linalg.det(f.jacobian(g)).min() > 0.1


def test_a_falloff_ending_on_the_nose_bridge_folds_and_is_refused_when_bound():
    from avatarcheck.avatar import synthetic_avatar

    p = {"strength": 1.0, "horizontal": 1.5, "vertical": 0.8, "depth": 1.0, "inner": 1.1, "outer": 3.2}
    # one eye alone does not fold (validate passes) ...
    from avatarcheck.edit.base import checked_params
    checked_params(ANIME_EYES, p, "g.toml", "edits[0]")
    # ... but both squeeze the bridge: x' is no longer increasing along the line between the eyes
    av = synthetic_avatar()
    c, _ = eye_centres(av.head.v_template, av.head.vertex_sets)
    f = AnimeEyesField(AnimeEyesParams(**p), c, eye_centres(av.head.v_template, av.head.vertex_sets)[1])
    line = np.stack([np.linspace(-0.02, 0.02, 401), np.full(401, c[0, 1]), np.full(401, c[0, 2])], 1)
    assert (np.diff(f(line)[:, 0]) <= 0).any()
    with pytest.raises(InputError, match="anime_eyes.outer"):
        ANIME_EYES.make(av, p, "g.toml")


def test_gate_file_declares_pre_fix_and_ratio_to_fail_and_the_jacobian_to_pass():
    from avatarcheck.gate.spec import load_gate

    spec = load_gate("anime-eyes")
    roles = {v.name: (v.role, set(v.overrides)) for v in spec.variants.values()}
    assert roles == {"baseline": ("reference", set()), "pre-fix": ("must-fail", {"xyz", "arkit_bs"}),
                     "ratio": ("must-fail", {"xyz", "arkit_bs", "scale_ratio"}),
                     "jacobian": ("must-pass", {"xyz", "arkit_bs", "jacobians"})}
    assert spec.expected("ratio", "full_blink", "leak_max") == "fail"
    assert spec.expected("pre-fix", "full_blink", "leak_max") == "fail"
    assert spec.expected("jacobian", "full_blink", "leak_max") == "pass"


@pytest.mark.parametrize("change, key", [
    ({"inner": 3.0, "outer": 2.0}, "inner/outer"),
    ({"horizontal": 2.5, "outer": 2.0}, "outer"),  # would fold
    ({"vertical": -1.0}, "horizontal/vertical/depth"),
    ({"strength": -0.5}, "strength"),
])
def test_bad_params_are_input_errors_naming_the_key(change, key):
    from avatarcheck.edit.base import checked_params

    with pytest.raises(InputError, match=f"edits\\[0\\]\\.{key}"):
        checked_params(ANIME_EYES, change, "g.toml", "edits[0]")


def test_missing_eyeball_set_is_an_input_error():
    with pytest.raises(InputError, match="eyeball_right"):
        eye_centres(VERTS, {"eyeball_left": SETS["eyeball_left"]})
