"""Read a user's real FLAME / LAM assets into a ``HeadModel``, and a pickle-free ``.npz`` form.

**Loading a pickle can run code.** A pickle names callables (``os.system`` as easily as
``numpy.ndarray``) and the unpickler calls them. FLAME ships its model and masks as Python-2
pickles, some referencing ``chumpy``, so this module reads them with the allowlisting
unpickler of ``avatarcheck.io.safe_pickle`` (arrays only; chumpy and scipy.sparse through inert
stand-ins; anything else refused with an ``InputError`` before it is called). ``avatarcheck head convert DIR --out head.npz`` converts a
folder once; the ``.npz`` is read with ``allow_pickle=False``.

Layouts read (V vertices, F faces):

=====================  ======================================================================
file                   contents
=====================  ======================================================================
flame2023.pkl,         dict: ``v_template`` (V, 3), ``f`` (F, 3) uint32, ``shapedirs``
generic_model.pkl,     (V, 3, 400) = 300 shape + 100 expression, ``posedirs`` (V, 3, 36),
flame2020.pkl          ``J_regressor`` (5, V) sparse or dense, ``kintree_table`` (2, 5),
                       ``weights`` (V, 5)
FLAME_masks.pkl        dict: region name -> (K,) vertex indices
``*arkit*.npy|.npz``   ARKit-52 basis, (52, V, 3) or (V, 3, 52), optional ``names`` (52,)
head .npz              ``save_head_npz``: every ``HeadModel`` field, ``set__<name>`` sets
=====================  ======================================================================
"""

from __future__ import annotations

import errno
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from avatarcheck.arkit import ARKIT_NAMES, NUM_ARKIT, arkit_index
from avatarcheck.errors import InputError
from avatarcheck.head.model import (MAX_BASIS, MAX_JOINTS, MAX_VERTICES, HeadModel, check_size,
                                    check_skinning_weights, checked_real)
from avatarcheck.io.atomic import save_npz_atomic
from avatarcheck.io.inputs import MAX_INPUT_BYTES, checked_input_file
from avatarcheck.io.npz import load_array_file_checked, load_npz_checked
from avatarcheck.io.safe_pickle import ChumpyStandIn, SparseStandIn, safe_unpickle

PathLike = str | os.PathLike

MODEL_PICKLES: tuple[str, ...] = ("flame2023.pkl", "generic_model.pkl", "flame2020.pkl")
MASKS_PICKLE = "FLAME_masks.pkl"
ARKIT_BASIS_FILES: tuple[str, ...] = ("arkit_basis.npy", "arkit_basis.npz")
NUM_FLAME_SHAPE = 300  # FLAME's shapedirs: the first 300 components are identity, the rest expression
KINTREE_ROOT = np.iinfo(np.uint32).max  # FLAME writes the root's parent as uint32(-1)
NPZ_FORMAT = "avatarcheck-head/1"


# --------------------------------------------------------------------------------------------
# FLAME model pickle


# A pickled sparse matrix is densified; its header shape must not ask for more than a
# (joints x vertices) regressor at the model limits.
MAX_SPARSE_DENSE = MAX_JOINTS * MAX_VERTICES


def _as_array(value: Any, source: PathLike, field: str) -> np.ndarray:
    """A pickled value (ndarray, chumpy stand-in, sparse stand-in) as a dense int or float array.

    bool, complex, string, datetime and object arrays are refused: numpy would coerce some of
    them to numbers silently.
    """
    if isinstance(value, ChumpyStandIn):
        value = value.array(source, field)
    if isinstance(value, SparseStandIn):
        matrix = value.to_scipy(source, field)
        rows, cols = matrix.shape
        if rows * cols > MAX_SPARSE_DENSE:
            raise InputError(source, field, f"a sparse matrix of at most {MAX_SPARSE_DENSE} dense entries",
                             f"shape {matrix.shape}")
        value = matrix.toarray()
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError) as err:
        raise InputError(source, field, "a numeric array", f"{type(value).__name__}: {err}") from None
    if arr.dtype.kind not in "iuf":
        raise InputError(source, field, "a numeric (float or integer) array",
                         f"{type(value).__name__} with dtype {arr.dtype}")
    return arr


