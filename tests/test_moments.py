"""Moment selection: a hand-built take with known answers, the shipped recordings, ties, errors."""

from pathlib import Path

import numpy as np
import pytest

from avatarcheck.arkit import arkit_index
from avatarcheck.errors import InputError
from avatarcheck.takes.csv_io import read_livelink_csv
from avatarcheck.moments import MOMENT_NAMES, MissingMoment, Moment, pick_moments, select_moments
from avatarcheck.takes.synthetic import RECORDINGS
from avatarcheck.takes.take import Take

RECORDINGS_DIR = Path(__file__).resolve().parents[1] / "recordings"


def hand_built() -> Take:
    """60 frames where each moment is placed by hand (expected frames are written out in the tests)."""
    w = np.zeros((60, 52), np.float32)

    def put(frame, **channels):
        for name, value in channels.items():
            w[frame, arkit_index(name)] = value

    put(5, eyeWideLeft=0.6, eyeWideRight=0.6, eyeBlinkLeft=0.05, eyeBlinkRight=0.05)
    put(10, eyeWideLeft=0.95, eyeWideRight=0.95, eyeBlinkLeft=0.3)  # widest, but one lid too low: excluded
    put(15, eyeWideLeft=0.9, eyeWideRight=0.9)  # tie with 16: 15 wins
    put(16, eyeWideLeft=0.9, eyeWideRight=0.9)
    put(18, eyeWideLeft=1.0, eyeWideRight=0.7)  # mean 0.85: loses for both eyes, wins for the left eye
    put(25, eyeBlinkLeft=1.0, eyeBlinkRight=0.8)  # only the left eye closed
    put(30, eyeBlinkLeft=1.0, eyeBlinkRight=1.0)  # tie with 40: 30 wins
    put(40, eyeBlinkLeft=1.0, eyeBlinkRight=1.0)
    put(45, eyeBlinkLeft=0.5, eyeBlinkRight=0.5, eyeLookDownLeft=0.6, eyeLookDownRight=0.6)
    put(50, eyeBlinkLeft=0.5, eyeBlinkRight=0.5, eyeLookDownLeft=0.85, eyeLookDownRight=0.85)
    put(52, eyeBlinkLeft=0.5, eyeBlinkRight=0.5, eyeLookDownLeft=0.85, eyeLookDownRight=0.85)  # tie: 50 wins
    put(55, eyeBlinkLeft=0.8, eyeBlinkRight=0.8, eyeLookDownLeft=0.95, eyeLookDownRight=0.95)  # lid out of range
    put(57, eyeBlinkLeft=0.3, eyeBlinkRight=0.6, eyeLookDownLeft=0.9, eyeLookDownRight=0.9)  # mean 0.45: in range
    put(58, eyeBlinkLeft=0.62, eyeBlinkRight=0.6, eyeLookDownLeft=0.92, eyeLookDownRight=0.9)
    return Take.from_weights(w, source="hand-built")


def test_hand_built_both_eyes():
    m = select_moments(hand_built())
    assert tuple(m) == MOMENT_NAMES
    # eye_wide: 15 (0.9, lowest of the 15/16 tie; 10 excluded by its 0.3 lid; 18 averages 0.85)
    # full_blink: 30 (min of the eyes 1.0 at 30 and 40; 25 has min 0.8)
    # half_blink_down: 58 (mean look-down 0.91 beats 57's 0.9; 55's lids 0.8 are out of [0.35, 0.65])
    assert {k: v.frame for k, v in m.items()} == {"eye_wide": 15, "full_blink": 30, "half_blink_down": 58}
    assert m["full_blink"].values == {"eyeBlinkLeft": 1.0, "eyeBlinkRight": 1.0, "eyeWideLeft": 0.0,
                                      "eyeWideRight": 0.0, "eyeLookDownLeft": 0.0, "eyeLookDownRight": 0.0}
    assert "min of both eyes" in m["full_blink"].reason and "1.000" in m["full_blink"].reason


