"""The override layer: the LAM chibi recipe's assets (+ boosts, Jacobians) applied at LAM's hook point.

The recipe (a field report on editing LAM avatars into chibis) hands the renderer an edited canonical
mesh, a re-evaluated ARKit basis and a per-vertex scale ratio through environment variables; the
names of every asset live in one table, ``edit.override_assets.OVERRIDE_ASSETS``.

Three steps, each usable alone: ``OverrideSettings`` (paths and numbers, e.g. ``from_env()``) ->
``load_override_arrays`` (reads and checks the files) -> ``apply_override_arrays`` (pure: a new
``Avatar``). The gate skips the files: it builds ``OverrideArrays.from_assets`` from a bake in memory.
``LAM_LASH_RING_BOOST`` is ours (the recipe's open thread: a targeted boost on the boundary of the
blink-displacement mask), applied after the ratio so the two compose multiplicatively.

This module is the one place that reads environment variables. ``audit`` lists every coupled
channel an override left uncorrected: overriding xyz without a scale pull-back is a finding, and so
is an eyeball the edit left non-rigid (given its measured anisotropy, ``edit.rigid_eyes``).
"""

from __future__ import annotations

import dataclasses
import difflib
import errno
import os
import stat
import tokenize
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from avatarcheck.avatar import Avatar
from avatarcheck.checks import checked_array
from avatarcheck.errors import InputError
from avatarcheck.head.subdivide import subdivide_attributes
from avatarcheck.arkit import arkit_index
from avatarcheck.edit.corrections import anisotropic_correction, check_positive_factors, lash_ring, scale_by
from avatarcheck.edit.override_assets import BY_FIELD, BY_GATE_NAME, OVERRIDE_ASSETS
from avatarcheck.head.model import HeadModel
from avatarcheck.numbers import parse_number

ENV_VARS: dict[str, str] = {a.field: a.env_var for a in OVERRIDE_ASSETS}
FLOAT_FIELDS = tuple(a.field for a in OVERRIDE_ASSETS if a.is_number)
# Channels that must follow an xyz override (the override audit's table): per-splat outputs the
# network predicts in lockstep with xyz, and the eyeball's shape, which the eye joint turns rigidly.
COUPLED_TO_XYZ: tuple[str, ...] = ("scales", "rotations", "eyeball_shape")
# A multiplicative pull-back stays within this factor; beyond it a log was probably added.
PLAUSIBLE_FACTOR = 20.0
# An edited head lives within metres of the origin and is not collapsed to a point.
MAX_COORD_M = 10.0
MIN_EXTENT_M = 1e-3
# |det J| below this is a singular Jacobian (anisotropic_correction's own bound).
MIN_ABS_DET = 1e-12
# Variables with this prefix belong to the recipe's family: one set that is not in ENV_VARS is a typo.
ENV_PREFIX = "LAM_"


@dataclasses.dataclass(frozen=True)
class OverrideSettings:
    edit_xyz_obj: Path | None = None
    arkit_bs: Path | None = None
    scale_ratio: Path | None = None
    scale_boost: float | None = None
    jacobians: Path | None = None
    lash_ring_boost: float | None = None
    offset_jacobians: Path | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "OverrideSettings":
        """Read the LAM chibi recipe's variables (unset or empty = not applied)."""
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for field, var in ENV_VARS.items():
            raw = env.get(var, "").strip()
            if not raw:
                continue
            if field in FLOAT_FIELDS:
                # float() also takes "1_5" (15) and full-width digits: a typo must not become 15x.
                number = parse_number(raw, f"${var}", field, "a plain decimal number (a sigma multiplier, e.g. 1.5)")
                values[field] = _check_multiplier(number, field)
            else:
                if "\x00" in raw:
                    raise InputError(f"${var}", field, "a file path", repr(raw))
                values[field] = Path(raw)
        return cls(**values)

    @property
    def applied(self) -> frozenset[str]:
        """Gate names (``OVERRIDE_ASSETS``) of the overrides these settings set."""
        return frozenset(BY_FIELD[f.name].gate_name for f in dataclasses.fields(self)
                         if getattr(self, f.name) is not None)


