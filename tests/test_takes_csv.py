"""Live Link Face CSV: exact header, round trips, by-name reading, and precise errors on bad files."""

import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from avatarcheck.arkit import ARKIT_NAMES
from avatarcheck.errors import InputError
from avatarcheck.takes.csv_io import read_livelink_csv, write_livelink_csv
from avatarcheck.takes.take import Take

# Copied from a real take export of the app (alexdjulin/LiveLinkFace-CSV-Retarget-For-Motionbuilder,
# anim/S07-001.csv): typed out here so the test does not trust the code's own table.
APP_HEADER = (
    "Timecode,BlendShapeCount,EyeBlinkLeft,EyeLookDownLeft,EyeLookInLeft,EyeLookOutLeft,EyeLookUpLeft,EyeSquintLeft,"
    "EyeWideLeft,EyeBlinkRight,EyeLookDownRight,EyeLookInRight,EyeLookOutRight,EyeLookUpRight,EyeSquintRight,"
    "EyeWideRight,JawForward,JawRight,JawLeft,JawOpen,MouthClose,MouthFunnel,MouthPucker,MouthRight,MouthLeft,"
    "MouthSmileLeft,MouthSmileRight,MouthFrownLeft,MouthFrownRight,MouthDimpleLeft,MouthDimpleRight,MouthStretchLeft,"
    "MouthStretchRight,MouthRollLower,MouthRollUpper,MouthShrugLower,MouthShrugUpper,MouthPressLeft,MouthPressRight,"
    "MouthLowerDownLeft,MouthLowerDownRight,MouthUpperUpLeft,MouthUpperUpRight,BrowDownLeft,BrowDownRight,BrowInnerUp,"
    "BrowOuterUpLeft,BrowOuterUpRight,CheekPuff,CheekSquintLeft,CheekSquintRight,NoseSneerLeft,NoseSneerRight,"
    "TongueOut,HeadYaw,HeadPitch,HeadRoll,LeftEyeYaw,LeftEyePitch,LeftEyeRoll,RightEyeYaw,RightEyePitch,RightEyeRoll"
)
FPS_CHOICES = (24, 25, 30, 50, 60)


def small_take(frames: int = 8, fps: float = 60.0) -> Take:
    rng = np.random.default_rng(7)
    w = rng.uniform(0, 1, (frames, 52)).astype(np.float32)
    rot = rng.uniform(-0.5, 0.5, (frames, 9)).astype(np.float32)
    return Take(w, rot[:, :3], rot[:, 3:6], rot[:, 6:], np.arange(frames) / fps, fps, "small")


@st.composite
def takes(draw):
    fps = draw(st.sampled_from(FPS_CHOICES))
    t = draw(st.integers(1, 2 * max(FPS_CHOICES)))
    weights = draw(arrays(np.float32, (t, 52), elements=st.floats(0, 1, width=32)))
    rot = draw(arrays(np.float32, (t, 9), elements=st.floats(-3.25, 3.25, width=32)))
    start = draw(st.integers(0, 23 * 3600 * fps))  # whole frames since midnight, no wrap inside a take
    return Take(weights, rot[:, :3], rot[:, 3:6], rot[:, 6:], (start + np.arange(t)) / fps, fps, "hypothesis")


