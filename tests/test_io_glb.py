"""Binary glTF skin meshes: exact round trips, accessor decoding (sparse, strided, normalized)
checked against references computed here, and bad files refused with the glTF field named."""

from __future__ import annotations

import json
import re
import shutil
import struct
import subprocess
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from avatarcheck.errors import InputError
from avatarcheck.io.glb import SkinMesh, read_glb_document, read_skin_glb, write_skin_glb

VALIDATOR = Path(__file__).resolve().parents[1] / ".gl" / "node_modules" / "gltf-validator"
_COMPONENT = {np.dtype("<i1"): 5120, np.dtype("<u1"): 5121, np.dtype("<i2"): 5122, np.dtype("<u2"): 5123,
              np.dtype("<u4"): 5125, np.dtype("<f4"): 5126}
TETRA = np.array([[0, 1.5, 0], [1, 1.5, 0], [0, 1.8, 0], [0, 1.5, 1]], np.float32)
TETRA_FACES = np.array([[0, 2, 1], [0, 1, 3], [0, 3, 2], [1, 2, 3]], np.uint32)


def pack_glb(doc: dict | list, blob: bytes | None) -> bytes:
    """A GLB container written by hand: header, JSON chunk (space padded), optional BIN chunk."""
    js = json.dumps(doc).encode()
    body = struct.pack("<II", len(js) + -len(js) % 4, 0x4E4F534A) + js + b" " * (-len(js) % 4)
    if blob is not None:
        blob = bytes(blob) + b"\0" * (-len(blob) % 4)
        body += struct.pack("<II", len(blob), 0x004E4942) + blob
    return struct.pack("<4sII", b"glTF", 2, 12 + len(body)) + body


class Hand:
    """A glTF document built as plain JSON (no pygltflib): layouts the writer never makes."""

    def __init__(self) -> None:
        self.doc: dict = {"asset": {"version": "2.0"}, "buffers": [{"byteLength": 0}], "bufferViews": [],
                          "accessors": []}
        self.blob = bytearray()

    def view(self, raw: bytes, **extra) -> int:
        self.blob += b"\0" * (-len(self.blob) % 4)
        self.doc["bufferViews"].append({"buffer": 0, "byteOffset": len(self.blob), "byteLength": len(raw), **extra})
        self.blob += raw
        return len(self.doc["bufferViews"]) - 1

    def add(self, accessor: dict) -> int:
        self.doc["accessors"].append(accessor)
        return len(self.doc["accessors"]) - 1

    def dense(self, a: np.ndarray, type_: str, **extra) -> int:
        return self.add({"bufferView": self.view(a.tobytes()), "componentType": _COMPONENT[a.dtype],
                         "count": len(a), "type": type_, **extra})

    def sparse(self, count: int, rows: np.ndarray, values: np.ndarray, base: np.ndarray | None = None) -> int:
        """A VEC3 float sparse accessor; rows keep their dtype (the sparse index component type)."""
        acc = {"componentType": 5126, "count": count, "type": "VEC3",
               "sparse": {"count": len(rows),
                          "indices": {"bufferView": self.view(rows.tobytes()), "componentType": _COMPONENT[rows.dtype]},
                          "values": {"bufferView": self.view(values.astype("<f4").tobytes())}}}
        if base is not None:
            acc["bufferView"] = self.view(base.astype("<f4").tobytes())
        return self.add(acc)

    def mesh(self, positions: int, indices: int, targets: list[int], names: list[str] | None, **attributes) -> None:
        prim = {"attributes": {"POSITION": positions, **attributes}, "indices": indices, "mode": 4}
        if targets:
            prim["targets"] = [{"POSITION": t} for t in targets]
        extras = {"extras": {"targetNames": names}} if names is not None else {}
        self.doc["meshes"] = [{"primitives": [prim], **extras}]

    def glb(self) -> bytes:
        self.blob += b"\0" * (-len(self.blob) % 4)
        self.doc["buffers"][0]["byteLength"] = len(self.blob)
        return pack_glb(self.doc, self.blob)


JAW_ROWS = np.array([1, 3], "<u2")
JAW_VALUES = np.array([[0, -0.01, 0], [0.02, 0, 0]], np.float32)
BLINK = np.linspace(-0.01, 0.01, 12, dtype=np.float32).reshape(4, 3)


