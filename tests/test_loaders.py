"""Loaders for real FLAME / LAM assets, on tiny files written here (an icosahedron, not FLAME).

The FLAME-2020-style pickle references ``chumpy.ch.Ch`` through a fake module that mirrors how
chumpy pickles (``Ch`` is a plain ``object`` subclass; ``__getstate__`` = ``__dict__`` minus
``_parents``/``_cache``; a leaf keeps its float64 array under ``'x'``); the fake is removed
before loading, so the loader must cope without chumpy.
"""

from __future__ import annotations

import codecs
import os
import pickle
import sys
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from avatarcheck.arkit import ARKIT_NAMES, NUM_ARKIT, arkit_index
from avatarcheck.errors import InputError
from avatarcheck.head.loaders import (
    flame_mask_name,
    load_arkit_basis,
    load_flame_folder,
    load_flame_masks,
    load_flame_pickle,
    load_head_npz,
    parents_from_kintree,
    save_head_npz,
)
from avatarcheck.head.model import FLAME_PARENTS, HeadModel
from tests.conftest import fake_chumpy

V, F, J = 12, 20, 5
ROOT = np.iinfo(np.uint32).max


def icosahedron() -> tuple[np.ndarray, np.ndarray]:
    t = (1 + 5 ** 0.5) / 2
    v = np.array([[-1, t, 0], [1, t, 0], [-1, -t, 0], [1, -t, 0], [0, -1, t], [0, 1, t],
                  [0, -1, -t], [0, 1, -t], [t, 0, -1], [t, 0, 1], [-t, 0, -1], [-t, 0, 1]], np.float64)
    f = np.array([[0, 11, 5], [0, 5, 1], [0, 1, 7], [0, 7, 10], [0, 10, 11], [1, 5, 9], [5, 11, 4],
                  [11, 10, 2], [10, 7, 6], [7, 1, 8], [3, 9, 4], [3, 4, 2], [3, 2, 6], [3, 6, 8],
                  [3, 8, 9], [4, 9, 5], [2, 4, 11], [6, 2, 10], [8, 6, 7], [9, 8, 1]], np.uint32)
    return v * 0.05, f


def flame_arrays(seed: int = 0, n_dirs: int = 400) -> dict[str, np.ndarray]:
    """FLAME-layout arrays for the icosahedron, float64 like FLAME's own files."""
    rng = np.random.default_rng(seed)
    v, f = icosahedron()
    w = rng.random((V, J))
    jreg = np.zeros((J, V))
    for j in range(J):  # sparse like FLAME's: each joint averages three vertices
        jreg[j, rng.choice(V, 3, replace=False)] = 1 / 3
    return {
        "v_template": v, "f": f,
        "shapedirs": rng.normal(size=(V, 3, n_dirs)) * 1e-3,
        "posedirs": rng.normal(size=(V, 3, 36)) * 1e-3,
        "J_regressor": jreg,
        "kintree_table": np.array([[ROOT, 0, 1, 1, 1], [0, 1, 2, 3, 4]], np.uint32),
        "weights": w / w.sum(1, keepdims=True),
    }


def write_flame2020(path, arrays, protocol: int = 2) -> None:
    """generic_model.pkl-like: chumpy arrays, a csc J_regressor, uint32 kintree root."""
    with fake_chumpy() as Ch:
        d = dict(arrays)
        for key in ("v_template", "shapedirs", "weights"):
            d[key] = Ch(arrays[key])
        d["J_regressor"] = sp.csc_matrix(arrays["J_regressor"])
        d["J"] = Ch(arrays["J_regressor"] @ arrays["v_template"])
        d["bs_style"], d["bs_type"] = "lbs", "lrotmin"
        with open(path, "wb") as fh:
            pickle.dump(d, fh, protocol=protocol)


def write_pickle(path, obj, protocol: int = 2) -> None:
    with open(path, "wb") as fh:
        pickle.dump(obj, fh, protocol=protocol)


