"""The edit registry: kind name -> ``EditKind``. A new edit is one module plus one line here."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from avatarcheck.edit.anime_eyes import ANIME_EYES
from avatarcheck.edit.base import bake
from avatarcheck.edit.interface import EditAssets, EditKind, checked_params
from avatarcheck.edit.chibi import CHIBI
from avatarcheck.edit.mesh_edit import MESH
from avatarcheck.errors import InputError

if TYPE_CHECKING:
    from avatarcheck.avatar import Avatar

EDITS: dict[str, EditKind] = {}


def register_edit(kind: EditKind) -> EditKind:
    if not kind.name.isidentifier():
        raise InputError("register_edit", "name", "an identifier (it prefixes the asset file names)", repr(kind.name))
    EDITS[kind.name] = kind
    return kind


def edit_kind(name: str, source: str = "edit", where: str = "kind") -> EditKind:
    if name not in EDITS:
        raise InputError(source, where, f"one of the registered edits {sorted(EDITS)}", repr(name))
    return EDITS[name]


def bake_edit(avatar: "Avatar", kind: str, params: Mapping[str, Any], name: str | None = None,
              source: str = "edit", rigid_eyes: bool = True) -> EditAssets:
    """Check ``params`` against the kind, bind its deformation to ``avatar`` and bake (in memory;
    eyeballs kept rigid unless ``rigid_eyes=False``)."""
    k = edit_kind(kind, source)
    full = checked_params(k, params, source, name or kind)
    return bake(avatar, k.make(avatar, full, source), name or kind, kind, full, rigid_eyes)


register_edit(CHIBI)
register_edit(ANIME_EYES)
register_edit(MESH)
