"""The Take data class (validation, channels, slices) and its .npz form."""

import dataclasses
import io
import tempfile
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from avatarcheck.arkit import ARKIT_NAMES
from avatarcheck.errors import InputError
from avatarcheck.takes.files import load_take, save_take
from avatarcheck.takes.npz_io import load_take_npz, save_take_npz
from avatarcheck.takes.take import Take


def make(t=5, **over):
    fields = dict(weights=np.zeros((t, 52), np.float32), head_rotation=np.zeros((t, 3)), eye_left=np.zeros((t, 3)),
                  eye_right=np.zeros((t, 3)), timestamps=np.arange(t) / 60.0, fps=60.0, source="unit")
    fields.update(over)
    return Take(**fields)


@pytest.mark.parametrize("over, field", [
    (dict(weights=np.zeros((5, 51))), "weights"),
    (dict(weights=np.zeros((0, 52))), "weights"),
    (dict(weights=np.full((5, 52), np.nan)), "weights"),
    (dict(weights=np.full((5, 52), 1.2)), "weights[frame 0, eyeBlinkLeft]"),
    (dict(head_rotation=np.zeros((5, 2))), "head_rotation"),
    (dict(eye_left=np.full((5, 3), np.inf)), "eye_left"),
    (dict(eye_left=np.full((5, 3), 1e30)), "eye_left"),
    (dict(weights=np.zeros((5, 52), complex)), "weights"),
    (dict(weights=np.full((5, 52), "0.5")), "weights"),
    (dict(fps=True), "fps"),
    (dict(fps=1e300), "fps"),
    (dict(fps="60"), "fps"),
    (dict(clipped={"eyeBlnk": 2}), "clipped"),
    (dict(clipped={"eyeBlinkLeft": -1}), "clipped[eyeBlinkLeft]"),
    (dict(timestamps=np.zeros(5)), "timestamps[1]"),
    (dict(timestamps=np.arange(4) / 60), "timestamps"),
    (dict(fps=0.0), "fps"),
    (dict(fps=float("nan")), "fps"),
])
def test_validation_names_the_field(over, field):
    with pytest.raises(InputError) as info:
        make(**over)
    assert str(info.value).startswith(f"unit: {field}: expected"), str(info.value)


def test_dtypes_frozen_and_read_only():
    take = make(weights=np.full((5, 52), 0.5))
    assert take.weights.dtype == np.float32 and take.eye_left.dtype == np.float32
    assert take.timestamps.dtype == np.float64 and take.num_frames == 5
    with pytest.raises(dataclasses.FrozenInstanceError):
        take.fps = 30.0
    with pytest.raises(ValueError):
        take.weights[0, 0] = 1.0


def test_channel_by_any_name():
    w = np.zeros((4, 52), np.float32)
    w[:, ARKIT_NAMES.index("jawOpen")] = [0.1, 0.2, 0.3, 0.4]
    eye = np.zeros((4, 3), np.float32)
    eye[:, 1] = 0.25
    take = make(4, weights=w, eye_left=eye)
    for name in ("jawOpen", "JawOpen", "JAWOPEN", " jawopen "):
        np.testing.assert_array_equal(take.channel(name), np.float32([0.1, 0.2, 0.3, 0.4]))
    np.testing.assert_array_equal(take.channel("LeftEyePitch"), [0.25] * 4)
    with pytest.raises(InputError, match="unit: channel: expected an ARKit-52 blendshape"):
        take.channel("jawClosed")


def test_slice_and_from_weights():
    take = Take.from_weights(np.zeros((10, 52)), fps=30, source="s")
    part = take.slice(2, 5)
    assert part.num_frames == 3 and part.timestamps[0] == pytest.approx(2 / 30) and part.fps == 30
    assert take.slice(-2).num_frames == 2
    with pytest.raises(InputError, match="slice"):
        take.slice(5, 5)


@st.composite
def takes(draw):
    t = draw(st.integers(1, 50))
    w = draw(arrays(np.float32, (t, 52), elements=st.floats(0, 1, width=32)))
    rot = draw(arrays(np.float32, (t, 9), elements=st.floats(-4, 4, width=32)))
    start = draw(st.floats(0, 1e5))
    fps = draw(st.sampled_from([24.0, 25.0, 29.97, 30.0, 60.0]))
    return Take(w, rot[:, :3], rot[:, 3:6], rot[:, 6:], start + np.arange(t) / fps, fps, "hyp")


