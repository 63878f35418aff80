"""Avatar sources end to end: LAM's OAC zip / folder and infer output, written by our writers and read back,
the embedded flavours, detection by content, and the bad inputs a real user's folder holds."""

import json
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest

from avatarcheck.arkit import arkit_index
from avatarcheck.errors import InputError
from avatarcheck.sources import LoadOptions, detect_source, load_avatar_source
from tests.conftest import rezip, zip_members


@pytest.fixture(scope="module")
def trained():
    return load_avatar_source("synthetic:lam-trained").avatar


@pytest.fixture(scope="module")
def oac_zip(trained, tmp_path_factory):
    from avatarcheck.export.oac import write_oac

    return write_oac(trained, tmp_path_factory.mktemp("oac") / "alice.zip", "alice")


@pytest.fixture(scope="module")
def oac_read(oac_zip):
    return load_avatar_source(oac_zip)


# -- the written zip is LAM's layout ------------------------------------------------------------------

def test_zip_holds_lams_four_members_in_one_folder(oac_zip):
    names = sorted(zip_members(oac_zip))
    assert names == [f"alice/{n}" for n in ("animation.glb", "offset.ply", "skin.glb", "vertex_order.json")]


def test_offset_ply_is_lams_layout(oac_zip):
    data = zip_members(oac_zip)["alice/offset.ply"]
    header = data[: data.index(b"end_header")].decode()
    props = [line.split()[-1] for line in header.splitlines() if line.startswith("property")]
    assert props == ["x", "y", "z", "nx", "ny", "nz", "f_dc_0", "f_dc_1", "f_dc_2", "opacity",
                     "scale_0", "scale_1", "scale_2", "rot_0", "rot_1", "rot_2", "rot_3"]


def test_skin_glb_has_51_named_targets_in_a_body_frame(oac_zip):
    from avatarcheck.io.glb import read_skin_glb

    mesh = read_skin_glb(zip_members(oac_zip)["alice/skin.glb"], "skin.glb")
    assert len(mesh.target_names) == 51 and "tongueOut" not in mesh.target_names
    y = mesh.positions[:, 1]
    assert 1.3 < y.min() < y.max() < 2.0  # LAM's heads stand at y 1.48-1.80 m


# -- read back ------------------------------------------------------------------------------------------

def test_detected_by_content_not_suffix(oac_zip, tmp_path):
    odd = tmp_path / "avatar.bin"
    shutil.copy(oac_zip, odd)
    assert detect_source(odd)[0].name == "oac"
    assert load_avatar_source(odd).info.kind == "oac"


def test_mesh_and_splats_come_back(trained, oac_read):
    a = oac_read.avatar
    shift = a.head_sub.v_template - trained.head_sub.v_template
    assert np.allclose(shift, shift[0], atol=2e-6) and abs(shift[0, 1]) > 1.0  # one rigid translation
    assert np.array_equal(a.head_sub.faces, trained.head_sub.faces)
    assert np.array_equal(a.head.faces, trained.head.faces)
    c, t = a.cloud, trained.cloud
    assert np.allclose(c.offsets, t.offsets, atol=1e-7)
    assert np.allclose(c.scales, t.scales, rtol=1e-5)
    assert np.allclose(c.opacities, np.clip(t.opacities, 1e-3, 1 - 1e-3), atol=1e-5)
    assert np.allclose(c.rgb, np.clip(t.rgb, 0, 1), atol=1e-5)
    assert np.allclose(np.abs((c.quats * t.quats).sum(1)), 1, atol=1e-5)


def test_basis_by_name_and_tongue_named(trained, oac_read):
    a = oac_read.avatar
    for name in ("eyeBlinkLeft", "jawOpen", "mouthSmileRight"):
        k = arkit_index(name)
        assert np.allclose(a.head_sub.arkit_basis[k], trained.head_sub.arkit_basis[k], atol=1e-7)
    assert not a.head_sub.arkit_basis[arkit_index("tongueOut")].any()
    assert any("tongueOut" in n for n in oac_read.info.notes)


def test_eyeballs_found_from_gaze_targets(trained, oac_read):
    a = oac_read.avatar
    for side in ("left", "right"):
        assert np.array_equal(np.sort(a.head.vertex_sets[f"eyeball_{side}"]),
                              np.sort(trained.head.vertex_sets[f"eyeball_{side}"]))
        k = arkit_index(f"eyeLookDown{side.capitalize()}")
        moved = np.nonzero(np.linalg.norm(a.head.arkit_basis[k], axis=1) > 1e-6)[0]
        assert set(moved) <= set(a.head.vertex_sets[f"eyeball_{side}"].tolist())


