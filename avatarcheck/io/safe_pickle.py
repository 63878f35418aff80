"""An unpickler that resolves only array classes, for FLAME's Python-2 pickles.

**Loading a pickle can run code**: a pickle names callables (``os.system`` as easily as
``numpy.ndarray``) and the unpickler calls them. This one allowlists numpy array/dtype/scalar
reconstruction, scipy.sparse csc/csr/coo matrices and chumpy's array classes; the last two are
replaced by inert stand-ins that only record their pickled state (no chumpy or scipy code runs).
Any other reference raises ``InputError`` before it is called.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from avatarcheck.errors import InputError

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
        x = self.state.get("x")
        if isinstance(x, ChumpyStandIn):
            return x.array(source, field)
        if isinstance(x, (np.ndarray, int, float)):
            return np.asarray(x)
        raise InputError(source, field, "a chumpy Ch holding its array under 'x' (a leaf Ch)",
                         f"{self.pickled_name} with pickled state keys {sorted(map(str, self.state))}")


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


_CHUMPY_CLASSES: dict[str, type] = {}


def _chumpy_class(module: str, name: str) -> type:
    """One stand-in subclass per chumpy class name, so errors can say which class it was."""
    key = f"{module}.{name}"
    if key not in _CHUMPY_CLASSES:
        _CHUMPY_CLASSES[key] = type(f"ChumpyStandIn_{name}", (ChumpyStandIn,), {"pickled_name": key})
    return _CHUMPY_CLASSES[key]


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


_NUMPY_MODULES = ("numpy.core.multiarray", "numpy._core.multiarray")
_SCIPY_MODULES = ("scipy.sparse", "scipy.sparse.csc", "scipy.sparse._csc", "scipy.sparse.csr",
                  "scipy.sparse._csr", "scipy.sparse.coo", "scipy.sparse._coo")
_SPARSE = {"csc_matrix": _CscStandIn, "csc_array": _CscStandIn, "csr_matrix": _CsrStandIn,
           "csr_array": _CsrStandIn, "coo_matrix": _CooStandIn, "coo_array": _CooStandIn}

_ALLOWED: dict[tuple[str, str], Any] = {
    **{(m, "_reconstruct"): _np_reconstruct for m in _NUMPY_MODULES},
    **{(m, "scalar"): _np_scalar for m in _NUMPY_MODULES},
    **{(m, "_frombuffer"): _np_frombuffer for m in ("numpy.core.numeric", "numpy._core.numeric")},
    ("numpy", "ndarray"): np.ndarray,
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
}


class _SafeUnpickler(pickle.Unpickler):
    """Resolves only allowlisted globals; every other reference raises before it is called.

    Every global a pickle can call (GLOBAL, STACK_GLOBAL, INST, EXT*) goes through
    ``find_class``; persistent ids are refused by the base class.
    """

    def __init__(self, file: Any, source: PathLike) -> None:
        super().__init__(file, encoding="latin1")  # FLAME's pickles were written by Python 2
        self.source = source

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _ALLOWED:
            return _ALLOWED[(module, name)]
        if (module == "chumpy" or module.startswith("chumpy.")) and name.isidentifier():
            return _chumpy_class(module, name)
        raise InputError(
            self.source, f"pickle reference {module}.{name}",
            "only array classes (numpy, scipy.sparse, chumpy): loading a pickle can run code, so "
            "this loader refuses anything else",
            f"a reference to {module}.{name} (refused, not called). Genuine FLAME pickles hold only "
            f"arrays; convert a trusted folder once with `{CONVERT_HINT}` and load the .npz instead")


def safe_unpickle(path: Path) -> Any:
    """Unpickle ``path`` through the allowlist; any failure becomes an ``InputError`` naming it."""
    with open(path, "rb") as handle:
        try:
            return _SafeUnpickler(handle, path).load()
        except InputError:
            raise
        except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError,
                KeyError, IndexError, MemoryError, UnicodeError, RecursionError) as err:
            raise InputError(path, "pickle", "a readable FLAME pickle",
                             f"{type(err).__name__}: {err}") from None