@given(takes())
def test_npz_round_trip(take):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "round.npz"
        save_take_npz(path, take)
        back = load_take_npz(path)
    for field in ("weights", "head_rotation", "eye_left", "eye_right", "timestamps"):
        np.testing.assert_array_equal(getattr(back, field), getattr(take, field))
    assert back.fps == take.fps and back.source == str(path)


def test_npz_has_no_pickles_and_is_read_by_channel_name(tmp_path):
    take = make(3, weights=np.random.default_rng(1).uniform(0, 1, (3, 52)))
    path = tmp_path / "t.npz"
    save_take(path, take)
    with np.load(path, allow_pickle=False) as npz:  # would raise on object arrays
        arrays_ = {k: npz[k] for k in npz.files}
    assert all(a.dtype != object for a in arrays_.values())
    perm = np.random.default_rng(2).permutation(52)
    arrays_["channels"] = arrays_["channels"][perm]
    arrays_["weights"] = arrays_["weights"][:, perm]
    shuffled = tmp_path / "shuffled.npz"
    np.savez(shuffled, **arrays_)
    np.testing.assert_array_equal(load_take(shuffled).weights, take.weights)


def test_bad_npz_files(tmp_path):
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a zip")
    with pytest.raises(InputError, match=r"junk\.npz: file: expected a \.npz"):
        load_take(junk)
    partial = tmp_path / "partial.npz"
    np.savez(partial, weights=np.zeros((2, 52)))
    with pytest.raises(InputError, match="partial.npz: format: expected an .npz with arrays"):
        load_take(partial)
    pickled = tmp_path / "pickled.npz"
    np.savez(pickled, **{k: np.array([None], dtype=object) for k in ("format", "channels", "weights", "head_rotation",
                                                                     "eye_left", "eye_right", "timestamps", "fps",
                                                                     "source")})
    with pytest.raises(InputError, match="pickled.npz"):
        load_take(pickled)
    with pytest.raises(InputError, match="suffix: expected a .csv"):
        load_take(tmp_path / "take.json")


# --- hostile and careless .npz files (audit D3, D14): InputError naming the file, never a traceback ---


def _good_arrays(tmp_path) -> dict:
    path = tmp_path / "good.npz"
    save_take(path, make(4, weights=np.full((4, 52), 0.25)))
    with np.load(path, allow_pickle=False) as npz:
        return {k: npz[k] for k in npz.files}


def _npy_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array)
    return buf.getvalue()


def test_clipped_provenance_round_trips_and_npz_weights_are_clipped_like_csv(tmp_path):
    take = make(3, weights=np.full((3, 52), 0.5), clipped={"eyeLookInRight": 91, "jawOpen": 2})
    path = tmp_path / "c.npz"
    save_take(path, take)
    assert load_take(path).clipped == {"eyeLookInRight": 91, "jawOpen": 2}
    arrays_ = _good_arrays(tmp_path)
    assert load_take(tmp_path / "good.npz").clipped == {}
    arrays_["weights"][1, ARKIT_NAMES.index("eyeLookInLeft")] = 1.05  # another tool kept the overshoot
    arrays_["weights"][2, ARKIT_NAMES.index("eyeLookInLeft")] = -0.05
    np.savez(tmp_path / "over.npz", **arrays_)
    back = load_take(tmp_path / "over.npz")
    assert back.clipped == {"eyeLookInLeft": 2}
    assert back.channel("eyeLookInLeft").tolist() == [0.25, 1.0, 0.0, 0.25]
    arrays_["weights"][0, 0] = 1.3
    np.savez(tmp_path / "far.npz", **arrays_)
    with pytest.raises(InputError, match=r"far\.npz: weights\[frame 0, eyeBlinkLeft\]: expected a blendshape weight"):
        load_take(tmp_path / "far.npz")


