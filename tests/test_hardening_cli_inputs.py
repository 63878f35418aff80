"""Audit 2026-12-05: N10 npy headers that do not tokenize, N15 the override layer's smaller silent accepts,
N16 a FLAME model without faces."""

from __future__ import annotations

import os
import re
import zipfile

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from avatarcheck.checks import checked_array
from avatarcheck.cli import app
from avatarcheck.errors import InputError

runner = CliRunner()
WIDE = {"COLUMNS": "400"}


def _flat(text: str) -> str:
    return re.sub(r"\s+", " ", text)


@pytest.fixture(scope="module")
def avatar():
    from avatarcheck.avatar import synthetic_avatar

    return synthetic_avatar()


def _token_error_npy(n: int) -> bytes:
    """A v1.0 .npy of n float32 whose header has an unbalanced '(': numpy raises tokenize.TokenError."""
    header = b"{'descr': '<f4', 'fortran_order': False, 'shape': (%d," % n
    header += b" " * (69 - len(header)) + b"\n"
    return b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header + bytes(4 * n)


# -- N10 --------------------------------------------------------------------------------------------------

def test_an_untokenizable_npy_header_is_an_input_error(tmp_path):
    from avatarcheck.io.npz import load_array_file_checked, load_npy_checked, load_npz_checked

    npy = tmp_path / "tok.npy"
    npy.write_bytes(_token_error_npy(16))
    for load in (load_npy_checked, load_array_file_checked):
        with pytest.raises(InputError, match="TokenError") as err:
            load(npy)
        assert str(npy) in str(err.value)
    npz = tmp_path / "tok.npz"
    with zipfile.ZipFile(npz, "w") as zf:
        zf.writestr("weights.npy", _token_error_npy(16))
    with pytest.raises(InputError, match="weights.*TokenError"):
        load_npz_checked(npz)


def test_an_untokenizable_override_file_is_an_input_error_naming_it(tmp_path, avatar):
    from avatarcheck.edit.overrides import OverrideSettings, apply_overrides

    path = tmp_path / "tok.npy"
    path.write_bytes(_token_error_npy(avatar.head_sub.num_vertices))
    with pytest.raises(InputError, match="scale_ratio.*TokenError") as err:
        apply_overrides(avatar, OverrideSettings(scale_ratio=path))
    assert str(path) in str(err.value)


@pytest.mark.parametrize("args", [["take", "inspect", "{npz}"], ["head", "info", "--avatar", "{npz}"]])
def test_untokenizable_headers_exit_2_on_the_command_line(tmp_path, args):
    npz = tmp_path / "tok.npz"
    with zipfile.ZipFile(npz, "w") as zf:
        zf.writestr("weights.npy", _token_error_npy(16))
    r = runner.invoke(app, [a.format(npz=npz) for a in args], env=WIDE)
    assert r.exit_code == 2 and isinstance(r.exception, SystemExit), r.output
    assert "TokenError" in r.output


# -- N15: dtype kinds ----------------------------------------------------------------------------------

_NOT_NUMBERS = [np.bool_, np.complex64, np.complex128, np.str_, np.bytes_, object, "datetime64[s]"]


@given(st.sampled_from(_NOT_NUMBERS), st.integers(0, 5))
def test_number_arrays_refuse_every_kind_but_float_and_int(dtype, n):
    arr = np.zeros(n, dtype)
    with pytest.raises(InputError, match=r"src: f: expected .*, got dtype") as err:
        checked_array(arr, "src", "f", kind="number")
    assert str(arr.dtype) in str(err.value)


@given(st.sampled_from([np.float16, np.float32, np.float64, np.int8, np.int64, np.uint16]), st.integers(0, 5))
def test_number_arrays_take_floats_and_ints(dtype, n):
    assert checked_array(np.ones(n, dtype), "src", "f", kind="number").dtype == np.dtype(dtype)


def test_real_arrays_still_take_bools():  # other callers rely on "real" admitting bools
    assert checked_array(np.ones(3, bool), "src", "f").dtype == bool


