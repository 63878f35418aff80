"""CPU reference rasteriser with gsplat 1.5.3's forward numerics (numba, float32).

Reproduces ``rasterize_to_pixels_3dgs_fwd_kernel`` (gsplat/cuda/csrc/RasterizeToPixels3DGSFwd.cu)
together with the tile binning of ``intersect_tile_kernel`` / ``intersect_offset_kernel``
(gsplat/cuda/csrc/IntersectTile.cu):

* tiles of ``tile_size`` pixels, ``ceil(width / tile_size) x ceil(height / tile_size)`` of them;
  a splat with either radius <= 0 is dropped; it covers tiles
  ``[floor(m / ts - r / ts), ceil(m / ts + r / ts))`` per axis (float32), clamped to the grid;
* each tile's list is ordered by the depth's float bits read as uint32 (gsplat's radix-sort key),
  ties in splat-index order (cub's radix sort is stable and the keys are emitted in index order);
* per pixel, centre ``(x + 0.5, y + 0.5)``, front to back: ``d = mean2d - pixel``,
  ``sigma = 0.5 (a dx^2 + c dy^2) + b dx dy``, ``alpha = min(0.999, o exp(-sigma))``, skipped when
  ``sigma < 0`` or ``alpha < 1/255``; ``next_T = T (1 - alpha)``; if ``next_T <= 1e-4`` the pixel
  stops *before* adding that splat; otherwise ``colour += c alpha T`` and ``T = next_T``;
* outputs: colour without background, alpha ``1 - T``.

All pixel arithmetic is float32, like the kernel, with one difference that cannot be avoided: the
exponential. CUDA's ``__expf`` is a hardware approximation (a few ulps, unspecified bits) and nvcc
contracts ``a * b + c`` into FMAs; here ``exp`` is a branch-free Cephes-style float32 polynomial
(within 1 ulp of the exact value, exp(0) = 1 exactly) and nothing is contracted. So results differ
from the GPU by a few float32 ulps per splat, except where such an ulp flips a 1/255 or 1e-4
threshold decision (a CUDA parity test needs a tolerance, and a few pixels may differ more).

Implementation: numba kernels. ``_bin_tiles`` builds the per-tile lists (splats visited in depth
order, counted, prefix-summed and filled, so each list is depth-sorted) and gathers the splat
attributes tile by tile. ``_raster_tiles`` runs one ``prange`` iteration per tile; inside a tile,
4 x 4 pixel blocks run as 16 SIMD lanes, each lane following the per-pixel recurrence above exactly
(a finished lane is masked; a block ends when all its lanes have). Each block walks only the part of
its tile's list whose "alpha could reach 1/255" ellipse touches the block, which skips exactly the
splats the per-pixel tests would skip (tests check the results are bit-identical without it).

Results are deterministic: each pixel is computed sequentially by one thread, so they are
bit-identical between calls and independent of the numba thread count.

The kernels are compiled by numba on first use (several seconds) and cached on disk
(``cache=True``), so later processes only load them. :func:`warmup` does this explicitly and
returns the time it took; the first call in a process also logs it at INFO level.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import numba
import numpy as np
import torch
from llvmlite import ir
from numba import njit, prange, types
from numba.extending import intrinsic

from avatarcheck.errors import InputError
from avatarcheck.render import gsplat_adapter
from avatarcheck.render.gsplat_adapter import TILE_SIZE

__all__ = ["num_threads", "rasterize_cpu", "rasterize_splats", "warmup"]

log = logging.getLogger(__name__)

# float32 constants, as in the CUDA kernel (numba freezes these globals as float32 literals).
_HALF = np.float32(0.5)
_ONE = np.float32(1.0)
_ALPHA_MAX = np.float32(0.999)
_ALPHA_THRESHOLD = np.float32(1.0 / 255.0)  # gsplat Common.h: ALPHA_THRESHOLD (1.f / 255.f)
_T_MIN = np.float32(1e-4)
# Margin on the per-splat "sigma certainly too large" cut: far above float32 rounding of exp and of
# o * exp (an ulp or two), so skipping by the cut never changes a result.
_CUT_MARGIN = 1e-3
# Pixel blocks inside a tile: _BS x _BS pixels = _LANES SIMD lanes (see _raster_tiles).
_BS = 4
_LANES = _BS * _BS
_PX, _PY, _T, _DONE, _ADD, _VIS, _ACC = (i * _LANES for i in range(7))  # offsets into lane scratch
_ZERO = np.float32(0.0)
_SIGMA_MAX = np.float32(87.0)  # exp argument clamp (lanes beyond it are skipped anyway)
# Cephes expf constants (float32).
_LOG2E = np.float32(1.44269504088896341)
_LN2_HI = np.float32(0.693359375)
_LN2_LO = np.float32(-2.12194440e-4)
_EP0 = np.float32(1.9875691500e-4)
_EP1 = np.float32(1.3981999507e-3)
_EP2 = np.float32(8.3334519073e-3)
_EP3 = np.float32(4.1665795894e-2)
_EP4 = np.float32(1.6666665459e-1)
_EP5 = np.float32(5.0000001201e-1)

_jit_ready = False


# ----------------------------------------------------------------------------------------------
# numba kernels
# ----------------------------------------------------------------------------------------------


@njit(cache=True, inline="always")
def _clamp_tile(v: float, hi: int) -> int:
    # CUDA: min(max(0, (uint32_t)v), hi); the float -> uint32 conversion saturates at 0.
    if not (v > 0.0):
        return 0
    if v >= hi:
        return hi
    return int(v)


@njit(cache=True, inline="always")
def _block_index(v: float, lo: int, hi: int) -> int:
    """Clamp a float block index to [lo, hi] (+-inf included) and make it an int."""
    if v < lo:
        return lo
    if v > hi:
        return hi
    return int(v)


@njit(parallel=True, cache=True)
def _bin_tiles(order, means2d, conics, opacities, cuts, radii, tile_size, tiles_x, tiles_y):
    """Per-tile splat lists, each in depth order.

    ``order``: the valid splats' indices, sorted by depth. Returns ``offsets`` (tiles + 1,) int64 and,
    per intersection in tile-major order, the splat index and its gathered float32 attributes
    (mean x, mean y, conic a, b, c, opacity, sigma cut), so each tile's data are contiguous.
    """
    n = order.shape[0]
    n_tiles = tiles_x * tiles_y
    rect = np.zeros((n, 4), np.int64)  # x0, x1, y0, y1 (max exclusive)
    ts = np.float32(tile_size)
    for k in prange(n):
        g = order[k]
        trx = np.float32(radii[g, 0]) / ts
        try_ = np.float32(radii[g, 1]) / ts
        tx = means2d[g, 0] / ts
        ty = means2d[g, 1] / ts
        rect[k, 0] = _clamp_tile(np.floor(tx - trx), tiles_x)
        rect[k, 1] = _clamp_tile(np.ceil(tx + trx), tiles_x)
        rect[k, 2] = _clamp_tile(np.floor(ty - try_), tiles_y)
        rect[k, 3] = _clamp_tile(np.ceil(ty + try_), tiles_y)

    # Count, prefix-sum and fill sequentially in depth order: each tile's list comes out sorted.
    offsets = np.zeros(n_tiles + 1, np.int64)
    for k in range(n):
        for y in range(rect[k, 2], rect[k, 3]):
            for x in range(rect[k, 0], rect[k, 1]):
                offsets[y * tiles_x + x + 1] += 1
    for t in range(n_tiles):
        offsets[t + 1] += offsets[t]
    n_isects = offsets[n_tiles]
    ids = np.empty(n_isects, np.int32)
    pos = offsets[:n_tiles].copy()
    for k in range(n):
        g = order[k]
        for y in range(rect[k, 2], rect[k, 3]):
            for x in range(rect[k, 0], rect[k, 1]):
                t = y * tiles_x + x
                ids[pos[t]] = g
                pos[t] += 1

    attrs = np.empty((7, n_isects), np.float32)
    for i in prange(n_isects):
        g = ids[i]
        attrs[0, i] = means2d[g, 0]
        attrs[1, i] = means2d[g, 1]
        attrs[2, i] = conics[g, 0]
        attrs[3, i] = conics[g, 1]
        attrs[4, i] = conics[g, 2]
        attrs[5, i] = opacities[g]
        attrs[6, i] = cuts[g]
    return offsets, ids, attrs


@intrinsic
def _pow2_neg(typingctx, n):
    """2^-n as float32 for an integer-valued float32 0 <= n <= 126, built from its exponent bits.

    (An LLVM bit cast: numba has no scalar float/int reinterpretation. Vectorises.)
    """
    if n != types.float32:
        return None

    def codegen(context, builder, signature, args):
        i32 = ir.IntType(32)
        e = builder.sub(ir.Constant(i32, 127), builder.fptosi(args[0], i32))
        return builder.bitcast(builder.shl(e, ir.Constant(i32, 23)), ir.FloatType())

    return types.float32(types.float32), codegen


@njit(cache=True, inline="always")
def _exp_neg(s):
    """exp(-s) in float32 for 0 <= s <= 87 (Cephes expf: Cody-Waite reduction, degree-6 polynomial).

    Within one float32 ulp of the exact value (tests check it). No branches and no 64-bit integers,
    so LLVM vectorises it across pixel lanes at full width. (The CUDA kernel's ``__expf`` is itself
    an approximation of a few ulps, so no CPU exp matches it bit for bit; libm's scalar ``expf``
    would block the vectorisation and cost about 3x in the raster loop.)
    """
    n = np.floor(s * _LOG2E + _HALF)  # exp(-s) = 2^-n exp(r), |r| <= ln2 / 2
    r = (n * _LN2_HI - s) + n * _LN2_LO
    z = r * r
    y = ((((_EP0 * r + _EP1) * r + _EP2) * r + _EP3) * r + _EP4) * r + _EP5
    y = y * z + r + _ONE
    return y * _pow2_neg(n)


@njit(parallel=True, cache=True)
def _raster_tiles(offsets, ids, attrs, half_x, half_y, colors, width, height, tile_size, tiles_x, tiles_y,
                  filter_lists, out_colors, out_alphas):
    """One prange iteration per tile; inside it, 4 x 4 pixel blocks processed as 16 SIMD lanes.

    Each lane (pixel) follows the kernel's per-pixel recurrence exactly; a lane that has stopped is
    masked out and the block ends when all its lanes have stopped. A block walks its tile's list in
    order; with ``filter_lists`` it keeps only the splats whose "alpha could reach 1/255" ellipse
    (half-extents ``half_x``/``half_y``) reaches one of the block's pixel centres: a splat left out
    would be skipped at every pixel of the block by the kernel's own tests, so nothing changes.
    """
    for t in prange(tiles_x * tiles_y):
        _raster_tile(t, offsets, ids, attrs, half_x, half_y, colors, width, height, tile_size, tiles_x,
                     filter_lists, out_colors, out_alphas)


@njit(cache=True)
def _raster_tile(t, offsets, ids, attrs, half_x, half_y, colors, width, height, tile_size, tiles_x,
                 filter_lists, out_colors, out_alphas):
    """Tile ``t`` of :func:`_raster_tiles` (a plain function, so LLVM optimises its loops alone)."""
    n_ch = colors.shape[1]
    mx = attrs[0]
    my = attrs[1]
    ca = attrs[2]
    cb = attrs[3]
    cc = attrs[4]
    op = attrs[5]
    cut = attrs[6]
    nb = (tile_size + _BS - 1) // _BS
    start = offsets[t]
    end = offsets[t + 1]
    if start == end:
        return  # outputs are pre-zeroed: colour 0, alpha 1 - 1 = 0
    y0 = (t // tiles_x) * tile_size
    x0 = (t % tiles_x) * tile_size
    y_end = min(y0 + tile_size, height)
    x_end = min(x0 + tile_size, width)

    # Per-block lists (indices into the tile's flat range), in the tile's depth order. Block j
    # (along x) holds the pixel centres x0 + j BS + 0.5 ... x0 + j BS + BS - 0.5; a splat goes to the
    # blocks its box [c - h, c + h] reaches (the 1e-9 margin only ever lets one more block in).
    lists = np.empty((nb * nb, end - start), np.int64)
    counts = np.zeros(nb * nb, np.int64)
    for k in range(start, end):
        jx0, jx1, jy0, jy1 = 0, nb - 1, 0, nb - 1
        if filter_lists:
            g = ids[k]
            cx = np.float64(mx[k]) - x0
            cy = np.float64(my[k]) - y0
            hx = half_x[g]
            hy = half_y[g]
            jx0 = _block_index(np.ceil((cx - hx - _BS + 0.5) / _BS - 1e-9), 0, nb)
            jx1 = _block_index(np.floor((cx + hx - 0.5) / _BS + 1e-9), -1, nb - 1)
            jy0 = _block_index(np.ceil((cy - hy - _BS + 0.5) / _BS - 1e-9), 0, nb)
            jy1 = _block_index(np.floor((cy + hy - 0.5) / _BS + 1e-9), -1, nb - 1)
        for jy in range(jy0, jy1 + 1):
            for jx in range(jx0, jx1 + 1):
                b = jy * nb + jx
                lists[b, counts[b]] = k
                counts[b] += 1

    # Lane state in ONE flat scratch array at fixed offsets, so LLVM can prove the rows disjoint
    # and vectorise the lane loop at full width (float data only):
    # [pixel x | pixel y | T | done | add | vis | acc channel 0 | acc channel 1 | ...].
    # ``colors`` is padded to a multiple of 4 channels; channels 0-3 ride in the lane loop itself.
    st = np.empty((_ACC // _LANES + n_ch) * _LANES, np.float32)
    for b in range(nb * nb):
        bx0 = x0 + (b % nb) * _BS
        by0 = y0 + (b // nb) * _BS
        n_live = 0
        for lane in range(_LANES):
            ix = bx0 + lane % _BS
            iy = by0 + lane // _BS
            inside = ix < x_end and iy < y_end and ix < x0 + tile_size and iy < y0 + tile_size
            st[_PX + lane] = np.float32(ix) + _HALF  # exact: small integer + 0.5
            st[_PY + lane] = np.float32(iy) + _HALF
            st[_T + lane] = _ONE
            st[_DONE + lane] = _ZERO if inside else _ONE
            n_live += inside
        if n_live == 0:
            continue
        st[_ACC:] = _ZERO
        for kk in range(counts[b]):
            k = lists[b, kk]
            g = ids[k]
            mxk = mx[k]
            myk = my[k]
            cak = ca[k]
            cbk = cb[k]
            cck = cc[k]
            opk = op[k]
            cutk = cut[k]
            c0 = colors[g, 0]
            c1 = colors[g, 1]
            c2 = colors[g, 2]
            c3 = colors[g, 3]
            any_stop = False
            for lane in range(_LANES):
                dx = mxk - st[_PX + lane]
                dy = myk - st[_PY + lane]
                sigma = _HALF * (cak * dx * dx + cck * dy * dy) + cbk * dx * dy
                alpha = min(_ALPHA_MAX, opk * _exp_neg(min(max(sigma, _ZERO), _SIGMA_MAX)))
                tl = st[_T + lane]
                dl = st[_DONE + lane]
                live = dl == _ZERO
                ok = (sigma >= _ZERO) & (sigma <= cutk) & (alpha >= _ALPHA_THRESHOLD) & live
                next_t = tl * (_ONE - alpha)
                stop = ok & (next_t <= _T_MIN)  # this pixel is done, exclusive of this splat
                # The state updates are unconditional stores of "alpha or 0", never
                # "x = new if go else x": LLVM turns that form into masked stores (vmaskmovps),
                # and a masked store does not forward to the next splat's load of the same lane
                # state, which stalled every iteration (~2x). Exact: with aw = 0, tl * (1 - 0) = tl
                # and acc + c * 0 = acc (acc is never -0.0: it starts at +0.0 and x + y is -0.0
                # only when both are); with aw = alpha it is the kernel's formula.
                aw = alpha if ok & (not stop) else _ZERO
                wvis = aw * tl
                st[_VIS + lane] = wvis
                st[_T + lane] = tl * (_ONE - aw)
                st[_DONE + lane] = dl + (_ONE if stop else _ZERO)  # stop implies dl == 0
                st[_ACC + lane] += c0 * wvis
                st[_ACC + _LANES + lane] += c1 * wvis
                st[_ACC + 2 * _LANES + lane] += c2 * wvis
                st[_ACC + 3 * _LANES + lane] += c3 * wvis
                any_stop |= stop
            for c in range(4, n_ch):
                col = colors[g, c]
                base = _ACC + c * _LANES
                for lane in range(_LANES):
                    st[base + lane] += col * st[_VIS + lane]  # _VIS holds vis x (0 or 1)
            if any_stop:
                n_live = 0
                for lane in range(_LANES):
                    n_live += st[_DONE + lane] == _ZERO
                if n_live == 0:
                    break
        for lane in range(_LANES):
            ix = bx0 + lane % _BS
            iy = by0 + lane // _BS
            if ix < x_end and iy < y_end and ix < x0 + tile_size and iy < y0 + tile_size:
                out_alphas[iy, ix] = _ONE - st[_T + lane]
                for c in range(n_ch):
                    out_colors[iy, ix, c] = st[_ACC + c * _LANES + lane]


# ----------------------------------------------------------------------------------------------
# Input handling
# ----------------------------------------------------------------------------------------------


def _to_numpy(x: Any) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def _check_shape(source: str, field: str, arr: np.ndarray, shape: tuple[int | None, ...], text: str) -> None:
    ok = arr.ndim == len(shape) and all(s is None or s == a for s, a in zip(shape, arr.shape))
    if not ok:
        raise InputError(source, field, text, f"shape {tuple(arr.shape)}")


def _check_finite(source: str, field: str, arr: np.ndarray, rows: np.ndarray | None = None) -> None:
    bad = ~np.isfinite(arr)
    if bad.ndim > 1:
        bad = bad.reshape(bad.shape[0], max(1, int(np.prod(bad.shape[1:])))).any(axis=1)
    if rows is not None:
        bad &= rows
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise InputError(source, field, "finite values", f"NaN/inf in {int(bad.sum())} rows (first: row {first})")


def _check_size(source: str, field: str, value: Any) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise InputError(source, field, "a positive int", repr(value))
    return int(value)


def _checked_float32(source: str, field: str, x: Any, shape: tuple[int | None, ...], text: str) -> np.ndarray:
    """``_float32`` then ``_check_shape``: the array, or an ``InputError`` naming the field."""
    arr = _float32(source, field, x)
    _check_shape(source, field, arr, shape, text)
    return arr


def _float32(source: str, field: str, x: Any) -> np.ndarray:
    arr = _to_numpy(x)
    if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        raise InputError(source, field, "a real-valued array", f"dtype {arr.dtype}")
    return np.ascontiguousarray(arr, dtype=np.float32)


# ----------------------------------------------------------------------------------------------
# Public API
# ----------------------------------------------------------------------------------------------


def rasterize_cpu(means2d: Any, conics: Any, opacities: Any, colors: Any, depths: Any, radii: Any,
                  width: int, height: int, tile_size: int = TILE_SIZE) -> tuple[np.ndarray, np.ndarray]:
    """Rasterise projected splats on the CPU with gsplat 1.5.3 CUDA forward semantics (module doc: exp).

    Args (numpy arrays or torch tensors; N splats, D >= 1 colour channels):
        means2d: (N, 2) pixel coordinates of the centres (pixel (x, y) has its centre at x + 0.5).
        conics: (N, 3) inverse 2D covariance (a, b, c): sigma = 0.5 (a dx^2 + c dy^2) + b dx dy.
        opacities: (N,).
        colors: (N, D) any channel count, e.g. [R, G, B, E].
        depths: (N,) camera z, the sort key (front to back).
        radii: (N, 2) integer screen extent in pixels; a splat with either radius <= 0 is culled.
        width, height: image size in pixels.
        tile_size: tile edge in pixels (gsplat's default 16). It does not change the result for
            splats whose radii bound their alpha >= 1/255 footprint, as gsplat's projection does.

    Returns:
        colors (H, W, D) float32: sum over splats of c * alpha * T, no background;
        alpha (H, W) float32: 1 - final transmittance.

    Raises:
        InputError: wrong shapes, or NaN/inf in a non-culled splat's attributes.
    """
    src = "rasterize_cpu"
    width = _check_size(src, "width", width)
    height = _check_size(src, "height", height)
    tile_size = _check_size(src, "tile_size", tile_size)
    m2 = _checked_float32(src, "means2d", means2d, (None, 2), "shape (N, 2)")
    n = m2.shape[0]
    con = _checked_float32(src, "conics", conics, (n, 3), f"shape ({n}, 3)")
    opa = _checked_float32(src, "opacities", opacities, (n,), f"shape ({n},)")
    col = _checked_float32(src, "colors", colors, (n, None), f"shape ({n}, D) with D >= 1")
    if col.shape[1] < 1:
        raise InputError(src, "colors", f"shape ({n}, D) with D >= 1", f"shape {col.shape}")
    dep = _checked_float32(src, "depths", depths, (n,), f"shape ({n},)")
    rad = _to_numpy(radii)
    if not np.issubdtype(rad.dtype, np.integer):
        raise InputError(src, "radii", "an integer array", f"dtype {rad.dtype}")
    _check_shape(src, "radii", rad, (n, 2), f"shape ({n}, 2)")
    rad = np.ascontiguousarray(np.clip(rad, -1, 2**31 - 1), dtype=np.int32)

    valid = (rad[:, 0] > 0) & (rad[:, 1] > 0)
    for field, arr in (("means2d", m2), ("conics", con), ("opacities", opa), ("colors", col), ("depths", dep)):
        _check_finite(src, field, arr, valid)

    return _rasterize(m2, con, opa, col, dep, rad, valid, width, height, tile_size)


def _footprints(opacities: np.ndarray, conics: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per splat: the sigma cut (float32) and the half-extents (float64, pixels) of its ellipse.

    Cut: above ``log(255 o) + 1e-3``, ``o exp(-sigma) < (1/255) exp(-1e-3)``, below 1/255 whatever the
    float32 rounding of exp and the product (a few 1e-7 relative), so the kernel may skip the exp.

    Ellipse: where the kernel's float32 sigma can be <= cut. With rho = |b| / sqrt(ac) < 1 the float32
    sigma differs from the exact one by at most ``1e-6 (1 + rho) / (1 - rho)`` relative (about six
    roundings of 6e-8 on terms that add up to at most ``(1 + rho) / (1 - rho)`` times sigma), so
    ``sigma_exact <= cut / (1 - that)``; the box half-widths are ``sqrt(2 C (M^-1)_xx)``, widened a
    little more. Conics that are not positive definite, or too close to singular for that bound,
    get infinite extents (never filtered); splats with cut < 0 can never be drawn (-inf extents).
    """
    o = opacities.astype(np.float64)
    a, b, c = (conics[:, i].astype(np.float64) for i in range(3))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        cut64 = np.where(o > 0, np.log(255.0 * o) + _CUT_MARGIN, -np.inf)
        det = a * c - b * b
        rho = np.abs(b) / np.sqrt(a * c)
        rel = 1e-6 * (1.0 + rho) / (1.0 - rho)
        ok = (a > 0) & (c > 0) & (det > 0) & (rho < 1.0) & (rel < 0.1)
        cap = np.maximum(cut64, 0.0) / (1.0 - np.where(ok, rel, 0.0))
        hx = np.sqrt(2.0 * cap * c / det) * (1.0 + 1e-6) + 1e-3
        hy = np.sqrt(2.0 * cap * a / det) * (1.0 + 1e-6) + 1e-3
    ok &= np.isfinite(hx) & np.isfinite(hy)
    hx = np.where(ok, hx, np.inf)
    hy = np.where(ok, hy, np.inf)
    never = cut64 < 0
    hx[never] = -np.inf
    hy[never] = -np.inf
    return cut64.astype(np.float32), hx, hy


def _rasterize(m2: np.ndarray, con: np.ndarray, opa: np.ndarray, col: np.ndarray, dep: np.ndarray,
               rad: np.ndarray, valid: np.ndarray, width: int, height: int, tile_size: int,
               filter_lists: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Validated, contiguous float32/int32 inputs -> (colors, alpha).

    ``filter_lists=False`` walks every tile's whole list at every pixel (as the CUDA kernel does);
    the result is the same bit for bit (tests check it).
    """
    # gsplat's sort key: the depth's float bits as uint32; stable, so ties keep index order.
    idx = np.flatnonzero(valid)
    keys = dep.view(np.uint32)[idx]
    order = idx[np.argsort(keys, kind="stable")].astype(np.int64)
    cuts, half_x, half_y = _footprints(opa, con)

    tiles_x = -(-width // tile_size)
    tiles_y = -(-height // tile_size)
    n_ch = col.shape[1]
    n_pad = -(-n_ch // 4) * 4  # the kernel handles channels 0-3 in its lane loop
    if n_pad != n_ch:
        col = np.concatenate([col, np.zeros((col.shape[0], n_pad - n_ch), np.float32)], axis=1)
    out_c = np.zeros((height, width, n_pad), np.float32)
    out_a = np.zeros((height, width), np.float32)

    global _jit_ready
    t0 = time.perf_counter()
    offsets, ids, attrs = _bin_tiles(order, m2, con, opa, cuts, rad, tile_size, tiles_x, tiles_y)
    _raster_tiles(offsets, ids, attrs, half_x, half_y, col, width, height, tile_size, tiles_x, tiles_y,
                  filter_lists, out_c, out_a)
    if n_pad != n_ch:
        out_c = np.ascontiguousarray(out_c[:, :, :n_ch])
    if not _jit_ready:
        _jit_ready = True
        log.info("cpu_raster: first call %.2f s (numba compile, or load from its on-disk cache)",
                 time.perf_counter() - t0)
    return out_c, out_a


def warmup() -> float:
    """Compile (or load from numba's on-disk cache) the kernels; returns the seconds it took."""
    t0 = time.perf_counter()
    rasterize_cpu(np.array([[4.0, 4.0]], np.float32), np.array([[1.0, 0.0, 1.0]], np.float32),
                  np.array([0.5], np.float32), np.ones((1, 3), np.float32), np.ones(1, np.float32),
                  np.array([[4, 4]], np.int32), 8, 8)
    return time.perf_counter() - t0


def rasterize_splats(means: Any, quats: Any, scales: Any, opacities: Any, colors: Any,
                     viewmat: Any, K: Any, width: int, height: int,
                     near_plane: float = gsplat_adapter.NEAR_PLANE,
                     far_plane: float = gsplat_adapter.FAR_PLANE) -> tuple[np.ndarray, np.ndarray]:
    """World-space splats through one pinhole camera: gsplat's EWA projection, then :func:`rasterize_cpu`.

    Args (numpy arrays or torch tensors):
        means: (N, 3) world positions; quats: (N, 4) wxyz (normalised inside); scales: (N, 3)
        linear sigmas; opacities: (N,); colors: (N, D); viewmat: (4, 4) world-to-camera (OpenCV
        axes); K: (3, 3) intrinsics; width, height: pixels.

    Returns:
        colors (H, W, D) float32 without background, alpha (H, W) float32.

    Projection uses gsplat's torch code (eps2d 0.3, near/far planes, radius ceil(3.33 sigma))
    via :mod:`avatarcheck.render.gsplat_adapter`.
    """
    src = "rasterize_splats"
    width = _check_size(src, "width", width)
    height = _check_size(src, "height", height)
    m = _checked_float32(src, "means", means, (None, 3), "shape (N, 3)")
    n = m.shape[0]
    q = _checked_float32(src, "quats", quats, (n, 4), f"shape ({n}, 4) wxyz")
    s = _checked_float32(src, "scales", scales, (n, 3), f"shape ({n}, 3)")
    o = _checked_float32(src, "opacities", opacities, (n,), f"shape ({n},)")
    c = _checked_float32(src, "colors", colors, (n, None), f"shape ({n}, D) with D >= 1")
    if c.shape[1] < 1:
        raise InputError(src, "colors", f"shape ({n}, D) with D >= 1", f"shape {c.shape}")
    vm = _checked_float32(src, "viewmat", viewmat, (4, 4), "shape (4, 4)")
    k = _checked_float32(src, "K", K, (3, 3), "shape (3, 3)")
    for field, arr in (("means", m), ("quats", q), ("scales", s), ("opacities", o), ("colors", c),
                       ("viewmat", vm), ("K", k)):
        _check_finite(src, field, arr)
    qn = np.linalg.norm(q, axis=1)
    if n and not (qn > 0).all():
        first = int(np.flatnonzero(~(qn > 0))[0])
        raise InputError(src, "quats", "non-zero quaternions", f"zero quaternion at row {first}")

    with torch.no_grad():
        covars = gsplat_adapter.covariances(torch.from_numpy(q), torch.from_numpy(s))
        p = gsplat_adapter.project(torch.from_numpy(m), covars, torch.from_numpy(vm), torch.from_numpy(k),
                                   width, height, near_plane=near_plane, far_plane=far_plane)
    return rasterize_cpu(p.means2d.numpy(), p.conics.numpy(), o, c, p.depths.numpy(), p.radii.numpy(),
                         width, height)


def num_threads() -> int:
    """numba's current thread count for the prange loops (the results do not depend on it)."""
    return numba.get_num_threads()