@pytest.mark.parametrize("key, value, field", [
    ("fps", np.array("abc"), "fps"),
    ("fps", np.array(60 + 1j), "fps"),
    ("fps", np.array(True), "fps"),
    ("fps", np.array(1e300), "fps"),
    ("fps", np.array([60.0]), "fps"),
    ("weights", np.full((4, 52), 0.25 + 0j), "weights"),
    ("weights", np.full((4, 52), "0.25"), "weights"),
    ("weights", np.full((4, 52), np.datetime64("2026-01-01")), "weights"),
    ("timestamps", np.array(["0", "1", "2", "3"]), "timestamps"),
    ("eye_left", np.full((4, 3), 3e38, np.float32), "eye_left"),
    ("format", np.array(7), "format"),
    ("channels", np.arange(52), "channels"),
    ("source", np.zeros(3), "source"),
])
def test_bad_npz_values_are_input_errors(tmp_path, key, value, field):
    arrays_ = _good_arrays(tmp_path)
    arrays_[key] = value
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays_)
    with pytest.raises(InputError, match=rf"bad\.npz: {field}"):
        load_take(path)


def test_npy_renamed_npz_and_corrupt_archives(tmp_path):
    renamed = tmp_path / "x.npz"
    np.save(tmp_path / "x.npy", np.zeros(3))
    (tmp_path / "x.npy").rename(renamed)
    with pytest.raises(InputError, match=r"x\.npz: file: expected a \.npz .*got a single \.npy"):
        load_take(renamed)
    good = tmp_path / "good.npz"
    save_take(good, make(200, weights=np.random.default_rng(0).uniform(0, 1, (200, 52))))
    data = bytearray(good.read_bytes())
    with zipfile.ZipFile(good) as zf:
        info = zf.getinfo("weights.npy")
    assert info.compress_type == zipfile.ZIP_DEFLATED
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    middle = start + info.compress_size // 2
    for i in range(middle, middle + 16):  # damage the deflate stream itself
        data[i] ^= 0x5A
    (tmp_path / "deflate.npz").write_bytes(bytes(data))
    with pytest.raises(InputError, match=r"deflate\.npz: (file|weights): expected"):
        load_take(tmp_path / "deflate.npz")
    data = bytearray(good.read_bytes())
    central = data.find(b"PK\x01\x02")
    data[central + 6:central + 8] = (156).to_bytes(2, "little")  # "zip version 15.6" needed to extract
    (tmp_path / "version.npz").write_bytes(bytes(data))
    with pytest.raises(InputError, match=r"version\.npz: file: expected .*NotImplementedError"):
        load_take(tmp_path / "version.npz")


def test_npz_header_claiming_a_huge_shape_is_refused_before_allocating(tmp_path):
    """Audit D3: a small file whose weights header claims (10**12, 52): 189 TiB if trusted."""
    arrays_ = _good_arrays(tmp_path)
    header = repr({"descr": "<f4", "fortran_order": False, "shape": (10**12, 52)}).encode()
    header += b" " * (64 - (10 + len(header) + 1) % 64) + b"\n"
    bomb = tmp_path / "bomb.npz"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zf:
        for k, v in arrays_.items():
            body = _npy_bytes(v) if k != "weights" else b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header
            zf.writestr(k + ".npy", body + (b"\0" * 38_000 if k == "weights" else b""))
    assert bomb.stat().st_size < 60_000
    tracemalloc.start()
    try:
        with pytest.raises(InputError, match=r"bomb\.npz: weights: expected shape \(1000000000000, 52\)"):
            load_take(bomb)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20 * 2**20, peak


def test_npz_output_path_mistakes_are_input_errors(tmp_path):
    take = make(2)
    (tmp_path / "f").write_text("x")
    for out in (tmp_path / "f" / "x.npz", tmp_path / "f" / "deeper" / "x.csv", tmp_path, Path("/proc/t.csv")):
        with pytest.raises(InputError, match="output"):
            save_take(out, take)
    assert (tmp_path / "f").read_text() == "x"


def test_damaged_archive_messages_stay_short(tmp_path):
    """Found by fuzzing: zipfile quotes a local header whose name length was damaged (12 KB messages)."""
    good = tmp_path / "good.npz"
    save_take(good, make(50))
    data = bytearray(good.read_bytes())
    data[26:28] = (3000).to_bytes(2, "little")  # first local header: file name length
    (tmp_path / "name.npz").write_bytes(bytes(data))
    with pytest.raises(InputError, match=r"name\.npz: file: expected") as info:
        load_take(tmp_path / "name.npz")
    assert len(str(info.value)) < 600
