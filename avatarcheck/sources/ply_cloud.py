"""A user's trained splats from a PLY, on the anchors of a subdivided head (every source with a PLY uses it)."""

from __future__ import annotations

from pathlib import Path

from avatarcheck.errors import InputError
from avatarcheck.head.model import HeadModel
from avatarcheck.splats.cloud import SplatCloud


def find_splat_ply(folder: Path) -> Path | None:
    """The one 3DGS ``.ply`` of a LAM export folder (None when there is none; several is an error)."""
    plys = sorted(p for p in folder.iterdir() if p.suffix.lower() == ".ply" and p.is_file())
    if len(plys) > 1:
        raise InputError(folder, "splats", "one 3DGS .ply in the avatar folder (LAM writes one per avatar)",
                         ", ".join(p.name for p in plys))
    return plys[0] if plys else None


def ply_cloud(ply: Path, head_sub: HeadModel, layout: str = "auto") -> tuple[SplatCloud, str]:
    """A LAM-trained cloud on ``head_sub``'s anchors and how its PLY was read (layout and evidence).

    One splat per subdivided vertex, either PLY layout (``splats/ply.py``: LAM's offset + RGB or the standard
    3DGS one, detected unless ``layout`` forces one); eyeball and lid labels come from the head's vertex sets
    through the subdivision unless the PLY carries them."""
    from avatarcheck.splats.ply import read_ply_layout
    from avatarcheck.splats.trained import splat_labels

    cloud, decision = read_ply_layout(ply, head_sub.v_template, layout=layout)
    if not cloud.labels.any():  # LAM writes no labels: derive them from the head's masks
        cloud = cloud.replace(labels=splat_labels(head_sub))
    how = "given" if decision.forced else "detected"
    return cloud, f"{decision.layout} PLY layout ({how}; {decision.evidence})"
