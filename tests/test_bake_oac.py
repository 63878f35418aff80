"""``avatarcheck bake --format oac|lam``: the edited avatar in LAM's own formats (issue 29).

Expectations are derived independently of the writer: the edit's arrays come from ``bake_edit`` +
``apply_override_arrays`` (what the gate renders), the written files are read back with pygltflib, trimesh,
plyfile and the project's own sources, and the input's glTF JSON and bytes are compared field by field."""

from __future__ import annotations

import json
import shutil
import subprocess
import zipfile
from pathlib import Path

import numpy as np
import pygltflib
import pytest
from typer.testing import CliRunner

from avatarcheck.arkit import arkit_index
from avatarcheck.cli import app
from avatarcheck.errors import InputError
from avatarcheck.io.glb import read_skin_glb, split_glb
from avatarcheck.sources import load_avatar_source
from tests.conftest import rezip, zip_members

VALIDATOR = Path(__file__).resolve().parents[1] / ".gl" / "node_modules" / "gltf-validator"
PEAR = {"preset": "pear", "strength": 2.0}


def _bake(*args: str):
    return CliRunner().invoke(app, ["bake", *map(str, args)])


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("bake_oac")


@pytest.fixture(scope="module")
def alice(work) -> Path:
    """The trained stand-in as LAM's OAC zip, plus an extra file in its folder (a real export's bsData.json)."""
    from avatarcheck.export.oac import write_oac

    path = write_oac(load_avatar_source("synthetic:lam-trained").avatar, work / "alice.zip", "alice")
    members = zip_members(path)
    members["alice/bsData.json"] = b'{"names": [], "frames": []}'
    members["__MACOSX/alice/._skin.glb"] = b"resource fork"
    return rezip(members, work / "alice_extra.zip")


@pytest.fixture(scope="module")
def alice_read(alice):
    return load_avatar_source(alice)


@pytest.fixture(scope="module")
def pear_zip(alice, work) -> Path:
    r = _bake("--avatar", alice, "--format", "oac", "--out", work / "pear.zip")
    assert r.exit_code == 0, r.output
    assert "correction ratio" in r.output
    return work / "pear.zip"


@pytest.fixture(scope="module")
def in_memory(alice_read):
    """The pear with the ratio as the gate builds it (bake in memory, overrides applied)."""
    from avatarcheck.edit.overrides import OverrideArrays, apply_override_arrays
    from avatarcheck.edit.registry import bake_edit

    assets = bake_edit(alice_read.avatar, "chibi", PEAR, name="pear")
    arrays = OverrideArrays.from_assets(assets, ("xyz", "arkit_bs", "scale_ratio"))
    return apply_override_arrays(alice_read.avatar, arrays)


# -- what the zip holds --------------------------------------------------------------------------------

def test_members_and_their_folder(pear_zip):
    names = sorted(zip_members(pear_zip))
    assert names == [f"pear/{n}" for n in ("animation.glb", "avatarcheck_edit.json", "bsData.json", "offset.ply",
                                           "skin.glb", "vertex_order.json")]


def test_positions_and_morph_targets_are_the_edit(pear_zip, in_memory):
    """Read with pygltflib alone (not our reader): POSITION is the edited mesh, each target (by name, sparse
    as the input's) is the basis the bake re-evaluated on it."""
    doc = pygltflib.GLTF2.load_from_bytes(zip_members(pear_zip)["pear/skin.glb"])
    blob = doc.binary_blob()
    prim = doc.meshes[0].primitives[0]

    def dense(i: int) -> np.ndarray:
        acc = doc.accessors[i]
        out = np.zeros((acc.count, 3), np.float32)
        if acc.bufferView is not None:
            v = doc.bufferViews[acc.bufferView]
            out[:] = np.frombuffer(blob, "<f4", acc.count * 3, v.byteOffset + (acc.byteOffset or 0)).reshape(-1, 3)
        if acc.sparse is not None:
            s = acc.sparse
            iv, vv = doc.bufferViews[s.indices.bufferView], doc.bufferViews[s.values.bufferView]
            idx = np.frombuffer(blob, {5121: "<u1", 5123: "<u2", 5125: "<u4"}[s.indices.componentType],
                                s.count, iv.byteOffset)
            out[idx] = np.frombuffer(blob, "<f4", s.count * 3, vv.byteOffset).reshape(-1, 3)
        return out

    assert np.array_equal(dense(prim.attributes.POSITION), in_memory.head_sub.v_template)
    names = doc.meshes[0].extras["targetNames"]
    assert len(names) == 51 and "tongueOut" not in names
    for name, target in zip(names, prim.targets):
        acc = doc.accessors[target["POSITION"]]
        assert acc.sparse is not None and acc.bufferView is None
        assert np.array_equal(dense(target["POSITION"]), in_memory.head_sub.arkit_basis[arkit_index(name)]), name
        assert acc.min == dense(target["POSITION"]).min(axis=0).tolist()


