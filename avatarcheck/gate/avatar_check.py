"""The gate's first item: is the avatar a plausible trained LAM avatar, before any verdict on it?

Real inputs include broken exports (one public LAM export: offsets median 54 mm, 76 % of sigmas at the
clip; it renders as noise although its mesh is a normal head). Such an avatar is reported as implausible,
with the statistics that say so and a canonical RGB render, and the gate's verdicts are withheld unless the
user asks to gate it anyway (``--allow-implausible`` / ``--gate-allow-implausible``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

CANONICAL_IMAGE = Path("avatar") / "canonical_rgb.png"
CANONICAL_SIZE = 256


def avatar_record(inputs, artefacts, backend: str, allowed: bool) -> dict[str, Any]:
    """Statistics, findings and the canonical RGB render (written into the report) of ``inputs.avatar``."""
    from avatarcheck.render.api import render
    from avatarcheck.splats.plausibility import cloud_statistics, implausible

    avatar = inputs.avatar
    stats = cloud_statistics(avatar.cloud, avatar.head_sub, avatar.topology.edges_sub)
    findings = implausible(stats)
    out = render(avatar.state("rgb", arkit52=np.zeros((1, 52), np.float32)), avatar.camera(size=CANONICAL_SIZE),
                 backend)
    image = artefacts.write(CANONICAL_IMAGE, out.rgb[0])
    return {"implausible": bool(findings), "allowed": allowed, "statistics": stats.as_dict(),
            "findings": [{"statistic": f.statistic, "value": f.value, "expected": f.expected, "message": f.message}
                         for f in findings], "image": image}


def refusal(record: dict[str, Any]) -> str | None:
    """Why verdicts are withheld (``None``: they are not)."""
    if not record.get("implausible") or record.get("allowed"):
        return None
    found = "; ".join(f["message"] for f in record["findings"])
    return (f"the avatar is implausible for a trained LAM avatar ({found}); verdicts withheld "
            "(--allow-implausible gates it anyway)")


def already_edited_note(edited: str) -> str:
    """What a gate with edits means on an avatar ``avatarcheck bake`` wrote (``SourceInfo.edited``: whose edit)."""
    return (f"Already an edit ({edited}). The gate's unedited variant is this avatar as shipped, and its edits "
            "deform it again: their verdicts are about an edit of an edit. To prove a fix, gate the avatar it was "
            "made from, or run `avatarcheck bake --avatar ORIGINAL ... --prove`.")


def edited_warning(source: dict[str, Any] | None, notes: list[str]) -> str | None:
    """``already_edited_note`` when this run gave it (an avatar bake wrote, gated with edits), else None:
    the CLI and the report's Avatar section show it beside the source."""
    if not source or not source.get("edited"):
        return None
    note = already_edited_note(source["edited"])
    return note if note in notes else None
