"""CPU reference rasteriser: an independent float64 oracle, hand-derived cases, determinism, input errors.

The oracle below shares no code with ``avatarcheck.render``: its own quaternion -> covariance, EWA
projection (gsplat's ``_persp_proj`` formulas) and a per-pixel front-to-back loop without tiles, all
in float64. It also reports the pixels whose result hinges on a threshold decision (alpha vs 1/255,
next T vs 1e-4, sigma vs 0) that float32 rounding could flip; only those are excluded from the
comparison.
"""

from __future__ import annotations

import contextlib
import functools
from unittest import mock

import numba
import numpy as np
import pytest
import torch

from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from avatarcheck.errors import InputError
from avatarcheck.render import cpu_raster
from avatarcheck.render.cpu_raster import rasterize_cpu, rasterize_splats

W, H = 40, 24  # not multiples of 16: partial tiles on both axes

# How far (relative) a threshold decision may move between the float32 renderer and the float64
# oracle: alpha within ALPHA_REL of 1/255, next T within T_REL of 1e-4 make a pixel "sensitive".
# Measured over 3000 random scenes: windows 10x narrower already leave only pixels that agree to
# 4e-6; flips (differences up to 6e-4) happen only inside them. Sensitive pixels: ~0.1% on average.
ALPHA_REL = 1e-3
T_REL = 1e-2
# Allowed difference on all other pixels (measured max 4e-6).
COLOR_ATOL = 2e-5
ALPHA_ATOL = 2e-5


# ------------------------------------------------------------------------------------------------
# The oracle (float64, no tiles, no shared code)
# ------------------------------------------------------------------------------------------------


def quat_to_rot(q: np.ndarray) -> np.ndarray:
    q = q / np.linalg.norm(q, axis=1, keepdims=True)
    w, x, y, z = q.T
    return np.stack([
        np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], -1),
        np.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], -1),
        np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], -1),
    ], 1)


def oracle_project(means, quats, scales, viewmat, K, width, height, eps2d=0.3, near=0.01, far=100.0):
    """EWA splatting in float64: (radii int (N, 2), means2d (N, 2), depths (N,), conics (N, 3))."""
    means, quats, scales, viewmat, K = (np.asarray(a, np.float64) for a in (means, quats, scales, viewmat, K))
    rot = quat_to_rot(quats)
    m = rot * scales[:, None, :]
    cov = m @ m.transpose(0, 2, 1)
    rv, tv = viewmat[:3, :3], viewmat[:3, 3]
    pc = means @ rv.T + tv
    cc = rv @ cov @ rv.T
    fx, fy, cx, cy = K[0, 0], K[1, 1], K[0, 2], K[1, 2]
    x, y, z = pc.T
    tan_x, tan_y = 0.5 * width / fx, 0.5 * height / fy
    with np.errstate(divide="ignore", invalid="ignore"):
        # gsplat's _persp_proj: the Jacobian is taken at x/z, y/z clamped to 1.3x the frustum
        tx = z * np.clip(x / z, -(cx / fx + 0.3 * tan_x), (width - cx) / fx + 0.3 * tan_x)
        ty = z * np.clip(y / z, -(cy / fy + 0.3 * tan_y), (height - cy) / fy + 0.3 * tan_y)
        J = np.zeros((len(z), 2, 3))
        J[:, 0, 0] = fx / z
        J[:, 0, 2] = -fx * tx / z**2
        J[:, 1, 1] = fy / z
        J[:, 1, 2] = -fy * ty / z**2
        cov2 = J @ cc @ J.transpose(0, 2, 1) + eps2d * np.eye(2)
        means2d = np.stack([fx * x / z + cx, fy * y / z + cy], -1)  # unclamped centre
        a, b, c = cov2[:, 0, 0], cov2[:, 0, 1], cov2[:, 1, 1]
        det = a * c - b * b
        conics = np.stack([c / det, -b / det, a / det], -1)
        radii = np.ceil(3.33 * np.sqrt(np.stack([a, c], -1)))
    valid = (det > 0) & (z > near) & (z < far)
    valid &= ((means2d[:, 0] + radii[:, 0] > 0) & (means2d[:, 0] - radii[:, 0] < width)
              & (means2d[:, 1] + radii[:, 1] > 0) & (means2d[:, 1] - radii[:, 1] < height))
    radii = np.where(valid[:, None], radii, 0).astype(np.int64)
    return radii, means2d, z, conics


