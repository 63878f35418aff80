"""Splat PLYs in two layouts, read and written with plyfile: LAM's (offset + RGB) and standard 3DGS.

Both store per vertex ``x y z nx ny nz f_dc_0..2 [f_rest_*] opacity scale_0..2 rot_0..3`` with opacity
as a logit, scales as logs (linear sigma = exp) and the quaternion w first. They differ in two fields:

=========  =====================================  ==============================================
layout     ``x y z``                              ``f_dc_*`` (and ``f_rest_*``)
=========  =====================================  ==============================================
``lam``    offset from the anchor (metres; real   RGB in [0, 1]; no ``f_rest`` (degree 0). The 17
           exports: median 10-12 mm, 99th pct     properties above, exactly, in that order: what
           ~100 mm, LAM's bound 0.1 per axis)     every PLY LAM writes for users is
                                                  (``save_ply(rgb2sh=False, offset2xyz=True)``)
``3dgs``   absolute position, anchor + offset     SH coefficients; ``f_rest`` channel-major (all
                                                  red, then green, then blue) as the reference
                                                  3DGS code writes it
=========  =====================================  ==============================================

Neither says which it is, and reading one as the other puts every splat an anchor away (a
LAM-anchored head at y ~1.6 m) and shifts its colours, so the reader decides from the data and
records how (``LayoutDecision``). **The detection rule** (``detect_layout``):

1. Positions. ``d_off`` = median ``|xyz|`` (the size of the offsets, if ``x y z`` are offsets) and
   ``d_abs`` = median ``|xyz - anchor|`` (their size, if ``x y z`` are absolute). When one is at
   least ``LAYOUT_RATIO`` = 4 times smaller than the other, positions decide: ``lam`` when ``d_off``
   is the smaller, ``3dgs`` when ``d_abs`` is.
2. Colours. Any ``f_dc`` outside [-0.01, 1.01] (RGB, with room for float rounding) or any
   ``f_rest`` property proves SH, hence ``3dgs``. ``f_dc`` inside [0, 1] proves nothing: SH DC
   values there are ordinary (rgb 0.5 to 0.78).
3. Decision. Positions for ``lam`` with colours proving SH contradict each other: an
   ``InputError`` ("inconsistent") naming both. Otherwise clear positions decide. Unclear
   positions (ratio under 4) leave it to the colours when they prove SH (``3dgs``); when they do
   not either, an ``InputError`` ("ambiguous PLY layout") names ``d_off``, ``d_abs`` and the ``f_dc``
   range and asks for ``--ply-layout lam|3dgs``.

The degenerate case is the ambiguous one: anchors near the origin with tiny ``x y z`` make
``xyz - anchor`` about ``xyz``, so ``d_abs`` ~ ``d_off`` whichever the layout (the message says the
anchors sit near the origin). Real anchors are not there: FLAME heads are centred near the origin
but span ~0.2 m (median ``|anchor|`` ~9 cm against offsets of a few mm, ratio ~20), LAM's OAC body
frame puts the head at y ~1.6 m.

A forced layout skips detection but still refuses the impossible: ``lam`` on colours that prove
SH. An optional ``label`` uchar property carries our splat labels (standard layout only on
writing; read from either); other tools ignore it.
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
from avatarcheck.splats.cloud import LABEL_NAMES, SplatCloud, rgb_to_sh

_OPACITY_EPS = 1e-6  # keeps the logit finite for opacity 0 or 1
_LAM_OPACITY_EPS = 1e-3  # LAM's own clamp before its inverse sigmoid
# A 20k-splat degree-3 PLY is about 5 MB; a million splats about 250 MB.
MAX_PLY_BYTES = 1 << 30
MAX_PLY_HEADER = 1 << 16
# LAM clamps sigmas at 0.01 m; anything above a metre on a head is garbage, not a splat.
MAX_SIGMA = 1.0
# Positions (metres) and SH coefficients: finite but absurd values are refused.
MAX_MAGNITUDE = 1e4

PLY_LAYOUTS: tuple[str, ...] = ("lam", "3dgs")
LAYOUT_RATIO = 4.0  # d_off vs d_abs: how much smaller one must be for positions to decide
RGB_TOLERANCE = 0.01  # f_dc this far outside [0, 1] is not RGB (float rounding stays inside)
# LAM's 17 properties, in its order (construct_list_of_attributes at degree 0).
LAM_PROPERTIES: tuple[str, ...] = ("x", "y", "z", "nx", "ny", "nz", "f_dc_0", "f_dc_1", "f_dc_2", "opacity",
                                   "scale_0", "scale_1", "scale_2", "rot_0", "rot_1", "rot_2", "rot_3")


@dataclasses.dataclass(frozen=True)
class LayoutDecision:
    """How a PLY was read: ``layout`` in ``PLY_LAYOUTS``, ``forced`` (given by the caller, not
    detected) and ``evidence``, one line of the numbers the rule looked at."""

    layout: str
    forced: bool
    evidence: str


@dataclasses.dataclass(frozen=True)
class LayoutEvidence:
    """The numbers the detection rule uses (lengths in metres)."""

    d_off: float  # median |xyz|: the offsets' size if x y z are offsets
    d_abs: float  # median |xyz - anchor|: their size if x y z are absolute
    anchor: float  # median |anchor|: near 0, the two above cannot differ
    dc_min: float  # f_dc range over all three channels (0, 0 for no splats)
    dc_max: float
    n_rest: int  # f_rest properties

    @property
    def positions_say(self) -> str | None:
        """``lam``, ``3dgs`` or None when neither median is ``LAYOUT_RATIO`` times the other."""
        if self.d_abs > 0 and LAYOUT_RATIO * self.d_off <= self.d_abs:
            return "lam"
        if self.d_off > 0 and LAYOUT_RATIO * self.d_abs <= self.d_off:
            return "3dgs"
        return None

    @property
    def colours_prove_sh(self) -> bool:
        return self.n_rest > 0 or self.dc_min < -RGB_TOLERANCE or self.dc_max > 1 + RGB_TOLERANCE

    def positions_text(self) -> str:
        lo, hi = sorted((self.d_off, self.d_abs))
        ratio = f"{hi / lo:.3g}" if lo > 0 else ("inf" if hi > 0 else "undefined")
        return (f"d_off = median |xyz| = {_length(self.d_off)}, d_abs = median |xyz - anchor| = "
                f"{_length(self.d_abs)} (ratio {ratio}), median |anchor| = {_length(self.anchor)}")

    def colours_text(self) -> str:
        return f"f_dc in [{self.dc_min:.4g}, {self.dc_max:.4g}], {self.n_rest} f_rest properties"

    def line(self) -> str:
        return f"{self.positions_text()}; {self.colours_text()}"


def _length(metres: float) -> str:
    return f"{metres * 1e3:.3g} mm" if metres < 1 else f"{metres:.3g} m"


def layout_evidence(xyz: np.ndarray, anchors: np.ndarray, dc: np.ndarray, n_rest: int) -> LayoutEvidence:
    """xyz (N, 3), anchors (N, 3), f_dc (N, 3) as stored, the f_rest count -> the rule's numbers."""
    xyz, anchors = np.asarray(xyz, np.float64), np.asarray(anchors, np.float64)
    if not len(xyz):
        return LayoutEvidence(0.0, 0.0, 0.0, 0.0, 0.0, n_rest)
    return LayoutEvidence(
        d_off=float(np.median(np.linalg.norm(xyz, axis=1))),
        d_abs=float(np.median(np.linalg.norm(xyz - anchors, axis=1))),
        anchor=float(np.median(np.linalg.norm(anchors, axis=1))),
        dc_min=float(np.min(dc)), dc_max=float(np.max(dc)), n_rest=n_rest)


