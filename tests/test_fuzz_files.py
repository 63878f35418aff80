"""Property-based fuzzing of the file parsers: PLY, OBJ, FLAME folder (pickle), head .npz.

The contract for every input: it loads into valid arrays, or raises ``InputError`` naming the
file. Never another exception, never a hang (a SIGALRM timer per example), never an allocation
beyond a bound (tracemalloc sees numpy's buffers; a 500-byte file must not make the loader ask
for hundreds of megabytes, even lazily).
"""

from __future__ import annotations

import contextlib
import io
import os
import pickle
import signal
import tempfile
import tracemalloc
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from plyfile import PlyData

from avatarcheck.errors import InputError
from avatarcheck.head.loaders import load_flame_folder, load_head_npz, save_head_npz
from avatarcheck.head.model import FLAME_PARENTS, HeadModel
from avatarcheck.io.obj import read_obj
from avatarcheck.splats.cloud import SplatCloud
from avatarcheck.splats.ply import read_ply, write_ply

# 60 fixed examples per parser in the suite (about 1.5 s each); AVATARCHECK_FUZZ_EXAMPLES=5000 for a
# deeper, randomised run.
_DEEP = int(os.environ.get("AVATARCHECK_FUZZ_EXAMPLES", "0"))
FUZZ = settings(max_examples=_DEEP or 60, deadline=None, derandomize=not _DEEP, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
TIME_LIMIT_S = 5.0
BASE_BYTES = 48 << 20  # the interpreter's own churn while loading a small file
BYTES_PER_FILE_BYTE = 1000  # e.g. a float32 (52, V, 3) zero basis from 3 bytes of uint8 vertices


@contextlib.contextmanager
def _alarm(seconds: float):
    def on_alarm(signum, frame):
        raise TimeoutError(f"loader still running after {seconds} s")

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def holds_contract(load: Callable[[Path], Any], path: Path, named: Path | None = None) -> Any:
    """``load(path)``'s result, or the ``InputError`` it raised (which must name ``named``).

    Any other exception propagates and fails the test; so does a peak allocation above the bound.
    """
    limit = BASE_BYTES + BYTES_PER_FILE_BYTE * sum(p.stat().st_size for p in
                                                   ([path] if path.is_file() else path.iterdir()))
    started = not tracemalloc.is_tracing()
    if started:
        tracemalloc.start()
    tracemalloc.reset_peak()
    try:
        with _alarm(TIME_LIMIT_S), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                result = load(path)
            except InputError as err:
                result = err
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        if started:
            tracemalloc.stop()
    assert peak <= limit, f"peak allocation {peak} bytes > bound {limit} for {path}"
    if isinstance(result, InputError):
        assert str(named or path) in str(result), str(result)
    return result


def mutations(seed: bytes) -> st.SearchStrategy[bytes]:
    """``seed`` with a few byte edits (flip, overwrite, insert, delete) and maybe truncated."""
    edit = st.tuples(st.sampled_from(["xor", "set", "insert", "delete"]), st.integers(0, max(len(seed) - 1, 0)),
                     st.binary(min_size=1, max_size=8))

    def apply(edits: list, cut: int) -> bytes:
        b = bytearray(seed)
        for op, at, data in edits:
            at = min(at, len(b))
            if op == "xor" and at < len(b):
                b[at] ^= data[0] or 1
            elif op == "set":
                b[at:at + len(data)] = data
            elif op == "insert":
                b[at:at] = data
            else:
                del b[at:at + len(data)]
        return bytes(b[:cut])

    return st.builds(apply, st.lists(edit, min_size=1, max_size=6), st.integers(0, len(seed) + 16))


def npy_header_only(shape: tuple, descr: str, body: bytes) -> bytes:
    h = repr({"descr": descr, "fortran_order": False, "shape": shape}).encode()
    h += b" " * (64 - (10 + len(h) + 1) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + len(h).to_bytes(2, "little") + h + body


# --- PLY ---------------------------------------------------------------------------------------

N_SPLATS = 4


def _ply_seeds() -> list[bytes]:
    rng = np.random.default_rng(0)
    q = rng.normal(size=(N_SPLATS, 4))
    cloud = SplatCloud(offsets=rng.normal(0, 0.01, (N_SPLATS, 3)), scales=rng.uniform(1e-3, 1e-2, (N_SPLATS, 3)),
                       quats=q / np.linalg.norm(q, axis=1, keepdims=True), opacities=rng.uniform(0.1, 0.9, N_SPLATS),
                       sh=rng.normal(0, 0.5, (N_SPLATS, 4, 3)), labels=np.arange(N_SPLATS) % 4)
    seeds = []
    with tempfile.TemporaryDirectory() as d:
        write_ply(Path(d) / "c.ply", cloud, np.zeros((N_SPLATS, 3)))
        for text in (False, True):  # the binary file we write, and the same as ascii
            ply = PlyData.read(str(Path(d) / "c.ply"))
            ply.text = text
            buf = io.BytesIO()
            ply.write(buf)
            seeds.append(buf.getvalue())
    return seeds


PLY_SEEDS = _ply_seeds()
PLY_HEADER_EDITS = st.sampled_from([b"element vertex 4", b"property float x", b"property uchar label",
                                    b"format binary_little_endian 1.0", b"format ascii 1.0"])
PLY_REPLACEMENTS = st.one_of(
    st.integers(0, 2**64).map(lambda n: f"element vertex {n}".encode()),
    st.sampled_from([b"property list uchar float x", b"property double x", b"property char label",
                     b"property float label", b"format binary_big_endian 1.0", b"element face 3", b""]))


def _check_cloud(c: SplatCloud) -> None:
    assert c.num_splats == N_SPLATS and np.isfinite(c.scales).all() and (c.scales <= 1.0 + 1e-6).all()
    assert c.labels.dtype == np.uint8 and (c.labels < 4).all()


@FUZZ
@given(st.one_of(st.sampled_from(PLY_SEEDS).flatmap(mutations),
                 st.tuples(st.sampled_from(PLY_SEEDS), PLY_HEADER_EDITS, PLY_REPLACEMENTS).map(
                     lambda t: t[0].replace(t[1], t[2], 1)),
                 st.binary(max_size=200).map(lambda b: b"ply\n" + b)))
@example(PLY_SEEDS[1].replace(b"property float x", b"property list uchar float x", 1))  # audit D18: ValueError
@example(PLY_SEEDS[0].replace(b"element vertex 4", b"element vertex 4000000000000", 1))
def test_fuzz_ply(tmp_path, data):
    path = tmp_path / "fuzz.ply"
    path.write_bytes(data)
    result = holds_contract(lambda p: read_ply(p, np.zeros((N_SPLATS, 3))), path)
    if not isinstance(result, InputError):
        _check_cloud(result)


# --- OBJ ---------------------------------------------------------------------------------------

OBJ_TOKENS = st.one_of(
    st.sampled_from(["v", "f", "vt", "vn", "#", "o", "1", "2", "3", "-1", "0", "2/2/2", "1//1", "nan", "1e999",
                     "1_0", "\u0661", "\ufeffv", "\x00", "1e-3", ".5", "+2."]),
    st.integers(-2**70, 2**70).map(str),
    st.floats().map(repr),
    st.text(max_size=4))
OBJ_TEXT = st.lists(st.lists(OBJ_TOKENS, max_size=6).map(" ".join), max_size=24).map("\n".join)
OBJ_SEED = b"v 0 0 0\nv 1 0 0\nv 0 1 0\nv 0 0 1\nf 1 2 3\nf 1 3 4\nf -1 -2 -3 -4\n"


@FUZZ
@given(st.one_of(OBJ_TEXT.map(lambda t: t.encode("utf-8", "surrogatepass")),
                 mutations(OBJ_SEED), st.binary(max_size=200)))
@example(OBJ_SEED + b"f 1 2 99999999999999999999999\n")  # audit D6: OverflowError
@example(b"")
def test_fuzz_obj(tmp_path, data):
    path = tmp_path / "fuzz.obj"
    path.write_bytes(data)
    result = holds_contract(read_obj, path)
    if not isinstance(result, InputError):
        v, f = result
        assert v.ndim == 2 and v.shape[1] == 3 and v.dtype == np.float64 and np.isfinite(v).all()
        assert f.ndim == 2 and f.shape[1] == 3 and f.dtype == np.int64
        assert not f.size or (f.min() >= 0 and f.max() < len(v))


# --- FLAME folder (pickle) and head .npz --------------------------------------------------------

V, J = 12, 5


def _distinct_triangles(rng: np.random.Generator, n: int) -> np.ndarray:
    """(n, 3) uint32: random triangles, each naming three different vertices (as a head model must)."""
    return np.stack([rng.choice(V, 3, replace=False) for _ in range(n)]).astype(np.uint32)


def _flame_arrays() -> dict[str, Any]:
    rng = np.random.default_rng(1)
    w = rng.random((V, J))
    jreg = np.zeros((J, V))
    jreg[np.arange(J), np.arange(J)] = 1.0
    return {"v_template": rng.normal(0, 0.05, (V, 3)), "f": _distinct_triangles(rng, 20),
            "shapedirs": rng.normal(0, 1e-3, (V, 3, 3)), "posedirs": rng.normal(0, 1e-3, (V, 3, 36)),
            "J_regressor": jreg, "kintree_table": np.array([[2**32 - 1, 0, 1, 1, 1], [0, 1, 2, 3, 4]], np.uint32),
            "weights": w / w.sum(1, keepdims=True)}


class _Alloc:
    """Pickles as ``numpy.ndarray(shape, dtype)``: memory requested with no data behind it."""

    def __init__(self, shape, dtype):
        self.shape, self.dtype = shape, dtype

    def __reduce__(self):
        return np.ndarray, (self.shape, self.dtype)


FLAME_KEYS = st.sampled_from(sorted(_flame_arrays()))
ARRAY_DTYPES = st.sampled_from(["f4", "f8", "i8", "u1", "?", "c8", "<U3", "M8[s]", "O"])
RANDOM_ARRAYS = ARRAY_DTYPES.flatmap(lambda dt: hnp.arrays(
    np.dtype(dt), hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=14),
    elements=st.none() if dt == "O" else None))
REPLACEMENTS = st.one_of(
    RANDOM_ARRAYS,
    st.tuples(st.lists(st.integers(0, 2**40), min_size=1, max_size=3).map(tuple), st.sampled_from(["f4", "u1", "V9"]))
    .map(lambda t: _Alloc(*t)),
    st.none(), st.integers(), st.text(max_size=5), st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))


