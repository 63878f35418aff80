"""Hardening of the sculpt bake and the asset folder (audit 2026-12-05, N6, N11, N12).

N6: ``bake --mesh`` applies the override layer's limits at bake time, so whatever it bakes the
renderer accepts, and what it refuses is named by the OBJ, the field and what was expected.
N11: a bake removes every asset file of an earlier bake it does not rewrite.
N12: degenerate sculpts: errors in the file's own 1-based vertex numbers, a few welded faces bake
with a warning (the vertices left without a face take their neighbours' Jacobian), an overflow is
reported as an out-of-range coordinate.
"""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from avatarcheck.avatar import synthetic_avatar
from avatarcheck.edit.base import MANIFEST_FILE, asset_files, save_assets
from avatarcheck.edit.mesh_edit import SculptWarning, bake_mesh, bake_mesh_file
from avatarcheck.edit.overrides import MAX_COORD_M, PLAUSIBLE_FACTOR, OverrideSettings, apply_overrides
from avatarcheck.edit.registry import bake_edit
from avatarcheck.errors import InputError
from avatarcheck.io.obj import write_obj


@pytest.fixture(scope="module")
def av():
    return synthetic_avatar()


@pytest.fixture(scope="module")
def coarse(av) -> np.ndarray:
    return np.asarray(av.head.v_template, np.float64)


def _obj(tmp_path: Path, av, v: np.ndarray, name: str = "sculpt.obj") -> Path:
    path = tmp_path / name
    faces = av.head.faces if len(v) == av.head.num_vertices else av.head_sub.faces
    write_obj(path, v, faces)
    return path


def _refused(av, path: Path, **kw) -> InputError:
    with pytest.raises(InputError) as info:
        bake_mesh_file(av, path, **kw)
    err = info.value
    assert err.source == str(path), err  # the OBJ is named
    assert "vertex_jacobians" not in str(err) and "log(boost)" not in str(err)
    return err


def _vertex_numbers(message: str) -> list[int]:
    """Every number the message gives as a vertex of the file ('vertex 12', 'vertices 3 and 4')."""
    nums = []
    for m in re.finditer(r"vertex (\d+)|vertices (\d+) and (\d+)", message):
        nums += [int(g) for g in m.groups() if g]
    return nums


# -- N6: units, spikes, vertex order, noise, mirrors ------------------------------------------------

@pytest.mark.parametrize("factor, unit, hint", [(100.0, "centimetres", "0.01"), (1000.0, "millimetres", "0.001"),
                                                (1e6, "micrometres", "1e-06"), (0.001, "kilometres", "1000")])
def test_a_sculpt_in_other_units_is_refused_with_the_scale_to_apply(av, coarse, tmp_path, factor, unit, hint):
    err = _refused(av, _obj(tmp_path, av, coarse * factor))
    assert err.field == "v" and "metres" in err.expected
    assert unit in err.got and f"scale it by {hint}" in err.got, err


def test_a_vertex_a_kilometre_away_is_refused_by_its_obj_number(av, coarse, tmp_path):
    v = coarse.copy()
    v[1234, 2] += 1000.0
    err = _refused(av, _obj(tmp_path, av, v))
    assert f"+-{MAX_COORD_M:g} m" in err.expected and "vertex 1235" in err.got and "1-based" in err.got, err


@pytest.mark.parametrize("mutation", ["shuffled", "noise"])
def test_shuffled_or_noisy_vertices_are_refused(av, coarse, tmp_path, mutation):
    rng = np.random.default_rng(3)
    v = coarse[rng.permutation(len(coarse))] if mutation == "shuffled" else coarse + rng.normal(0, 0.05, coarse.shape)
    err = _refused(av, _obj(tmp_path, av, v))
    assert f"{PLAUSIBLE_FACTOR:g}x" in err.expected, err
    assert "vertex order" in err.got and "1-based" in err.got, err
    assert max(_vertex_numbers(err.got)) <= len(coarse)