def parents_from_kintree(kintree: np.ndarray, source: PathLike = "kintree_table") -> np.ndarray:
    """FLAME's ``kintree_table`` (2, J) -> parents (J,) int64 with the root as -1.

    Row 0 holds each joint's parent id, row 1 the joint's own id; the root's parent is
    ``uint32(-1)`` = 4294967295 (or -1 when re-saved as signed), so ``[-1, 0, 1, 1, 1]`` for FLAME.
    """
    kt = np.asarray(kintree)
    if kt.ndim != 2 or kt.shape[0] != 2 or kt.dtype.kind not in "iu":
        raise InputError(source, "kintree_table", "integer array of shape (2, J)", f"{kt.dtype} {tuple(kt.shape)}")
    parent_ids, ids = kt[0].astype(np.int64), kt[1].astype(np.int64)
    index_of = {int(j): i for i, j in enumerate(ids)}
    parents = np.empty(len(ids), np.int64)
    for i, p in enumerate(parent_ids):
        if p in (-1, int(KINTREE_ROOT)):
            parents[i] = -1
        elif int(p) in index_of:
            parents[i] = index_of[int(p)]
        else:
            raise InputError(source, "kintree_table", f"parent ids among joint ids {ids.tolist()} or {KINTREE_ROOT}",
                             f"parent {int(p)} for joint {i}")
    return parents


def posedirs_to_smplx(posedirs: np.ndarray) -> np.ndarray:
    """FLAME's ``posedirs`` (V, 3, P) -> smplx layout (P, V*3): row p, column ``3 * v + c``."""
    return np.ascontiguousarray(posedirs.reshape(-1, posedirs.shape[-1]).T)


def _model_fields(raw: Any, path: Path) -> dict[str, Any]:
    """The ``HeadModel`` arrays from an unpickled FLAME dict (floats as float32)."""
    if not isinstance(raw, dict):
        raise InputError(path, "pickle", "a dict of FLAME arrays", type(raw).__name__)
    missing = [k for k in ("v_template", "f", "shapedirs", "J_regressor", "kintree_table", "weights") if k not in raw]
    if missing:
        raise InputError(path, missing[0], "a FLAME model key (v_template, f, shapedirs, J_regressor, "
                         "kintree_table, weights)", f"a dict with keys {sorted(map(str, raw))}")

    sz: dict[str, int] = {}

    def arr(key: str, shape: tuple[int | str | None, ...], limit: float | None = None) -> np.ndarray:
        kw = {} if limit is None else {"limit": limit}
        return checked_real(_as_array(raw[key], path, key), str(path), key, shape, sz, **kw)

    v = arr("v_template", ("V", 3)).astype(np.float32)
    n_v = v.shape[0]
    check_size(str(path), "v_template", "vertices", n_v, MAX_VERTICES)  # before (52, V, 3) zeros
    faces = arr("f", (None, 3))
    if faces.dtype.kind == "f":  # some re-saved copies store faces as floats
        if not np.array_equal(faces, np.round(faces)):
            raise InputError(path, "f", "integer vertex indices", "non-integer values")
    faces = checked_faces(faces.astype(np.int64), path, "f")
    # 300 identity + 100 expression components in FLAME 2020/2023; a smaller file keeps the same
    # rule (first 300 are identity, anything beyond is expression).
    dirs = arr("shapedirs", ("V", 3, None)).astype(np.float32)
    check_size(str(path), "shapedirs", "basis dimensions", dirs.shape[2], MAX_BASIS + NUM_FLAME_SHAPE)
    shapedirs, exprdirs = dirs[:, :, :NUM_FLAME_SHAPE], dirs[:, :, NUM_FLAME_SHAPE:]
    J_regressor = arr("J_regressor", ("J", "V")).astype(np.float32)
    n_j = J_regressor.shape[0]
    check_size(str(path), "J_regressor", "joints", n_j, MAX_JOINTS)
    parents = parents_from_kintree(_as_array(raw["kintree_table"], path, "kintree_table"), path)
    if len(parents) != n_j:
        raise InputError(path, "kintree_table", f"{n_j} joints (J_regressor rows)", f"{len(parents)} joints")
    posedirs = None
    if raw.get("posedirs") is not None:
        posedirs = posedirs_to_smplx(arr("posedirs", ("V", 3, (n_j - 1) * 9)).astype(np.float32))
    weights = arr("weights", ("V", "J"), limit=float("inf")).astype(np.float32)
    check_skinning_weights(weights, str(path), "weights")
    return dict(
        v_template=v, faces=faces, shapedirs=np.ascontiguousarray(shapedirs),
        exprdirs=np.ascontiguousarray(exprdirs) if exprdirs.shape[2] else None,
        posedirs=posedirs, J_regressor=J_regressor, parents=parents, lbs_weights=weights)


def checked_faces(faces: np.ndarray, source: PathLike, field: str) -> np.ndarray:
    """A head's (F, 3) faces, at least one: with none there is no surface to render, subdivide or bind
    splats to. ``HeadModel`` refuses none too; checked here first to name the file's own field (``f``)."""
    if len(faces) == 0:
        raise InputError(source, field, "at least one triangle", "0 faces")
    return faces


