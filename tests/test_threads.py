"""The package thread policy: the pure rule, and that applying it sets numba's and torch's counts."""

from __future__ import annotations

import numba
import pytest
import torch

from avatarcheck.threads import ENV_VAR, XDIST_VAR, apply_thread_policy, thread_budget


def test_all_cores_when_alone():
    assert thread_budget(8)[0] == 8
    assert thread_budget(1)[0] == 1
    assert thread_budget(0)[0] == 1  # nonsense core counts still give one thread


@pytest.mark.parametrize("cores,workers,want", [(2, "2", 1), (8, "2", 4), (8, "3", 2), (2, "4", 1),
                                                (16, "1", 16), (4, None, 4), (4, "", 4), (4, "x", 4)])
def test_xdist_workers_share_the_cores(cores, workers, want):
    assert thread_budget(cores, workers)[0] == want


def test_override_wins():
    assert thread_budget(2, "2", "3") == (3, f"{ENV_VAR}=3")
    assert thread_budget(16, None, "1", load=0.0)[0] == 1
    assert thread_budget(2, None, " 4 ", load=9.0)[0] == 4  # not reduced by load either
    assert thread_budget(64, None, "48", numba_max=16)[0] == 16  # numba cannot exceed its ceiling


@pytest.mark.parametrize("bad", ["0", "-2", "two", "1.5"])
def test_bad_override_is_ignored_and_said(bad):
    n, reason = thread_budget(4, None, bad)
    assert n == 4 and "ignored" in reason


def test_auto_is_the_default_rule():
    assert thread_budget(6, "2", "auto") == thread_budget(6, "2", None)


@pytest.mark.parametrize("load,want", [(0.0, 4), (1.0, 4), (3.9, 4), (4.0, 3), (5.5, 2), (6.9, 1), (50.0, 1),
                                       (float("nan"), 4)])
def test_load_beyond_full_takes_cores(load, want):
    assert thread_budget(4, load=load)[0] == want


def test_load_and_workers_take_the_smaller():
    assert thread_budget(8, "2", load=12.0)[0] == 3  # load leaves 3, workers would allow 4
    assert thread_budget(8, "4", load=9.0)[0] == 2  # workers leave 2, load would allow 6


def test_apply_sets_numba_and_torch():
    before = numba.get_num_threads(), torch.get_num_threads()
    try:
        pol = apply_thread_policy({ENV_VAR: "1"})
        assert (pol.numba, pol.torch) == (1, 1)
        assert numba.get_num_threads() == 1 and torch.get_num_threads() == 1
        pol = apply_thread_policy({XDIST_VAR: "1000"}, use_load=False)
        assert pol.numba == 1 and numba.get_num_threads() == 1
        top = numba.config.NUMBA_NUM_THREADS
        pol = apply_thread_policy({ENV_VAR: str(top)})
        assert numba.get_num_threads() == top and torch.get_num_threads() == top
    finally:
        numba.set_num_threads(before[0])
        torch.set_num_threads(before[1])
