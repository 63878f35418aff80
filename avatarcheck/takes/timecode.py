"""Live Link Face timecodes ``HH:MM:SS:FF.fff``: parse, format, and infer the timecode rate.

``FF`` counts frames at the timecode rate (the app's default is 60) and ``.fff`` is the fraction
of a frame (real exports: ``12:27:47:47.169``, then ``49.169`` for a 30 fps take on a 60 fps
timecode). A file does not state its rate, so it is inferred: the rate must exceed every ``FF``,
and only the true rate makes the step across a second boundary look like the other steps.
"""

from __future__ import annotations

import math
import re

import numpy as np

DEFAULT_RATE = 60
#: Timecode rates tried when a file's rate is inferred.
STANDARD_RATES: tuple[int, ...] = (24, 25, 30, 48, 50, 60, 100, 120)
SECONDS_PER_DAY = 86_400

# re.ASCII: \d would otherwise match Arabic-Indic and full-width digits, which int() accepts.
_TIMECODE = re.compile(r"(\d{2}):(\d{2}):(\d{2}):(\d{2,3})(?:\.(\d{1,6}))?", re.ASCII)


def parse_timecode(text: str) -> tuple[int, float]:
    """``"HH:MM:SS:FF.fff"`` -> (whole seconds since midnight, frame number with its fraction).

    Raises ValueError with the reason when the text is not a valid timecode.
    """
    m = _TIMECODE.fullmatch(text.strip())
    if not m:
        raise ValueError("not of the form HH:MM:SS:FF.fff")
    h, mi, s, ff = (int(g) for g in m.groups()[:4])
    if h > 23 or mi > 59 or s > 59:
        raise ValueError("hours must be 0-23, minutes and seconds 0-59")
    sub = m.group(5)
    return h * 3600 + mi * 60 + s, ff + (int(sub) / 10 ** len(sub) if sub else 0.0)


def unwrap_midnight(seconds: np.ndarray) -> np.ndarray:
    """Add a day wherever the time of day jumps back by more than half a day (a take over midnight)."""
    seconds = np.asarray(seconds, dtype=np.float64)
    jumps = np.diff(seconds) < -SECONDS_PER_DAY / 2
    return seconds + SECONDS_PER_DAY * np.concatenate([[0], np.cumsum(jumps)])


def timestamps_from(seconds: np.ndarray, frames: np.ndarray, rate: float) -> np.ndarray:
    """(T,) seconds from whole seconds and frame numbers at ``rate``."""
    return unwrap_midnight(seconds) + np.asarray(frames, np.float64) / float(rate)


def infer_rate(seconds: np.ndarray, frames: np.ndarray, default: int = DEFAULT_RATE) -> int:
    """The standard timecode rate that explains (T,) seconds and frame numbers best.

    Candidates must exceed the largest ``FF``. Each is scored by its irregular steps (steps whose
    frame count differs from the median step, or that go backwards); ties, which happen when the
    take never crosses a second boundary, go to ``default`` if it is tied, else to the lowest rate.
    Raises ValueError when a frame number exceeds every standard rate.
    """
    frames = np.asarray(frames, np.float64)
    max_ff = math.floor(float(frames.max()))
    candidates = [r for r in STANDARD_RATES if r > max_ff]
    if not candidates:
        raise ValueError(f"frame number {max_ff} is beyond every standard rate {STANDARD_RATES}")
    if len(frames) < 2:
        return default if default in candidates else candidates[0]
    scores = []
    for rate in candidates:
        steps = np.diff(timestamps_from(seconds, frames, rate)) * rate
        if (steps <= 0).any():
            scores.append(len(steps) + int((steps <= 0).sum()))
            continue
        scores.append(int((np.abs(steps - np.median(steps)) > 0.5).sum()))
    tied = [r for r, s in zip(candidates, scores) if s == min(scores)]
    return default if default in tied else tied[0]


def default_timecode_rate(fps: float) -> int:
    """Timecode rate to write a take at: the app's 60 when the take's rate divides it (a 30 fps take
    steps by 2 frames, as real exports do, and a short one still reads back as 30 fps, since readers
    assume 60 when a take never crosses a second), else the take's rate rounded (24, 25, 50, 120)."""
    rate = max(1, int(round(fps)))
    return DEFAULT_RATE if abs(fps - rate) < 1e-9 and DEFAULT_RATE % rate == 0 else rate


def row_rate(timestamps: np.ndarray, rate: float) -> float:
    """Frame rate of the rows: ``rate / k`` when rows are a whole ``k`` timecode frames apart
    (sub-frame jitter tolerated), else one over the median step; ``rate`` for a single row."""
    if len(timestamps) < 2:
        return float(rate)
    step = float(np.median(np.diff(timestamps)))
    frames = step * rate
    k = round(frames)
    if k >= 1 and abs(frames - k) <= 0.05:
        return float(rate) / k
    return 1.0 / step


def format_timecodes(timestamps: np.ndarray, rate: int) -> list[str]:
    """(T,) seconds -> ``HH:MM:SS:FF.fff`` at integer ``rate``, sub-frames rounded to 1/1000 frame
    and hours wrapped at midnight (a timecode is a time of day)."""
    ticks = np.rint(np.asarray(timestamps, np.float64) * rate * 1000).astype(np.int64)
    per_second = int(rate) * 1000
    secs, rem = np.divmod(ticks, per_second)
    out = []
    for s, r in zip(secs.tolist(), rem.tolist()):
        h, mi, sec = (s // 3600) % 24, (s // 60) % 60, s % 60
        out.append(f"{h:02d}:{mi:02d}:{sec:02d}:{r // 1000:02d}.{r % 1000:03d}")
    return out