def _build_head(source: PathLike, **fields: Any) -> HeadModel:
    """``HeadModel(**fields)``, its validation errors re-issued against the file they came from."""
    try:
        return HeadModel(**fields)
    except InputError as err:
        raise InputError(source, err.field, err.expected, err.got) from None


def load_flame_pickle(path: PathLike, arkit_basis: np.ndarray | None = None,
                      vertex_sets: dict[str, np.ndarray] | None = None, name: str | None = None) -> HeadModel:
    """FLAME's own model pickle (2020 ``generic_model.pkl`` / 2023 ``flame2023.pkl``) -> HeadModel.

    ``arkit_basis`` (52, V, 3): FLAME has none; zeros with a warning when not given.
    """
    path = Path(path)
    fields = _model_fields(safe_unpickle(path), path)
    n_v = fields["v_template"].shape[0]
    if arkit_basis is None:
        warnings.warn(f"{path}: no ARKit-52 basis given; using zeros, so ARKit weights will not move "
                      "this head", stacklevel=2)
        arkit_basis = np.zeros((NUM_ARKIT, n_v, 3), np.float32)
    return _build_head(path, **fields, arkit_basis=arkit_basis, vertex_sets=vertex_sets or {},
                       name=name or path.stem)


# --------------------------------------------------------------------------------------------
# FLAME masks


def flame_mask_name(name: str) -> str:
    """FLAME's region names onto this package's: ``left_eyeball`` -> ``eyeball_left``.

    FLAME's "left" is the subject's left (+x), the same convention as ours, so only the word
    order changes; names without a side (``face``, ``lips``, ``neck``, ...) are kept.
    """
    for side in ("left", "right"):
        if name.startswith(side + "_"):
            return f"{name[len(side) + 1:]}_{side}"
    return name


def load_flame_masks(path: PathLike) -> dict[str, np.ndarray]:
    """``FLAME_masks.pkl`` (dict region -> (K,) indices) -> {our set name: (K,) int64}."""
    path = Path(path)
    raw = safe_unpickle(path)
    if not isinstance(raw, dict):
        raise InputError(path, "pickle", "a dict of region name -> vertex indices", type(raw).__name__)
    out: dict[str, np.ndarray] = {}
    for key, value in raw.items():
        field = f"masks[{key!r}]"
        ids = _as_array(value, path, field)
        if ids.ndim != 1 or ids.dtype.kind not in "iu" or (ids.size and ids.min() < 0):
            raise InputError(path, field, "1-D non-negative integer vertex indices", f"{ids.dtype} {tuple(ids.shape)}")
        ours = flame_mask_name(str(key))
        if ours in out:
            raise InputError(path, field, "one region per name", f"a second region mapping to {ours!r}")
        out[ours] = ids.astype(np.int64)
    return out


# --------------------------------------------------------------------------------------------
# ARKit basis


def _channel_order(names: np.ndarray, path: Path) -> np.ndarray:
    """Row ``i`` of the file is channel ``order[i]`` in ``ARKIT_NAMES`` order."""
    if names.dtype.kind == "S":
        names = np.char.decode(names, "utf-8")
    if names.dtype.kind != "U" or names.ndim != 1:
        raise InputError(path, "names", f"({NUM_ARKIT},) strings", f"{names.dtype} {tuple(names.shape)}")
    order, unknown = [], []
    for n in names.tolist():
        try:
            order.append(arkit_index(n))
        except KeyError:
            unknown.append(n)
    if unknown:
        raise InputError(path, "names", "ARKit-52 channel names (any capitalisation)", f"unknown {unknown}")
    dup = sorted({ARKIT_NAMES[i] for i in order if order.count(i) > 1})
    missing = [ARKIT_NAMES[i] for i in range(NUM_ARKIT) if i not in order]
    if dup or missing or len(order) != NUM_ARKIT:
        raise InputError(path, "names", f"each of the {NUM_ARKIT} ARKit channels once",
                         f"{len(order)} names; duplicated {dup}, missing {missing}")
    return np.asarray(order)


