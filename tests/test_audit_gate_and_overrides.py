"""Regression tests for the reliability audit's rows on the override variables, the gate configuration,
output paths and goldens (shared/audits/reliability-2026-11-25.md: D1, D2, D5, D9, D10, D15, D16, D18)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from avatarcheck.cli import app
from avatarcheck.edit.overrides import OverrideSettings, apply_overrides
from avatarcheck.errors import InputError
from avatarcheck.gate.spec import load_gate

runner = CliRunner()
GATE = '[tool.avatarcheck."three-moment"'


@pytest.fixture(scope="module")
def baked(tmp_path_factory):
    out = tmp_path_factory.mktemp("pear")
    r = runner.invoke(app, ["bake", "--preset", "pear", "--out", str(out)])
    assert r.exit_code == 0, r.output
    return out


def render_png(tmp_path, name, env=None, extra=()):
    out = tmp_path / name
    r = runner.invoke(app, ["render", "--backend", "cpu", "--size", "48", "--out", str(out), *extra], env=env or {})
    return r, out / "frame_0000.png"


# -- D1: the LAM_* variables reach the renderer ----------------------------------------------------

def test_render_applies_the_override_variables_and_says_so(tmp_path, baked, monkeypatch):
    for var in ("LAM_EDIT_XYZ_OBJ", "LAM_CHIBI_ARKIT_BS", "LAM_CHIBI_SCALE_RATIO", "LAM_CHIBI_SCALE_BOOST"):
        monkeypatch.delenv(var, raising=False)
    r0, plain = render_png(tmp_path, "plain")
    assert r0.exit_code == 0, r0.output and "overrides applied" not in r0.output
    env = {"LAM_EDIT_XYZ_OBJ": str(baked / "chibi_textured_mesh.obj"),
           "LAM_CHIBI_ARKIT_BS": str(baked / "chibi_arkit_bs.npy")}
    r1, edited = render_png(tmp_path, "edited", env)
    assert r1.exit_code == 0, r1.output
    assert "LAM_EDIT_XYZ_OBJ" in r1.output and "audit (error, scales)" in r1.output  # no ratio: a finding
    assert not np.array_equal(np.asarray(Image.open(plain)), np.asarray(Image.open(edited)))
    r2, _ = render_png(tmp_path, "fixed", {**env, "LAM_CHIBI_SCALE_RATIO": str(baked / "chibi_scale_ratio.npy")})
    assert r2.exit_code == 0 and "audit (error" not in r2.output


@pytest.mark.parametrize("env, field", [
    ({"LAM_CHIBI_SCALE_BOOST": "abc"}, "scale_boost"),
    ({"LAM_CHIBI_SCALE_BOOST": "1_5"}, "scale_boost"),       # float() would read 15
    ({"LAM_CHIBI_SCALE_BOOST": "\uff12"}, "scale_boost"),     # full-width 2
    ({"LAM_CHIBI_SCALE_BOOST": "0"}, "scale_boost"),
    ({"LAM_EDIT_XYZ_OBJ": "/nonexistent.obj"}, "nonexistent"),
])
def test_bad_override_variables_exit_2_naming_the_variable(tmp_path, env, field):
    r, png = render_png(tmp_path, "bad", env)
    assert r.exit_code == 2 and field in r.output and not png.exists()


# -- D15: the override layer's files ---------------------------------------------------------------

def test_override_files_of_the_wrong_kind_are_clear_errors(tmp_path, baked):
    from avatarcheck.avatar import synthetic_avatar

    av = synthetic_avatar()
    np.savez(tmp_path / "r.npz", ratio=np.ones(av.head_sub.num_vertices))
    np.save(tmp_path / "s.npy", np.array(["a"] * av.head_sub.num_vertices))
    nan_j = np.load(baked / "chibi_scale_ratio.npy")
    np.save(tmp_path / "j.npy", np.full((av.head_sub.num_vertices, 3, 3), np.nan, np.float32))
    cases = [(OverrideSettings(scale_ratio=tmp_path / "r.npz"), ".npz archive"),
             (OverrideSettings(scale_ratio=tmp_path / "s.npy"), "real-valued"),
             (OverrideSettings(jacobians=tmp_path / "j.npy"), "NaN/inf"),
             (OverrideSettings(edit_xyz_obj=tmp_path), "directory")]
    for settings, words in cases:
        with pytest.raises(InputError, match=words) as info:
            apply_overrides(av, settings)
        assert str(tmp_path) in str(info.value)
    assert nan_j.shape == (av.head_sub.num_vertices,)


# -- D5: the gate configuration schema -------------------------------------------------------------

@pytest.mark.parametrize("toml, key", [
    (f'{GATE}.gate]\napply_eye_rotation = "false"\n', "gate.apply_eye_rotation"),
    (f'{GATE}.gate]\nimagesize = 64\n', "gate.imagesize"),
    (f'{GATE}.gate]\nvisible = nan\n', "gate.visible"),
    (f'{GATE}.gate]\nvisible = -0.1\n', "gate.visible"),
    (f'{GATE}.gate]\ndilate_px = -1\n', "gate.dilate_px"),
    (f'{GATE}.gate]\ncurve_stride = 0\n', "gate.curve_stride"),
    (f'{GATE}.gate]\nimage_size = 0\n', "gate.image_size"),
    (f'{GATE}.gate]\nimage_size = 100000\n', "gate.image_size"),
    (f'{GATE}]\nexpect = "x"\n', "expect"),
    (f'{GATE}.expect.pre-fix]\nfull_blink = "fail"\n', "expect.pre-fix.full_blink"),
    (f'{GATE}]\ngolden = "x"\n', "golden"),
    (f'{GATE}.golden.cpu]\nssim_min = "x"\n', "golden.cpu.ssim_min"),
    (f'{GATE}.golden.cpu]\nssim_min = nan\n', "golden.cpu.ssim_min"),
    (f'{GATE}]\nchecks = [1]\n', "checks[0]"),
    (f'{GATE}]\nchecks = []\n', "checks"),
    (f'{GATE}]\nedits = [{{name = "/abs/path", preset = "pear"}}]\n', "edits[0].name"),
    (f'{GATE}]\nedits = [{{name = "..", preset = "pear"}}]\n', "edits[0].name"),
    (f'{GATE}]\nedits = [{{name = "a", preset = "bogus"}}]\n', "preset"),
    (f'{GATE}]\nedits = [{{name = "a", preset = "pear", strength = nan}}]\n', "edits[0].strength"),
    # the bound the bake command keeps (edit.interface.MAX_STRENGTH) holds in a gate file too
    (f'{GATE}]\nedits = [{{name = "a", preset = "pear", strength = 1e308}}]\n', "edits[0].strength"),
    (f'{GATE}]\nedits = [{{name = "a", preset = "pear", strength = -0.5}}]\n', "edits[0].strength"),
    (f'{GATE}]\nedits = [{{name = "a", preset = "pear", strength = 10.5}}]\n', "edits[0].strength"),
    (f'{GATE}]\nedits = [{{name = "a", preset = "pear"}}, {{name = "a", preset = "pear"}}]\n', "edits.name"),
    (f'{GATE}.variants."a/b"]\nrole = "must-pass"\noverrides = []\n', "variants.a/b"),
    (f'{GATE}.variants.boosted]\nrole = "must-pass"\noverrides = ["xyz", "scale_boost"]\n', "variants.boosted.scale_boost"),
    (f'{GATE}.checks]\n', "checks"),
    ('[tool.avatarcheck]\n"three-moment" = "x"\n', 'tool.avatarcheck."three-moment"'),
    ('[tool]\navatarcheck = 5\n', "tool.avatarcheck"),
])
def test_bad_gate_configuration_names_the_file_and_the_key(tmp_path, toml, key):
    py = tmp_path / "pyproject.toml"
    py.write_text(toml)
    with pytest.raises(InputError) as info:
        load_gate("three-moment", py)
    msg = str(info.value)
    assert str(py) in msg and key in msg, msg


def test_number_overrides_reach_the_variant(tmp_path):
    py = tmp_path / "pyproject.toml"
    py.write_text(f'{GATE}.variants.boosted]\nrole = "must-pass"\noverrides = ["xyz", "arkit_bs", "scale_boost"]\n'
                  'scale_boost = 1.5\n')
    spec = load_gate("three-moment", py)
    assert spec.variants["boosted"].numbers == {"scale_boost": 1.5}
    from avatarcheck.edit.overrides import OverrideArrays

    assets = type("A", (), {"edited_sub": 1, "basis": 2, "ratio": 3, "jacobians": 4})()
    arrays = OverrideArrays.from_assets(assets, spec.variants["boosted"].overrides, spec.variants["boosted"].numbers)
    assert (arrays.edit_xyz_obj, arrays.arkit_bs, arrays.scale_boost, arrays.scale_ratio) == (1, 2, 1.5, None)


def test_an_undecodable_or_missing_pyproject_is_an_error(tmp_path):
    bad = tmp_path / "pyproject.toml"
    bad.write_bytes("[tool]\nx = 'é'\n".encode("utf-16"))
    with pytest.raises(InputError, match="UTF-8"):
        load_gate("three-moment", bad)
    with pytest.raises(InputError, match="no such file"):
        load_gate("three-moment", tmp_path / "missing.toml", pyproject_required=True)
    with pytest.raises(InputError, match="directory"):
        load_gate("three-moment", tmp_path)
    assert load_gate("three-moment", tmp_path / "missing.toml").source.endswith("three-moment.toml")


def test_a_missing_golden_tolerance_for_a_backend_is_an_error():
    spec = load_gate("three-moment")
    with pytest.raises(InputError, match="golden.toy"):
        spec.golden_tolerances("toy")


# -- D8 / D9 / D10 / D18: CLI outputs, goldens, takes ----------------------------------------------

def test_gate_refuses_a_report_dir_that_is_a_file_before_rendering(tmp_path):
    f = tmp_path / "f"
    f.write_text("")
    r = runner.invoke(app, ["gate", "--backend", "cpu", "--report-dir", str(f)])
    assert r.exit_code == 2 and "report-dir" in r.output


@pytest.mark.parametrize("take", ["synthetic:-1", "synthetic:abc", "missing.csv"])
def test_gate_with_a_bad_take_exits_2(tmp_path, take):
    r = runner.invoke(app, ["gate", "--backend", "cpu", "--take", take, "--report-dir", str(tmp_path / "r")])
    assert r.exit_code == 2, r.output


@pytest.mark.parametrize("args, words", [(["--yaw", "inf"], "--yaw"), (["--pitch", "nan"], "--pitch"),
                                         (["--frames", "5"], "--sweep"), (["--arkit", "eyeBlinkLeft=1e30"], "eyeBlinkLeft")])
def test_render_rejects_bad_numbers(tmp_path, args, words):
    r, png = render_png(tmp_path, "x", extra=args)
    assert r.exit_code == 2 and words in r.output and not png.exists()


def test_render_refuses_an_output_folder_that_is_a_file(tmp_path):
    (tmp_path / "f").write_text("")
    r = runner.invoke(app, ["render", "--backend", "cpu", "--size", "32", "--out", str(tmp_path / "f")])
    assert r.exit_code == 2 and "output folder" in r.output


def test_broken_goldens_fail_their_item_with_the_file_named(tmp_path):
    from avatarcheck.gate.golden import compare_images, read_image

    bomb = tmp_path / "bomb.png"
    Image.new("RGB", (1, 1)).save(bomb)
    raw = bytearray(bomb.read_bytes())
    raw[16:24] = (100000).to_bytes(4, "big") + (100000).to_bytes(4, "big")  # IHDR width, height
    bomb.write_bytes(bytes(raw))
    with pytest.raises(InputError, match="bomb.png"):
        read_image(bomb)
    with pytest.raises(InputError, match="g.png: shape"):
        compare_images(np.zeros((4, 4, 3)), np.zeros((8, 8, 3)), tmp_path / "g.png")
