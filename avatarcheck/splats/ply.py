"""The standard 3DGS PLY layout (what LAM exports), read and written with plyfile.

Properties per vertex: ``x y z nx ny nz f_dc_0..2 f_rest_0..(3(K-1)-1) opacity scale_0..2
rot_0..3``; opacity stored as a logit, scales as logs, quaternion w first, ``f_rest`` channel-major
(all red coefficients, then green, then blue) as the reference 3DGS code writes it. The positions
are absolute (anchor + offset), so reading needs the anchors to recover offsets. An optional
``label`` uchar property carries our splat labels; other tools ignore it.
"""

from __future__ import annotations

import io
import os

import numpy as np
from plyfile import PlyData, PlyElement

from avatarcheck.errors import InputError
from avatarcheck.io.atomic import write_bytes_atomic
from avatarcheck.splats.cloud import SplatCloud

_OPACITY_EPS = 1e-6  # keeps the logit finite for opacity 0 or 1


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p.astype(np.float64), _OPACITY_EPS, 1 - _OPACITY_EPS)
    return np.log(p / (1 - p))


def write_ply(path: str | os.PathLike, cloud: SplatCloud, anchors: np.ndarray, with_labels: bool = True) -> None:
    """Write ``cloud`` placed on anchors (N, 3) as a binary little-endian 3DGS PLY (atomic)."""
    a = np.asarray(anchors, np.float32)
    if a.shape != (cloud.num_splats, 3):
        raise InputError(path, "anchors", f"shape ({cloud.num_splats}, 3)", f"shape {a.shape}")
    k = cloud.sh.shape[1]
    columns: list[tuple[str, np.ndarray]] = []
    xyz = a + cloud.offsets
    columns += [(n, xyz[:, i]) for i, n in enumerate("xyz")]
    columns += [(n, np.zeros(cloud.num_splats, np.float32)) for n in ("nx", "ny", "nz")]
    columns += [(f"f_dc_{i}", cloud.sh[:, 0, i]) for i in range(3)]
    rest = cloud.sh[:, 1:, :].transpose(0, 2, 1).reshape(cloud.num_splats, 3 * (k - 1))
    columns += [(f"f_rest_{i}", rest[:, i]) for i in range(rest.shape[1])]
    columns.append(("opacity", _logit(cloud.opacities)))
    columns += [(f"scale_{i}", np.log(cloud.scales[:, i].astype(np.float64))) for i in range(3)]
    columns += [(f"rot_{i}", cloud.quats[:, i]) for i in range(4)]
    dtype = [(name, "f4") for name, _ in columns]
    if with_labels:
        dtype.append(("label", "u1"))
    data = np.empty(cloud.num_splats, dtype=dtype)
    for name, col in columns:
        data[name] = col
    if with_labels:
        data["label"] = cloud.labels
    buf = io.BytesIO()
    PlyData([PlyElement.describe(data, "vertex")], text=False).write(buf)
    write_bytes_atomic(path, buf.getvalue())


def read_ply(path: str | os.PathLike, anchors: np.ndarray) -> SplatCloud:
    """Read a 3DGS PLY onto anchors (N, 3); activations applied (sigmoid, exp, normalise)."""
    try:
        ply = PlyData.read(str(path))
        v = ply["vertex"].data
    except FileNotFoundError:
        raise
    except KeyError:
        raise InputError(path, "vertex", "a PLY 'vertex' element", "none") from None
    except Exception as err:  # plyfile raises several types for truncated or foreign files
        raise InputError(path, "file", "a readable 3DGS PLY", f"{type(err).__name__}: {err}") from None
    names = set(v.dtype.names or ())
    need = ["x", "y", "z", "f_dc_0", "f_dc_1", "f_dc_2", "opacity",
            "scale_0", "scale_1", "scale_2", "rot_0", "rot_1", "rot_2", "rot_3"]
    missing = [n for n in need if n not in names]
    if missing:
        raise InputError(path, missing[0], "3DGS vertex properties " + " ".join(need), f"missing {missing}")
    n_rest = sum(1 for n in names if n.startswith("f_rest_"))
    k = 1 + n_rest // 3
    if n_rest % 3 or k not in (1, 4, 9, 16) or any(f"f_rest_{i}" not in names for i in range(n_rest)):
        raise InputError(path, "f_rest_*", "0, 9, 24 or 45 consecutive f_rest properties", f"{n_rest}")
    n = len(v)
    a = np.asarray(anchors, np.float32)
    if a.shape != (n, 3):
        raise InputError(path, "vertex count", f"{len(a)} splats, one per anchor (anchors {a.shape})", f"{n}")

    def cols(*props: str) -> np.ndarray:
        out = np.stack([np.asarray(v[p], np.float64) for p in props], axis=1)
        bad = ~np.isfinite(out)
        if bad.any():
            row, col = np.argwhere(bad)[0]
            raise InputError(path, props[col], "finite values", f"{v[props[col]][row]} at vertex {row}")
        return out

    xyz = cols("x", "y", "z")
    dc = cols("f_dc_0", "f_dc_1", "f_dc_2")
    rest = cols(*[f"f_rest_{i}" for i in range(n_rest)]) if n_rest else np.zeros((n, 0))
    sh = np.concatenate([dc[:, None, :], rest.reshape(n, 3, k - 1).transpose(0, 2, 1)], axis=1)
    quats = cols("rot_0", "rot_1", "rot_2", "rot_3")
    qn = np.linalg.norm(quats, axis=1, keepdims=True)
    if (qn == 0).any():
        raise InputError(path, "rot_*", "non-zero quaternions", f"zero at vertex {int(np.argmin(qn))}")
    log_scales = cols("scale_0", "scale_1", "scale_2")
    labels = np.asarray(v["label"], np.uint8) if "label" in names else np.zeros(n, np.uint8)
    return SplatCloud(
        offsets=xyz - a,
        scales=np.exp(log_scales),
        quats=quats / qn,
        opacities=1.0 / (1.0 + np.exp(-cols("opacity")[:, 0])),
        sh=sh,
        labels=labels,
        source=str(path),
    )
