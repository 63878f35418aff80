"""Binary glTF 2.0 (``.glb``) skin meshes: bounded reading and exact writing.

LAM's OpenAvatarChat export holds ``skin.glb``, written by Blender's glTF exporter: one mesh with
one triangle primitive (POSITION, indices, JOINTS_0 / WEIGHTS_0) and 51 ARKit morph targets
(POSITION deltas, usually *sparse* accessors with no base bufferView) named in the mesh's
``extras.targetNames``. ``read_skin_glb`` turns such a file into a ``SkinMesh`` of dense numpy
arrays; ``write_skin_glb`` writes one back (a valid glTF 2.0 GLB, exact round trip), skinned to a
``Skeleton`` (an armature node over a joint hierarchy with inverse bind matrices, as Blender writes
LAM's). ``io/glb_rewrite.py`` edits an existing file's positions and targets instead, keeping the rest.

pygltflib provides the JSON document model; everything it would trust is checked here first:

* the GLB container is parsed by hand (magic, version, lengths, chunk types, 4-byte alignment)
  before pygltflib sees the JSON, so a chunk that claims gigabytes allocates nothing;
* every accessor is decoded with numpy from the BIN chunk only (no external or ``data:`` URIs),
  after checking that ``byteOffset + stride * (count - 1) + element`` fits its bufferView and the
  bufferView fits the BIN chunk;
* an accessor without a bufferView (a sparse target's all-zero base) holds no bytes, so its
  count is checked against what the caller expects (the vertex count) before zeros are made;
* vertex and target counts, index ranges, finiteness and magnitudes are checked.

Every violation is an ``InputError`` naming the glTF field (``accessors[7].count``).
"""

from __future__ import annotations

import dataclasses
import json
import os
import struct
from collections.abc import Sequence
from typing import Any, NoReturn

import numpy as np
import pygltflib

from avatarcheck.errors import InputError

MAX_GLB_BYTES = 256 << 20  # LAM's skin.glb is about 5 MB
MAX_JSON_BYTES = 32 << 20  # parsed JSON costs ~10x its size in Python objects
MAX_VERTICES = 1_000_000
MAX_TRIANGLES = 4 * MAX_VERTICES
MAX_TARGETS = 1024
MAX_TARGET_BYTES = 1 << 30  # dense (T, V, 3) float32 deltas: sparse targets hold far fewer bytes
MAX_ABS = 1e4  # metres: larger positions or deltas are garbage, not a head

GLB_MAGIC = b"glTF"
CHUNK_JSON = 0x4E4F534A
CHUNK_BIN = 0x004E4942
_HEADER = struct.Struct("<4sII")  # magic, version, total length
_CHUNK_HEADER = struct.Struct("<II")  # chunk length, chunk type

FLOAT, UBYTE, USHORT, UINT = 5126, 5121, 5123, 5125
COMPONENT_DTYPES: dict[int, np.dtype] = {
    5120: np.dtype("<i1"), UBYTE: np.dtype("<u1"), 5122: np.dtype("<i2"),
    USHORT: np.dtype("<u2"), UINT: np.dtype("<u4"), FLOAT: np.dtype("<f4"),
}
TYPE_WIDTHS = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4, "MAT4": 16}
_NORMALIZED_DIVISOR = {5120: 127.0, UBYTE: 255.0, 5122: 32767.0, USHORT: 65535.0}
_ARRAY_BUFFER, _ELEMENT_ARRAY_BUFFER = 34962, 34963
TRIANGLES = 4


@dataclasses.dataclass(frozen=True)
class _Kind:
    """What one attribute may be: accessor types, component types, normalized integers wanted."""

    types: tuple[str, ...]
    components: tuple[int, ...]
    normalized_ints: bool = False  # integer components must be normalized; decoded to float32


_POSITION = _Kind(("VEC3",), (FLOAT,))
_INDICES = _Kind(("SCALAR",), (UBYTE, USHORT, UINT))
_JOINTS = _Kind(("VEC4",), (UBYTE, USHORT))
_WEIGHTS = _Kind(("VEC4",), (FLOAT, UBYTE, USHORT), normalized_ints=True)
_SPARSE_INDEX_COMPONENTS = (UBYTE, USHORT, UINT)


