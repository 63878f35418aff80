"""One error type for bad input, so every message names the file, the field and what was expected."""

from __future__ import annotations

from os import PathLike


class InputError(ValueError):
    """Bad user input: ``<source>: <field>: expected <expected>, got <got>``.

    ``source`` is a file path or a short description of where the value came from
    (``"HeadModel"``, ``"forward(arkit52=...)"``).
    """

    def __init__(self, source: str | PathLike, field: str, expected: str, got: str) -> None:
        self.source = str(source)
        self.field = field
        self.expected = expected
        self.got = got
        super().__init__(f"{self.source}: {field}: expected {expected}, got {got}")
