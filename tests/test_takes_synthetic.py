"""Synthetic takes: in range, deterministic, and shaped like real eyes (measured from the data)."""

from pathlib import Path

import numpy as np
import pytest

from avatarcheck.arkit import ARKIT_NAMES
from avatarcheck.errors import InputError
from avatarcheck.takes.csv_io import read_livelink_csv
from avatarcheck.takes.synthetic import (REAL_RECORDINGS, RECORDINGS, RECORDINGS_FPS, synthetic_raw, synthetic_take,
                                         write_synthetic)

SEEDS = (0, 1, 2, 3, 11, 42)
RECORDINGS_DIR = Path(__file__).resolve().parents[1] / "recordings"


@pytest.fixture(scope="module")
def synth():
    return {seed: synthetic_take(seed) for seed in SEEDS}


def runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, stop) of each run of True."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(int), [0]])))
    return list(zip(edges[::2], edges[1::2]))


def test_shapes_and_range(synth):
    for take in synth.values():
        assert take.weights.shape == (720, 52) and take.weights.dtype == np.float32
        assert take.weights.min() >= 0 and take.weights.max() <= 1 and take.fps == 60
        np.testing.assert_allclose(take.timestamps, np.arange(720) / 60)


def test_deterministic_per_seed(synth):
    again = synthetic_take(1)
    for field in ("weights", "head_rotation", "eye_left", "eye_right"):
        np.testing.assert_array_equal(getattr(again, field), getattr(synth[1], field))
    assert not np.array_equal(synth[1].weights, synth[2].weights)


def test_full_blinks_close_fast_open_slow_both_eyes_together(synth):
    for seed, take in synth.items():
        left, right = take.channel("eyeBlinkLeft"), take.channel("eyeBlinkRight")
        closed = runs(np.minimum(left, right) >= 1.0)  # both eyes fully closed at once
        assert len(closed) >= 2, seed
        starts = [a / take.fps for a, _ in closed]
        assert all(1.5 <= b - a <= 8.0 for a, b in zip(starts, starts[1:])), (seed, starts)  # a few seconds apart
        for a, b in closed:
            # frames from 0.2 to fully closed, and from closed back below 0.2
            close = a - max(i for i in range(a) if left[i] < 0.2)
            open_ = min(i for i in range(b, take.num_frames) if left[i] < 0.2) - (b - 1)
            assert close < open_, (seed, a, close, open_)
            assert 3 <= close <= 8 and 6 <= open_ <= 14, (seed, close, open_)  # ~100 ms vs ~150-200 ms at 60 fps
        assert np.abs(left - right).mean() < 0.02  # the eyes agree except for a small asymmetry


def test_contains_eye_wide_and_half_blink_down(synth):
    for take in synth.values():
        blink = np.stack([take.channel("eyeBlinkLeft"), take.channel("eyeBlinkRight")], 1)
        wide = np.stack([take.channel("eyeWideLeft"), take.channel("eyeWideRight")], 1)
        down = np.stack([take.channel("eyeLookDownLeft"), take.channel("eyeLookDownRight")], 1)
        assert ((wide.min(1) >= 0.8) & (blink.max(1) < 0.05)).any()
        half = (blink.min(1) >= 0.4) & (blink.max(1) <= 0.6) & (down.min(1) >= 0.7)
        assert half.sum() >= 10  # held, not a pass-through


def test_eye_look_channels_follow_eye_rotations(synth):
    for take in synth.values():
        for side, inward in (("Left", 1), ("Right", -1)):
            yaw, pitch = take.channel(f"{side}EyeYaw"), take.channel(f"{side}EyePitch")
            look_in, look_out = take.channel(f"eyeLookIn{side}"), take.channel(f"eyeLookOut{side}")
            up, down = take.channel(f"eyeLookUp{side}"), take.channel(f"eyeLookDown{side}")
            assert not ((look_in > 0) & (look_out > 0)).any() and not ((up > 0) & (down > 0)).any()
            towards_nose = inward * yaw > 1e-3
            assert (look_in[towards_nose] > 0).all() and (look_out[towards_nose] == 0).all()
            assert (down[pitch > 1e-3] > 0).all() and (up[pitch < -1e-3] > 0).all()
            assert np.corrcoef(down - up, pitch)[0, 1] > 0.99
            assert np.corrcoef(inward * (look_in - look_out), yaw)[0, 1] > 0.99


