"""Named moments of a take for the eye gate: the frames worth rendering.

``three-moment`` gate, per eye or both eyes:

- ``eye_wide``: the largest eyeWide among frames whose blink is low (< ``BLINK_LOW``); the eye
  at its most open, where the lid sheet is stretched furthest. Needs eyeWide >= ``WIDE_MIN``.
- ``full_blink``: the largest eyeBlink (closed lid, where iris leaks show). Needs >= ``FULL_BLINK_MIN``.
- ``half_blink_down``: among frames with blink in ``HALF_BLINK_RANGE``, the strongest
  eyeLookDown (a half-closed lid over a lowered eyeball). Needs eyeLookDown >= ``LOOK_DOWN_MIN``.

With ``eye="both"`` the two eyes are combined so that a moment holds for both of them:
blink that must be high (full blink) uses the **min** of the eyes, blink that must be low (eye
wide) the **max**, blink that must be near 0.5 (half blink) the **mean**; eyeWide and eyeLookDown
use the **mean**. Ties go to the lowest frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from avatarcheck.errors import InputError
from avatarcheck.takes.take import Take

MOMENT_NAMES: tuple[str, ...] = ("eye_wide", "full_blink", "half_blink_down")
GATES: tuple[str, ...] = ("three-moment",)
EYES: tuple[str, ...] = ("both", "left", "right")

BLINK_LOW = 0.2
WIDE_MIN = 0.5
FULL_BLINK_MIN = 0.9
HALF_BLINK_RANGE = (0.35, 0.65)
LOOK_DOWN_MIN = 0.3


@dataclass(frozen=True)
class Moment:
    """One selected frame: ``values`` maps channel names (canonical spelling) to that frame's weights."""

    name: str
    frame: int
    reason: str
    values: dict[str, float]


def _channels(take: Take, base: str, eye: str) -> np.ndarray:
    """(T, 1 or 2) float64 columns of ``base`` + Left/Right for the chosen eye(s)."""
    sides = ("Left", "Right") if eye == "both" else (eye.capitalize(),)
    return np.stack([take.channel(base + s).astype(np.float64) for s in sides], axis=1)


def _pick(score: np.ndarray, mask: np.ndarray) -> int | None:
    """Lowest frame with the highest score among ``mask``; None when nothing qualifies."""
    if not mask.any():
        return None
    return int(np.argmax(np.where(mask, score, -np.inf)))  # argmax returns the first maximum


def select_moments(take: Take, gate: str = "three-moment", eye: str = "both") -> dict[str, Moment]:
    """The ``MOMENT_NAMES`` frames of ``take`` (see the module docstring for the definitions).

    Raises ``InputError`` naming the take, the moment and what it required when a take has no
    qualifying frame.
    """
    if gate not in GATES:
        raise InputError("select_moments", "gate", " or ".join(repr(g) for g in GATES), repr(gate))
    if eye not in EYES:
        raise InputError("select_moments", "eye", " | ".join(EYES), repr(eye))
    blink = _channels(take, "eyeBlink", eye)
    wide = _channels(take, "eyeWide", eye).mean(axis=1)
    down = _channels(take, "eyeLookDown", eye).mean(axis=1)
    blink_high, blink_low, blink_mid = blink.min(axis=1), blink.max(axis=1), blink.mean(axis=1)

    def how(agg: str) -> str:
        return f"{agg} of both eyes" if eye == "both" else f"{eye} eye"

    lo, hi = HALF_BLINK_RANGE
    # name -> (score to maximise, qualifying frames, rule for messages, reason for a frame)
    specs = {
        "eye_wide": (
            wide, (blink_low < BLINK_LOW) & (wide >= WIDE_MIN),
            f"highest eyeWide ({how('mean')}) >= {WIDE_MIN:g} where eyeBlink ({how('max')}) < {BLINK_LOW:g}",
            lambda f: f"highest eyeWide ({how('mean')}) {wide[f]:.3f} where eyeBlink ({how('max')}) "
                      f"{blink_low[f]:.3f} < {BLINK_LOW:g}"),
        "full_blink": (
            blink_high, blink_high >= FULL_BLINK_MIN,
            f"highest eyeBlink ({how('min')}) >= {FULL_BLINK_MIN:g}",
            lambda f: f"highest eyeBlink ({how('min')}) {blink_high[f]:.3f}"),
        "half_blink_down": (
            down, (blink_mid >= lo) & (blink_mid <= hi) & (down >= LOOK_DOWN_MIN),
            f"strongest eyeLookDown ({how('mean')}) >= {LOOK_DOWN_MIN:g} where eyeBlink ({how('mean')}) "
            f"is in [{lo:g}, {hi:g}]",
            lambda f: f"strongest eyeLookDown ({how('mean')}) {down[f]:.3f} where eyeBlink ({how('mean')}) "
                      f"{blink_mid[f]:.3f} is in [{lo:g}, {hi:g}]"),
    }
    sides = ("Left", "Right") if eye == "both" else (eye.capitalize(),)
    moments: dict[str, Moment] = {}
    for name in MOMENT_NAMES:
        score, mask, rule, reason = specs[name]
        frame = _pick(score, mask)
        if frame is None:
            raise InputError(take.source, f"moment {name}", f"a frame with the {rule}",
                             f"no such frame in {take.num_frames} frames")
        values = {f"{base}{s}": float(take.channel(base + s)[frame])
                  for base in ("eyeBlink", "eyeWide", "eyeLookDown") for s in sides}
        moments[name] = Moment(name, frame, reason(frame), values)
    return moments