def expected_posedirs(posedirs: np.ndarray) -> np.ndarray:
    n_v, _, p = posedirs.shape
    out = np.empty((p, n_v * 3))
    for k in range(p):
        for v in range(n_v):
            for c in range(3):
                out[k, 3 * v + c] = posedirs[v, c, k]
    return out


def check_model(m: HeadModel, a: dict[str, np.ndarray], n_shape: int = 300) -> None:
    tol = dict(rtol=1e-6, atol=1e-9)  # float32 copies of float64 data
    np.testing.assert_allclose(m.v_template, a["v_template"], **tol)
    np.testing.assert_array_equal(m.faces, a["f"].astype(np.int64))
    assert m.faces.dtype == np.int64 and m.v_template.dtype == np.float32
    np.testing.assert_allclose(m.shapedirs, a["shapedirs"][:, :, :n_shape], **tol)
    if a["shapedirs"].shape[2] > n_shape:
        np.testing.assert_allclose(m.exprdirs, a["shapedirs"][:, :, n_shape:], **tol)
    else:
        assert m.exprdirs is None
    np.testing.assert_allclose(m.posedirs, expected_posedirs(a["posedirs"]), **tol)
    np.testing.assert_allclose(m.J_regressor, a["J_regressor"], **tol)
    np.testing.assert_allclose(m.lbs_weights, a["weights"], **tol)
    np.testing.assert_array_equal(m.parents, [-1, 0, 1, 1, 1])


# --- FLAME model pickles -------------------------------------------------------------------


@pytest.mark.parametrize("protocol", [0, 2])
def test_flame2020_pickle_with_chumpy_loads_without_chumpy(tmp_path, protocol):
    a = flame_arrays()
    path = tmp_path / "generic_model.pkl"
    write_flame2020(path, a, protocol)
    assert "chumpy" not in sys.modules and b"chumpy" in path.read_bytes()
    with pytest.warns(UserWarning, match="ARKit"):
        m = load_flame_pickle(path)
    assert "chumpy" not in sys.modules  # nothing imported it
    check_model(m, a)
    assert m.shapedirs.shape == (V, 3, 300) and m.exprdirs.shape == (V, 3, 100)
    assert m.posedirs.shape == (36, V * 3)
    assert m.arkit_basis.shape == (NUM_ARKIT, V, 3) and not m.arkit_basis.any()


def test_flame2023_pickle_plain_numpy(tmp_path):
    a = flame_arrays(seed=1)
    path = tmp_path / "flame2023.pkl"
    write_pickle(path, a)
    basis = np.random.default_rng(0).normal(size=(NUM_ARKIT, V, 3)).astype(np.float32)
    m = load_flame_pickle(path, arkit_basis=basis, name="mine")
    check_model(m, a)
    assert m.name == "mine" and m.arkit_basis is not None
    np.testing.assert_array_equal(m.arkit_basis, basis)


@settings(max_examples=15)
@given(n_dirs=st.integers(1, 420))
def test_shape_expression_split_rule(tmp_path_factory, n_dirs):
    a = flame_arrays(n_dirs=n_dirs)
    path = tmp_path_factory.mktemp("split") / "flame2023.pkl"
    write_pickle(path, a)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = load_flame_pickle(path)
    assert m.shapedirs.shape[2] == min(n_dirs, 300)
    assert (m.exprdirs is None) == (n_dirs <= 300)
    check_model(m, a)


def test_posedirs_layout_matches_smplx_reshape():
    from avatarcheck.head.loaders import posedirs_to_smplx

    p = np.random.default_rng(3).normal(size=(V, 3, 36))
    np.testing.assert_array_equal(posedirs_to_smplx(p), expected_posedirs(p))


