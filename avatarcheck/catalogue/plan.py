"""A catalogue as work: items (avatar x edit x take), keyed by content, grouped by avatar.

An item gates one avatar with one edit on one take: the gate restricted to that edit (``item_spec``: its
reference variant, that edit's variants, orderings between that edit's variants only; orderings across
edits are dropped, as the sweep is). Items are grouped by avatar, so a worker reads each avatar once and
gates it for every edit and take.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from avatarcheck.catalogue.discover import Discovered
from avatarcheck.catalogue.keys import avatar_digest, edit_digest, gate_digest, item_key, package_version, take_digest
from avatarcheck.catalogue.rows import error_row
from avatarcheck.errors import InputError
from avatarcheck.gate.spec import EditSpec, GateSpec, parse_edits


@dataclasses.dataclass(frozen=True)
class Settings:
    """How every item is gated; sent to every worker. ``out``: the output folder (absolute; on a cluster, the
    same path on every worker). ``backend``: resolved (``auto`` is decided once, where the run starts, so a
    verdict does not depend on the worker). ``golden_dir``: compare goldens there (None: goldens are not
    compared). ``rerun``: gate every item again, done or not."""

    spec: GateSpec
    out: str
    backend: str
    allow_implausible: bool = False
    ply_layout: str = "auto"
    golden_dir: str | None = None
    rerun: bool = False

    def hashed(self) -> dict[str, Any]:
        """What a verdict depends on besides the gate file (``rerun`` and ``out`` do not change a verdict)."""
        return {"backend": self.backend, "allow_implausible": self.allow_implausible, "ply_layout": self.ply_layout,
                "golden_dir": self.golden_dir, "avatarcheck": package_version()}


@dataclasses.dataclass(frozen=True)
class Item:
    key: str
    avatar: str          # the spec the sources read
    label: str           # the avatar's name in the summary
    edit: EditSpec
    take: str


@dataclasses.dataclass(frozen=True)
class AvatarGroup:
    """One avatar's items: a worker's unit of work (the avatar is read once)."""

    avatar: str
    label: str
    items: tuple[Item, ...]


def item_spec(spec: GateSpec, edit: EditSpec) -> GateSpec:
    """The gate restricted to ``edit``: that edit only, orderings within it, no sweep."""
    names = {f"{edit.name}/{v}" for v in spec.variants}
    orderings = tuple(o for o in spec.orderings if {o.greater, o.lesser} <= names)
    return dataclasses.replace(spec, edits=(edit,), orderings=orderings, sweep=None)


def resolve_edits(spec: GateSpec, selected: Sequence[str | dict[str, Any]], source: str) -> tuple[EditSpec, ...]:
    """The edits to gate: every gate edit when ``selected`` is empty; else each name of a gate edit, or each
    declared table (parsed as a gate file's ``[[edits]]``; a gate edit's name must then mean that edit)."""
    if not selected:
        return spec.edits
    by_name = {e.name: e for e in spec.edits}
    tables = [e for e in selected if isinstance(e, dict)]
    declared = {e.name: e for e in parse_edits(tables, source)} if tables else {}
    out: list[EditSpec] = []
    for e in selected:
        name = e if isinstance(e, str) else e.get("name")
        if isinstance(e, str) and e not in by_name:
            raise InputError(source, "edits", f"names of the gate's edits {sorted(by_name)} or edit tables", repr(e))
        edit = by_name[e] if isinstance(e, str) else declared[name]
        if name in by_name and by_name[name] != edit:
            raise InputError(source, f"edits.{name}", f"the gate's edit {name!r} as the gate declares it (or "
                             "another name)", f"{edit.kind} {edit.params}")
        if edit not in out:
            out.append(edit)
    return tuple(out)


def take_digests(takes: Sequence[str]) -> dict[str, str]:
    """Each take's content digest; a take that cannot be read is an ``InputError`` for the whole run."""
    from avatarcheck.gate.inputs import load_take_source

    return {t: take_digest(load_take_source(t)) for t in takes}


def plan(found: Discovered, settings: Settings, edits: tuple[EditSpec, ...],
         takes: tuple[str, ...]) -> tuple[list[AvatarGroup], list[dict[str, Any]]]:
    """The avatars' groups of items, and a red row per item of an avatar that cannot even be read to hash."""
    gate = gate_digest(settings.spec, settings.hashed())
    take_keys = take_digests(takes)
    edit_keys = {e.name: edit_digest(e) for e in edits}
    groups, unreadable = [], []
    for ref in found.avatars:
        try:
            avatar = avatar_digest(ref.spec)
        except OSError as err:
            unreadable += [error_row(ref.label, ref.spec, e.name, t, f"cannot read the avatar: {err}", "input")
                           for e in edits for t in takes]
            continue
        items = tuple(Item(item_key(avatar, edit_keys[e.name], take_keys[t], gate), ref.spec, ref.label, e, t)
                      for e in edits for t in takes)
        groups.append(AvatarGroup(ref.spec, ref.label, items))
    return groups, unreadable