def oracle_raster(means2d, conics, opacities, colors, depths, radii, width, height):
    """gsplat's per-pixel rule in float64, splats in stable depth order, no tiles.

    Loops over splats and updates every pixel at once (each pixel's recurrence is independent).
    Returns (colors (H, W, D), alpha (H, W), sensitive (H, W) bool).
    """
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float64) + 0.5
    D = colors.shape[1]
    T = np.ones((height, width))
    out = np.zeros((height, width, D))
    done = np.zeros((height, width), bool)
    sensitive = np.zeros((height, width), bool)
    valid = (radii[:, 0] > 0) & (radii[:, 1] > 0)
    order = [i for i in np.argsort(depths, kind="stable") if valid[i]]
    for i in order:
        a, b, c = conics[i]
        dx, dy = means2d[i, 0] - xs, means2d[i, 1] - ys
        quad = 0.5 * (a * dx * dx + c * dy * dy)
        sigma = quad + b * dx * dy
        alpha = np.minimum(0.999, opacities[i] * np.exp(-sigma))
        live = ~done
        sensitive |= live & (sigma < 1e-4 * (quad + np.abs(b * dx * dy)))
        sensitive |= live & (np.abs(alpha * 255.0 - 1.0) < ALPHA_REL)
        draw = live & (sigma >= 0) & (alpha >= 1.0 / 255.0)
        next_t = T * (1.0 - alpha)
        sensitive |= draw & (np.abs(next_t / 1e-4 - 1.0) < T_REL)
        stop = draw & (next_t <= 1e-4)
        add = draw & ~stop
        out += np.where(add[..., None], colors[i] * (alpha * T)[..., None], 0.0)
        T = np.where(add, next_t, T)
        done |= stop
    return out, 1.0 - T, sensitive


# ------------------------------------------------------------------------------------------------
# Random scenes
# ------------------------------------------------------------------------------------------------


@st.composite
def scenes(draw):
    n = draw(st.integers(1, 40))
    d = draw(st.sampled_from([1, 3, 4, 5]))
    seed = draw(st.integers(0, 2**32 - 1))
    return scene_from(n, d, seed, draw(st.floats(25.0, 70.0)))


def scene_from(n: int, d: int, seed: int, f: float) -> tuple[np.ndarray, ...]:
    """n splats with d colour channels, a camera of focal length f (px), the rest from ``seed``:
    (means, quats, scales, opacities, colors, viewmat, K), float32."""
    rng = np.random.default_rng(seed)
    K = np.array([[f, 0, W / 2 + rng.uniform(-3, 3)], [0, f * rng.uniform(0.9, 1.1), H / 2 + rng.uniform(-3, 3)],
                  [0, 0, 1]])
    # camera-frame centres: mostly in view, some outside the frustum (Jacobian clamp), some behind
    z = rng.uniform(-0.3, 4.0, n)
    reach = np.abs(z) * rng.uniform(0.0, 1.8, (2, n)) * np.array([[W / 2 / f], [H / 2 / f]])
    pc = np.stack([reach[0] * rng.choice([-1, 1], n), reach[1] * rng.choice([-1, 1], n), z], -1)
    # a random camera: world = R^T (camera - t)
    q = rng.normal(size=4)
    R = quat_to_rot(q[None])[0]
    t = rng.normal(size=3)
    viewmat = np.eye(4)
    viewmat[:3, :3], viewmat[:3, 3] = R, t
    means = (pc - t) @ R
    quats = rng.normal(size=(n, 4))
    scales = rng.uniform(0.05, 1.0, (n, 3)) * 0.25
    opacities = rng.uniform(0.05, 1.0, n)
    colors = rng.uniform(0.0, 1.0, (n, d))
    f32 = lambda a: np.asarray(a, np.float32)  # noqa: E731
    return tuple(map(f32, (means, quats, scales, opacities, colors, viewmat, K)))


def oracle_render(means, quats, scales, opacities, colors, viewmat, K, width=W, height=H):
    radii, m2, depths, conics = oracle_project(means, quats, scales, viewmat, K, width, height)
    return oracle_raster(m2, conics, opacities.astype(np.float64), colors.astype(np.float64), depths, radii,
                         width, height)


# A scene whose pixels the oracle mostly cannot decide (a fresh clone once drew it; see the assume below).
FLAT_STACK = (33, 3, 513450599, 52.24426870635757)


@given(scenes())
@example(scene_from(*FLAT_STACK))
def test_matches_float64_oracle(scene):
    colors, alpha = rasterize_splats(*scene, W, H)
    ref_c, ref_a, sensitive = oracle_render(*scene)
    assert colors.shape == (H, W, scene[4].shape[1]) and colors.dtype == np.float32
    assert alpha.shape == (H, W) and alpha.dtype == np.float32
    keep = ~sensitive
    # The oracle cannot decide a pixel whose next T lands within T_REL of 1e-4 (or alpha of 1/255): a
    # stack of broad, flat splats can put a whole region there (measured: 1 scene in 3000, 7.7 % of its
    # pixels). Such a scene tests too little, so it is not an example; were most scenes like that,
    # hypothesis would fail the test as unsatisfiable (filter_too_much), so the guard stays.
    assume(sensitive.mean() < 0.05)
    np.testing.assert_allclose(colors[keep], ref_c[keep], rtol=0, atol=COLOR_ATOL)
    np.testing.assert_allclose(alpha[keep], ref_a[keep], rtol=0, atol=ALPHA_ATOL)


def test_the_flat_stack_is_a_scene_the_oracle_cannot_decide():
    """Why the assume above exists: this drawn scene leaves the oracle undecided on 7.7 % of the image."""
    assert oracle_render(*scene_from(*FLAT_STACK))[2].mean() >= 0.05