def checked_layout(layout: str, source: str | os.PathLike) -> str:
    """``layout`` if it is ``auto`` or one of ``PLY_LAYOUTS``, else an ``InputError`` listing them."""
    if layout not in ("auto", *PLY_LAYOUTS):
        raise InputError(source, "ply layout", " | ".join(("auto", *PLY_LAYOUTS)), repr(layout))
    return layout


def detect_layout(ev: LayoutEvidence, layout: str, source: str | os.PathLike) -> LayoutDecision:
    """The layout to read with: ``layout`` when forced (``lam`` refused on SH colours), else the
    module docstring's rule. Contradictory or ambiguous evidence: ``InputError`` with the numbers."""
    checked_layout(layout, source)
    if layout == "lam" and ev.colours_prove_sh:
        raise InputError(source, "ply layout", f"LAM's layout for --ply-layout lam: f_dc = RGB in [0, 1] (+-"
                         f"{RGB_TOLERANCE:g}) and no f_rest; pass --ply-layout 3dgs or auto if it is not LAM's",
                         f"SH colours: {ev.colours_text()}")
    if layout != "auto":
        return LayoutDecision(layout, True, ev.line())
    says = ev.positions_say
    if says == "lam" and ev.colours_prove_sh:
        raise InputError(source, "ply layout", "positions and colours that agree on a layout; pass --ply-layout "
                         "lam|3dgs to say which it is", f"inconsistent PLY: positions say lam (offsets: "
                         f"{ev.positions_text()}) but colours prove SH, so 3dgs ({ev.colours_text()})")
    if says is not None:
        return LayoutDecision(says, False, ev.line())
    if ev.colours_prove_sh:
        return LayoutDecision("3dgs", False, ev.line())
    degenerate = LAYOUT_RATIO * ev.anchor <= max(ev.d_off, ev.d_abs)
    why = ("; the anchors sit near the origin, so offsets and absolute positions look alike" if degenerate else "")
    raise InputError(source, "ply layout", f"positions whose offset and absolute readings differ {LAYOUT_RATIO:g}x "
                     f"or colours that prove SH; pass --ply-layout lam|3dgs to say which layout it is",
                     f"ambiguous PLY layout: {ev.positions_text()}{why}; {ev.colours_text()} (RGB and SH alike)")


