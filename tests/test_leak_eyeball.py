"""Which eyeball splats the leak counts (gate.leak_eyeball): on-sphere splats only; skin paint is skin."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

from avatarcheck.avatar import synthetic_avatar
from avatarcheck.head.pose import Pose
from avatarcheck.gate.leak_eyeball import as_leak_view, leak_eyeball_mask, on_sphere
from avatarcheck.render.api import render
from avatarcheck.render.shaders import shaded_state
from avatarcheck.sources import load_avatar
from avatarcheck.splats.cloud import EYEBALL_LABELS, label_code
from avatarcheck.splats.plausibility import OUTSIDE_MARGIN, cloud_statistics, eyeball_sphere


@pytest.fixture(scope="module")
def avatar():
    return synthetic_avatar()


@pytest.fixture(scope="module")
def trained():
    return load_avatar("synthetic:lam-trained")


def test_embedded_avatar_counts_every_eyeball_splat(avatar):
    # Its eyeball splats all sit on the sphere: the leak view is the avatar itself, so its verdicts,
    # images and goldens are what they were before skin paint was told apart.
    mask = leak_eyeball_mask(avatar)
    assert np.array_equal(mask, avatar.cloud.mask(*EYEBALL_LABELS))
    assert as_leak_view(avatar, mask) is avatar


def test_trained_stand_in_drops_what_plausibility_calls_outside(trained):
    # Two computations of "outside the sphere": plausibility's share, and the splats the mask drops.
    stats = cloud_statistics(trained.cloud, trained.head_sub, trained.topology.edges_sub)
    eyeball = trained.cloud.mask(*EYEBALL_LABELS)
    dropped = eyeball & ~leak_eyeball_mask(trained)
    assert dropped.sum() > 0
    assert dropped.sum() / eyeball.sum() == pytest.approx(stats.eyeball_outside_fraction, abs=1e-9)


@settings(max_examples=20, deadline=None)
@given(st.data())
def test_splats_moved_off_the_sphere_are_dropped(avatar, data):
    """Move a random set of eyeball splats radially outward, beyond the margin: exactly those are dropped;
    moved inward (into the eyeball) they still count."""
    cloud, sub = avatar.cloud, avatar.head_sub
    side = data.draw(st.sampled_from(["left", "right"]))
    ids = np.flatnonzero(cloud.labels == label_code(f"eyeball_{side}"))
    picked = np.unique(data.draw(st.lists(st.sampled_from(ids.tolist()), min_size=1, max_size=30)))
    out_mm = data.draw(st.floats(OUTSIDE_MARGIN * 1e3 + 0.5, 20.0))
    centre, radius = eyeball_sphere(sub, side)
    pos = sub.v_template[picked].astype(np.float64) + cloud.offsets[picked]
    radial = (pos - centre) / np.linalg.norm(pos - centre, axis=1, keepdims=True)
    offsets = cloud.offsets.copy()
    target = centre + radial * (radius + out_mm * 1e-3)
    offsets[picked] = (target - sub.v_template[picked]).astype(np.float32)
    moved = avatar.with_cloud(cloud.replace(offsets=offsets))
    expected = cloud.mask(*EYEBALL_LABELS) & on_sphere(avatar)
    expected[picked] = False
    assert np.array_equal(on_sphere(moved), expected)

    inward = cloud.offsets.copy()
    inward[picked] = (centre + radial * radius * 0.5 - sub.v_template[picked]).astype(np.float32)
    assert on_sphere(avatar.with_cloud(cloud.replace(offsets=inward)))[picked].all()


def test_leak_view_changes_e_only_where_splats_were_demoted(trained):
    counted = leak_eyeball_mask(trained)
    view = as_leak_view(trained, counted)
    cam = trained.eye_camera(48)
    posed = trained.pose(Pose.of(np.zeros((1, 52), np.float32)))
    rgb = [render(shaded_state(a.cloud, posed, "rgb"), cam, "cpu").rgb for a in (trained, view)]
    assert np.array_equal(rgb[0], rgb[1])  # geometry and colours untouched
    # E of the view = E of a render where only the counted splats carry E (built independently).
    magenta = render(shaded_state(view.cloud, posed, "magenta"), cam, "cpu").colors[..., 3]
    state = shaded_state(trained.cloud, posed, "magenta")
    colors = state.colors.clone()
    colors[..., 3] = torch.as_tensor(counted.copy(), dtype=colors.dtype)
    own = render(type(state)(state.means, state.quats, state.scales, state.opacities, colors), cam, "cpu").colors[..., 3]
    np.testing.assert_allclose(magenta, own, atol=1e-6)
    assert magenta.max() < render(state, cam, "cpu").colors[..., 3].max() + 1e-6


def test_the_exposed_cap_faces_the_camera_and_grows_with_the_gaze(avatar):
    """The exposed cap (the lash-line seam measure): eyeball vertices seen with the eye open at rest. Derived
    independently from the sphere: every exposed vertex faces the camera (its direction from the eyeball
    centre has +z), the back half is never exposed, and turning the gaze uncovers more, never less."""
    from avatarcheck.gate.leak_eyeball import exposed_vertices

    sub = avatar.head_sub
    narrow = exposed_vertices(avatar, gaze_deg=0.0, size=256)
    wide = exposed_vertices(avatar, gaze_deg=20.0, size=256)
    for side in ("left", "right"):
        ids = sub.vertex_sets[f"eyeball_{side}"]
        centre, radius = eyeball_sphere(sub, side)
        forward = (sub.v_template[ids] - centre)[:, 2] / radius
        seen = narrow[ids]
        assert 0 < seen.sum() < len(ids) / 2
        assert (forward[seen] > 0).all()            # only the front faces the camera
        assert not wide[ids][forward < -0.2].any()  # the back stays hidden at any gaze
        assert (wide[ids] >= seen).all() and wide[ids].sum() > seen.sum()