@given(scenes())
def test_projection_matches_oracle(scene):
    from avatarcheck.render import gsplat_adapter

    means, quats, scales, _, _, viewmat, K = scene
    t = torch.from_numpy
    p = gsplat_adapter.project(t(means), gsplat_adapter.covariances(t(quats), t(scales)), t(viewmat), t(K), W, H)
    radii, m2, depths, conics = oracle_project(means, quats, scales, viewmat, K, W, H)
    got_r = p.radii.numpy()
    both = (got_r > 0).all(1) & (radii > 0).all(1)
    # culling agrees except within a pixel of the image border (ceil of 3.33 sigma)
    assert (((got_r > 0).all(1) != (radii > 0).all(1)) <= ~both).all()
    assert np.abs(got_r[both] - radii[both]).max(initial=0) <= 1
    # float32 rounding of the world -> camera transform, magnified by f / z
    f = float(K[0, 0])
    mag = f * (np.linalg.norm(means, axis=1) + np.linalg.norm(viewmat[:3, 3]) + 1.0) / np.abs(depths)
    tol = 1e-4 + 1e-6 * mag[both]  # measured: <= 3.4e-8 * mag over 3000 scenes
    assert (np.abs(p.means2d.numpy()[both] - m2[both]).max(axis=1) <= tol).all()
    np.testing.assert_allclose(p.depths.numpy()[both], depths[both], rtol=1e-5, atol=1e-5)
    # conics: compare as a whole, relative to their largest entry
    scale = np.abs(conics[both]).max(axis=1)
    assert (np.abs(p.conics.numpy()[both] - conics[both]).max(axis=1) <= 5e-4 * scale).all()  # measured: <= 2.5e-5


@given(scenes())
def test_tiling_and_block_lists_change_no_bit(scene):
    """Tile size and the per-block list filter change nothing (radii bound every alpha >= 1/255)."""
    from avatarcheck.render import gsplat_adapter

    means, quats, scales, opacities, colors, viewmat, K = scene
    t = torch.from_numpy
    p = gsplat_adapter.project(t(means), gsplat_adapter.covariances(t(quats), t(scales)), t(viewmat), t(K), W, H)
    args = (p.means2d.numpy(), p.conics.numpy(), opacities, colors, p.depths.numpy(), p.radii.numpy(), W, H)
    ref = rasterize_cpu(*args)
    for ts in (8, 32, 5):
        out = rasterize_cpu(*args, tile_size=ts)
        assert np.array_equal(out[0], ref[0]) and np.array_equal(out[1], ref[1]), ts
    valid = (p.radii.numpy() > 0).all(1)
    plain = cpu_raster._rasterize(*(np.ascontiguousarray(a) for a in args[:6]), valid, W, H, 16,
                                  filter_lists=False)
    assert np.array_equal(plain[0], ref[0]) and np.array_equal(plain[1], ref[1])


def test_block_lists_change_no_bit_on_needles():
    """Very elongated and nearly singular conics: the list filter still only drops skipped splats."""
    rng = np.random.default_rng(3)
    n = 300
    ang = rng.uniform(0, np.pi, n)
    s_long = 10 ** rng.uniform(0, 3, n)
    s_short = 10 ** rng.uniform(-2, 0, n)
    c, s = np.cos(ang), np.sin(ang)
    cov = np.empty((n, 2, 2))
    cov[:, 0, 0] = c * c * s_long**2 + s * s * s_short**2
    cov[:, 1, 1] = s * s * s_long**2 + c * c * s_short**2
    cov[:, 0, 1] = cov[:, 1, 0] = c * s * (s_long**2 - s_short**2)
    inv = np.linalg.inv(cov)
    conics = np.stack([inv[:, 0, 0], inv[:, 0, 1], inv[:, 1, 1]], -1).astype(np.float32)
    m2 = rng.uniform(-20, 80, (n, 2)).astype(np.float32)
    radii = np.full((n, 2), 200, np.int32)  # cover everything: only the kernel's tests decide
    op = rng.uniform(0.05, 1, n).astype(np.float32)
    col = rng.uniform(0, 1, (n, 3)).astype(np.float32)
    dep = rng.uniform(1, 2, n).astype(np.float32)
    valid = np.ones(n, bool)
    a = cpu_raster._rasterize(m2, conics, op, col, dep, radii, valid, 64, 48, 16, filter_lists=True)
    b = cpu_raster._rasterize(m2, conics, op, col, dep, radii, valid, 64, 48, 16, filter_lists=False)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert a[1].max() > 0.5


# ------------------------------------------------------------------------------------------------
# Hand-derived cases (rasterize_cpu directly; float32 arithmetic written out)
# ------------------------------------------------------------------------------------------------

F = np.float32


def splats(*rows, d=3):
    """rows: (x, y, (a, b, c), opacity, colour, depth) -> rasterize_cpu arguments (radius 8)."""
    m2 = np.array([[r[0], r[1]] for r in rows], np.float32)
    con = np.array([r[2] for r in rows], np.float32)
    op = np.array([r[3] for r in rows], np.float32)
    col = np.array([r[4] for r in rows], np.float32).reshape(len(rows), d)
    dep = np.array([r[5] for r in rows], np.float32)
    return m2, con, op, col, dep, np.full((len(rows), 2), 8, np.int32)


