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


def arkit_vector(**weights: float) -> np.ndarray:
    from avatarcheck.arkit import arkit_index

    a = np.zeros((1, 52), np.float32)
    for name, w in weights.items():
        a[0, arkit_index(name)] = w
    return a
