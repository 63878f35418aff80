"""Moment definitions: how a gate picks a take's frame for a named moment, and why none qualifies.

A definition turns a take's eye channels and its parameters (thresholds, from the gate file's
``[moments.<name>]`` table) into a ``Criterion``: a score to maximise and the conditions a frame
must meet. Selection takes the lowest frame with the highest score among qualifying frames. When
no frame qualifies the result is a ``MissingMoment`` naming the best candidate (the highest score
among the frames that meet the most conditions) and the conditions it fails, so a take is always
shown, never refused.

With ``eye="both"`` a moment must hold for both eyes: a blink that must be high uses the **min** of
the eyes, one that must be low the **max**, one that must be near 0.5 the **mean**; eyeWide and
eyeLookDown use the **mean**.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from avatarcheck.errors import InputError
from avatarcheck.takes.take import Take

EYES: tuple[str, ...] = ("both", "left", "right")
REPORTED_CHANNELS = ("eyeBlink", "eyeWide", "eyeLookDown")


@dataclasses.dataclass(frozen=True)
class EyeChannels:
    """A take's eye channels for ``eye`` ("both", "left", "right"), each (T,) float64."""

    eye: str
    blink_high: np.ndarray   # blink that must be high: min over the eyes
    blink_low: np.ndarray    # blink that must be low: max over the eyes
    blink_mid: np.ndarray    # blink that must be near a value: mean
    wide: np.ndarray
    down: np.ndarray

    @classmethod
    def of(cls, take: Take, eye: str) -> "EyeChannels":
        if eye not in EYES:
            raise InputError("moments", "eye", " | ".join(EYES), repr(eye))
        sides = ("Left", "Right") if eye == "both" else (eye.capitalize(),)

        def cols(base: str) -> np.ndarray:
            return np.stack([take.channel(base + s).astype(np.float64) for s in sides], axis=1)

        blink = cols("eyeBlink")
        return cls(eye, blink.min(axis=1), blink.max(axis=1), blink.mean(axis=1),
                   cols("eyeWide").mean(axis=1), cols("eyeLookDown").mean(axis=1))

    def how(self, agg: str) -> str:
        return f"{agg} of both eyes" if self.eye == "both" else f"{self.eye} eye"


@dataclasses.dataclass(frozen=True)
class Condition:
    text: str            # "eyeBlink (max of both eyes) < 0.2"
    values: np.ndarray   # (T,) the channel it tests (reported for a frame that fails it)
    holds: np.ndarray    # (T,) bool


@dataclasses.dataclass(frozen=True)
class Criterion:
    score: np.ndarray            # (T,) maximised among qualifying frames
    score_text: str              # "highest eyeWide (mean of both eyes)"
    conditions: tuple[Condition, ...]


@dataclasses.dataclass(frozen=True)
class MomentDefinition:
    """``params``: name -> default (numbers or [low, high] pairs); ``criterion(channels, params)``."""

    name: str
    description: str
    params: Mapping[str, Any]
    criterion: Callable[[EyeChannels, Mapping[str, Any]], Criterion]


@dataclasses.dataclass(frozen=True)
class Moment:
    """One selected frame: ``values`` maps channel names (canonical spelling) to that frame's weights."""

    name: str
    frame: int
    reason: str
    values: dict[str, float]


@dataclasses.dataclass(frozen=True)
class MissingMoment:
    """No frame qualifies: ``best_frame`` comes closest; ``failing`` lists the conditions it fails."""

    name: str
    rule: str
    best_frame: int | None
    failing: tuple[str, ...]
    values: dict[str, float]

    @property
    def reason(self) -> str:
        if self.best_frame is None:
            return f"no frame with the {self.rule} (the take is empty)"
        return (f"no frame with the {self.rule}; closest is frame {self.best_frame}, which fails: "
                + "; ".join(self.failing))


def _values(take: Take, frame: int, eye: str) -> dict[str, float]:
    sides = ("Left", "Right") if eye == "both" else (eye.capitalize(),)
    return {f"{base}{s}": float(take.channel(base + s)[frame]) for base in REPORTED_CHANNELS for s in sides}


def rule_text(c: Criterion) -> str:
    return f"{c.score_text} where " + " and ".join(x.text for x in c.conditions)


def pick(take: Take, definition: MomentDefinition, params: Mapping[str, Any] | None = None,
         eye: str = "both") -> Moment | MissingMoment:
    """Select ``definition``'s frame of ``take`` (see the module docstring)."""
    full = dict(definition.params)
    full.update(params or {})
    ch = EyeChannels.of(take, eye)
    c = definition.criterion(ch, full)
    holds = np.stack([x.holds for x in c.conditions], axis=1) if c.conditions else np.ones((take.num_frames, 0), bool)
    ok = holds.all(axis=1)
    if ok.any():
        frame = int(np.argmax(np.where(ok, c.score, -np.inf)))  # argmax returns the first maximum
        met = "; ".join(x.text for x in c.conditions)
        reason = f"{c.score_text} {c.score[frame]:.3f}" + (f" where {met}" if met else "")
        return Moment(definition.name, frame, reason, _values(take, frame, eye))
    if take.num_frames == 0:
        return MissingMoment(definition.name, rule_text(c), None, (), {})
    met_count = holds.sum(axis=1)
    closest = met_count == met_count.max()
    frame = int(np.argmax(np.where(closest, c.score, -np.inf)))
    failing = tuple(f"{x.text} (frame {frame}: {float(x.values[frame]):.3f})"
                    for x in c.conditions if not x.holds[frame])
    return MissingMoment(definition.name, rule_text(c), frame, failing, _values(take, frame, eye))

