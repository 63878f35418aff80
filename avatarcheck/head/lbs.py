"""Linear blend skinning for FLAME-format models (torch, batched, CPU or CUDA).

Same math as FLAME / smplx: blendshapes in canonical space, joints regressed from the
shaped mesh, axis-angle joint rotations chained along the kinematic tree, then every vertex
moved by the weight-blended rigid transforms of its joints.
"""

from __future__ import annotations

import numba
import numpy as np
import torch
from torch import Tensor


def batch_rodrigues(rot_vecs: Tensor, eps: float = 1e-8) -> Tensor:
    """Axis-angle (N, 3) -> rotation matrices (N, 3, 3).

    The angle is the vector norm; near zero the axis is irrelevant and the result tends to I
    (``eps`` keeps the division finite, the ``sin``/``1-cos`` factors vanish there).
    """
    angle = torch.linalg.vector_norm(rot_vecs + eps, dim=1, keepdim=True)  # (N, 1)
    axis = rot_vecs / angle
    cos = torch.cos(angle)[:, :, None]
    sin = torch.sin(angle)[:, :, None]
    rx, ry, rz = axis[:, 0], axis[:, 1], axis[:, 2]
    zeros = torch.zeros_like(rx)
    K = torch.stack([zeros, -rz, ry, rz, zeros, -rx, -ry, rx, zeros], dim=1).view(-1, 3, 3)
    ident = torch.eye(3, dtype=rot_vecs.dtype, device=rot_vecs.device)[None]
    return ident + sin * K + (1 - cos) * torch.bmm(K, K)


def blend_shapes(coeffs: Tensor, dirs: Tensor) -> Tensor:
    """Blendshape offsets: coeffs (B, K), dirs (V, 3, K) -> (B, V, 3)."""
    return torch.einsum("bk,mdk->bmd", coeffs, dirs)


def vertices_to_joints(J_regressor: Tensor, vertices: Tensor) -> Tensor:
    """J_regressor (J, V), vertices (B, V, 3) -> joints (B, J, 3)."""
    return torch.einsum("jv,bvd->bjd", J_regressor, vertices)


def batch_rigid_transform(rot_mats: Tensor, joints: Tensor, parents: Tensor) -> tuple[Tensor, Tensor]:
    """Chain local joint rotations along the tree.

    rot_mats (B, J, 3, 3) local rotations about each joint, joints (B, J, 3) rest positions,
    parents (J,) with parents[0] = -1.
    Returns posed joints (B, J, 3) and relative transforms A (B, J, 4, 4) that map a rest-pose
    point to its posed position when the point is fully bound to that joint.
    """
    B, J = joints.shape[:2]
    rel_joints = joints.clone()
    rel_joints[:, 1:] = joints[:, 1:] - joints[:, parents[1:]]
    local = torch.zeros(B, J, 4, 4, dtype=joints.dtype, device=joints.device)
    local[..., :3, :3] = rot_mats
    local[..., :3, 3] = rel_joints
    local[..., 3, 3] = 1.0
    chain = [local[:, 0]]
    for i in range(1, J):
        chain.append(chain[int(parents[i])] @ local[:, i])
    world = torch.stack(chain, dim=1)  # (B, J, 4, 4)
    posed_joints = world[..., :3, 3]
    # Remove the rest-pose joint location so A acts on rest-pose coordinates.
    rest_in_world = torch.einsum("bjik,bjk->bji", world[..., :3, :3], joints)
    A = world.clone()
    A[..., :3, 3] = world[..., :3, 3] - rest_in_world
    return posed_joints, A