def assert_same_take(a: Take, b: Take, same_fps: bool = True) -> None:
    np.testing.assert_array_equal(a.weights, b.weights)
    for field in ("head_rotation", "eye_left", "eye_right"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
    np.testing.assert_allclose(a.timestamps, b.timestamps, rtol=0, atol=1e-9)
    if same_fps:
        assert a.fps == b.fps


@given(takes())
def test_csv_round_trip_is_exact(take):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "round.csv"
        write_livelink_csv(path, take)
        timecode_rate = 60 if 60 % take.fps == 0 else take.fps  # what the app writes: 30 fps on 60 fps timecodes
        # one row says nothing about the spacing of rows: its rate is the timecode rate
        back = read_livelink_csv(path, fps=timecode_rate)
        assert_same_take(back, take, same_fps=take.num_frames > 1)
        assert back.fps == (take.fps if take.num_frames > 1 else timecode_rate)
        if take.num_frames > take.fps:  # crosses a second boundary: the rate is inferable
            assert_same_take(read_livelink_csv(path), take)


def test_header_is_the_apps_exactly(tmp_path):
    path = tmp_path / "t.csv"
    write_livelink_csv(path, small_take())
    lines = path.read_text().splitlines()
    assert lines[0] == APP_HEADER
    assert lines[1].startswith("00:00:00:00.000,61,") and lines[2].startswith("00:00:00:01.000,61,")
    assert len(lines[1].split(",")) == 63
    assert not list(tmp_path.glob(".*.tmp"))


def test_columns_are_mapped_by_name(tmp_path):
    """Same data with the columns shuffled, camelCase names and the old BlendshapeCount spelling."""
    take = small_take()
    path = tmp_path / "t.csv"
    write_livelink_csv(path, take)
    rows = [line.split(",") for line in path.read_text().splitlines()]
    perm = np.random.default_rng(3).permutation(63)
    shuffled = [[row[i] for i in perm] for row in rows]
    app_only = ("Timecode", "BlendShapeCount", "HeadYaw", "HeadPitch", "HeadRoll")
    renamed = [("BlendshapeCount" if n == "BlendShapeCount" else
                n if n in app_only or n.startswith(("LeftEye", "RightEye")) else n[0].lower() + n[1:])
               for n in shuffled[0]]
    assert "eyeBlinkLeft" in renamed and "BlendshapeCount" in renamed
    out = tmp_path / "shuffled.csv"
    out.write_text("\n".join(",".join(r) for r in [renamed] + shuffled[1:]) + "\n")
    assert_same_take(read_livelink_csv(out), read_livelink_csv(path))
    # and by value: EyeBlinkLeft is canonical channel 0, JawLeft canonical 15 (CSV position 18)
    np.testing.assert_array_equal(read_livelink_csv(out).weights[:, 0], take.weights[:, 0])
    np.testing.assert_array_equal(read_livelink_csv(out).weights[:, 15], take.weights[:, 15])


def test_jaw_and_mouth_left_right_land_in_the_right_channels(tmp_path):
    """The CSV lists JawRight before JawLeft; reading must not follow position."""
    w = np.zeros((2, 52), np.float32)
    w[:, 15] = 0.25  # jawLeft (canonical)
    w[:, 21] = 0.75  # mouthLeft (canonical)
    path = tmp_path / "t.csv"
    write_livelink_csv(path, Take.from_weights(w))
    header, row = (line.split(",") for line in path.read_text().splitlines()[:2])
    assert float(row[header.index("JawLeft")]) == 0.25 and float(row[header.index("JawRight")]) == 0.0
    assert float(row[header.index("MouthLeft")]) == 0.75 and float(row[header.index("MouthRight")]) == 0.0
    back = read_livelink_csv(path)
    assert back.channel("JawLeft")[0] == 0.25 and back.channel("mouthLeft")[0] == 0.75


def test_real_export_timecodes_30fps_on_a_60fps_timecode(tmp_path):
    """Rows 2 frames apart with a drifting sub-frame, as in real exports (12:27:47:47.169, 49.169, ...)."""
    values = ",".join(["0.0100000000"] * 52 + ["0.0"] * 9)
    lines = [APP_HEADER]
    frame = 47 * 60 + 47  # 12:27:47, frame 47 at 60 fps
    for i in range(40):
        f = frame + 2 * i
        sub = 169 - i // 3  # slow drift like the app's
        lines.append(f"12:27:{f // 60:02d}:{f % 60:02d}.{sub:03d},61,{values}")
    path = tmp_path / "real.csv"
    path.write_text("\n".join(lines) + "\n")
    take = read_livelink_csv(path)
    assert take.fps == 30.0 and take.num_frames == 40
    assert take.timestamps[0] == pytest.approx(12 * 3600 + 27 * 60 + 47 + 47.169 / 60)
    np.testing.assert_allclose(np.diff(take.timestamps), 1 / 30, atol=1e-4)


def test_fps_argument_and_default(tmp_path):
    path = tmp_path / "t.csv"
    write_livelink_csv(path, small_take(frames=10, fps=25))
    assert read_livelink_csv(path, fps=25).fps == 25
    # 10 frames never cross a second: the rate is ambiguous and defaults to the app's 60
    assert read_livelink_csv(path).fps == 60
    write_livelink_csv(path, small_take(frames=40, fps=25))
    assert read_livelink_csv(path).fps == 25


def test_30fps_takes_are_written_on_60fps_timecodes_and_read_back_even_when_short(tmp_path):
    path = tmp_path / "t.csv"
    for frames in (3, 10, 40):
        write_livelink_csv(path, small_take(frames=frames, fps=30))
        lines = path.read_text().splitlines()
        assert lines[2].startswith("00:00:00:02.000,") and lines[3].startswith("00:00:00:04.000,")
        assert read_livelink_csv(path).fps == 30 and read_livelink_csv(path, fps=60).fps == 30


def test_tiny_overshoot_is_clipped(tmp_path):
    path = _write_variant(tmp_path, lambda rows: rows[1].__setitem__(_col(rows, "EyeBlinkLeft"), "1.00005"))
    take = read_livelink_csv(path)
    assert take.weights[0, 0] == 1.0 and take.clipped == {"eyeBlinkLeft": 1}


def test_real_overshoot_is_clipped_and_counted_per_channel(tmp_path):
    """Real trackers: eyeLookIn up to 1.053 (issue 12); the band's edges are inclusive."""
    def mutate(rows):
        for line in (2, 4, 7):
            rows[line - 1][_col(rows, "EyeLookInRight")] = "1.0033375025"
        rows[2][_col(rows, "EyeLookInLeft")] = "1.053"
        rows[5][_col(rows, "BrowInnerUp")] = "-0.1"
        rows[8][_col(rows, "JawOpen")] = "1.25"
        rows[6][_col(rows, "JawOpen")] = "1.0"  # exactly 1: in range, not clipped
    path = _write_variant(tmp_path, mutate)
    take = read_livelink_csv(path)
    assert take.clipped == {"eyeLookInLeft": 1, "eyeLookInRight": 3, "jawOpen": 1, "browInnerUp": 1}
    assert list(take.clipped) == [n for n in ARKIT_NAMES if n in take.clipped]  # canonical order
    assert take.channel("eyeLookInRight")[[0, 2, 5]].tolist() == [1.0, 1.0, 1.0]
    assert take.channel("eyeLookInLeft")[1] == 1.0 and take.channel("browInnerUp")[4] == 0.0
    assert take.weights.min() >= 0 and take.weights.max() <= 1
    assert read_livelink_csv(tmp_path / "good.csv").clipped == {}


@pytest.mark.parametrize("frames", [5, 40, 4030])
def test_real_30fps_take_on_60fps_timecodes_with_drifting_sub_frames(tmp_path, frames):
    """The rows of a real 30 fps export: 13:13:04:31.652, 13:13:04:33.651, ... (2 frames apart at 60,
    sub-frames drifting by a thousandth of a frame per row); short, a few seconds, and 134 s."""
    values = ",".join(["0.0100000000"] * 52 + ["0.0"] * 9)
    start = ((13 * 60 + 13) * 60 + 4) * 60_000 + 31_652  # milli-frames at 60 fps since midnight
    lines = [APP_HEADER]
    for i in range(frames):
        m = start + i * 1999
        f, sub = divmod(m, 1000)
        s, ff = divmod(f, 60)
        lines.append(f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}:{ff:02d}.{sub:03d},61,{values}")
    assert lines[1].startswith("13:13:04:31.652,") and lines[2].startswith("13:13:04:33.651,")
    path = tmp_path / "real30.csv"
    path.write_text("\n".join(lines) + "\n")
    take = read_livelink_csv(path)
    assert take.fps == 30.0 and take.num_frames == frames
    np.testing.assert_allclose(np.diff(take.timestamps), 1.999 / 60, atol=1e-6)
    assert take.timestamps[0] == pytest.approx(13 * 3600 + 13 * 60 + 4 + 31.652 / 60)
    if frames > 60:  # a user who passes the row rate gets told what fps means
        with pytest.raises(InputError, match="fps is the timecode rate, omit it"):
            read_livelink_csv(path, fps=30)


def test_huge_cells_are_clean_errors_with_short_messages(tmp_path):
    """Audit D12: a cell over the csv field limit, and a 100,000-character header cell."""
    good = tmp_path / "good.csv"
    write_livelink_csv(good, small_take())
    lines = good.read_text().splitlines()
    long = tmp_path / "long.csv"
    long.write_text(lines[0] + "\n" + "x" * 200_000 + "\n")
    with pytest.raises(InputError, match=r"long\.csv: line 2: expected CSV cells of at most 131072") as info:
        read_livelink_csv(long)
    assert len(str(info.value)) < 400
    wide = tmp_path / "wide.csv"
    wide.write_text("B" * 100_000 + "," + "\n".join(lines[:5]) + "\n")
    with pytest.raises(InputError, match=r"wide\.csv: line 1, column 1: .*100000 characters") as info:
        read_livelink_csv(wide)
    assert len(str(info.value)) < 400
    cell = tmp_path / "cell.csv"
    rows = [line.split(",") for line in lines]
    rows[2][5] = "9" * 50_000
    cell.write_text("\n".join(",".join(r) for r in rows) + "\n")
    with pytest.raises(InputError, match=r"cell\.csv: line 3, column") as info:
        read_livelink_csv(cell)
    assert len(str(info.value)) < 400


def test_fps_argument_is_validated(tmp_path):
    path = tmp_path / "t.csv"
    write_livelink_csv(path, small_take())
    for bad in ("60", 0, -30, float("nan"), 1e300, True):
        with pytest.raises(InputError, match=r"t\.csv: fps"):
            read_livelink_csv(path, fps=bad)


def test_device_directory_and_symlink_loop_are_clean_errors(tmp_path):
    """Audit D19 / D8: a link to /dev/zero must not be read until memory runs out."""
    zero = tmp_path / "zero.csv"
    zero.symlink_to("/dev/zero")
    with pytest.raises(InputError, match=r"zero\.csv: file: expected .*regular file.*got a device"):
        read_livelink_csv(zero)
    folder = tmp_path / "folder.csv"
    folder.mkdir()
    with pytest.raises(InputError, match="got a directory"):
        read_livelink_csv(folder)
    (tmp_path / "loopa.csv").symlink_to(tmp_path / "loopb.csv")
    (tmp_path / "loopb.csv").symlink_to(tmp_path / "loopa.csv")
    with pytest.raises(InputError, match=r"loopa\.csv: file: expected .*symbolic links"):
        read_livelink_csv(tmp_path / "loopa.csv")


def test_write_with_60fps_timecodes_and_raw_overshoot(tmp_path):
    """A 30 fps take written as the app writes it: 60 fps timecodes 2 frames apart, weights as tracked."""
    take = small_take(frames=70, fps=30)
    raw = take.weights.copy()
    raw[3, ARKIT_NAMES.index("eyeLookInLeft")] = 1.04
    clipped = np.clip(raw, 0, 1)
    take = Take(clipped, take.head_rotation, take.eye_left, take.eye_right, take.timestamps, 30, "raw")
    path = tmp_path / "t.csv"
    write_livelink_csv(path, take, timecode_rate=60, raw_weights=raw)
    lines = path.read_text().splitlines()
    assert lines[1].startswith("00:00:00:00.000,") and lines[2].startswith("00:00:00:02.000,")
    back = read_livelink_csv(path)
    assert back.fps == 30 and back.clipped == {"eyeLookInLeft": 1}
    assert_same_take(back, take)
    with pytest.raises(InputError, match="raw_weights: expected weights that clip"):
        write_livelink_csv(path, take, raw_weights=raw + 0.01)


# --- bad files: file name, line number and column name in every message --------------------------


def _col(rows, name):
    return rows[0].index(name)


def _write_variant(tmp_path, mutate, name="bad.csv"):
    good = tmp_path / "good.csv"
    write_livelink_csv(good, small_take())
    rows = [line.split(",") for line in good.read_text().splitlines()]
    mutate(rows)
    path = tmp_path / name
    path.write_text("\n".join(",".join(r) for r in rows) + "\n")
    return path


def _drop_column(name):
    def mutate(rows):
        i = rows[0].index(name)
        for r in rows:
            del r[i]
    return mutate


def _set(line, name, value):
    def mutate(rows):
        rows[line - 1][rows[0].index(name)] = value
    return mutate


def _truncate(line, cells):
    def mutate(rows):
        del rows[line - 1][cells:]
    return mutate


BAD = {
    "missing column": (_drop_column("EyeWideRight"), 1, "EyeWideRight"),
    "missing rotation column": (_drop_column("RightEyeRoll"), 1, "RightEyeRoll"),
    "non-numeric cell": (_set(3, "JawOpen", "abc"), 3, "JawOpen"),
    "empty cell": (_set(4, "CheekPuff", ""), 4, "CheekPuff"),
    "nan": (_set(4, "MouthLeft", "nan"), 4, "MouthLeft"),
    "inf rotation": (_set(5, "HeadYaw", "inf"), 5, "HeadYaw"),
    "above one": (_set(2, "EyeBlinkLeft", "1.5"), 2, "EyeBlinkLeft"),
    "below zero": (_set(6, "BrowInnerUp", "-0.2"), 6, "BrowInnerUp"),
    "just above the band": (_set(3, "EyeLookInRight", "1.2500001"), 3, "EyeLookInRight"),
    "inf weight": (_set(3, "EyeLookInRight", "inf"), 3, "EyeLookInRight"),
    "underscore digits": (_set(3, "JawOpen", "0.0_5"), 3, "JawOpen"),
    "arabic-indic digits": (_set(3, "JawOpen", "\u0660.\u0665"), 3, "JawOpen"),
    "full-width digits": (_set(3, "JawOpen", "\uff10.\uff15"), 3, "JawOpen"),
    "arabic-indic timecode": (_set(3, "Timecode", "\u0660\u0660:\u0660\u0660:\u0660\u0660:\u0660\u0662.000"), 3,
                              "Timecode"),
    "huge rotation": (_set(4, "HeadYaw", "1e30"), 4, "HeadYaw"),
    "truncated row": (_truncate(5, 30), 5, APP_HEADER.split(",")[30]),
    "extra cell": (lambda rows: rows[2].append("0.5"), 3, "RightEyeRoll"),
    "bad timecode": (_set(3, "Timecode", "00:00:00"), 3, "Timecode"),
    "timecode minutes": (_set(3, "Timecode", "00:61:00:02.000"), 3, "Timecode"),
    "timecode backwards": (_set(4, "Timecode", "00:00:00:00.500"), 4, "Timecode"),
    "wrong count": (_set(2, "BlendShapeCount", "52"), 2, "BlendShapeCount"),
    "unknown column": (lambda rows: rows[0].__setitem__(10, "EyeBlinkLft"), 1, "EyeBlinkLft"),
    "duplicate column": (lambda rows: rows[0].__setitem__(3, "EyeBlinkLeft"), 1, "EyeBlinkLeft"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_csv_names_file_line_and_column(tmp_path, case):
    mutate, line, column = BAD[case]
    path = _write_variant(tmp_path, mutate, name=f"bad_{case.replace(' ', '_')}.csv")
    with pytest.raises(InputError) as info:
        read_livelink_csv(path)
    msg = str(info.value)
    assert path.name in msg and f"line {line}" in msg and column in msg, msg
    assert "expected" in msg


def test_empty_file_and_header_only(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(InputError, match=r"empty\.csv: line 1, column Timecode: expected .*header.*got an empty file"):
        read_livelink_csv(empty)
    blank = tmp_path / "blank.csv"
    blank.write_text("\n\n")
    with pytest.raises(InputError, match="blank.csv: line 1, column Timecode"):
        read_livelink_csv(blank)
    header_only = tmp_path / "header.csv"
    header_only.write_text(APP_HEADER + "\n")
    with pytest.raises(InputError, match=r"header\.csv: line 2, column Timecode: expected at least one frame"):
        read_livelink_csv(header_only)


def test_not_utf8_and_missing_file(tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes(APP_HEADER.encode() + b"\n\xff\xfe\n")
    with pytest.raises(InputError, match=r"latin1\.csv: line 2: expected UTF-8"):
        read_livelink_csv(path)
    with pytest.raises(FileNotFoundError):
        read_livelink_csv(tmp_path / "nope.csv")


def test_frame_number_beyond_given_rate(tmp_path):
    path = _write_variant(tmp_path, _set(3, "Timecode", "00:00:00:45.000"))
    with pytest.raises(InputError, match=r"line 3, column Timecode: expected a frame number below the timecode rate 30"):
        read_livelink_csv(path, fps=30)
