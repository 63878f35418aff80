"""Avatar sources: one registry, chosen by content from ``--avatar SPEC``.

==============  ==================================================================================
source          reads
==============  ==================================================================================
``embedded``    ``synthetic`` (no ``--avatar``) or ``synthetic:<flavour>``: the built-in avatars
``oac``         LAM's OpenAvatarChat export: a zip (or its unpacked folder) with ``skin.glb`` and
                ``offset.ply`` (``vertex_order.json``, ``animation.glb`` optional)
``lam-infer``   LAM's infer output: a folder with the shaped subdivided mesh ``.obj``, its
                ``*_gs_offset.ply`` and FLAME assets for the motion (pickles or a head ``.npz``)
``flame``       a FLAME asset folder or head ``.npz``, with an optional splat ``.ply`` beside it
==============  ==================================================================================

Detection tries the sources in this order and takes the first that recognises the input; each names
its evidence, and the report names the source and its files. A new source is one module defining an
``AvatarSource`` plus one line here.
"""

from __future__ import annotations

import dataclasses
import os
from typing import TYPE_CHECKING

from avatarcheck.errors import InputError
from avatarcheck.sources.base import AvatarSource, LoadedAvatar, LoadOptions, SourceInfo
from avatarcheck.sources.embedded import EMBEDDED
from avatarcheck.sources.flame_folder import FLAME_FOLDER
from avatarcheck.sources.lam_infer import LAM_INFER
from avatarcheck.sources.oac import OAC

if TYPE_CHECKING:
    from avatarcheck.avatar import Avatar

SOURCES: dict[str, AvatarSource] = {}


def register_source(source: AvatarSource) -> AvatarSource:
    SOURCES[source.name] = source
    return source


def source_names() -> list[str]:
    return list(SOURCES)


def detect_source(spec: str | os.PathLike | None) -> tuple[AvatarSource, str]:
    """The first registered source that reads ``spec`` and its evidence (``None``: the embedded avatar)."""
    text = "synthetic" if spec is None else os.fspath(spec)
    for source in SOURCES.values():
        evidence = source.detect(text)
        if evidence is not None:
            return source, evidence
    if not os.path.exists(text):
        raise InputError(text, "--avatar", "an existing avatar file or folder, or synthetic[:FLAVOUR]", "no such path")
    raise InputError(text, "--avatar", "an avatar: " + "; ".join(f"{s.name}: {s.description}" for s in
                                                                    SOURCES.values()), "none of these")


def load_avatar_source(spec: str | os.PathLike | None, options: LoadOptions = LoadOptions()) -> LoadedAvatar:
    """Read the avatar ``spec`` names (``None``: the embedded one) through the source that recognises it."""
    source, evidence = detect_source(spec)
    loaded = source.load("synthetic" if spec is None else os.fspath(spec), options)
    notes = (f"read as {source.name}: {evidence}",) + loaded.info.notes
    return LoadedAvatar(loaded.name, loaded.avatar, dataclasses.replace(loaded.info, notes=notes))


def load_avatar(spec: str | os.PathLike | None, ply_layout: str = "auto") -> "Avatar":
    """Just the avatar ``spec`` names (``load_avatar_source`` also says where it came from)."""
    return load_avatar_source(spec, LoadOptions(ply_layout=ply_layout)).avatar


register_source(EMBEDDED)
register_source(OAC)
register_source(LAM_INFER)
register_source(FLAME_FOLDER)

__all__ = ["AvatarSource", "LoadOptions", "LoadedAvatar", "SourceInfo", "SOURCES", "detect_source",
           "load_avatar", "load_avatar_source", "register_source", "source_names"]