def skin_vertices(vertices: Tensor, lbs_weights: Tensor, A: Tensor) -> tuple[Tensor, Tensor]:
    """Blend per-joint transforms: vertices (B, V, 3), weights (V, J), A (B, J, 4, 4).

    Returns skinned vertices (B, V, 3) and each vertex's blended linear part (B, V, 3, 3)
    (what a rigid splat binding rotates covariances with).
    """
    B, J = A.shape[:2]
    # One (V, J) x (J, 16) product per frame and the 3x3 apply spelled out: the same sums as the
    # einsum form, 5x faster on CPU (torch's einsum path here permutes and copies (B, V, 4, 4)).
    T = (lbs_weights @ A.reshape(B, J, 16)).reshape(B, -1, 4, 4)  # (B, V, 4, 4)
    linear = T[..., :3, :3]
    if _plain_cpu(T, vertices):
        # The same float ops in the same order, in one pass (torch makes five (B, V, 3) temporaries:
        # 0.45-0.9 ms a frame at 20k vertices, 5-10x the fused pass).
        v = vertices.contiguous().numpy()
        skinned = np.empty(v.shape, v.dtype)
        _apply_affine(T.numpy(), v, skinned)
        return torch.from_numpy(skinned), linear
    skinned = (linear[..., 0] * vertices[..., 0:1] + linear[..., 1] * vertices[..., 1:2]
               + linear[..., 2] * vertices[..., 2:3] + T[..., :3, 3])
    return skinned, linear


# Below this many (frame, vertex) pairs torch's form is fast enough, and a process that only poses (a
# head export) does not pay numba's one-off start of its parallel runtime (~0.6 s) for it.
FUSED_MIN_VERTICES = 65536


def _plain_cpu(T: Tensor, vertices: Tensor) -> bool:
    """Large CPU float batches of one dtype, outside autograd: the fused numba apply may run."""
    return (vertices.shape[0] * vertices.shape[1] >= FUSED_MIN_VERTICES
            and T.device.type == "cpu" and vertices.device.type == "cpu" and T.dtype == vertices.dtype
            and T.dtype in (torch.float32, torch.float64) and T.is_contiguous()
            and not (torch.is_grad_enabled() and (T.requires_grad or vertices.requires_grad)))


@numba.njit(parallel=True, cache=True)
def _apply_affine(T: np.ndarray, v: np.ndarray, out: np.ndarray) -> None:
    """out[b, i, r] = ((T[b, i, r, 0] x + T[b, i, r, 1] y) + T[b, i, r, 2] z) + T[b, i, r, 3] for
    (x, y, z) = v[b, i]: torch's expression in ``skin_vertices``, operation by operation (numba does
    not contract a * b + c into a fused multiply-add, so every rounding is torch's)."""
    n_b, n = v.shape[:2]
    for b in numba.prange(n_b):
        for i in range(n):
            x, y, z = v[b, i, 0], v[b, i, 1], v[b, i, 2]
            for r in range(3):
                out[b, i, r] = ((T[b, i, r, 0] * x + T[b, i, r, 1] * y) + T[b, i, r, 2] * z) + T[b, i, r, 3]


def lbs(
    v_shaped: Tensor,
    pose: Tensor,
    J_regressor: Tensor,
    parents: Tensor,
    lbs_weights: Tensor,
    posedirs: Tensor | None = None,
    joints_from: Tensor | None = None,
) -> tuple[Tensor, Tensor, Tensor]:
    """Pose a shaped mesh.

    v_shaped (B, V, 3): template + identity + expression offsets.
    pose (B, J, 3): axis-angle per joint (global first).
    posedirs (P = (J-1)*9, V*3) or None: pose correctives driven by (R - I) of non-root joints.
    joints_from (B, V', 3) or None: mesh the joints are regressed from (defaults to v_shaped).
    Returns vertices (B, V, 3), posed joints (B, J, 3) and per-vertex blended linear parts
    (B, V, 3, 3).
    """
    B, J = pose.shape[:2]
    joints = vertices_to_joints(J_regressor, v_shaped if joints_from is None else joints_from)
    rot_mats = batch_rodrigues(pose.reshape(-1, 3)).view(B, J, 3, 3)
    v_posed = v_shaped
    if posedirs is not None:
        ident = torch.eye(3, dtype=pose.dtype, device=pose.device)
        pose_feature = (rot_mats[:, 1:] - ident).reshape(B, -1)
        v_posed = v_shaped + (pose_feature @ posedirs).view(B, -1, 3)
    posed_joints, A = batch_rigid_transform(rot_mats, joints, parents)
    verts, linear = skin_vertices(v_posed, lbs_weights, A)
    return verts, posed_joints, linear
