"""The standard 3DGS PLY layout (what LAM exports), read and written with plyfile.

Properties per vertex: ``x y z nx ny nz f_dc_0..2 f_rest_0..(3(K-1)-1) opacity scale_0..2
rot_0..3``; opacity stored as a logit, scales as logs, quaternion w first, ``f_rest`` channel-major
(all red coefficients, then green, then blue) as the reference 3DGS code writes it. The positions
are absolute (anchor + offset), so reading needs the anchors to recover offsets. An optional
``label`` uchar property carries our splat labels; other tools ignore it.
"""

from __future__ import annotations

import dataclasses
import io
import os

import numpy as np
from plyfile import PlyData, PlyElement

from avatarcheck.checks import checked_array
from avatarcheck.errors import InputError
from avatarcheck.io.atomic import write_bytes_atomic
from avatarcheck.io.inputs import checked_input_file
from avatarcheck.splats.cloud import LABEL_NAMES, SplatCloud

_OPACITY_EPS = 1e-6  # keeps the logit finite for opacity 0 or 1
# A 20k-splat degree-3 PLY is about 5 MB; a million splats about 250 MB.
MAX_PLY_BYTES = 1 << 30
MAX_PLY_HEADER = 1 << 16
# LAM clamps sigmas at 0.01 m; anything above a metre on a head is garbage, not a splat.
MAX_SIGMA = 1.0
# Positions (metres) and SH coefficients: finite but absurd values are refused.
MAX_MAGNITUDE = 1e4


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


_PLY_SIZES = {"char": 1, "int8": 1, "uchar": 1, "uint8": 1, "short": 2, "int16": 2, "ushort": 2,
              "uint16": 2, "int": 4, "int32": 4, "uint": 4, "uint32": 4, "float": 4, "float32": 4,
              "double": 8, "float64": 8}


@dataclasses.dataclass(frozen=True)
class PlyElementHeader:
    name: str
    count: int
    properties: tuple[tuple[str, str], ...]  # (name, type); type "list" for list properties


@dataclasses.dataclass(frozen=True)
class PlyHeader:
    format: str  # "ascii", "binary_little_endian" or "binary_big_endian"
    elements: tuple[PlyElementHeader, ...]
    length: int  # bytes up to and including "end_header\n"


def parse_ply_header(raw: bytes, path: str | os.PathLike) -> PlyHeader:
    """The header at the start of ``raw`` (at most ``MAX_PLY_HEADER`` bytes of it) -> PlyHeader.

    Only what the size checks need; plyfile parses it again for real.
    """
    end = raw.find(b"end_header", 0, MAX_PLY_HEADER)
    nl = raw.find(b"\n", end) if end >= 0 else -1
    if not raw.startswith(b"ply") or nl < 0:
        raise InputError(path, "header", f"'ply' ... 'end_header' within {MAX_PLY_HEADER} bytes", repr(raw[:16]))
    fmt, elements = "", []
    for line in raw[:end].decode("ascii", "replace").splitlines()[1:]:
        words = line.split()
        if words[:1] == ["format"] and len(words) >= 2:
            fmt = words[1]
        elif words[:1] == ["element"] and len(words) == 3 and words[2].isdigit() and words[2].isascii():
            elements.append(PlyElementHeader(words[1], int(words[2]), ()))
        elif words[:1] == ["element"]:
            raise InputError(path, "header", "'element NAME COUNT' with a non-negative count", line[:80])
        elif words[:2] == ["property", "list"] and elements and len(words) == 5:
            e = elements[-1]
            elements[-1] = dataclasses.replace(e, properties=e.properties + ((words[4], "list"),))
        elif words[:1] == ["property"] and elements and len(words) == 3 and words[1] in _PLY_SIZES:
            e = elements[-1]
            elements[-1] = dataclasses.replace(e, properties=e.properties + ((words[2], words[1]),))
        elif words[:1] == ["property"]:
            raise InputError(path, "header", "'property TYPE NAME' after an element", line[:80])
    if fmt not in ("ascii", "binary_little_endian", "binary_big_endian"):
        raise InputError(path, "format", "ascii, binary_little_endian or binary_big_endian", repr(fmt[:40]))
    return PlyHeader(fmt, tuple(elements), nl + 1)


def check_ply_sizes(header: PlyHeader, file_size: int, path: str | os.PathLike) -> None:
    """Element counts against the body's length, before plyfile allocates by them.

    Binary with fixed-size rows: the body must be exactly the rows the header declares (a
    shorter count would silently drop splats). Otherwise: no more rows than the body could hold.
    """
    body = file_size - header.length
    fixed = all(t != "list" for e in header.elements for _, t in e.properties)
    if header.format == "ascii":
        # at least "0 " per property per row
        least = sum(e.count * 2 * max(1, len(e.properties)) for e in header.elements) - 1
    else:
        least = sum(e.count * sum(_PLY_SIZES.get(t, 1) for _, t in e.properties) for e in header.elements)
    counts = ", ".join(f"{e.name} {e.count}" for e in header.elements)
    if header.format != "ascii" and fixed and body != least:
        raise InputError(path, "element count", f"a body of {least} bytes for the header's counts ({counts})",
                         f"{body} bytes")
    if body < least:
        raise InputError(path, "element count", f"a body of at least {least} bytes for the header's counts "
                         f"({counts})", f"{body} bytes")