@dataclasses.dataclass(frozen=True, eq=False)
class SkinMesh:
    """One skinned, morphable triangle mesh (rest pose, mesh space). Arrays are coerced on creation.

    positions (V, 3) float32; triangles (F, 3) int64; target_deltas (T, V, 3) float32 with
    ``target_names`` (T,); joints (V, 4) int64 and weights (V, 4) float32, or both None.
    """

    positions: np.ndarray
    triangles: np.ndarray
    target_names: tuple[str, ...]
    target_deltas: np.ndarray
    joints: np.ndarray | None
    weights: np.ndarray | None
    source: str = "skin.glb"

    def __post_init__(self) -> None:
        coerce = {"positions": np.float32, "triangles": np.int64, "target_deltas": np.float32,
                  "joints": np.int64, "weights": np.float32}
        for name, dtype in coerce.items():
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, np.ascontiguousarray(value, dtype))
        object.__setattr__(self, "target_names", tuple(self.target_names))
        v = len(self.positions)
        shapes = {"positions": (v, 3), "triangles": (len(self.triangles), 3),
                  "target_deltas": (len(self.target_names), v, 3)}
        if self.joints is not None or self.weights is not None:
            shapes |= {"joints": (v, 4), "weights": (v, 4)}
        for name, shape in shapes.items():
            got = getattr(self, name)
            if got is None or got.shape != shape:
                raise InputError(self.source, f"SkinMesh.{name}", f"shape {shape}",
                                 "None" if got is None else f"shape {got.shape}")


# ---------------------------------------------------------------------------------------------
# GLB container


def split_glb(data: bytes, source: str, max_bytes: int) -> tuple[bytes, bytes | None]:
    """A GLB file -> (JSON chunk bytes, BIN chunk bytes or None), every length checked first."""
    size = len(data)
    if size > max_bytes:
        raise InputError(source, "file size", f"a .glb of at most {max_bytes} bytes", f"{size} bytes")
    if size < _HEADER.size:
        raise InputError(source, "header", f"a {_HEADER.size}-byte GLB header", f"{size} bytes (truncated)")
    magic, version, length = _HEADER.unpack_from(data)
    if magic != GLB_MAGIC:
        raise InputError(source, "magic", f"{GLB_MAGIC!r} (binary glTF)", repr(magic))
    if version != 2:
        raise InputError(source, "version", "2 (glTF 2.0)", str(version))
    if length != size:
        raise InputError(source, "header length", f"the file's size, {size} bytes",
                         f"{length} bytes ({'truncated' if length > size else 'trailing data'})")
    chunks: list[tuple[int, bytes]] = []
    offset = _HEADER.size
    while offset < size:
        field = f"chunks[{len(chunks)}]"
        if size - offset < _CHUNK_HEADER.size:
            raise InputError(source, field, "an 8-byte chunk header", f"{size - offset} bytes (truncated)")
        chunk_length, chunk_type = _CHUNK_HEADER.unpack_from(data, offset)
        offset += _CHUNK_HEADER.size
        if chunk_length > size - offset:  # checked before slicing: a huge claim allocates nothing
            raise InputError(source, f"{field}.chunkLength", f"at most the {size - offset} bytes left",
                             f"{chunk_length} bytes (truncated)")
        if chunk_length % 4:
            raise InputError(source, f"{field}.chunkLength", "a multiple of 4 (GLB chunks are aligned)",
                             str(chunk_length))
        chunks.append((chunk_type, data[offset:offset + chunk_length]))
        offset += chunk_length
    if not chunks or chunks[0][0] != CHUNK_JSON:
        raise InputError(source, "chunks[0].chunkType", f"JSON ({CHUNK_JSON:#010x})",
                         f"{chunks[0][0]:#010x}" if chunks else "no chunks")
    if len(chunks[0][1]) > MAX_JSON_BYTES:
        raise InputError(source, "chunks[0].chunkLength", f"a JSON chunk of at most {MAX_JSON_BYTES} bytes",
                         f"{len(chunks[0][1])} bytes")
    # later chunk types are ignored (the spec reserves them for extensions), but the two known
    # types may appear only in their places
    for i, (chunk_type, _) in enumerate(chunks[1:], 1):
        if chunk_type == CHUNK_JSON or (chunk_type == CHUNK_BIN and i != 1):
            raise InputError(source, f"chunks[{i}].chunkType", "one JSON chunk, then at most one BIN chunk",
                             f"{chunk_type:#010x}")
    has_bin = len(chunks) > 1 and chunks[1][0] == CHUNK_BIN
    return chunks[0][1], (chunks[1][1] if has_bin else None)


# pygltflib keeps whatever the JSON holds where it expects a list of objects (null, numbers):
# these lists are checked so that readers can rely on them
_OBJECT_LISTS = {"accessors": pygltflib.Accessor, "animations": pygltflib.Animation,
                 "bufferViews": pygltflib.BufferView, "buffers": pygltflib.Buffer, "meshes": pygltflib.Mesh,
                 "nodes": pygltflib.Node, "scenes": pygltflib.Scene, "skins": pygltflib.Skin}


def _check_object_list(items: Any, cls: type, field: str, source: str) -> None:
    if not isinstance(items, list) or not all(isinstance(item, cls) for item in items):
        raise InputError(source, field, "a list of objects", repr(items)[:80])


def _check_object_lists(doc: pygltflib.GLTF2, source: str) -> None:
    for name, cls in _OBJECT_LISTS.items():
        _check_object_list(getattr(doc, name), cls, name, source)
    for i, mesh in enumerate(doc.meshes):
        _check_object_list(mesh.primitives, pygltflib.Primitive, f"meshes[{i}].primitives", source)


