"""Gate a fixed avatar against the avatar it was baked from: the proof that the file handed over is the fix.

``avatarcheck gate --avatar fixed.zip`` would take the fixed avatar as the *unedited* one and edit it again,
and every check relative to the unedited avatar would compare it with itself. The question a hand-off asks
is the gate's must-pass question: does this avatar, against the input it was made from, pass every check?
``prove`` answers it with the gate's own machinery: one ``GateEvaluation`` of the input (the reference
variant, the cameras, the bars, the leak view: all the input's), where named avatars stand in for the
must-pass variant, each checked with the gate's check items at the take's moments. Given the edit in
memory and the same edit read back from the written file, equal verdicts are the round trip.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import TYPE_CHECKING

from avatarcheck.gate.evaluation import GateEvaluation
from avatarcheck.gate.inputs import GateInputs
from avatarcheck.gate.items import check
from avatarcheck.gate.result import CheckResult
from avatarcheck.gate.spec import CheckItem, GateSpec

if TYPE_CHECKING:
    from avatarcheck.avatar import Avatar


class GivenAvatars(GateEvaluation):
    """A gate evaluation where each name in ``avatars`` is an edit whose variants are that avatar, as given."""

    def __init__(self, spec: GateSpec, inputs: GateInputs, backend: str, avatars: Mapping[str, "Avatar"]) -> None:
        super().__init__(spec, inputs, backend)
        self.avatars = dict(avatars)

    def variant(self, edit: str, variant: str) -> "Avatar":
        if edit in self.avatars:
            return self.avatars[edit]
        return super().variant(edit, variant)


def must_pass_items(spec: GateSpec, name: str) -> list[CheckItem]:
    """The check items of the gate's first must-pass variant, renamed to edit ``name`` (every moment, every
    check, each expected to pass)."""
    variant = (spec.variants_with("must-pass") or [None])[0]
    if variant is None or not spec.edits:
        from avatarcheck.errors import InputError

        raise InputError(spec.source, "variants", "a gate with an edit and a must-pass variant", "none")
    first = spec.edits[0].name
    return [dataclasses.replace(item, edit=name, expected="pass") for item in spec.plan()
            if (item.edit, item.variant) == (first, variant)]


def prove(spec: GateSpec, inputs: GateInputs, backend: str, avatars: Mapping[str, "Avatar"]
          ) -> dict[str, list[CheckResult]]:
    """Each of ``avatars`` (name -> an edited avatar of ``inputs.avatar``'s topology) checked as the gate's
    must-pass variant against ``inputs.avatar`` -> name -> its check results (one evaluation: the reference
    is rendered once)."""
    ev = GivenAvatars(spec, inputs, backend, avatars)
    return {name: [check(ev, item) for item in must_pass_items(spec, name)] for name in avatars}