def test_centred_splat_gives_its_opacity():
    c = (0.2, 0.4, 1.0)
    out, alpha = rasterize_cpu(*splats((8.5, 5.5, (0.5, 0.0, 0.5), 0.7, c, 1.0)), 20, 12)
    assert alpha[5, 8] == F(1) - (F(1) - F(0.7))  # exp(0) = 1: alpha = o exactly
    assert np.array_equal(out[5, 8], np.array(c, np.float32) * F(0.7))
    out, alpha = rasterize_cpu(*splats((8.5, 5.5, (0.5, 0.0, 0.5), 1.0, c, 1.0)), 20, 12)
    assert alpha[5, 8] == F(1) - (F(1) - F(0.999))  # clamped to 0.999
    assert alpha[5, 8] < 1.0


def test_alpha_below_threshold_contributes_nothing():
    # unit conic: sigma = |d|^2 / 2, opacity 0.5
    args = splats((8.5, 5.5, (1.0, 0.0, 1.0), 0.5, (1, 1, 1), 1.0))
    out, alpha = rasterize_cpu(*args, 20, 12)
    assert alpha[5, 11] > 0  # dx = 3: 0.5 e^-4.5 = 0.0056 >= 1/255
    assert alpha[6, 11] == 0 and (out[6, 11] == 0).all()  # dx = 3, dy = 1: 0.5 e^-5 = 0.0034 < 1/255
    assert alpha[5, 12] == 0 and (out[5, 12] == 0).all()  # dx = 4: 0.5 e^-8
    assert np.count_nonzero(alpha) == np.count_nonzero(0.5 * np.exp(-0.5 * (
        (np.arange(20)[None] - 8) ** 2 + (np.arange(12)[:, None] - 5) ** 2)) >= 1 / 255)


def test_negative_sigma_is_skipped():
    # an indefinite conic: sigma = 0.5 (dx^2 - dy^2) < 0 above and below the centre
    out, alpha = rasterize_cpu(*splats((8.5, 5.5, (1.0, 0.0, -1.0), 0.5, (1, 1, 1), 1.0)), 20, 12)
    assert alpha[5, 8] == F(1) - (F(1) - F(0.5))
    assert alpha[6, 8] == 0 and alpha[4, 8] == 0  # o e^{+0.5} would be drawn if not skipped
    assert alpha[5, 9] > 0


def test_pixel_stops_before_the_splat_that_takes_T_to_1e4():
    red, green, blue = (1, 0, 0), (0, 1, 0), (0, 0, 1)
    # A: 0.999 -> T = 0.001; B: would take T to 1e-6 -> not added, and nothing behind it either
    out, alpha = rasterize_cpu(*splats((8.5, 5.5, (1, 0, 1), 1.0, red, 1.0), (8.5, 5.5, (1, 0, 1), 1.0, green, 2.0),
                                       (8.5, 5.5, (1, 0, 1), 1.0, blue, 3.0)), 20, 12)
    t1 = F(1) * (F(1) - F(0.999))
    assert np.array_equal(out[5, 8], np.array([F(0.999) * F(1), 0, 0], np.float32))
    assert alpha[5, 8] == F(1) - t1
    # A: T = 0.001; B (0.5): T = 0.0005 > 1e-4, added; C (0.9): T would be 5e-5 -> stop before C
    out, alpha = rasterize_cpu(*splats((8.5, 5.5, (1, 0, 1), 1.0, red, 1.0), (8.5, 5.5, (1, 0, 1), 0.5, green, 2.0),
                                       (8.5, 5.5, (1, 0, 1), 0.9, blue, 3.0)), 20, 12)
    t2 = t1 * (F(1) - F(0.5))
    assert np.array_equal(out[5, 8], np.array([F(0.999), F(0.5) * t1, 0], np.float32))
    assert alpha[5, 8] == F(1) - t2


def test_depth_order_decides():
    red, green = (1, 0, 0), (0, 1, 0)
    front_red = splats((8.5, 5.5, (1, 0, 1), 0.5, red, 1.0), (8.5, 5.5, (1, 0, 1), 0.5, green, 2.0))
    out, _ = rasterize_cpu(*front_red, 20, 12)
    assert tuple(out[5, 8]) == (0.5, 0.25, 0.0)
    front_green = splats((8.5, 5.5, (1, 0, 1), 0.5, red, 2.0), (8.5, 5.5, (1, 0, 1), 0.5, green, 1.0))
    out2, _ = rasterize_cpu(*front_green, 20, 12)
    assert tuple(out2[5, 8]) == (0.25, 0.5, 0.0)
    assert np.array_equal(out2[..., [1, 0, 2]], out)  # colours swap everywhere
    # equal depths: the lower index is in front (gsplat's stable sort)
    tie = splats((8.5, 5.5, (1, 0, 1), 0.5, red, 1.0), (8.5, 5.5, (1, 0, 1), 0.5, green, 1.0))
    assert np.array_equal(rasterize_cpu(*tie, 20, 12)[0], out)