def test_a_mirrored_sculpt_is_refused(av, coarse, tmp_path):
    v = coarse * np.array([-1.0, 1.0, 1.0])
    err = _refused(av, _obj(tmp_path, av, v))
    assert "mirror" in err.got and "det" in err.got, err


def test_a_sculpt_gate_edit_gets_the_same_errors(av, coarse, tmp_path):
    path = _obj(tmp_path, av, coarse * 100.0)
    with pytest.raises(InputError, match="centimetres") as info:
        bake_edit(av, "mesh", {"path": str(path)}, name="sculpt")
    assert info.value.source == str(path)


def test_an_edit_beside_a_mesh_is_a_conflict(av, coarse, tmp_path):
    path = _obj(tmp_path, av, coarse)
    with pytest.raises(InputError, match="--edit") as info:
        bake_mesh_file(av, path, edit="anime_eyes")
    assert "anime_eyes" in info.value.got and "--mesh" in info.value.expected
    bake_mesh_file(av, path, edit="mesh")  # the sculpt's own kind is no conflict


def test_plausible_sculpts_still_bake_unchanged(av):
    pear = bake_edit(av, "chibi", {"preset": "pear", "strength": 2.0}, rigid_eyes=False).edited_sub
    anime = bake_edit(av, "anime_eyes", {}, rigid_eyes=False).edited_sub
    for sculpt in (pear, anime, pear[:av.head.num_vertices]):
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no fallback warning for a clean sculpt
            bake_mesh(av, sculpt)