@pytest.mark.parametrize("field, make", [
    ("scale_ratio", lambda n: np.ones(n, bool)),
    ("scale_ratio", lambda n: np.ones(n, np.complex64)),
    ("jacobians", lambda n: np.broadcast_to(np.eye(3, dtype=bool), (n, 3, 3)).copy()),
    ("arkit_bs", lambda n: np.zeros((52, n, 3), bool)),
])
def test_override_files_of_bools_or_complex_are_refused(tmp_path, avatar, field, make):
    from avatarcheck.edit.overrides import OverrideSettings, apply_overrides

    path = tmp_path / f"{field}.npy"
    np.save(path, make(avatar.head_sub.num_vertices))
    with pytest.raises(InputError, match=f"{field}: expected .*got dtype") as err:
        apply_overrides(avatar, OverrideSettings(**{field: path}))
    assert str(path) in str(err.value)


@pytest.mark.parametrize("field, make", [
    ("scale_ratio", lambda n: np.ones(n, bool)),
    ("jacobians", lambda n: np.broadcast_to(np.eye(3, dtype=bool), (n, 3, 3)).copy()),
    ("edit_xyz_obj", lambda n: np.ones((n, 3), bool)),
    ("arkit_bs", lambda n: np.zeros((52, n, 3), bool)),
])
def test_override_arrays_of_bools_are_refused(avatar, field, make):
    from avatarcheck.edit.overrides import OverrideArrays, apply_override_arrays

    with pytest.raises(InputError, match="dtype bool"):
        apply_override_arrays(avatar, OverrideArrays(**{field: make(avatar.head_sub.num_vertices)}))


def test_render_refuses_a_bool_scale_ratio(tmp_path, avatar):
    path = tmp_path / "ratio.npy"
    np.save(path, np.ones(avatar.head_sub.num_vertices, bool))
    r = runner.invoke(app, ["render", "--size", "16", "--backend", "cpu", "--out", str(tmp_path / "o")],
                      env={**WIDE, "LAM_CHIBI_SCALE_RATIO": str(path)})
    assert r.exit_code == 2 and "bool" in r.output and str(path) in _flat(r.output), r.output
    assert not (tmp_path / "o" / "frame_0000.png").exists()


# -- N15: what a path is ---------------------------------------------------------------------------------

@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_override_paths_that_are_no_regular_file_are_named_for_what_they_are(tmp_path):
    from avatarcheck.edit.overrides import OverrideSettings, load_override_arrays
    from avatarcheck.avatar import synthetic_avatar

    av = synthetic_avatar()
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    (tmp_path / "dangling").symlink_to(tmp_path / "gone.npy")
    (tmp_path / "dir").mkdir()
    cases = [(tmp_path / "fifo", "FIFO"), (tmp_path / "loop", "symlink loop"), (tmp_path / "dir", "directory"),
             (tmp_path / "dangling", "dangling symlink"), (tmp_path / "missing.npy", "no such file")]
    if os.path.exists("/dev/zero"):
        cases.append((os.path.realpath("/dev/zero"), "character device"))
    for field in ("scale_ratio", "arkit_bs", "jacobians", "edit_xyz_obj"):
        for path, what in cases:
            with pytest.raises(InputError) as err:  # a FIFO must not block: it is never opened
                load_override_arrays(av, OverrideSettings(**{field: path}))
            assert err.value.field == field and what in err.value.got, (path, str(err.value))
            assert str(path) in str(err.value)


def test_singular_jacobians_are_refused_naming_the_file(tmp_path, avatar):
    from avatarcheck.edit.overrides import OverrideSettings, apply_overrides

    path = tmp_path / "zeros_j.npy"
    np.save(path, np.zeros((avatar.head_sub.num_vertices, 3, 3), np.float32))
    with pytest.raises(InputError, match="jacobians: expected invertible") as err:
        apply_overrides(avatar, OverrideSettings(jacobians=path))
    assert err.value.source == str(path)
    assert f"{avatar.head_sub.num_vertices} singular" in err.value.got


