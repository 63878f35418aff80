"""The allowlisting unpickler: bounded allocation (D3), empty arrays (D17), bounded class cache (D20)."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest

from avatarcheck.errors import InputError
from avatarcheck.head.loaders import load_flame_folder
from avatarcheck.io import safe_pickle
from avatarcheck.io.safe_pickle import safe_unpickle

try:
    from numpy._core.multiarray import _reconstruct
except ImportError:  # pragma: no cover - numpy 1.x
    from numpy.core.multiarray import _reconstruct

KINTREE = np.array([[4294967295, 0, 1, 1, 1], [0, 1, 2, 3, 4]], np.uint32)


class Reduce:
    """Pickles as ``fn(*args)``: how a hostile file asks for an arbitrary call."""

    def __init__(self, fn, *args):
        self.fn, self.args = fn, args

    def __reduce__(self):
        return self.fn, self.args


def dump(path, obj, protocol=2):
    with open(path, "wb") as fh:
        pickle.dump(obj, fh, protocol=protocol)
    return path


AMPLIFIED_VERTICES = 20_000_000


def amplifying_flame(folder):
    """The audit's D3 repro in ``folder``/flame2023.pkl: ~500 bytes asking numpy for (2e7, 3) float32
    arrays (and their FLAME siblings) without their data. Returns the pickle's path."""
    n = AMPLIFIED_VERTICES
    d = {"v_template": Reduce(np.ndarray, (n, 3), "f4"), "f": np.array([[0, 1, 2]], np.uint32),
         "shapedirs": Reduce(np.ndarray, (n, 3, 1), "f4"), "J_regressor": Reduce(np.ndarray, (5, n), "f4"),
         "kintree_table": KINTREE, "weights": Reduce(np.ndarray, (n, 5), "f4")}
    folder.mkdir()
    return dump(folder / "flame2023.pkl", d)


def test_tiny_pickle_requesting_gigabytes_is_refused(tmp_path):
    # The audit's D3 repro: 503 bytes asking numpy for (2e7, 3) float32 arrays, without data.
    n = AMPLIFIED_VERTICES
    path = amplifying_flame(tmp_path / "amp")
    assert path.stat().st_size < 1000
    with pytest.raises(InputError) as err:
        load_flame_folder(tmp_path / "amp")
    assert str(err.value).startswith(f"{path}: pickle:") and str(n * 3 * 4) in str(err.value)


def test_allocation_budget_is_cumulative(tmp_path):
    # Each request is small, together they exceed the file's size plus the slack.
    path = dump(tmp_path / "many.pkl", [Reduce(np.ndarray, (100_000,), "f8") for _ in range(20)])
    with pytest.raises(InputError, match="arrays no larger than the file allows"):
        safe_unpickle(path)
    small = dump(tmp_path / "few.pkl", [Reduce(np.ndarray, (10,), "f8") for _ in range(3)])
    assert [a.shape for a in safe_unpickle(small)] == [(10,)] * 3


@pytest.mark.parametrize("call", [
    Reduce(bytes, 10**12),  # bytes(n) allocates n bytes
    Reduce(_reconstruct, set, (0,), b"b"),  # only ndarray may be reconstructed
    Reduce(_reconstruct, np.ndarray, (10**9,), b"b"),
])
def test_allocating_calls_refused(tmp_path, call):
    with pytest.raises(InputError) as err:
        safe_unpickle(dump(tmp_path / "x.pkl", call))
    assert str(err.value).startswith(str(tmp_path / "x.pkl"))


@pytest.mark.parametrize("protocol", [0, 1, 2, 3, 4])
def test_benign_pickle_with_empty_arrays_loads(tmp_path, protocol):
    # D17: Python 3 protocol <= 2 writes b'' as __builtin__.bytes(); that is not code.
    obj = {"faces": np.zeros((0, 3), np.uint32), "shapedirs": np.zeros((4, 3, 0)), "x": np.arange(3.0)}
    got = safe_unpickle(dump(tmp_path / "e.pkl", obj, protocol))
    for k, v in obj.items():
        assert got[k].shape == v.shape and got[k].dtype == v.dtype
    np.testing.assert_array_equal(got["x"], obj["x"])


def chumpy_payload(names):
    """A protocol-0 pickle body referencing each ``chumpy.<name>`` class once."""
    body = b"(l" + b"".join(b"cchumpy\n" + n.encode() + b"\n)\x81a" for n in names) + b"."
    return b"\x80\x02" + body


def test_chumpy_stand_in_cache_is_bounded(tmp_path):
    # D20: 20,000 distinct class names used to add 20,000 classes to a module-global dict.
    safe_pickle._CHUMPY_CLASSES.clear()
    ok = tmp_path / "ok.pkl"
    for start in range(0, 200, 50):  # several files, 50 names each: within the per-file limit
        ok.write_bytes(chumpy_payload([f"C{i}" for i in range(start, start + 50)]))
        assert len(safe_unpickle(ok)) == 50
        assert len(safe_pickle._CHUMPY_CLASSES) <= safe_pickle._CHUMPY_CACHE_MAX
    bomb = tmp_path / "bomb.pkl"
    bomb.write_bytes(chumpy_payload([f"K{i}" for i in range(2000)]))
    with pytest.raises(InputError, match="distinct chumpy classes"):
        safe_unpickle(bomb)
    assert len(safe_pickle._CHUMPY_CLASSES) <= safe_pickle._CHUMPY_CACHE_MAX


def test_pickle_input_file_checks(tmp_path):
    with pytest.raises(InputError, match="a directory"):
        safe_unpickle(tmp_path)
    with pytest.raises(FileNotFoundError):
        safe_unpickle(tmp_path / "missing.pkl")
    big = dump(tmp_path / "big.pkl", np.zeros(1000))
    with pytest.raises(InputError, match="at most 100 bytes"):
        safe_unpickle(big, max_bytes=100)
    assert os.path.getsize(big) > 100


def test_chumpy_cycle_is_an_input_error(tmp_path):
    from avatarcheck.io.safe_pickle import ChumpyStandIn

    # A Ch whose 'x' is itself: memo references make this a few bytes of pickle.
    body = b"\x80\x02cchumpy.ch\nCh\n)\x81q\x00}q\x01X\x01\x00\x00\x00xh\x00sb."
    (tmp_path / "cyc.pkl").write_bytes(body)
    obj = safe_unpickle(tmp_path / "cyc.pkl")
    assert isinstance(obj, ChumpyStandIn) and obj.state["x"] is obj
    with pytest.raises(InputError, match="cyc.pkl: v_template: .*cycle"):
        obj.array(tmp_path / "cyc.pkl", "v_template")


AUDIT_D3 = """
import pickle, sys, numpy as np
from avatarcheck.errors import InputError
from avatarcheck.head.loaders import load_flame_folder
try:
    load_flame_folder(sys.argv[1])
except InputError as err:
    print("INPUT_ERROR", err)
"""


def test_audit_d3_repro_under_a_memory_cap(tmp_path):
    # The audit ran this under `ulimit -v 4000000`: 1.31 GB RSS, then a MemoryError traceback.
    import resource
    import subprocess
    import sys

    amplifying_flame(tmp_path / "amp")

    def cap():
        resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))

    r = subprocess.run([sys.executable, "-c", AUDIT_D3, str(tmp_path / "amp")], capture_output=True, text=True,
                       preexec_fn=cap, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.startswith("INPUT_ERROR") and "flame2023.pkl: pickle:" in r.stdout
