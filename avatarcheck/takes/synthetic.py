"""Seeded synthetic takes that look like a person in front of Live Link Face.

Everything is a continuous function of time sampled at the take's rate, so a seed describes the
same performance at any fps. What a take contains (the moments a gate needs, guaranteed):

- full blinks every few seconds, both eyes reaching 1.0 together: fast close (80-110 ms), a short
  hold (>= 2 frames), slower open (150-200 ms); the right eye a few ms and a few percent off;
- one eye-wide peak (eyeWide 0.85-1.0) with the blink near 0, brows up, gaze slightly up;
- one half-blink (eyeBlink ~0.5) while looking strongly down (eyeLookDown ~0.75-0.9);
- saccades between fixations: eyeLookIn/Out/Up/Down follow each eye's yaw/pitch (one of each
  pair is zero), and the eye rotation columns are those same angles;
- slow head motion, speech-like jaw/mouth, smile with cheek/eye squint, small noise; all weights
  clipped to [0, 1].

``style="real"`` adds what real Live Link Face takes contain (DESIGN.md, "Real takes"), drawn from
a second random stream so that the default takes stay byte-identical:

- side glances whose eyeLook channels overshoot 1 (up to ``REAL_LOOK_MAX`` = 1.053, as a real
  tracker reports them; the ``Take`` holds them clipped, counted in ``Take.clipped``);
- about half the blinks with the gaze down (eyeLookDown ~``REAL_BLINK_LOOK_DOWN`` = 0.38) and
  blinks peaking at 0.97-1.0 rather than exactly 1;
- exact zeros for long stretches on the quiet channels;
- timestamps at a time of day (``13:13:04:31.652`` at 60 fps) drifting by a thousandth of a
  timecode frame per 30 fps row, written with 60 fps timecodes (``REAL_TIMECODE_RATE``).

``eye_wide=False`` makes a take with no eye-wide moment (eyeWide stays below 0.5), like a real
328-frame take.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np

from avatarcheck.arkit import ARKIT_NAMES, arkit_index
from avatarcheck.errors import InputError
from avatarcheck.takes.take import Take, clip_weights

#: Eye yaw / pitch (radians) at which the eyeLook channels read 1 (linear below; ARKit's real
#: mapping is nonlinear but monotonic, which is all the moments rely on).
YAW_FULL = 0.6
PITCH_FULL = 0.45
MIN_DURATION_S = 6.0
MIN_FPS = 10.0

#: The takes shipped in ``recordings/``: (file name, seed, frames), all at 60 fps.
RECORDINGS: tuple[tuple[str, int, int], ...] = (
    ("synthetic_take_01.csv", 1, 720),
    ("synthetic_take_02.csv", 2, 840),
    ("synthetic_take_03.csv", 3, 900),
)
RECORDINGS_FPS = 60.0
#: Real-looking takes in ``recordings/``: (file name, seed, frames, fps, eye_wide), ``style="real"``.
REAL_RECORDINGS: tuple[tuple[str, int, int, float, bool], ...] = (
    ("synthetic_take_04_real_30fps.csv", 4, 3600, 30.0, True),
    ("synthetic_take_05_no_eye_wide.csv", 5, 328, 30.0, False),
)

STYLES: tuple[str, ...] = ("default", "real")
#: Largest eyeLook value a real-style take reports (a real 3809-frame take reached 1.053).
REAL_LOOK_MAX = 1.053
#: eyeLookDown during the real-style blinks that come with the gaze down (a real blink: 0.99 with 0.38).
REAL_BLINK_LOOK_DOWN = 0.38
#: Timecode rate real exports use whatever the take's rate (a 30 fps take steps by 2 frames).
REAL_TIMECODE_RATE = 60
#: Real-style start: 13:13:04 and 31.652 frames at 60 fps, the first row of a real export.
REAL_START_S = 13 * 3600 + 13 * 60 + 4 + 31.652 / REAL_TIMECODE_RATE
#: Real-style clock drift per row, relative: rows 1.999 timecode frames apart at 30 fps.
REAL_DRIFT = 0.0005
#: Quiet channels a real tracker reports as exact zeros when below this.
REAL_ZERO_BELOW = 0.02
_CH: dict[str, int] = {name: i for i, name in enumerate(ARKIT_NAMES)}


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def _envelope(t: np.ndarray, start: float, rise: float, hold: float, fall: float) -> np.ndarray:
    """0 -> 1 over ``rise`` s from ``start``, 1 for ``hold`` s, back to 0 over ``fall`` s."""
    return np.minimum(_smoothstep((t - start) / rise), 1.0 - _smoothstep((t - start - rise - hold) / fall))


def _blink(t: np.ndarray, start: float, close: float, hold: float, open_: float) -> np.ndarray:
    """One lid closure: exactly 1.0 during ``hold`` (so full closure is sampled, not just approached)."""
    return _envelope(t, start, close, hold, open_)


def _band(rng: np.random.Generator, t: np.ndarray, lo_hz: float, hi_hz: float, n: int = 5) -> np.ndarray:
    """Smooth random signal in [-1, 1]: a few sinusoids with random frequencies and phases."""
    freqs = rng.uniform(lo_hz, hi_hz, n)
    phases = rng.uniform(0, 2 * np.pi, n)
    amps = rng.uniform(0.5, 1.0, n)
    return (amps[:, None] * np.sin(2 * np.pi * freqs[:, None] * t[None] + phases[:, None])).sum(0) / amps.sum()


def _relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0.0)


def synthetic_take(seed: int, num_frames: int = 720, fps: float = 60.0, source: str | None = None, *,
                   style: str = "default", eye_wide: bool = True) -> Take:
    """A deterministic take for ``seed`` (numpy ``default_rng``): (num_frames, 52) weights plus
    head and eye rotations at ``fps``, timestamps from 0 (``style="real"``: from ``REAL_START_S``).
    Needs at least 6 s and fps >= 10. ``style`` and ``eye_wide``: see the module docstring."""
    return synthetic_raw(seed, num_frames, fps, source, style=style, eye_wide=eye_wide)[0]


def synthetic_raw(seed: int, num_frames: int = 720, fps: float = 60.0, source: str | None = None, *,
                  style: str = "default", eye_wide: bool = True) -> tuple[Take, np.ndarray]:
    """``synthetic_take`` plus its (num_frames, 52) float32 weights as a tracker reports them
    (above 1 on the eyeLook channels for ``style="real"``; equal to the take's otherwise).

    The helpers below draw from ``rng`` in a fixed order (the script, head, gaze, lids, mouth, noise):
    a seed's take depends on that order, so a new draw goes after the existing ones."""
    _check_args(seed, num_frames, fps, style, eye_wide)
    real = style == "real"
    duration = num_frames / fps
    rng = np.random.default_rng(seed)
    # real-style extras draw from their own stream: the default stream (and its takes) never change
    extra = np.random.default_rng([seed, 0x7EA1])
    t = np.arange(num_frames) / fps
    w = np.zeros((num_frames, 52))
    script = _script(rng, t, duration, fps)
    head = _head_motion(rng, t, script)
    eye_left, eye_right = _eye_rotations(rng, extra if real else None, t, duration, script, head)
    look_max = REAL_LOOK_MAX if real else 1.0  # real trackers overshoot 1 on the eyeLook channels
    _fill_look_channels(w, eye_left, eye_right, look_max)
    _fill_lids(rng, extra, t, w, script, real, eye_wide)
    filled = _fill_mouth_and_rest(rng, t, w, script)
    noisy = _with_noise(rng, w)
    eyes = (head.astype(np.float32), eye_left.astype(np.float32), eye_right.astype(np.float32))
    if not real:
        weights = np.clip(noisy, 0.0, 1.0).astype(np.float32)
        name = source or f"synthetic_take(seed={seed}, num_frames={num_frames}, fps={fps:g})"
        return Take(weights, *eyes, t, float(fps), name), weights
    raw = _real_tracker_weights(noisy, filled, look_max)
    weights, clipped = clip_weights(raw, "synthetic_take")
    timestamps = REAL_START_S + np.arange(num_frames) * ((1.0 - REAL_DRIFT) / fps)
    name = source or f"synthetic_take(seed={seed}, num_frames={num_frames}, fps={fps:g}, style='real'" \
        + ("" if eye_wide else ", eye_wide=False") + ")"
    return Take(weights.astype(np.float32), *eyes, timestamps, float(fps), name, clipped), raw


def _check_args(seed: int, num_frames: int, fps: float, style: str, eye_wide: bool) -> None:
    """``synthetic_raw``'s arguments, or an ``InputError`` naming the one that is wrong."""
    src = "synthetic_take"
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise InputError(src, "seed", "an integer >= 0", repr(seed))
    if style not in STYLES:
        raise InputError(src, "style", f"one of {', '.join(STYLES)}", repr(style))
    if not isinstance(eye_wide, (bool, np.bool_)):
        raise InputError(src, "eye_wide", "True or False", repr(eye_wide))
    if isinstance(num_frames, bool) or not isinstance(num_frames, (int, np.integer)) or num_frames < 1:
        raise InputError(src, "num_frames", "a positive integer", repr(num_frames))
    if isinstance(fps, bool) or not isinstance(fps, (int, float, np.integer, np.floating)) \
            or not (np.isfinite(fps) and MIN_FPS <= fps <= 1000):
        raise InputError(src, "fps", f"a frame rate in [{MIN_FPS:g}, 1000]", repr(fps))
    duration = num_frames / fps
    if duration < MIN_DURATION_S:
        raise InputError(src, "num_frames",
                         f"at least {MIN_DURATION_S:g} s of frames ({int(np.ceil(MIN_DURATION_S * fps))} at {fps:g} fps)",
                         f"{num_frames} ({duration:.2f} s)")


@dataclasses.dataclass(frozen=True)
class _Script:
    """The take's timeline: the eye-wide and half-blink-down envelopes (T,), the windows kept clear
    of blinks (start, end) s, and the blinks (start, close, hold, open) s."""

    wide_env: np.ndarray
    half_env: np.ndarray
    reserved: list[tuple[float, float]]
    blinks: list[tuple[float, float, float, float]]


def _script(rng: np.random.Generator, t: np.ndarray, duration: float, fps: float) -> _Script:
    """Eye-wide window early, half-blink-down window late, blinks around them."""
    wide = (rng.uniform(0.16, 0.26) * duration, 0.18, rng.uniform(0.25, 0.45), 0.35)
    half = (rng.uniform(0.58, 0.68) * duration, 0.25, rng.uniform(0.5, 0.8), 0.3)
    reserved = [(s - 0.3, s + r + h + f + 0.3) for s, r, h, f in (wide, half)]
    blinks = _schedule_blinks(rng, duration, fps, reserved)
    return _Script(_envelope(t, *wide), _envelope(t, *half), reserved, blinks)


def _head_motion(rng: np.random.Generator, t: np.ndarray, script: _Script) -> np.ndarray:
    """(T, 3) yaw, pitch, roll: slow sway, a nod down while reading down, back a little when surprised."""
    return np.stack([
        0.08 * _band(rng, t, 0.05, 0.25, 3) + 0.02 * _band(rng, t, 0.3, 0.8, 3),
        0.04 * _band(rng, t, 0.05, 0.25, 3) + 0.06 * script.half_env - 0.03 * script.wide_env,
        0.03 * _band(rng, t, 0.05, 0.2, 3),
    ], axis=1)


def _eye_rotations(rng: np.random.Generator, extra: np.random.Generator | None, t: np.ndarray, duration: float,
                   script: _Script, head: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(T, 3) left and right eye yaw, pitch, roll: fixations joined by fast saccades, up with the
    wide eyes, down in the half blink; ``extra`` (real style) adds side glances and blinks looking down."""
    wide_env, half_env = script.wide_env, script.half_env
    yaw, pitch = _saccades(rng, t, duration)
    tremor = 0.002
    yaw = yaw * (1 - 0.7 * half_env) + tremor * _band(rng, t, 3.0, 8.0)
    pitch = pitch * (1 - wide_env) - 0.08 * wide_env
    pitch = pitch * (1 - half_env) + rng.uniform(0.34, 0.40) * half_env + tremor * _band(rng, t, 3.0, 8.0)
    if extra is not None:
        yaw = _side_glances(extra, t, duration, yaw, script.reserved)
        pitch = _blinks_looking_down(extra, t, script.blinks, pitch)
    vergence = 0.012 + 0.004 * _band(rng, t, 0.05, 0.3, 2)  # both eyes turn slightly inwards
    roll = -0.25 * head[:, 2]  # ocular counter-roll against head roll
    eye_left = np.stack([yaw + vergence, pitch + 0.003, roll], axis=1)
    eye_right = np.stack([yaw - vergence, pitch - 0.003, roll], axis=1)
    return eye_left, eye_right


def _fill_look_channels(w: np.ndarray, eye_left: np.ndarray, eye_right: np.ndarray, look_max: float) -> None:
    """Write the eyeLook columns of ``w`` (T, 52) from the eye yaw / pitch (one of each pair is zero)."""
    for side, eye, inward in (("Left", eye_left, 1.0), ("Right", eye_right, -1.0)):
        # yaw > 0 turns towards the subject's right: the left eye's nose side, the right eye's outside
        w[:, _CH[f"eyeLookIn{side}"]] = np.clip(inward * eye[:, 0] / YAW_FULL, 0, look_max)
        w[:, _CH[f"eyeLookOut{side}"]] = np.clip(-inward * eye[:, 0] / YAW_FULL, 0, look_max)
        w[:, _CH[f"eyeLookDown{side}"]] = np.clip(eye[:, 1] / PITCH_FULL, 0, look_max)
        w[:, _CH[f"eyeLookUp{side}"]] = np.clip(-eye[:, 1] / PITCH_FULL, 0, look_max)


def _fill_lids(rng: np.random.Generator, extra: np.random.Generator, t: np.ndarray, w: np.ndarray,
               script: _Script, real: bool, eye_wide: bool) -> None:
    """Write the lid, squint, smile and outer-brow columns of ``w`` (T, 52): a baseline lid, suppressed
    when wide, ~0.5 in the look-down, full blinks; the right eye a few ms and percent off the left."""
    wide_env, half_env, blinks = script.wide_env, script.half_env, script.blinks
    base = 0.04 + 0.025 * _band(rng, t, 0.05, 0.3, 3)
    half_level = rng.uniform(0.46, 0.54)
    wide_peak = rng.uniform(0.85, 0.98)
    if not eye_wide:  # surprise without wide eyes: eyeWide stays under 0.5 (0.42 * 1.02 + 0.02 < 0.45)
        wide_peak = extra.uniform(0.3, 0.42)
    peaks = extra.uniform(0.97, 1.0, len(blinks)) if real else np.ones(len(blinks))
    smile = _relu(0.12 + 0.1 * _band(rng, t, 0.05, 0.2, 3))
    for side, offset, scale in (("Left", 0.0, 1.0), ("Right", rng.uniform(-0.004, 0.004), rng.uniform(0.95, 1.05))):
        lid = base * (1 - 0.9 * wide_env)
        lid = lid * (1 - half_env) + (half_level + rng.uniform(-0.025, 0.025)) * half_env
        for (start, close, hold, open_), peak in zip(blinks, peaks):
            # the other eye: a few ms later or earlier, close/open a few percent off, same hold
            closure = _blink(t, start + offset, close * scale, hold, open_ * rng.uniform(0.95, 1.05))
            lid = np.maximum(lid, closure * peak if real else closure)
        w[:, _CH[f"eyeBlink{side}"]] = lid
        w[:, _CH[f"eyeWide{side}"]] = wide_peak * (1.0 if side == "Left" else rng.uniform(0.96, 1.02)) * wide_env \
            + 0.02 * _relu(_band(rng, t, 0.1, 0.4, 2))
        w[:, _CH[f"eyeSquint{side}"]] = 0.25 * smile + 0.1 * lid
        w[:, _CH[f"cheekSquint{side}"]] = 0.4 * smile
        w[:, _CH[f"mouthSmile{side}"]] = smile * (1.0 if side == "Left" else rng.uniform(0.9, 1.0))
        w[:, _CH[f"browOuterUp{side}"]] = 0.03 + 0.6 * wide_env * rng.uniform(0.9, 1.0)
        w[:, _CH[f"browDown{side}"]] = 0.04 + 0.05 * _relu(_band(rng, t, 0.1, 0.5)) * (1 - wide_env) \
            + 0.15 * half_env


def _fill_mouth_and_rest(rng: np.random.Generator, t: np.ndarray, w: np.ndarray, script: _Script) -> set[str]:
    """Write the mouth and inner-brow columns of ``w`` (T, 52) (speech-like bursts, a surprised jaw drop
    with the wide eyes) and a small random level on every other channel but tongueOut; returns the
    names of the channels the script drives (the others are the quiet ones)."""
    wide_env = script.wide_env
    talking = _relu(_band(rng, t, 0.05, 0.2, 3)) > 0.1
    syllables = _relu(_band(rng, t, 2.0, 5.0, 6))
    w[:, _CH["jawOpen"]] = 0.04 + 0.3 * syllables * talking + 0.15 * wide_env
    w[:, _CH["mouthClose"]] = 0.03 + 0.05 * _relu(-_band(rng, t, 2.0, 5.0)) * talking
    w[:, _CH["mouthFunnel"]] = 0.12 * _relu(_band(rng, t, 1.0, 3.0)) * talking
    w[:, _CH["mouthPucker"]] = 0.1 * _relu(_band(rng, t, 1.0, 3.0)) * talking
    w[:, _CH["browInnerUp"]] = 0.05 + 0.05 * _relu(_band(rng, t, 0.1, 0.5)) + 0.75 * wide_env
    filled = {"jawOpen", "mouthClose", "mouthFunnel", "mouthPucker", "browInnerUp"}
    filled |= {n for n in ARKIT_NAMES if n.startswith(("eye", "cheekSquint", "mouthSmile", "browOuterUp", "browDown"))}
    for name in ARKIT_NAMES:
        if name not in filled and name != "tongueOut":
            w[:, _CH[name]] = rng.uniform(0.0, 0.04) + rng.uniform(0.0, 0.06) * _relu(_band(rng, t, 0.2, 2.0, 3))
    return filled


def _with_noise(rng: np.random.Generator, w: np.ndarray) -> np.ndarray:
    """(T, 52) ``w`` plus small sensor noise; the eyeLook channels keep theirs from the gaze so In/Out
    stay exclusive, and 1.0 plateaus stay exactly 1.0."""
    noise = rng.normal(0.0, 0.003, w.shape) * (1.0 - np.clip(w, 0, 1))
    look = [arkit_index(n) for n in ARKIT_NAMES if n.startswith("eyeLook")]
    noise[:, look] = 0.0
    return w + noise


def _real_tracker_weights(noisy: np.ndarray, filled: set[str], look_max: float) -> np.ndarray:
    """(T, 52) float32 as a real tracker reports them: eyeLook up to ``look_max``, exact zeros on quiet channels."""
    raw = np.clip(noisy, 0.0, look_max)
    quiet = [_CH[n] for n in ARKIT_NAMES if n not in filled]
    raw[:, quiet] = np.where(raw[:, quiet] < REAL_ZERO_BELOW, 0.0, raw[:, quiet])  # trackers' exact zeros
    return raw.astype(np.float32)


def _side_glances(rng: np.random.Generator, t: np.ndarray, duration: float, yaw: np.ndarray,
                  reserved: list[tuple[float, float]]) -> np.ndarray:
    """(T,) yaw with a glance far to the side every ~20 s (held 0.3-0.8 s, clear of the reserved
    moment windows): ``|yaw|`` reaches 1.0-1.06 x ``YAW_FULL``, so one eye's eyeLookIn (the other's
    eyeLookOut) goes past 1 as a real tracker's does."""
    count = max(1, int(duration // 20))
    for _ in range(count):
        for _attempt in range(20):
            start = rng.uniform(0.05, 0.9) * duration
            hold = rng.uniform(0.3, 0.8)
            if not any(start < b and start + hold + 0.3 > a for a, b in reserved):
                break
        target = rng.choice([-1.0, 1.0]) * YAW_FULL * rng.uniform(1.0, 1.06)
        env = _envelope(t, start, 0.06, hold, 0.08)  # saccade out, fixate, saccade back
        yaw = yaw * (1 - env) + target * env
    return yaw


def _blinks_looking_down(rng: np.random.Generator, t: np.ndarray, blinks: list[tuple[float, float, float, float]],
                         pitch: np.ndarray) -> np.ndarray:
    """(T,) pitch with the gaze lowered to eyeLookDown ~``REAL_BLINK_LOOK_DOWN`` around about half
    the blinks (real blinks come with the eyes looking down, e.g. blink 0.99 with eyeLookDown 0.38)."""
    for start, close, hold, open_ in blinks:
        if rng.uniform() < 0.5:
            continue
        target = REAL_BLINK_LOOK_DOWN * PITCH_FULL * rng.uniform(0.95, 1.05)
        env = _envelope(t, start - 0.12, 0.1, close + hold + open_ + 0.05, 0.2)
        pitch = pitch * (1 - env) + target * env
    return pitch


def _schedule_blinks(rng: np.random.Generator, duration: float, fps: float,
                     reserved: list[tuple[float, float]]) -> list[tuple[float, float, float, float]]:
    """(start, close, hold, open) per blink, a few seconds apart, clear of the reserved windows.

    The hold lasts at least 2 frames + 10 ms, so both eyes are sampled at exactly 1.0 together
    despite their small offset."""
    blinks: list[tuple[float, float, float, float]] = []
    start = rng.uniform(0.3, 1.0)
    while True:
        close, open_ = rng.uniform(0.08, 0.11), rng.uniform(0.15, 0.2)
        hold = max(rng.uniform(0.03, 0.06), 2.0 / fps + 0.01)
        end = start + close * 1.05 + hold + open_ * 1.05 + 0.01
        if end > duration - 0.2:
            break
        clash = [b for a, b in reserved if start < b and end > a]
        if clash:
            start = max(clash) + rng.uniform(0.1, 0.5)
            continue
        blinks.append((start, close, hold, open_))
        start = end + rng.uniform(1.8, 4.2)
    if not blinks:  # short takes: one blink before the first window (always clear at >= 6 s)
        blinks.append((0.2, 0.08, 2.0 / fps + 0.01, 0.15))
    return blinks


def _saccades(rng: np.random.Generator, t: np.ndarray, duration: float) -> tuple[np.ndarray, np.ndarray]:
    """Gaze yaw and pitch (radians, pitch > 0 down): fixations of 0.35-1.4 s joined by saccades
    lasting 25 ms + 2.5 ms per degree (the main-sequence rule of thumb)."""
    yaw = np.full_like(t, rng.uniform(-0.1, 0.1))
    pitch = np.full_like(t, rng.uniform(-0.05, 0.08))
    prev_y, prev_p = yaw[0], pitch[0]
    start = rng.uniform(0.35, 1.4)
    while start < duration:
        y, p = rng.uniform(-0.22, 0.22), rng.uniform(-0.12, 0.13)
        amplitude_deg = np.degrees(np.hypot(y - prev_y, p - prev_p))
        ramp = _smoothstep((t - start) / (0.025 + 0.0025 * amplitude_deg))
        yaw += (y - prev_y) * ramp
        pitch += (p - prev_p) * ramp
        prev_y, prev_p = y, p
        start += rng.uniform(0.35, 1.4)
    return yaw, pitch


def write_synthetic(path: str | os.PathLike, take: Take, raw: np.ndarray, style: str = "default") -> None:
    """Save a synthetic take by suffix; a CSV gets the tracker's raw weights and, for
    ``style="real"``, the 60 fps timecodes real exports carry."""
    from avatarcheck.takes.csv_io import write_livelink_csv
    from avatarcheck.takes.files import check_output_path, save_take

    path = check_output_path(path)
    if path.suffix.lower() == ".csv":
        write_livelink_csv(path, take, raw_weights=raw, timecode_rate=REAL_TIMECODE_RATE if style == "real" else None)
    else:
        save_take(path, take)


def write_recordings(folder: str | os.PathLike) -> list[Path]:
    """(Re)write the shipped ``recordings/`` takes (``RECORDINGS``, ``REAL_RECORDINGS``) as CSVs."""
    paths = []
    for name, seed, frames in RECORDINGS:
        path = Path(folder) / name
        write_synthetic(path, *synthetic_raw(seed, frames, RECORDINGS_FPS))
        paths.append(path)
    for name, seed, frames, fps, eye_wide in REAL_RECORDINGS:
        path = Path(folder) / name
        write_synthetic(path, *synthetic_raw(seed, frames, fps, style="real", eye_wide=eye_wide), style="real")
        paths.append(path)
    return paths