@given(root=st.sampled_from([int(ROOT), -1]), perm=st.permutations(range(5)))
def test_kintree_parents_by_joint_id(root, perm):
    ids = np.array([10 + i for i in perm])  # joint ids need not be 0..4
    parent_ids = [root] + [ids[p] for p in FLAME_PARENTS[1:]]
    kt = np.array([parent_ids, ids], dtype=np.int64 if root < 0 else np.uint32)
    np.testing.assert_array_equal(parents_from_kintree(kt), FLAME_PARENTS)


def test_missing_model_key_names_field(tmp_path):
    a = flame_arrays()
    del a["weights"]
    write_pickle(tmp_path / "flame2023.pkl", a)
    with pytest.raises(InputError, match="weights") as err:
        load_flame_pickle(tmp_path / "flame2023.pkl")
    assert str(tmp_path / "flame2023.pkl") in str(err.value)


def test_chumpy_without_array_is_named(tmp_path):
    a = flame_arrays()
    path = tmp_path / "generic_model.pkl"
    with fake_chumpy() as Ch:
        d = dict(a, shapedirs=Ch())  # a Ch without 'x' (a derived op in real chumpy)
        write_pickle(path, d)
    with pytest.raises(InputError, match="shapedirs") as err:
        load_flame_pickle(path)
    assert "chumpy.ch.Ch" in str(err.value) and str(path) in str(err.value)


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


@pytest.mark.parametrize("nested", [False, True])
def test_malicious_pickle_is_refused_and_not_run(tmp_path, nested):
    marker = tmp_path / "pwned"
    path = tmp_path / "flame2023.pkl"
    evil = _Evil(marker)
    write_pickle(path, dict(flame_arrays(), f=evil) if nested else evil)
    with pytest.raises(InputError) as err:
        load_flame_pickle(path)
    msg = str(err.value)
    assert "system" in msg and str(path) in msg and "run code" in msg and "head convert" in msg
    assert not marker.exists()


def test_codecs_other_than_latin1_refused(tmp_path):
    class Rot13:
        def __reduce__(self):
            return codecs.encode, ("abc", "rot13")

    write_pickle(tmp_path / "x.pkl", {"v_template": Rot13()})
    with pytest.raises(InputError, match="rot13"):
        load_flame_masks(tmp_path / "x.pkl")


def test_truncated_pickle_is_input_error(tmp_path):
    path = tmp_path / "flame2023.pkl"
    write_pickle(path, flame_arrays())
    path.write_bytes(path.read_bytes()[:500])
    with pytest.raises(InputError, match="pickle"):
        load_flame_pickle(path)


# --- ARKit basis -----------------------------------------------------------------------------


def _basis(seed=0):
    return np.random.default_rng(seed).normal(size=(NUM_ARKIT, V, 3)).astype(np.float32)


def test_arkit_npy_both_layouts(tmp_path):
    b = _basis()
    np.save(tmp_path / "a.npy", b)
    np.save(tmp_path / "b.npy", b.transpose(1, 2, 0))
    for name in ("a.npy", "b.npy"):
        got = load_arkit_basis(tmp_path / name, V)
        assert got.dtype == np.float32 and got.flags.c_contiguous
        np.testing.assert_array_equal(got, b)


@settings(max_examples=20)
@given(perm=st.permutations(range(NUM_ARKIT)), transposed=st.booleans())
def test_arkit_names_reordered(tmp_path_factory, perm, transposed):
    b = _basis()
    shuffled = b[list(perm)]
    live_link = [ARKIT_NAMES[i][0].upper() + ARKIT_NAMES[i][1:] for i in perm]  # EyeBlinkLeft
    path = tmp_path_factory.mktemp("ak") / "arkit_basis.npz"
    np.savez(path, arkit_basis=shuffled.transpose(1, 2, 0) if transposed else shuffled,
             names=np.array(live_link))
    got = load_arkit_basis(path, V)
    np.testing.assert_array_equal(got, b)
    assert np.array_equal(got[arkit_index("EyeBlinkLeft")], b[0])