def tetra() -> Hand:
    """accessors: 0 POSITION, 1 indices, 2 sparse target "jawOpen" (no base), 3 dense "eyeBlinkLeft"."""
    h = Hand()
    pos = h.dense(TETRA, "VEC3", min=TETRA.min(0).tolist(), max=TETRA.max(0).tolist())
    idx = h.dense(TETRA_FACES.reshape(-1), "SCALAR")
    targets = [h.sparse(4, JAW_ROWS, JAW_VALUES), h.dense(BLINK, "VEC3")]
    h.mesh(pos, idx, targets, ["jawOpen", "eyeBlinkLeft"])
    return h


def bits_equal(a: np.ndarray | None, b: np.ndarray | None) -> bool:
    """Equal dtype, shape and bytes (so -0.0 and NaN payloads count)."""
    if a is None or b is None:
        return a is b
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def assert_same_mesh(got: SkinMesh, want: SkinMesh) -> None:
    assert got.target_names == want.target_names
    for name in ("positions", "triangles", "target_deltas", "joints", "weights"):
        assert bits_equal(getattr(got, name), getattr(want, name)), name


# ----------------------------------------------------------------------------------------------
# Reading what was written by hand


def test_hand_built_tetra_reads_sparse_and_dense_targets():
    mesh = read_skin_glb(tetra().glb(), "tetra.glb")
    np.testing.assert_array_equal(mesh.positions, TETRA)
    np.testing.assert_array_equal(mesh.triangles, TETRA_FACES)
    assert mesh.triangles.dtype == np.int64 and mesh.target_names == ("jawOpen", "eyeBlinkLeft")
    jaw = np.zeros((4, 3), np.float32)
    jaw[JAW_ROWS] = JAW_VALUES
    np.testing.assert_array_equal(mesh.target_deltas, np.stack([jaw, BLINK]))
    assert mesh.joints is None and mesh.weights is None and mesh.source == "tetra.glb"
    doc, blob = read_glb_document(tetra().glb(), "tetra.glb")
    assert len(doc.accessors) == 4 and len(blob) % 4 == 0


@settings(max_examples=60, deadline=None)
@given(v=st.integers(3, 300), seed=st.integers(0, 2**32 - 1), component=st.sampled_from(["<u1", "<u2", "<u4"]),
       with_base=st.booleans(), data=st.data())
def test_sparse_decoding_equals_dense_reference(v, seed, component, with_base, data):
    limit = min(v, 256) if component == "<u1" else v
    rows = np.array(sorted(data.draw(st.sets(st.integers(0, limit - 1), min_size=1, max_size=limit))), component)
    rng = np.random.default_rng(seed)
    values = rng.normal(size=(len(rows), 3)).astype(np.float32)
    base = rng.normal(size=(v, 3)).astype(np.float32) if with_base else None
    # the reference, computed without the reader: base (or zeros), then values at rows
    reference = base.copy() if with_base else np.zeros((v, 3), np.float32)
    reference[rows.astype(np.int64)] = values
    h = Hand()
    pos = h.dense(np.zeros((v, 3), np.float32), "VEC3")
    idx = h.dense(np.array([0, 1, 2], "<u4"), "SCALAR")
    h.mesh(pos, idx, [h.sparse(v, rows, values, base)], ["t"])
    np.testing.assert_array_equal(read_skin_glb(h.glb(), "s.glb").target_deltas[0], reference)


