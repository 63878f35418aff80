"""Property-based fuzzing of the take parsers (issue 15): Live Link Face CSV, UDP datagrams, .npz takes.

Contract for each: any input either loads into a valid take / packet or raises ``InputError`` naming
the file (or datagram); never another exception, never a hang. Inputs are mutations of a valid
file (where bugs hide: almost-right files) plus raw garbage. Bounded examples keep each under ~10 s.
"""

import io
import struct
import tempfile
import zipfile
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from avatarcheck.errors import InputError
from avatarcheck.takes.csv_io import read_livelink_csv, write_livelink_csv
from avatarcheck.takes.npz_io import load_take_npz, save_take_npz
from avatarcheck.takes.take import Take
from avatarcheck.takes.udp import Packet, build_packet, parse_packet

# Sampled offline: about 5 % of the mutated CSVs and .npz files still load, the rest are errors, so
# both sides of the contract are exercised. Each test runs in 1-3 s.
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _valid_take(frames: int = 6, fps: float = 60.0) -> Take:
    rng = np.random.default_rng(11)
    w = rng.uniform(0, 1, (frames, 52)).astype(np.float32)
    rot = rng.uniform(-0.5, 0.5, (frames, 9)).astype(np.float32)
    return Take(w, rot[:, :3], rot[:, 3:6], rot[:, 6:], 3600 + np.arange(frames) / fps, fps, "fuzz")


def assert_valid_take(take: Take) -> None:
    """What every loaded take guarantees, checked here independently of Take's own validation."""
    t = take.num_frames
    assert t >= 1 and take.weights.shape == (t, 52) and take.weights.dtype == np.float32
    assert np.isfinite(take.weights).all() and take.weights.min() >= 0 and take.weights.max() <= 1
    for rot in (take.head_rotation, take.eye_left, take.eye_right):
        assert rot.shape == (t, 3) and np.isfinite(rot).all()
    assert take.timestamps.shape == (t,) and np.isfinite(take.timestamps).all()
    assert (np.diff(take.timestamps) > 0).all()
    assert np.isfinite(take.fps) and take.fps > 0
    assert all(isinstance(k, str) and isinstance(v, int) and v > 0 for k, v in take.clipped.items())


def _load_or_input_error(load, path: Path) -> None:
    try:
        take = load(path)
    except InputError as err:
        assert path.name in str(err), str(err)
        assert len(str(err)) < 2000  # huge cells are shortened, never echoed whole
    else:
        assert_valid_take(take)


# --- CSV -------------------------------------------------------------------------------------------

with tempfile.TemporaryDirectory() as _folder:
    _path = Path(_folder) / "valid.csv"
    write_livelink_csv(_path, _valid_take())
    VALID_CSV = _path.read_text()

# cells that look almost right: numbers in odd forms, band edges, timecode variants, long cells
odd_cells = st.sampled_from([
    "", " ", "nan", "-inf", "1e309", "1.25", "1.2500001", "-0.1", "-0.1000001", "1.053", "0.0_5", "\u0660.\u0665",
    "\uff10.\uff15", "0x10", "1,5", "00:00:00:00.000", "23:59:59:59.999", "24:00:00:00", "00:00:00:99.5",
    "00:00:01:120.0", "61", "52", "EyeBlinkLeft", '"', '"a,b"', "\x00", "\ufeff", "1e30", "-3e38", "x" * 3000,
])
cells = st.one_of(odd_cells, st.text(max_size=12), st.floats(allow_nan=True, allow_infinity=True).map(repr))


@st.composite
def mutated_csv(draw) -> str:
    lines = VALID_CSV.splitlines()
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["cell", "cell", "cell", "drop_line", "dup_line", "truncate", "insert", "swap"]))
        i = draw(st.integers(0, len(lines) - 1))
        if op == "cell":
            row = lines[i].split(",")
            row[draw(st.integers(0, len(row) - 1))] = draw(cells)
            lines[i] = ",".join(row)
        elif op == "drop_line" and len(lines) > 1:
            del lines[i]
        elif op == "dup_line":
            lines.insert(i, lines[i])
        elif op == "truncate":
            lines[i] = lines[i][:draw(st.integers(0, len(lines[i])))]
        elif op == "insert":
            k = draw(st.integers(0, len(lines[i])))
            lines[i] = lines[i][:k] + draw(st.text(max_size=8)) + lines[i][k:]
        elif op == "swap":
            j = draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
    return "\n".join(lines) + draw(st.sampled_from(["\n", "", "\r\n", "\n\n"]))