def test_arkit_npz_single_array_and_bytes_names(tmp_path):
    b = _basis()
    np.savez(tmp_path / "x.npz", b[::-1].copy(), names=np.array([n.encode() for n in ARKIT_NAMES[::-1]]))
    np.testing.assert_array_equal(load_arkit_basis(tmp_path / "x.npz", V), b)


@pytest.mark.parametrize("case, field, words", [
    ("wrong_v", "arkit_basis", ["(52, 12, 3)", "(12, 3, 52)", "shape (52, 11, 3)"]),
    ("nan", "arkit_basis", ["finite"]),
    ("missing_name", "names", ["missing", "tongueOut"]),
    ("unknown_name", "names", ["eyeBlinkMiddle"]),
    ("duplicate_name", "names", ["duplicated", "jawOpen"]),
    ("two_arrays", "arkit_basis", ["'arkit_basis'"]),
    ("object_array", "file", ["pickle"]),
])
def test_arkit_bad_input(tmp_path, case, field, words):
    b = _basis()
    names = list(ARKIT_NAMES)
    path = tmp_path / "arkit_basis.npz"
    if case == "wrong_v":
        np.savez(path, arkit_basis=b[:, :11])
    elif case == "nan":
        b[3, 4, 1] = np.nan
        np.savez(path, arkit_basis=b)
    elif case == "missing_name":
        np.savez(path, arkit_basis=b[:51], names=np.array(names[:51]))
    elif case == "unknown_name":
        names[7] = "eyeBlinkMiddle"
        np.savez(path, arkit_basis=b, names=np.array(names))
    elif case == "duplicate_name":
        names[0] = "JawOpen"
        np.savez(path, arkit_basis=b, names=np.array(names))
    elif case == "two_arrays":
        np.savez(path, a=b, c=b)
    elif case == "object_array":
        path = tmp_path / "arkit_basis.npy"
        np.save(path, np.array([b, None], dtype=object), allow_pickle=True)
    with pytest.raises(InputError) as err:
        load_arkit_basis(path, V)
    assert err.value.field == field and str(path) in str(err.value)
    for w in words:
        assert w in str(err.value)


# --- masks and folders -----------------------------------------------------------------------

FLAME_MASKS = {"left_eyeball": [0, 1], "right_eyeball": [2, 3], "left_eye_region": [0, 1, 4],
               "right_eye_region": [2, 3, 5], "eye_region": [0, 1, 2, 3, 4, 5], "face": [4, 5, 6, 7],
               "lips": [6], "neck": [10, 11], "forehead": [8], "nose": [7], "scalp": [9],
               "boundary": [11], "left_ear": [8], "right_ear": [9]}
OUR_NAMES = {"left_eyeball": "eyeball_left", "right_eyeball": "eyeball_right",
             "left_eye_region": "eye_region_left", "right_eye_region": "eye_region_right",
             "left_ear": "ear_left", "right_ear": "ear_right"}


def write_masks(path, masks=FLAME_MASKS):
    write_pickle(path, {k: np.array(v, np.int64) for k, v in masks.items()})


def test_masks_mapped_to_our_names(tmp_path):
    write_masks(tmp_path / "FLAME_masks.pkl")
    got = load_flame_masks(tmp_path / "FLAME_masks.pkl")
    assert set(got) == {OUR_NAMES.get(k, k) for k in FLAME_MASKS}
    for k, ids in FLAME_MASKS.items():
        np.testing.assert_array_equal(got[OUR_NAMES.get(k, k)], ids)
        assert got[OUR_NAMES.get(k, k)].dtype == np.int64
    assert flame_mask_name("lips") == "lips" and flame_mask_name("left_eyeball") == "eyeball_left"