def test_everything_else_in_skin_glb_is_carried_over(alice, pear_zip):
    """Same JSON apart from the rewritten accessors and the bufferView / buffer lengths and offsets; every other
    bufferView byte for byte (skeleton, inverse bind matrices, joints, weights, indices)."""
    old = zip_members(alice)["alice/skin.glb"]
    new = zip_members(pear_zip)["pear/skin.glb"]
    (oj, ob), (nj, nb) = split_glb(old, "a", 1 << 30), split_glb(new, "b", 1 << 30)
    oj, nj = json.loads(oj), json.loads(nj)
    assert {k: v for k, v in oj.items() if k not in ("accessors", "bufferViews", "buffers")} == \
        {k: v for k, v in nj.items() if k not in ("accessors", "bufferViews", "buffers")}
    prim = oj["meshes"][0]["primitives"][0]
    rewritten = {prim["attributes"]["POSITION"]} | {t["POSITION"] for t in prim["targets"]}
    own_views = set()
    for i in rewritten:
        acc = oj["accessors"][i]
        own_views |= {acc.get("bufferView")} | ({acc["sparse"]["indices"]["bufferView"],
                                                 acc["sparse"]["values"]["bufferView"]} if "sparse" in acc else set())
    assert [a for i, a in enumerate(oj["accessors"]) if i not in rewritten] == \
        [a for i, a in enumerate(nj["accessors"]) if i not in rewritten]
    assert len(nj["bufferViews"]) == len(oj["bufferViews"])
    for i, (a, b) in enumerate(zip(oj["bufferViews"], nj["bufferViews"])):
        if i not in own_views:
            oa, na = a.get("byteOffset", 0), b.get("byteOffset", 0)
            assert ob[oa:oa + a["byteLength"]] == nb[na:na + b["byteLength"]], f"bufferViews[{i}]"
    old_mesh, new_mesh = read_skin_glb(old, "a"), read_skin_glb(new, "b")
    assert np.array_equal(old_mesh.joints, new_mesh.joints) and np.array_equal(old_mesh.weights, new_mesh.weights)
    assert len(oj["skins"][0]["joints"]) > 4 and ((new_mesh.weights > 0).sum(axis=1) > 1).any()  # a real skeleton


def test_offset_ply_vertex_order_and_carried_files(alice, pear_zip, in_memory):
    from plyfile import PlyData
    import io

    m = zip_members(pear_zip)
    ply = PlyData.read(io.BytesIO(m["pear/offset.ply"]))["vertex"]
    scales = np.exp(np.stack([ply[f"scale_{k}"] for k in range(3)], axis=1))
    assert np.allclose(scales, in_memory.cloud.scales, rtol=1e-5)
    offsets = np.stack([ply[c] for c in "xyz"], axis=1)
    assert np.array_equal(offsets, in_memory.cloud.offsets)  # the ratio leaves offsets and rotations alone
    order = json.loads(m["pear/vertex_order.json"])
    y = in_memory.head_sub.v_template[:, 1]
    assert sorted(order) == list(range(len(y))) and (np.diff(y[order]) >= 0).all()  # LAM's rule: by height
    a = zip_members(alice)
    assert m["pear/animation.glb"] == a["alice/animation.glb"] and m["pear/bsData.json"] == a["alice/bsData.json"]
    note = json.loads(m["pear/avatarcheck_edit.json"])
    assert note["correction"] == "ratio" and note["edit"]["params"]["strength"] == 2.0
    assert set(note["vertex_sets"]) >= {"eyeball_left", "eye_region_right", "face", "neck"}


def test_read_back_by_our_reader_and_trimesh(pear_zip, in_memory):
    back = load_avatar_source(pear_zip)
    assert back.info.kind == "oac" and any("midpoints up to" in n for n in back.info.notes)
    a = back.avatar
    assert np.array_equal(a.head_sub.v_template, in_memory.head_sub.v_template)
    assert np.array_equal(np.delete(a.head_sub.arkit_basis, arkit_index("tongueOut"), 0),
                          np.delete(in_memory.head_sub.arkit_basis, arkit_index("tongueOut"), 0))
    for k, ids in in_memory.head.vertex_sets.items():
        assert np.array_equal(a.head.vertex_sets[k], ids), k
    trimesh = pytest.importorskip("trimesh")
    scene = trimesh.load(trimesh.util.wrap_as_stream(zip_members(pear_zip)["pear/skin.glb"]), file_type="glb",
                         process=False)
    (geom,) = scene.geometry.values()
    assert len(geom.vertices) == a.head_sub.num_vertices and len(geom.faces) == len(a.head_sub.faces)