def _refuse_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not JSON")  # Python's json accepts NaN / Infinity; glTF's does not


def read_glb_document(data: bytes, source: str | os.PathLike,
                      max_bytes: int = MAX_GLB_BYTES) -> tuple[pygltflib.GLTF2, bytes]:
    """GLB bytes -> (pygltflib document, BIN chunk; ``b""`` when absent), container checked by hand.

    Only the container and the JSON's shape are checked here; accessors are checked when read.
    """
    source = str(source)
    json_bytes, blob = split_glb(data, source, max_bytes)
    try:
        text = json_bytes.decode("utf-8")
        if not isinstance(json.loads(text, parse_constant=_refuse_constant), dict):
            raise ValueError("the top level is not an object")
        doc = pygltflib.GLTF2.from_json(text, infer_missing=True)
    except (ValueError, TypeError, KeyError, AttributeError, OverflowError, RecursionError) as err:
        raise InputError(source, "JSON chunk", "a glTF 2.0 JSON document",
                         f"{type(err).__name__}: {err}"[:200]) from None
    _check_object_lists(doc, source)
    version = getattr(doc.asset, "version", None)
    if not isinstance(version, str) or not version.startswith("2."):
        raise InputError(source, "asset.version", "2.x", repr(version)[:40])
    doc.set_binary_blob(blob)
    return doc, blob if blob is not None else b""


# ---------------------------------------------------------------------------------------------
# Accessors


@dataclasses.dataclass(frozen=True)
class _Doc:
    """A parsed GLB: the document, its BIN chunk, and the name used in errors."""

    gltf: pygltflib.GLTF2
    blob: bytes | None
    source: str

    def fail(self, field: str, expected: str, got: Any) -> NoReturn:
        raise InputError(self.source, field, expected, str(got)[:200])

    def int_in(self, value: Any, lo: int, hi: int, field: str, expected: str | None = None) -> int:
        """``value`` as an int in [lo, hi] (JSON may hold anything)."""
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            self.fail(field, expected or f"an integer in [{lo}, {hi}]", repr(value))
        return value

    def index(self, value: Any, items: Sequence[Any], field: str, what: str) -> int:
        expected = f"an index into {what} (0..{len(items) - 1})" if items else f"an index, but there are no {what}"
        return self.int_in(value, 0, len(items) - 1, field, expected)


def _bin_length(d: _Doc) -> int:
    """Usable bytes of buffer 0, which must be the GLB's own BIN chunk."""
    buffers = d.gltf.buffers
    if not buffers:
        d.fail("buffers", "buffer 0 (the GLB's BIN chunk)", "no buffers")
    uri = buffers[0].uri
    if uri is not None:  # external files or data: URIs are not read: a GLB carries its own data
        d.fail("buffers[0].uri", "no uri (data in the GLB's BIN chunk)",
               repr(uri[:40] if isinstance(uri, str) else uri))
    if d.blob is None:
        d.fail("BIN chunk", "a BIN chunk holding buffer 0", "none")
    return d.int_in(buffers[0].byteLength, 0, len(d.blob), "buffers[0].byteLength",
                    f"at most the BIN chunk's {len(d.blob)} bytes")


def _buffer_view(d: _Doc, ref: Any, ref_field: str) -> tuple[int, int, int | None, int]:
    """bufferViews[ref] -> (start in the BIN chunk, byte length, byteStride or None, index)."""
    i = d.index(ref, d.gltf.bufferViews, ref_field, "bufferViews")
    view, field = d.gltf.bufferViews[i], f"bufferViews[{i}]"
    d.int_in(view.buffer, 0, 0, f"{field}.buffer", "0 (the GLB's BIN chunk)")
    total = _bin_length(d)
    start = d.int_in(view.byteOffset or 0, 0, total, f"{field}.byteOffset", f"an offset within buffer 0 ({total} bytes)")
    length = d.int_in(view.byteLength, 1, total - start, f"{field}.byteLength",
                      f"1 to {total - start} bytes (buffer 0 holds {total} from byteOffset {start})")
    stride = None if view.byteStride is None else d.int_in(view.byteStride, 4, 252, f"{field}.byteStride")
    if stride is not None and stride % 4:
        d.fail(f"{field}.byteStride", "a multiple of 4", stride)
    return start, length, stride, i


