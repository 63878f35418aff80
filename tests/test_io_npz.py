"""Checked .npy / .npz reading: headers are checked against the file before anything is allocated."""

from __future__ import annotations

import io
import os
import struct
import zipfile

import numpy as np
import pytest

from avatarcheck.errors import InputError
from avatarcheck.io.inputs import checked_input_file, read_bytes_checked
from avatarcheck.io.npz import load_array_file_checked, load_npy_checked, load_npz_checked


def npy_bytes_with_header(shape: tuple, descr: str = "<f4", body: bytes = b"") -> bytes:
    """An npy 1.0 member whose header claims ``shape`` whatever the body holds (as in the audit)."""
    h = repr({"descr": descr, "fortran_order": False, "shape": shape}).encode()
    h += b" " * (64 - (10 + len(h) + 1) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + len(h).to_bytes(2, "little") + h + body


def npy_bytes(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, a, allow_pickle=True)
    return buf.getvalue()


ARRAYS = {
    "f": np.arange(12, dtype=np.float32).reshape(3, 4),
    "fortran": np.asfortranarray(np.arange(6.0).reshape(2, 3)),
    "name": np.array("avatarcheck-head/1"),
    "empty": np.zeros((0, 3), np.int64),
    "u": np.array([1, 2, 3], np.uint32),
}


@pytest.mark.parametrize("compressed", [False, True])
def test_round_trip_matches_numpy(tmp_path, compressed):
    path = tmp_path / "a.npz"
    (np.savez_compressed if compressed else np.savez)(path, **ARRAYS)
    got = load_npz_checked(path)
    assert list(got) == list(ARRAYS)
    with np.load(path, allow_pickle=False) as ref:
        for k in ARRAYS:
            assert got[k].dtype == ref[k].dtype and got[k].shape == ref[k].shape, k
            np.testing.assert_array_equal(got[k], ref[k], err_msg=k)
    assert got["f"].flags.writeable
    assert set(load_npz_checked(path, keys=["f", "nope"])) == {"f"}
    np.save(tmp_path / "x.npy", ARRAYS["fortran"])
    np.testing.assert_array_equal(load_npy_checked(tmp_path / "x.npy"), ARRAYS["fortran"])
    assert isinstance(load_array_file_checked(tmp_path / "x.npy"), np.ndarray)
    assert isinstance(load_array_file_checked(path), dict)


def test_header_claiming_terabytes_is_refused_before_allocation(tmp_path):
    # The audit's D3 take bomb: a (10**12, 52) float32 header over 100 bytes of data.
    path = tmp_path / "bomb.npz"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("fps.npy", npy_bytes(np.array(60.0)))
        zf.writestr("weights.npy", npy_bytes_with_header((10**12, 52), body=b"\0" * 100))
    with pytest.raises(InputError) as err:
        load_npz_checked(path)
    msg = str(err.value)
    assert msg.startswith(f"{path}: weights:") and str(52 * 4 * 10**12) in msg and "100 bytes" in msg
    (tmp_path / "bomb.npy").write_bytes(npy_bytes_with_header((10**12, 52), body=b"\0" * 100))
    with pytest.raises(InputError, match="bomb.npy: file: .* 100 bytes of data"):
        load_npy_checked(tmp_path / "bomb.npy")


def test_declared_uncompressed_size_is_checked_against_the_file(tmp_path):
    # A stored member whose zip headers claim 1 GB: refused from the directory alone.
    path = tmp_path / "liar.npz"
    np.savez(path, a=np.zeros(4))
    raw = bytearray(path.read_bytes())
    for sig, off in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        at = raw.index(sig) + off
        raw[at:at + 4] = struct.pack("<I", 10**9)
    path.write_bytes(bytes(raw))
    with pytest.raises(InputError, match=r"liar\.npz: a\.npy: .*1000000000 bytes declared"):
        load_npz_checked(path)


def test_budget_bounds_the_total(tmp_path):
    path = tmp_path / "big.npz"
    np.savez(path, a=np.zeros(1000), b=np.zeros(1000))
    assert load_npz_checked(path, max_bytes=20_000)["a"].shape == (1000,)
    with pytest.raises(InputError, match=r"at most 10000 bytes"):
        load_npz_checked(path, max_bytes=10_000)


@pytest.mark.parametrize("case", ["npy_as_npz", "object", "truncated", "bzip2", "not_npy", "text"])
def test_bad_archives_are_input_errors_naming_the_file(tmp_path, case):
    path = tmp_path / "bad.npz"
    if case == "npy_as_npz":  # the audit's D14: a .npy renamed .npz
        np.save(tmp_path / "x.npy", np.zeros(3))
        os.replace(tmp_path / "x.npy", path)
    elif case == "object":
        with zipfile.ZipFile(path, "w") as zf:
            zf.writestr("o.npy", npy_bytes(np.array([1, None], dtype=object)))
    elif case == "truncated":
        np.savez_compressed(path, a=np.random.default_rng(0).random(5000))
        path.write_bytes(path.read_bytes()[:20000])
    elif case == "bzip2":
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_BZIP2) as zf:
            zf.writestr("a.npy", npy_bytes(np.zeros(3)))
    elif case == "not_npy":
        with zipfile.ZipFile(path, "w") as zf:
            zf.writestr("a.npy", b"hello, not an array")
    else:
        path.write_text("just text\n")
    with pytest.raises(InputError) as err:
        load_npz_checked(path)
    assert str(err.value).startswith(str(path))


def test_input_file_checks(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_npz_checked(tmp_path / "missing.npz")
    with pytest.raises(InputError, match="a directory"):
        load_npz_checked(tmp_path)
    if os.path.exists("/dev/zero"):
        with pytest.raises(InputError, match="device, pipe or socket"):
            read_bytes_checked("/dev/zero")
    os.symlink(tmp_path / "loop_b", tmp_path / "loop_a")
    os.symlink(tmp_path / "loop_a", tmp_path / "loop_b")
    with pytest.raises(InputError, match="loop_a: file: .*can be read"):
        checked_input_file(tmp_path / "loop_a")
    (tmp_path / "f.bin").write_bytes(b"x" * 11)
    assert checked_input_file(tmp_path / "f.bin", 11) == 11
    with pytest.raises(InputError, match="at most 10 bytes.*11 bytes"):
        read_bytes_checked(tmp_path / "f.bin", 10)


def test_zero_size_items_still_count(tmp_path):
    # 10**12 items of a zero-byte dtype need no data, yet iterating them would never end.
    path = tmp_path / "names.npz"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("names.npy", npy_bytes_with_header((10**12,), descr="<U0"))
    with pytest.raises(InputError, match=r"names\.npz: names: expected arrays of at most"):
        load_npz_checked(path)
