"""The override layer: the seed's three assets (+ boost, Jacobians) applied at LAM's hook point.

Settings come from the seed's environment variables or are passed explicitly:

======================  =====================  =========================================
variable                field                  effect
======================  =====================  =========================================
LAM_EDIT_XYZ_OBJ        ``edit_xyz_obj``       canonical subdivided xyz replaced before LBS
LAM_CHIBI_ARKIT_BS      ``arkit_bs``           ARKit basis (52, V, 3) re-evaluated on the edit
LAM_CHIBI_SCALE_RATIO   ``scale_ratio``        per-splat sigma multiplier (V_sub,)
LAM_CHIBI_SCALE_BOOST   ``scale_boost``        one constant sigma multiplier
LAM_J_PER_VERT_NPY      ``jacobians``          per-splat 3x3: anisotropic covariance pull-back
LAM_LASH_RING_BOOST     ``lash_ring_boost``    extra sigma multiplier on the lash ring only
======================  =====================  =========================================

The first five are the seed's. ``LAM_LASH_RING_BOOST`` is ours: the seed's open thread (a
targeted boost on the boundary vertices of the blink-displacement mask, the "lash ring", to close
the last upper-lid seam), applied after the ratio so the two compose multiplicatively.

This module is the one place that reads environment variables. ``audit`` lists every coupled
channel an override left uncorrected: overriding xyz without a scale pull-back is a finding.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from avatarcheck.avatar import Avatar
from avatarcheck.errors import InputError
from avatarcheck.head.subdivide import subdivide_attributes
from avatarcheck.arkit import arkit_index
from avatarcheck.edit.corrections import anisotropic_correction, check_positive_factors, lash_ring, scale_by
from avatarcheck.head.model import HeadModel

ENV_VARS: dict[str, str] = {
    "edit_xyz_obj": "LAM_EDIT_XYZ_OBJ",
    "arkit_bs": "LAM_CHIBI_ARKIT_BS",
    "scale_ratio": "LAM_CHIBI_SCALE_RATIO",
    "scale_boost": "LAM_CHIBI_SCALE_BOOST",
    "jacobians": "LAM_J_PER_VERT_NPY",
    "lash_ring_boost": "LAM_LASH_RING_BOOST",
}
FLOAT_FIELDS = ("scale_boost", "lash_ring_boost")
# Per-splat channels the network predicts in lockstep with xyz (the override audit's table).
COUPLED_TO_XYZ: tuple[str, ...] = ("scales", "rotations")
# A multiplicative pull-back stays within this factor; beyond it a log was probably added.
PLAUSIBLE_FACTOR = 20.0


@dataclasses.dataclass(frozen=True)
class OverrideSettings:
    edit_xyz_obj: Path | None = None
    arkit_bs: Path | None = None
    scale_ratio: Path | None = None
    scale_boost: float | None = None
    jacobians: Path | None = None
    lash_ring_boost: float | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "OverrideSettings":
        """Read the seed's variables (unset or empty = not applied)."""
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for field, var in ENV_VARS.items():
            raw = env.get(var, "").strip()
            if not raw:
                continue
            if field in FLOAT_FIELDS:
                try:
                    values[field] = float(raw)
                except ValueError:
                    raise InputError(f"${var}", field, "a number (a sigma multiplier)", repr(raw)) from None
            else:
                values[field] = Path(raw)
        return cls(**values)

    @property
    def overridden(self) -> set[str]:
        return {"xyz"} if self.edit_xyz_obj else set()


@dataclasses.dataclass(frozen=True)
class Finding:
    channel: str
    severity: str  # "error": the render is expected to go wrong; "note": a known approximation
    message: str


def audit(settings: OverrideSettings) -> list[Finding]:
    """Every coupled channel an override leaves uncorrected."""
    findings: list[Finding] = []
    if "xyz" not in settings.overridden:
        return findings
    scale_fixed = settings.scale_ratio or settings.scale_boost or settings.jacobians
    if not scale_fixed:
        findings.append(Finding("scales", "error",
                                "xyz overridden (LAM_EDIT_XYZ_OBJ) but splat scales not pulled back: set "
                                "LAM_CHIBI_SCALE_RATIO (or LAM_J_PER_VERT_NPY); stretched regions will not "
                                "tile and the eyeball shows through a closed lid"))
    elif settings.scale_boost and not (settings.scale_ratio or settings.jacobians):
        findings.append(Finding("scales", "note", "only a constant LAM_CHIBI_SCALE_BOOST: a diagnostic that "
                                "blurs every splat, not a per-vertex pull-back"))
    if not settings.jacobians:
        findings.append(Finding("rotations", "note" if scale_fixed else "error",
                                "splat rotations not pulled back (no LAM_J_PER_VERT_NPY): the isotropic ratio "
                                "keeps orientations, exact only where the edit is locally a uniform scaling"))
    if not settings.arkit_bs:
        findings.append(Finding("arkit_basis", "note", "ARKit basis not re-evaluated on the edited mesh "
                                "(LAM_CHIBI_ARKIT_BS): blendshape amplitudes keep their canonical size"))
    return findings