def test_eyeball_channel_is_the_eyeball_share():
    lid, eye = (0.9, 0.7, 0.6, 0.0), (1.0, 0.0, 1.0, 1.0)  # [R, G, B, E]: E = 1 on the eyeball only
    args = splats((8.5, 5.5, (0.3, 0.05, 0.2), 0.6, lid, 1.0), (9.0, 5.0, (0.25, 0.0, 0.25), 0.8, eye, 2.0), d=4)
    out, alpha = rasterize_cpu(*args, 20, 12)
    # pixel (8, 5): the lid is centred there (weight 0.6), the eyeball sits behind it (0.8 x 0.4)
    centred = splats((8.5, 5.5, (0.3, 0.05, 0.2), 0.6, lid, 1.0), (8.5, 5.5, (0.25, 0.0, 0.25), 0.8, eye, 2.0), d=4)
    out_c, _ = rasterize_cpu(*centred, 20, 12)
    w_lid = F(0.6)
    w_eye = F(0.8) * (F(1) - w_lid)
    assert out_c[5, 8, 3] == w_eye
    assert out_c[5, 8, 0] == F(0.9) * w_lid + F(1.0) * w_eye
    assert out_c[5, 8, 1] == F(0.7) * w_lid
    # everywhere: the eyeball adds E x magenta to the lid-only image (the lid is in front)
    out_lid, _ = rasterize_cpu(*(a[:1] for a in args), 20, 12)
    assert out_lid[..., 3].max() == 0
    magenta = np.array(eye[:3], np.float32)
    np.testing.assert_allclose(out[..., :3] - out_lid[..., :3], out[..., 3:4] * magenta, atol=1e-6)
    assert (out[..., 3] >= 0).all() and (out[..., 3] <= alpha + 1e-6).all() and out[..., 3].max() > 0.1


def test_channel_counts_agree():
    """D = 1, 3, 5, 9: each channel is rendered the same whatever rides along."""
    rng = np.random.default_rng(7)
    n = 30
    m2 = rng.uniform(0, 40, (n, 2)).astype(np.float32)
    con = np.tile(np.array([[0.1, 0.02, 0.08]], np.float32), (n, 1))
    op = rng.uniform(0.3, 1, n).astype(np.float32)
    dep = rng.uniform(1, 2, n).astype(np.float32)
    rad = np.full((n, 2), 12, np.int32)
    col = rng.uniform(0, 1, (n, 9)).astype(np.float32)
    full, a9 = rasterize_cpu(m2, con, op, col, dep, rad, 40, 24)
    for d in (1, 3, 5):
        part, a = rasterize_cpu(m2, con, op, col[:, :d], dep, rad, 40, 24)
        assert np.array_equal(part, full[..., :d]) and np.array_equal(a, a9)


def test_exp_within_one_ulp():
    s = np.concatenate([np.linspace(0, 87, 200001), [0.0, 1e-30, 5.5413]]).astype(np.float32)

    @numba.njit
    def ev(x):
        out = np.empty_like(x)
        for i in range(x.shape[0]):
            out[i] = cpu_raster._exp_neg(x[i])
        return out

    got = ev(s)
    ref = np.exp(-s.astype(np.float64))
    ulp = np.spacing(ref.astype(np.float32)).astype(np.float64)
    normal = ref > np.finfo(np.float32).tiny
    assert (np.abs(got - ref)[normal] <= ulp[normal]).all()
    assert got[s == 0][0] == 1.0


# ------------------------------------------------------------------------------------------------
# Determinism, torch inputs, errors
# ------------------------------------------------------------------------------------------------


def _scene_args():
    rng = np.random.default_rng(11)
    n = 2000
    pc = np.stack([rng.uniform(-0.4, 0.4, n), rng.uniform(-0.3, 0.3, n), rng.uniform(1.5, 2.5, n)], -1)
    return (pc.astype(np.float32), rng.normal(size=(n, 4)).astype(np.float32),
            rng.uniform(0.005, 0.03, (n, 3)).astype(np.float32), rng.uniform(0.3, 1, n).astype(np.float32),
            rng.uniform(0, 1, (n, 4)).astype(np.float32), np.eye(4, dtype=np.float32),
            np.array([[200, 0, 96], [0, 200, 64], [0, 0, 1]], np.float32), 192, 128)


def test_deterministic_and_thread_count_independent():
    args = _scene_args()
    a = rasterize_splats(*args)
    b = rasterize_splats(*args)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert a[1].max() > 0.9
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = rasterize_splats(*args)
        numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
        two = rasterize_splats(*args)
    finally:
        numba.set_num_threads(before)
    assert np.array_equal(one[0], two[0]) and np.array_equal(one[1], two[1])
    assert np.array_equal(one[0], a[0])


