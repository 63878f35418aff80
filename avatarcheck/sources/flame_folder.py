"""A FLAME asset folder (``flame2023.pkl``, masks, ARKit basis) or our head ``.npz``, with an optional splat PLY.

The head is the folder's FLAME model pickle, else the one head ``.npz`` in the folder, else the file given.

A folder that also holds one ``.ply`` is a LAM export on the user's FLAME files: its splats (either PLY
layout, ``splats/ply.py``) replace the stand-in cloud. Without one, the stand-in cloud is built on the head.
"""

from __future__ import annotations

from pathlib import Path

from avatarcheck.sources.base import AvatarSource, LoadedAvatar, LoadOptions, SourceInfo, avatar_name


def head_file(path: Path) -> Path | None:
    """What holds the head: the folder (its FLAME pickle), the one ``.npz`` in it, or the file; else None."""
    from avatarcheck.head.loaders import MODEL_PICKLES, sniff_head_file

    if path.is_dir():
        if any((path / n).is_file() for n in MODEL_PICKLES):
            return path
        npz = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() == ".npz")
        return npz[0] if len(npz) == 1 else None
    if path.is_file() and sniff_head_file(path) in ("npz", "pickle"):
        return path
    return None


def detect(spec: str) -> str | None:
    try:
        found = head_file(Path(spec))
    except (OSError, ValueError):
        return None
    if found is None:
        return None
    if found.is_dir():
        return "a folder with a FLAME model pickle"
    return f"the head file {found.name}"


def load(spec: str, options: LoadOptions) -> LoadedAvatar:
    from avatarcheck.avatar import Avatar, build_avatar
    from avatarcheck.sources.ply_cloud import find_splat_ply, ply_cloud
    from avatarcheck.head.loaders import load_head
    from avatarcheck.head.subdivided import subdivide_head

    path = Path(spec)
    head = load_head(head_file(path) or path)
    ply = find_splat_ply(path) if path.is_dir() else None
    if ply is None:
        note = "no splat .ply beside the head: the stand-in cloud (scales from the mesh density) stands in"
        return LoadedAvatar(avatar_name(path), build_avatar(head), SourceInfo("flame", spec, (str(path),), (note,)))
    head_sub, topo = subdivide_head(head)
    cloud, decision = ply_cloud(ply, head_sub, options.ply_layout)
    return LoadedAvatar(avatar_name(path), Avatar(head, head_sub, topo, cloud),
                        SourceInfo("flame", spec, (str(head_file(path)), str(ply)), (f"{ply.name}: {decision}",),
                                   calibrated=True))


FLAME_FOLDER = AvatarSource("flame", "a FLAME asset folder or head .npz (with an optional splat .ply)", detect, load)
