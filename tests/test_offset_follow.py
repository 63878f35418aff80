"""Offsets as a coupled output (edit.overrides.follow_edit, override ``offsets_j``): a splat's canonical
offset stretched by its anchor's Jacobian."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, strategies as st
from hypothesis.extra.numpy import arrays

from avatarcheck.edit.overrides import (OverrideArrays, OverrideSettings, apply_override_arrays, follow_edit,
                                        load_override_arrays)
from avatarcheck.errors import InputError
from avatarcheck.splats.lam_trained import lam_trained_avatar

finite = st.floats(-0.0625, 0.0625, allow_nan=False, width=32, allow_subnormal=False)


@given(arrays(np.float32, (7, 3), elements=finite), st.floats(0.2, 5.0))
def test_identity_keeps_and_a_uniform_scale_scales_every_offset(offsets, s):
    eye = np.broadcast_to(np.eye(3), (7, 3, 3))
    np.testing.assert_array_equal(follow_edit(offsets, eye), offsets)
    np.testing.assert_allclose(follow_edit(offsets, s * eye), offsets.astype(np.float64) * s, rtol=1e-6, atol=1e-9)


@given(arrays(np.float32, (5, 3), elements=finite), arrays(np.float64, (5, 3, 3), elements=st.floats(-2, 2)))
def test_each_offset_is_its_own_jacobian_times_it(offsets, J):
    expected = np.array([J[i] @ offsets[i].astype(np.float64) for i in range(5)])
    np.testing.assert_allclose(follow_edit(offsets, J), expected, rtol=1e-5, atol=1e-7)


def test_a_wrong_shape_is_refused():
    with pytest.raises(InputError, match="offset_jacobians"):
        follow_edit(np.zeros((4, 3), np.float32), np.zeros((3, 3, 3)))


@pytest.fixture(scope="module")
def trained():
    return lam_trained_avatar()


def test_applied_at_the_hook_point_it_moves_offsets_only(trained, tmp_path):
    n = trained.cloud.num_splats
    J = np.broadcast_to(np.diag([1.5, 1.0, 0.8]), (n, 3, 3)).astype(np.float32)
    out = apply_override_arrays(trained, OverrideArrays(offset_jacobians=J))
    np.testing.assert_allclose(out.cloud.offsets, trained.cloud.offsets * np.array([1.5, 1.0, 0.8], np.float32),
                               rtol=1e-6, atol=1e-9)
    assert np.array_equal(out.cloud.scales, trained.cloud.scales) and out.head_sub is trained.head_sub
    # the same from a file named by the variable, and a singular one refused with the file named
    path = tmp_path / "offset_j.npy"
    np.save(path, J)
    arrays_from_file = load_override_arrays(trained, OverrideSettings.from_env({"LAM_OFFSET_J_PER_VERT_NPY": str(path)}))
    np.testing.assert_array_equal(arrays_from_file.offset_jacobians, J)
    np.save(path, np.zeros_like(J))
    with pytest.raises(InputError, match="offset_j.npy"):
        load_override_arrays(trained, OverrideSettings(offset_jacobians=path))


def test_the_sweep_correction_applies_the_edits_own_jacobians_to_the_offsets(trained):
    from avatarcheck.edit.registry import bake_edit
    from avatarcheck.gate.sweep_spec import CORRECTIONS

    assets = bake_edit(trained, "chibi", {"preset": "pear", "strength": 2.0}, name="pear")
    overrides, numbers = CORRECTIONS["ratio+offsets"]
    out = apply_override_arrays(trained, OverrideArrays.from_assets(assets, overrides, numbers))
    J = np.asarray(assets.jacobians, np.float64)
    expected = np.array([J[i] @ trained.cloud.offsets[i].astype(np.float64) for i in range(0, len(J), 97)])
    np.testing.assert_allclose(out.cloud.offsets[::97], expected, rtol=1e-5, atol=1e-7)
    ratio_only = apply_override_arrays(trained, OverrideArrays.from_assets(assets, CORRECTIONS["ratio"][0]))
    assert np.array_equal(out.cloud.scales, ratio_only.cloud.scales)  # the scales are the ratio's
