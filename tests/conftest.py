import contextlib
import copy
import os
import sys
import types

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

# Property tests are deterministic by default: every run (a fresh clone, CI, a laptop) draws the same
# examples (derandomize: seeded from each test), and no example database replays an earlier run's
# failures, so a red suite means the code changed. "explore" is the opt-in hunt for new examples:
# random seeds, more of them, failures saved and replayed (tests/README.md, "Property tests").
# Choose it with AVATARCHECK_HYPOTHESIS=explore or pytest's --hypothesis-profile explore.
_COMMON = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
settings.register_profile("default", max_examples=40, derandomize=True, database=None, **_COMMON)
settings.register_profile("ci", parent=settings.get_profile("default"))  # the old name for the same profile
settings.register_profile("explore", max_examples=200, derandomize=False, **_COMMON)
settings.load_profile(os.environ.get("AVATARCHECK_HYPOTHESIS") or os.environ.get("HYPOTHESIS_PROFILE") or "default")

# rich fixes a console's width from $COLUMNS when the console is made (avatarcheck.cli.common, at import), and
# the CLI tests set COLUMNS per CliRunner call, which only a console made without it follows. A COLUMNS already
# in the environment (xdist workers get COLUMNS=80, some CI runners set one) would freeze every table and
# wrapped path at that width.
os.environ.pop("COLUMNS", None)
os.environ.pop("LINES", None)


def pytest_collection_modifyitems(config, items):
    import torch

    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs CUDA (no NVIDIA GPU here)")
    for item in items:
        if "cuda" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def head():
    from avatarcheck.head.synthetic import synthetic_head

    return synthetic_head()


@pytest.fixture(scope="session")
def layer(head):
    from avatarcheck.head.layer import HeadLayer

    return HeadLayer(head)


def fd_jacobian(f, p: np.ndarray, h: float = 1e-7) -> np.ndarray:
    """Central finite differences of a deformation f: (N, 3) -> (N, 3), as (N, 3, 3)."""
    jac = np.zeros((len(p), 3, 3))
    for j in range(3):
        e = np.zeros(3)
        e[j] = h
        jac[:, :, j] = (f(p + e) - f(p - e)) / (2 * h)
    return jac


def arkit_vector(**weights: float) -> np.ndarray:
    from avatarcheck.arkit import arkit_index

    a = np.zeros((1, 52), np.float32)
    for name, w in weights.items():
        a[0, arkit_index(name)] = w
    return a


# Parser fuzz tests run under a memory cap: an input that makes a loader allocate beyond it is a
# MemoryError there, which the contract (InputError or a valid load) does not allow. The soft
# limit is raised back afterwards (any process may raise its soft limit up to the hard one).
FUZZ_HEADROOM_BYTES = 2 << 30


def _address_space_bytes() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")


@pytest.fixture(autouse=True)
def _fuzz_memory_cap(request):
    if "fuzz" not in request.module.__name__ or not os.path.exists("/proc/self/statm"):
        yield
        return
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = _address_space_bytes() + FUZZ_HEADROOM_BYTES
    if hard != resource.RLIM_INFINITY:
        cap = min(cap, hard)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


class _FakeCh:
    """Pickles like chumpy.ch.Ch (chumpy/ch.py: ``__new__`` state, ``__getstate__``)."""

    def __new__(cls, *args):
        obj = object.__new__(cls)
        obj.__dict__.update(_dirty_vars=set(), _itr=None, _parents={}, _cache={"r": None, "drs": {}},
                            _depends_on_deps={}, _make_dense=False, _make_sparse=False)
        if args:
            obj.__dict__["x"] = np.asarray(args[0], np.float64)
            obj._dirty_vars.add("x")
        return obj

    def __getstate__(self):
        state = copy.copy(self.__dict__)
        del state["_parents"], state["_cache"]
        return state


@contextlib.contextmanager
def fake_chumpy():
    """``chumpy`` / ``chumpy.ch`` in sys.modules only while dumping (FLAME 2020 pickles reference
    ``chumpy.ch.Ch``; the loaders must read them without chumpy installed)."""
    saved = {k: sys.modules.get(k) for k in ("chumpy", "chumpy.ch")}
    pkg, mod = types.ModuleType("chumpy"), types.ModuleType("chumpy.ch")
    Ch = type("Ch", (_FakeCh,), {"__module__": "chumpy.ch", "__qualname__": "Ch"})
    mod.Ch = pkg.Ch = Ch
    pkg.ch = mod
    sys.modules.update({"chumpy": pkg, "chumpy.ch": mod})
    try:
        yield Ch
    finally:
        for k, m in saved.items():
            if m is None:
                sys.modules.pop(k, None)
            else:
                sys.modules[k] = m


def zip_members(path) -> dict[str, bytes]:
    """Every file member of the zip at ``path`` by name (tests that take an OAC zip apart)."""
    import zipfile

    with zipfile.ZipFile(path) as zf:
        return {n: zf.read(n) for n in zf.namelist() if not n.endswith("/")}


def rezip(members: dict[str, bytes], path):
    """Write ``members`` (name -> bytes) as a zip at ``path``; returns ``path``."""
    import zipfile

    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for n, data in members.items():
            zf.writestr(n, data)
    return path