def test_hand_built_per_eye():
    left = select_moments(hand_built(), eye="left")
    # left eye: wide 1.0 at 18; blink 1.0 at 25, 30, 40 -> 25; half blink: 58 (0.92; 57's lid 0.3 is out)
    assert {k: v.frame for k, v in left.items()} == {"eye_wide": 18, "full_blink": 25, "half_blink_down": 58}
    w = hand_built().weights.copy()
    w[58] = 0.0  # without 58, the left eye's best half blink is the 50/52 tie at 0.85 -> 50
    assert select_moments(Take.from_weights(w), eye="left")["half_blink_down"].frame == 50
    assert set(left["eye_wide"].values) == {"eyeBlinkLeft", "eyeWideLeft", "eyeLookDownLeft"}
    right = select_moments(hand_built(), eye="right")
    # right eye: wide 0.95 at 10 (its own lid is 0); blink 1.0 at 30, 40 -> 30; half blink 0.6 at 57/58 with
    # look-down 0.9 (tie) -> 57
    assert {k: v.frame for k, v in right.items()} == {"eye_wide": 10, "full_blink": 30, "half_blink_down": 57}


def test_ties_pick_the_lowest_frame():
    w = np.zeros((20, 52), np.float32)
    w[:, arkit_index("eyeBlinkLeft")] = w[:, arkit_index("eyeBlinkRight")] = 1.0  # closed throughout
    w[3:, arkit_index("eyeBlinkLeft")] = 0.5
    w[3:, arkit_index("eyeBlinkRight")] = 0.5
    w[3:, arkit_index("eyeLookDownLeft")] = w[3:, arkit_index("eyeLookDownRight")] = 0.8
    w[0:2, arkit_index("eyeBlinkLeft")] = w[0:2, arkit_index("eyeBlinkRight")] = 0.0
    w[0:2, arkit_index("eyeWideLeft")] = w[0:2, arkit_index("eyeWideRight")] = 0.9
    m = select_moments(Take.from_weights(w))
    assert (m["eye_wide"].frame, m["full_blink"].frame, m["half_blink_down"].frame) == (0, 2, 3)


def brute_force(take: Take, eye: str) -> dict[str, int]:
    """The definitions, frame by frame in plain Python (a reference for the vectorised code)."""
    sides = ("Left", "Right") if eye == "both" else (eye.capitalize(),)
    best = {}
    for f in range(take.num_frames):
        blinks = [float(take.channel("eyeBlink" + s)[f]) for s in sides]
        wide = sum(float(take.channel("eyeWide" + s)[f]) for s in sides) / len(sides)
        down = sum(float(take.channel("eyeLookDown" + s)[f]) for s in sides) / len(sides)
        candidates = {
            "eye_wide": wide if max(blinks) < 0.2 and wide >= 0.5 else None,
            "full_blink": min(blinks) if min(blinks) >= 0.9 else None,
            "half_blink_down": down if 0.35 <= sum(blinks) / len(blinks) <= 0.65 and down >= 0.3 else None,
        }
        for name, score in candidates.items():
            if score is not None and (name not in best or score > best[name][0]):
                best[name] = (score, f)
    return {name: f for name, (_, f) in best.items()}


@pytest.mark.parametrize("name", [r[0] for r in RECORDINGS])
def test_moments_on_each_recording(name):
    take = read_livelink_csv(RECORDINGS_DIR / name)
    for eye in ("both", "left", "right"):
        m = select_moments(take, eye=eye)
        assert {k: v.frame for k, v in m.items()} == brute_force(take, eye)
        sides = ("Left", "Right") if eye == "both" else (eye.capitalize(),)

        def at(base, moment):
            return np.array([take.channel(base + s)[m[moment].frame] for s in sides])

        assert at("eyeBlink", "eye_wide").max() < 0.2 and at("eyeWide", "eye_wide").mean() >= 0.8
        assert at("eyeBlink", "full_blink").min() >= 0.95
        assert 0.35 <= at("eyeBlink", "half_blink_down").mean() <= 0.65
        assert at("eyeLookDown", "half_blink_down").mean() >= 0.7
        # the three moments are distinct parts of the take
        frames = sorted(v.frame for v in m.values())
        assert frames[1] - frames[0] > 30 and frames[2] - frames[1] > 30