def make_folder(root, arkit=True, masks=True, model="flame2023.pkl"):
    root.mkdir(parents=True, exist_ok=True)
    a = flame_arrays(seed=2)
    if model == "generic_model.pkl":
        write_flame2020(root / model, a)
    else:
        write_pickle(root / model, a)
    if masks:
        write_masks(root / "FLAME_masks.pkl")
    b = _basis(5)
    if arkit:
        np.savez(root / "arkit_basis.npz", arkit_basis=b)
    np.save(root / "landmark_embedding_with_eyes.npy", np.array({"x": 1}, dtype=object), allow_pickle=True)
    (root / "head_template_mesh.obj").write_text("v 0 0 0\n")
    return a, b


@pytest.mark.parametrize("model", ["flame2023.pkl", "generic_model.pkl", "flame2020.pkl"])
def test_folder_end_to_end(tmp_path, model):
    a, b = make_folder(tmp_path / "lam_flame", model=model)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # everything present: no warning
        m = load_flame_folder(tmp_path / "lam_flame")
    check_model(m, a)
    np.testing.assert_array_equal(m.arkit_basis, b)
    assert m.name == "lam_flame"
    np.testing.assert_array_equal(m.vertex_set("eyeball_left"), FLAME_MASKS["left_eyeball"])
    np.testing.assert_array_equal(m.vertex_set("lips"), FLAME_MASKS["lips"])
    # the model pickle's own path works as well
    m2 = load_flame_folder(tmp_path / "lam_flame" / model)
    np.testing.assert_array_equal(m2.arkit_basis, b)


def test_folder_without_arkit_warns_and_uses_zeros(tmp_path):
    make_folder(tmp_path, arkit=False, masks=False)
    with pytest.warns(UserWarning, match="ARKit"):
        m = load_flame_folder(tmp_path)
    assert m.arkit_basis.shape == (NUM_ARKIT, V, 3) and not m.arkit_basis.any()
    assert dict(m.vertex_sets) == {}


def test_folder_finds_named_arkit_file_and_refuses_two(tmp_path):
    make_folder(tmp_path, arkit=False)
    b = _basis(9)
    np.save(tmp_path / "bs_arkit52.npy", b)
    np.testing.assert_array_equal(load_flame_folder(tmp_path).arkit_basis, b)
    np.save(tmp_path / "other_arkit.npy", b)
    with pytest.raises(InputError, match="other_arkit.npy"):
        load_flame_folder(tmp_path)


def test_folder_errors_name_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope"):
        load_flame_folder(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="flame2023.pkl") as err:
        load_flame_folder(tmp_path / "empty")
    assert "empty" in str(err.value)
    make_folder(tmp_path / "bad_masks")
    write_masks(tmp_path / "bad_masks" / "FLAME_masks.pkl", {"face": [0, V]})
    with pytest.raises(InputError, match="face") as err:
        load_flame_folder(tmp_path / "bad_masks")
    assert "FLAME_masks.pkl" in str(err.value)


def test_folder_arkit_vertex_count_must_match(tmp_path):
    make_folder(tmp_path, arkit=False)
    np.save(tmp_path / "arkit_basis.npy", np.zeros((NUM_ARKIT, V + 1, 3), np.float32))
    with pytest.raises(InputError, match=r"\(52, 12, 3\)"):
        load_flame_folder(tmp_path)


# --- npz round trip and CLI ----------------------------------------------------------------------


def assert_same_model(a: HeadModel, b: HeadModel) -> None:
    for field in ("v_template", "faces", "shapedirs", "arkit_basis", "exprdirs", "posedirs",
                  "J_regressor", "parents", "lbs_weights"):
        x, y = getattr(a, field), getattr(b, field)
        if x is None:
            assert y is None, field
        else:
            assert x.dtype == y.dtype and x.shape == y.shape, field
            np.testing.assert_array_equal(x, y, err_msg=field)
    assert set(a.vertex_sets) == set(b.vertex_sets) and a.name == b.name
    for k in a.vertex_sets:
        np.testing.assert_array_equal(a.vertex_sets[k], b.vertex_sets[k])


