"""The note an edited avatar carries beside its mesh (``avatarcheck_edit.json``), and how readers trust it.

LAM's meshes are once-subdivided FLAME: every vertex past the coarse ones is its edge's midpoint, and
the OAC and LAM infer readers check that exactly (within 10 um; ``head.subdivide``), which catches a mesh
of another layout. An edit is a field evaluated on every subdivided vertex, so it moves a midpoint off
its edge's new midpoint (the pear at strength 2: up to 5 mm on the trained stand-in, 1.8 mm on a public
export), and LAM's renderer uses the file's positions as they are. ``avatarcheck bake --format oac|lam``
therefore writes this note beside the mesh: the edit and correction it applied, and the mesh file's
SHA-256. A reader that finds a note naming *this* mesh's bytes still checks the faces exactly and uses
the positions as written; without one, or for a mesh changed since, the midpoint check stands.

The OAC note also carries the input avatar's named vertex sets (eyeballs, lids, eye regions, face, neck:
coarse indices). The OAC reader derives them from the geometry with thresholds set on unedited heads (an
eye region is what lies within two eyeball radii of the eye); on the edited geometry they would come out
differently (the pear's eye regions lose their rim, its lids gain vertices the re-evaluated blink moves
past 1 mm), and every gate camera and region with them. An edit keeps the topology, so it keeps them:
the reader takes them from the note, and the written avatar is gated on the regions the edit was.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

import numpy as np

from avatarcheck.errors import InputError

MARKER = "avatarcheck_edit.json"
FORMAT = "avatarcheck-edit/1"
MAX_MARKER_BYTES = 4 << 20


def marker_bytes(mesh_name: str, mesh: bytes, provenance: dict[str, Any],
                 vertex_sets: Mapping[str, np.ndarray] | None = None) -> bytes:
    """The note for the mesh file ``mesh_name`` holding ``mesh``; ``provenance``: what the bake did (JSON);
    ``vertex_sets``: name -> coarse vertex indices (K,) to carry (module docstring)."""
    note = {"format": FORMAT, "mesh": mesh_name, "mesh_sha256": hashlib.sha256(mesh).hexdigest(), **provenance}
    text = json.dumps(note, indent=2, default=str)
    if vertex_sets:  # one line per set: the note stays readable above them
        rows = ",\n".join(f"    {json.dumps(k)}: {json.dumps(np.asarray(v).tolist())}" for k, v in vertex_sets.items())
        text = text[:-2] + ',\n  "vertex_sets": {\n' + rows + "\n  }\n}"
    return (text + "\n").encode("utf-8")


def carried_vertex_sets(note: dict[str, Any] | None, names: tuple[str, ...], n: int, source: str
                        ) -> dict[str, np.ndarray] | None:
    """The note's vertex sets (each of ``names``: unique coarse indices in [0, n)), or None when it has none."""
    if note is None or "vertex_sets" not in note:
        return None
    raw = note["vertex_sets"]
    field = f"{MARKER}.vertex_sets"
    if not isinstance(raw, dict) or set(raw) < set(names):
        raise InputError(source, field, f"a set for each of {', '.join(names)}",
                         repr(sorted(raw) if isinstance(raw, dict) else raw)[:120])
    out = {}
    for name, ids in raw.items():
        ok = isinstance(ids, list) and all(isinstance(i, int) and not isinstance(i, bool) and 0 <= i < n
                                           for i in ids)
        if not ok or len(set(ids)) != len(ids):
            raise InputError(source, f"{field}.{name}", f"unique vertex indices in [0, {n})", repr(ids)[:80])
        out[str(name)] = np.asarray(ids, np.int64)
    return out


def vouched_edit(raw: bytes | None, mesh_name: str, mesh: bytes, source: str) -> dict[str, Any] | None:
    """The note's content when ``raw`` (the note's bytes, or None) vouches for ``mesh``; None without a note.

    A note that is not ours, or that names other bytes (the mesh changed after the bake), is an
    ``InputError`` naming ``source``: silently falling back to the midpoint check would hide why."""
    if raw is None:
        return None
    if len(raw) > MAX_MARKER_BYTES:
        raise InputError(source, MARKER, f"at most {MAX_MARKER_BYTES} bytes", f"{len(raw)} bytes")
    try:
        note = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as err:
        raise InputError(source, MARKER, "a JSON object", f"{type(err).__name__}: {err}"[:120]) from None
    if not isinstance(note, dict) or note.get("format") != FORMAT or note.get("mesh") != mesh_name:
        raise InputError(source, MARKER, f"format {FORMAT!r} naming {mesh_name!r}",
                         repr({k: note.get(k) for k in ("format", "mesh")} if isinstance(note, dict) else note)[:120])
    digest = hashlib.sha256(mesh).hexdigest()
    if note.get("mesh_sha256") != digest:
        raise InputError(source, f"{MARKER}.mesh_sha256", f"the SHA-256 of {mesh_name} as the bake wrote it "
                         f"({digest[:12]}...)", f"{str(note.get('mesh_sha256'))[:12]}...: {mesh_name} changed "
                         "after the bake (remove the note to check it as an unedited LAM mesh)")
    return note


def describe(note: dict[str, Any]) -> str:
    """One line for a report: which edit and correction produced the mesh."""
    edit = note.get("edit") if isinstance(note.get("edit"), dict) else {}
    params = ", ".join(f"{k} {v}" for k, v in (edit.get("params") or {}).items())
    return (f"edited by avatarcheck bake ({MARKER}): {edit.get('name', '?')} ({edit.get('kind', '?')}"
            f"{': ' + params if params else ''}), correction {note.get('correction', '?')}")