def test_workspace_reuse_changes_no_bit(monkeypatch):
    # Binning carves its arrays from buffers kept between calls: a call after a larger or a smaller
    # one must give the bits of a call on fresh buffers.
    big = _scene_args()
    small = tuple(a[::3] if i < 5 else a for i, a in enumerate(big))
    monkeypatch.setattr(cpu_raster, "_workspaces", cpu_raster._Workspace())
    fresh = {}
    for name, args in (("big", big), ("small", small)):
        cpu_raster._workspaces.__init__()  # empty buffers: this call allocates its own
        fresh[name] = rasterize_splats(*args)
    assert not np.array_equal(fresh["big"][1], fresh["small"][1])
    for name in ("big", "small", "small", "big", "small"):
        got = rasterize_splats(*(big if name == "big" else small))
        assert np.array_equal(got[0], fresh[name][0]) and np.array_equal(got[1], fresh[name][1])
    assert cpu_raster._workspaces.f32.size > 0  # the buffers were kept, so the loop reused them


def test_batches_past_int32_positions_go_frame_by_frame(monkeypatch):
    # The shared schedule numbers all frames' splats in one int32 range; past it the batch must take
    # the per-frame schedule (positions per frame) even when asked for the shared one.
    args = _scene_args()
    means = np.stack([args[0], args[0] + np.float32(0.01)])
    ref = cpu_raster.rasterize_splats_batch(means, *args[1:])
    calls = []
    real = cpu_raster._render_frames
    monkeypatch.setattr(cpu_raster, "_render_frames", lambda *a: (calls.append(1), real(*a))[1])
    orig = cpu_raster._raster_batch
    monkeypatch.setattr(cpu_raster, "_raster_batch", lambda *a, **k: orig(*a, **{**k, "per_frame": False}))
    cpu_raster.rasterize_splats_batch(means, *args[1:])
    assert calls == []  # 2 frames x 2000 splats fit: the shared schedule, as asked
    monkeypatch.setattr(cpu_raster, "_SHARED_ROWS_MAX", 2 * args[0].shape[0] - 1)
    got = cpu_raster.rasterize_splats_batch(means, *args[1:])
    assert calls == [1]
    assert np.array_equal(got[0], ref[0]) and np.array_equal(got[1], ref[1])


def test_torch_inputs():
    args = _scene_args()
    ref = rasterize_splats(*args)
    got = rasterize_splats(*(torch.from_numpy(a) for a in args[:7]), *args[7:])
    assert np.array_equal(ref[0], got[0]) and np.array_equal(ref[1], got[1])


def test_empty_and_all_culled():
    z = np.zeros((0, 3), np.float32)
    out, alpha = rasterize_splats(z, np.zeros((0, 4), np.float32), z, np.zeros(0, np.float32),
                                  np.zeros((0, 4), np.float32), np.eye(4, dtype=np.float32),
                                  np.array([[50, 0, 10], [0, 50, 8], [0, 0, 1]], np.float32), 20, 16)
    assert out.shape == (16, 20, 4) and not out.any() and not alpha.any()
    behind = np.array([[0, 0, -1.0]], np.float32)
    out, alpha = rasterize_splats(behind, np.array([[1, 0, 0, 0]], np.float32), np.full((1, 3), 0.1, np.float32),
                                  np.ones(1, np.float32), np.ones((1, 3), np.float32), np.eye(4, dtype=np.float32),
                                  np.array([[50, 0, 10], [0, 50, 8], [0, 0, 1]], np.float32), 20, 16)
    assert not alpha.any()


def _good():
    args = list(_scene_args())
    return [a[:50] if i < 5 else a for i, a in enumerate(args)]


@pytest.mark.parametrize("field,index,bad", [
    ("means", 0, "nan"),
    ("means", 0, np.zeros((50, 2), np.float32)),
    ("quats", 1, np.zeros((50, 3), np.float32)),
    ("quats", 1, "zero"),
    ("scales", 2, "nan"),
    ("opacities", 3, np.zeros((50, 1), np.float32)),
    ("colors", 4, np.zeros(50, np.float32)),
    ("colors", 4, "nan"),
    ("viewmat", 5, np.eye(3, dtype=np.float32)),
    ("K", 6, "nan"),
])
def test_rasterize_splats_rejects(field, index, bad):
    args = _good()
    if isinstance(bad, str):
        arr = np.array(args[index], copy=True)
        arr.reshape(-1)[3] = np.nan if bad == "nan" else arr.reshape(-1)[3]
        if bad == "zero":
            arr[7] = 0
        bad = arr
    args[index] = bad
    with pytest.raises(InputError) as e:
        rasterize_splats(*args)
    assert e.value.field == field and e.value.source == "rasterize_splats"


@pytest.mark.parametrize("value", [0.0, 1e-30, -1e-25])
def test_unnormalisable_quaternion_is_named_by_row(value):
    # 1e-30 is not zero, but its float32 squared norm is: it cannot be normalised either
    args = _good()
    q = np.array(args[1], copy=True)
    q[7] = value
    assert np.linalg.norm(q[7]) == 0
    args[1] = q
    with pytest.raises(InputError, match="zero quaternion at row 7") as e:
        rasterize_splats(*args)
    assert e.value.field == "quats"