def _logit(p: np.ndarray, eps: float = _OPACITY_EPS) -> np.ndarray:
    p = np.clip(p.astype(np.float64), eps, 1 - eps)
    return np.log(p / (1 - p))


def _ply_columns(cloud: SplatCloud, anchors: np.ndarray, layout: str) -> list[tuple[str, np.ndarray]]:
    """(name, (N,) values) in file order for ``layout``; anchors (N, 3) float32."""
    n, k = cloud.num_splats, cloud.sh.shape[1]
    if layout == "lam":
        xyz = cloud.offsets
        dc = np.clip(cloud.rgb, 0.0, 1.0)  # LAM stores colours, not SH; clipped like its sigmoid output
        opacity = _logit(cloud.opacities, _LAM_OPACITY_EPS)
        rest = np.zeros((n, 0), np.float32)
    else:
        xyz = anchors + cloud.offsets
        dc = cloud.sh[:, 0]
        opacity = _logit(cloud.opacities)
        rest = cloud.sh[:, 1:, :].transpose(0, 2, 1).reshape(n, 3 * (k - 1))  # channel-major
    columns = [(c, xyz[:, i]) for i, c in enumerate("xyz")]
    columns += [(c, np.zeros(n, np.float32)) for c in ("nx", "ny", "nz")]
    columns += [(f"f_dc_{i}", dc[:, i]) for i in range(3)]
    columns += [(f"f_rest_{i}", rest[:, i]) for i in range(rest.shape[1])]
    columns.append(("opacity", opacity))
    columns += [(f"scale_{i}", np.log(cloud.scales[:, i].astype(np.float64))) for i in range(3)]
    columns += [(f"rot_{i}", cloud.quats[:, i]) for i in range(4)]
    return columns


