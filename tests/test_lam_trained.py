"""The LAM-trained-like cloud reproduces the statistics measured on real LAM exports, and still renders
a face (open eyes visible, a closed lid at a full blink).

Statistics are computed here with plain numpy, independently of ``splats.plausibility``.
"""

import numpy as np
import pytest

from avatarcheck.render.api import render
from avatarcheck.splats.cloud import SplatCloud
from avatarcheck.splats.lam_trained import LamTrainedParams, broken_cloud, lam_trained_avatar
from avatarcheck.splats.trained import PALETTE
from tests.conftest import arkit_vector

SEEDS = (0, 1, 2)
CLIP = 0.01


@pytest.fixture(scope="module")
def base():
    from avatarcheck.avatar import synthetic_avatar

    return synthetic_avatar()


@pytest.fixture(scope="module")
def avatars(base):
    return {seed: lam_trained_avatar(LamTrainedParams(seed=seed), base) for seed in SEEDS}


@pytest.fixture(scope="module")
def edge(base):
    """Mean incident edge length per subdivided vertex (plain numpy)."""
    v = base.head_sub.v_template.astype(np.float64)
    e = base.topology.edges_sub
    length = np.linalg.norm(v[e[:, 0]] - v[e[:, 1]], axis=1)
    return np.bincount(e.ravel(), np.repeat(length, 2), len(v)) / np.bincount(e.ravel(), minlength=len(v))


def sphere_fit(points):
    """Least-squares sphere through points (K, 3): |p|^2 = 2 p.c + (r^2 - |c|^2)."""
    a = np.c_[2 * points, np.ones(len(points))]
    sol = np.linalg.lstsq(a, (points ** 2).sum(1), rcond=None)[0]
    centre = sol[:3]
    return centre, np.median(np.linalg.norm(points - centre, axis=1))


def painters_of(avatar):
    """(bool (N,) eyeball splats > 1.5 mm outside their eyeball sphere, {side: centre})."""
    v = avatar.head_sub.v_template.astype(np.float64)
    c = avatar.cloud
    out = np.zeros(c.num_splats, bool)
    centres = {}
    for side in ("left", "right"):
        ids = avatar.head_sub.vertex_sets[f"eyeball_{side}"]
        centre, radius = sphere_fit(v[ids])
        centres[side] = centre
        out[ids] = np.linalg.norm(v[ids] + c.offsets[ids] - centre, axis=1) > radius + 1.5e-3
    return out, centres


@pytest.mark.parametrize("seed", SEEDS)
def test_statistics_hit_the_real_lam_targets(avatars, base, edge, seed):
    av = avatars[seed]
    c = av.cloud
    sets = av.head_sub.vertex_sets
    sigma = c.scales.max(axis=1)
    length = np.linalg.norm(c.offsets, axis=1)
    lid = c.mask("lid")
    eyeball = c.mask("eyeball_left", "eyeball_right")

    # lids: sigma ~1.8 mean incident edges (2.5 mm / 1.4 mm on real FLAME), opacity median 0.12
    assert np.median(sigma[lid]) / np.median(edge[lid]) == pytest.approx(1.8, abs=0.25)
    assert np.median(c.opacities[lid]) == pytest.approx(0.12, abs=0.03)
    # 10 % of all splats exactly at LAM's clip, none above; never lids, eyeballs or the face
    at_clip = sigma >= CLIP * (1 - 1e-6)
    assert at_clip.mean() == pytest.approx(0.10, abs=0.01)
    assert sigma.max() <= CLIP
    assert not (at_clip & (lid | eyeball)).any()
    assert not at_clip[sets["face"]].any()
    # opacities far from 1: the whole-cloud median well below 1, a wide spread
    assert np.median(c.opacities) < 0.6
    p10, p90 = np.percentile(c.opacities, [10, 90])
    assert p10 < 0.1 and p90 > 0.6
    # about half of the eyeball splats paint skin: > 1.5 mm outside the eyeball, offsets median 7 mm,
    # p99 18 mm, opacity ~0.01, sigma ~3.9 mm
    out, centres = painters_of(av)
    assert out[eyeball].mean() == pytest.approx(0.5, abs=0.05)
    assert np.median(length[out]) * 1e3 == pytest.approx(7.0, abs=1.0)
    assert np.percentile(length[out], 99) * 1e3 == pytest.approx(18.0, abs=3.0)
    assert np.median(c.opacities[out]) == pytest.approx(0.01, abs=0.005)
    assert np.median(sigma[out]) * 1e3 == pytest.approx(3.9, abs=0.4)
    # ... in front of their eyeball, over the skin around the eye, coloured like skin (warm), not
    # like the sclera (neutral)
    v = av.head_sub.v_template
    for side, centre in centres.items():
        mine = out & c.mask(f"eyeball_{side}")
        pos = v[mine] + c.offsets[mine]
        assert (pos[:, 2] > centre[2]).all()
        assert np.linalg.norm(pos - centre, axis=1).max() < 0.04
    rgb = c.rgb[out]
    assert np.median(rgb[:, 0] - rgb[:, 2]) > 0.1
    assert PALETTE["sclera"][0] - PALETTE["sclera"][2] < 0.05
    # the other splats' offsets are small (~1 mm); every component within LAM's 0.1 m
    assert np.median(length[~out]) * 1e3 == pytest.approx(1.0, abs=0.3)
    assert np.abs(c.offsets).max() < 0.1