def unknown_env_vars(environ: Mapping[str, str] | None = None) -> list[tuple[str, str | None]]:
    """Set ``LAM_*`` variables this layer does not read, each with the closest known name (``difflib``;
    None when nothing is close): ``LAM_CHIBI_SCALE_RATIOS`` -> ``LAM_CHIBI_SCALE_RATIO``."""
    env = os.environ if environ is None else environ
    known = sorted(ENV_VARS.values())
    unknown = sorted(v for v in env if v.startswith(ENV_PREFIX) and v not in known and env[v].strip())
    return [(v, next(iter(difflib.get_close_matches(v, known, n=1, cutoff=0.6)), None)) for v in unknown]


@dataclasses.dataclass(frozen=True)
class Finding:
    channel: str
    severity: str  # "error": the render is expected to go wrong; "note": a known approximation
    message: str


def audit(applied: "OverrideSettings | frozenset[str] | set[str]",
          eyeballs: Mapping[str, float] | None = None, eyeballs_raw: Mapping[str, float] | None = None
          ) -> list[Finding]:
    """Every coupled channel the applied overrides (gate names, or settings) leave uncorrected.

    ``eyeballs``: per eye, the anisotropy of the applied mesh's eyeball (``rigid_eyes.eyeball_anisotropy``;
    1 = a uniformly scaled sphere); ``eyeballs_raw``: the same for the edit before the rigid-eye
    correction (from the bake), quoted beside it. Without ``eyeballs`` the shape is not audited."""
    on = applied.applied if isinstance(applied, OverrideSettings) else frozenset(applied)
    findings: list[Finding] = []
    if "xyz" not in on:
        return findings
    if eyeballs:
        findings.append(_eyeball_finding(eyeballs, eyeballs_raw))
    scale_fixed = bool(on & {"scale_ratio", "scale_boost", "jacobians"})
    if not scale_fixed:
        findings.append(Finding("scales", "error",
                                "xyz overridden (LAM_EDIT_XYZ_OBJ) but splat scales not pulled back: set "
                                "LAM_CHIBI_SCALE_RATIO (or LAM_J_PER_VERT_NPY); stretched regions will not "
                                "tile and the eyeball shows through a closed lid"))
    elif "scale_boost" in on and not on & {"scale_ratio", "jacobians"}:
        findings.append(Finding("scales", "note", "only a constant LAM_CHIBI_SCALE_BOOST: a diagnostic that "
                                "blurs every splat, not a per-vertex pull-back"))
    if "jacobians" not in on:
        findings.append(Finding("rotations", "note" if scale_fixed else "error",
                                "splat rotations not pulled back (no LAM_J_PER_VERT_NPY): the isotropic ratio "
                                "keeps orientations, exact only where the edit is locally a uniform scaling"))
    if "arkit_bs" not in on:
        findings.append(Finding("arkit_basis", "note", "ARKit basis not re-evaluated on the edited mesh "
                                "(LAM_CHIBI_ARKIT_BS): blendshape amplitudes keep their canonical size"))
    return findings


def _eyeball_finding(eyeballs: Mapping[str, float], raw: Mapping[str, float] | None) -> Finding:
    from avatarcheck.edit.rigid_eyes import RIGID_TOL

    side = max(eyeballs, key=lambda k: eyeballs[k])
    worst = eyeballs[side]
    before = f" (the edit alone: {max(raw.values()):.3f})" if raw else ""
    if worst > RIGID_TOL:
        return Finding("eyeball_shape", "error",
                       f"eyeball not rigid: anisotropy {worst:.3f} ({side} eye; largest / smallest axis against the "
                       f"rest eyeball, 1 = a sphere){before}: an eye rotation turns an ellipsoid through the lids; "
                       "bake with rigid eyes (the default)")
    return Finding("eyeball_shape", "note", f"eyeballs rigid: anisotropy {worst:.3f}{before}; an eye rotation "
                   "turns a sphere about its edited centre")


def _load_npy(path: Path, field: str) -> np.ndarray:
    """A real-valued ``.npy`` array (an ``.npz`` archive, a folder, a FIFO or a string array is an error)."""
    _check_regular_file(path, field, "an existing .npy file")
    try:
        arr = np.load(path, allow_pickle=False, mmap_mode="r")
    except (ValueError, OSError, EOFError, SyntaxError, tokenize.TokenError) as err:  # numpy parses the header
        raise InputError(path, field, "a readable .npy array", f"{type(err).__name__}: {err}") from None
    if not isinstance(arr, np.ndarray):  # np.load returns an NpzFile for an .npz archive
        raise InputError(path, field, "a .npy array", "an .npz archive (save the array alone with np.save)")
    return np.asarray(checked_array(arr, path, field, kind="number"))


