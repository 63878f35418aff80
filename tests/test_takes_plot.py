"""The timeline plot: any moment type with a frame, a real PNG, and output mistakes caught before drawing."""

from dataclasses import dataclass

import numpy as np
import pytest
from PIL import Image

from avatarcheck.errors import InputError
from avatarcheck.takes.plot import plot_timeline
from avatarcheck.takes.synthetic import synthetic_take


@dataclass
class Marked:
    frame: int


def test_plot_marks_frames_of_any_moment_type(tmp_path):
    take = synthetic_take(1).slice(0, 200)
    png = tmp_path / "t.png"
    plot_timeline(take, {"full_blink": Marked(37), "custom": Marked(120)}, png)
    img = Image.open(png)
    assert img.format == "PNG" and img.size == (1000, 360)
    assert np.asarray(img.convert("L")).std() > 5
    assert not list(tmp_path.glob(".*"))


def test_plot_output_mistakes_are_input_errors_before_drawing(tmp_path):
    """Audit D16: --plot x.txt wrote PNG bytes into x.txt; D8: a path under a file gave a traceback."""
    take = synthetic_take(1).slice(0, 50)
    (tmp_path / "f").write_text("x")
    for out, field in ((tmp_path / "x.txt", "suffix"), (tmp_path / "f" / "t.png", "output"), (tmp_path, "suffix")):
        with pytest.raises(InputError, match=field):
            plot_timeline(take, {}, out)
    assert not (tmp_path / "x.txt").exists() and (tmp_path / "f").read_text() == "x"
