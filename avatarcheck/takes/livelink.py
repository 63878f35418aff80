"""Live Link Face names and orders (the iPhone app's CSV export and its UDP stream).

Two orders exist and differ only in four places: the CSV export lists ``JawRight,JawLeft`` and
``MouthRight,MouthLeft``, while the network packet (and Apple's ``ARFaceAnchor`` order, our
canonical ``ARKIT_NAMES``) has ``JawLeft,JawRight`` and ``MouthLeft,MouthRight``. The CSV order
below is copied from real take exports of the app (e.g. ``anim/S07-001.csv`` in
github.com/alexdjulin/LiveLinkFace-CSV-Retarget-For-Motionbuilder); the network order is the
``FaceBlendShape`` enum of github.com/JimWest/PyLiveLinkFace, which decodes the app's packets.
Readers still match CSV columns by name; these orders are only used when writing.
"""

from __future__ import annotations

from avatarcheck.arkit import ARKIT_NAMES, arkit_index


def app_name(name: str) -> str:
    """The app's capitalised spelling of a canonical name (``eyeBlinkLeft`` -> ``EyeBlinkLeft``)."""
    return name[0].upper() + name[1:]


def _swapped(names: tuple[str, ...], a: str, b: str) -> tuple[str, ...]:
    out = list(names)
    i, j = out.index(a), out.index(b)
    out[i], out[j] = out[j], out[i]
    return tuple(out)


#: The 52 blendshapes in the UDP packet: Apple's order, capitalised.
NETWORK_BLENDSHAPES: tuple[str, ...] = tuple(app_name(n) for n in ARKIT_NAMES)

#: The 52 blendshape columns of the CSV export, in the app's column order.
CSV_BLENDSHAPES: tuple[str, ...] = _swapped(
    _swapped(NETWORK_BLENDSHAPES, "JawLeft", "JawRight"), "MouthLeft", "MouthRight")

#: Head and eye rotations (radians) after the blendshapes, in both the CSV and the packet.
HEAD_COLUMNS: tuple[str, ...] = ("HeadYaw", "HeadPitch", "HeadRoll")
LEFT_EYE_COLUMNS: tuple[str, ...] = ("LeftEyeYaw", "LeftEyePitch", "LeftEyeRoll")
RIGHT_EYE_COLUMNS: tuple[str, ...] = ("RightEyeYaw", "RightEyePitch", "RightEyeRoll")
ROTATION_COLUMNS: tuple[str, ...] = HEAD_COLUMNS + LEFT_EYE_COLUMNS + RIGHT_EYE_COLUMNS

#: The value count the app writes in ``BlendShapeCount`` and in the packet: 52 + 9.
VALUE_COUNT = len(CSV_BLENDSHAPES) + len(ROTATION_COLUMNS)

#: The exact header line of the app's CSV export.
CSV_HEADER: tuple[str, ...] = ("Timecode", "BlendShapeCount") + CSV_BLENDSHAPES + ROTATION_COLUMNS

#: Canonical index of each CSV blendshape column (CSV position -> ARKIT_NAMES index).
CSV_TO_CANONICAL: tuple[int, ...] = tuple(arkit_index(n) for n in CSV_BLENDSHAPES)
NETWORK_TO_CANONICAL: tuple[int, ...] = tuple(arkit_index(n) for n in NETWORK_BLENDSHAPES)

assert VALUE_COUNT == 61
assert sorted(CSV_TO_CANONICAL) == list(range(52)) and NETWORK_TO_CANONICAL == tuple(range(52))
