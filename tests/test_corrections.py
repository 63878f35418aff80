"""Scale pull-backs: the ratio, multiplicative boosts, the anisotropic correction, the lash ring."""

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy.spatial import ConvexHull
from scipy.spatial.transform import Rotation

from avatarcheck.edit.corrections import anisotropic_correction, lash_ring, scale_by, scale_ratio
from avatarcheck.errors import InputError
from avatarcheck.head.subdivide import unique_edges


def hull(seed: int, n: int = 30):
    pts = np.random.default_rng(seed).normal(size=(n, 3))
    h = ConvexHull(pts)
    used = np.unique(h.simplices)
    remap = np.full(n, -1)
    remap[used] = np.arange(len(used))
    faces = remap[h.simplices]
    return pts[used], faces, unique_edges(faces, len(used))[0]


@given(st.integers(0, 999), st.floats(0.2, 5.0))
def test_uniform_scaling_gives_k_everywhere(seed, k):
    v, _, e = hull(seed)
    np.testing.assert_allclose(scale_ratio(v, k * v, e), k, rtol=1e-6)


@given(st.integers(0, 999), st.integers(0, 999))
def test_ratio_invariant_to_rigid_motion_of_both(seed, rseed):
    v, _, e = hull(seed)
    edited = v * np.array([1.4, 1.0, 0.8]) + 0.1 * np.sin(v)
    R = Rotation.random(random_state=rseed).as_matrix()
    t = np.random.default_rng(rseed).normal(size=3)
    r0 = scale_ratio(v, edited, e)
    r1 = scale_ratio(v @ R.T + t, edited @ R.T + t, e)
    np.testing.assert_allclose(r0, r1, rtol=1e-5)
    assert (r0 > 0).all() and np.isfinite(r0).all() and r0.dtype == np.float32


def test_ratio_matches_a_hand_count():
    # Square pyramid-free case: one triangle, vertex 0 has edges to 1 and 2.
    v = np.array([[0.0, 0, 0], [1, 0, 0], [0, 2, 0]])
    e = np.array([[0, 1], [0, 2], [1, 2]])
    edited = v * np.array([3.0, 1.0, 1.0])  # stretch x by 3
    # vertex 0: before (1 + 2) / 2, after (3 + 2) / 2
    assert scale_ratio(v, edited, e)[0] == pytest.approx(5 / 3)


def test_ratio_errors():
    v, _, e = hull(1)
    with pytest.raises(InputError, match="edited"):
        scale_ratio(v, v[:-1], e)
    bad = v.copy()
    bad[0] = np.nan
    with pytest.raises(InputError, match="edited.*finite"):
        scale_ratio(v, bad, e)
    collapsed = np.zeros_like(v)
    with pytest.raises(InputError, match="zero mean edge length"):
        scale_ratio(collapsed, v, e)


def covariance(q, s):
    R = Rotation.from_quat(np.column_stack([q[:, 1:], q[:, :1]])).as_matrix()
    M = R * s[:, None, :]
    return M @ M.transpose(0, 2, 1)