def test_interleaved_strided_accessors_and_normalized_weights():
    # one bufferView, 32-byte stride: POSITION f32x3 @0, JOINTS_0 u8x4 @12, WEIGHTS_0 u16x4 normalized @16,
    # 8 bytes of padding; the view itself starts 8 bytes into the BIN chunk after other data
    rng = np.random.default_rng(3)
    v = 5
    record = np.dtype([("pos", "<f4", 3), ("joints", "<u1", 4), ("weights", "<u2", 4), ("pad", "V8")])
    rec = np.zeros(v, record)
    rec["pos"] = rng.normal(size=(v, 3))
    rec["joints"] = rng.integers(0, 255, (v, 4))
    rec["weights"] = rng.integers(0, 65535, (v, 4))
    h = Hand()
    h.view(b"\xee" * 8)  # unrelated bytes first: byteOffset matters
    view = h.view(rec.tobytes(), byteStride=32)
    pos = h.add({"bufferView": view, "byteOffset": 0, "componentType": 5126, "count": v, "type": "VEC3"})
    joints = h.add({"bufferView": view, "byteOffset": 12, "componentType": 5121, "count": v, "type": "VEC4"})
    weights = h.add({"bufferView": view, "byteOffset": 16, "componentType": 5123, "count": v, "type": "VEC4",
                     "normalized": True})
    idx = h.dense(np.array([0, 1, 2, 2, 3, 4], "<u1"), "SCALAR")
    h.mesh(pos, idx, [], None, JOINTS_0=joints, WEIGHTS_0=weights)
    mesh = read_skin_glb(h.glb(), "interleaved.glb")
    np.testing.assert_array_equal(mesh.positions, rec["pos"])
    np.testing.assert_array_equal(mesh.joints, rec["joints"].astype(np.int64))
    np.testing.assert_array_equal(mesh.weights, (rec["weights"] / np.float32(65535)).astype(np.float32))
    assert mesh.weights.dtype == np.float32 and mesh.triangles.tolist() == [[0, 1, 2], [2, 3, 4]]


# ----------------------------------------------------------------------------------------------
# Writing


def random_mesh(seed: int, v: int, f: int, t: int, skinned: bool) -> SkinMesh:
    rng = np.random.default_rng(seed)
    positions = (rng.normal(size=(v, 3)) * 0.1 + [0, 1.6, 0]).astype(np.float32)
    deltas = rng.normal(size=(t, v, 3)).astype(np.float32) * 0.01
    deltas[rng.random((t, v)) < rng.random((t, 1))] = 0  # per-target density, all-zero targets included
    deltas[rng.random((t, v, 3)) < 0.05] = -0.0
    joints = weights = None
    if skinned:  # distinct joints per vertex and weights summing to 1, as the validator wants
        joints = rng.integers(0, 40, (v, 1)) + np.arange(4)
        weights = np.array([[1, 0, 0, 0], [0.5, 0.5, 0, 0], [0.25] * 4], np.float32)[rng.integers(0, 3, v)]
    return SkinMesh(positions, rng.integers(0, v, (f, 3)), tuple(f"shape{i}" for i in range(t)), deltas,
                    joints, weights, source="random")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), v=st.integers(3, 40), f=st.integers(1, 50), t=st.integers(0, 5),
       skinned=st.booleans(), sparse=st.booleans(), skeleton=st.booleans())
def test_random_meshes_round_trip_exactly(seed, v, f, t, skinned, sparse, skeleton):
    mesh = random_mesh(seed, v, f, t, skinned)
    data = write_skin_glb(mesh, sparse=sparse, skeleton=skeleton)
    assert len(data) % 4 == 0
    assert_same_mesh(read_skin_glb(data, "w.glb"), mesh)


def test_written_layout_is_sparse_and_skinned():
    mesh = random_mesh(1, 30, 20, 3, skinned=True)
    mesh.target_deltas[1] = 0  # an all-zero target: one explicit zero entry
    doc, _ = read_glb_document(write_skin_glb(mesh), "w.glb")
    prim = doc.meshes[0].primitives[0]
    sparse_accs = [doc.accessors[t["POSITION"]] for t in prim.targets]
    assert all(a.bufferView is None and a.sparse is not None for a in sparse_accs)
    assert sparse_accs[1].sparse.count == 1
    assert doc.meshes[0].extras["targetNames"] == list(mesh.target_names)
    assert doc.nodes[doc.scenes[0].nodes[0]].skin == 0
    assert len(doc.skins[0].joints) == int(mesh.joints.max()) + 1
    dense_doc, _ = read_glb_document(write_skin_glb(mesh, sparse=False, skeleton=False), "w.glb")
    assert all(a.sparse is None for a in dense_doc.accessors) and not dense_doc.skins


@pytest.mark.parametrize("change, field", [
    (lambda m: m.positions.__setitem__((0, 0), np.nan), "SkinMesh.positions"),
    (lambda m: m.triangles.__setitem__((0, 0), 99), "SkinMesh.triangles"),
    (lambda m: m.joints.__setitem__((0, 0), 70000), "SkinMesh.joints"),
])
def test_writer_refuses_what_glTF_cannot_hold(change, field):
    mesh = random_mesh(2, 10, 5, 1, skinned=True)
    change(mesh)
    with pytest.raises(InputError, match=field):
        write_skin_glb(mesh)


