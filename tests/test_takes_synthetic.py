"""Synthetic takes: in range, deterministic, and shaped like real eyes (measured from the data)."""

from pathlib import Path

import numpy as np
import pytest

from avatarcheck.errors import InputError
from avatarcheck.takes.csv_io import read_livelink_csv
from avatarcheck.takes.synthetic import RECORDINGS, RECORDINGS_FPS, synthetic_take

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
