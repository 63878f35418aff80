"""The sharpness measure (``gate.sharpness``) on synthetic images, and its face region on the head."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import ndimage

from avatarcheck.errors import InputError
from avatarcheck.gate.sharpness import face_region, gradient_energy, luminance, region_pixels, sharpness


def texture(seed: int, size: int = 64, smooth: float = 0.0) -> np.ndarray:
    """(size, size) noise in [0, 1]: detail at the pixel spacing (smoothed by ``smooth`` px)."""
    img = np.random.default_rng(seed).random((size, size))
    return ndimage.gaussian_filter(img, smooth) if smooth else img


def disc(size: int = 64) -> np.ndarray:
    y, x = np.mgrid[:size, :size]
    return (x - size / 2) ** 2 + (y - size / 2) ** 2 < (0.4 * size) ** 2


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**16))
def test_identical_images_are_perfectly_sharp(seed):
    img, mask = texture(seed), disc()
    assert sharpness(gradient_energy(img, mask), gradient_energy(img.copy(), mask)) == 1.0


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**16), st.lists(st.integers(3, 40), min_size=2, max_size=4, unique=True))
def test_sharpness_falls_with_the_blur_sigma(seed, tenths):
    # sigmas at least 0.1 px apart: two floats one ulp apart (0.3 and 0.30000000000000004, found by
    # hypothesis) blur alike to within rounding, and "strictly falls" cannot hold between them
    sigmas = [t / 10 for t in tenths]
    img, mask = texture(seed), disc()
    ref = gradient_energy(img, mask)
    values = [sharpness(gradient_energy(ndimage.gaussian_filter(img, s), mask), ref) for s in sorted(sigmas)]
    assert all(v < 1.0 for v in values)
    assert all(a > b for a, b in zip(values, values[1:]))


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 2**16), st.floats(0.0, 1.0), st.floats(0.2, 3.0))
def test_sharpness_ignores_brightness_offsets_and_scales_with_contrast(seed, offset, gain):
    # Gradients of a + g * img are g times those of img: energy g^2 (a face lit differently is not blurred).
    img, mask = texture(seed), disc()
    assert sharpness(gradient_energy(offset + gain * img, mask), gradient_energy(img, mask)) == pytest.approx(gain ** 2)


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 2**16))
def test_a_sum_not_a_mean_a_magnified_surface_keeps_its_energy(seed):
    # The same band-limited surface seen twice as large (each splat grown with it): a mean of the
    # squared gradient would drop 4x; the sum over the region (the Dirichlet energy) stays put.
    img = texture(seed, 48, smooth=3.0)
    big = ndimage.zoom(img, 2, order=3, grid_mode=True, mode="grid-mirror")
    mask, big_mask = np.ones(img.shape, bool), np.ones(big.shape, bool)
    assert sharpness(gradient_energy(big, big_mask), gradient_energy(img, mask)) == pytest.approx(1.0, rel=0.15)


def test_only_the_mask_counts_and_its_edge_is_excluded():
    img = texture(0)
    mask = np.zeros_like(img, bool)
    mask[10:30, 10:30] = True
    outside = img.copy()
    outside[~ndimage.binary_dilation(mask)] = 0.0     # anything beyond the 3x3 windows of the mask
    assert gradient_energy(outside, mask) == gradient_energy(img, mask)
    step = np.zeros((20, 20))
    step[:, 10:] = 1.0
    half = np.zeros((20, 20), bool)
    half[:, :10] = True
    assert gradient_energy(step, half) == 0.0          # the step lies on the mask's edge


def test_a_reference_without_detail_is_an_input_error():
    with pytest.raises(InputError, match="reference gradient energy"):
        sharpness(1.0, 0.0)


def test_luminance_and_region_pixels():
    rgb = np.zeros((2, 2, 3))
    rgb[0, 0] = 1.0
    assert luminance(rgb)[0, 0] == pytest.approx(1.0) and luminance(rgb)[1, 1] == 0.0
    ids = np.array([[-1, 0], [1, 2]])
    faces_in = np.array([True, False, True])
    alpha = np.array([[1.0, 1.0], [1.0, 0.5]])
    np.testing.assert_array_equal(region_pixels(ids, faces_in, alpha), [[False, True], [False, False]])


def test_the_face_region_is_the_lower_face_away_from_the_eyes():
    from avatarcheck.avatar import synthetic_avatar

    head = synthetic_avatar().head_sub
    region = face_region(head)
    sets, v = head.vertex_sets, head.v_template
    face = np.zeros(len(v), bool)
    face[sets["face"]] = True
    assert region.sum() > 1000 and not (region & ~face).any()
    for side in ("left", "right"):
        assert not region[sets[f"eye_region_{side}"]].any()
        assert v[region, 1].max() < v[sets[f"eyeball_{side}"], 1].mean()
    import dataclasses

    without = dataclasses.replace(head, vertex_sets={k: s for k, s in sets.items() if k != "face"})
    with pytest.raises(InputError, match="face"):
        face_region(without)
