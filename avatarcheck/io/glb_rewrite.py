"""Rewrite a skin GLB's vertex positions and morph targets, keeping everything else as it was.

An edited avatar ships in the file its runtime already loads (LAM's ``skin.glb``: a Blender export with a
262-joint skeleton, inverse bind matrices, skin weights, a material, names). Rebuilding that file from
arrays would lose whatever the writer does not model, so ``rewrite_skin_glb`` edits the document
instead: the skin mesh's POSITION accessor and its morph targets' POSITION accessors get new data (and
new ``min`` / ``max``); every other JSON value is kept as parsed, and every other bufferView keeps its
bytes. The BIN chunk is re-packed because sparse targets change size: bufferViews keep their indices and
order, each placed at its old offset modulo 4 (so every accessor keeps its alignment), replaced ones at
a multiple of 4. A bufferView shared with something else is never overwritten: the new data gets a new
bufferView at the end (the old one may then go unused, which the glTF validator reports as information).

Morph targets are written as the input wrote them: sparse (indices of the same component type while
they fit, the rows whose bits are not all zero) or dense. A sparse target with a base bufferView
becomes one without (the new deltas are complete). Vertex normals, tangents and morph-target attributes
other than POSITION would go stale with the positions: such a file is refused, naming the attribute.
"""

from __future__ import annotations

import json
import struct
from collections import Counter
from collections.abc import Mapping
from typing import Any

import numpy as np

from avatarcheck.errors import InputError
from avatarcheck.io.glb import (CHUNK_BIN, CHUNK_JSON, COMPONENT_DTYPES, GLB_MAGIC, MAX_GLB_BYTES, UBYTE, UINT,
                                USHORT, read_skin_glb, split_glb)

_ARRAY_BUFFER = 34962
STALE_ATTRIBUTES = ("NORMAL", "TANGENT")  # derived from the positions: wrong after an edit


def _skin_mesh(doc: dict) -> int:
    """The mesh ``read_skin_glb`` reads: the one with morph targets, or the only one (already checked)."""
    meshes = doc["meshes"]
    morphed = [i for i, m in enumerate(meshes) if any(p.get("targets") for p in m["primitives"])]
    return morphed[0] if morphed else 0


def _refuse_stale(prim: dict, source: str, field: str) -> None:
    for name in STALE_ATTRIBUTES:
        if name in prim.get("attributes", {}):
            raise InputError(source, f"{field}.attributes.{name}", "no vertex normals or tangents (an edit would "
                             "leave them stale; LAM's skin.glb has none)", f"a {name} accessor")
    for t, target in enumerate(prim.get("targets") or []):
        extra = sorted(set(target) - {"POSITION"})
        if extra:
            raise InputError(source, f"{field}.targets[{t}]", "POSITION deltas only (others would go stale)",
                             ", ".join(extra))


def _view_uses(node: Any, counts: Counter | None = None) -> Counter:
    """How often each bufferView index is referenced anywhere in the document (extensions included)."""
    counts = Counter() if counts is None else counts
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "bufferView" and isinstance(value, int) and not isinstance(value, bool):
                counts[value] += 1
            else:
                _view_uses(value, counts)
    elif isinstance(node, list):
        for item in node:
            _view_uses(item, counts)
    return counts


def _bounds(acc: dict, values: np.ndarray) -> None:
    """Exact min / max of (N, 3) float32 values (the validator compares them with the data)."""
    acc["min"] = [float(x) for x in values.min(axis=0)]
    acc["max"] = [float(x) for x in values.max(axis=0)]


