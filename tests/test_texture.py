"""The embedded avatar's procedural colour detail (``splats.texture``): deterministic, at the splat
spacing, colours only (labels and the E channel the gate measures are untouched)."""

import numpy as np

from avatarcheck.avatar import synthetic_avatar
from avatarcheck.head.subdivide import subdivide_attributes
from avatarcheck.render.shaders import MAGENTA, shade
from avatarcheck.splats.texture import DetailParams, brow_band, detail_colors
from avatarcheck.splats.trained import region_colors, splat_labels


def _base():
    av = synthetic_avatar()
    return av, subdivide_attributes(region_colors(av.head), av.topology)


def test_detail_is_deterministic_and_changes_with_the_seed():
    av, base = _base()
    a, b = detail_colors(av.head_sub, base), detail_colors(av.head_sub, base)
    np.testing.assert_array_equal(a, b)
    c = detail_colors(av.head_sub, base, DetailParams(seed=15))
    assert not np.array_equal(a, c)
    assert a.dtype == np.float32 and a.shape == base.shape and 0.0 <= a.min() and a.max() <= 1.0


def test_detail_is_at_the_splat_spacing():
    # Colour differences across mesh edges: region colours are constant on the skin (zero), the
    # detailed colours differ from splat to splat.
    av, base = _base()
    rgb = detail_colors(av.head_sub, base)
    edges = av.topology.edges_sub
    skin = np.zeros(av.head_sub.num_vertices, bool)
    skin[av.head_sub.vertex_sets["face"]] = True
    on_skin = skin[edges].all(axis=1)
    jump = lambda c: np.abs(c[edges[on_skin, 0]] - c[edges[on_skin, 1]]).sum(axis=1)
    assert np.median(jump(base)) == 0.0
    assert np.median(jump(rgb)) > 0.03


def test_brows_lashes_and_iris_are_there():
    av, base = _base()
    rgb = detail_colors(av.head_sub, base)
    sets, luma = av.head_sub.vertex_sets, rgb @ np.array([0.299, 0.587, 0.114])
    for side in ("left", "right"):
        eye = av.head_sub.v_template[sets[f"eyeball_{side}"]]
        centre = eye.mean(axis=0)
        brow = brow_band(av.head_sub.v_template, centre, float(np.linalg.norm(eye - centre, axis=1).mean()))
        assert brow.sum() > 40 and not brow[sets[f"eyeball_{side}"]].any()
        assert np.median(luma[brow]) < 0.7 * np.median(luma[sets["face"]])       # darker hair on most of it
        rim = sets[f"eye_opening_{side}"]
        upper = rim[np.isin(rim, sets[f"lid_upper_{side}"])]
        assert len(upper) and luma[upper].max() < 0.1                            # lashes on the upper rim
        iris = sets[f"iris_{side}"]
        base_luma = base[iris] @ np.array([0.299, 0.587, 0.114])
        assert np.std(luma[iris]) > np.std(base_luma) + 0.02                    # the iris pattern


def test_the_gate_channel_is_untouched():
    # E comes from labels only: the detailed avatar shades E exactly as the label mask, and the
    # magenta shader still paints every eyeball splat magenta.
    av = synthetic_avatar()
    np.testing.assert_array_equal(av.cloud.labels, splat_labels(av.head_sub))
    c = shade(av.cloud, "magenta").numpy()
    eyeball = av.cloud.mask("eyeball_left", "eyeball_right")
    np.testing.assert_array_equal(c[:, 3], eyeball.astype(np.float32))
    np.testing.assert_allclose(c[eyeball, :3], np.broadcast_to(MAGENTA, (eyeball.sum(), 3)))
