"""An unpickler that resolves only array classes, for FLAME's Python-2 pickles.

**Loading a pickle can run code**: a pickle names callables (``os.system`` as easily as
``numpy.ndarray``) and the unpickler calls them. This one allowlists numpy array/dtype/scalar
reconstruction, scipy.sparse csc/csr/coo matrices and chumpy's array classes; the last two are
replaced by inert stand-ins that only record their pickled state (no chumpy or scipy code runs).
Any other reference raises ``InputError`` before it is called.

Allocation is bounded too: the file is read whole (at most ``MAX_PICKLE_BYTES``), and an array the
pickle asks numpy to allocate without data (``numpy.ndarray(shape)``, ``_reconstruct``) counts
against a budget of the file's own size, so a 500-byte pickle cannot request 11 GiB. Arrays that
carry their data (``__setstate__`` with raw bytes) are bounded by the bytes in the file, because
numpy checks that the data length matches the shape.
"""

from __future__ import annotations

import io
import math
import os
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from avatarcheck.errors import InputError
from avatarcheck.io.inputs import read_bytes_checked

try:  # numpy >= 2 moved numpy.core to numpy._core; importing numpy.core there warns.
    from numpy._core.multiarray import _reconstruct as _np_reconstruct
    from numpy._core.multiarray import scalar as _np_scalar
    from numpy._core.numeric import _frombuffer as _np_frombuffer
except ImportError:  # pragma: no cover - numpy 1.x
    from numpy.core.multiarray import _reconstruct as _np_reconstruct
    from numpy.core.multiarray import scalar as _np_scalar
    from numpy.core.numeric import _frombuffer as _np_frombuffer

PathLike = str | os.PathLike
CONVERT_HINT = "avatarcheck head convert DIR --out head.npz"

# FLAME's largest pickle (generic_model.pkl, float64 bases) is about 100 MB.
MAX_PICKLE_BYTES = 1 << 30
# Data-less arrays (np.ndarray(shape), _reconstruct) may take the file's size plus this.
_ALLOC_SLACK = 1 << 20
# Distinct chumpy class names one pickle may reference (FLAME's use two or three), and how many
# stand-in classes stay cached across files.
MAX_CHUMPY_NAMES = 64
_CHUMPY_CACHE_MAX = 64


class ChumpyStandIn:
    """Inert replacement for any ``chumpy`` class: keeps the pickled state, runs no chumpy code.

    chumpy's ``Ch`` (a plain ``object`` subclass without ``__reduce__``) pickles as
    ``NEWOBJ(Ch)`` (protocol 2) or ``copy_reg._reconstructor(Ch, object, None)`` (0/1) followed
    by ``BUILD(state)``, where ``state = __getstate__()`` is a copy of its ``__dict__`` minus
    ``_parents`` and ``_cache``; a leaf ``Ch`` keeps its float64 array under ``'x'``.
    """

    pickled_name = "chumpy.?"

    def __new__(cls, *args: Any, **kwargs: Any) -> "ChumpyStandIn":
        obj = super().__new__(cls)
        obj.state = {}
        obj.args = args  # INST/REDUCE on an old-style reference would pass arguments here
        return obj

    def __setstate__(self, state: Any) -> None:
        self.state = state if isinstance(state, dict) else {"state": state}

    def array(self, source: PathLike, field: str) -> np.ndarray:
        node, seen = self, set()
        while True:  # a loop, not recursion: a hostile pickle can make 'x' refer back to itself
            x = node.state.get("x") if isinstance(node.state, dict) else None
            if not isinstance(x, ChumpyStandIn):
                break
            if id(x) in seen or len(seen) > 64:
                raise InputError(source, field, "a chain of chumpy Ch objects ending in an array",
                                 "a cycle (or a chain over 64 long)")
            seen.add(id(x))
            node = x
        if isinstance(x, (np.ndarray, int, float)):
            return np.asarray(x)
        raise InputError(source, field, "a chumpy Ch holding its array under 'x' (a leaf Ch)",
                         f"{node.pickled_name} with pickled state keys {sorted(map(str, node.state))}")