class _Rewrite:
    """A parsed GLB being rewritten: its JSON (a dict), old BIN bytes and the bufferViews replaced so far."""

    def __init__(self, doc: dict, blob: bytes) -> None:
        self.doc = doc
        self.blob = blob
        self.uses = _view_uses(doc)
        self.new: dict[int, bytes] = {}  # bufferView index -> its new bytes

    def put(self, view: int | None, data: bytes, element: int) -> int:
        """``data`` into bufferView ``view`` when only the accessor being rewritten uses it and it is tightly
        packed; else into a new bufferView (same ``target``) -> the index written."""
        views = self.doc["bufferViews"]
        old = views[view] if view is not None else None
        if old is not None and self.uses[view] == 1 and old.get("byteStride", element) == element:
            old["byteLength"] = len(data)
            self.new[view] = data
            return view
        fresh = {"buffer": 0, "byteLength": len(data)}
        if old is not None and "target" in old:
            fresh["target"] = old["target"]
        views.append(fresh)
        self.new[len(views) - 1] = data
        return len(views) - 1

    def dense(self, ref: int, values: np.ndarray) -> None:
        """accessors[ref] (a VEC3 float accessor) <- values (N, 3), dense."""
        acc = self.doc["accessors"][ref]
        data = np.ascontiguousarray(values, "<f4")
        acc["bufferView"] = self.put(acc.get("bufferView"), data.tobytes(), 12)
        acc.pop("byteOffset", None)
        acc.pop("sparse", None)
        _bounds(acc, data)

    def sparse(self, ref: int, values: np.ndarray) -> None:
        """accessors[ref] <- values (N, 3) as a sparse accessor without a base bufferView."""
        acc = self.doc["accessors"][ref]
        data = np.ascontiguousarray(values, "<f4")
        rows = np.flatnonzero(data.view(np.uint32).any(axis=1))
        rows = rows if rows.size else np.zeros(1, np.int64)  # the spec wants sparse.count >= 1
        old = acc["sparse"]
        component = old["indices"].get("componentType", UINT)
        limit = {UBYTE: 0xFF, USHORT: 0xFFFF}.get(component, 0xFFFFFFFF)
        component = component if rows[-1] <= limit else UINT
        dtype = COMPONENT_DTYPES[component]
        indices = {"bufferView": self.put(old["indices"].get("bufferView"), rows.astype(dtype).tobytes(),
                                          dtype.itemsize), "componentType": component}
        values_view = {"bufferView": self.put(old["values"].get("bufferView"), data[rows].tobytes(), 12)}
        acc["sparse"] = {**{k: v for k, v in old.items() if k not in ("count", "indices", "values")},
                         "count": len(rows), "indices": indices, "values": values_view}
        acc.pop("bufferView", None)
        acc.pop("byteOffset", None)
        _bounds(acc, data)

    def repacked(self) -> bytes:
        """The BIN chunk with every buffer-0 bufferView laid out in order (old offset mod 4 kept)."""
        out = bytearray()
        for i, view in enumerate(self.doc["bufferViews"]):
            if view.get("buffer", 0) != 0:
                continue
            start = view.get("byteOffset", 0)
            data = self.new[i] if i in self.new else self.blob[start:start + view["byteLength"]]
            phase = 0 if i in self.new else start % 4
            out.extend(b"\0" * ((phase - len(out)) % 4))
            view["byteOffset"] = len(out)
            out.extend(data)
        out.extend(b"\0" * (-len(out) % 4))
        self.doc["buffers"][0]["byteLength"] = len(out)
        return bytes(out)


def pack_glb(doc: dict, blob: bytes | None) -> bytes:
    """A GLB container: header, the JSON chunk (space padded), the BIN chunk (zero padded) unless None."""
    js = json.dumps(doc, separators=(",", ":")).encode("utf-8")
    js += b" " * (-len(js) % 4)
    body = struct.pack("<II", len(js), CHUNK_JSON) + js
    if blob is not None:
        blob += b"\0" * (-len(blob) % 4)
        body += struct.pack("<II", len(blob), CHUNK_BIN) + blob
    return struct.pack("<4sII", GLB_MAGIC, 2, 12 + len(body)) + body


def rewrite_skin_glb(data: bytes, source: str, positions: np.ndarray, targets: Mapping[str, np.ndarray]) -> bytes:
    """The skin GLB ``data`` with new rest positions (V, 3) and morph-target deltas {name: (V, 3)}, one for
    each of the file's targets, by its name; everything else kept (module docstring)."""
    mesh = read_skin_glb(data, source)  # every check the rewrite relies on (one triangle primitive, ...)
    v = len(mesh.positions)
    pos = np.asarray(positions, np.float32)
    if pos.shape != (v, 3) or not np.isfinite(pos).all():
        raise InputError(source, "positions", f"finite (V, 3) positions for the file's {v} vertices",
                         f"shape {pos.shape}")
    if set(targets) != set(mesh.target_names):
        raise InputError(source, "morph targets", f"deltas for exactly the file's {len(mesh.target_names)} targets",
                         f"missing {sorted(set(mesh.target_names) - set(targets))[:5]}, "
                         f"extra {sorted(set(targets) - set(mesh.target_names))[:5]}")
    json_bytes, blob = split_glb(data, source, MAX_GLB_BYTES)
    doc = json.loads(json_bytes.decode("utf-8"))
    m = _skin_mesh(doc)
    prim = doc["meshes"][m]["primitives"][0]
    _refuse_stale(prim, source, f"meshes[{m}].primitives[0]")
    rw = _Rewrite(doc, blob or b"")
    rw.dense(prim["attributes"]["POSITION"], pos)
    for target, name in zip(prim.get("targets") or [], mesh.target_names):
        deltas = np.asarray(targets[name], np.float32)
        if deltas.shape != (v, 3) or not np.isfinite(deltas).all():
            raise InputError(source, f"morph target {name!r}", f"finite ({v}, 3) deltas", f"shape {deltas.shape}")
        acc = doc["accessors"][target["POSITION"]]
        (rw.sparse if "sparse" in acc else rw.dense)(target["POSITION"], deltas)
    return pack_glb(doc, rw.repacked())