_VALIDATE_JS = """
const validator = require(process.argv[1]);
const fs = require('fs');
(async () => {
  const out = [];
  for (const file of process.argv.slice(2)) {
    const r = await validator.validateBytes(new Uint8Array(fs.readFileSync(file)));
    out.push({errors: r.issues.numErrors, warnings: r.issues.numWarnings,
              messages: r.issues.messages.filter(m => m.severity <= 1).map(m => m.code + ' ' + m.pointer)});
  }
  console.log(JSON.stringify(out));
})().catch(e => { console.error(String(e)); process.exit(2); });
"""


def test_written_glbs_pass_khronos_validator(pear_zip, work):
    node = shutil.which("node")
    if node is None or not (VALIDATOR / "package.json").is_file():
        pytest.skip("needs node and `npm install --prefix .gl gltf-validator`")
    files = []
    for name in ("skin.glb", "animation.glb"):
        files.append(work / f"validate_{name}")
        files[-1].write_bytes(zip_members(pear_zip)[f"pear/{name}"])
    run = subprocess.run([node, "-e", _VALIDATE_JS, str(VALIDATOR), *map(str, files)], capture_output=True,
                         text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert [(r["errors"], r["warnings"]) for r in json.loads(run.stdout)] == [(0, 0), (0, 0)], run.stdout


# -- other corrections and the LAM infer format ---------------------------------------------------------

def test_jacobian_and_offsets_corrections_land_in_the_ply(alice, alice_read, work):
    from avatarcheck.edit.overrides import OverrideArrays, apply_override_arrays
    from avatarcheck.edit.registry import bake_edit
    from avatarcheck.export.edited_oac import write_edited_oac

    assets = bake_edit(alice_read.avatar, "chibi", PEAR, name="pear")
    edited = apply_override_arrays(alice_read.avatar, OverrideArrays.from_assets(
        assets, ("xyz", "arkit_bs", "jacobians", "offsets_j")))
    write_edited_oac(alice_read, edited, work / "jac.zip", {"correction": "test"})
    c = load_avatar_source(work / "jac.zip").avatar.cloud
    assert np.allclose(c.offsets, np.einsum("nij,nj->ni", assets.jacobians, alice_read.avatar.cloud.offsets),
                       atol=1e-6)
    assert np.allclose(np.abs((c.quats * edited.cloud.quats).sum(1)), 1, atol=1e-5)  # rotations changed too
    assert not np.allclose(np.abs((c.quats * alice_read.avatar.cloud.quats).sum(1)), 1, atol=1e-3)
    assert np.allclose(c.scales, edited.cloud.scales, rtol=1e-5)


def test_lam_infer_input_gives_lam_infer_output(work):
    r = CliRunner().invoke(app, ["avatar", "export", "--avatar", "synthetic:lam-trained", "--format", "lam-infer",
                                 "--out", str(work / "bob")])
    assert r.exit_code == 0, r.output
    r = _bake("--avatar", work / "bob", "--format", "lam", "--correction", "ratio+offsets", "--out", work / "bob_pear")
    assert r.exit_code == 0, r.output
    assert {p.name for p in (work / "bob_pear").iterdir()} == {"bob_pear_shaped_mesh.obj", "bob_pear_gs_offset.ply",
                                                               "flame", "avatarcheck_edit.json"}
    back = load_avatar_source(work / "bob_pear")
    src = load_avatar_source(work / "bob").avatar
    from avatarcheck.edit.registry import bake_edit

    assets = bake_edit(src, "chibi", PEAR, name="pear")
    assert back.info.kind == "lam-infer"
    assert back.info.edited.startswith("edited by avatarcheck bake") and "pear" in back.info.edited
    assert load_avatar_source(work / "bob").info.edited == ""
    assert np.array_equal(back.avatar.head_sub.v_template, assets.edited_sub)  # midpoints as the edit put them
    assert np.array_equal(back.avatar.head.arkit_basis, assets.basis)
    assert np.allclose(back.avatar.cloud.scales, src.cloud.scales * assets.ratio[:, None], rtol=1e-5)


def test_gating_a_baked_avatar_says_it_is_an_edit_of_an_edit(pear_zip, alice, work):
    """``gate --avatar fixed.zip`` deforms the fixed avatar again: the CLI and the report say so, and point at
    ``bake --prove``; the avatar it was made from gets no such warning."""
    from tests.test_catalogue import FAST_GATE

    (work / "tiny.toml").write_text(FAST_GATE)
    outputs = {}
    for name, avatar in (("pear", pear_zip), ("alice", alice)):
        r = CliRunner().invoke(app, ["gate", "--gate", str(work / "tiny.toml"), "--avatar", str(avatar), "--backend",
                                     "cpu", "--report-dir", str(work / f"reports_{name}")], env={"COLUMNS": "1000"})
        assert r.exit_code in (0, 1), r.output
        html = (work / f"reports_{name}" / "latest" / "index.html").read_text()
        outputs[name] = (" ".join(r.output.split()), html)
    out, html = outputs["pear"]
    assert "Already an edit (edited by avatarcheck bake" in out and "edit of an edit" in out
    assert "bake --avatar ORIGINAL ... --prove" in out and "correction ratio). The gate's" in out
    assert "Already an edit (edited by avatarcheck bake" in html
    assert all("Already an edit" not in text for text in outputs["alice"])


# -- bad input -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("args, words", [
    (["--format", "gltf"], "overrides | oac | lam"),
    (["--format", "oac", "--correction", "lots"], "ratio+offsets"),
    (["--correction", "ratio"], "--format oac or lam"),
    (["--force"], "--format oac or lam"),
    (["--format", "oac", "--jacobians"], "--correction jacobian"),
])
def test_option_misuse_exits_2(alice, work, args, words):
    r = _bake("--avatar", alice, "--out", work / "misuse.zip", *args)
    assert r.exit_code == 2 and words in r.output, r.output
    assert not (work / "misuse.zip").exists()


