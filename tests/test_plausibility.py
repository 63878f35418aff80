"""Plausibility of a splat cloud as a trained LAM avatar: the stand-in and the LAM-like cloud pass, the
broken export fails naming the statistics, and larger offsets never make a cloud more plausible."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from avatarcheck.errors import InputError
from avatarcheck.splats.lam_trained import LamTrainedParams, broken_cloud, lam_trained_avatar
from avatarcheck.splats.plausibility import (
    PLAUSIBLE_RANGES,
    CloudStatistics,
    cloud_statistics,
    implausible,
)


@pytest.fixture(scope="module")
def base():
    from avatarcheck.avatar import synthetic_avatar

    return synthetic_avatar()


@pytest.fixture(scope="module")
def lam(base):
    return lam_trained_avatar(LamTrainedParams(seed=0), base).cloud


def stats(base, cloud):
    return cloud_statistics(cloud, base.head_sub, base.topology.edges_sub)


def names(findings):
    return {f.statistic for f in findings}


def test_the_stand_in_is_plausible(base):
    s = stats(base, base.cloud)
    assert implausible(s) == []
    assert s.offset_median_mm == 0 and s.clip_fraction < 1e-3 and s.eyeball_outside_fraction == 0
    assert s.sigma_edge_ratio == pytest.approx(0.7, rel=1e-3)
    assert math.isnan(s.eyeball_outside_opacity_median)  # no eyeball splat outside: not applicable


@pytest.mark.parametrize("seed", (0, 5))
def test_the_lam_trained_cloud_and_variations_are_plausible(base, seed):
    for params in (LamTrainedParams(seed=seed),
                   LamTrainedParams(seed=seed, sigma_edge_ratio=2.5, clip_fraction=0.2),
                   LamTrainedParams(seed=seed, skin_opacity_median=0.15, lid_opacity_median=0.05),
                   LamTrainedParams(seed=seed, paint_fraction=0.7, paint_offset_median=0.01,
                                    paint_offset_p99=0.025)):
        s = stats(base, lam_trained_avatar(params, base).cloud)
        assert implausible(s) == [], (params, s)
        assert 0.45 <= s.eyeball_outside_fraction <= 0.75


def test_the_broken_export_is_implausible_and_the_findings_say_why(base, lam):
    for source in (base.cloud, lam):
        s = stats(base, broken_cloud(source))
        found = implausible(s)
        by_name = {f.statistic: f for f in found}
        assert {"offset_median_mm", "clip_fraction"} <= set(by_name)
        f = by_name["offset_median_mm"]
        assert f.value == pytest.approx(54.0, abs=1.0)
        lo, hi = PLAUSIBLE_RANGES["offset_median_mm"]
        assert hi < 54 and f.expected == f"[{lo:g}, {hi:g}]"
        assert "54" in f.message and f.expected in f.message and "offset_median_mm" in f.message
        assert by_name["clip_fraction"].value == pytest.approx(0.76, abs=0.01)
        assert "0.76" in by_name["clip_fraction"].message
        assert all(f.statistic in PLAUSIBLE_RANGES for f in found)


def test_statistics_dict_and_errors(base, lam):
    s = stats(base, lam)
    d = s.as_dict()
    assert set(PLAUSIBLE_RANGES) <= set(d)
    assert d["num_splats"] == base.head_sub.num_vertices
    assert CloudStatistics(**d) == s
    small = lam.replace(**{k: getattr(lam, k)[:10] for k in ("offsets", "scales", "quats", "opacities", "sh",
                                                             "labels")})
    with pytest.raises(InputError, match="splat count"):
        stats(base, small)


def test_nan_statistics_are_not_judged(base, lam):
    d = stats(base, lam).as_dict()
    d.update(lid_sigma_edge_ratio=math.nan, lid_opacity_median=math.nan, eyeball_outside_fraction=math.nan)
    assert implausible(CloudStatistics(**d)) == []
    d.update(clip_fraction=0.9)
    assert names(implausible(CloudStatistics(**d))) == {"clip_fraction"}


def scaled(cloud, k):
    return cloud.replace(offsets=cloud.offsets * np.float32(k))


@pytest.fixture(scope="module")
def clouds(base, lam):
    return {"stand-in": base.cloud, "lam": lam, "broken": broken_cloud(lam)}


@given(source=st.sampled_from(["stand-in", "lam", "broken"]),
       k1=st.floats(0.0, 30.0), dk=st.floats(0.0, 30.0))
def test_larger_offsets_never_make_a_cloud_more_plausible(base, clouds, source, k1, dk):
    """Scaling every offset up (by k1, then k1 + dk) only adds findings: an implausible cloud never
    turns plausible. (The eyeball statistic is monotone too: every eyeball anchor lies on its sphere,
    so a splat once outside stays outside as its offset grows.)"""
    cloud = clouds[source]
    small = names(implausible(stats(base, scaled(cloud, k1))))
    large = names(implausible(stats(base, scaled(cloud, k1 + dk))))
    assert small <= large
    if source == "broken" and k1 + dk >= 1.0:
        assert {"offset_median_mm", "clip_fraction"} <= large
