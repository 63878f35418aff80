"""The numba projection is gsplat's torch projection bit for bit (covariances, radii, means2d,
depths, conics), on random cameras and splats in front of, behind, beside and across the frustum."""

from __future__ import annotations

import numpy as np
import torch
from hypothesis import given
from hypothesis import strategies as st

from avatarcheck.render import cpu_raster, gsplat_adapter, projection

_PAIRS = [(0, 0), (0, 1), (0, 2), (1, 1), (1, 2), (2, 2)]


def _rot(q: np.ndarray) -> np.ndarray:
    w, x, y, z = q / np.linalg.norm(q)
    return np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
                     [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
                     [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)]])


@st.composite
def scenes(draw):
    """means, quats (unnormalised), scales, opacities, viewmat, K, width, height (float32)."""
    seed = draw(st.integers(0, 2**32 - 1))
    n = draw(st.integers(1, 300))
    width, height = draw(st.integers(1, 300)), draw(st.integers(1, 300))
    rng = np.random.default_rng(seed)
    f = rng.uniform(10, 800)
    K = np.array([[f, 0, width * rng.uniform(0.2, 0.8)], [0, f * rng.uniform(0.8, 1.2), height * rng.uniform(0.2, 0.8)],
                  [0, 0, 1]])
    z = rng.uniform(-1.0, 5.0, n)
    z[rng.uniform(size=n) < 0.05] = 0.0  # on the camera plane
    spread = rng.uniform(0, 2.5, (2, n)) * np.abs(z) * np.array([[width / f], [height / f]])
    pc = np.stack([spread[0] * rng.choice([-1, 1], n), spread[1] * rng.choice([-1, 1], n), z], -1)
    R = _rot(rng.normal(size=4))
    t = rng.normal(size=3)
    viewmat = np.eye(4)
    viewmat[:3, :3], viewmat[:3, 3] = R, t
    means = (pc - t) @ R
    quats = rng.normal(size=(n, 4)) * rng.uniform(0.1, 10)
    scales = np.exp(rng.uniform(-9, 0, (n, 3)))
    opacities = rng.uniform(0.0, 1.0, n)
    f32 = lambda a: np.asarray(a, np.float32)  # noqa: E731
    return (f32(means), f32(quats), f32(scales), f32(opacities), f32(viewmat), f32(K), width, height)


def _torch(means, quats, scales, viewmat, K, width, height, near=0.01, far=100.0):
    t = torch.from_numpy
    covars = gsplat_adapter.covariances(t(quats), t(scales))
    p = gsplat_adapter.project(t(means), covars, t(viewmat), t(K), width, height, near_plane=near, far_plane=far)
    return covars.numpy(), p


@given(scenes())
def test_bit_identical_to_gsplat_torch(scene):
    means, quats, scales, opac, viewmat, K, width, height = scene
    covars, ref = _torch(means, quats, scales, viewmat, K, width, height)
    covs = projection.covariances(quats, scales)
    for k, (i, j) in enumerate(_PAIRS):
        assert np.array_equal(covs[:, k], covars[:, i, j]) and np.array_equal(covs[:, k], covars[:, j, i])
    got = projection.project(means, covs, opac, viewmat, K, width, height, 0.01, 100.0)
    assert got.radii.dtype == np.int32 and got.means2d.dtype == np.float32
    assert np.array_equal(got.radii, ref.radii.numpy())
    drawn = (got.radii > 0).all(1)
    # culled splats carry whatever their (unused) values are; drawn ones must match exactly
    assert np.array_equal(got.means2d[drawn], ref.means2d.numpy()[drawn])
    assert np.array_equal(got.depths[drawn], ref.depths.numpy()[drawn])
    assert np.array_equal(got.conics[drawn], ref.conics.numpy()[drawn])


@given(scenes())
def test_footprints_match_the_rasteriser(scene):
    """The cut and ellipse extents computed with the projection are ``cpu_raster._footprints``'s,
    to float64 rounding of the log (which the margins absorb)."""
    means, quats, scales, opac, viewmat, K, width, height = scene
    got = projection.project(means, projection.covariances(quats, scales), opac, viewmat, K, width, height,
                             0.01, 100.0)
    drawn = (got.radii > 0).all(1)
    cuts, hx, hy = cpu_raster._footprints(opac, got.conics)
    np.testing.assert_allclose(got.cuts[drawn], cuts[drawn], rtol=1e-6, atol=1e-6)
    for a, b in ((got.half_x, hx), (got.half_y, hy)):
        a, b = a[drawn], b[drawn]
        assert np.array_equal(np.isinf(a), np.isinf(b)) and np.array_equal(a[np.isinf(a)], b[np.isinf(b)])
        np.testing.assert_allclose(a[np.isfinite(a)], b[np.isfinite(b)], rtol=1e-12)
    assert np.isneginf(got.cuts[~drawn]).all()


def test_batch_shares_covariances_and_matches_frames():
    rng = np.random.default_rng(4)
    n = 500
    means = np.stack([rng.uniform(-0.3, 0.3, (n, 3)) + [0, 0, 2] for _ in range(3)]).astype(np.float32)
    quats = rng.normal(size=(n, 4)).astype(np.float32)
    scales = rng.uniform(0.002, 0.05, (n, 3)).astype(np.float32)
    opac = rng.uniform(0.1, 1, n).astype(np.float32)
    K = np.array([[300, 0, 64], [0, 300, 48], [0, 0, 1]], np.float32)
    vm = np.eye(4, dtype=np.float32)
    covs = projection.covariances(quats, scales)
    batch = projection.project_batch(means, covs[None], opac[None], vm, K, 128, 96, 0.01, 100.0)
    assert batch.radii.shape == (3, n, 2) and batch.conics.shape == (3, n, 3)
    assert (batch.radii > 0).all(2).sum() > n  # most are drawn
    for b in range(3):
        one = projection.project(means[b], covs, opac, vm, K, 128, 96, 0.01, 100.0)
        for field in ("radii", "means2d", "depths", "conics", "cuts", "half_x", "half_y"):
            assert np.array_equal(getattr(batch, field)[b], getattr(one, field)), field
    # per-frame covariances: a (B, N, 6) batch of them is the same as one shared set
    per_frame = projection.covariances(np.stack([quats] * 3), np.stack([scales] * 3))
    assert per_frame.shape == (3, n, 6) and np.array_equal(per_frame[1], covs)


def test_near_far_and_behind_are_culled():
    means = np.array([[0, 0, 0.005], [0, 0, -1.0], [0, 0, 150.0], [0, 0, 2.0]], np.float32)
    quats = np.tile(np.array([[1, 0, 0, 0]], np.float32), (4, 1))
    scales = np.full((4, 3), 0.01, np.float32)
    K = np.array([[100, 0, 32], [0, 100, 32], [0, 0, 1]], np.float32)
    got = projection.project(means, projection.covariances(quats, scales), np.ones(4, np.float32),
                             np.eye(4, dtype=np.float32), K, 64, 64, 0.01, 100.0)
    assert (got.radii[:3] == 0).all() and (got.radii[3] > 0).all()