def test_oac_output_must_be_a_zip_and_lam_needs_coarse_morphs(alice, work):
    r = _bake("--avatar", alice, "--format", "oac", "--out", work / "folder_out")
    assert r.exit_code == 2 and ".zip" in r.output
    r = _bake("--avatar", alice, "--format", "lam", "--out", work / "lam_out")
    assert r.exit_code == 2 and "use --format oac" in r.output and not (work / "lam_out").exists()


def test_existing_output_needs_force(alice, pear_zip, work):
    target = work / "taken.zip"
    target.write_bytes(b"keep me")
    r = _bake("--avatar", alice, "--format", "oac", "--out", target)
    assert r.exit_code == 2 and "--force" in r.output and target.read_bytes() == b"keep me"
    r = _bake("--avatar", alice, "--format", "oac", "--out", target, "--force")
    assert r.exit_code == 0, r.output
    assert zip_members(target)["taken/skin.glb"] == zip_members(pear_zip)["pear/skin.glb"]  # deterministic


def test_output_inside_the_input_is_refused(alice, work):
    folder = work / "alice_folder"
    with zipfile.ZipFile(alice) as zf:
        zf.extractall(folder)
    before = sorted(p.relative_to(folder) for p in folder.rglob("*"))
    for out, fmt, force in ((alice, "oac", True), (folder / "alice" / "x.zip", "oac", False),
                            (work, "lam", True)):
        r = _bake("--avatar", folder if out != alice else alice, "--format", fmt, "--out", out,
                  *(["--force"] if force else []))
        assert r.exit_code == 2 and "input avatar" in r.output, r.output
    assert sorted(p.relative_to(folder) for p in folder.rglob("*")) == before
    assert zipfile.ZipFile(alice).testzip() is None


@pytest.mark.parametrize("drop, word", [("animation.glb", "animation.glb"), ("offset.ply", "offset.ply")])
def test_oac_input_with_missing_parts(alice, work, drop, word):
    bad = rezip({k: v for k, v in zip_members(alice).items() if not k.endswith(drop)}, work / f"no_{drop}.zip")
    r = _bake("--avatar", bad, "--format", "oac", "--out", work / f"from_no_{drop}.zip")
    assert r.exit_code == 2 and word in r.output, r.output
    assert not (work / f"from_no_{drop}.zip").exists()


def test_a_sculpt_of_another_mesh_is_refused(alice, work):
    from avatarcheck.io.obj import write_obj

    write_obj(work / "tetra.obj", np.eye(3).tolist() + [[0, 0, 0]], [[0, 1, 2], [0, 2, 3], [0, 3, 1], [1, 3, 2]])
    r = _bake("--avatar", alice, "--format", "oac", "--mesh", work / "tetra.obj", "--out", work / "sculpt.zip")
    assert r.exit_code == 2 and "tetra.obj" in r.output and not (work / "sculpt.zip").exists()


