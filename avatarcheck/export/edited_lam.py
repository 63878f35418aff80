"""An edited avatar as LAM's infer output (``avatarcheck bake --format lam``), written as one atomic folder.

LAM's infer output is the shaped subdivided mesh ``<name>_shaped_mesh.obj`` and its ``<name>_gs_offset.ply``
(``export/lam_infer.py``, plus our pickle-free ``flame/head.npz`` for the motion). For an edit: the OBJ holds
the edited subdivided vertices (the recipe's ``LAM_EDIT_XYZ_OBJ``), the PLY the corrected splats, the head
file the edited coarse mesh with the ARKit basis re-evaluated on it, and ``avatarcheck_edit.json`` vouches
for the OBJ (``sources/edit_marker.py``). The format carries the basis on the coarse vertices only, so an
avatar whose morph targets live on the subdivided mesh (an OAC input) is refused: ``--format oac`` keeps them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from avatarcheck.errors import InputError


def _verify(folder: Path, edited, out: Path) -> None:
    """The folder read back by the LAM infer source is ``edited`` (``export/read_back.py``)."""
    from avatarcheck.export.read_back import check_read_back
    from avatarcheck.sources.base import LoadOptions
    from avatarcheck.sources.lam_infer import load

    back = load(str(folder), LoadOptions()).avatar
    check_read_back(back, edited, edited.head_sub.v_template, edited.head_sub.arkit_basis, out)


def write_edited_lam(loaded, edited, out: str | os.PathLike, provenance: dict[str, Any]) -> Path:
    """``edited`` (an ``Avatar``) as LAM's infer output in the folder ``out`` (built aside, then renamed in; an
    existing ``out``, which ``export/fixed_output.py`` allowed, is replaced at the last moment)."""
    from avatarcheck.export.fixed_output import discard, move_aside
    from avatarcheck.export.lam_infer import write_lam_infer
    from avatarcheck.io.atomic import atomic_dir, write_bytes_atomic
    from avatarcheck.sources.base import avatar_name
    from avatarcheck.sources.edit_marker import MARKER, marker_bytes

    out = Path(out)
    if loaded.avatar.basis_on_subdivided:
        raise InputError(loaded.info.spec, "--format lam", "an avatar whose ARKit basis lives on the coarse mesh "
                         "(LAM's infer output carries FLAME's; its OBJ has no morph targets)",
                         f"a {loaded.info.kind} avatar with morph targets on the subdivided mesh: use --format oac")
    name = avatar_name(out)
    aside = None
    try:
        with atomic_dir(out) as tmp:
            write_lam_infer(edited, tmp, name)
            obj = f"{name}_shaped_mesh.obj"
            write_bytes_atomic(tmp / MARKER, marker_bytes(obj, (tmp / obj).read_bytes(), provenance))
            _verify(tmp, edited, out)
            if os.path.lexists(out):
                aside = move_aside(out)
    except BaseException:
        if aside is not None and not os.path.lexists(out):
            os.rename(aside / "old", out)  # the new folder did not land: the old one comes back
        raise
    if aside is not None:
        discard(aside)
    return out