def not_a_regular_file(path: str | os.PathLike) -> str | None:
    """None for a regular file (symlinks followed), else what ``path`` is, for an error message: "no such
    file", "a dangling symlink", "a symlink loop", "a directory", "a FIFO (named pipe)", "a character
    device"... Nothing is opened, so a FIFO cannot block."""
    try:
        mode = os.stat(path).st_mode
    except OSError as err:
        if err.errno == errno.ELOOP:
            return "a symlink loop"
        if err.errno == errno.ENOENT:
            return "a dangling symlink" if os.path.islink(path) else "no such file"
        return f"{type(err).__name__}: {err.strerror or err}"
    if stat.S_ISREG(mode):
        return None
    kinds = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
             (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))
    return next((text for test, text in kinds if test(mode)), "not a regular file")


def _check_regular_file(path: str | os.PathLike, field: str, expected: str) -> None:
    what = not_a_regular_file(path)
    if what is not None:
        raise InputError(path, field, expected, what)


def check_invertible(jacobians: np.ndarray, source: str | os.PathLike, field: str = "jacobians") -> np.ndarray:
    """(N, 3, 3) Jacobians with |det J| >= ``MIN_ABS_DET`` each, else an error naming ``source``: a singular
    J flattens its splats to nothing (``anisotropic_correction`` refuses it too, but cannot name the file)."""
    det = np.abs(np.linalg.det(np.asarray(jacobians, np.float64)))
    bad = ~(det >= MIN_ABS_DET)
    if bad.any():
        raise InputError(source, field, f"invertible 3x3 Jacobians (|det J| >= {MIN_ABS_DET:g})",
                         f"{int(bad.sum())} singular (first at vertex {int(np.argmax(bad))})")
    return jacobians


def _numbers(x: np.ndarray, source: str | os.PathLike, field: str) -> np.ndarray:
    """``x`` after the dtype check every override array gets: floats or ints, never bools (a mask is
    not a factor: True would silently be 1.0), complex, strings or objects."""
    return checked_array(x, source, field, kind="number", finite=False)


@dataclasses.dataclass(frozen=True, eq=False)
class OverrideArrays:
    """The overrides as arrays (what the hook point applies): xyz (V_sub, 3) edited subdivided mesh,
    arkit_bs (52, V, 3) or (52, V_sub, 3), scale_ratio (V_sub,), jacobians (V_sub, 3, 3), and two multipliers.
    Fields mirror ``OverrideSettings`` (``OVERRIDE_ASSETS``); ``None`` = not applied."""

    edit_xyz_obj: np.ndarray | None = None
    arkit_bs: np.ndarray | None = None
    scale_ratio: np.ndarray | None = None
    scale_boost: float | None = None
    jacobians: np.ndarray | None = None
    lash_ring_boost: float | None = None
    offset_jacobians: np.ndarray | None = None

    @classmethod
    def from_assets(cls, assets, applied: "set[str] | frozenset[str] | tuple[str, ...]",
                    numbers: "dict[str, float] | None" = None) -> "OverrideArrays":
        """The baked ``EditAssets`` arrays named by ``applied`` (gate names), boosts from ``numbers``."""
        sources = {"xyz": assets.edited_sub, "arkit_bs": assets.basis, "scale_ratio": assets.ratio,
                   "jacobians": assets.jacobians, "offsets_j": assets.jacobians}
        numbers = numbers or {}
        values = {}
        for gate_name in applied:
            a = BY_GATE_NAME[gate_name]
            values[a.field] = numbers[gate_name] if a.is_number else sources[gate_name]
        return cls(**values)


