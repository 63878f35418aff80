"""Binding: where each splat goes when its anchor mesh is posed.

Two modes (DESIGN.md, "LAM as released"):

``lam`` (default, the system under test): the per-splat offset is added to the canonical
anchor, the expression displacement in canonical space, then LBS moves the **centres only**.
Rotations and scales are copied unchanged from canonical space whatever the pose: exactly why
an xyz override without a scale pull-back goes wrong in LAM.

``rigid`` (GaussianAvatars-style): centres as above, and each splat's orientation is also
rotated by its anchor's LBS rotation (the rotation nearest to the blended skinning matrix), so
a rigid head rotation rotates every covariance exactly.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch
from torch import Tensor

from avatarcheck.errors import InputError
from avatarcheck.geometry.rotations import matrix_to_quat, nearest_rotation, quat_multiply
from avatarcheck.head.layer import HeadLayer
from avatarcheck.head.pose import Pose
from avatarcheck.splats.cloud import SplatCloud

BINDINGS = ("lam", "rigid")


@dataclasses.dataclass(frozen=True)
class PosedSplats:
    """Per-frame splat geometry: means (B, N, 3), quats (B, N, 4) wxyz, scales (B, N, 3) linear;
    anchors (B, N, 3): the posed mesh vertices themselves (means without the per-splat offsets),
    from the same LBS pass, for what needs the surface (triangle-ID rasters, depth cuts)."""

    means: Tensor
    quats: Tensor
    scales: Tensor
    anchors: Tensor


def pose_splats(layer: HeadLayer, cloud: SplatCloud, binding: str = "lam", pose: Pose | None = None, *,
                arkit52: np.ndarray | None = None, eyes: np.ndarray | None = None,
                global_rot: np.ndarray | None = None) -> PosedSplats:
    """Pose the subdivided head with ``layer`` (its V must equal the cloud's N) and drag the splats.

    ``pose`` drives B frames; the keyword shortcuts build one (``arkit52`` then defaults to zeros).
    One LBS pass: since skinning is affine per vertex (x -> L x + t), the anchors are the means
    minus L @ offset, exactly the means when the offsets are zero.
    """
    if pose is None:
        pose = Pose.of(arkit52, eyes, global_rot)
    if binding not in BINDINGS:
        raise InputError("pose_splats", "binding", f"one of {BINDINGS}", repr(binding))
    if layer.v_template.shape[0] != cloud.num_splats:
        raise InputError(cloud.source, "splat count", f"{layer.v_template.shape[0]} (one per subdivided vertex "
                         f"of {layer.model_name})", str(cloud.num_splats))
    dev, dt = layer.v_template.device, layer.v_template.dtype
    offsets = torch.from_numpy(cloud.offsets).to(dev, dt)
    out = layer(vertex_offsets=offsets, **pose.layer_inputs())
    B = out.vertices.shape[0]
    if cloud.offsets.any():
        anchors = out.vertices - torch.einsum("bvij,vj->bvi", out.vertex_linear, offsets)
    else:
        anchors = out.vertices
    quats = torch.from_numpy(cloud.quats).to(dev, dt).expand(B, -1, -1)
    scales = torch.from_numpy(cloud.scales).to(dev, dt).expand(B, -1, -1)
    if binding == "rigid":
        quats = quat_multiply(matrix_to_quat(nearest_rotation(out.vertex_linear)), quats)
    return PosedSplats(means=out.vertices, quats=quats, scales=scales, anchors=anchors)