def _view_elements(d: _Doc, ref: Any, byte_offset: Any, dtype: np.dtype, count: int, width: int,
                   field: str, count_field: str, strided: bool) -> np.ndarray:
    """(count, width) copy of elements read from bufferViews[ref] at ``byte_offset``.

    ``strided``: honour the view's byteStride (vertex attributes); sparse data is tightly packed.
    """
    start, length, stride, i = _buffer_view(d, ref, f"{field}.bufferView")
    element = dtype.itemsize * width
    step = (stride if strided and stride is not None else element)
    if step < element:
        d.fail(f"bufferViews[{i}].byteStride", f"at least the {element}-byte element", step)
    offset = d.int_in(byte_offset or 0, 0, max(length - element, -1), f"{field}.byteOffset",
                      f"an offset leaving room for one {element}-byte element in bufferViews[{i}] ({length} bytes)")
    needed = offset + step * (count - 1) + element
    if needed > length:
        d.fail(count_field, f"{count} elements of {element} bytes every {step} from byte {offset} "
                            f"within bufferViews[{i}] ({length} bytes)", f"{needed} bytes needed")
    view = np.ndarray((count, width), dtype, buffer=d.blob, offset=start + offset, strides=(step, dtype.itemsize))
    return view.copy()


def _apply_sparse(d: _Doc, sparse: Any, out: np.ndarray, field: str) -> None:
    """Write a sparse accessor's values into ``out`` (count, width) at its indices."""
    n = d.int_in(getattr(sparse, "count", None), 1, len(out), f"{field}.count")
    indices, values = getattr(sparse, "indices", None), getattr(sparse, "values", None)
    if indices is None or values is None:
        d.fail(field, "sparse indices and values", "a sparse object without them")
    component = getattr(indices, "componentType", None)
    if component not in _SPARSE_INDEX_COMPONENTS:
        d.fail(f"{field}.indices.componentType", f"one of {_SPARSE_INDEX_COMPONENTS}", repr(component))
    rows = _view_elements(d, getattr(indices, "bufferView", None), getattr(indices, "byteOffset", 0),
                          COMPONENT_DTYPES[component], n, 1, f"{field}.indices", f"{field}.count",
                          strided=False)[:, 0].astype(np.int64)
    if (bad := np.flatnonzero(np.diff(rows) <= 0)).size:
        k = int(bad[0]) + 1
        d.fail(f"{field}.indices", "strictly increasing indices", f"{rows[k]} after {rows[k - 1]} at entry {k}")
    if rows[-1] >= len(out):
        d.fail(f"{field}.indices", f"indices below the accessor's count {len(out)}", int(rows[-1]))
    out[rows] = _view_elements(d, getattr(values, "bufferView", None), getattr(values, "byteOffset", 0),
                               out.dtype, n, out.shape[1], f"{field}.values", f"{field}.count", strided=False)


def _read_accessor(d: _Doc, ref: Any, ref_field: str, kind: _Kind, count_range: tuple[int, int]) -> np.ndarray:
    """accessors[ref] -> (count, width) array: base (bufferView or zeros) plus sparse values.

    Integer components keep their dtype unless ``kind`` wants normalized ones (-> float32).
    """
    i = d.index(ref, d.gltf.accessors, ref_field, "accessors")
    acc, field = d.gltf.accessors[i], f"accessors[{i}]"
    if acc.type not in kind.types:
        d.fail(f"{field}.type", " or ".join(kind.types), repr(acc.type))
    if acc.componentType not in kind.components:
        d.fail(f"{field}.componentType", f"one of {kind.components}", repr(acc.componentType))
    normalized = acc.normalized is True
    if kind.normalized_ints and acc.componentType != FLOAT and not normalized:
        d.fail(f"{field}.normalized", "true for integer components", repr(acc.normalized))
    # checked before any allocation: a base without a bufferView holds no bytes to bound it
    lo, hi = count_range
    count = d.int_in(acc.count, lo, hi, f"{field}.count", f"{lo} (the vertex count)" if lo == hi else None)
    dtype, width = COMPONENT_DTYPES[acc.componentType], TYPE_WIDTHS[acc.type]
    if acc.bufferView is None:
        out = np.zeros((count, width), dtype)
    else:
        out = _view_elements(d, acc.bufferView, acc.byteOffset, dtype, count, width, field, f"{field}.count",
                             strided=True)
    if acc.sparse is not None:
        _apply_sparse(d, acc.sparse, out, f"{field}.sparse")
    if normalized and acc.componentType != FLOAT:  # glTF: c / max, clamped to -1 for signed types
        scaled = out / np.float32(_NORMALIZED_DIVISOR[acc.componentType])
        return np.maximum(scaled, np.float32(-1.0)).astype(np.float32)
    return out


def _check_values(d: _Doc, values: np.ndarray, field: str) -> None:
    """values (N, C) finite with |x| <= MAX_ABS, else an error naming the first bad row (vertex)."""
    ok = (np.abs(values) <= MAX_ABS).all(axis=1)  # False for NaN too
    if not ok.all():
        v = int(np.argmin(ok))
        d.fail(field, f"finite values with |x| <= {MAX_ABS:g}", f"{values[v].tolist()} at vertex {v}")


# ---------------------------------------------------------------------------------------------
# The skin mesh


def _attr(attributes: Any, name: str) -> Any:
    """An attribute's accessor index; targets come from pygltflib as dicts, attributes as objects."""
    if isinstance(attributes, dict):
        return attributes.get(name)
    return getattr(attributes, name, None)


