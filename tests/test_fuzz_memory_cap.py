"""The fuzz tests' memory cap is real: inside a fuzz module an allocation beyond the headroom fails."""

import numpy as np
import pytest

from tests.conftest import FUZZ_HEADROOM_BYTES


def test_an_allocation_beyond_the_cap_fails_inside_fuzz_modules():
    with pytest.raises(MemoryError):
        np.empty(FUZZ_HEADROOM_BYTES + (1 << 30), np.uint8)
    small = np.ones(1 << 20, np.uint8)  # ordinary work still fits
    assert small.sum() == 1 << 20