def test_rasterize_cpu_rejects():
    args = list(splats((8.5, 5.5, (1, 0, 1), 0.5, (1, 1, 1), 1.0), (3.0, 2.0, (1, 0, 1), 0.5, (1, 1, 1), 1.0)))
    for i, field, bad in [(0, "means2d", np.zeros((2, 3), np.float32)),
                          (1, "conics", np.zeros((1, 3), np.float32)),
                          (3, "colors", np.zeros((2, 0), np.float32)),
                          (5, "radii", np.full((2, 2), 8.0, np.float32)),
                          (5, "radii", np.full((2,), 8, np.int32))]:
        bad_args = list(args)
        bad_args[i] = bad
        with pytest.raises(InputError) as e:
            rasterize_cpu(*bad_args, 20, 12)
        assert e.value.field == field
    nan_m = args[0].copy()
    nan_m[1, 0] = np.nan
    with pytest.raises(InputError, match="means2d"):
        rasterize_cpu(nan_m, *args[1:], 20, 12)
    culled = args[5].copy()
    culled[1] = 0  # a culled splat may carry garbage
    out = rasterize_cpu(nan_m, *args[1:5], culled, 20, 12)
    assert np.isfinite(out[0]).all()
    with pytest.raises(InputError, match="width"):
        rasterize_cpu(*args, 0, 12)


# ------------------------------------------------------------------------------------------------
# Batched frames
# ------------------------------------------------------------------------------------------------


def _batch_scene(n_frames=3):
    means, quats, scales, opac, colors, vm, K, w, h = _scene_args()
    rng = np.random.default_rng(12)
    moved = np.stack([means + rng.normal(0, 0.02, means.shape).astype(np.float32) for _ in range(n_frames)])
    return moved, quats, scales, opac, colors, vm, K, w, h


@contextlib.contextmanager
def _schedule(per_frame: bool | None):
    """Force the rasteriser's schedule (one thread per frame, or parallel stages over all frames),
    whatever the machine's thread count would pick."""
    plain = cpu_raster._raster_batch
    with mock.patch.object(cpu_raster, "_raster_batch", functools.partial(plain, per_frame=per_frame)):
        yield


@pytest.mark.parametrize("per_frame", [False, True])
def test_batch_frames_match_single_frames(per_frame):
    """Each frame of a batch is its single-frame render (computed outside the forced schedule), for
    both schedules of the batch."""
    from avatarcheck.render.cpu_raster import rasterize_splats_batch
    from avatarcheck.render.projection import covariances

    means, quats, scales, opac, colors, vm, K, w, h = _batch_scene()
    opac_b = np.stack([opac, opac * 0.5, opac[::-1].copy()])  # per-frame opacities
    refs = [rasterize_splats(means[b], quats, scales, opac_b[b], colors, vm, K, w, h) for b in range(3)]
    ref0 = rasterize_splats(means[0], quats, scales, opac, colors, vm, K, w, h)
    t = torch.from_numpy
    with _schedule(per_frame):
        # shared quats/scales/colours as zero-stride torch views (as SplatState makes them)
        got_c, got_a = rasterize_splats_batch(t(means), t(quats).expand(3, -1, -1), t(scales).expand(3, -1, -1),
                                              opac_b, t(colors).expand(3, -1, -1), vm, K, w, h)
        # means shared by every frame (zero stride) still give B frames
        same_c, _ = rasterize_splats_batch(t(means[0]).expand(3, -1, -1), quats, scales, opac, colors, vm, K, w, h)
        # precomputed covariances (shared (N, 6)) give the same bits; quats/scales are then not read
        cov_c, cov_a = rasterize_splats_batch(means, None, None, opac_b, colors, vm, K, w, h,
                                              covariances=covariances(quats, scales))
    assert got_c.shape == (3, h, w, 4) and got_a.shape == (3, h, w)
    for b in range(3):
        assert np.array_equal(got_c[b], refs[b][0]) and np.array_equal(got_a[b], refs[b][1])
        assert refs[b][1].max() > 0.5
    assert not np.array_equal(got_a[0], got_a[1])
    assert same_c.shape == (3, h, w, 4) and all(np.array_equal(same_c[b], ref0[0]) for b in range(3))
    assert np.array_equal(cov_c, got_c) and np.array_equal(cov_a, got_a)


def test_batch_rejects():
    from avatarcheck.render.cpu_raster import rasterize_splats_batch

    means, quats, scales, opac, colors, vm, K, w, h = _batch_scene()
    good = dict(means=means, quats=quats, scales=scales, opacities=opac, colors=colors)
    for field, bad in [("means", means[0]), ("quats", np.zeros((2, len(quats), 4), np.float32)),
                       ("scales", np.full_like(scales, np.nan)), ("opacities", opac[:-1]),
                       ("colors", colors[:, :0]), ("quats", np.zeros_like(quats))]:
        args = dict(good, **{field: bad})
        with pytest.raises(InputError) as e:
            rasterize_splats_batch(args["means"], args["quats"], args["scales"], args["opacities"], args["colors"],
                                   vm, K, w, h)
        assert e.value.field == field and e.value.source == "rasterize_splats_batch"