def test_missing_moments_explain_themselves():
    w = np.zeros((30, 52), np.float32)
    w[:, arkit_index("eyeBlinkLeft")] = w[:, arkit_index("eyeBlinkRight")] = 0.8  # never wide, never closed
    with pytest.raises(InputError) as info:
        select_moments(Take.from_weights(w, source="lazy.csv"))
    msg = str(info.value)
    assert msg.startswith("lazy.csv: moment eye_wide: expected a frame with the highest eyeWide")
    assert "< 0.2" in msg and "no such frame in 30 frames" in msg
    w[5, arkit_index("eyeWideLeft")] = w[5, arkit_index("eyeWideRight")] = 0.9
    w[5, arkit_index("eyeBlinkLeft")] = w[5, arkit_index("eyeBlinkRight")] = 0.0
    with pytest.raises(InputError, match=r"lazy\.csv: moment full_blink: expected .*eyeBlink .*>= 0\.9"):
        select_moments(Take.from_weights(w, source="lazy.csv"))
    w[6, arkit_index("eyeBlinkLeft")] = w[6, arkit_index("eyeBlinkRight")] = 1.0
    with pytest.raises(InputError, match=r"moment half_blink_down: expected .*eyeLookDown.*\[0\.35, 0\.65\]"):
        select_moments(Take.from_weights(w, source="lazy.csv"))


def test_bad_moment_or_eye():
    take = hand_built()
    with pytest.raises(InputError, match="moment: expected one of the registered moments"):
        select_moments(take, names=("two_moment",))
    with pytest.raises(InputError, match="eye: expected both"):
        select_moments(take, eye="middle")


def test_missing_moment_names_the_closest_frame_and_the_failing_condition():
    w = np.zeros((40, 52), np.float32)
    w[:, arkit_index("eyeWideLeft")] = w[:, arkit_index("eyeWideRight")] = np.linspace(0.0, 0.4, 40)
    w[30, arkit_index("eyeBlinkLeft")] = 0.5  # the widest frame is 39; 30 is excluded by its blink anyway
    picked = pick_moments(Take.from_weights(w, source="calm.csv"))
    wide = picked["eye_wide"]
    assert isinstance(wide, MissingMoment)
    # every frame meets the blink condition; the closest is the highest eyeWide among them
    assert wide.best_frame == 39
    assert len(wide.failing) == 1 and wide.failing[0].startswith("eyeWide (mean of both eyes) >= 0.5")
    assert "0.400" in wide.failing[0]
    # thresholds are parameters: lowering wide_min makes the same take qualify
    relaxed = pick_moments(Take.from_weights(w), names=("eye_wide",), params={"eye_wide": {"wide_min": 0.3}})
    assert isinstance(relaxed["eye_wide"], Moment) and relaxed["eye_wide"].frame == 39


def test_registering_a_toy_moment_is_one_definition():
    from avatarcheck.moments import MOMENTS, register_moment
    from avatarcheck.moments.base import Condition, Criterion, MomentDefinition

    def jaw(ch, p):
        return Criterion(-ch.blink_mid, "lowest eyeBlink", (Condition("always", ch.wide, np.ones_like(ch.wide, bool)),))

    try:
        register_moment(MomentDefinition("calmest", "toy", {}, jaw))
        m = select_moments(hand_built(), names=("calmest",))["calmest"]
        w = hand_built().weights
        blink = (w[:, arkit_index("eyeBlinkLeft")] + w[:, arkit_index("eyeBlinkRight")]) / 2
        assert m.frame == int(np.argmin(blink))
    finally:
        MOMENTS.pop("calmest", None)