def _load_npy(path: Path, field: str) -> np.ndarray:
    try:
        return np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise InputError(path, field, "an existing .npy file", "no such file") from None
    except (ValueError, OSError, EOFError) as err:
        raise InputError(path, field, "a readable .npy array", f"{type(err).__name__}: {err}") from None


def apply_overrides(avatar: Avatar, settings: OverrideSettings) -> Avatar:
    """A new ``Avatar`` with the settings applied at the hook point (inputs validated first)."""
    from avatarcheck.io.obj import read_obj

    n_sub, n = avatar.head_sub.num_vertices, avatar.head.num_vertices
    head, head_sub, cloud = avatar.head, avatar.head_sub, avatar.cloud
    if settings.edit_xyz_obj:
        xyz, _ = read_obj(settings.edit_xyz_obj)
        if xyz.shape == (n, 3):  # a coarse mesh: LAM's subdivision places the midpoints
            xyz = subdivide_attributes(xyz, avatar.topology)
        if xyz.shape != (n_sub, 3):
            raise InputError(settings.edit_xyz_obj, "v", f"{n_sub} vertices (subdivided) or {n} (coarse)",
                             f"{len(xyz)} vertices")
        xyz = xyz.astype(np.float32)
        head = head.replace(v_template=xyz[:n])  # the first V subdivided vertices are the coarse ones
        head_sub = head_sub.replace(v_template=xyz)
    if settings.arkit_bs:
        bs = _load_npy(settings.arkit_bs, "arkit_bs").astype(np.float32)
        if bs.shape != (52, n, 3) or not np.isfinite(bs).all():
            raise InputError(settings.arkit_bs, "arkit_bs", f"finite shape (52, {n}, 3)", f"shape {bs.shape}")
        head = head.replace(arkit_basis=bs)
        head_sub = head_sub.replace(arkit_basis=subdivide_attributes(bs, avatar.topology, vertex_axis=1))
    scales, quats = cloud.scales, cloud.quats
    if settings.jacobians:
        J = _load_npy(settings.jacobians, "jacobians")
        if J.shape != (n_sub, 3, 3):
            raise InputError(settings.jacobians, "jacobians", f"shape ({n_sub}, 3, 3)", f"shape {J.shape}")
        quats, scales = anisotropic_correction(quats, scales, J)
    if settings.scale_ratio:
        ratio = check_positive_factors(_load_npy(settings.scale_ratio, "scale_ratio"), n_sub,
                                       str(settings.scale_ratio), "scale_ratio")
        scales = scale_by(scales, ratio)
    if settings.scale_boost is not None:
        scales = scale_by(scales, _check_multiplier(settings.scale_boost, "scale_boost"))
    if settings.lash_ring_boost is not None:
        boost = np.ones(n_sub, np.float32)
        boost[lash_ring_vertices(head_sub)] = _check_multiplier(settings.lash_ring_boost, "lash_ring_boost")
        scales = scale_by(scales, boost)
    check_plausible_scales(cloud.scales, scales)
    edited = cloud.replace(scales=scales, quats=quats)
    return dataclasses.replace(avatar, head=head, head_sub=head_sub, cloud=edited)


def _check_multiplier(value: float, field: str) -> float:
    if not np.isfinite(value) or value <= 0:
        raise InputError(ENV_VARS[field], field, "a finite positive multiplier", str(value))
    return float(value)


def lash_ring_vertices(head_sub: HeadModel) -> np.ndarray:
    """The lash ring of a (subdivided) head: both eyes' blink masks on the mesh boundary, (K,)."""
    moved = sum(np.linalg.norm(head_sub.arkit_basis[arkit_index(name)], axis=1)
                for name in ("eyeBlinkLeft", "eyeBlinkRight"))
    return lash_ring(head_sub.faces, moved[:, None])


def check_plausible_scales(before: np.ndarray, after: np.ndarray, source: str = "scale corrections") -> None:
    """Multiplicative pull-backs change sigmas by modest factors; a huge one means a log was added."""
    factor = np.asarray(after, np.float64) / np.asarray(before, np.float64)
    worst = float(np.max(np.maximum(factor, 1 / factor)))
    if not np.isfinite(worst) or worst > PLAUSIBLE_FACTOR:
        raise InputError(source, "scales", f"linear sigmas changed by at most {PLAUSIBLE_FACTOR:g}x (corrections "
                         "multiply the linear sigma; adding log(boost) to it blows splats up)",
                         f"a {worst:.3g}x change")