class SparseStandIn:
    """Captures a pickled scipy.sparse matrix's state; rebuilt through scipy's public constructor.

    The pickled ``__dict__`` is scipy-internal (``_shape`` today, ``shape`` in old releases,
    ``coords`` vs ``row``/``col`` for COO), so it is not poured into today's classes.
    """

    fmt = "csc"

    def __new__(cls, *args: Any, **kwargs: Any) -> "SparseStandIn":
        obj = super().__new__(cls)
        obj.state = {}
        return obj

    def __setstate__(self, state: Any) -> None:
        self.state = state if isinstance(state, dict) else {}

    def to_scipy(self, source: PathLike, field: str) -> sp.spmatrix:
        s = self.state
        shape = s.get("_shape", s.get("shape"))
        try:
            shape = tuple(int(n) for n in shape)
            if self.fmt == "coo":
                row, col = s["coords"] if "coords" in s else (s["row"], s["col"])
                return sp.coo_matrix((s["data"], (row, col)), shape=shape)
            ctor = sp.csc_matrix if self.fmt == "csc" else sp.csr_matrix
            return ctor((s["data"], s["indices"], s["indptr"]), shape=shape)
        except (KeyError, TypeError, ValueError) as err:
            got = f"unreadable pickled state ({type(err).__name__}: {err}); keys {sorted(map(str, s))}"
            raise InputError(source, field, f"a scipy.sparse {self.fmt} matrix", got) from None


class _CscStandIn(SparseStandIn):
    fmt = "csc"


class _CsrStandIn(SparseStandIn):
    fmt = "csr"


class _CooStandIn(SparseStandIn):
    fmt = "coo"


_CHUMPY_CLASSES: dict[str, type] = {}  # insertion order = least recently used first


def _chumpy_class(module: str, name: str) -> type:
    """One stand-in subclass per chumpy class name, so errors can say which class it was.

    The cache keeps the ``_CHUMPY_CACHE_MAX`` most recently used names (a hostile pickle naming
    20,000 classes must not grow it for the life of the process).
    """
    key = f"{module}.{name}"
    cls = _CHUMPY_CLASSES.pop(key, None)
    if cls is None:
        cls = type(f"ChumpyStandIn_{name}", (ChumpyStandIn,), {"pickled_name": key})
    _CHUMPY_CLASSES[key] = cls  # re-inserted: most recently used last
    while len(_CHUMPY_CLASSES) > _CHUMPY_CACHE_MAX:
        del _CHUMPY_CLASSES[next(iter(_CHUMPY_CLASSES))]
    return cls


def _reconstructor(cls: type, base: type, state: Any) -> Any:
    """``copy_reg._reconstructor`` restricted to what protocol 0/1 writes for our stand-ins."""
    if base is not object or state is not None or not issubclass(cls, (ChumpyStandIn, SparseStandIn)):
        raise pickle.UnpicklingError(f"copy_reg._reconstructor({cls!r}, {base!r}, ...) is not allowed")
    return cls.__new__(cls)


def _latin1_encode(text: str, encoding: str = "latin1", errors: str = "strict") -> bytes:
    """Python 3 protocol <= 2 pickles write ``bytes`` as ``_codecs.encode(text, 'latin1')``."""
    if encoding.lower().replace("-", "").replace("_", "") not in ("latin1", "iso88591"):
        raise pickle.UnpicklingError(f"_codecs.encode with encoding {encoding!r} is not allowed")
    return text.encode("latin1")  # `errors` ignored: strict


def _empty_bytes(*args: Any) -> bytes:
    """``__builtin__.bytes``: Python 3 protocol <= 2 pickles write ``b''`` as ``bytes()``.

    Only the no-argument call is allowed: ``bytes(10**12)`` would allocate a terabyte.
    """
    if args:
        raise pickle.UnpicklingError(f"bytes() with arguments is not allowed (got {len(args)})")
    return b""


def _requested_bytes(shape: Any, dtype: Any) -> int:
    """Bytes ``np.ndarray(shape, dtype)`` would allocate, computed without allocating."""
    dims = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
    if any(not isinstance(d, (int, np.integer)) or d < 0 for d in dims):
        raise pickle.UnpicklingError(f"array shape {dims!r} is not a tuple of non-negative ints")
    return math.prod(int(d) for d in dims) * max(np.dtype(dtype).itemsize, 1)  # V0 items count as 1 byte


_NUMPY_MODULES = ("numpy.core.multiarray", "numpy._core.multiarray")
_SCIPY_MODULES = ("scipy.sparse", "scipy.sparse.csc", "scipy.sparse._csc", "scipy.sparse.csr",
                  "scipy.sparse._csr", "scipy.sparse.coo", "scipy.sparse._coo")
_SPARSE = {"csc_matrix": _CscStandIn, "csc_array": _CscStandIn, "csr_matrix": _CsrStandIn,
           "csr_array": _CsrStandIn, "coo_matrix": _CooStandIn, "coo_array": _CooStandIn}