def _pickle(obj: Any, protocol: int) -> bytes:
    return pickle.dumps(obj, protocol=protocol)


def _chumpy_flame(protocol: int) -> bytes:
    """FLAME 2020 style: arrays inside chumpy ``Ch`` objects (state ``{'x': array, ...}``), sparse J."""
    import scipy.sparse as sp

    from tests.conftest import fake_chumpy

    with fake_chumpy() as Ch:
        d: dict[str, Any] = dict(_flame_arrays())
        for key in ("v_template", "shapedirs", "weights"):
            d[key] = Ch(d[key])
        d["J_regressor"] = sp.csc_matrix(d["J_regressor"])
        return _pickle(d, protocol)


FLAME_SEEDS = [_pickle(_flame_arrays(), 2), _pickle(_flame_arrays(), 0), _chumpy_flame(2), _chumpy_flame(0)]


def _replaced_flame(key: str, value: Any, protocol: int) -> bytes:
    d = _flame_arrays()
    d[key] = value
    return _pickle(d, protocol)


@FUZZ
@given(st.one_of(st.sampled_from(FLAME_SEEDS).flatmap(mutations),
                 st.builds(_replaced_flame, FLAME_KEYS, REPLACEMENTS, st.sampled_from([0, 2]))))
def test_fuzz_flame_folder(tmp_path, data):
    folder = tmp_path / "flame"
    folder.mkdir(exist_ok=True)
    (folder / "flame2023.pkl").write_bytes(data)
    result = holds_contract(load_flame_folder, folder)
    if not isinstance(result, InputError):
        assert isinstance(result, HeadModel) and result.num_vertices == V  # validated on construction


