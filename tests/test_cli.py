"""The command line, end to end on the synthetic head."""

import numpy as np
from PIL import Image
from typer.testing import CliRunner

from avatarcheck.cli import app

runner = CliRunner()


def test_help_lists_commands():
    r = runner.invoke(app, ["--help"])
    assert r.exit_code == 0 and "head" in r.output
    r = runner.invoke(app, ["head", "--help"])
    assert r.exit_code == 0 and "export" in r.output and "convert" in r.output


def test_head_info(head):
    r = runner.invoke(app, ["head", "info"])
    assert r.exit_code == 0, r.output
    assert str(head.num_vertices) in r.output and "eyeball_left" in r.output


def test_head_export_writes_posed_obj_and_preview(tmp_path, head):
    from avatarcheck.io.obj import read_obj

    r = runner.invoke(app, ["head", "export", "--out", str(tmp_path), "--arkit", "EyeBlinkLeft=1",
                            "--subdivide", "--size", "64"])
    assert r.exit_code == 0, r.output
    v, f = read_obj(tmp_path / "head.obj")
    np.testing.assert_array_equal(f, head.faces)
    want = head.v_template + head.arkit_basis[0]  # eyeBlinkLeft is channel 0, zero pose
    np.testing.assert_allclose(v, want, atol=1e-6)
    v_sub, f_sub = read_obj(tmp_path / "head_subdivided.obj")
    assert len(f_sub) == 4 * len(f) and len(v_sub) > 3.5 * len(v)
    img = np.asarray(Image.open(tmp_path / "head_preview.png"))
    assert img.shape == (64, 128, 3) and (img < 250).any()  # something drawn on white
    assert not list(tmp_path.glob(".*.tmp"))  # atomic writes leave no temp files


def test_bad_arkit_name_is_a_clear_error(tmp_path):
    r = runner.invoke(app, ["head", "export", "--out", str(tmp_path), "--arkit", "eyeBlinkMiddle=1"])
    assert r.exit_code == 2
    assert "eyeBlinkMiddle" in r.output and "ARKit-52" in r.output
    assert not (tmp_path / "head.obj").exists()


def test_missing_avatar_folder_is_a_clear_error(tmp_path):
    r = runner.invoke(app, ["head", "info", "--avatar", str(tmp_path / "nope")])
    assert r.exit_code == 2 and "nope" in r.output


def test_bake_command_writes_assets(tmp_path):
    import json

    r = runner.invoke(app, ["bake", "--preset", "hourglass", "--strength", "2.0", "--out", str(tmp_path)])
    assert r.exit_code == 0, r.output
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["kind"] == "chibi" and manifest["params"]["preset"] == "hourglass" and "median" in r.output
    bad = runner.invoke(app, ["bake", "--preset", "cube", "--out", str(tmp_path / "x")])
    assert bad.exit_code == 2 and "cube" in bad.output and not (tmp_path / "x").exists()
