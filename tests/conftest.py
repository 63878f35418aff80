import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "default", deadline=None, max_examples=40,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
settings.register_profile("ci", parent=settings.get_profile("default"), max_examples=40, derandomize=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


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
