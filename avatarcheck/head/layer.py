"""``HeadLayer``: the FLAME forward pass with the LAM chibi recipe's ARKit-52 expression path.

``(shape, arkit52, global_rot, neck, jaw, eyes, translation) -> vertices (B, V, 3)``, the same
signature as LAM's ``flame_arkit.py`` with its inverted width assert fixed: the ARKit path
takes exactly 52 coefficients and anything else is rejected with a clear error.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch
from torch import Tensor

from avatarcheck.arkit import NUM_ARKIT
from avatarcheck.errors import InputError
from avatarcheck.head.lbs import blend_shapes, lbs
from avatarcheck.head.model import HeadModel


@dataclasses.dataclass(frozen=True)
class HeadOutput:
    vertices: Tensor  # (B, V, 3)
    joints: Tensor  # (B, J, 3) posed joints
    vertex_linear: Tensor  # (B, V, 3, 3) blended LBS linear part per vertex (rotation when rigid)


class HeadLayer(torch.nn.Module):
    """Torch module holding a ``HeadModel``'s arrays as buffers.

    ``pose_correctives``: apply ``posedirs`` when the model has them (LAM does not on its
    subdivided path; FLAME does on the coarse mesh).
    """

    def __init__(self, model: HeadModel, *, dtype: torch.dtype = torch.float32,
                 device: torch.device | str | None = None, pose_correctives: bool = True) -> None:
        super().__init__()
        self.model_name = model.name
        self.num_shape = int(model.shapedirs.shape[2])
        self.num_expr = 0 if model.exprdirs is None else int(model.exprdirs.shape[2])
        self.num_joints = int(model.parents.shape[0])

        def buf(name: str, arr: np.ndarray | None, as_dtype=dtype) -> None:
            t = None if arr is None else torch.as_tensor(np.ascontiguousarray(arr), dtype=as_dtype)
            self.register_buffer(name, t, persistent=False)

        buf("v_template", model.v_template)
        buf("faces", model.faces, torch.long)
        # ARKit basis stored as (V, 3, 52) so it shares blend_shapes() with the other bases.
        buf("arkit_dirs", np.transpose(model.arkit_basis, (1, 2, 0)))
        buf("shapedirs", model.shapedirs)
        buf("exprdirs", model.exprdirs)
        buf("posedirs", model.posedirs if pose_correctives else None)
        buf("J_regressor", model.J_regressor)
        buf("lbs_weights", model.lbs_weights)
        buf("parents", model.parents, torch.long)
        if device is not None:
            self.to(device)

    def _coeffs(self, value, field: str, width: int, batch: int | None, exact: bool = True) -> Tensor | None:
        if value is None:
            return None
        if isinstance(value, np.ndarray) and not value.flags.writeable:
            # A take's arrays are read-only; a tensor sharing their memory would be writable, and
            # torch warns about it on every first use. The coefficients are small: copy.
            value = value.copy()
        t = torch.as_tensor(value, dtype=self.v_template.dtype, device=self.v_template.device)
        if t.ndim == 1:
            t = t[None]
        ok_width = t.ndim == 2 and (t.shape[1] == width if exact else t.shape[1] <= width)
        if not ok_width:
            want = f"{width}" if exact else f"at most {width}"
            raise InputError(f"HeadLayer({self.model_name}).forward", field,
                             f"shape (B, {want})", f"shape {tuple(t.shape)}")
        if batch is not None and t.shape[0] != batch:
            raise InputError(f"HeadLayer({self.model_name}).forward", field,
                             f"batch size {batch} like the other inputs", f"{t.shape[0]}")
        if not torch.isfinite(t).all():
            raise InputError(f"HeadLayer({self.model_name}).forward", field, "finite values", "NaN or inf")
        return t

    def forward(
        self,
        arkit52: Tensor | np.ndarray | None = None,
        shape: Tensor | np.ndarray | None = None,
        global_rot: Tensor | np.ndarray | None = None,
        neck: Tensor | np.ndarray | None = None,
        jaw: Tensor | np.ndarray | None = None,
        eyes: Tensor | np.ndarray | None = None,
        translation: Tensor | np.ndarray | None = None,
        expression: Tensor | np.ndarray | None = None,
        vertex_offsets: Tensor | np.ndarray | None = None,
    ) -> HeadOutput:
        """Pose the head for B frames.

        arkit52 (B, 52) ARKit weights in ``ARKIT_NAMES`` order; shape (B, S' <= S);
        global_rot, neck, jaw (B, 3) axis-angle; eyes (B, 6) = left then right axis-angle;
        translation (B, 3); expression (B, E' <= E) FLAME PCA (only if the model has exprdirs).
        vertex_offsets (V, 3) or (B, V, 3): canonical-space offsets added after the blendshapes
        and before skinning, excluded from the joint regression (LAM's per-splat offsets).
        Missing inputs are zeros. A 1-D input is treated as one frame.
        """
        arkit = self._coeffs(arkit52, "arkit52", NUM_ARKIT, None)
        batch = None if arkit is None else arkit.shape[0]
        fields = {}
        for name, value, width, exact in (
            ("shape", shape, self.num_shape, False), ("global_rot", global_rot, 3, True),
            ("neck", neck, 3, True), ("jaw", jaw, 3, True), ("eyes", eyes, 6, True),
            ("translation", translation, 3, True), ("expression", expression, self.num_expr, False),
        ):
            if value is not None and name == "expression" and self.exprdirs is None:
                raise InputError(f"HeadLayer({self.model_name}).forward", "expression",
                                 "no PCA expression (this model has no exprdirs; use arkit52)", "a tensor")
            t = self._coeffs(value, name, width, batch, exact)
            if t is not None and batch is None:
                batch = t.shape[0]
            fields[name] = t
        batch = batch or 1
        dt, dev = self.v_template.dtype, self.v_template.device

        def zeros(n: int) -> Tensor:
            return torch.zeros(batch, n, dtype=dt, device=dev)

        v_shaped = self.v_template[None].expand(batch, -1, -1)
        if fields["shape"] is not None:
            s = fields["shape"]
            v_shaped = v_shaped + blend_shapes(s, self.shapedirs[..., : s.shape[1]])
        if arkit is not None:
            v_shaped = v_shaped + blend_shapes(arkit, self.arkit_dirs)
        if fields["expression"] is not None:
            e = fields["expression"]
            v_shaped = v_shaped + blend_shapes(e, self.exprdirs[..., : e.shape[1]])

        eyes_t = fields["eyes"] if fields["eyes"] is not None else zeros(6)
        pose = torch.cat([
            fields["global_rot"] if fields["global_rot"] is not None else zeros(3),
            fields["neck"] if fields["neck"] is not None else zeros(3),
            fields["jaw"] if fields["jaw"] is not None else zeros(3),
            eyes_t,
        ], dim=1).view(batch, -1, 3)
        if pose.shape[1] != self.num_joints:
            raise InputError(f"HeadLayer({self.model_name})", "parents",
                             "FLAME's 5 joints (global, neck, jaw, eye L, eye R)", f"{self.num_joints} joints")
        joints_from = None
        if vertex_offsets is not None:
            off = torch.as_tensor(vertex_offsets, dtype=dt, device=dev)
            V = self.v_template.shape[0]
            if off.shape not in ((V, 3), (batch, V, 3)) or not torch.isfinite(off).all():
                raise InputError(f"HeadLayer({self.model_name}).forward", "vertex_offsets",
                                 f"finite shape ({V}, 3) or ({batch}, {V}, 3)", f"shape {tuple(off.shape)}")
            joints_from, v_shaped = v_shaped, v_shaped + off
        verts, joints, linear = lbs(v_shaped, pose, self.J_regressor, self.parents, self.lbs_weights,
                                    self.posedirs, joints_from=joints_from)
        if fields["translation"] is not None:
            verts = verts + fields["translation"][:, None]
            joints = joints + fields["translation"][:, None]
        return HeadOutput(vertices=verts, joints=joints, vertex_linear=linear)
