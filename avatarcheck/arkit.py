"""The 52 ARKit blendshape channels, in Apple's canonical order (ARFaceAnchor.BlendShapeLocation).

Every tool spells and orders them differently (Apple camelCase, Live Link Face capitalised,
alphabetical in some exporters), so channels are always matched **by name**, case-insensitively,
and stored inside the package in this one order.
"""

from __future__ import annotations

from collections.abc import Iterable

ARKIT_NAMES: tuple[str, ...] = (
    # left eye
    "eyeBlinkLeft", "eyeLookDownLeft", "eyeLookInLeft", "eyeLookOutLeft", "eyeLookUpLeft",
    "eyeSquintLeft", "eyeWideLeft",
    # right eye
    "eyeBlinkRight", "eyeLookDownRight", "eyeLookInRight", "eyeLookOutRight", "eyeLookUpRight",
    "eyeSquintRight", "eyeWideRight",
    # mouth and jaw
    "jawForward", "jawLeft", "jawRight", "jawOpen",
    "mouthClose", "mouthFunnel", "mouthPucker", "mouthLeft", "mouthRight",
    "mouthSmileLeft", "mouthSmileRight", "mouthFrownLeft", "mouthFrownRight",
    "mouthDimpleLeft", "mouthDimpleRight", "mouthStretchLeft", "mouthStretchRight",
    "mouthRollLower", "mouthRollUpper", "mouthShrugLower", "mouthShrugUpper",
    "mouthPressLeft", "mouthPressRight", "mouthLowerDownLeft", "mouthLowerDownRight",
    "mouthUpperUpLeft", "mouthUpperUpRight",
    # brows, cheeks, nose
    "browDownLeft", "browDownRight", "browInnerUp", "browOuterUpLeft", "browOuterUpRight",
    "cheekPuff", "cheekSquintLeft", "cheekSquintRight", "noseSneerLeft", "noseSneerRight",
    # tongue
    "tongueOut",
)
NUM_ARKIT = len(ARKIT_NAMES)
assert NUM_ARKIT == 52

_INDEX_BY_LOWER = {name.lower(): i for i, name in enumerate(ARKIT_NAMES)}


def arkit_index(name: str) -> int:
    """Canonical index of an ARKit channel name, any capitalisation (``EyeBlinkLeft`` -> 0)."""
    try:
        return _INDEX_BY_LOWER[name.strip().lower()]
    except KeyError:
        raise KeyError(f"not an ARKit-52 channel name: {name!r}") from None


def arkit_indices(names: Iterable[str]) -> list[int]:
    """Canonical indices for a sequence of names (for reordering columns read by name)."""
    return [arkit_index(n) for n in names]


def is_arkit_name(name: str) -> bool:
    return name.strip().lower() in _INDEX_BY_LOWER