@settings(max_examples=12, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(scale=st.sampled_from([0.04, 0.3, 1.0, 3.0, 30.0]), noise=st.sampled_from([0.0, 0.001, 0.02]),
       spike=st.sampled_from([0.0, 0.05, 5.0, 50.0]), seed=st.integers(0, 2**16))
@example(scale=3.0, noise=0.0, spike=0.0, seed=0)  # accepted: the override path below runs
@example(scale=1.0, noise=0.0, spike=0.001, seed=1)  # a 1 mm bump: accepted
def test_whatever_the_bake_accepts_the_override_layer_accepts(av, coarse, tmp_path_factory, scale, noise, spike, seed):
    rng = np.random.default_rng(seed)
    v = coarse * scale + rng.normal(0, noise, coarse.shape)
    v[rng.integers(len(v))] += spike
    folder = tmp_path_factory.mktemp("prop")
    path = _obj(folder, av, v)
    try:
        assets = bake_mesh_file(av, path)
    except InputError as err:
        assert err.source == str(path)
        return
    manifest = save_assets(assets, folder / "out", av.head_sub.faces, jacobians=True)
    files = {g: folder / "out" / f for g, f in manifest["files"].items()}
    apply_overrides(av, OverrideSettings(edit_xyz_obj=files["xyz"], arkit_bs=files["arkit_bs"],
                                         scale_ratio=files["scale_ratio"]))
    apply_overrides(av, OverrideSettings(edit_xyz_obj=files["xyz"], arkit_bs=files["arkit_bs"],
                                         jacobians=files["jacobians"]))


# -- N12: degenerate sculpts -------------------------------------------------------------------------

def test_one_welded_face_bakes_with_a_warning_naming_its_vertices(av, coarse, tmp_path):
    v = coarse.copy()
    f = av.head.faces[0]
    v[f[1]] = v[f[2]] = v[f[0]]  # the audit's repro: a DCC "merge" of one face
    path = _obj(tmp_path, av, v, "weld.obj")
    with pytest.warns(SculptWarning) as record:
        assets = bake_mesh_file(av, path)
    message = str(record[0].message)
    assert str(path) in message and "1-based" in message
    assert set(_vertex_numbers(message)) <= {int(i) + 1 for i in f}, message
    # the vertices left without a face took their neighbours' Jacobian: finite, orientation-preserving
    det = np.linalg.det(assets.jacobians.astype(np.float64))
    assert np.isfinite(det).all() and (det > 0).all()
    folder = tmp_path / "out"
    manifest = save_assets(assets, folder, av.head_sub.faces, jacobians=True)
    files = {g: folder / f for g, f in manifest["files"].items()}
    apply_overrides(av, OverrideSettings(edit_xyz_obj=files["xyz"], jacobians=files["jacobians"]))


def test_neighbour_fill_spreads_ring_by_ring():
    from avatarcheck.edit.mesh_edit import neighbour_fill

    jac = np.zeros((5, 3, 3))
    jac[0], jac[4] = np.eye(3), 3 * np.eye(3)
    edges = np.array([[0, 1], [1, 2], [2, 3], [3, 4]])  # a chain: 0 - 1 - 2 - 3 - 4
    filled, have = neighbour_fill(jac, np.array([True, False, False, False, True]), edges)
    assert have.all()
    np.testing.assert_array_equal(filled[[1, 3]], [np.eye(3), 3 * np.eye(3)])  # first ring: its one neighbour
    np.testing.assert_array_equal(filled[2], 2 * np.eye(3))  # second ring: the mean of both
    _, have = neighbour_fill(jac, np.zeros(5, bool), edges)  # nothing known: nothing to spread
    assert not have.any()


def test_many_collapsed_faces_are_refused_in_the_files_numbering(av, coarse, tmp_path):
    v = coarse.copy()
    for f in av.head.faces[:2000]:
        v[f[1]] = v[f[2]] = v[f[0]]
    err = _refused(av, _obj(tmp_path, av, v))
    assert "degenerate" in err.expected and "1-based" in err.got, err
    nums = _vertex_numbers(err.got)
    assert nums and max(nums) <= len(coarse), err


def test_a_subdivided_sculpt_is_numbered_as_its_own_file(av, tmp_path):
    v = np.asarray(av.head_sub.v_template, np.float64).copy()
    for f in av.head_sub.faces[:8000]:
        v[f[1]] = v[f[2]] = v[f[0]]
    err = _refused(av, _obj(tmp_path, av, v))
    assert "midpoint" not in err.got and "1-based" in err.got
    assert max(_vertex_numbers(err.got)) <= av.head_sub.num_vertices


def test_a_sculpt_collapsed_to_a_point_is_not_called_degenerate_faces(av, coarse, tmp_path):
    err = _refused(av, _obj(tmp_path, av, np.zeros_like(coarse)))
    assert "extent" in err.expected and "face" not in err.got, err


def test_an_overflowing_vertex_is_an_out_of_range_coordinate(av, coarse, tmp_path):
    v = coarse.copy()
    v[17] = 1e30
    err = _refused(av, _obj(tmp_path, av, v))
    assert f"+-{MAX_COORD_M:g} m" in err.expected and "vertex 18" in err.got and "face" not in err.got, err


# -- N11: an asset folder holds one bake ---------------------------------------------------------------

ASSET = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*_(textured_mesh\.obj|arkit_bs\.npy|scale_ratio\.npy|j_per_vert\.npy)$")


def _assets_on_disk(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir() if ASSET.match(p.name)}


def _assert_one_bake(folder: Path) -> dict:
    manifest = json.loads((folder / MANIFEST_FILE).read_text())
    assert _assets_on_disk(folder) == set(manifest["files"].values())
    return manifest


@pytest.fixture(scope="module")
def bakes(av):
    return {"pear": bake_edit(av, "chibi", {"preset": "pear", "strength": 2.0}, name="pear"),
            "hourglass": bake_edit(av, "chibi", {"preset": "hourglass", "strength": 2.0}, name="hourglass"),
            "mesh": bake_mesh(av, av.head_sub.v_template * 1.1)}


def test_a_bake_without_jacobians_removes_the_previous_ones(av, bakes, tmp_path):
    save_assets(bakes["pear"], tmp_path, av.head_sub.faces, jacobians=True)
    assert asset_files("chibi")["jacobians"] in _assets_on_disk(tmp_path)
    save_assets(bakes["hourglass"], tmp_path, av.head_sub.faces)
    assert asset_files("chibi")["jacobians"] not in _assets_on_disk(tmp_path)
    assert _assert_one_bake(tmp_path)["edit"] == "hourglass"


@pytest.mark.parametrize("first, second", [("pear", "mesh"), ("mesh", "pear")])
def test_a_bake_of_another_kind_removes_the_first_kinds_files(av, bakes, tmp_path, first, second):
    (tmp_path / "notes.txt").write_text("mine")
    (tmp_path / "scale_ratio.npy").write_bytes(b"not an asset name: no kind prefix")
    save_assets(bakes[first], tmp_path, av.head_sub.faces, jacobians=True)
    save_assets(bakes[second], tmp_path, av.head_sub.faces)
    manifest = _assert_one_bake(tmp_path)
    assert manifest["kind"] == bakes[second].kind
    assert not any(n.startswith(f"{bakes[first].kind}_") for n in _assets_on_disk(tmp_path))
    assert (tmp_path / "notes.txt").read_text() == "mine" and (tmp_path / "scale_ratio.npy").exists()


def test_a_failed_bake_leaves_no_manifest_and_no_stale_assets(av, bakes, tmp_path, monkeypatch):
    save_assets(bakes["pear"], tmp_path, av.head_sub.faces, jacobians=True)
    import avatarcheck.io.atomic as atomic

    def boom(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(atomic, "save_npy_atomic", boom)
    with pytest.raises(OSError):
        save_assets(bakes["mesh"], tmp_path, av.head_sub.faces)
    assert not (tmp_path / MANIFEST_FILE).exists()
    assert not any(n.startswith("chibi_") for n in _assets_on_disk(tmp_path))


def test_a_fan_merged_into_its_centre_is_named_by_the_centre(av, tmp_path):
    v = np.asarray(av.head_sub.v_template, np.float64).copy()
    edges = av.topology.edges_sub
    centre = 4321
    ring = np.unique(edges[(edges == centre).any(axis=1)])
    v[ring] = v[centre]  # "merge at centre" of one vertex and its ring in a subdivided-resolution sculpt
    err = _refused(av, _obj(tmp_path, av, v))
    assert f"vertex {centre + 1}" in err.got and "1-based" in err.got, err


@pytest.mark.parametrize("extra", [["--edit", "anime_eyes"], ["--preset", "pear"], ["--strength", "2"],
                                   ["--param", "strength=2"]])
def test_bake_refuses_edit_options_beside_a_sculpt(av, coarse, tmp_path, extra):
    """``bake --mesh x.obj --edit anime_eyes`` used to bake the sculpt and ignore --edit (audit N6)."""
    from typer.testing import CliRunner

    from avatarcheck.cli import app

    obj = tmp_path / "sculpt.obj"
    write_obj(obj, coarse, av.head.faces)
    r = CliRunner().invoke(app, ["bake", "--mesh", str(obj), "--out", str(tmp_path / "o"), *extra])
    assert r.exit_code == 2, r.output
    assert extra[0] in r.output and "--mesh" in r.output
    assert not (tmp_path / "o" / MANIFEST_FILE).exists()


# One strength bound for every way an edit is named (the bake command, a gate file, a sweep, a catalogue
# manifest, the Python API): all go through edit.interface.checked_params.
@settings(max_examples=60, deadline=None)
@given(strength=st.floats(allow_nan=False, allow_infinity=False, width=64))
def test_the_strength_bound_is_one_rule_for_every_caller(strength):
    from avatarcheck.edit.interface import MAX_STRENGTH, checked_params
    from avatarcheck.edit.registry import edit_kind

    inside = 0.0 <= strength <= 10.0  # the documented bound, stated independently of the constant
    assert MAX_STRENGTH == 10.0
    if inside:
        out = checked_params(edit_kind("chibi"), {"preset": "pear", "strength": strength}, "api", "e")
        assert out["strength"] == strength
    else:
        with pytest.raises(InputError, match=r"api.*e\.strength.*\[0, 10\]"):
            checked_params(edit_kind("chibi"), {"preset": "pear", "strength": strength}, "api", "e")


def test_the_python_bake_refuses_an_overflowing_strength(av):
    with pytest.raises(InputError, match="strength"):
        bake_edit(av, "chibi", {"preset": "pear", "strength": 1e308}, source="notebook")