def test_saccades_head_and_face_activity(synth):
    for take in synth.values():
        step = np.abs(np.diff(take.channel("LeftEyeYaw")))
        assert step.max() > 0.02 and np.median(step) < 0.005  # fast jumps between steady fixations
        head = take.head_rotation
        assert np.abs(head).max() < 0.3 and np.abs(np.diff(head, axis=0)).max() < 0.01  # slow
        assert head[:, 0].std() > 0.01
        assert take.channel("jawOpen").std() > 0.02 and take.channel("browInnerUp").max() > 0.5
        assert take.channel("mouthSmileLeft").mean() > 0.05


def test_other_rates_and_lengths():
    for fps, frames in ((24, 200), (30, 300), (120, 1440)):
        take = synthetic_take(9, frames, fps)
        assert take.num_frames == frames and take.fps == fps
        both_closed = np.minimum(take.channel("eyeBlinkLeft"), take.channel("eyeBlinkRight"))
        assert both_closed.max() == 1.0  # full closure is sampled at any rate


def test_bad_arguments():
    with pytest.raises(InputError, match="num_frames: expected at least 6 s"):
        synthetic_take(0, 100, 60)
    with pytest.raises(InputError, match="fps"):
        synthetic_take(0, 100, 5)
    with pytest.raises(InputError, match="num_frames"):
        synthetic_take(0, 0)
    with pytest.raises(InputError, match="seed: expected an integer >= 0"):  # audit D18: was a ValueError
        synthetic_take(-1)
    with pytest.raises(InputError, match="style: expected one of default, real"):
        synthetic_take(0, style="Real")


@pytest.mark.parametrize("name, seed, frames", RECORDINGS)
def test_shipped_recordings_are_regenerable(name, seed, frames):
    shipped = read_livelink_csv(RECORDINGS_DIR / name)
    fresh = synthetic_take(seed, frames, RECORDINGS_FPS)
    assert shipped.num_frames == frames and shipped.fps == RECORDINGS_FPS
    np.testing.assert_allclose(shipped.weights, fresh.weights, atol=1e-6)
    np.testing.assert_allclose(shipped.eye_left, fresh.eye_left, atol=1e-6)
    np.testing.assert_allclose(shipped.timestamps, fresh.timestamps, atol=1e-9)
    readme = (RECORDINGS_DIR / "README.md").read_text()
    assert name in readme and f"--seed {seed} --frames {frames}" in readme


@pytest.mark.parametrize("name, seed, frames", RECORDINGS)
def test_shipped_recordings_are_byte_identical(tmp_path, name, seed, frames):
    out = tmp_path / name
    write_synthetic(out, *synthetic_raw(seed, frames, RECORDINGS_FPS))
    assert out.read_bytes() == (RECORDINGS_DIR / name).read_bytes()


@pytest.mark.parametrize("name, seed, frames, fps, eye_wide", REAL_RECORDINGS)
def test_shipped_real_looking_recordings_are_byte_identical(tmp_path, name, seed, frames, fps, eye_wide):
    out = tmp_path / name
    write_synthetic(out, *synthetic_raw(seed, frames, fps, style="real", eye_wide=eye_wide), style="real")
    assert out.read_bytes() == (RECORDINGS_DIR / name).read_bytes()
    readme = (RECORDINGS_DIR / "REAL_LOOKING.md").read_text()
    flags = f"--seed {seed} --frames {frames} --fps {fps:g} --style real" + ("" if eye_wide else " --no-eye-wide")
    assert name in readme and flags in readme


@pytest.fixture(scope="module")
def real():
    """The 2-minute real-looking take (weights as the tracker reported them, and clipped)."""
    return synthetic_raw(4, 3600, 30.0, style="real")


def test_real_style_overshoots_like_a_tracker_and_counts_what_it_clips(real):
    take, raw = real
    over = raw > 1.0
    channels = {ARKIT_NAMES[c] for c in np.flatnonzero(over.any(0))}
    assert channels and all(n.startswith("eyeLook") for n in channels)  # the eyes, as in real exports
    assert 1.03 <= raw.max() <= 1.053 + 1e-6 and raw.min() >= 0
    expected = {ARKIT_NAMES[c]: int(n) for c, n in enumerate(over.sum(0)) if n}
    assert take.clipped == expected and sum(expected.values()) >= 20
    np.testing.assert_array_equal(take.weights, np.clip(raw, 0, 1))


