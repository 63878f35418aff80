"""What an avatar source is: a reader of one kind of avatar on disk (or built in), chosen by content.

A source is one module defining an ``AvatarSource`` plus one line in ``sources/__init__.py``. Its
``detect(spec)`` looks at what ``--avatar SPEC`` points to (magic bytes, member names, file sets; never the
suffix alone) and returns the evidence when it can read it; ``load`` returns a ``LoadedAvatar``: the
``Avatar`` plus ``SourceInfo``, what the report says about where the avatar came from.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from avatarcheck.avatar import Avatar

PLY_LAYOUT_CHOICES = ("auto", "lam", "3dgs")


def safe_stem(text: str, fallback: str) -> str:
    """``text`` as a path component: lower-case ASCII letters, digits, '-' and '_' (others become '_')."""
    return "".join(c if c.isascii() and (c.isalnum() or c in "-_") else "_" for c in text.lower())[:48] or fallback


def avatar_name(path: str | os.PathLike) -> str:
    """A short, path-safe name for the avatar at ``path`` (its file stem or folder name)."""
    path = Path(path)
    return safe_stem(path.stem if path.suffix else path.name, "avatar")


@dataclasses.dataclass(frozen=True)
class LoadOptions:
    """How to read an avatar. ``ply_layout``: ``auto`` (detected, ``splats/ply.py``) or forced."""

    ply_layout: str = "auto"


@dataclasses.dataclass(frozen=True)
class SourceInfo:
    """Where an avatar came from, for reports: the source kind, the files read, and what a user must know.

    ``calibrated``: the gate's thresholds were calibrated on this kind of splat cloud: the embedded
    stand-in's and trained LAM avatars' (the trained-statistics stand-in, checked on public exports);
    not a cloud broken like ``synthetic:lam-broken``. Reports say when it is not.
    ``edited``: for an avatar ``avatarcheck bake`` wrote (its ``avatarcheck_edit.json`` vouches for the mesh), the
    line naming the edit and correction; empty otherwise. A gate's edits then deform an edit again.
    """

    kind: str
    spec: str
    files: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    calibrated: bool = False
    edited: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "spec": self.spec, "files": list(self.files), "notes": list(self.notes),
                "calibrated": self.calibrated, "edited": self.edited}


@dataclasses.dataclass(frozen=True, eq=False)
class LoadedAvatar:
    name: str               # a short name for paths and titles (safe_stem applied by callers)
    avatar: "Avatar"
    info: SourceInfo


@dataclasses.dataclass(frozen=True)
class AvatarSource:
    """A registered kind of avatar input.

    ``detect(spec)``: the evidence (one line) when this source reads ``spec``, else ``None``; it must be cheap
    and never raise for a path it does not read. ``load(spec, options)``: the avatar, or an ``InputError``
    naming the file, the field and what was expected.
    """

    name: str
    description: str
    detect: Callable[[str], str | None]
    load: Callable[[str, LoadOptions], LoadedAvatar]