# -- N15: mistyped and unapplied variables ------------------------------------------------------------------

def test_mistyped_variables_get_the_closest_known_name():
    from avatarcheck.edit.overrides import ENV_VARS, unknown_env_vars

    env = {"LAM_CHIBI_SCALE_RATIOS": "r.npy", "LAM_J_PER_VERT": "j.npy", "LAM_ZZZ": "1", "PATH": "/bin",
           **{v: "x" for v in ENV_VARS.values()}}
    got = dict(unknown_env_vars(env))
    assert got == {"LAM_CHIBI_SCALE_RATIOS": "LAM_CHIBI_SCALE_RATIO", "LAM_J_PER_VERT": "LAM_J_PER_VERT_NPY",
                   "LAM_ZZZ": None}


def test_head_export_notes_override_variables_it_does_not_apply(tmp_path):
    r = runner.invoke(app, ["head", "export", "--no-preview", "--out", str(tmp_path)],
                      env={**WIDE, "LAM_CHIBI_SCALE_BOOST": "1_5", "LAM_EDIT_XYZ_OBJS": "x.obj"})
    assert r.exit_code == 0 and (tmp_path / "head.obj").exists(), r.output
    text = _flat(r.output)
    assert "note: LAM_CHIBI_SCALE_BOOST set but not applied" in text, text
    assert "'1_5'" in text  # its value is bad too, and the note says so
    assert "LAM_EDIT_XYZ_OBJS" in text and "LAM_EDIT_XYZ_OBJ?" in text


def test_render_hints_at_a_mistyped_variable(tmp_path):
    r = runner.invoke(app, ["render", "--size", "16", "--backend", "cpu", "--out", str(tmp_path / "o")],
                      env={**WIDE, "LAM_CHIBI_SCALE_RATIOS": "r.npy"})
    assert r.exit_code == 0, r.output
    assert "LAM_CHIBI_SCALE_RATIOS" in r.output and "LAM_CHIBI_SCALE_RATIO?" in r.output


# -- N16 -------------------------------------------------------------------------------------------------

def test_a_flame_model_without_faces_is_refused(tmp_path):
    from avatarcheck.head.loaders import load_flame_folder, load_head_npz, load_flame_pickle, save_head_npz
    from tests.test_loaders import flame_arrays, write_flame2020

    arrays = flame_arrays()
    (tmp_path / "ok").mkdir()
    write_flame2020(tmp_path / "ok" / "generic_model.pkl", arrays)
    with pytest.warns(UserWarning):
        good = load_flame_folder(tmp_path / "ok")
    assert good.num_faces == len(arrays["f"])  # the same file with faces loads

    (tmp_path / "f").mkdir()
    write_flame2020(tmp_path / "f" / "generic_model.pkl", {**arrays, "f": np.zeros((0, 3), np.uint32)})
    for load in (load_flame_folder, lambda p: load_flame_pickle(p / "generic_model.pkl")):
        with pytest.raises(InputError, match=r"f: expected at least one triangle, got 0 faces"):
            load(tmp_path / "f")

    with pytest.raises(InputError, match="at least one triangle"):  # nor can one be built in code
        good.replace(faces=np.zeros((0, 3), np.int64))
    save_head_npz(good, tmp_path / "good.npz")
    with np.load(tmp_path / "good.npz") as data:
        np.savez(tmp_path / "no_faces.npz", **{k: (np.zeros((0, 3), np.int64) if k == "faces" else data[k])
                                               for k in data.files})
    with pytest.raises(InputError, match=r"no_faces.npz: faces: expected at least one triangle"):
        load_head_npz(tmp_path / "no_faces.npz")
    r = runner.invoke(app, ["head", "info", "--avatar", str(tmp_path / "f")], env=WIDE)
    assert r.exit_code == 2 and "at least one triangle" in r.output, r.output