def test_depth_order_is_gsplats_stable_key_order():
    """The radix sort = a stable sort on the depth's float bits as uint32 (gsplat's key), culled
    splats left out; ties (many here), negative depths and -0.0 included."""
    rng = np.random.default_rng(5)
    for n in (0, 1, 7, 1000, 70000):
        dep = rng.choice(np.float32([-2.5, -0.0, 0.0, 1e-30, 0.5, 1.0, 1.0000001, 3.0, 1e30]), n)
        dep[: n // 2] = rng.uniform(-3, 50, n // 2).astype(np.float32)
        rad = rng.integers(-1, 3, (n, 2)).astype(np.int32)
        out = np.empty(n, np.int32)
        k = cpu_raster._depth_order(dep, (rad > 0).all(1), out)
        idx = np.flatnonzero((rad > 0).all(1))
        want = idx[np.argsort(dep.view(np.uint32)[idx], kind="stable")]
        assert k == len(idx) and np.array_equal(out[:k], want)


def test_batch_background_is_apis_composite_bit_for_bit():
    """background= composites in the kernel exactly as render/api.py does in numpy."""
    from avatarcheck.render.cpu_raster import rasterize_splats_batch

    means, quats, scales, opac, colors, vm, K, w, h = _batch_scene(2)
    for d in (4, 3, 5):
        col = np.ascontiguousarray(np.tile(colors, (1, 2))[:, :d])
        bg = np.linspace(1.0, 0.2, d).astype(np.float32)
        plain_c, plain_a = rasterize_splats_batch(means, quats, scales, opac, col, vm, K, w, h)
        got_c, got_a = rasterize_splats_batch(means, quats, scales, opac, col, vm, K, w, h, background=bg)
        want = plain_c + (1.0 - plain_a)[..., None] * bg  # render/api.py's composite
        assert want.dtype == np.float32
        assert np.array_equal(got_a, plain_a) and np.array_equal(got_c, want)
        assert (plain_a == 0).any() and np.array_equal(got_c[plain_a == 0], np.broadcast_to(bg, got_c[plain_a == 0].shape))
    with pytest.raises(InputError) as e:
        rasterize_splats_batch(means, quats, scales, opac, colors, vm, K, w, h, background=np.ones(3, np.float32))
    assert e.value.field == "background"


@functools.lru_cache(maxsize=1)
def _full_batch_render() -> tuple[np.ndarray, np.ndarray]:
    from avatarcheck.render.cpu_raster import rasterize_splats_batch

    means, quats, scales, opac, colors, vm, K, w, h = _batch_scene(2)
    return rasterize_splats_batch(means, quats, scales, opac, colors, vm, K, w, h, background=_ONLY_BG)


_ONLY_BG = np.array([1.0, 1.0, 1.0, 0.0], np.float32)


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**32 - 1), st.floats(0.0, 0.3), st.booleans())
def test_only_renders_the_wanted_tiles_bit_for_bit(seed, density, per_frame):
    """``only=``: every pixel of a tile holding a wanted pixel is the full render's, bit for bit (the
    splats dropped before sorting meet no wanted tile, and a stable sort of a subset keeps the
    others' order); every other pixel is empty (alpha 0, colour = the background)."""
    from avatarcheck.render.cpu_raster import rasterize_splats_batch

    means, quats, scales, opac, colors, vm, K, w, h = _batch_scene(2)
    rng = np.random.default_rng(seed)
    only = rng.random((2, h, w)) < density * rng.random((2, 1, 1)) ** 4  # sparse, sometimes empty
    bg = _ONLY_BG
    full_c, full_a = _full_batch_render()
    with _schedule(per_frame):
        got_c, got_a = rasterize_splats_batch(means, quats, scales, opac, colors, vm, K, w, h, background=bg,
                                              only=only)
    ts = cpu_raster.TILE_SIZE
    ty, tx = np.indices((h, w)) // ts
    for b in range(2):
        tiles = np.zeros((-(-h // ts), -(-w // ts)), bool)
        tiles[ty[only[b]], tx[only[b]]] = True
        inside = tiles[ty, tx]
        assert np.array_equal(got_a[b][inside], full_a[b][inside])
        assert np.array_equal(got_c[b][inside], full_c[b][inside])
        assert (got_a[b][~inside] == 0).all() and (got_c[b][~inside] == bg).all()
    assert full_a.max() > 0.5


def test_only_rejects_wrong_shapes_and_dtypes():
    from avatarcheck.render.cpu_raster import rasterize_splats_batch

    means, quats, scales, opac, colors, vm, K, w, h = _batch_scene(2)
    for bad in (np.ones((2, h, w + 1), bool), np.ones((3, h, w), bool), np.ones((2, h, w), np.float32)):
        with pytest.raises(InputError) as e:
            rasterize_splats_batch(means, quats, scales, opac, colors, vm, K, w, h, only=bad)
        assert e.value.field == "only" and e.value.source == "rasterize_splats_batch"