def test_npz_round_trip(tmp_path):
    make_folder(tmp_path / "f")
    m = load_flame_folder(tmp_path / "f")
    assert m.exprdirs is not None and m.posedirs is not None and len(m.vertex_sets) == len(FLAME_MASKS)
    save_head_npz(m, tmp_path / "head.npz")
    assert_same_model(m, load_head_npz(tmp_path / "head.npz"))
    # optional arrays absent, no sets
    bare = m.replace(exprdirs=None, posedirs=None, vertex_sets={}, name="bare")
    save_head_npz(bare, tmp_path / "bare.npz")
    assert_same_model(bare, load_head_npz(tmp_path / "bare.npz"))
    assert not list(tmp_path.glob(".*.tmp"))
    with np.load(tmp_path / "head.npz", allow_pickle=False) as data:  # nothing needs pickle
        assert "set__eyeball_left" in data.files


def test_npz_truncated_or_missing_field(tmp_path):
    make_folder(tmp_path / "f")
    save_head_npz(load_flame_folder(tmp_path / "f"), tmp_path / "head.npz")
    raw = (tmp_path / "head.npz").read_bytes()
    (tmp_path / "cut.npz").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(InputError) as err:
        load_head_npz(tmp_path / "cut.npz")
    assert str(tmp_path / "cut.npz") in str(err.value)
    with np.load(tmp_path / "head.npz") as data:
        kept = {k: data[k] for k in data.files if k != "lbs_weights"}
    np.savez(tmp_path / "partial.npz", **kept)
    with pytest.raises(InputError, match="lbs_weights") as err:
        load_head_npz(tmp_path / "partial.npz")
    assert str(tmp_path / "partial.npz") in str(err.value)
    kept["faces"] = kept["faces"] + V  # out of range: validation names file and field
    np.savez(tmp_path / "badfaces.npz", **kept, lbs_weights=np.full((V, J), 0.2, np.float32))
    with pytest.raises(InputError, match="faces") as err:
        load_head_npz(tmp_path / "badfaces.npz")
    assert str(tmp_path / "badfaces.npz") in str(err.value)


@pytest.mark.parametrize("faces, said", [
    (np.zeros((0, 3), np.int64), "at least one triangle"),
    (np.array([[0, 1, 2], [3, 3, 4]]), "faces[1] = [3, 3, 4]"),
    (np.array([[5, 6, 5]]), "faces[0] = [5, 6, 5]"),
])
def test_a_head_without_faces_or_with_a_pointless_triangle_is_refused(tmp_path, faces, said):
    make_folder(tmp_path / "f")
    m = load_flame_folder(tmp_path / "f")
    with pytest.raises(InputError, match="faces") as err:
        m.replace(faces=faces)
    assert said in str(err.value)


runner = CliRunner()


