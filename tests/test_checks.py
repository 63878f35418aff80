"""avatarcheck.checks: the shared validators."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from avatarcheck.checks import all_finite, checked_array
from avatarcheck.errors import InputError

# Values that matter for a finiteness test by summing: NaN, both infinities, and finite values so
# large that their sum overflows.
_SPECIAL = st.sampled_from([np.nan, np.inf, -np.inf, 3e38, -3e38, 1.7e308, 0.0, -0.0, 1.0])


@given(st.sampled_from([np.float32, np.float64]), st.integers(0, 40), st.data())
def test_all_finite_is_the_elementwise_test(dtype, n, data):
    values = data.draw(st.lists(st.one_of(_SPECIAL, st.floats(-1e6, 1e6)), min_size=n, max_size=n))
    with np.errstate(over="ignore"):
        arr = np.array(values, np.float64).astype(dtype)
    want = bool(np.isfinite(arr).all())
    assert all_finite(arr) == want
    assert all_finite(torch.from_numpy(arr)) == want
    assert all_finite(arr.reshape(1, -1, 1)) == want


def test_all_finite_overflowing_sum_of_finite_values():
    big = np.full(8, 3e38, np.float32)
    with np.errstate(over="ignore"):
        assert not np.isfinite(big.sum())  # the fallback is really exercised
    assert all_finite(big) and all_finite(torch.from_numpy(big))


@given(arrays(np.int32, st.integers(0, 10)))
def test_all_finite_integers(arr):
    assert all_finite(arr) and all_finite(torch.from_numpy(arr))


def test_checked_array_names_the_field():
    with pytest.raises(InputError) as e:
        checked_array(np.array([1.0, np.nan]), "take.npz", "weights", (None,))
    assert e.value.field == "weights" and "take.npz" in str(e.value)