def test_neutral_render_matches_the_in_memory_avatar(trained, oac_read):
    from avatarcheck.render.api import render
    from avatarcheck.render.camera import head_camera

    zero = np.zeros((1, 52), np.float32)
    imgs = []
    region = np.concatenate([trained.head_sub.vertex_sets[f"eye_region_{s}"] for s in ("left", "right")])
    for av in (trained, oac_read.avatar):  # the same framing of each one's own vertices
        cam = head_camera(av.head_sub.v_template, size=96, region=region, margin=1.25)
        imgs.append(render(av.state("rgb", arkit52=zero), cam, "cpu").rgb[0])
    assert np.abs(imgs[0].astype(float) - imgs[1].astype(float)).mean() < 2e-3


def test_unpacked_folder_reads_the_same(oac_zip, oac_read, tmp_path):
    with zipfile.ZipFile(oac_zip) as zf:
        zf.extractall(tmp_path)
    folder = load_avatar_source(tmp_path / "alice")
    assert folder.info.kind == "oac"
    assert np.array_equal(folder.avatar.head_sub.v_template, oac_read.avatar.head_sub.v_template)
    parent = load_avatar_source(tmp_path)  # the folder holding LAM's one avatar folder
    assert np.array_equal(parent.avatar.cloud.scales, oac_read.avatar.cloud.scales)


def test_rewrite_of_a_read_avatar_is_lossless(oac_read, tmp_path):
    from avatarcheck.export.oac import write_oac

    again = load_avatar_source(write_oac(oac_read.avatar, tmp_path / "again.zip", "alice"))
    assert np.array_equal(again.avatar.head_sub.v_template, oac_read.avatar.head_sub.v_template)
    assert np.array_equal(again.avatar.head_sub.arkit_basis, oac_read.avatar.head_sub.arkit_basis)


def test_edits_reevaluate_a_subdivided_basis(trained, oac_read):
    from avatarcheck.edit.overrides import OverrideArrays, apply_override_arrays
    from avatarcheck.edit.registry import bake_edit

    a = oac_read.avatar
    a_sub = a.__class__(a.head, a.head_sub.replace(arkit_basis=a.head_sub.arkit_basis * 1.01), a.topology, a.cloud)
    assert a_sub.basis_on_subdivided
    assets = bake_edit(a_sub, "chibi", {"preset": "pear", "strength": 2.0})
    assert assets.basis.shape == (52, a.head_sub.num_vertices, 3)
    edited = apply_override_arrays(a_sub, OverrideArrays.from_assets(assets, {"xyz", "arkit_bs", "scale_ratio"}))
    assert np.array_equal(edited.head_sub.arkit_basis, assets.basis)
    # the chibi field is placed by the mesh's own extent: the same ratio as on the in-memory avatar
    ref = bake_edit(trained, "chibi", {"preset": "pear", "strength": 2.0})
    assert np.allclose(assets.ratio, ref.ratio, rtol=1e-3)


# -- bad OAC inputs -------------------------------------------------------------------------------------

def test_missing_member_named(oac_zip, tmp_path):
    m = {k: v for k, v in zip_members(oac_zip).items() if not k.endswith("offset.ply")}
    with pytest.raises(InputError, match="offset.ply"):
        load_avatar_source(rezip(m, tmp_path / "x.zip"))


def test_wrong_splat_count_named(trained, oac_zip, tmp_path):
    from avatarcheck.splats.ply import write_ply

    c = trained.cloud
    cut = c.replace(**{k: getattr(c, k)[:-5] for k in ("offsets", "scales", "quats", "opacities", "sh", "labels")})
    write_ply(tmp_path / "cut.ply", cut, np.zeros((cut.num_splats, 3), np.float32), layout="lam")
    m = zip_members(oac_zip)
    m["alice/offset.ply"] = (tmp_path / "cut.ply").read_bytes()
    with pytest.raises(InputError, match="offset.ply: vertex count"):
        load_avatar_source(rezip(m, tmp_path / "x.zip"))


def _with_mesh(oac_zip, tmp_path, **changes):
    import dataclasses

    from avatarcheck.io.glb import read_skin_glb, write_skin_glb

    m = zip_members(oac_zip)
    mesh = read_skin_glb(m["alice/skin.glb"], "skin.glb")
    m["alice/skin.glb"] = write_skin_glb(dataclasses.replace(mesh, **{k: f(mesh) for k, f in changes.items()}))
    return rezip(m, tmp_path / "x.zip")


def test_triangles_not_in_subdivision_order(oac_zip, tmp_path):
    bad = _with_mesh(oac_zip, tmp_path, triangles=lambda m: np.roll(m.triangles, 1, axis=0))
    with pytest.raises(InputError, match="skin.glb: faces"):
        load_avatar_source(bad)