@given(st.integers(0, 10_000))
def test_anisotropic_correction_exact_for_affine_maps(seed):
    rng = np.random.default_rng(seed)
    n = 16
    q = Rotation.random(n, random_state=seed).as_quat()[:, [3, 0, 1, 2]]
    s = rng.uniform(1e-3, 1e-2, (n, 3))
    A = rng.normal(size=(3, 3)) + 2 * np.eye(3)
    assume(abs(np.linalg.det(A)) >= 0.1)  # near-singular: a rejected draw, not a pass
    J = np.broadcast_to(A, (n, 3, 3))
    q2, s2 = anisotropic_correction(q, s, J)
    np.testing.assert_allclose(np.linalg.norm(q2, axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(covariance(q2.astype(np.float64), s2.astype(np.float64)),
                               A @ covariance(q, s) @ A.T, rtol=1e-4, atol=1e-10)


def test_anisotropic_correction_of_uniform_scaling_is_the_ratio():
    q = Rotation.random(5, random_state=0).as_quat()[:, [3, 0, 1, 2]]
    s = np.random.default_rng(0).uniform(1e-3, 1e-2, (5, 3))
    _, s2 = anisotropic_correction(q, s, np.broadcast_to(1.5 * np.eye(3), (5, 3, 3)))
    np.testing.assert_allclose(np.sort(s2, axis=1), np.sort(1.5 * s, axis=1), rtol=1e-5)
    with pytest.raises(InputError, match="singular"):
        anisotropic_correction(q, s, np.zeros((5, 3, 3)))


def test_boost_multiplies_the_linear_sigma():
    s = np.array([[0.002, 0.002, 0.0006]], np.float32)
    np.testing.assert_allclose(scale_by(s, 1.5), s * 1.5)
    np.testing.assert_allclose(scale_by(s, np.array([2.0], np.float32)), s * 2.0)


def test_adding_log_boost_is_caught_as_wrong():
    """The LAM chibi recipe's mistake: log(boost) added to the linear sigma. The override layer rejects it."""
    from avatarcheck.edit.overrides import check_plausible_scales

    s = np.full((4, 3), 0.002, np.float32)
    check_plausible_scales(s, scale_by(s, 1.5))  # the right way passes
    with pytest.raises(InputError, match="adding log"):
        check_plausible_scales(s, s + np.log(1.5))


def test_lash_ring_is_the_moved_part_of_the_mesh_boundary():
    # A 7 x 7 vertex grid (open: its outer rim is the mesh boundary); the blink moves rows 0-2.
    n = 7
    idx = np.arange(n * n).reshape(n, n)
    faces = np.concatenate([np.stack([idx[:-1, :-1], idx[1:, :-1], idx[1:, 1:]], -1).reshape(-1, 3),
                            np.stack([idx[:-1, :-1], idx[1:, 1:], idx[:-1, 1:]], -1).reshape(-1, 3)])
    disp = np.zeros((n * n, 3))
    disp[idx[:3].ravel(), 1] = -1.0
    # Rim vertices among the moved rows: all of row 0, and the two ends of rows 1 and 2.
    want = sorted(set(idx[0]) | {idx[1, 0], idx[1, -1], idx[2, 0], idx[2, -1]})
    assert lash_ring(faces, disp).tolist() == want
    assert lash_ring(faces, np.zeros((n * n, 3))).size == 0


def test_lash_ring_on_the_synthetic_head_is_the_eye_opening(head):
    from avatarcheck.arkit import arkit_index

    blink = head.arkit_basis[arkit_index("eyeBlinkLeft")]
    ring = lash_ring(head.faces, blink)
    opening = head.vertex_set("eye_opening_left")
    moved = np.linalg.norm(blink, axis=1) > 1e-7
    np.testing.assert_array_equal(ring, np.sort(opening[moved[opening]]))
    assert len(ring) > 20


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**31 - 1), st.floats(1.0, 8.0), st.floats(1.0, 300.0))
def test_a_jacobian_correction_changes_sorted_sigmas_by_at_most_its_singular_values(seed, cond, flatness):
    # Flat splats (thin axis 1/flatness of the wide ones) sheared by J: axes swap, yet the sorted
    # sigmas move by factors within [sigma_min(J), sigma_max(J)], and the plausibility guard agrees.
    from avatarcheck.edit.overrides import check_plausible_scales

    rng = np.random.default_rng(seed)
    n = 16
    scales = np.stack([np.full(n, 0.003), np.full(n, 0.002), np.full(n, 0.003 / flatness)], 1).astype(np.float32)
    quats = Rotation.random(n, random_state=rng).as_quat(scalar_first=True).astype(np.float32)
    U, V = Rotation.random(2 * n, random_state=rng).as_matrix().reshape(2, n, 3, 3)
    sv = np.exp(rng.uniform(-np.log(cond), np.log(cond), (n, 3)))
    J = (U * sv[:, None, :]) @ V
    _, after = anisotropic_correction(quats, scales, J.astype(np.float32))
    factor = np.sort(after, 1) / np.sort(scales, 1)
    lo, hi = sv.min(1, keepdims=True), sv.max(1, keepdims=True)
    assert (factor >= lo * (1 - 1e-3)).all() and (factor <= hi * (1 + 1e-3)).all()
    check_plausible_scales(scales, after)  # cond <= 8 < PLAUSIBLE_FACTOR: never refused
