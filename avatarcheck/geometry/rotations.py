"""Quaternions (w, x, y, z; gsplat's and 3DGS's order) and rotation matrices, in torch.

Batched over any leading dims; used to rotate splat orientations with their anchors.
"""

from __future__ import annotations

import torch
from torch import Tensor


def quat_multiply(a: Tensor, b: Tensor) -> Tensor:
    """Hamilton product a * b of (..., 4) wxyz quaternions (rotate by b, then by a)."""
    aw, ax, ay, az = a.unbind(-1)
    bw, bx, by, bz = b.unbind(-1)
    return torch.stack([
        aw * bw - ax * bx - ay * by - az * bz,
        aw * bx + ax * bw + ay * bz - az * by,
        aw * by - ax * bz + ay * bw + az * bx,
        aw * bz + ax * by - ay * bx + az * bw,
    ], dim=-1)


def quat_to_matrix(q: Tensor) -> Tensor:
    """(..., 4) wxyz (normalised here) -> (..., 3, 3)."""
    q = q / torch.linalg.vector_norm(q, dim=-1, keepdim=True)
    w, x, y, z = q.unbind(-1)
    return torch.stack([
        1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
        2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
        2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y),
    ], dim=-1).reshape(q.shape[:-1] + (3, 3))


def matrix_to_quat(R: Tensor) -> Tensor:
    """(..., 3, 3) rotation matrices -> (..., 4) unit wxyz quaternions with w >= 0.

    Picks, per matrix, the largest of 4w^2, 4x^2, 4y^2, 4z^2 to divide by, so the result is
    accurate for every rotation (no cancellation near 180 degrees).
    """
    m = R
    m00, m11, m22 = m[..., 0, 0], m[..., 1, 1], m[..., 2, 2]
    cand = torch.stack([
        torch.stack([1 + m00 + m11 + m22, m[..., 2, 1] - m[..., 1, 2],
                     m[..., 0, 2] - m[..., 2, 0], m[..., 1, 0] - m[..., 0, 1]], -1),
        torch.stack([m[..., 2, 1] - m[..., 1, 2], 1 + m00 - m11 - m22,
                     m[..., 0, 1] + m[..., 1, 0], m[..., 0, 2] + m[..., 2, 0]], -1),
        torch.stack([m[..., 0, 2] - m[..., 2, 0], m[..., 0, 1] + m[..., 1, 0],
                     1 - m00 + m11 - m22, m[..., 1, 2] + m[..., 2, 1]], -1),
        torch.stack([m[..., 1, 0] - m[..., 0, 1], m[..., 0, 2] + m[..., 2, 0],
                     m[..., 1, 2] + m[..., 2, 1], 1 - m00 - m11 + m22], -1),
    ], dim=-2)  # (..., 4 candidates, 4), candidate k has 4 * q_k^2 at position k
    diag = torch.stack([cand[..., k, k] for k in range(4)], -1)
    best = diag.argmax(-1, keepdim=True)
    q = torch.take_along_dim(cand, best[..., None].expand(best.shape + (4,)), dim=-2).squeeze(-2)
    q = q / torch.linalg.vector_norm(q, dim=-1, keepdim=True)
    return torch.where(q[..., :1] < 0, -q, q)


def nearest_rotation(M: Tensor) -> Tensor:
    """Polar decomposition: the rotation closest to each (..., 3, 3) matrix (Frobenius).

    Blended LBS matrices are not exactly orthonormal; their rotation part is what a rigid
    splat binding should apply.
    """
    U, _, Vh = torch.linalg.svd(M)
    d = torch.sign(torch.linalg.det(U @ Vh))
    U = torch.cat([U[..., :2], U[..., 2:] * d[..., None, None]], dim=-1)
    return U @ Vh


def frame_from_normal(normals: Tensor) -> Tensor:
    """(..., 3) unit normals -> (..., 3, 3) rotations whose third column is the normal."""
    n = normals / torch.linalg.vector_norm(normals, dim=-1, keepdim=True)
    helper = torch.zeros_like(n)
    use_x = n[..., 1].abs() > 0.9  # avoid a helper parallel to the normal
    helper[..., 1] = torch.where(use_x, 0.0, 1.0)
    helper[..., 0] = torch.where(use_x, 1.0, 0.0)
    u = torch.linalg.cross(helper, n)
    u = u / torch.linalg.vector_norm(u, dim=-1, keepdim=True)
    v = torch.linalg.cross(n, u)
    return torch.stack([u, v, n], dim=-1)
