"""The check every fixed-avatar writer makes before publishing: its files, read back by the project's own
source, are the edited avatar it was handed (a writer bug must not ship a different avatar than was gated)."""

from __future__ import annotations

import os

import numpy as np

from avatarcheck.arkit import arkit_index
from avatarcheck.errors import InputError

SPLAT_RTOL = 1e-5  # log scales and logit opacities through float32 PLY columns


def _unit(q: np.ndarray) -> np.ndarray:
    return q / np.linalg.norm(q, axis=1, keepdims=True)


def check_read_back(back, edited, positions: np.ndarray, basis: np.ndarray, out: str | os.PathLike) -> None:
    """``back`` (the avatar read from the written files) against ``edited`` (in memory): anchors equal to
    ``positions`` (V_sub, 3) and the basis to ``basis`` (52, V_sub, 3) exactly (``tongueOut`` aside: LAM's
    template has no such target), splats to the PLY's float32 precision. An ``InputError`` names what differs."""
    keep = np.arange(len(basis)) != arkit_index("tongueOut")
    c, e = back.cloud, edited.cloud
    checks = {"positions": np.array_equal(back.head_sub.v_template, np.asarray(positions, np.float32)),
              "ARKit basis": np.array_equal(back.head_sub.arkit_basis[keep], np.asarray(basis, np.float32)[keep]),
              "offsets": np.allclose(c.offsets, e.offsets, rtol=0, atol=1e-7),
              "scales": np.allclose(c.scales, e.scales, rtol=SPLAT_RTOL, atol=0),
              "rotations": np.allclose(np.abs((c.quats * _unit(e.quats)).sum(1)), 1, atol=1e-5),
              "vertex sets": all(np.array_equal(np.sort(back.head.vertex_sets.get(k, [])), np.sort(v))
                                 for k, v in edited.head.vertex_sets.items() if k in back.head.vertex_sets)}
    bad = [k for k, ok in checks.items() if not ok]
    if bad:
        raise InputError(out, "written files", "the edited avatar, read back as it is in memory",
                         f"{', '.join(bad)} differ")