def test_deterministic_per_seed_labels_and_counts_unchanged(avatars, base):
    again = lam_trained_avatar(LamTrainedParams(seed=1), base).cloud
    for field in ("offsets", "scales", "quats", "opacities", "sh", "labels"):
        np.testing.assert_array_equal(getattr(again, field), getattr(avatars[1].cloud, field))
    assert not np.array_equal(avatars[0].cloud.offsets, avatars[1].cloud.offsets)
    for av in avatars.values():
        c = av.cloud
        assert c.num_splats == base.cloud.num_splats == base.head_sub.num_vertices
        np.testing.assert_array_equal(c.labels, base.cloud.labels)
        # valid: SplatCloud re-validates; colours in [0, 1]
        SplatCloud(c.offsets, c.scales, c.quats, c.opacities, c.sh, c.labels)
        assert 0.0 <= c.rgb.min() and c.rgb.max() <= 1.0 + 1e-6
        assert np.isfinite(c.scales).all() and (c.scales > 0).all()


def test_broken_cloud_has_the_broken_export_statistics(avatars):
    c = broken_cloud(avatars[0].cloud, seed=3)
    length = np.linalg.norm(c.offsets, axis=1)
    assert np.median(length) * 1e3 == pytest.approx(54.0, abs=1.0)
    assert np.abs(c.offsets).max() < 0.1  # LAM's bounded activation, just a wide raw
    assert (c.scales.max(axis=1) >= CLIP * (1 - 1e-6)).mean() == pytest.approx(0.76, abs=0.01)
    np.testing.assert_array_equal(c.labels, avatars[0].cloud.labels)
    np.testing.assert_array_equal(broken_cloud(avatars[0].cloud, seed=3).offsets, c.offsets)


def test_heads_without_lid_or_eye_sets_get_what_applies(base):
    """A FLAME head may come without lid sets (or any masks): no lids, no painting eyeballs then."""
    from avatarcheck.splats.lam_trained import lam_trained_cloud

    rgb = np.full((base.head_sub.num_vertices, 3), 0.7)
    bare = base.head_sub.replace(vertex_sets={})
    c = lam_trained_cloud(bare, base.topology.edges_sub, rgb)
    assert (c.labels == 0).all() and np.abs(c.offsets).max() < 0.005
    assert (c.scales.max(axis=1) >= CLIP * (1 - 1e-6)).mean() == pytest.approx(0.10, abs=0.01)
    eyes_only = base.head_sub.replace(vertex_sets={k: base.head_sub.vertex_sets[k]
                                                   for k in ("eyeball_left", "eyeball_right")})
    c = lam_trained_cloud(eyes_only, base.topology.edges_sub, rgb)
    eyeball = c.mask("eyeball_left", "eyeball_right")
    assert eyeball.sum() == 2 * len(base.head_sub.vertex_sets["eyeball_left"])
    ids = base.head_sub.vertex_sets["eyeball_left"]
    v = base.head_sub.v_template[ids].astype(np.float64)
    centre, radius = sphere_fit(v)
    outside = np.linalg.norm(v + c.offsets[ids] - centre, axis=1) > radius + 1.5e-3
    assert outside.mean() == pytest.approx(0.5, abs=0.05)
    with pytest.raises(ValueError, match="offset_median"):
        broken_cloud(c, offset_median=0.2)


def eye_windows(avatar, camera, half=6):
    out = {}
    for side, j in (("left", 3), ("right", 4)):
        centre = avatar.head.J_regressor[j] @ avatar.head.v_template
        u, v = np.round(camera.project((centre + np.array([0.0, 0.0, 0.012]))[None])[0]).astype(int)
        out[side] = (slice(v - half, v + half), slice(u - half, u + half))
    return out


@pytest.mark.parametrize("seed", (0, 2))
def test_renders_a_face_with_open_eyes_and_a_closed_lid_at_full_blink(avatars, seed):
    av = avatars[seed]
    cam = av.eye_camera(size=128)
    w = np.concatenate([arkit_vector(), arkit_vector(eyeBlinkLeft=1.0, eyeBlinkRight=1.0)])
    r = render(av.state("rgb", arkit52=w), cam, "cpu")
    lids_only = render(av.state("rgb", arkit52=w, drop_eyeballs=True), cam, "cpu")
    # the head covers its region (front vertices' pixels): opaque despite the low opacities
    uv = np.round(cam.project(av.head_sub.v_template)).astype(int)
    inside = ((uv >= 0) & (uv < 128)).all(axis=1) & (av.head_sub.v_template[:, 2] > 0)
    head = np.zeros((128, 128), bool)
    head[uv[inside, 1], uv[inside, 0]] = True
    assert r.alpha[:, head].mean() > 0.99
    blue = r.rgb[..., 2] - r.rgb[..., 0]  # the iris is blue, skin is warm
    for side, win in eye_windows(av, cam).items():
        assert blue[0][win].max() > 0.15, f"{side} iris not visible with the eyes open"
        assert blue[1][win].max() < 0.0, f"{side} iris shows through the closed lid"
        # closed: what shows is the lid (the render without any eyeball splats), not the eyeball
        assert np.abs(r.rgb[1][win] - lids_only.rgb[1][win]).mean() < 0.02
        assert r.alpha[1][win].min() > 0.99