def checked_basis(basis: np.ndarray, avatar: Avatar, source: str | os.PathLike) -> np.ndarray:
    """An ARKit basis override: (52, V, 3) on the coarse mesh, or (52, V_sub, 3) on the subdivided one
    (what a bake writes for an avatar whose basis comes on the subdivided vertices)."""
    n, n_sub = avatar.head.num_vertices, avatar.head_sub.num_vertices
    arr = np.asarray(basis)
    shape = (52, n_sub, 3) if arr.ndim == 3 and arr.shape[1] == n_sub else (52, n, 3)
    return checked_array(arr, source, "arkit_bs", shape, dtype=np.float32, kind="number", limit=MAX_COORD_M)


def load_override_arrays(avatar: Avatar, settings: OverrideSettings) -> OverrideArrays:
    """Read the files the settings name and check them against ``avatar`` (errors name the file)."""
    from avatarcheck.io.obj import read_obj

    n_sub, n = avatar.head_sub.num_vertices, avatar.head.num_vertices
    out: dict[str, object] = {"scale_boost": settings.scale_boost, "lash_ring_boost": settings.lash_ring_boost}
    if settings.edit_xyz_obj:
        _check_regular_file(settings.edit_xyz_obj, "edit_xyz_obj", "an existing .obj file")
        xyz, _ = read_obj(settings.edit_xyz_obj)
        if xyz.shape == (n, 3):  # a coarse mesh: LAM's subdivision places the midpoints
            xyz = subdivide_attributes(xyz, avatar.topology)
        if xyz.shape != (n_sub, 3):
            raise InputError(settings.edit_xyz_obj, "v", f"{n_sub} vertices (subdivided) or {n} (coarse)",
                             f"{len(xyz)} vertices")
        xyz = checked_array(xyz, settings.edit_xyz_obj, "v", (n_sub, 3), dtype=np.float32, limit=MAX_COORD_M)
        extent = float(np.ptp(xyz, axis=0).max())
        if extent < MIN_EXTENT_M:
            raise InputError(settings.edit_xyz_obj, "v", f"a head-sized mesh (extent >= {MIN_EXTENT_M:g} m)",
                             f"extent {extent:.3g} m")
        out["edit_xyz_obj"] = xyz
    if settings.arkit_bs:
        out["arkit_bs"] = checked_basis(_load_npy(settings.arkit_bs, "arkit_bs"), avatar, settings.arkit_bs)
    for field in ("jacobians", "offset_jacobians"):
        path = getattr(settings, field)
        if path:
            out[field] = check_invertible(checked_array(_load_npy(path, field), path, field, (n_sub, 3, 3),
                                                        limit=PLAUSIBLE_FACTOR), path, field)
    if settings.scale_ratio:
        out["scale_ratio"] = check_positive_factors(_load_npy(settings.scale_ratio, "scale_ratio"), n_sub,
                                                    str(settings.scale_ratio), "scale_ratio")
    return OverrideArrays(**out)


def apply_override_arrays(avatar: Avatar, arrays: OverrideArrays) -> Avatar:
    """A new ``Avatar`` with the overrides applied at LAM's hook point (pure: no files)."""
    n_sub, n = avatar.head_sub.num_vertices, avatar.head.num_vertices
    head, head_sub, cloud = avatar.head, avatar.head_sub, avatar.cloud
    if arrays.edit_xyz_obj is not None:
        xyz = checked_array(arrays.edit_xyz_obj, "overrides", "xyz", (n_sub, 3), dtype=np.float32, kind="number")
        head = head.replace(v_template=xyz[:n])  # the first V subdivided vertices are the coarse ones
        head_sub = head_sub.replace(v_template=xyz)
    if arrays.arkit_bs is not None:
        bs = checked_basis(arrays.arkit_bs, avatar, "overrides")
        if bs.shape[1] == n_sub:  # re-evaluated on the subdivided vertices (an OAC avatar's own basis)
            head, head_sub = head.replace(arkit_basis=bs[:, :n]), head_sub.replace(arkit_basis=bs)
        else:
            head = head.replace(arkit_basis=bs)
            head_sub = head_sub.replace(arkit_basis=subdivide_attributes(bs, avatar.topology, vertex_axis=1))
    scales, quats = cloud.scales, cloud.quats
    if arrays.jacobians is not None:
        quats, scales = anisotropic_correction(quats, scales, _numbers(arrays.jacobians, "overrides", "jacobians"))
    if arrays.scale_ratio is not None:
        ratio = _numbers(arrays.scale_ratio, "overrides", "scale_ratio")
        scales = scale_by(scales, check_positive_factors(ratio, n_sub, "overrides", "scale_ratio"))
    if arrays.scale_boost is not None:
        scales = scale_by(scales, _check_multiplier(arrays.scale_boost, "scale_boost"))
    if arrays.lash_ring_boost is not None:
        boost = np.ones(n_sub, np.float32)
        boost[lash_ring_vertices(head_sub)] = _check_multiplier(arrays.lash_ring_boost, "lash_ring_boost")
        scales = scale_by(scales, boost)
    check_plausible_scales(cloud.scales, scales)
    offsets = cloud.offsets
    if arrays.offset_jacobians is not None:
        offsets = follow_edit(offsets, _numbers(arrays.offset_jacobians, "overrides", "offset_jacobians"))
    edited = cloud.replace(scales=scales, quats=quats, offsets=offsets)
    return dataclasses.replace(avatar, head=head, head_sub=head_sub, cloud=edited)