def _skin_mesh_index(d: _Doc) -> int:
    """The mesh with morph targets, or the only mesh."""
    meshes = d.gltf.meshes
    morphed = [i for i, m in enumerate(meshes) if any(p.targets for p in m.primitives)]
    if len(morphed) == 1:
        return morphed[0]
    if not morphed and len(meshes) == 1:
        return 0
    d.fail("meshes", "exactly one mesh with morph targets (or exactly one mesh)",
           f"{len(meshes)} meshes, {len(morphed)} with morph targets")


def _primitive(d: _Doc, m: int) -> pygltflib.Primitive:
    """The mesh's only primitive: triangles with indices, and a list of targets (possibly empty)."""
    prims = d.gltf.meshes[m].primitives
    if len(prims) != 1:
        d.fail(f"meshes[{m}].primitives", "exactly 1 primitive", len(prims))
    prim, field = prims[0], f"meshes[{m}].primitives[0]"
    if (prim.mode if prim.mode is not None else TRIANGLES) != TRIANGLES:
        d.fail(f"{field}.mode", f"{TRIANGLES} (triangles)", repr(prim.mode))
    if prim.indices is None:
        d.fail(f"{field}.indices", "an index accessor", "none")
    targets = prim.targets if prim.targets is not None else []
    if not isinstance(targets, list) or len(targets) > MAX_TARGETS:
        d.fail(f"{field}.targets", f"a list of at most {MAX_TARGETS} morph targets",
               f"{len(targets)} targets" if isinstance(targets, list) else repr(targets)[:40])
    return prim


def _target_names(d: _Doc, m: int, count: int) -> tuple[str, ...]:
    """mesh.extras.targetNames (Blender's convention): ``count`` unique strings."""
    extras = d.gltf.meshes[m].extras
    names = extras.get("targetNames") if isinstance(extras, dict) else None
    field = f"meshes[{m}].extras.targetNames"
    if names is None:
        if count == 0:
            return ()
        d.fail(field, f"a name for each of the {count} morph targets", "none")
    if not isinstance(names, list) or len(names) != count:
        d.fail(field, f"a list of {count} names (one per morph target)",
               f"{len(names)}" if isinstance(names, list) else type(names).__name__)
    if not all(isinstance(n, str) for n in names):
        d.fail(field, "strings", repr([n for n in names if not isinstance(n, str)][:3]))
    if len(set(names)) != count:
        d.fail(field, "unique names", repr(sorted({n for n in names if names.count(n) > 1})[:5]))
    return tuple(names)


def _target_deltas(d: _Doc, prim: Any, field: str, names: tuple[str, ...], v: int) -> np.ndarray:
    """(T, V, 3) float32 POSITION deltas of every morph target, sparse ones made dense."""
    targets = prim.targets or []  # a list: checked by _primitive
    if len(targets) * v * 12 > MAX_TARGET_BYTES:
        d.fail(f"{field}.targets", f"at most {MAX_TARGET_BYTES} bytes of dense deltas",
               f"{len(targets)} targets x {v} vertices")
    deltas = np.empty((len(targets), v, 3), np.float32)
    for t, (target, name) in enumerate(zip(targets, names)):
        tfield = f"{field}.targets[{t}].POSITION"
        if not isinstance(target, dict):
            d.fail(f"{field}.targets[{t}]", "an object of attribute accessors", type(target).__name__)
        if (ref := target.get("POSITION")) is None:
            d.fail(tfield, f"a POSITION accessor for morph target {name!r}", "none")
        deltas[t] = _read_accessor(d, ref, tfield, _POSITION, (v, v))
        _check_values(d, deltas[t], f"morph target {name!r} ({tfield})")
    return deltas


def _triangles(d: _Doc, prim: Any, field: str, v: int) -> np.ndarray:
    ref_field = f"{field}.indices"
    flat = _read_accessor(d, prim.indices, ref_field, _INDICES, (3, 3 * MAX_TRIANGLES))[:, 0].astype(np.int64)
    acc = f"accessors[{prim.indices}]"
    if len(flat) % 3:
        d.fail(f"{acc}.count", "a multiple of 3 (triangles)", len(flat))
    if (bad := np.flatnonzero(flat >= v)).size:
        d.fail(acc, f"vertex indices in [0, {v})", f"{flat[bad[0]]} at index {bad[0]}")
    return flat.reshape(-1, 3)