def test_an_edit_of_another_avatar_is_refused(alice_read, work):
    import dataclasses

    from avatarcheck.export.edited_oac import write_edited_oac

    other = load_avatar_source("synthetic").avatar
    wrong = dataclasses.replace(other, head_sub=other.head_sub.replace(faces=other.head_sub.faces[::-1].copy()))
    with pytest.raises(InputError, match="edited mesh"):
        write_edited_oac(alice_read, wrong, work / "wrong.zip", {})
    assert not (work / "wrong.zip").exists()


def test_a_failed_read_back_writes_nothing(alice_read, in_memory, work, monkeypatch):
    """The members are checked before the zip is written: a writer bug leaves no file and no temp file."""
    import avatarcheck.export.read_back as read_back
    from avatarcheck.export.edited_oac import write_edited_oac

    folder = work / "atomic"
    folder.mkdir()
    monkeypatch.setattr(read_back, "SPLAT_RTOL", 0.0)  # log scales through float32 PLY columns then "differ"
    with pytest.raises(InputError, match="scales differ"):
        write_edited_oac(alice_read, in_memory, folder / "x.zip", {})
    assert list(folder.iterdir()) == []


def test_a_reader_refuses_a_mesh_changed_after_the_bake(pear_zip, work):
    m = zip_members(pear_zip)
    glb = bytearray(m["pear/skin.glb"])
    glb[-4:] = b"\0\0\0\1"  # one byte of the BIN chunk's padding or data
    m["pear/skin.glb"] = bytes(glb)
    with pytest.raises(InputError, match="changed after the bake"):
        load_avatar_source(rezip(m, work / "tampered.zip"))
    del m["pear/avatarcheck_edit.json"]  # without the note the midpoints are checked as LAM's
    with pytest.raises(InputError, match="midpoint"):
        load_avatar_source(rezip(m, work / "unvouched.zip"))


def test_rewriter_refuses_normals_and_missing_targets(alice):
    from avatarcheck.io.glb_rewrite import pack_glb, rewrite_skin_glb

    data = zip_members(alice)["alice/skin.glb"]
    mesh = read_skin_glb(data, "skin.glb")
    targets = dict(zip(mesh.target_names, mesh.target_deltas))
    with pytest.raises(InputError, match="morph targets"):
        rewrite_skin_glb(data, "skin.glb", mesh.positions, {k: v for k, v in targets.items() if k != "jawOpen"})
    js, blob = split_glb(data, "skin.glb", 1 << 30)
    doc = json.loads(js)
    doc["meshes"][0]["primitives"][0]["attributes"]["NORMAL"] = doc["meshes"][0]["primitives"][0]["attributes"][
        "POSITION"]
    with pytest.raises(InputError, match="NORMAL"):
        rewrite_skin_glb(pack_glb(doc, blob), "skin.glb", mesh.positions, targets)


def test_prove_prints_both_verdicts_and_fails_on_the_written_one(alice, work, monkeypatch):
    """``--prove`` gates what it reads back from the written file beside the edit in memory (``export/proof.py``,
    whose numbers ``test_bake_oac_gate.py`` checks); here the gate is a stand-in returning one failing check."""
    import avatarcheck.export.proof as proof
    from avatarcheck.gate.result import CheckResult

    seen = {}

    def fake_prove(spec, inputs, backend, avatars):
        seen.update(avatars)
        row = dict(item_id="x/post-fix/full_blink/leak_max", edit="x", variant="post-fix", moment="full_blink",
                   check="leak_max", stat="leak_max", eye="left", op="<=", threshold=0.12, expected="pass", message="")
        return {"in memory": [CheckResult(value=0.05, passed=True, ok=True, **row)],
                "written": [CheckResult(value=0.5, passed=False, ok=False, **row)]}

    monkeypatch.setattr(proof, "prove", fake_prove)
    monkeypatch.chdir(work)
    r = _bake("--avatar", alice, "--format", "oac", "--out", work / "proved.zip", "--prove")
    assert r.exit_code == 1, r.output
    assert "0.0500 pass" in r.output and "0.5000 FAIL" in r.output and "DIFFER" in r.output
    assert set(seen) == {"in memory", "written"}
    assert np.array_equal(seen["written"].head_sub.v_template, seen["in memory"].head_sub.v_template)
