"""PNG writing: every compression level stores the same pixels."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from PIL import Image

from avatarcheck.io.images import write_png


@settings(max_examples=25, deadline=None)
@given(arrays(np.uint8, st.tuples(st.integers(1, 40), st.integers(1, 40), st.sampled_from([3, 4]))),
       st.integers(0, 9))
def test_every_compression_level_round_trips_the_pixels(tmp_path_factory, image, level):
    path = tmp_path_factory.mktemp("png") / "x.png"
    write_png(path, image, compress_level=level)
    with Image.open(path) as im:
        np.testing.assert_array_equal(np.asarray(im), image)


def test_float_images_are_rounded_to_uint8(tmp_path):
    write_png(tmp_path / "f.png", np.array([[[0.0, 0.5, 1.0]]], np.float32))
    with Image.open(tmp_path / "f.png") as im:
        assert np.asarray(im).tolist() == [[[0, 128, 255]]]  # 0.5 * 255 + 0.5 = 128.0 -> 128
