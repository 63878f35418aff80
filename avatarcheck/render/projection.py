"""EWA projection of 3D Gaussians in numba, bit-identical to gsplat 1.5.3's torch projection.

gsplat's ``_quat_scale_to_covar_preci`` + ``_fully_fused_projection`` (pinhole) run as ~40 torch
ops on (N, 3, 3) tensors: 3-15 ms for 20k splats, most of it op overhead. Here one fused loop per
splat does the same float32 arithmetic *in the same order*, so the results are the same bits:

* torch on the CPU does not contract ``a * b + c`` into FMAs in these ops, and its small matrix
  products (``einsum`` -> ``bmm``, and ``(3, 3) x (3, N)``) sum over the contracted index
  sequentially from index 0; LLVM does not contract either (numba does not ask for fast-math);
* three-operand ``einsum`` contracts left to right (torch without ``opt_einsum``):
  ``R C R^T = (R C) R^T`` and ``J C J^T = (J C) J^T``, with every zero entry of J multiplied in;
* python scalars meet float32 tensors as float32 (``0.3 * tan_fov``, ``eps2d``, ``3.33``,
  the near/far planes), and ``scalar / tensor`` is ``tensor.reciprocal() * scalar``;
* ``F.normalize``: q / max(sqrt(((w^2 + x^2) + y^2) + z^2), 1e-12).

``tests/test_projection.py`` checks bit-identity against gsplat's torch code on random scenes
(random cameras, splats behind, outside and across the frustum) and the radii/culling too.

Covariances depend only on quats and scales; under LAM binding those do not change between
frames, so :func:`covariances` is separate and its (N, 6) result can be reused for every frame
and camera (:func:`project` takes it).

Also here: the rasteriser's per-splat footprint (the "alpha can reach 1/255" sigma cut and the
ellipse's half-extents, see ``cpu_raster._footprints``), computed in the same pass.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from numba import njit, prange

__all__ = ["EPS2D", "Projection", "covariances", "project", "project_batch"]

EPS2D = 0.3

_F = np.float32
_ZERO = _F(0.0)
_ONE = _F(1.0)
_TWO = _F(2.0)
_HALF_W = _F(0.5)
_FRUSTUM = _F(0.3)  # _persp_proj: the Jacobian's x/z, y/z clamped to 1.3x the frustum
_RADIUS_SIGMAS = _F(3.33)
_DET_MIN = _F(1e-10)
_NORM_EPS = _F(1e-12)
_CUT_MARGIN = 1e-3  # as cpu_raster._CUT_MARGIN


@dataclasses.dataclass(frozen=True)
class Projection:
    """One camera's view of N splats (numpy), what ``cpu_raster`` needs.

    radii (N, 2) int32 (0 = culled); means2d (N, 2) float32 pixels; depths (N,) float32 camera z;
    conics (N, 3) float32 (a, b, c); cuts (N,) float32 sigma cut; half_x, half_y (N,) float64
    pixel half-extents of the ellipse where alpha can reach 1/255 (inf: never filter; -inf: never
    drawn). cuts/half_* are only read for splats with radii > 0.
    """

    radii: np.ndarray
    means2d: np.ndarray
    depths: np.ndarray
    conics: np.ndarray
    cuts: np.ndarray
    half_x: np.ndarray
    half_y: np.ndarray


# ----------------------------------------------------------------------------------------------
# Covariances
# ----------------------------------------------------------------------------------------------


@njit(cache=True, inline="always")
def _covariance(q, s, out):
    """quat (4,) wxyz, scale (3,) -> out (6,) = [c00, c01, c02, c11, c12, c22] of (R S)(R S)^T.

    gsplat's order: q normalised, R from the unit quat, M = R * s (column j scaled by s_j),
    C_ik = (M_i0 M_k0 + M_i1 M_k1) + M_i2 M_k2. C is exactly symmetric (a b == b a), so six values
    hold it.
    """
    w, x, y, z = q[0], q[1], q[2], q[3]
    nrm = np.sqrt(((w * w + x * x) + y * y) + z * z)
    nrm = max(nrm, _NORM_EPS)
    w, x, y, z = w / nrm, x / nrm, y / nrm, z / nrm
    s0, s1, s2 = s[0], s[1], s[2]
    m00 = (_ONE - _TWO * (y * y + z * z)) * s0
    m01 = (_TWO * (x * y - w * z)) * s1
    m02 = (_TWO * (x * z + w * y)) * s2
    m10 = (_TWO * (x * y + w * z)) * s0
    m11 = (_ONE - _TWO * (x * x + z * z)) * s1
    m12 = (_TWO * (y * z - w * x)) * s2
    m20 = (_TWO * (x * z - w * y)) * s0
    m21 = (_TWO * (y * z + w * x)) * s1
    m22 = (_ONE - _TWO * (x * x + y * y)) * s2
    out[0] = (m00 * m00 + m01 * m01) + m02 * m02
    out[1] = (m00 * m10 + m01 * m11) + m02 * m12
    out[2] = (m00 * m20 + m01 * m21) + m02 * m22
    out[3] = (m10 * m10 + m11 * m11) + m12 * m12
    out[4] = (m10 * m20 + m11 * m21) + m12 * m22
    out[5] = (m20 * m20 + m21 * m21) + m22 * m22


@njit(parallel=True, cache=True)
def _covariances(quats, scales, out):
    """quats (M, 4), scales (M, 3) float32 -> out (M, 6) float32 (M = frames x splats, flattened)."""
    for i in prange(quats.shape[0]):
        _covariance(quats[i], scales[i], out[i])


def covariances(quats: np.ndarray, scales: np.ndarray) -> np.ndarray:
    """World covariances (..., 6) = [c00, c01, c02, c11, c12, c22] from quats (..., 4) wxyz and
    scales (..., 3) linear sigma (float32, any leading dims). Bit-identical to gsplat's
    ``_quat_scale_to_covar_preci``. Inputs are assumed finite (validate before)."""
    q = np.ascontiguousarray(quats, np.float32)
    s = np.ascontiguousarray(scales, np.float32)
    lead = q.shape[:-1]
    out = np.empty(lead + (6,), np.float32)
    _covariances(q.reshape(-1, 4), s.reshape(-1, 3), out.reshape(-1, 6))
    return out


# ----------------------------------------------------------------------------------------------
# Projection
# ----------------------------------------------------------------------------------------------


@njit(cache=True, inline="always")
def _footprint(o, a, b, c):
    """Sigma cut (float32) and ellipse half-extents (float64) of one splat: ``cpu_raster._footprints``
    for one row (same float64 formulas; the margins make ulp differences in log irrelevant)."""
    o = np.float64(o)
    a = np.float64(a)
    b = np.float64(b)
    c = np.float64(c)
    if not (o > 0.0):
        return np.float32(-np.inf), -np.inf, -np.inf
    cut = np.log(255.0 * o) + _CUT_MARGIN
    if cut < 0.0:
        return np.float32(cut), -np.inf, -np.inf
    det = a * c - b * b
    ok = (a > 0.0) and (c > 0.0) and (det > 0.0)
    if not ok:
        return np.float32(cut), np.inf, np.inf
    rho = abs(b) / np.sqrt(a * c)
    rel = 1e-6 * (1.0 + rho) / (1.0 - rho)
    if not ((rho < 1.0) and (rel < 0.1)):
        return np.float32(cut), np.inf, np.inf
    cap = cut / (1.0 - rel)
    hx = np.sqrt(2.0 * cap * c / det) * (1.0 + 1e-6) + 1e-3
    hy = np.sqrt(2.0 * cap * a / det) * (1.0 + 1e-6) + 1e-3
    if not (np.isfinite(hx) and np.isfinite(hy)):
        return np.float32(cut), np.inf, np.inf
    return np.float32(cut), hx, hy


@njit(cache=True, inline="always")
def _clamp(v, lo, hi):
    """torch.clamp(v, lo, hi) = min(max(v, lo), hi) with NaN passed through (as torch does)."""
    if v < lo:
        return lo
    if v > hi:
        return hi
    return v


@njit(cache=True, inline="always")
def _to_int32(v):
    """torch's float32 -> int32 ``.int()`` on x86 (cvttps2dq): truncation; NaN and values out of
    the int32 range give INT32_MIN (then culled by the rasteriser as a radius <= 0)."""
    if v < _F(2147483648.0) and v > _F(-2147483904.0):
        return np.int32(v)
    return np.int32(-2147483648)


# A numba kernel, kept whole on purpose: splitting it into calls costs speed in the kernel.
@njit(cache=True, inline="always")
def _project_one(p, cv, o, vm, fx, fy, cx, cy, lim_xn, lim_xp, lim_yn, lim_yp, eps2d, near, far,
                 fw, fh, radii, means2d, conics, depths, cuts, half_x, half_y, i):
    """Splat i: world mean p (3,), covariance cv (6,), opacity o -> row i of the outputs.

    The float32 operation order of gsplat's ``_world_to_cam``, ``_persp_proj`` and
    ``_fully_fused_projection`` (see the module doc)."""
    c00, c01, c02, c11, c12, c22 = cv[0], cv[1], cv[2], cv[3], cv[4], cv[5]
    # world -> camera: means_c = R p + t; covars_c = (R C) R^T, sums from index 0.
    r00, r01, r02, r10, r11, r12, r20, r21, r22 = (vm[0, 0], vm[0, 1], vm[0, 2], vm[1, 0], vm[1, 1],
                                                    vm[1, 2], vm[2, 0], vm[2, 1], vm[2, 2])
    x = ((r00 * p[0] + r01 * p[1]) + r02 * p[2]) + vm[0, 3]
    y = ((r10 * p[0] + r11 * p[1]) + r12 * p[2]) + vm[1, 3]
    z = ((r20 * p[0] + r21 * p[1]) + r22 * p[2]) + vm[2, 3]
    # RC = R C (C symmetric: C_jk = C_kj)
    a00 = (r00 * c00 + r01 * c01) + r02 * c02
    a01 = (r00 * c01 + r01 * c11) + r02 * c12
    a02 = (r00 * c02 + r01 * c12) + r02 * c22
    a10 = (r10 * c00 + r11 * c01) + r12 * c02
    a11 = (r10 * c01 + r11 * c11) + r12 * c12
    a12 = (r10 * c02 + r11 * c12) + r12 * c22
    a20 = (r20 * c00 + r21 * c01) + r22 * c02
    a21 = (r20 * c01 + r21 * c11) + r22 * c12
    a22 = (r20 * c02 + r21 * c12) + r22 * c22
    # W = RC R^T (not exactly symmetric in float32: all nine entries)
    w00 = (a00 * r00 + a01 * r01) + a02 * r02
    w01 = (a00 * r10 + a01 * r11) + a02 * r12
    w02 = (a00 * r20 + a01 * r21) + a02 * r22
    w10 = (a10 * r00 + a11 * r01) + a12 * r02
    w11 = (a10 * r10 + a11 * r11) + a12 * r12
    w12 = (a10 * r20 + a11 * r21) + a12 * r22
    w20 = (a20 * r00 + a21 * r01) + a22 * r02
    w21 = (a20 * r10 + a21 * r11) + a22 * r12
    w22 = (a20 * r20 + a21 * r21) + a22 * r22
    # _persp_proj: Jacobian at the clamped x/z, y/z
    tz2 = z * z
    tx = z * _clamp(x / z, -lim_xn, lim_xp)
    ty = z * _clamp(y / z, -lim_yn, lim_yp)
    j00 = fx / z
    j02 = (-fx * tx) / tz2
    j11 = fy / z
    j12 = (-fy * ty) / tz2
    # JW = J W with J = [[j00, 0, j02], [0, j11, j12]] (the zeros multiplied in, as einsum does)
    b00 = (j00 * w00 + _ZERO * w10) + j02 * w20
    b01 = (j00 * w01 + _ZERO * w11) + j02 * w21
    b02 = (j00 * w02 + _ZERO * w12) + j02 * w22
    b10 = (_ZERO * w00 + j11 * w10) + j12 * w20
    b11 = (_ZERO * w01 + j11 * w11) + j12 * w21
    b12 = (_ZERO * w02 + j11 * w12) + j12 * w22
    # cov2d = JW J^T
    d00 = (b00 * j00 + b01 * _ZERO) + b02 * j02
    d01 = (b00 * _ZERO + b01 * j11) + b02 * j12
    d10 = (b10 * j00 + b11 * _ZERO) + b12 * j02
    d11 = (b10 * _ZERO + b11 * j11) + b12 * j12
    # means2d = (K[:2, :3] means_c) / z, K = [[fx, 0, cx], [0, fy, cy]]
    mx = ((fx * x + _ZERO * y) + cx * z) / z
    my = ((_ZERO * x + fy * y) + cy * z) / z
    # + eps2d on the diagonal (off-diagonal: + 0, which only turns -0 into +0)
    d00 = d00 + eps2d
    d01 = d01 + _ZERO
    d10 = d10 + _ZERO
    d11 = d11 + eps2d
    det = d00 * d11 - d01 * d10
    if det < _DET_MIN:  # torch's clamp(min=1e-10): NaN stays NaN (and then fails det > 0)
        det = _DET_MIN
    ca = d11 / det
    cb = (-(d01 + d10) / _TWO) / det
    cc = d00 / det
    rx = np.ceil(_RADIUS_SIGMAS * np.sqrt(d00))
    ry = np.ceil(_RADIUS_SIGMAS * np.sqrt(d11))
    valid = (det > _ZERO) and (z > near) and (z < far)
    if valid:
        valid = (mx + rx > _ZERO) and (mx - rx < fw) and (my + ry > _ZERO) and (my - ry < fh)
    means2d[i, 0] = mx
    means2d[i, 1] = my
    depths[i] = z
    conics[i, 0] = ca
    conics[i, 1] = cb
    conics[i, 2] = cc
    if valid:
        radii[i, 0] = _to_int32(rx)
        radii[i, 1] = _to_int32(ry)
        cut, hx, hy = _footprint(o, ca, cb, cc)
        cuts[i] = cut
        half_x[i] = hx
        half_y[i] = hy
    else:
        radii[i, 0] = 0
        radii[i, 1] = 0
        cuts[i] = -np.inf
        half_x[i] = -np.inf
        half_y[i] = -np.inf


@njit(cache=True)
def _camera_constants(K, width, height):
    """fx, fy, cx, cy and the four clamp limits of ``_persp_proj`` in its float32 order."""
    fx, fy, cx, cy = K[0, 0], K[1, 1], K[0, 2], K[1, 2]
    fw = np.float32(width)
    fh = np.float32(height)
    # ``0.5 * width / fx`` in torch is python_float / tensor, which torch evaluates as
    # ``fx.reciprocal() * (0.5 * width)``: not the same bits as a division.
    tan_fovx = (_ONE / fx) * (_HALF_W * fw)
    tan_fovy = (_ONE / fy) * (_HALF_W * fh)
    lim_xp = (fw - cx) / fx + _FRUSTUM * tan_fovx
    lim_xn = cx / fx + _FRUSTUM * tan_fovx
    lim_yp = (fh - cy) / fy + _FRUSTUM * tan_fovy
    lim_yn = cy / fy + _FRUSTUM * tan_fovy
    return fx, fy, cx, cy, lim_xn, lim_xp, lim_yn, lim_yp, fw, fh


@njit(parallel=True, cache=True)
def _project_frames(means, covs, opac, vm, K, width, height, eps2d, near, far,
                    radii, means2d, conics, depths, cuts, half_x, half_y):
    """means (B, N, 3), covs (Bc, N, 6) with Bc in (1, B), opac (Bo, N) with Bo in (1, B),
    vm (4, 4), K (3, 3) -> outputs (B, N, ...). One prange over all B x N splats."""
    fx, fy, cx, cy, lim_xn, lim_xp, lim_yn, lim_yp, fw, fh = _camera_constants(K, width, height)
    n_b, n = means.shape[0], means.shape[1]
    cb_stride = 1 if covs.shape[0] > 1 else 0
    ob_stride = 1 if opac.shape[0] > 1 else 0
    for f in prange(n_b * n):
        b = f // n
        i = f - b * n
        _project_one(means[b, i], covs[b * cb_stride, i], opac[b * ob_stride, i], vm, fx, fy, cx, cy,
                     lim_xn, lim_xp, lim_yn, lim_yp, eps2d, near, far, fw, fh,
                     radii[b], means2d[b], conics[b], depths[b], cuts[b], half_x[b], half_y[b], i)


def project_batch(means: np.ndarray, covs: np.ndarray, opacities: np.ndarray, viewmat: np.ndarray,
                  K: np.ndarray, width: int, height: int, near: float, far: float,
                  eps2d: float = EPS2D) -> Projection:
    """B frames of N splats through one pinhole camera; every array of the result has a leading B.

    means (B, N, 3) float32 world; covs (B, N, 6) or (1, N, 6) from :func:`covariances` (one set
    shared by all frames when quats/scales do not change); opacities (B, N) or (1, N); viewmat
    (4, 4) world-to-camera (OpenCV); K (3, 3). Inputs are assumed finite and float32-contiguous
    (``cpu_raster`` validates them). Bit-identical to gsplat's torch projection per frame.
    """
    means = np.ascontiguousarray(means, np.float32)
    covs = np.ascontiguousarray(covs, np.float32)
    opac = np.ascontiguousarray(opacities, np.float32)
    n_b, n = means.shape[:2]
    radii = np.empty((n_b, n, 2), np.int32)
    means2d = np.empty((n_b, n, 2), np.float32)
    conics = np.empty((n_b, n, 3), np.float32)
    depths = np.empty((n_b, n), np.float32)
    cuts = np.empty((n_b, n), np.float32)
    half_x = np.empty((n_b, n), np.float64)
    half_y = np.empty((n_b, n), np.float64)
    _project_frames(means, covs, opac, np.ascontiguousarray(viewmat, np.float32),
                    np.ascontiguousarray(K, np.float32), int(width), int(height), np.float32(eps2d),
                    np.float32(near), np.float32(far), radii, means2d, conics, depths, cuts, half_x, half_y)
    return Projection(radii, means2d, depths, conics, cuts, half_x, half_y)


def project(means: np.ndarray, covs: np.ndarray, opacities: np.ndarray, viewmat: np.ndarray, K: np.ndarray,
            width: int, height: int, near: float, far: float, eps2d: float = EPS2D) -> Projection:
    """One frame: means (N, 3), covs (N, 6), opacities (N,) -> :class:`Projection` with (N, ...) arrays."""
    p = project_batch(np.asarray(means)[None], np.asarray(covs)[None], np.asarray(opacities)[None], viewmat, K,
                      width, height, near, far, eps2d)
    return Projection(*(getattr(p, f.name)[0] for f in dataclasses.fields(Projection)))
