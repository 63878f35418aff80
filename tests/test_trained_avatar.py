"""A user's own trained splats: a LAM export folder (FLAME files + the 3DGS PLY) is an avatar."""

from __future__ import annotations

import numpy as np
import pytest

from avatarcheck.arkit import arkit_index
from avatarcheck.avatar import synthetic_avatar
from avatarcheck.sources import load_avatar
from avatarcheck.errors import InputError
from avatarcheck.render.api import render
from avatarcheck.splats.ply import write_ply


@pytest.fixture
def lam_folder(tmp_path):
    """A folder standing for a LAM export: the embedded head as a head .npz (FLAME folders have their own
    tests) and a real PLY, written from the embedded avatar without labels, as LAM writes."""
    from avatarcheck.head.loaders import save_head_npz
    from avatarcheck.head.synthetic import synthetic_head

    save_head_npz(synthetic_head(), tmp_path / "head.npz")
    av = synthetic_avatar()
    write_ply(tmp_path / "me.ply", av.cloud, av.head_sub.v_template, with_labels=False)
    return tmp_path


def blink_render(avatar, size=64):
    w = np.zeros((1, 52), np.float32)
    w[0, arkit_index("eyeBlinkLeft")] = w[0, arkit_index("eyeBlinkRight")] = 1.0
    return render(avatar.state("magenta", arkit52=w), avatar.eye_camera(size), "cpu").colors[0]


def test_a_ply_round_trip_renders_like_the_cloud_it_came_from(lam_folder):
    embedded, loaded = synthetic_avatar(), load_avatar(lam_folder)
    # labels come from the head's masks through the subdivision, not from the file
    np.testing.assert_array_equal(loaded.cloud.labels, embedded.cloud.labels)
    np.testing.assert_allclose(loaded.cloud.scales, embedded.cloud.scales, rtol=1e-6)
    diff = np.abs(blink_render(loaded) - blink_render(embedded)).max()
    assert diff < 1e-4  # float32 log/logit storage: the same image up to rounding


def test_edited_scales_in_the_ply_are_what_gets_rendered(lam_folder):
    av = synthetic_avatar()
    lids = av.cloud.mask("lid")
    grown = av.cloud.replace(scales=np.where(lids[:, None], av.cloud.scales * 1.8, av.cloud.scales))
    write_ply(lam_folder / "me.ply", grown, av.head_sub.v_template, with_labels=False)
    loaded = load_avatar(lam_folder)
    np.testing.assert_allclose(loaded.cloud.scales[lids], av.cloud.scales[lids] * 1.8, rtol=1e-5)
    assert np.abs(blink_render(loaded) - blink_render(av)).max() > 0.05


def test_a_ply_with_the_wrong_splat_count_names_both_counts(lam_folder):
    av = synthetic_avatar()
    n = av.head_sub.num_vertices
    small = av.cloud.replace(**{k: getattr(av.cloud, k)[:100] for k in ("offsets", "scales", "quats", "opacities",
                                                                         "sh", "labels")})
    write_ply(lam_folder / "me.ply", small, av.head_sub.v_template[:100], with_labels=False)
    with pytest.raises(InputError) as info:
        load_avatar(lam_folder)
    assert str(n) in str(info.value) and "100" in str(info.value) and "me.ply" in str(info.value)


def test_two_plys_are_ambiguous(lam_folder):
    (lam_folder / "other.ply").write_bytes((lam_folder / "me.ply").read_bytes())
    with pytest.raises(InputError, match="one 3DGS .ply"):
        load_avatar(lam_folder)