def test_cli_convert_then_info(tmp_path):
    from avatarcheck.cli import app

    make_folder(tmp_path / "flame", model="generic_model.pkl")
    out = tmp_path / "x.npz"
    r = runner.invoke(app, ["head", "convert", str(tmp_path / "flame"), "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert '"vertices": 12' in r.output and out.is_file()
    r = runner.invoke(app, ["head", "info", "--avatar", str(out)])
    assert r.exit_code == 0, r.output
    assert "(12, 3)" in r.output and "eyeball_left" in r.output and "(36, 36)" in r.output


def test_cli_convert_refuses_malicious_pickle(tmp_path):
    from avatarcheck.cli import app

    marker = tmp_path / "pwned"
    (tmp_path / "flame").mkdir()
    write_pickle(tmp_path / "flame" / "flame2023.pkl", _Evil(marker))
    r = runner.invoke(app, ["head", "convert", str(tmp_path / "flame"), "--out", str(tmp_path / "x.npz")])
    assert r.exit_code == 2 and "system" in r.output and "refused" in r.output
    assert not marker.exists() and not (tmp_path / "x.npz").exists()


# --- hostile and careless head files (audit D3, D7, D18) ----------------------------------------


@pytest.fixture
def head_npz(tmp_path):
    """A valid head .npz and its arrays as a dict, to mutate one field at a time."""
    make_folder(tmp_path / "f")
    save_head_npz(load_flame_folder(tmp_path / "f"), tmp_path / "head.npz")
    with np.load(tmp_path / "head.npz") as data:
        return tmp_path / "head.npz", {k: data[k] for k in data.files}


def _weights(kind: str) -> np.ndarray:
    w = np.full((V, J), 1.0 / J, np.float32)
    if kind == "zero":
        w[:] = 0
    elif kind == "negative":
        w[3] = [1.5, -0.5, 0, 0, 0]  # sums to 1, but a negative weight
    elif kind == "huge":
        w[5, 0] = 1e6
    return w


@pytest.mark.parametrize("field, value, words", [
    ("v_template", lambda v: v.astype(np.complex64) + np.nan * 1j, ["real-valued", "complex64"]),
    ("v_template", lambda v: v.astype(str), ["real-valued", "<U"]),
    ("v_template", lambda v: v.astype("datetime64[s]"), ["real-valued", "datetime64"]),
    ("v_template", lambda v: v > 0, ["bool"]),
    ("v_template", lambda v: v * 1e32, ["values within", "magnitude"]),
    ("arkit_basis", lambda b: b + 1e30, ["values within", "magnitude"]),
    ("set__eyeball_left", lambda s: np.array(["a"]), ["vertex_sets['eyeball_left']", "integer"]),
    ("set__eyeball_left", lambda s: s + 0.5, ["vertex_sets['eyeball_left']", "integer", "float64"]),
    ("lbs_weights", lambda w: _weights("zero"), ["rows summing to 1"]),
    ("lbs_weights", lambda w: _weights("negative"), ["in [0, 1]", "-0.5"]),
    ("lbs_weights", lambda w: _weights("huge"), ["in [0, 1]", "1e+06"]),
    ("name", lambda n: np.array([1, 2]), ["name", "a string"]),
])
def test_head_npz_refuses_non_numeric_and_absurd_arrays(head_npz, field, value, words):
    path, arrays = head_npz
    arrays[field] = value(arrays[field])
    bad = path.with_name("bad.npz")
    np.savez(bad, **arrays)
    with pytest.raises(InputError) as err:
        load_head_npz(bad)
    msg = str(err.value)
    assert msg.startswith(f"{bad}: "), msg
    for w in words:
        assert w in msg, (w, msg)


def test_head_npz_header_bomb_is_refused(head_npz):
    # D3: shapedirs claiming 10.9 TiB in a kilobyte-sized file.
    import zipfile

    path, arrays = head_npz
    bad = path.with_name("bomb.npz")
    h = repr({"descr": "<f4", "fortran_order": False, "shape": (10**6, 3, 10**6)}).encode()
    h += b" " * (64 - (10 + len(h) + 1) % 64) + b"\n"
    np.savez(bad, **{k: v for k, v in arrays.items() if k != "shapedirs"})
    with zipfile.ZipFile(bad, "a") as zf:
        zf.writestr("shapedirs.npy", b"\x93NUMPY\x01\x00" + len(h).to_bytes(2, "little") + h)
    with pytest.raises(InputError, match=rf"bomb\.npz: shapedirs: .*{12 * 10**12} bytes"):
        load_head_npz(bad)


def test_flame_pickle_bool_vertices_and_zero_weights_refused(tmp_path):
    # D7's pickle repro: bool v_template and all-zero skinning weights used to load.
    for key, value, words in [("v_template", np.eye(3, dtype=bool)[[0, 1, 2] * 4], "bool"),
                              ("weights", np.zeros((V, J)), "rows summing to 1"),
                              ("shapedirs", np.full((V, 3, 4), 1e30), "magnitude")]:
        a = flame_arrays()
        a[key] = value
        (tmp_path / key).mkdir()
        write_pickle(tmp_path / key / "flame2023.pkl", a)
        with pytest.raises(InputError) as err:
            load_flame_folder(tmp_path / key)
        assert str(err.value).startswith(str(tmp_path / key / "flame2023.pkl")) and words in str(err.value)


def test_load_head_dispatches_by_content(head_npz):
    from avatarcheck.head.loaders import load_head

    path, _ = head_npz
    upper = path.with_name("H.NPZ")
    upper.write_bytes(path.read_bytes())
    assert load_head(upper).num_vertices == V  # D18: .NPZ used to be read as a pickle
    png = path.with_name("head_rgb.png")
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 64)
    with pytest.raises(InputError, match="head_rgb.png: file: .*got a PNG image"):
        load_head(png)
    fake = path.with_name("x.npz")
    fake.write_bytes(b"\x80\x02}q\x00.")  # a pickle wearing a .npz suffix is not unpickled
    with pytest.raises(InputError, match=r"x\.npz: file: expected a \.npz \(zip\) archive"):
        load_head(fake)
    model = path.parent / "f" / "flame2023.pkl"
    assert load_head(model).num_vertices == V
    with pytest.raises(FileNotFoundError):
        load_head(path.with_name("missing.npz"))


def test_cli_head_info_bad_avatars_exit_2(head_npz):
    from avatarcheck.cli import app

    path, arrays = head_npz
    arrays["v_template"] = arrays["v_template"].astype(np.complex64) + np.nan * 1j
    np.savez(path.with_name("hc.npz"), **arrays)
    png = path.with_name("head.png")
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 64)
    for bad in (path.with_name("hc.npz"), png):
        r = runner.invoke(app, ["head", "info", "--avatar", str(bad)])
        assert r.exit_code == 2 and "error:" in r.output and bad.name in r.output, r.output