def _skinning(d: _Doc, attributes: Any, field: str, v: int) -> tuple[np.ndarray | None, np.ndarray | None]:
    """(JOINTS_0 (V, 4) int64, WEIGHTS_0 (V, 4) float32), or (None, None) when the mesh has neither."""
    refs = _attr(attributes, "JOINTS_0"), _attr(attributes, "WEIGHTS_0")
    if refs == (None, None):
        return None, None
    if None in refs:
        d.fail(f"{field}.attributes", "JOINTS_0 and WEIGHTS_0 together",
               f"only {'WEIGHTS_0' if refs[0] is None else 'JOINTS_0'}")
    joints = _read_accessor(d, refs[0], f"{field}.attributes.JOINTS_0", _JOINTS, (v, v)).astype(np.int64)
    weights = _read_accessor(d, refs[1], f"{field}.attributes.WEIGHTS_0", _WEIGHTS, (v, v)).astype(np.float32)
    _check_values(d, weights, f"{field}.attributes.WEIGHTS_0 (accessors[{refs[1]}])")
    return joints, weights


def read_skin_glb(data: bytes, source: str | os.PathLike, max_bytes: int = MAX_GLB_BYTES) -> SkinMesh:
    """A skin ``.glb`` (bytes) -> SkinMesh; ``source`` names the file in errors.

    The mesh is the one with morph targets (or the only one); it must have exactly one triangle
    primitive. JOINTS_1 / WEIGHTS_1 and other attributes are ignored.
    """
    gltf, _ = read_glb_document(data, source, max_bytes)
    d = _Doc(gltf, gltf.binary_blob(), str(source))  # None when the file has no BIN chunk
    m = _skin_mesh_index(d)
    prim, field = _primitive(d, m), f"meshes[{m}].primitives[0]"
    pos_ref = _attr(prim.attributes, "POSITION")
    positions = _read_accessor(d, pos_ref, f"{field}.attributes.POSITION", _POSITION, (3, MAX_VERTICES))
    _check_values(d, positions, f"{field}.attributes.POSITION (accessors[{pos_ref}])")
    v = len(positions)
    triangles = _triangles(d, prim, field, v)
    names = _target_names(d, m, len(prim.targets or []))
    deltas = _target_deltas(d, prim, field, names, v)
    joints, weights = _skinning(d, prim.attributes, field, v)
    return SkinMesh(positions, triangles, names, deltas, joints, weights, source=str(source))


# ---------------------------------------------------------------------------------------------
# Writing


def _check_writable(mesh: SkinMesh) -> None:
    """What a valid glTF needs beyond SkinMesh's shapes: finite data, indices and joints in range."""
    src = mesh.source
    if len(mesh.positions) < 3 or len(mesh.triangles) < 1:
        raise InputError(src, "SkinMesh", "at least 3 vertices and 1 triangle",
                         f"{len(mesh.positions)} and {len(mesh.triangles)}")
    for name in ("positions", "target_deltas", "weights"):
        value = getattr(mesh, name)
        if value is not None and not np.isfinite(value).all():
            raise InputError(src, f"SkinMesh.{name}", "finite values", "NaN or inf")
    if mesh.triangles.min() < 0 or mesh.triangles.max() >= len(mesh.positions):
        raise InputError(src, "SkinMesh.triangles", f"indices in [0, {len(mesh.positions)})",
                         f"[{mesh.triangles.min()}, {mesh.triangles.max()}]")
    if mesh.joints is not None and (mesh.joints.min() < 0 or mesh.joints.max() > 0xFFFF):
        raise InputError(src, "SkinMesh.joints", "joint indices in [0, 65535] (written as uint16)",
                         f"[{mesh.joints.min()}, {mesh.joints.max()}]")
    if len(set(mesh.target_names)) != len(mesh.target_names):
        raise InputError(src, "SkinMesh.target_names", "unique names", repr(mesh.target_names)[:200])


_COMPONENT_OF = {np.dtype("<f4"): FLOAT, np.dtype("<u1"): UBYTE, np.dtype("<u2"): USHORT, np.dtype("<u4"): UINT}
_TYPE_OF = {1: "SCALAR", 3: "VEC3", 4: "VEC4", 16: "MAT4"}