def write_ply(path: str | os.PathLike, cloud: SplatCloud, anchors: np.ndarray, with_labels: bool = True,
              layout: str = "3dgs") -> None:
    """Write ``cloud`` on anchors (N, 3) as a binary little-endian PLY in ``layout`` (atomic).

    ``3dgs``: absolute positions, SH, our ``label`` column when ``with_labels``. ``lam``: exactly
    ``LAM_PROPERTIES`` (offsets, RGB clipped to [0, 1], opacity clamped to [1e-3, 1 - 1e-3] as LAM
    does, no labels), what LAM's ``load_ply`` reads; degree > 0 SH has no place there: ``InputError``.
    """
    if layout not in PLY_LAYOUTS:
        raise InputError(path, "ply layout", " | ".join(PLY_LAYOUTS), repr(layout))
    a = np.asarray(anchors, np.float32)
    if a.shape != (cloud.num_splats, 3):
        raise InputError(path, "anchors", f"shape ({cloud.num_splats}, 3)", f"shape {a.shape}")
    if layout == "lam" and cloud.sh_degree > 0:
        raise InputError(path, "sh", "degree-0 colours for LAM's layout (it stores RGB, no f_rest)",
                         f"SH degree {cloud.sh_degree}")
    columns = _ply_columns(cloud, a, layout)
    dtype = [(name, "f4") for name, _ in columns]
    labels = with_labels and layout == "3dgs"
    if labels:
        dtype.append(("label", "u1"))
    data = np.empty(cloud.num_splats, dtype=dtype)
    for name, col in columns:
        data[name] = col
    if labels:
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


def read_ply(path: str | os.PathLike, anchors: np.ndarray, max_bytes: int = MAX_PLY_BYTES,
             layout: str = "auto") -> SplatCloud:
    """``read_ply_layout``'s cloud alone."""
    return read_ply_layout(path, anchors, max_bytes, layout)[0]