def load_arkit_basis(path: PathLike, num_vertices: int) -> np.ndarray:
    """An ARKit-52 basis file -> (52, V, 3) float32 in ``ARKIT_NAMES`` order.

    ``.npy``: (52, V, 3) or (V, 3, 52). ``.npz``: key ``arkit_basis`` (or its only array) and an
    optional ``names`` (52,) in any order and capitalisation (``EyeBlinkLeft``), reordered by name.
    """
    path = Path(path)
    names = None
    # The file can hold at most a float64 basis for this vertex count plus its names.
    data = load_array_file_checked(path, max_bytes=NUM_ARKIT * num_vertices * 3 * 8 + (1 << 20))
    if isinstance(data, dict):
        keys = list(data)
        arrays = [k for k in keys if k != "names"]
        if "arkit_basis" in keys:
            key = "arkit_basis"
        elif len(arrays) == 1:
            key = arrays[0]
        else:
            raise InputError(path, "arkit_basis", "a key 'arkit_basis' (or a single array)", f"keys {keys}")
        basis = data[key]
        names = data.get("names")
    else:
        key, basis = "arkit_basis", data
    # names first: with a channel missing, "missing tongueOut" says more than a shape mismatch
    order = None if names is None else _channel_order(names, path)
    want = f"({NUM_ARKIT}, {num_vertices}, 3) or ({num_vertices}, 3, {NUM_ARKIT})"
    if basis.dtype.kind not in "iuf":
        raise InputError(path, key, f"a numeric array of shape {want}", f"dtype {basis.dtype}")
    if basis.shape == (NUM_ARKIT, num_vertices, 3):
        pass
    elif basis.shape == (num_vertices, 3, NUM_ARKIT):
        basis = basis.transpose(2, 0, 1)
    else:
        raise InputError(path, key, f"array of shape {want}", f"shape {tuple(basis.shape)}")
    basis = np.ascontiguousarray(checked_real(basis, str(path), key, (NUM_ARKIT, num_vertices, 3), {}), np.float32)
    if order is not None:
        reordered = np.empty_like(basis)
        reordered[order] = basis
        basis = reordered
    return basis


# --------------------------------------------------------------------------------------------
# LAM / FLAME asset folder


def _find_arkit_file(folder: Path) -> Path | None:
    for name in ARKIT_BASIS_FILES:
        if (folder / name).is_file():
            return folder / name
    found = sorted(p for p in folder.iterdir()
                   if p.is_file() and "arkit" in p.name.lower() and p.suffix.lower() in (".npy", ".npz"))
    if len(found) > 1:
        raise InputError(folder, "ARKit basis", f"one *arkit*.npy/.npz file (or {' / '.join(ARKIT_BASIS_FILES)})",
                         f"{[p.name for p in found]}")
    return found[0] if found else None


def load_flame_folder(folder: PathLike) -> HeadModel:
    """LAM's FLAME folder -> HeadModel.

    Reads the model pickle (first of ``MODEL_PICKLES``), ``FLAME_masks.pkl`` if present (as
    vertex sets) and an ARKit basis (``arkit_basis.npy|.npz`` or a single ``*arkit*.npy|.npz``;
    zeros with a warning when absent). ``head_template_mesh.obj`` and
    ``landmark_embedding_with_eyes.npy`` are not used yet. A model pickle's path works too.
    """
    given = Path(folder)
    if given.is_file():  # a model pickle given directly: its siblings are the assets
        folder, model_path = given.parent, given
    else:
        folder = given
        if not folder.is_dir():
            raise FileNotFoundError(errno.ENOENT, "no FLAME asset folder", str(folder))
        model_path = next((folder / n for n in MODEL_PICKLES if (folder / n).is_file()), None)
        if model_path is None:
            raise FileNotFoundError(errno.ENOENT, f"no FLAME model pickle ({', '.join(MODEL_PICKLES)}) in",
                                    str(folder))
    fields = _model_fields(safe_unpickle(model_path), model_path)
    n_v = fields["v_template"].shape[0]

    sets: dict[str, np.ndarray] = {}
    masks_path = folder / MASKS_PICKLE
    if masks_path.is_file():
        sets = load_flame_masks(masks_path)
        for key, ids in sets.items():
            if ids.size and ids.max() >= n_v:
                raise InputError(masks_path, f"masks[{key!r}]", f"indices below {n_v} (the model's vertex count)",
                                 f"max index {int(ids.max())}")

    arkit_path = _find_arkit_file(folder)
    if arkit_path is None:
        warnings.warn(f"{folder}: no ARKit basis file ({' / '.join(ARKIT_BASIS_FILES)} or *arkit*.npy/.npz); "
                      "using zeros, so ARKit weights will not move this head", stacklevel=2)
        arkit = np.zeros((NUM_ARKIT, n_v, 3), np.float32)
    else:
        arkit = load_arkit_basis(arkit_path, n_v)
    return _build_head(model_path, **fields, arkit_basis=arkit, vertex_sets=sets,
                       name=folder.resolve().name or model_path.stem)