def follow_edit(offsets: np.ndarray, jacobians: np.ndarray) -> np.ndarray:
    """offsets (N, 3) canonical splat offsets, jacobians (N, 3, 3) the edit's per-vertex Jacobian ->
    J_i offset_i (N, 3) float32: the offset stretched with the surface around its anchor.

    A trained splat often paints a point centimetres from its anchor (LAM's offsets: median ~11 mm,
    hair 13-59 mm). Left unchanged under a stretch, the splats of a region keep their canonical
    arrangement around anchors that moved apart, and stop tiling it: on a public export the scale
    ratio alone leaves the pear's crown with holes on 8 % of the head from below, with the offsets
    following the edit 2.9 %."""
    J = np.asarray(jacobians, np.float64)
    if J.shape != (len(offsets), 3, 3):
        raise InputError("overrides", "offset_jacobians", f"shape ({len(offsets)}, 3, 3)", str(J.shape))
    out = np.einsum("nij,nj->ni", J, np.asarray(offsets, np.float64))
    return checked_array(out, "overrides", "offsets after offset_jacobians", (len(offsets), 3), dtype=np.float32,
                         limit=MAX_COORD_M)


def apply_overrides(avatar: Avatar, settings: OverrideSettings) -> Avatar:
    """Read the settings' files and apply them (``load_override_arrays`` then ``apply_override_arrays``)."""
    return apply_override_arrays(avatar, load_override_arrays(avatar, settings))


def _check_multiplier(value: float, field: str) -> float:
    if not np.isfinite(value) or value <= 0 or value > PLAUSIBLE_FACTOR:
        raise InputError(f"${ENV_VARS[field]}", field, f"a finite multiplier in (0, {PLAUSIBLE_FACTOR:g}]", str(value))
    return float(value)


def lash_ring_vertices(head_sub: HeadModel) -> np.ndarray:
    """The lash ring of a (subdivided) head: both eyes' blink masks on the mesh boundary, (K,)."""
    moved = sum(np.linalg.norm(head_sub.arkit_basis[arkit_index(name)], axis=1)
                for name in ("eyeBlinkLeft", "eyeBlinkRight"))
    return lash_ring(head_sub.faces, moved[:, None])


def check_plausible_scales(before: np.ndarray, after: np.ndarray, source: str = "scale corrections") -> None:
    """Multiplicative pull-backs change sigmas by modest factors; a huge one means a log was added.

    before, after (N, 3) linear sigmas. Each splat's sigmas are compared sorted: a Jacobian
    correction re-derives the axes, so after[:, 0] need not be the axis before[:, 0] was (a flat
    splat sheared by J swaps its thin and wide axes: a "100x" change that is none). Sorted, the
    factor is bounded by J's singular values (sigma_min(J) s_i <= s_i(J R S) <= sigma_max(J) s_i).
    """
    factor = np.sort(np.asarray(after, np.float64), axis=1) / np.sort(np.asarray(before, np.float64), axis=1)
    worst = float(np.max(np.maximum(factor, 1 / factor)))
    if not np.isfinite(worst) or worst > PLAUSIBLE_FACTOR:
        raise InputError(source, "scales", f"linear sigmas changed by at most {PLAUSIBLE_FACTOR:g}x (corrections "
                         "multiply the linear sigma; adding log(boost) to it blows splats up)",
                         f"a {worst:.3g}x change")
