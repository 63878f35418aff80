"""Head coverage (gate.head_coverage): holes in the splats over the posed mesh's silhouette, per region."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from avatarcheck.avatar import synthetic_avatar
from avatarcheck.gate.head_coverage import (HEAD, HEAD_REGIONS, HeadView, face_regions, head_views, hole_shares,
                                            region_map, worst_excess)
from avatarcheck.head.pose import Pose
from avatarcheck.splats.plausibility import eyeball_sphere


@pytest.fixture(scope="module")
def avatar():
    return synthetic_avatar()


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_hole_shares_count_pixels(seed):
    rng = np.random.default_rng(seed)
    regions = rng.integers(-1, len(HEAD_REGIONS), size=(9, 11)).astype(np.int8)
    alpha = rng.random((9, 11)).astype(np.float32)
    holes, shares = hole_shares(alpha, regions, opaque=0.5)
    head_px = sum(1 for y in range(9) for x in range(11) if regions[y, x] >= 0)
    for k, name in enumerate(HEAD_REGIONS):
        n = sum(1 for y in range(9) for x in range(11) if regions[y, x] == k and alpha[y, x] < 0.5)
        assert shares[name] == pytest.approx(n / head_px if head_px else 0.0)
    assert shares[HEAD] == pytest.approx(sum(shares[n] for n in HEAD_REGIONS))
    assert not holes[regions < 0].any()


def test_region_map_erodes_each_region():
    ids = np.full((11, 11), -1)
    ids[1:10, 1:10] = 0      # face 0: a 9x9 block
    of_faces = np.array([1], np.int8)
    out = region_map(ids, of_faces, erode_px=2)
    expected = np.full((11, 11), -1, np.int8)
    expected[3:8, 3:8] = 1   # two pixels off every side
    assert np.array_equal(out, expected)
    assert np.array_equal(region_map(ids, of_faces, erode_px=0), np.where(ids >= 0, 1, -1))


def test_face_regions_split_by_height_and_leave_out_eyeballs_and_neck(avatar):
    head = avatar.head_sub
    regions = face_regions(head)
    v, faces = head.v_template, head.faces
    y = v[faces].mean(axis=1)[:, 1]
    spheres = [eyeball_sphere(head, s) for s in ("left", "right")]
    mid = np.mean([c[1] for c, _ in spheres])
    half = 2.0 * np.mean([r for _, r in spheres])
    excluded = np.zeros(head.num_vertices, bool)
    for name in ("eyeball_left", "eyeball_right", "neck"):
        excluded[head.vertex_sets[name]] = True
    out = excluded[faces].any(axis=1)
    assert (regions[out] == -1).all()
    assert (regions[~out & (y > mid + half)] == 0).all()
    assert (regions[~out & (y < mid - half)] == 2).all()
    assert (regions[~out & (np.abs(y - mid) <= half)] == 1).all()
    assert set(np.unique(regions)) == {-1, 0, 1, 2}


def test_opaque_head_has_no_holes_and_faded_splats_open_them(avatar):
    pose = Pose.of(np.zeros((1, 52), np.float32))
    whole = head_views(avatar, pose, 64, "cpu")
    assert set(whole) == {"front", "below"}
    for view in whole.values():
        assert view.shares[HEAD] < 0.01
    # Fade every other crown splat: holes can only grow, and they grow in the crown.
    crown = avatar.head_sub.v_template[:, 1] > np.percentile(avatar.head_sub.v_template[:, 1], 80)
    op = avatar.cloud.opacities.copy()
    op[crown] *= 0.05
    faded = head_views(avatar.with_cloud(avatar.cloud.replace(opacities=op)), pose, 64, "cpu")
    for name in whole:
        assert faded[name].shares[HEAD] >= whole[name].shares[HEAD]
    assert faded["front"].shares["crown_forehead"] > 0.05
    assert faded["front"].shares["lower_face"] == pytest.approx(whole["front"].shares["lower_face"], abs=0.01)


def _view(**shares) -> HeadView:
    z = np.zeros((1, 1))
    return HeadView(np.zeros((1, 1, 3)), z.astype(np.int8), z.astype(bool), shares)


def test_worst_excess_picks_the_largest_growth():
    ref = {"front": _view(a=0.1, b=0.0), "below": _view(a=0.3, b=0.2)}
    var = {"front": _view(a=0.15, b=0.01), "below": _view(a=0.25, b=0.5)}
    assert worst_excess(var, ref) == ("below/b", pytest.approx(0.3))
    assert worst_excess(ref, ref)[1] == 0.0
    assert worst_excess({"side": _view(a=0.2)}, ref) == ("side/a", pytest.approx(0.2))
