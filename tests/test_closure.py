"""Blink closure at mesh level (gate.closure): derived from the rig alone, checked against constructed rigs."""

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from avatarcheck.arkit import arkit_index
from avatarcheck.avatar import synthetic_avatar
from avatarcheck.gate.closure import RIG_ROW, closure_record, closure_shares, rig_name, visible_eyeball_pixels
from avatarcheck.head.pose import Pose

REST = Pose.of(np.zeros((1, 52), np.float32))


def _blink(left=1.0, right=1.0):
    w = np.zeros((1, 52), np.float32)
    w[0, arkit_index("eyeBlinkLeft")], w[0, arkit_index("eyeBlinkRight")] = left, right
    return Pose.of(w)


def _scaled_blink(avatar, side, factor):
    """The avatar with one blink row scaled (a rig whose lid travels ``factor`` of the way)."""
    k = arkit_index(f"eyeBlink{side.capitalize()}")
    import dataclasses

    head, sub = avatar.head.arkit_basis.copy(), avatar.head_sub.arkit_basis.copy()
    head[k] *= factor
    sub[k] *= factor
    return dataclasses.replace(avatar, head=avatar.head.replace(arkit_basis=head),
                               head_sub=avatar.head_sub.replace(arkit_basis=sub))


@pytest.fixture(scope="module")
def avatar():
    return synthetic_avatar()


@pytest.fixture(scope="module")
def camera(avatar):
    return avatar.eye_camera(128)


def test_open_frame_against_itself_is_one(avatar, camera):
    assert np.array_equal(closure_shares(avatar, REST, REST, camera), [[1.0, 1.0]])


def test_the_embedded_rig_closes_both_eyes(avatar, camera):
    # the stand-in is built so that its full blink closes (DESIGN: baseline blink closes)
    assert np.array_equal(closure_shares(avatar, REST, _blink(), camera), [[0.0, 0.0]])


def test_one_eye_blink_leaves_the_other_open(avatar, camera):
    s = closure_shares(avatar, REST, _blink(left=1.0, right=0.0), camera)[0]
    assert s[0] == 0.0 and s[1] == 1.0


def test_a_half_travelled_lid_leaves_the_eyeball_visible(avatar, camera):
    # half the lid travel on the right eye only: the left still closes, the right shows part of the eye
    half = _scaled_blink(avatar, "right", 0.5)
    s = closure_shares(half, REST, _blink(), camera)[0]
    assert s[0] == 0.0 and 0.05 < s[1] < 0.95


@settings(max_examples=6, deadline=None)
@given(st.floats(0.0, 0.9), st.floats(0.0, 0.9))
def test_closure_falls_as_the_lid_travels_further(avatar, camera, a, b):
    lo, hi = sorted((a, b))
    assume(hi - lo >= 0.1)  # lids too close in travel to order: a rejected draw, not a pass
    near = closure_shares(_scaled_blink(avatar, "left", lo), REST, _blink(), camera)[0, 0]
    far = closure_shares(_scaled_blink(avatar, "left", hi), REST, _blink(), camera)[0, 0]
    assert far <= near


def test_pixel_counts_match_a_direct_count(avatar, camera):
    """The per-eye counts are the eyeball triangles' pixels in the id raster, counted here directly."""
    from avatarcheck.render.mesh_ids import triangle_ids_batch

    mesh = avatar.pose(REST).anchors.detach().numpy()
    ids = triangle_ids_batch(mesh, avatar.head_sub.faces, camera)[0]
    sub = avatar.head_sub
    for k, side in enumerate(("left", "right")):
        on = np.zeros(sub.num_vertices, bool)
        on[sub.vertex_sets[f"eyeball_{side}"]] = True
        faces = np.flatnonzero(on[sub.faces].all(axis=1))
        assert visible_eyeball_pixels(avatar, REST, camera)[0, k] == np.isin(ids, faces).sum()


def test_record_fails_only_with_a_gate_threshold(avatar, camera):
    half = _scaled_blink(avatar, "right", 0.5)
    rec = closure_record(half, camera, REST, {}, None)
    assert not rec["failed"] and rec["shares"][RIG_ROW]["right"] > 0.05
    assert closure_record(half, camera, REST, {}, 0.01)["failed"]
    assert not closure_record(avatar, camera, REST, {}, 0.01)["failed"]
    assert rig_name(avatar) == "this avatar's own blendshapes"


def test_a_gate_file_threshold_fails_the_closure_item(avatar, tmp_path):
    from avatarcheck.gate.inputs import GateInputs
    from avatarcheck.gate.session import CLOSURE_ITEM, GateSession
    from avatarcheck.gate.spec import load_gate
    from avatarcheck.takes.take import Take

    py = tmp_path / "pyproject.toml"
    py.write_text('[tool.avatarcheck."three-moment".gate]\nclosure_max = 0.01\nimage_size = 128\n')
    spec = load_gate("three-moment", py, pyproject_required=True)
    assert spec.closure_max == 0.01
    results = {}
    for name, av in (("closes", avatar), ("half", _scaled_blink(avatar, "right", 0.5))):
        s = GateSession(spec, tmp_path / name, backend="cpu")
        s.inputs = GateInputs("synthetic", av, Take.from_weights(np.zeros((5, 52), np.float32)), "t-0", {})
        s.avatar_check = {"implausible": False}
        step = s.steps()[1]
        assert step.item_id == CLOSURE_ITEM
        results[name] = step.run()
    assert results["closes"].status == "pass"
    assert results["half"].status == "fail" and "closure_max 0.01" in results["half"].message


def test_closure_max_out_of_range_is_refused(tmp_path):
    from avatarcheck.errors import InputError
    from avatarcheck.gate.spec import load_gate

    py = tmp_path / "pyproject.toml"
    py.write_text('[tool.avatarcheck."three-moment".gate]\nclosure_max = 2\n')
    with pytest.raises(InputError, match="closure_max"):
        load_gate("three-moment", py, pyproject_required=True)