def check_ascii_rows(header: PlyHeader, path: str | os.PathLike) -> None:
    """ASCII bodies hold one element per non-blank line: exactly as many as the header counts.

    plyfile reads only the declared count and ignores the rest, so a header that undercounts would
    silently drop splats (a hand-edited or concatenated file)."""
    want = sum(e.count for e in header.elements)
    rows = 0
    with open(path, "rb") as fh:
        fh.seek(header.length)
        for line in fh:
            rows += bool(line.strip())
    if rows != want:
        counts = ", ".join(f"{e.name} {e.count}" for e in header.elements)
        raise InputError(path, "element count", f"{want} rows for the header's counts ({counts})", f"{rows} rows")


def _checked_labels(raw: np.ndarray, path: str | os.PathLike) -> np.ndarray:
    """The ``label`` column -> (N,) uint8: small non-negative integers, whatever the stored type."""
    bad = ~np.isfinite(raw) if raw.dtype.kind == "f" else np.zeros(raw.shape, bool)
    vals = np.where(bad, -1, raw).astype(np.float64)
    bad |= (vals != np.round(vals)) | (vals < 0) | (vals >= len(LABEL_NAMES))
    if bad.any():
        i = int(np.argmax(bad))
        raise InputError(path, "label", f"integer codes in [0, {len(LABEL_NAMES)}) ({', '.join(LABEL_NAMES)})",
                         f"{raw[i]} at vertex {i}")
    return vals.astype(np.uint8)


def read_ply(path: str | os.PathLike, anchors: np.ndarray, max_bytes: int = MAX_PLY_BYTES) -> SplatCloud:
    """Read a 3DGS PLY onto anchors (N, 3); activations applied (sigmoid, exp, normalise).

    Refused with an ``InputError`` naming the file: header counts that disagree with the body,
    list properties where a number belongs, linear sigmas above ``MAX_SIGMA``, positions and SH
    beyond ``MAX_MAGNITUDE``, labels that are not small non-negative integers.
    """
    size = checked_input_file(path, max_bytes, "a PLY file")
    with open(path, "rb") as fh:
        header = parse_ply_header(fh.read(MAX_PLY_HEADER), path)
    vertex = next((e for e in header.elements if e.name == "vertex"), None)
    if vertex is None:
        raise InputError(path, "vertex", "a PLY 'vertex' element", "none")
    lists = [name for name, t in vertex.properties if t == "list"]
    if lists:
        raise InputError(path, lists[0], "scalar vertex properties (3DGS writes no lists)", "a list property")
    check_ply_sizes(header, size, path)
    if header.format == "ascii":
        check_ascii_rows(header, path)
    try:
        ply = PlyData.read(str(path))
        v = ply["vertex"].data
    except FileNotFoundError:
        raise
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
    a = checked_array(anchors, path, "anchors", (None, 3), dtype=np.float32)
    if a.shape != (n, 3):
        raise InputError(path, "vertex count", f"{len(a)} splats, one per anchor (anchors {a.shape})", f"{n}")

    def cols(*props: str, limit: float | None = MAX_MAGNITUDE) -> np.ndarray:
        out = np.stack([np.asarray(v[p], np.float64) for p in props], axis=1)
        bad = ~np.isfinite(out)
        if limit is not None:
            bad |= np.abs(np.nan_to_num(out)) > limit
        if bad.any():
            row, col = np.argwhere(bad)[0]
            what = "finite values" if limit is None else f"finite values within +-{limit:g}"
            raise InputError(path, props[col], what, f"{v[props[col]][row]} at vertex {row}")
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
    too_big = log_scales > np.log(MAX_SIGMA)
    if too_big.any():
        row, col = np.argwhere(too_big)[0]
        raise InputError(path, f"scale_{col}", f"log sigmas of at most {np.log(MAX_SIGMA):g} (a linear sigma of "
                         f"at most {MAX_SIGMA:g} m)", f"{log_scales[row, col]:.4g} (sigma "
                         f"{np.exp(log_scales[row, col]):.3g} m) at vertex {row}")
    labels = _checked_labels(np.asarray(v["label"]), path) if "label" in names else np.zeros(n, np.uint8)
    opacity = cols("opacity", limit=None)[:, 0]
    return SplatCloud(
        offsets=xyz - a,
        scales=np.exp(log_scales),
        quats=quats / qn,
        opacities=0.5 * (1.0 + np.tanh(0.5 * opacity)),  # the sigmoid, without exp overflow
        sh=sh,
        labels=labels,
        source=str(path),
    )
