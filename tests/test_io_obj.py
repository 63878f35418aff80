"""The OBJ reader: BOM, strict numbers, bounded indices and input size (audit D6, D19)."""

from __future__ import annotations

import os

import numpy as np
import pytest

from avatarcheck.errors import InputError
from avatarcheck.io.obj import read_obj, write_obj

TETRA = "v 0 0 0\nv 1 0 0\nv 0 1 0\nv 0 0 1\nf 1 2 3\n"


def test_bom_does_not_drop_the_first_vertex(tmp_path):
    # D6: the BOM glued to the first "v" made the reader skip it and shift every face by one.
    path = tmp_path / "bom.obj"
    path.write_bytes(b"\xef\xbb\xbf" + TETRA.encode())
    v, f = read_obj(path)
    assert len(v) == 4
    assert v[f[0]].tolist() == [[0, 0, 0], [1, 0, 0], [0, 1, 0]]


def test_exporter_variants_accepted(tmp_path):
    path = tmp_path / "x.obj"
    path.write_bytes(b"# c\r\nv 0 0 0\r\nv 1. 0 0 1\r\nv 0 1 0 0.5 0.5 0.5\r\nv -.5 +1e-1 2E0\r\n"
                     b"vt 0 0\r\nf 1/1/1 2//2 -2 -1\r\n")
    v, f = read_obj(path)
    np.testing.assert_array_equal(v, [[0, 0, 0], [1, 0, 0], [0, 1, 0], [-0.5, 0.1, 2.0]])
    np.testing.assert_array_equal(f, [[0, 1, 2], [0, 2, 3]])  # the quad as a fan


def test_round_trip(tmp_path):
    rng = np.random.default_rng(3)
    v = rng.normal(size=(50, 3))
    f = rng.integers(0, 50, size=(80, 3))
    write_obj(tmp_path / "r.obj", v, f, comment="two\nlines")
    v2, f2 = read_obj(tmp_path / "r.obj")
    np.testing.assert_allclose(v2, v, rtol=1e-8)
    np.testing.assert_array_equal(f2, f)


@pytest.mark.parametrize("line, field", [
    ("v 1 2 3 junk", "v"),
    ("v 1 2", "v"),
    ("v \u0661 2 3", "v"),  # Arabic-Indic one: float() would take it
    ("v \uff12 2 3", "v"),  # full-width two
    ("v 1_0 2 3", "v"),  # float("1_0") == 10.0
    ("v nan 0 0", "v"),
    ("v 1e999 0 0", "v"),
    ("f 1 2 99999999999999999999999", "f"),  # used to be an OverflowError traceback
    ("f 1 2 3000000000", "f"),
    ("f 1 2 \u0663", "f"),
    ("f 1 2 0", "f"),
    ("f 1 2", "f"),
    ("f 1/x 2 3", "f"),
])
def test_bad_lines_name_file_and_line(tmp_path, line, field):
    path = tmp_path / "bad.obj"
    path.write_text(TETRA + line + "\n", encoding="utf-8")
    with pytest.raises(InputError) as err:
        read_obj(path)
    assert err.value.source == f"{path}:6" and err.value.field == field


def test_bad_files(tmp_path):
    with pytest.raises(InputError, match="a directory"):
        read_obj(tmp_path)
    if os.path.exists("/dev/zero"):
        os.symlink("/dev/zero", tmp_path / "zero.obj")  # D19: used to read until memory ran out
        with pytest.raises(InputError, match="device"):
            read_obj(tmp_path / "zero.obj")
    (tmp_path / "big.obj").write_text(TETRA * 100)
    with pytest.raises(InputError, match="at most 1000 bytes"):
        read_obj(tmp_path / "big.obj", max_bytes=1000)
    (tmp_path / "latin.obj").write_bytes(b"v 0 0 0 # caf\xe9\n")
    with pytest.raises(InputError, match="UTF-8"):
        read_obj(tmp_path / "latin.obj")
    (tmp_path / "empty.obj").write_text("# nothing\n")
    with pytest.raises(InputError, match="at least one vertex"):
        read_obj(tmp_path / "empty.obj")
    (tmp_path / "range.obj").write_text(TETRA + "f 1 2 5\n")
    with pytest.raises(InputError, match=r"indices in \[1, 4\]"):
        read_obj(tmp_path / "range.obj")
    with pytest.raises(FileNotFoundError):
        read_obj(tmp_path / "missing.obj")
