"""The moment registry: name -> ``MomentDefinition``. A new moment is one module plus one line here.

``pick_moments(take, names, params)`` gives, per name, a ``Moment`` or a ``MissingMoment`` (never an
error for a well-formed take); ``select_moments`` is the strict form that raises for a missing one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from avatarcheck.errors import InputError
from avatarcheck.moments.base import EYES, MissingMoment, Moment, MomentDefinition, pick
from avatarcheck.moments.eye_wide import EYE_WIDE
from avatarcheck.moments.full_blink import FULL_BLINK
from avatarcheck.moments.half_blink_down import HALF_BLINK_DOWN
from avatarcheck.takes.take import Take

MOMENTS: dict[str, MomentDefinition] = {}


def register_moment(definition: MomentDefinition) -> MomentDefinition:
    MOMENTS[definition.name] = definition
    return definition


for _d in (EYE_WIDE, FULL_BLINK, HALF_BLINK_DOWN):
    register_moment(_d)

#: the three-moment gate's moments, in the recipe's order
MOMENT_NAMES: tuple[str, ...] = ("eye_wide", "full_blink", "half_blink_down")


def moment_definition(name: str, source: str = "moments") -> MomentDefinition:
    if name not in MOMENTS:
        raise InputError(source, "moment", f"one of the registered moments {sorted(MOMENTS)}", repr(name))
    return MOMENTS[name]


def pick_moments(take: Take, names: Iterable[str] = MOMENT_NAMES,
                 params: Mapping[str, Mapping[str, Any]] | None = None,
                 eye: str = "both") -> dict[str, Moment | MissingMoment]:
    params = params or {}
    return {n: pick(take, moment_definition(n), params.get(n), eye) for n in names}


def select_moments(take: Take, names: Iterable[str] = MOMENT_NAMES,
                   params: Mapping[str, Mapping[str, Any]] | None = None, eye: str = "both") -> dict[str, Moment]:
    """Like ``pick_moments`` but every moment must exist: else an ``InputError`` naming the take,
    the moment, its rule and the closest frame."""
    out: dict[str, Moment] = {}
    for name, m in pick_moments(take, names, params, eye).items():
        if isinstance(m, MissingMoment):
            raise InputError(take.source, f"moment {name}", f"a frame with the {m.rule}",
                             f"no such frame in {take.num_frames} frames"
                             + (f" (closest: frame {m.best_frame}, failing {'; '.join(m.failing)})"
                                if m.best_frame is not None else ""))
        out[name] = m
    return out


__all__ = ["EYES", "MOMENTS", "MOMENT_NAMES", "MissingMoment", "Moment", "MomentDefinition", "moment_definition",
           "pick_moments", "register_moment", "select_moments"]