@FUZZ
@given(st.one_of(mutated_csv().map(lambda s: s.encode("utf-8", "surrogatepass")), st.binary(max_size=400)))
def test_csv_fuzz_loads_or_raises_input_error(data):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzz.csv"
        path.write_bytes(data)
        _load_or_input_error(read_livelink_csv, path)


# --- UDP datagrams --------------------------------------------------------------------------------

GOOD_PACKET = build_packet(np.linspace(0, 1, 52, dtype=np.float32), (0.1, -0.2, 0.0), frame=1234, sub_frame=0.652)


@st.composite
def mutated_packet(draw) -> bytes:
    data = bytearray(GOOD_PACKET)
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["byte", "float", "int", "cut", "extend"]))
        if op == "byte" and data:
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
        elif op == "float" and len(data) >= 4:
            k = draw(st.integers(0, len(data) - 4))
            data[k:k + 4] = struct.pack(">f", draw(st.floats(width=32, allow_nan=True, allow_infinity=True)))
        elif op == "int" and len(data) >= 4:
            k = draw(st.integers(0, len(data) - 4))
            data[k:k + 4] = struct.pack(">i", draw(st.integers(-2**31, 2**31 - 1)))
        elif op == "cut":
            del data[draw(st.integers(0, len(data))):]
        elif op == "extend":
            data += draw(st.binary(max_size=8))
    return bytes(data)


@settings(FUZZ, max_examples=600)
@given(st.one_of(mutated_packet(), st.binary(max_size=600), st.binary(max_size=40).map(lambda b: b"\x06" + b)))
def test_udp_fuzz_decodes_or_raises_input_error(data):
    try:
        p = parse_packet(data, source="fuzz datagram")
    except InputError as err:
        assert str(err).startswith("fuzz datagram: ")
        return
    assert isinstance(p, Packet)
    assert p.weights.shape == (52,) and p.weights.min() >= 0 and p.weights.max() <= 1
    for rot in (p.head_rotation, p.eye_left, p.eye_right):
        assert rot.shape == (3,) and np.isfinite(rot).all()
    assert p.frame >= 0 and 0 <= p.sub_frame < 1 and np.isfinite(p.time_s) and p.rate > 0


# --- .npz takes -----------------------------------------------------------------------------------

with tempfile.TemporaryDirectory() as _folder:
    _path = Path(_folder) / "valid.npz"
    save_take_npz(_path, _valid_take())
    VALID_NPZ = _path.read_bytes()
    with np.load(_path, allow_pickle=False) as _npz:
        VALID_ARRAYS = {k: _npz[k] for k in _npz.files}

any_array = hnp.arrays(
    dtype=st.one_of(hnp.scalar_dtypes(), hnp.unicode_string_dtypes(max_len=4), hnp.byte_string_dtypes(max_len=4)),
    shape=hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=5),
)


@st.composite
def mutated_npz(draw) -> bytes:
    kind = draw(st.sampled_from(["arrays", "bytes", "bytes"]))
    if kind == "arrays":  # a well-formed archive with wrong contents
        arrays = dict(VALID_ARRAYS)
        for _ in range(draw(st.integers(1, 3))):
            key = draw(st.sampled_from(sorted(arrays) + ["extra"]))
            if draw(st.booleans()) and key in arrays:
                del arrays[key]
            else:
                arrays[key] = draw(any_array)
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", draw(st.sampled_from([zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED]))) as zf:
            for key, value in arrays.items():
                member = io.BytesIO()
                np.save(member, value, allow_pickle=False)
                zf.writestr(key + ".npy", member.getvalue())
        return buf.getvalue()
    data = bytearray(VALID_NPZ)  # a damaged archive: flipped bytes, overwritten runs, cut short
    for _ in range(draw(st.integers(1, 6))):
        op = draw(st.sampled_from(["flip", "run", "cut"]))
        k = draw(st.integers(0, len(data) - 1))
        if op == "flip":
            data[k] ^= 1 << draw(st.integers(0, 7))
        elif op == "run":
            run = draw(st.binary(min_size=1, max_size=16))
            data[k:k + len(run)] = run
        elif op == "cut":
            del data[k:]
        if not data:
            break
    return bytes(data)


@FUZZ
@given(mutated_npz())
def test_npz_fuzz_loads_or_raises_input_error(data):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzz.npz"
        path.write_bytes(data)
        _load_or_input_error(load_take_npz, path)