# --------------------------------------------------------------------------------------------
# Pickle-free .npz round trip

_ARRAY_FIELDS = ("v_template", "faces", "shapedirs", "arkit_basis", "J_regressor", "parents", "lbs_weights")
_OPTIONAL_FIELDS = ("exprdirs", "posedirs")
_SET_PREFIX = "set__"


def save_head_npz(model: HeadModel, path: PathLike) -> None:
    """Every ``HeadModel`` field to a compressed ``.npz`` (atomic write, no pickled objects).

    Optional arrays that are ``None`` are left out; vertex sets go under ``set__<name>``.
    """
    arrays: dict[str, np.ndarray] = {"format": np.array(NPZ_FORMAT), "name": np.array(model.name)}
    for key in _ARRAY_FIELDS + _OPTIONAL_FIELDS:
        value = getattr(model, key)
        if value is not None:
            arrays[key] = value
    for name, ids in model.vertex_sets.items():
        arrays[_SET_PREFIX + name] = ids
    save_npz_atomic(path, **arrays)


# What a head file starts with, to tell formats apart by content, not by the suffix's case.
_MAGIC = {b"PK\x03\x04": "a zip (.npz) archive", b"\x89PNG": "a PNG image", b"\x93NUMPY": "a single .npy array",
          b"\xff\xd8\xff": "a JPEG image", b"ply": "a PLY file"}


def sniff_head_file(path: PathLike) -> str:
    """``"npz"``, ``"pickle"`` or a description of what else the file is (first bytes, suffix).

    A pickle is recognised by its protocol-2+ opcode (``\\x80``) or a ``.pkl`` suffix in any case.
    """
    path = Path(path)
    checked_input_file(path, MAX_INPUT_BYTES, "a head file")
    with open(path, "rb") as fh:
        head = fh.read(8)
    if head.startswith(b"PK\x03\x04") or path.suffix.lower() == ".npz":
        return "npz"  # a .npz that is not a zip gets load_npz_checked's error, naming the file
    if head[:1] == b"\x80" or path.suffix.lower() == ".pkl":
        return "pickle"
    for magic, what in _MAGIC.items():
        if head.startswith(magic):
            return what
    return f"a file starting {head!r}"


def load_head(path: PathLike) -> HeadModel:
    """A head from disk: our pickle-free ``.npz``, a FLAME/LAM folder, or a FLAME model pickle.

    Files are told apart by content (``.NPZ`` works; a PNG is an error, never read as a pickle).
    """
    path = Path(path)
    if path.is_dir():
        return load_flame_folder(path)
    if not path.exists():
        raise FileNotFoundError(errno.ENOENT, "no head .npz, FLAME folder or model pickle", str(path))
    kind = sniff_head_file(path)
    if kind == "npz":
        return load_head_npz(path)
    if kind == "pickle":
        return load_flame_folder(path)
    raise InputError(path, "file", "a head .npz, a FLAME/LAM asset folder or a FLAME model pickle (.pkl)", kind)


# A head .npz holds a FLAME-sized model many times over in 2 GiB; more is not a head.
MAX_HEAD_NPZ_BYTES = MAX_INPUT_BYTES


def load_head_npz(path: PathLike) -> HeadModel:
    """A ``save_head_npz`` file -> HeadModel (no pickle; every header checked before allocation)."""
    path = Path(path)
    data = load_npz_checked(path, MAX_HEAD_NPZ_BYTES)
    keys = set(data)
    if "format" in keys:
        fmt = data["format"]
        if fmt.dtype.kind != "U" or fmt.ndim != 0 or str(fmt[()]) != NPZ_FORMAT:
            raise InputError(path, "format", repr(NPZ_FORMAT), repr(fmt.tolist())[:80])
    fields: dict[str, Any] = {}
    for key in _ARRAY_FIELDS:
        if key not in keys:
            raise InputError(path, key, "an array (written by save_head_npz)", f"missing; keys {sorted(keys)}")
        fields[key] = data[key]
    for key in _OPTIONAL_FIELDS:
        fields[key] = data.get(key)
    fields["vertex_sets"] = {k[len(_SET_PREFIX):]: data[k] for k in sorted(keys) if k.startswith(_SET_PREFIX)}
    name = data.get("name")
    if name is not None and (name.dtype.kind != "U" or name.ndim != 0):
        raise InputError(path, "name", "a string", f"{name.dtype} {tuple(name.shape)}")
    fields["name"] = path.stem if name is None else str(name[()])
    model = _build_head(path, **fields)
    checked_faces(model.faces, path, "faces")
    return model
