"""Which avatars a catalogue holds: ``avatarcheck catalogue PATH...`` expanded.

A PATH is one of:

- a manifest (``*.toml``, ``catalogue/manifest.py``): its avatars, edits and takes;
- a glob (``'avatars/*.zip'``, quoted so the shell leaves it), expanded in sorted order;
- ``synthetic[:flavour]``: an embedded avatar;
- a file: one avatar (any file: a broken zip is still an avatar, and becomes a red row with its error);
- a folder holding ``skin.glb`` or ``offset.ply``: one avatar (an unpacked OAC export);
- any other folder: its ``*.zip`` files and its avatar sub-folders (one level; hidden entries skipped), or,
  when it has none, the folder itself if an avatar source reads it (LAM's infer output, a FLAME folder).

Avatars are de-duplicated by resolved path, in the order given.
"""

from __future__ import annotations

import dataclasses
import glob
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from avatarcheck.catalogue.manifest import is_spec_not_path, read_manifest
from avatarcheck.errors import InputError

AVATAR_MARKERS = ("skin.glb", "offset.ply")
GLOB_CHARS = set("*?[")
EXPECTED = "an avatar zip or folder, a folder of them, a glob, synthetic[:flavour] or a manifest .toml"


@dataclasses.dataclass(frozen=True)
class AvatarRef:
    """``spec``: what the avatar sources read (a path or ``synthetic:...``); ``label``: its name in the summary."""

    spec: str
    label: str


@dataclasses.dataclass(frozen=True)
class Discovered:
    """The avatars of every PATH, and the edits and takes the manifests among them list (in order, once)."""

    avatars: tuple[AvatarRef, ...]
    edits: tuple[str | dict[str, Any], ...] = ()
    takes: tuple[str, ...] = ()
    manifests: tuple[str, ...] = ()     # the manifest files read (errors in their edits name them)


def _is_avatar_folder(path: Path) -> bool:
    """A folder an avatar source reads: its marker files at the top, or recognised by a source."""
    from avatarcheck.sources import detect_source

    if any((path / m).is_file() for m in AVATAR_MARKERS):
        return True
    try:
        detect_source(str(path))
    except InputError:
        return False
    return True


def _folder_avatars(path: Path) -> list[Path]:
    """The avatars of one folder argument (module doc)."""
    if any((path / m).is_file() for m in AVATAR_MARKERS):
        return [path]
    found = []
    for child in sorted(path.iterdir()):
        if child.name.startswith("."):
            continue
        if child.is_file() and child.suffix.lower() == ".zip":
            found.append(child)
        elif child.is_dir() and _is_avatar_folder(child):
            found.append(child)
    if found:
        return found
    if _is_avatar_folder(path):
        return [path]
    raise InputError(path, "catalogue", "a folder holding avatars (*.zip, avatar folders) or one avatar",
                     "none of them")


def _expand(arg: str) -> list[Path | str]:
    """One non-manifest PATH as avatar paths (or one synthetic spec)."""
    if is_spec_not_path(arg):
        return [arg]
    if not os.path.exists(arg) and GLOB_CHARS & set(arg):
        matches = sorted(glob.glob(arg))
        if not matches:
            raise InputError(arg, "catalogue", "a glob matching at least one avatar", "no match")
        return [p for m in matches for p in _expand(m)]
    path = Path(arg)
    if not path.exists():
        raise InputError(arg, "catalogue", EXPECTED, "no such path")
    return _folder_avatars(path) if path.is_dir() else [path]


def _label(path: Path | str) -> str:
    """The path as the user would type it from here (relative when below the working folder)."""
    if isinstance(path, str):
        return path
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path.resolve())


def discover(paths: Sequence[str]) -> Discovered:
    """Every avatar the PATHs name, and the manifests' edits and takes."""
    if not paths:
        raise InputError("catalogue", "PATH", EXPECTED, "nothing")
    found: list[Path | str] = []
    edits: list[str | dict[str, Any]] = []
    takes: list[str] = []
    manifests: list[str] = []
    for arg in paths:
        if arg.lower().endswith(".toml") and os.path.isfile(arg):
            m = read_manifest(arg)
            manifests.append(m.source)
            found += [p for a in m.avatars for p in _expand(a)]
            edits += [e for e in m.edits if e not in edits]
            takes += [t for t in m.takes if t not in takes]
        else:
            found += _expand(arg)
    avatars: dict[str, AvatarRef] = {}
    for p in found:
        key = p if isinstance(p, str) else str(p.resolve())
        avatars.setdefault(key, AvatarRef(p if isinstance(p, str) else str(p), _label(p)))
    return Discovered(tuple(avatars.values()), tuple(edits), tuple(takes), tuple(manifests))
