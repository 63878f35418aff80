"""One parser for numbers typed as text: command-line options, ``--param`` values, environment variables.

Python's ``float()`` is too forgiving for user input: it reads ``"1_0"`` as 10, full-width ``"２"`` as 2,
and ``"nan"`` / ``"inf"`` / ``"1e400"`` as non-finite values. A typo must not become a tenfold edit,
so text numbers are plain ASCII decimals (``1``, ``-0.5``, ``.5``, ``2.``, ``1e-3``) and finite.
Gate files (TOML) hand numbers over already typed; they do not come through here.

Every refusal is an ``InputError`` naming where the text came from (``source``: ``--strength``,
``$LAM_CHIBI_SCALE_BOOST``) and the field.
"""

from __future__ import annotations

import math
import re

from avatarcheck.errors import InputError

# [0-9], not \d: \d also matches full-width and other non-ASCII digits.
PLAIN_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
PLAIN_INTEGER = re.compile(r"[+-]?[0-9]+")
NUMBER_TEXT = "a plain decimal number (ASCII digits, e.g. 1.5 or 2e-3; no '_', nan or inf)"


def parse_number(text: str, source: str, field: str, expected: str = NUMBER_TEXT) -> float:
    """``text`` (surrounding whitespace ignored) as a finite float, else an ``InputError``."""
    stripped = text.strip() if isinstance(text, str) else None
    if stripped is None or not PLAIN_NUMBER.fullmatch(stripped):
        raise InputError(source, field, expected, repr(text))
    value = float(stripped)
    if not math.isfinite(value):  # "1e400": plain, but beyond a float
        raise InputError(source, field, f"{expected}, within the float range", repr(text))
    return value


def parse_int(text: str, source: str, field: str, expected: str = "a plain integer (ASCII digits)") -> int:
    """``text`` (surrounding whitespace ignored) as an int, else an ``InputError``."""
    stripped = text.strip() if isinstance(text, str) else None
    if stripped is None or not PLAIN_INTEGER.fullmatch(stripped):
        raise InputError(source, field, expected, repr(text))
    return int(stripped)


def parse_numbers(text: str, source: str, field: str, sep: str = ",") -> list[float]:
    """``"0.5,1, 2"`` -> ``[0.5, 1.0, 2.0]``; an empty list or an empty item (``"1,,2"``) is refused."""
    expected = f"{sep!r}-separated plain decimal numbers (ASCII digits, e.g. 0.5{sep}1{sep}2)"
    if not isinstance(text, str) or not text.strip():
        raise InputError(source, field, expected, repr(text))
    return [parse_number(item, source, field, expected) for item in text.split(sep)]