@dataclasses.dataclass
class _Builder:
    """A glTF document being written, and its BIN chunk (every bufferView 4-byte aligned)."""

    doc: pygltflib.GLTF2
    blob: bytearray = dataclasses.field(default_factory=bytearray)

    def view(self, array: np.ndarray, target: int | None = None) -> int:
        """Append ``array``'s bytes as a new bufferView -> its index."""
        self.blob.extend(b"\0" * (-len(self.blob) % 4))
        self.doc.bufferViews.append(pygltflib.BufferView(buffer=0, byteOffset=len(self.blob),
                                                         byteLength=array.nbytes, target=target))
        self.blob.extend(array.tobytes())
        return len(self.doc.bufferViews) - 1

    def accessor(self, array: np.ndarray, target: int | None = None, bounds: bool = False) -> int:
        """array (N, W) little-endian float32 / uint16 / uint32 -> a dense accessor's index."""
        acc = pygltflib.Accessor(bufferView=self.view(array, target), componentType=_COMPONENT_OF[array.dtype],
                                 count=len(array), type=_TYPE_OF[array.shape[1]])
        if bounds:  # the spec requires min / max on POSITION accessors (morph targets included)
            acc.min, acc.max = array.min(axis=0).tolist(), array.max(axis=0).tolist()
        return self._add(acc)

    def sparse_accessor(self, dense: np.ndarray) -> int:
        """dense (V, 3) float32 -> a sparse accessor with no bufferView holding its non-zero rows.

        Rows are compared bit for bit (-0.0 is kept). The spec needs sparse.count >= 1, so an
        all-zero target stores row 0 explicitly. Indices are uint16 when they fit (as Blender writes them).
        """
        rows = np.flatnonzero(dense.view(np.uint32).any(axis=1))
        rows = (rows if rows.size else np.zeros(1, np.int64)).astype("<u2" if len(dense) <= 0x10000 else "<u4")
        sparse = pygltflib.Sparse(
            count=len(rows),
            indices=pygltflib.AccessorSparseIndices(bufferView=self.view(rows),
                                                    componentType=_COMPONENT_OF[rows.dtype]),
            values=pygltflib.AccessorSparseValues(bufferView=self.view(dense[rows])))
        return self._add(pygltflib.Accessor(byteOffset=None, componentType=FLOAT, count=len(dense), type="VEC3",
                                            sparse=sparse, min=dense.min(axis=0).tolist(),
                                            max=dense.max(axis=0).tolist()))

    def _add(self, acc: pygltflib.Accessor) -> int:
        self.doc.accessors.append(acc)
        return len(self.doc.accessors) - 1


@dataclasses.dataclass(frozen=True, eq=False)
class Skeleton:
    """A joint hierarchy at rest, as a DCC tool exports it: an armature node (``armature_rotation`` xyzw,
    ``armature_scale``: Blender's cm armatures carry 0.01) over joints in its units.

    names (J,); parents (J,) with -1 for the root joint (parents come before children); positions
    (J, 3) float64: each joint's rest position in the *mesh's* frame (metres). Local translations and the
    inverse bind matrices follow, so that skinning at rest is the identity.
    """

    names: tuple[str, ...]
    parents: tuple[int, ...]
    positions: np.ndarray
    armature_rotation: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 1.0)
    armature_scale: float = 1.0

    def armature_matrix(self) -> np.ndarray:
        """(4, 4) the armature node's transform (rotation then uniform scale)."""
        from scipy.spatial.transform import Rotation

        m = np.eye(4)
        m[:3, :3] = Rotation.from_quat(self.armature_rotation).as_matrix() * self.armature_scale
        return m

    def local_translations(self) -> np.ndarray:
        """(J, 3) each joint's translation from its parent, in armature units (the root's from the armature)."""
        inv = np.linalg.inv(self.armature_matrix())
        local = (np.asarray(self.positions, np.float64) @ inv[:3, :3].T) + inv[:3, 3]
        parents = np.asarray(self.parents)
        return local - np.where(parents[:, None] >= 0, local[np.maximum(parents, 0)], 0.0)

    def inverse_bind_matrices(self) -> np.ndarray:
        """(J, 16) column-major float32: inverse of each joint's world matrix (no joint rotations)."""
        world = np.tile(np.eye(4), (len(self.names), 1, 1))
        world[:, :3, 3] = self.positions
        world[:, :3, :3] = self.armature_matrix()[:3, :3]
        return np.linalg.inv(world).transpose(0, 2, 1).reshape(-1, 16).astype("<f4")


def flat_skeleton(joint_count: int) -> Skeleton:
    """``joint_count`` joints at the origin, the first the parent of the rest (identity inverse binds)."""
    return Skeleton(tuple(f"joint{j}" for j in range(joint_count)), (-1,) + (0,) * (joint_count - 1),
                    np.zeros((joint_count, 3)))


def _add_skin(b: _Builder, skeleton: Skeleton) -> int:
    """An armature node holding ``skeleton``'s joint nodes, their inverse bind matrices -> the skin's index."""
    from scipy.spatial.transform import Rotation

    armature = len(b.doc.nodes)
    first = armature + 1
    joints = list(range(first, first + len(skeleton.names)))
    arm = pygltflib.Node(name="Armature")
    if skeleton.armature_rotation != (0.0, 0.0, 0.0, 1.0):
        arm.rotation = [float(q) for q in Rotation.from_quat(skeleton.armature_rotation).as_quat()]
    if skeleton.armature_scale != 1.0:
        arm.scale = [float(skeleton.armature_scale)] * 3
    b.doc.nodes.append(arm)
    translations = skeleton.local_translations()
    for name, t in zip(skeleton.names, translations):
        node = pygltflib.Node(name=name)
        if np.any(t):
            node.translation = [float(x) for x in t]
        b.doc.nodes.append(node)
    for j, parent in enumerate(skeleton.parents):
        owner = arm if parent < 0 else b.doc.nodes[first + parent]
        owner.children = (owner.children or []) + [first + j]
    b.doc.scenes[0].nodes.append(armature)
    ibm = b.accessor(skeleton.inverse_bind_matrices())
    b.doc.skins.append(pygltflib.Skin(inverseBindMatrices=ibm, skeleton=first, joints=joints))
    return len(b.doc.skins) - 1