_ALLOWED: dict[tuple[str, str], Any] = {
    **{(m, "scalar"): _np_scalar for m in _NUMPY_MODULES},
    **{(m, "_frombuffer"): _np_frombuffer for m in ("numpy.core.numeric", "numpy._core.numeric")},
    ("numpy", "dtype"): np.dtype,
    **{(m, cls): standin for m in _SCIPY_MODULES for cls, standin in _SPARSE.items()},
    ("copy_reg", "_reconstructor"): _reconstructor,
    ("copyreg", "_reconstructor"): _reconstructor,
    ("__builtin__", "object"): object,
    ("builtins", "object"): object,
    # chumpy's Ch keeps a set of dirty term names in its state
    ("__builtin__", "set"): set,
    ("builtins", "set"): set,
    ("_codecs", "encode"): _latin1_encode,
    ("__builtin__", "bytes"): _empty_bytes,
    ("builtins", "bytes"): _empty_bytes,
}
# Also allowed, but through the unpickler's allocation budget (they allocate from a shape alone):
# numpy.ndarray and numpy's _reconstruct.
_ALLOCATING = {(m, "_reconstruct") for m in _NUMPY_MODULES} | {("numpy", "ndarray")}


class _SafeUnpickler(pickle.Unpickler):
    """Resolves only allowlisted globals; every other reference raises before it is called.

    Every global a pickle can call (GLOBAL, STACK_GLOBAL, INST, EXT*) goes through
    ``find_class``; persistent ids are refused by the base class.
    """

    def __init__(self, file: Any, source: PathLike, budget: int) -> None:
        super().__init__(file, encoding="latin1")  # FLAME's pickles were written by Python 2
        self.source = source
        self.budget = budget  # bytes left for arrays allocated from a shape alone
        self.chumpy_names: set[str] = set()

    def _spend(self, shape: Any, dtype: Any) -> None:
        need = _requested_bytes(shape, dtype)
        if need > self.budget:
            raise InputError(self.source, "pickle", f"arrays no larger than the file allows ({self.budget} "
                             "bytes left)", f"a request for {tuple(np.atleast_1d(shape).tolist())} x "
                             f"{np.dtype(dtype)} = {need} bytes")
        self.budget -= need

    def _ndarray(self, shape: Any, dtype: Any = float, buffer: Any = None, *args: Any) -> np.ndarray:
        if buffer is None:  # with a buffer the memory is the pickle's own bytes
            self._spend(shape, dtype)
        return np.ndarray(shape, dtype, buffer, *args)

    def _reconstruct(self, subtype: Any, shape: Any, dtype: Any) -> np.ndarray:
        # the pickle names numpy.ndarray as the subtype; find_class handed it self._ndarray
        if subtype == self._ndarray or subtype is np.ndarray:
            subtype = np.ndarray
        else:
            raise pickle.UnpicklingError(f"_reconstruct of {subtype!r} is not allowed (numpy.ndarray only)")
        self._spend(shape, dtype)
        return _np_reconstruct(subtype, shape, dtype)

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _ALLOCATING:
            return self._ndarray if name == "ndarray" else self._reconstruct
        if (module, name) in _ALLOWED:
            return _ALLOWED[(module, name)]
        if (module == "chumpy" or module.startswith("chumpy.")) and name.isidentifier():
            self.chumpy_names.add(f"{module}.{name}")
            if len(self.chumpy_names) > MAX_CHUMPY_NAMES:
                raise InputError(self.source, "pickle", f"at most {MAX_CHUMPY_NAMES} distinct chumpy classes",
                                 f"more (the last {module}.{name})")
            return _chumpy_class(module, name)
        raise InputError(
            self.source, f"pickle reference {module}.{name}",
            "only array classes (numpy, scipy.sparse, chumpy): loading a pickle can run code, so "
            "this loader refuses anything else",
            f"a reference to {module}.{name} (refused, not called). Genuine FLAME pickles hold only "
            f"arrays; convert a trusted folder once with `{CONVERT_HINT}` and load the .npz instead")


def safe_unpickle(path: Path, max_bytes: int = MAX_PICKLE_BYTES) -> Any:
    """Unpickle ``path`` through the allowlist; any failure becomes an ``InputError`` naming it.

    The file is read whole first (a regular file of at most ``max_bytes``): the unpickler then
    reads from memory, so a length field claiming gigabytes cannot make it allocate them.
    """
    data = read_bytes_checked(path, max_bytes, "a pickle")
    with io.BytesIO(data) as handle:
        try:
            return _SafeUnpickler(handle, path, len(data) + _ALLOC_SLACK).load()
        except InputError:
            raise
        except Exception as err:  # noqa: BLE001 - only allowlisted code ran; any failure is a bad file
            raise InputError(path, "pickle", "a readable FLAME pickle",
                             f"{type(err).__name__}: {err}") from None