def test_cli_bad_out_fails_before_any_work(tmp_path):
    # D8: --out mistakes were tracebacks, some only after the work was done.
    from avatarcheck.cli import app

    (tmp_path / "f").write_text("a file")
    missing = str(tmp_path / "no_such_flame")  # the --out check comes first, so this is never read
    cases = [
        (["head", "export", "--out", str(tmp_path / "f"), "--avatar", missing], "existing file"),
        (["head", "export", "--out", str(tmp_path / "f" / "sub"), "--avatar", missing], "which is a file"),
        (["head", "convert", missing, "--out", str(tmp_path / "f" / "h.npz")], "which is a file"),
        (["head", "convert", missing, "--out", str(tmp_path)], "a directory"),
    ]
    if os.path.isdir("/proc/self"):
        cases.append((["head", "convert", missing, "--out", "/proc/h.npz"], "can write in"))
    for args, words in cases:
        r = runner.invoke(app, args)
        assert r.exit_code == 2 and "error:" in r.output and words in r.output, (args, r.output)
        assert "no_such_flame" not in r.output and "Traceback" not in r.output


@pytest.mark.parametrize("pair, words", [("eyeBlinkLeft=1e30", "in [0, 1]"), ("jawOpen=-5", "in [0, 1]"),
                                         ("jawOpen=nan", "plain decimal"), ("jawOpen=1_0", "plain decimal"),
                                         ("jawOpen=\u0661", "plain decimal"), ("jawMiddle=1", "ARKit-52 name")])
def test_arkit_weights_on_the_command_line_are_checked(pair, words):
    # D16: render / head export --arkit eyeBlinkLeft=1e30 or jawOpen=-5 exited 0.
    from avatarcheck.cli.head import parse_arkit

    with pytest.raises(InputError, match="--arkit") as err:
        parse_arkit([pair])
    assert words in str(err.value)
    w = parse_arkit(["JawOpen=0.25", "eyeBlinkLeft"])
    assert w[0, arkit_index("jawOpen")] == 0.25 and w[0, arkit_index("eyeBlinkLeft")] == 1.0 and w.sum() == 1.25
