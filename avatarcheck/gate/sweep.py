"""Safe-strength sweep: how strong can an edit get before a correction stops closing the lids?

For each strength of an edit and each correction (a set of override assets), the gate's checks are
evaluated at the take's moments (expected outcome "pass" everywhere: a sweep asks where a fix holds,
not where the artefact shows). The answer per correction is the largest strength of the longest
prefix of the sweep that passes every check: the recipe's "ships up to about 2.0", as a number for
this avatar.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

import numpy as np

from avatarcheck.errors import InputError
from avatarcheck.gate.evaluation import GateEvaluation
from avatarcheck.gate.inputs import GateInputs
from avatarcheck.gate.metrics import worst_eye
from avatarcheck.gate.spec import EditSpec, GateSpec, VariantSpec

# correction name -> (override gate names, number overrides): the recipe's fixes and ours.
CORRECTIONS: dict[str, tuple[tuple[str, ...], dict[str, float]]] = {
    "none": (("xyz", "arkit_bs"), {}),
    "boost": (("xyz", "arkit_bs", "scale_boost"), {"scale_boost": 1.5}),
    "ratio": (("xyz", "arkit_bs", "scale_ratio"), {}),
    "jacobian": (("xyz", "arkit_bs", "jacobians"), {}),
    "ratio+lash_ring": (("xyz", "arkit_bs", "scale_ratio", "lash_ring_boost"), {"lash_ring_boost": 1.3}),
}


@dataclasses.dataclass(frozen=True)
class SweepResult:
    kind: str
    params: dict
    strengths: list[float]
    corrections: list[str]
    passed: dict[str, list[bool]]            # correction -> per strength
    worst: dict[str, list[str]]              # correction -> per strength: the first failing check, or ""
    leak_max: dict[str, list[float]]         # correction -> per strength: worst leak max over the moments
    safe: dict[str, float | None]            # correction -> largest safe strength (None: fails at the first)


def largest_safe(strengths: Sequence[float], passed: Sequence[bool]) -> float | None:
    """The last strength of the leading run of passes (strengths ascending); None if the first fails."""
    safe = None
    for s, ok in zip(strengths, passed):
        if not ok:
            break
        safe = s
    return safe


def sweep(spec: GateSpec, inputs: GateInputs, kind: str, params: Mapping, strengths: Sequence[float],
          corrections: Sequence[str] = tuple(CORRECTIONS), backend: str = "cpu") -> SweepResult:
    """Evaluate every (strength, correction) at the take's present moments with the gate's checks."""
    strengths = sorted(float(s) for s in strengths)
    edits = tuple(EditSpec(f"s{i}", kind, {**params, "strength": s}) for i, s in enumerate(strengths))
    variants = {c: VariantSpec(c, "must-pass", *CORRECTIONS[c], "") for c in corrections}
    ev = GateEvaluation(dataclasses.replace(spec, edits=edits, variants=variants), inputs, backend)
    passed: dict[str, list[bool]] = {c: [] for c in corrections}
    worst: dict[str, list[str]] = {c: [] for c in corrections}
    leak: dict[str, list[float]] = {c: [] for c in corrections}
    for e in edits:
        for c in corrections:
            try:
                frames = ev.moment_evals(e.name, c)
            except InputError as err:  # e.g. a pull-back past the plausibility bound: not a usable fix
                passed[c].append(False)
                worst[c].append(f"refused ({err.field}: {err.got})")
                leak[c].append(np.nan)
                continue
            failing = [f"{m}/{chk.name}" for m, fe in frames.items() for chk in spec.checks
                       if m in chk.moments and not chk.passes(worst_eye(fe.metrics, chk.stat)[1])]
            passed[c].append(not failing)
            worst[c].append(failing[0] if failing else "")
            leak[c].append(max((worst_eye(fe.metrics, "leak_max")[1] for fe in frames.values()), default=np.nan))
    return SweepResult(kind, dict(params), strengths, list(corrections), passed, worst, leak,
                       {c: largest_safe(strengths, passed[c]) for c in corrections})
