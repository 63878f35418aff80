"""The one table of override assets: each asset's gate-file name, settings field, variable and file.

The LAM chibi recipe hands its assets to LAM's renderer through environment variables read at the
hook point; this harness names the same assets in gate files (``variants.*.overrides``), in
``OverrideSettings`` fields and in baked file names (``<edit kind>_<file_stem>``). Every module that
needs one of those names reads it from ``OVERRIDE_ASSETS``.
"""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class OverrideAsset:
    gate_name: str          # in a gate file's variants.<v>.overrides
    field: str              # OverrideSettings / OverrideArrays field
    env_var: str            # the recipe's variable (LAM_EDIT_XYZ_OBJ, ...)
    file_stem: str | None   # baked file name after "<kind>_"; None for a number (a boost)
    description: str

    @property
    def is_number(self) -> bool:
        return self.file_stem is None


OVERRIDE_ASSETS: tuple[OverrideAsset, ...] = (
    OverrideAsset("xyz", "edit_xyz_obj", "LAM_EDIT_XYZ_OBJ", "textured_mesh.obj",
                  "edited canonical mesh: replaces the subdivided xyz before LBS"),
    OverrideAsset("arkit_bs", "arkit_bs", "LAM_CHIBI_ARKIT_BS", "arkit_bs.npy",
                  "ARKit basis (52, V, 3) re-evaluated on the edited mesh"),
    OverrideAsset("scale_ratio", "scale_ratio", "LAM_CHIBI_SCALE_RATIO", "scale_ratio.npy",
                  "per-splat sigma multiplier (V_sub,): the closed-form scale pull-back"),
    OverrideAsset("jacobians", "jacobians", "LAM_J_PER_VERT_NPY", "j_per_vert.npy",
                  "per-splat 3x3 Jacobian: the anisotropic covariance pull-back"),
    OverrideAsset("offsets_j", "offset_jacobians", "LAM_OFFSET_J_PER_VERT_NPY", "offset_j_per_vert.npy",
                  "per-splat 3x3 Jacobian applied to the splat's canonical offset (ours: offsets follow the edit)"),
    OverrideAsset("scale_boost", "scale_boost", "LAM_CHIBI_SCALE_BOOST", None,
                  "one constant sigma multiplier (the recipe's diagnostic)"),
    OverrideAsset("lash_ring_boost", "lash_ring_boost", "LAM_LASH_RING_BOOST", None,
                  "extra sigma multiplier on the lash ring only (ours: the recipe's open thread)"),
)

BY_GATE_NAME: dict[str, OverrideAsset] = {a.gate_name: a for a in OVERRIDE_ASSETS}
BY_FIELD: dict[str, OverrideAsset] = {a.field: a for a in OVERRIDE_ASSETS}