def test_real_style_blinks_come_with_the_gaze_down(real):
    take, _ = real
    blink = np.minimum(take.channel("eyeBlinkLeft"), take.channel("eyeBlinkRight"))
    down = (take.channel("eyeLookDownLeft") + take.channel("eyeLookDownRight")) / 2
    closed = runs(blink >= 0.95)
    assert len(closed) >= 20  # ~2 min of blinks every few seconds
    looking_down = [a for a, b in closed if 0.3 <= down[a:b].mean() <= 0.45]
    centred = [a for a, b in closed if down[a:b].mean() < 0.25]
    assert len(looking_down) >= 5 and len(centred) >= 5  # some of each, as in real takes
    peaks = [blink[a:b].max() for a, b in closed]
    assert min(peaks) < 0.995  # real blinks stop short of exactly 1


def test_real_style_timing_and_quiet_channels(real):
    take, _ = real
    assert take.fps == 30.0 and take.num_frames == 3600 and 119 < take.duration_s < 121
    np.testing.assert_allclose(np.diff(take.timestamps), 1.999 / 60, rtol=1e-9)
    assert take.timestamps[0] == pytest.approx(13 * 3600 + 13 * 60 + 4 + 31.652 / 60)
    zero_share = (take.weights == 0.0).mean(axis=0)
    assert (zero_share > 0.5).sum() >= 5  # trackers emit exact zeros for long stretches


def test_no_eye_wide_take_never_reaches_half():
    take = synthetic_take(5, 328, 30.0, style="real", eye_wide=False)
    wide = np.maximum(take.channel("eyeWideLeft"), take.channel("eyeWideRight"))
    assert wide.max() < 0.5
    assert synthetic_take(5, 328, 30.0, style="real").channel("eyeWideLeft").max() > 0.8  # the option did it


def test_real_style_leaves_the_default_stream_alone():
    a, b = synthetic_take(1), synthetic_take(1, style="real")
    assert not np.array_equal(a.weights, b.weights)
    # the parts the real style does not touch are the same performance
    np.testing.assert_array_equal(a.channel("jawOpen"), b.channel("jawOpen"))
    np.testing.assert_array_equal(a.head_rotation, b.head_rotation)


@pytest.mark.parametrize("name, seed, frames, fps, eye_wide", REAL_RECORDINGS)
def test_real_looking_recordings_parse_through_every_reader(tmp_path, name, seed, frames, fps, eye_wide):
    """CSV (60 fps timecodes, overshoot), .npz, and the UDP decoder and receiver."""
    from avatarcheck.takes.files import load_take, save_take
    from avatarcheck.takes.udp import UdpReceiver, build_packet, parse_packet, send_take

    path = RECORDINGS_DIR / name
    lines = path.read_text().splitlines()
    assert lines[1].startswith("13:13:04:31.652,61,") and lines[2].startswith("13:13:04:33.651,61,")
    take, raw = synthetic_raw(seed, frames, fps, style="real", eye_wide=eye_wide)
    csv_take = load_take(path)
    assert csv_take.fps == 30.0 and csv_take.num_frames == frames and csv_take.clipped == take.clipped
    np.testing.assert_array_equal(csv_take.weights, take.weights)
    np.testing.assert_allclose(csv_take.timestamps, take.timestamps, atol=1e-7)

    save_take(tmp_path / "t.npz", csv_take)
    npz_take = load_take(tmp_path / "t.npz")
    np.testing.assert_array_equal(npz_take.weights, csv_take.weights)
    assert npz_take.clipped == csv_take.clipped and npz_take.fps == 30.0

    # the decoder on the tracker's raw values: nothing dropped, the same cells clipped
    clipped_cells = 0
    for i in range(frames):
        p = parse_packet(build_packet(raw[i], take.head_rotation[i], take.eye_left[i], take.eye_right[i], frame=2 * i))
        np.testing.assert_array_equal(p.weights, take.weights[i])
        clipped_cells += len(p.clipped)
    assert clipped_cells == sum(take.clipped.values())

    # a loopback recording in chunks (the socket buffer holds a chunk; no timing assumed)
    got = []
    with UdpReceiver(port=0) as rx:
        for start in range(0, min(frames, 400), 100):
            part = csv_take.slice(start, start + 100)
            send_take(part, rx.port, pace=False)
            rec, stats = rx.record(max_frames=part.num_frames, timeout_s=30)
            assert stats.dropped == 0 and stats.missing_frames == 0
            got.append(rec.weights)
    np.testing.assert_array_equal(np.concatenate(got), csv_take.weights[:min(frames, 400)])