def read_ply_layout(path: str | os.PathLike, anchors: np.ndarray, max_bytes: int = MAX_PLY_BYTES,
                    layout: str = "auto") -> tuple[SplatCloud, LayoutDecision]:
    """Read a splat PLY onto anchors (N, 3) -> (cloud, how it was read); activations applied
    (sigmoid, exp, normalise). ``layout``: ``auto`` (the module docstring's rule), ``lam`` or ``3dgs``.

    Refused with an ``InputError`` naming the file: an unknown layout, header counts that disagree
    with the body, list properties where a number belongs, linear sigmas above ``MAX_SIGMA``,
    positions and SH beyond ``MAX_MAGNITUDE``, labels that are not small non-negative integers, a
    layout the evidence contradicts or cannot tell.
    """
    checked_layout(layout, path)
    v = _read_vertices(path, max_bytes)
    names = set(v.dtype.names or ())
    n_rest = _sh_rest_count(names, path)
    n = len(v)
    a = checked_array(anchors, path, "anchors", (None, 3), dtype=np.float32)
    if a.shape != (n, 3):
        raise InputError(path, "vertex count", f"{len(a)} splats, one per anchor (anchors {a.shape})", f"{n}")
    xyz = _columns(v, path, "x", "y", "z")
    dc = _columns(v, path, "f_dc_0", "f_dc_1", "f_dc_2")
    rest = _columns(v, path, *[f"f_rest_{i}" for i in range(n_rest)]) if n_rest else np.zeros((n, 0))
    quats = _unit_quaternions(v, path)
    log_scales = _log_scales(v, path)
    labels = _checked_labels(np.asarray(v["label"]), path) if "label" in names else np.zeros(n, np.uint8)
    opacity = _columns(v, path, "opacity", limit=None)[:, 0]
    decision = detect_layout(layout_evidence(xyz, a, dc, n_rest), layout, path)
    if decision.layout == "lam":  # offsets and RGB (detect_layout refused f_rest for lam)
        offsets, sh = xyz, rgb_to_sh(dc)
    else:  # absolute positions and SH, f_rest channel-major
        offsets = xyz - a
        sh = np.concatenate([dc[:, None, :], rest.reshape(n, 3, n_rest // 3).transpose(0, 2, 1)], axis=1)
    cloud = SplatCloud(
        offsets=offsets,
        scales=np.exp(log_scales),
        quats=quats,
        opacities=0.5 * (1.0 + np.tanh(0.5 * opacity)),  # the sigmoid, without exp overflow
        sh=sh,
        labels=labels,
        source=str(path),
    )
    return cloud, decision


# The vertex properties every splat PLY must have (either layout), in the order errors name them.
_REQUIRED_PROPERTIES = ("x", "y", "z", "f_dc_0", "f_dc_1", "f_dc_2", "opacity",
                        "scale_0", "scale_1", "scale_2", "rot_0", "rot_1", "rot_2", "rot_3")


def _read_vertices(path: str | os.PathLike, max_bytes: int) -> np.ndarray:
    """The PLY's vertex rows (a structured array), after the header has been checked against the body
    (sizes, scalar properties) so plyfile never allocates by a lying count."""
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
        return ply["vertex"].data
    except FileNotFoundError:
        raise
    except Exception as err:  # plyfile raises several types for truncated or foreign files
        raise InputError(path, "file", "a readable 3DGS PLY", f"{type(err).__name__}: {err}") from None


def _sh_rest_count(names: set[str], path: str | os.PathLike) -> int:
    """The number of ``f_rest_*`` properties (0, 9, 24 or 45: SH degree 0 to 3), once the required
    properties are known present."""
    need = list(_REQUIRED_PROPERTIES)
    missing = [n for n in need if n not in names]
    if missing:
        raise InputError(path, missing[0], "3DGS vertex properties " + " ".join(need), f"missing {missing}")
    n_rest = sum(1 for n in names if n.startswith("f_rest_"))
    k = 1 + n_rest // 3
    if n_rest % 3 or k not in (1, 4, 9, 16) or any(f"f_rest_{i}" not in names for i in range(n_rest)):
        raise InputError(path, "f_rest_*", "0, 9, 24 or 45 consecutive f_rest properties", f"{n_rest}")
    return n_rest


def _columns(v: np.ndarray, path: str | os.PathLike, *props: str, limit: float | None = MAX_MAGNITUDE) -> np.ndarray:
    """(N, len(props)) float64 columns of the vertex rows ``v``: finite, and within +-``limit`` unless None."""
    out = np.stack([np.asarray(v[p], np.float64) for p in props], axis=1)
    bad = ~np.isfinite(out)
    if limit is not None:
        bad |= np.abs(np.nan_to_num(out)) > limit
    if bad.any():
        row, col = np.argwhere(bad)[0]
        what = "finite values" if limit is None else f"finite values within +-{limit:g}"
        raise InputError(path, props[col], what, f"{v[props[col]][row]} at vertex {row}")
    return out


def _unit_quaternions(v: np.ndarray, path: str | os.PathLike) -> np.ndarray:
    """(N, 4) ``rot_*`` normalised (w first); a zero quaternion is refused."""
    quats = _columns(v, path, "rot_0", "rot_1", "rot_2", "rot_3")
    qn = np.linalg.norm(quats, axis=1, keepdims=True)
    if (qn == 0).any():
        raise InputError(path, "rot_*", "non-zero quaternions", f"zero at vertex {int(np.argmin(qn))}")
    return quats / qn


def _log_scales(v: np.ndarray, path: str | os.PathLike) -> np.ndarray:
    """(N, 3) ``scale_*`` (log sigmas), none above ``log(MAX_SIGMA)``."""
    log_scales = _columns(v, path, "scale_0", "scale_1", "scale_2")
    too_big = log_scales > np.log(MAX_SIGMA)
    if too_big.any():
        row, col = np.argwhere(too_big)[0]
        raise InputError(path, f"scale_{col}", f"log sigmas of at most {np.log(MAX_SIGMA):g} (a linear sigma of "
                         f"at most {MAX_SIGMA:g} m)", f"{log_scales[row, col]:.4g} (sigma "
                         f"{np.exp(log_scales[row, col]):.3g} m) at vertex {row}")
    return log_scales