def test_midpoint_moved_off_its_edge(oac_zip, tmp_path):
    def moved(m):
        p = m.positions.copy()
        p[-1, 0] += 0.001
        return p

    with pytest.raises(InputError, match="midpoint"):
        load_avatar_source(_with_mesh(oac_zip, tmp_path, positions=moved))


def test_missing_blink_target_named(oac_zip, tmp_path):
    keep = lambda m: [i for i, n in enumerate(m.target_names) if n != "eyeBlinkLeft"]  # noqa: E731
    bad = _with_mesh(oac_zip, tmp_path, target_names=lambda m: tuple(m.target_names[i] for i in keep(m)),
                     target_deltas=lambda m: m.target_deltas[keep(m)])
    with pytest.raises(InputError, match="eyeBlinkLeft"):
        load_avatar_source(bad)


def test_non_arkit_target_name_refused(oac_zip, tmp_path):
    bad = _with_mesh(oac_zip, tmp_path, target_names=lambda m: ("blink",) + tuple(m.target_names[1:]))
    with pytest.raises(InputError, match="ARKit-52"):
        load_avatar_source(bad)


def test_bad_vertex_order_named(oac_zip, tmp_path):
    m = zip_members(oac_zip)
    m["alice/vertex_order.json"] = json.dumps([0, 0, 1]).encode()
    with pytest.raises(InputError, match="vertex_order.json"):
        load_avatar_source(rezip(m, tmp_path / "x.zip"))


def test_not_an_avatar(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(InputError, match="--avatar"):
        detect_source(tmp_path)
    with pytest.raises(InputError, match="no such path"):
        detect_source(tmp_path / "nope.zip")


# -- LAM's infer output ---------------------------------------------------------------------------------

def test_lam_infer_round_trip(trained, tmp_path):
    from avatarcheck.export.lam_infer import write_lam_infer

    folder = write_lam_infer(trained, tmp_path / "bob", "bob")
    assert (folder / "bob_gs_offset.ply").is_file() and (folder / "bob_shaped_mesh.obj").is_file()
    loaded = load_avatar_source(folder)
    assert loaded.info.kind == "lam-infer"
    assert np.allclose(loaded.avatar.head_sub.v_template, trained.head_sub.v_template, atol=1e-6)
    assert np.allclose(loaded.avatar.cloud.offsets, trained.cloud.offsets, atol=1e-7)
    assert any("lam PLY layout" in n for n in loaded.info.notes)


def test_lam_infer_without_flame_assets(trained, tmp_path):
    from avatarcheck.export.lam_infer import write_lam_infer

    folder = write_lam_infer(trained, tmp_path / "bob", "bob")
    shutil.rmtree(folder / "flame")
    with pytest.raises(InputError, match="FLAME assets"):
        load_avatar_source(folder)


def test_ply_layout_forced_changes_placement(trained, tmp_path):
    from avatarcheck.export.lam_infer import write_lam_infer

    folder = write_lam_infer(trained, tmp_path / "bob", "bob")
    auto = load_avatar_source(folder).avatar.cloud
    forced = load_avatar_source(folder, LoadOptions(ply_layout="3dgs")).avatar.cloud
    assert np.abs(forced.offsets - auto.offsets).max() > 0.01


# -- embedded flavours ----------------------------------------------------------------------------------

def test_embedded_flavours():
    assert load_avatar_source(None).info.calibrated
    t = load_avatar_source("synthetic:lam-trained")
    assert t.info.calibrated and t.info.kind == "embedded"   # trained verdicts: tests/test_verdicts_trained.py
    assert not load_avatar_source("synthetic:lam-broken").info.calibrated
    with pytest.raises(InputError, match="synthetic flavour"):
        load_avatar_source("synthetic:nope")


def test_macos_zip_debris_is_ignored(oac_zip, oac_read, tmp_path):
    """Real LAM zips passed around by hand carry macOS debris (``__MACOSX/._*`` resource forks, ``.DS_Store``)
    and extra files (one public export adds ``bsData.json``): none of it is read."""
    m = zip_members(oac_zip)
    m.update({"__MACOSX/._alice": b"\x00\x05\x16\x07junk", "__MACOSX/alice/._offset.ply": b"\x00\x05\x16\x07",
              "__MACOSX/alice/._skin.glb": b"\x00\x05\x16\x07", "alice/.DS_Store": b"\x00\x00\x00\x01Bud1",
              "alice/bsData.json": b"{}"})
    loaded = load_avatar_source(rezip(m, tmp_path / "mac.zip"))
    assert np.array_equal(loaded.avatar.cloud.scales, oac_read.avatar.cloud.scales)