def _head_npz_seed() -> tuple[bytes, dict[str, np.ndarray]]:
    a = _flame_arrays()
    m = HeadModel(v_template=a["v_template"].astype(np.float32), faces=a["f"].astype(np.int64),
                  shapedirs=a["shapedirs"].astype(np.float32), arkit_basis=np.zeros((52, V, 3), np.float32),
                  J_regressor=a["J_regressor"].astype(np.float32), parents=FLAME_PARENTS.copy(),
                  lbs_weights=a["weights"].astype(np.float32), vertex_sets={"eyeball_left": np.array([0, 1])})
    with tempfile.TemporaryDirectory() as d:
        save_head_npz(m, Path(d) / "h.npz")
        raw = (Path(d) / "h.npz").read_bytes()
        with np.load(Path(d) / "h.npz") as z:
            return raw, {k: z[k] for k in z.files}


HEAD_NPZ_SEED, HEAD_ARRAYS = _head_npz_seed()


def _replaced_npz(key: str, member: bytes) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for k, v in HEAD_ARRAYS.items():
            if k != key:
                b = io.BytesIO()
                np.save(b, v)
                zf.writestr(k + ".npy", b.getvalue())
        zf.writestr(key + ".npy", member)
    return buf.getvalue()


def _npy(a: np.ndarray) -> bytes:
    b = io.BytesIO()
    np.save(b, a, allow_pickle=True)
    return b.getvalue()


NPZ_MEMBERS = st.one_of(
    RANDOM_ARRAYS.map(_npy),
    st.tuples(st.lists(st.integers(0, 2**40), max_size=3).map(tuple), st.sampled_from(["<f4", "|u1", "<c8", "|O"]),
              st.binary(max_size=64)).map(lambda t: npy_header_only(*t)),
    st.binary(max_size=64))


@FUZZ
@given(st.one_of(mutations(HEAD_NPZ_SEED),
                 st.builds(_replaced_npz, st.sampled_from(sorted(HEAD_ARRAYS) + ["set__x"]), NPZ_MEMBERS)))
def test_fuzz_head_npz(tmp_path, data):
    path = tmp_path / "fuzz.npz"
    path.write_bytes(data)
    result = holds_contract(load_head_npz, path)
    if not isinstance(result, InputError):
        assert isinstance(result, HeadModel) and result.num_vertices == V


def test_contract_checker_catches_a_bomb(tmp_path, monkeypatch):
    """The bound itself can fail: a loader that allocates 200 MB for a tiny file is caught."""
    path = tmp_path / "tiny.bin"
    path.write_bytes(b"x")
    with pytest.raises(AssertionError, match="peak allocation"):
        holds_contract(lambda p: np.ones(25_000_000), path)
    with pytest.raises(TimeoutError):
        with _alarm(0.05):
            while True:
                pass
    with pytest.raises(AssertionError):  # an InputError that does not name the file
        holds_contract(lambda p: (_ for _ in ()).throw(InputError("elsewhere", "f", "x", "y")), path)