# Blender's material on LAM's skin.glb (a grey double-sided one): optional, so readers see one there too
SKIN_MATERIAL = {"name": "skin", "doubleSided": True,
                 "pbrMetallicRoughness": {"baseColorFactor": [0.5, 0.5, 0.5, 1.0], "metallicFactor": 0.0}}


def _index_dtype(count: int) -> str:
    """uint16 while every index fits below 65535 (the primitive-restart value glTF forbids), as Blender
    writes them; else uint32."""
    return "<u2" if count <= 0xFFFF else "<u4"


def _check_skeleton(mesh: SkinMesh, skeleton: Skeleton) -> None:
    """Joint indices within the skeleton, parents listed before their children, positions (J, 3) finite."""
    j = len(skeleton.names)
    pos = np.asarray(skeleton.positions)
    parents = np.asarray(skeleton.parents)
    if pos.shape != (j, 3) or not np.isfinite(pos).all() or parents.shape != (j,):
        raise InputError(mesh.source, "Skeleton", f"{j} finite joint positions (J, 3) and parents",
                         f"positions {pos.shape}, parents {parents.shape}")
    if j == 0 or parents[0] != -1 or (parents[1:] < 0).any() or (parents[1:] >= np.arange(1, j)).any():
        raise InputError(mesh.source, "Skeleton.parents", "-1 for joint 0, then a parent listed earlier",
                         repr(skeleton.parents)[:80])
    if int(mesh.joints.max()) >= j:
        raise InputError(mesh.source, "SkinMesh.joints", f"joint indices below the skeleton's {j} joints",
                         str(int(mesh.joints.max())))


def write_skin_glb(mesh: SkinMesh, *, sparse: bool = True, skeleton: bool | Skeleton = True,
                   material: bool = False) -> bytes:
    """SkinMesh -> a glTF 2.0 GLB (bytes) that ``read_skin_glb`` reads back exactly.

    One scene, one mesh node, one triangle primitive: POSITION (float, min/max), indices (uint16 below
    65535 vertices, else uint32, as Blender writes them), JOINTS_0 (uint8 or uint16) + WEIGHTS_0 (float)
    when given; morph targets as sparse accessors without a base bufferView (``sparse=True``, as Blender
    writes them) or dense ones, named in ``mesh.extras.targetNames``. ``skeleton``: with joints, a skin
    over that ``Skeleton`` (``True``: a flat one of ``max(joints) + 1`` identity joints) under an armature
    node, so the file is a valid skinned mesh. ``material``: the mesh uses ``SKIN_MATERIAL``.
    """
    _check_writable(mesh)
    doc = pygltflib.GLTF2(asset=pygltflib.Asset(version="2.0", generator="avatarcheck"), scene=0,
                          scenes=[pygltflib.Scene(nodes=[0])], nodes=[pygltflib.Node(name="skin", mesh=0)])
    b = _Builder(doc)
    attributes = pygltflib.Attributes(POSITION=b.accessor(mesh.positions, _ARRAY_BUFFER, bounds=True))
    indices = b.accessor(mesh.triangles.astype(_index_dtype(len(mesh.positions))).reshape(-1, 1),
                         _ELEMENT_ARRAY_BUFFER)
    if mesh.joints is not None:
        attributes.JOINTS_0 = b.accessor(mesh.joints.astype("<u1" if mesh.joints.max() < 256 else "<u2"),
                                         _ARRAY_BUFFER)
        attributes.WEIGHTS_0 = b.accessor(mesh.weights, _ARRAY_BUFFER)
        if skeleton is not False:
            bones = skeleton if isinstance(skeleton, Skeleton) else flat_skeleton(int(mesh.joints.max()) + 1)
            _check_skeleton(mesh, bones)
            doc.nodes[0].skin = _add_skin(b, bones)
    targets = [{"POSITION": b.sparse_accessor(t) if sparse else b.accessor(t, _ARRAY_BUFFER, bounds=True)}
               for t in mesh.target_deltas]
    extras = {"targetNames": list(mesh.target_names)} if targets else {}
    prim = pygltflib.Primitive(attributes=attributes, indices=indices, mode=TRIANGLES, targets=targets)
    if material:
        doc.materials.append(pygltflib.Material(**SKIN_MATERIAL))
        prim.material = 0
    doc.meshes.append(pygltflib.Mesh(name="skin", extras=extras, weights=[0.0] * len(targets), primitives=[prim]))
    b.blob.extend(b"\0" * (-len(b.blob) % 4))
    doc.buffers.append(pygltflib.Buffer(byteLength=len(b.blob)))
    doc.set_binary_blob(bytes(b.blob))
    return b"".join(doc.save_to_bytes())