def test_skin_mesh_checks_shapes():
    with pytest.raises(InputError, match="SkinMesh.target_deltas"):
        SkinMesh(TETRA, TETRA_FACES, ("a",), np.zeros((2, 4, 3)), None, None)
    with pytest.raises(InputError, match="SkinMesh.weights"):
        SkinMesh(TETRA, TETRA_FACES, (), np.zeros((0, 4, 3)), np.zeros((4, 4)), None)


_VALIDATE_JS = """
const validator = require(process.argv[1]);
const fs = require('fs');
(async () => {
  const out = [];
  for (const file of process.argv.slice(2)) {
    const report = await validator.validateBytes(new Uint8Array(fs.readFileSync(file)));
    out.push({file, errors: report.issues.numErrors,
              messages: report.issues.messages.filter(m => m.severity === 0).map(m => m.code + ' ' + m.pointer)});
  }
  console.log(JSON.stringify(out));
})().catch(e => { console.error(String(e)); process.exit(2); });
"""


def test_written_glb_passes_khronos_validator(tmp_path):
    node = shutil.which("node")
    if node is None or not (VALIDATOR / "package.json").is_file():
        pytest.skip("needs node and `npm install --prefix .gl gltf-validator`")
    files = []
    for i, (sparse, skeleton) in enumerate([(True, True), (False, True), (True, False)]):
        mesh = random_mesh(10 + i, 60, 80, 4, skinned=True)
        mesh.target_deltas[0] = 0
        files.append(tmp_path / f"skin{i}.glb")
        files[-1].write_bytes(write_skin_glb(mesh, sparse=sparse, skeleton=skeleton))
    run = subprocess.run([node, "-e", _VALIDATE_JS, str(VALIDATOR), *map(str, files)],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    reports = json.loads(run.stdout)
    assert [r["errors"] for r in reports] == [0, 0, 0], reports


# ----------------------------------------------------------------------------------------------
# Bad files


def with_header_length(data: bytes, length: int) -> bytes:
    return data[:8] + struct.pack("<I", length) + data[12:]


def test_every_truncation_is_an_input_error():
    data = tetra().glb()
    json_len = struct.unpack_from("<I", data, 12)[0]
    bin_start = 12 + 8 + json_len
    fields = set()
    for cut in range(len(data)):
        with pytest.raises(InputError) as err:
            read_skin_glb(data[:cut], "cut.glb")
        fields.add(err.value.field)
        if cut >= 12:  # also with the header's length patched to match: the chunks must say it
            with pytest.raises(InputError) as err:
                read_skin_glb(with_header_length(data[:cut], cut), "cut.glb")
            fields.add(err.value.field)
            if cut == bin_start:
                assert err.value.field == "BIN chunk"
    assert {"header", "header length", "chunks[0]", "chunks[0].chunkLength", "chunks[1]",
            "chunks[1].chunkLength", "BIN chunk"} <= fields


def mutate_bytes(data: bytes, offset: int, fmt: str, value) -> bytes:
    return data[:offset] + struct.pack(fmt, value) + data[offset + struct.calcsize(fmt):]


@pytest.mark.parametrize("change, field", [
    (lambda d: b"gLTF" + d[4:], "magic"),
    (lambda d: mutate_bytes(d, 4, "<I", 1), "version"),
    (lambda d: mutate_bytes(d, 12, "<I", 2**31), "chunks[0].chunkLength"),
    (lambda d: mutate_bytes(d, 12, "<I", struct.unpack_from("<I", d, 12)[0] - 2), "chunks[0].chunkLength"),
    (lambda d: mutate_bytes(d, 16, "<I", 0x004E4942), "chunks[0].chunkType"),
    (lambda d: d + b"\0" * 4, "header length"),
    (lambda d: with_header_length(d + struct.pack("<II", 0, 0x4E4F534A), len(d) + 8), "chunks[2].chunkType"),
])
def test_bad_container(change, field):
    with pytest.raises(InputError, match=rf"bad\.glb: {re.escape(field)}: expected"):
        read_skin_glb(change(tetra().glb()), "bad.glb")


def test_file_over_the_cap():
    with pytest.raises(InputError, match="file size"):
        read_skin_glb(tetra().glb(), "big.glb", max_bytes=100)


def _set(path: str, value) -> Callable[[Hand], None]:
    """Set doc[path] where path is like 'accessors.3.count' (numbers index lists)."""
    def change(h: Hand) -> None:
        *parents, last = [int(p) if p.isdigit() else p for p in path.split(".")]
        node = h.doc
        for p in parents:
            node = node[p]
        node[last] = value
    return change


def _prim(h: Hand) -> dict:
    return h.doc["meshes"][0]["primitives"][0]


def _nan_target(h: Hand) -> None:
    """Replace target 1's data with one holding NaN at vertex 2."""
    bad = BLINK.copy()
    bad[2, 1] = np.nan
    _prim(h)["targets"][1]["POSITION"] = h.dense(bad, "VEC3")


def _second_morphed_mesh(h: Hand) -> None:
    h.doc["meshes"].append(json.loads(json.dumps(h.doc["meshes"][0])))


BAD_DOCS = [
    (_set("accessors.0.count", 5), "accessors[0].count"),
    (_set("accessors.3.count", 4000), "accessors[3].count"),
    (_set("accessors.3.byteOffset", 48), "accessors[3].byteOffset"),
    (_set("accessors.0.count", 2), "accessors[0].count"),
    (_set("bufferViews.0.byteLength", 10**6), "bufferViews[0].byteLength"),
    (_set("bufferViews.0.byteOffset", 10**6), "bufferViews[0].byteOffset"),
    (_set("bufferViews.0.byteStride", 6), "bufferViews[0].byteStride"),
    (_set("bufferViews.0.buffer", 1), "bufferViews[0].buffer"),
    (_set("buffers.0.uri", "data:application/octet-stream;base64,AAAA"), "buffers[0].uri"),
    (_set("buffers.0.uri", "skin.bin"), "buffers[0].uri"),
    (_set("accessors.2.sparse.count", 3), "accessors[2].sparse.count"),  # runs past its bufferViews
    (_set("accessors.2.sparse.count", 5), "accessors[2].sparse.count"),  # more than the accessor's count
    (_set("accessors.2.sparse.indices.componentType", 5126), "accessors[2].sparse.indices.componentType"),
    (_set("accessors.0.componentType", 5125), "accessors[0].componentType"),
    (_set("accessors.0.type", "VEC2"), "accessors[0].type"),
    (_set("accessors.1.count", 11), "accessors[1].count"),  # not a multiple of 3
    (_set("meshes.0.primitives.0.mode", 1), "meshes[0].primitives[0].mode"),
    (_set("meshes.0.primitives.0.indices", 9), "meshes[0].primitives[0].indices"),
    (lambda h: _prim(h).pop("indices"), "meshes[0].primitives[0].indices"),
    (lambda h: _prim(h)["attributes"].pop("POSITION"), "meshes[0].primitives[0].attributes.POSITION"),
    (lambda h: h.doc["meshes"][0]["primitives"].append(_prim(h)), "meshes[0].primitives"),
    (_second_morphed_mesh, "meshes"),
    (lambda h: h.doc["meshes"][0].pop("extras"), "meshes[0].extras.targetNames"),
    (_set("meshes.0.extras.targetNames", ["jawOpen"]), "meshes[0].extras.targetNames"),
    (_set("meshes.0.extras.targetNames", ["jawOpen", 7]), "meshes[0].extras.targetNames"),
    (_set("meshes.0.extras.targetNames", ["jawOpen", "jawOpen"]), "meshes[0].extras.targetNames"),
    (lambda h: _prim(h)["targets"][0].pop("POSITION"), "meshes[0].primitives[0].targets[0].POSITION"),
    (_nan_target, "morph target 'eyeBlinkLeft'"),
    (_set("asset.version", "1.0"), "asset.version"),
    (lambda h: _prim(h)["attributes"].update(JOINTS_0=0), "meshes[0].primitives[0].attributes"),
]


@pytest.mark.parametrize("change, field", BAD_DOCS, ids=[f for _, f in BAD_DOCS])
def test_bad_document(change, field):
    h = tetra()
    change(h)
    with pytest.raises(InputError, match=rf"^bad\.glb: {re.escape(field)}"):
        read_skin_glb(h.glb(), "bad.glb")


def _sparse_rows(rows: list[int], dtype: str = "<u2") -> Callable[[Hand], None]:
    def change(h: Hand) -> None:
        start = h.doc["bufferViews"][2]["byteOffset"]
        h.blob[start:start + 4] = np.array(rows, dtype).tobytes()
    return change


@pytest.mark.parametrize("rows, got", [([3, 1], "1 after 3"), ([1, 1], "1 after 1"), ([1, 4], "got 4")])
def test_sparse_indices_must_increase_within_count(rows, got):
    h = tetra()
    _sparse_rows(rows)(h)
    with pytest.raises(InputError, match=rf"accessors\[2\]\.sparse\.indices: expected .*{got}"):
        read_skin_glb(h.glb(), "bad.glb")


def test_index_out_of_range_and_nan_messages():
    h = tetra()
    faces_view = h.doc["bufferViews"][1]
    h.blob[faces_view["byteOffset"] + 4:faces_view["byteOffset"] + 8] = struct.pack("<I", 4)
    with pytest.raises(InputError, match=r"accessors\[1\]: expected vertex indices in \[0, 4\), got 4 at index 1"):
        read_skin_glb(h.glb(), "bad.glb")
    h = tetra()
    _nan_target(h)
    with pytest.raises(InputError, match=r"morph target 'eyeBlinkLeft' .*got \[.*nan.*\] at vertex 2"):
        read_skin_glb(h.glb(), "bad.glb")


def test_zero_base_sparse_count_is_bounded_before_allocation():
    # a sparse target with no bufferView claims a billion vertices: refused by count, not by memory
    h = tetra()
    _set("accessors.2.count", 10**9)(h)
    with pytest.raises(InputError, match=r"accessors\[2\]\.count: expected 4 \(the vertex count\), got 1000000000"):
        read_skin_glb(h.glb(), "bad.glb")


def test_json_garbage_is_an_input_error():
    for doc in ([1, 2], {"asset": {"version": "2.0"}, "accessors": [{"count": [1]}]}):
        with pytest.raises(InputError, match="JSON chunk"):
            read_skin_glb(pack_glb(doc, None), "bad.glb")
    raw = pack_glb({}, None)
    with pytest.raises(InputError, match="JSON chunk"):
        read_skin_glb(raw[:20] + b"\xff" + raw[21:], "bad.glb")



def _json_paths(node, prefix: tuple = ()) -> list[tuple]:
    """Every path to a value in a JSON tree (list indices and object keys)."""
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    return [prefix] + [p for k, v in items for p in _json_paths(v, prefix + (k,))]


_JUNK = st.one_of(st.none(), st.booleans(), st.integers(-2, 2**40), st.floats(allow_nan=False), st.text(max_size=4),
                  st.sampled_from([[], {}, [None], {"a": 1}, "data:,", 5126, 5121, "VEC3", "SCALAR"]))


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_corrupted_documents_fail_only_with_input_error(data):
    # whatever value lands anywhere in a valid document, the reader either reads a mesh or names a field
    h = tetra()
    paths = [p for p in _json_paths(h.doc) if p and p[0] != "buffers"]
    for path in data.draw(st.lists(st.sampled_from(paths), min_size=1, max_size=3)):
        node = h.doc
        try:
            for key in path[:-1]:
                node = node[key]
            node[path[-1]] = data.draw(_JUNK)
        except (KeyError, IndexError, TypeError):  # an earlier change removed this path
            pass
    try:
        mesh = read_skin_glb(h.glb(), "fuzz.glb")
    except InputError as err:
        assert str(err).startswith("fuzz.glb: ")
    else:
        assert mesh.positions.shape[1] == 3


def test_target_list_is_bounded(monkeypatch):
    from avatarcheck.io import glb
    monkeypatch.setattr(glb, "MAX_TARGETS", 1)
    with pytest.raises(InputError, match=r"meshes\[0\]\.primitives\[0\]\.targets: expected a list of at most 1"):
        read_skin_glb(tetra().glb(), "bad.glb")
