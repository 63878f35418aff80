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

Implementation: numba kernels, B frames at a time (one camera). ``_prepare`` packs each drawn
splat's float32 record [mean, conic, opacity, sigma cut, pixel spans, colours] into one cache
line, sorts the drawn splats by depth (a stable radix sort on the float bits), stages the records
in that order and builds the per-tile lists of positions in it (counted, prefix-summed and filled
in depth order, so each list is sorted). ``_raster_frames`` runs one ``prange`` iteration per
(frame, tile); a tile first copies its records into one contiguous local array (as gsplat stages
them in shared memory); inside a tile,
4 x 4 pixel blocks run as 16 SIMD lanes, each lane following the per-pixel recurrence above
exactly (a finished lane is masked; a block ends when all its lanes have). Each block walks only
the part of its tile's list whose "alpha could reach 1/255" ellipse box touches the block, which
skips exactly the splats the per-pixel tests would skip (tests check the results are
bit-identical without it).

World-space entry points (:func:`rasterize_splats`, :func:`rasterize_splats_batch`) validate their
inputs once and project with :mod:`avatarcheck.render.projection` (numba, bit-identical to
gsplat's torch projection); inputs shared by all frames (zero-stride expanded tensors, or
per-splat arrays) are converted and processed once, and covariances can be passed in to be
reused across calls.

Results are deterministic: each pixel is computed sequentially by one thread, so they are
bit-identical between calls and independent of the numba thread count.

The kernels are compiled by numba on first use (several seconds) and cached on disk
(``cache=True``), so later processes only load them. :func:`warmup` does this explicitly and
returns the time it took; the first call in a process also logs it at INFO level.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import numba
import numpy as np
import torch
from llvmlite import ir
from numba import njit, prange, types
from numba.extending import intrinsic

from avatarcheck.checks import all_finite
from avatarcheck.errors import InputError
from avatarcheck.render import gsplat_adapter, projection
from avatarcheck.render.gsplat_adapter import TILE_SIZE

__all__ = ["num_threads", "rasterize_cpu", "rasterize_splats", "rasterize_splats_batch", "warmup"]

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
_PX, _PY, _T, _DONE, _VIS, _ACC = (i * _LANES for i in range(6))  # offsets into lane scratch
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

_TILE_CHUNK = 4  # tiles per dynamically scheduled chunk of the raster loop (see _raster_batch)
_SPLIT = 2  # parts of a frame's depth order counted and filled in parallel, per thread (_prepare)
_CHUNK = 2048  # splats per parallel iteration of _prepare's per-splat pass
_SHARED_ROWS_MAX = 2**31 - 1  # frames x splats that _prepare's int32 list entries can number
# Per-splat record (float32): mean x, mean y, conic a, b, c, opacity, sigma cut, the pixel spans
# (x first, x last, y first, y last: integers, exact in float32 within +-_SPAN_LIMIT), then the
# colours; rows padded to a multiple of 16 floats, one 64-byte cache line for up to 5 channels.
_REC = 11
_SP = 7  # first span column

_jit_ready = False


# ----------------------------------------------------------------------------------------------
# numba kernels
# ----------------------------------------------------------------------------------------------
#
# Data flow for B frames (one camera) of N splats:
#   _splat_records  per splat, in index order: tile rectangle, drawn (meets a wanted tile), and the
#                   packed record (every input streams)
#   _depth_order    per frame: the drawn splats' indices in gsplat's depth order (radix sort)
#   _gather_sorted  per part of a frame's depth order: rectangles and records in that order (the
#                   one random read per splat)
#   _count_tiles,   per part of the order: count, prefix sum (part after part within each tile)
#   _fill_tiles     and fill of the tile lists, int32 positions into the sorted records
#   _raster_tile    per (frame, tile): the pixels
# 500k random splats at 512 px (1.4 M intersections), 2 threads: binning 25-50 ms this way against
# 110-130 ms when every list entry was a full copy of the record written by bands of tile rows
# that each walked all splats (scattered 60-byte stores and random reads were the cost); the
# raster pays ~10 ms more for its per-tile gather. The head (20k splats) bins in ~1 ms (was ~2).
# Two schedules run these: with few frames, _prepare runs each stage in parallel over splats, frames
# and parts for all frames, then _raster_frames shares the tiles out; with two or more frames per
# thread, _render_frames gives each thread whole frames, every stage of a frame back to back.

@njit(cache=True, inline="always")
def _clamp_tile(v: float, hi: int) -> int:
    # CUDA: min(max(0, (uint32_t)v), hi); the float -> uint32 conversion saturates at 0.
    if not (v > 0.0):
        return 0
    if v >= hi:
        return hi
    return int(v)


_SPAN_LIMIT = 2**24  # pixel spans are clamped to +-this (infinite extents included); exact in float32


@njit(cache=True, inline="always")
def _span_int(v: float) -> int:
    if v < -_SPAN_LIMIT:
        return -_SPAN_LIMIT
    if v > _SPAN_LIMIT:
        return _SPAN_LIMIT
    return int(v)


@njit(cache=True, inline="always")
def _pixel_span(c, h):
    """First and last pixel whose centre p + 0.5 lies in [c - h, c + h], widened by 1e-6 px.

    c: float32 centre; h: float64 half-extent of the splat's "alpha can reach 1/255" ellipse box
    (``_footprints``): +inf (never filter) gives the widest span, -inf (never drawn) an empty one
    (first > last). A pixel outside the span is outside the box, so the kernel skips the splat
    there by its own tests: the margin only ever lets a pixel in.
    """
    c64 = np.float64(c)
    return _span_int(np.ceil(c64 - h - 0.5 - 1e-6)), _span_int(np.floor(c64 + h - 0.5 + 1e-6))


@njit(cache=True, inline="always")
def _any_wanted(tile_sat, x0, x1, y0, y1) -> bool:
    """Whether tiles [x0, x1) x [y0, y1) hold a wanted one: four reads of one frame's summed-area
    table (tiles_y + 1, tiles_x + 1)."""
    return tile_sat[y1, x1] - tile_sat[y0, x1] - tile_sat[y1, x0] + tile_sat[y0, x0] > 0


@njit(cache=True)
def _depth_order(depths, drawn, out):
    """Drawn splats in gsplat's order: depth float bits as uint32, ties by index.

    depths (N,) float32, drawn (N,) bool -> writes the order into out[:n] and returns n.
    LSD radix sort, 4 passes of 8 bits (a pass whose byte is the same for every key is skipped:
    depths in one binade share their top byte). Stable, so equal keys keep index order, as cub's
    radix sort does on the GPU and np.argsort(kind="stable") did here before.
    """
    n_all = depths.shape[0]
    bits = depths.view(np.uint32)
    n = 0
    for i in range(n_all):
        if drawn[i]:
            n += 1
    a_idx = np.empty(n, np.int32)
    a_key = np.empty(n, np.int64)
    j = 0
    for i in range(n_all):
        if drawn[i]:
            a_idx[j] = i
            a_key[j] = np.int64(bits[i])
            j += 1
    b_idx = np.empty(n, np.int32)
    b_key = np.empty(n, np.int64)
    cnt = np.zeros(256, np.int64)
    for p in range(4):
        shift = 8 * p
        cnt[:] = 0
        for i in range(n):
            cnt[(a_key[i] >> shift) & 255] += 1
        if n == 0 or cnt[(a_key[0] >> shift) & 255] == n:
            continue  # every key has this byte: the pass would not move anything
        s = 0
        for d in range(256):
            c = cnt[d]
            cnt[d] = s
            s += c
        for i in range(n):
            d = (a_key[i] >> shift) & 255
            q = cnt[d]
            b_idx[q] = a_idx[i]
            b_key[q] = a_key[i]
            cnt[d] = q + 1
        a_idx, b_idx = b_idx, a_idx
        a_key, b_key = b_key, a_key
    out[:n] = a_idx
    return n


@njit(cache=True)
def _splat_records(m2, radii, con, opa, col, cuts, half_x, half_y, tile_size, tiles_x, tiles_y, tile_sat, g0, g1,
                   rect, drawn, urec):
    """Splats g0 .. g1 - 1 of one frame, in index order: gsplat's tile rectangle (IntersectTile.cu,
    float32 as there) into rect (N, 4) int32 = x0, x1, y0, y1 (exclusive); drawn (N,) bool: both
    radii positive and the rectangle holds a wanted tile; and for a drawn splat its record into
    urec (N, R) float32 (``_REC`` above, spans from :func:`_pixel_span`, zero padding).

    One frame's inputs: m2 (N, 2), radii (N, 2), con (N, 3), opa (N,), col (N, Dp), cuts, half_x,
    half_y (N,); tile_sat (tiles_y + 1, tiles_x + 1). Packing the record here, where every input
    streams, leaves the depth-order gather one cache line per splat to fetch instead of eight.
    """
    ts = np.float32(tile_size)
    n_ch = col.shape[1]
    for g in range(g0, g1):
        if not (radii[g, 0] > 0 and radii[g, 1] > 0):
            continue
        trx = np.float32(radii[g, 0]) / ts
        try_ = np.float32(radii[g, 1]) / ts
        tx = m2[g, 0] / ts
        ty = m2[g, 1] / ts
        x0 = _clamp_tile(np.floor(tx - trx), tiles_x)
        x1 = _clamp_tile(np.ceil(tx + trx), tiles_x)
        y0 = _clamp_tile(np.floor(ty - try_), tiles_y)
        y1 = _clamp_tile(np.ceil(ty + try_), tiles_y)
        rect[g, 0] = x0
        rect[g, 1] = x1
        rect[g, 2] = y0
        rect[g, 3] = y1
        drawn[g] = _any_wanted(tile_sat, x0, x1, y0, y1)
        if not drawn[g]:
            continue
        urec[g, 0] = m2[g, 0]
        urec[g, 1] = m2[g, 1]
        urec[g, 2] = con[g, 0]
        urec[g, 3] = con[g, 1]
        urec[g, 4] = con[g, 2]
        urec[g, 5] = opa[g]
        urec[g, 6] = cuts[g]
        sx0, sx1 = _pixel_span(m2[g, 0], half_x[g])
        sy0, sy1 = _pixel_span(m2[g, 1], half_y[g])
        urec[g, _SP] = sx0
        urec[g, _SP + 1] = sx1
        urec[g, _SP + 2] = sy0
        urec[g, _SP + 3] = sy1
        for c in range(n_ch):
            urec[g, _REC + c] = col[g, c]
        for c in range(_REC + n_ch, urec.shape[1]):
            urec[g, c] = _ZERO


@njit(cache=True, inline="always")
def _record_width(n_ch: int) -> int:
    """Floats per record row for n_ch colour channels: ``_REC + n_ch`` padded to a multiple of 16."""
    return -(-(_REC + n_ch) // 16) * 16


@njit(cache=True)
def _gather_sorted(order, j0, j1, base, rect, urec, srect, srec):
    """Depth-order positions j0 .. j1 - 1 of one frame: splat ``order[j]``'s tile rectangle and
    record (rows of rect (N, 4) and urec (N, R), :func:`_splat_records`) into srect[base + j] and
    srec[base + j]. The only random reads of the binning; everything after them streams."""
    n_rec = urec.shape[1]
    for j in range(j0, j1):
        g = order[j]
        i = base + j
        for c in range(4):
            srect[i, c] = rect[g, c]
        for c in range(n_rec):
            srec[i, c] = urec[g, c]


@njit(cache=True)
def _count_tiles(srect, i0, i1, tile_sat, tiles_x, counts):
    """Add the wanted-tile intersections of sorted splats i0 .. i1 - 1 (rows of srect) to counts
    (tiles,)."""
    for i in range(i0, i1):
        for y in range(srect[i, 2], srect[i, 3]):
            for x in range(srect[i, 0], srect[i, 1]):
                if _any_wanted(tile_sat, x, x + 1, y, y + 1):
                    counts[y * tiles_x + x] += 1


@njit(cache=True)
def _fill_tiles(srect, i0, i1, tile_sat, tiles_x, pos, ids):
    """Append sorted splats i0 .. i1 - 1 to the lists of their wanted tiles: ids[pos[t]] = i, then
    pos[t] += 1 (pos (tiles,) int64, the next free slot of each tile's list). Walking i in order
    keeps every list in depth order."""
    for i in range(i0, i1):
        for y in range(srect[i, 2], srect[i, 3]):
            for x in range(srect[i, 0], srect[i, 1]):
                if _any_wanted(tile_sat, x, x + 1, y, y + 1):
                    t = y * tiles_x + x
                    ids[pos[t]] = i
                    pos[t] += 1


@njit(cache=True)
def _carve(ws, start, size):
    """ws[start:start + size] when the workspace holds it, else a new array of that size."""
    if start + size <= ws.shape[0]:
        return ws[start:start + size]
    return np.empty(size, ws.dtype)


@njit(parallel=True, cache=True)
def _prepare(m2, con, opa, col, dep, radii, cuts, half_x, half_y, tile_size, tiles_x, tiles_y, tile_sat, n_split,
             ws_f32, ws_i32):
    """Sort and bin B frames at once, every stage parallel (module comment above).

    m2 (B, N, 2), con (B, N, 3), dep (B, N), radii (B, N, 2) int32, cuts (B, N) float32,
    half_x/half_y (B, N) float64; opa (Bo, N) and col (Bc, N, Dp) with Bo, Bc in (1, B) (shared
    by every frame when 1); tile_sat (Bt, tiles_y + 1, tiles_x + 1) int32, Bt in (1, B): the summed
    area table of the tiles wanted (:func:`_tile_sat`); n_split: parts of each frame's depth order
    counted and filled in parallel (any value gives the same lists); ws_f32 (float32) and ws_i32
    (int32): 1-D workspaces the large arrays are carved from where they fit (see :class:`_Workspace`).

    Returns offsets (B, tiles + 1) int64, ids (intersections,) int32 and srec (drawn, R) float32:
    the drawn splats' records (``_REC`` above) of every frame in depth order, frame after frame;
    frame b's tile t list is ``ids[offsets[b, t]:offsets[b, t + 1]]``, rows of srec in depth order;
    a tile not wanted gets an empty list. A wanted tile's list is the full render's: the splats
    left out (rectangle on no wanted tile) are not in it, and sorting a subset stably keeps the
    others' order. Also returns the workspace sizes this call needed (float32, int32 elements).
    """
    n_b, n = dep.shape
    n_rec = _record_width(col.shape[2])
    n_tiles = tiles_x * tiles_y
    rect = _carve(ws_i32, 0, n_b * n * 4).reshape((n_b, n, 4))
    order = _carve(ws_i32, n_b * n * 4, n_b * n).reshape((n_b, n))
    drawn = np.zeros((n_b, n), np.bool_)
    urec = _carve(ws_f32, 0, n_b * n * n_rec).reshape((n_b, n, n_rec))
    # Chunks of splats, not one iteration per (frame, splat): a 64-bit division per splat to split
    # the flat index cost as much as the rest of the loop.
    n_chunks = -(-n // _CHUNK)
    for f in prange(n_b * n_chunks):
        b = f // n_chunks
        g0 = (f - b * n_chunks) * _CHUNK
        _splat_records(m2[b], radii[b], con[b], opa[b if opa.shape[0] > 1 else 0], col[b if col.shape[0] > 1 else 0],
                       cuts[b], half_x[b], half_y[b], tile_size, tiles_x, tiles_y,
                       tile_sat[b if tile_sat.shape[0] > 1 else 0], g0, min(g0 + _CHUNK, n), rect[b], drawn[b], urec[b])

    n_drawn = np.empty(n_b, np.int64)
    for b in prange(n_b):
        n_drawn[b] = _depth_order(dep[b], drawn[b], order[b])
    base = np.zeros(n_b + 1, np.int64)
    for b in range(n_b):
        base[b + 1] = base[b] + n_drawn[b]

    # Stage the drawn splats in depth order, then count and fill per (frame, part of the order):
    # each part walks its splats in order, so a tile's list is its parts' entries one after another.
    srect = _carve(ws_i32, n_b * n * 5, base[n_b] * 4).reshape((base[n_b], 4))
    srec = _carve(ws_f32, n_b * n * n_rec, base[n_b] * n_rec).reshape((base[n_b], n_rec))
    for f in prange(n_b * n_split):
        b = f // n_split
        c = f - b * n_split
        j0 = c * n_drawn[b] // n_split
        j1 = (c + 1) * n_drawn[b] // n_split
        _gather_sorted(order[b], j0, j1, base[b], rect[b], urec[b], srect, srec)
    counts = np.zeros((n_b, n_split, n_tiles), np.int64)
    for f in prange(n_b * n_split):
        b = f // n_split
        c = f - b * n_split
        _count_tiles(srect, base[b] + c * n_drawn[b] // n_split, base[b] + (c + 1) * n_drawn[b] // n_split,
                     tile_sat[b if tile_sat.shape[0] > 1 else 0], tiles_x, counts[b, c])
    offsets = np.empty((n_b, n_tiles + 1), np.int64)
    total = 0
    for b in range(n_b):
        for t in range(n_tiles):
            offsets[b, t] = total
            for c in range(n_split):  # counts become each part's first slot in the tile's list
                k = counts[b, c, t]
                counts[b, c, t] = total
                total += k
        offsets[b, n_tiles] = total
    ids = _carve(ws_i32, n_b * n * 5 + base[n_b] * 4, total)
    for f in prange(n_b * n_split):
        b = f // n_split
        c = f - b * n_split
        _fill_tiles(srect, base[b] + c * n_drawn[b] // n_split, base[b] + (c + 1) * n_drawn[b] // n_split,
                    tile_sat[b if tile_sat.shape[0] > 1 else 0], tiles_x, counts[b, c], ids)
    return offsets, ids, srec, (n_b * n + base[n_b]) * n_rec, n_b * n * 5 + base[n_b] * 4 + total


@njit(cache=True)
def _render_frame(b, m2, con, opa, col, dep, radii, cuts, half_x, half_y, tile_size, tiles_x, tiles_y, tile_sat,
                  width, height, filter_lists, background, out_colors, out_alphas):
    """Frame b alone, start to finish on one thread: bin (as :func:`_prepare` does for one frame) and
    rasterise every tile. Same inputs as :func:`_prepare` and :func:`_raster_frames`.

    The frame's sorted records and tile lists are written and read back while still in this core's
    cache; binning every frame of a batch first put them in memory and read them back cold.
    """
    b = np.int64(b)  # prange hands an unsigned index; mixed with int64 below it would type as float
    n = dep.shape[1]
    bt = b if tile_sat.shape[0] > 1 else 0
    n_tiles = tiles_x * tiles_y
    n_rec = _record_width(col.shape[2])
    rect = np.empty((n, 4), np.int32)
    drawn = np.zeros(n, np.bool_)
    urec = np.empty((n, n_rec), np.float32)
    _splat_records(m2[b], radii[b], con[b], opa[b if opa.shape[0] > 1 else 0], col[b if col.shape[0] > 1 else 0],
                   cuts[b], half_x[b], half_y[b], tile_size, tiles_x, tiles_y, tile_sat[bt], 0, n, rect, drawn, urec)
    order = np.empty(n, np.int32)
    n_drawn = _depth_order(dep[b], drawn, order)
    srect = np.empty((n_drawn, 4), np.int32)
    srec = np.empty((n_drawn, n_rec), np.float32)
    _gather_sorted(order, 0, n_drawn, 0, rect, urec, srect, srec)
    offsets = np.zeros(n_tiles + 1, np.int64)
    _count_tiles(srect, 0, n_drawn, tile_sat[bt], tiles_x, offsets[1:])
    for t in range(n_tiles):
        offsets[t + 1] += offsets[t]
    ids = np.empty(offsets[n_tiles], np.int32)
    _fill_tiles(srect, 0, n_drawn, tile_sat[bt], tiles_x, offsets[:n_tiles].copy(), ids)
    for t in range(n_tiles):
        _raster_tile(t, offsets, ids, srec, width, height, tile_size, tiles_x, filter_lists, background,
                     out_colors[b], out_alphas[b])


@njit(parallel=True, cache=True)
def _render_frames(m2, con, opa, col, dep, radii, cuts, half_x, half_y, tile_size, tiles_x, tiles_y, tile_sat,
                   width, height, filter_lists, background, out_colors, out_alphas):
    """B frames, one per parallel iteration (:func:`_render_frame`); for batches of at least two frames
    per thread, where frames keep every thread busy without splitting one frame's tiles."""
    for b in prange(dep.shape[0]):
        _render_frame(b, m2, con, opa, col, dep, radii, cuts, half_x, half_y, tile_size, tiles_x, tiles_y,
                      tile_sat, width, height, filter_lists, background, out_colors, out_alphas)


def _tile_sat(only: np.ndarray | None, width: int, height: int, tile_size: int) -> np.ndarray:
    """Wanted pixels (B, H, W) bool, or None for all -> the summed-area table of the wanted tiles,
    (B or 1, tiles_y + 1, tiles_x + 1) int32: entry [y, x] counts wanted tiles above and left of (y, x)."""
    tiles_x = -(-width // tile_size)
    tiles_y = -(-height // tile_size)
    if only is None:
        tiles = np.ones((1, tiles_y, tiles_x), bool)
    else:
        pad = np.zeros((only.shape[0], tiles_y * tile_size, tiles_x * tile_size), bool)
        pad[:, :height, :width] = only
        tiles = pad.reshape(only.shape[0], tiles_y, tile_size, tiles_x, tile_size).any(axis=(2, 4))
    sat = np.zeros((tiles.shape[0], tiles_y + 1, tiles_x + 1), np.int32)
    sat[:, 1:, 1:] = tiles.cumsum(axis=1, dtype=np.int32).cumsum(axis=2, dtype=np.int32)
    return sat


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
def _raster_frames(n_frames, offsets, ids, srec, width, height, tile_size, tiles_x, tiles_y, filter_lists,
                   background, out_colors, out_alphas):
    """One prange iteration per (frame, tile); out_colors (B, H, W, Dp), out_alphas (B, H, W).

    background: (Dp,) float32 composited under the colours, or (0,) for none.

    offsets, ids, srec: :func:`_prepare`'s tile lists and sorted records. Tiles differ a lot in cost
    (the face against the background): the caller sets a small parallel chunk size so threads take
    tiles dynamically, in image order (``_TILE_CHUNK``). Each pixel is computed by one thread, so
    results do not depend on the schedule.
    """
    n_tiles = tiles_x * tiles_y
    for f in prange(n_frames * n_tiles):
        b = f // n_tiles
        t = f - b * n_tiles
        _raster_tile(t, offsets[b], ids, srec, width, height, tile_size, tiles_x, filter_lists, background,
                     out_colors[b], out_alphas[b])


# A numba kernel, kept whole on purpose: splitting its per-pixel loop into calls costs speed in the kernel.
@njit(cache=True)
def _raster_tile(t, offsets, ids, srec, width, height, tile_size, tiles_x, filter_lists, background,
                 out_colors, out_alphas):
    """Tile ``t`` of one frame: 4 x 4 pixel blocks processed as 16 SIMD lanes.

    Each lane (pixel) follows the kernel's per-pixel recurrence exactly; a lane that has stopped is
    masked out and the block ends when all its lanes have stopped. A block walks its tile's list in
    order; with ``filter_lists`` it keeps only the splats whose "alpha could reach 1/255" box
    (its record's spans: the pixel columns and rows whose centres its ellipse's bounding box can reach) meets
    the block: a splat left out would be skipped at every pixel of the block by the kernel's own
    tests, so nothing changes.
    (A plain function, not inlined into the prange body, so LLVM optimises its loops alone.)
    """
    n_ch = -(-out_colors.shape[2] // 4) * 4  # channels 0-3 ride in the lane loop
    nb = (tile_size + _BS - 1) // _BS
    start = offsets[t]
    end = offsets[t + 1]
    y0 = (t // tiles_x) * tile_size
    x0 = (t % tiles_x) * tile_size
    y_end = min(y0 + tile_size, height)
    x_end = min(x0 + tile_size, width)
    if start == end:  # nothing here: colour 0, T = 1
        for iy in range(y0, y_end):
            for ix in range(x0, x_end):
                _write_pixel(out_colors, out_alphas, iy, ix, _ONE, background, None, 0)
        return

    # The tile's records copied into one contiguous local array (gsplat stages them in shared
    # memory): read once from the depth-sorted cloud, then hot for every block. Per-block lists
    # (rows of rec), in the tile's depth order: block j (along x) holds the tile's pixel columns
    # j BS ... j BS + BS - 1; a splat goes to the blocks that hold one of its span's columns and
    # one of its rows. Integer work only: the float64 box arithmetic is done once per splat in
    # _splat_records (it cost ~25 % of the raster when done here per intersection).
    n_t = end - start
    n_rec = srec.shape[1]
    rec = np.empty((n_t, n_rec), np.float32)
    for k in range(n_t):  # independent loads only, so many cache misses are in flight at once
        i = ids[start + k]
        for c in range(n_rec):
            rec[k, c] = srec[i, c]
    lists = np.empty((nb * nb, n_t), np.int32)
    counts = np.zeros(nb * nb, np.int64)
    last = nb * _BS - 1
    for k in range(n_t):
        jx0, jx1, jy0, jy1 = 0, nb - 1, 0, nb - 1
        if filter_lists:
            jx0 = min(max(np.int64(rec[k, _SP]) - x0, 0), last + 1) // _BS
            jx1 = min(np.int64(rec[k, _SP + 1]) - x0, last)
            jx1 = jx1 // _BS if jx1 >= 0 else -1
            jy0 = min(max(np.int64(rec[k, _SP + 2]) - y0, 0), last + 1) // _BS
            jy1 = min(np.int64(rec[k, _SP + 3]) - y0, last)
            jy1 = jy1 // _BS if jy1 >= 0 else -1
        for jy in range(jy0, jy1 + 1):
            for jx in range(jx0, jx1 + 1):
                b = jy * nb + jx
                lists[b, counts[b]] = k
                counts[b] += 1

    # Lane state in ONE flat scratch array at fixed offsets, so LLVM can prove the rows disjoint
    # and vectorise the lane loop at full width (float data only):
    # [pixel x | pixel y | T | done | vis | acc channel 0 | acc channel 1 | ...].
    # Colours are padded to a multiple of 4 channels; channels 0-3 ride in the lane loop itself.
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
            mxk = rec[k, 0]
            myk = rec[k, 1]
            cak = rec[k, 2]
            cbk = rec[k, 3]
            cck = rec[k, 4]
            opk = rec[k, 5]
            cutk = rec[k, 6]
            c0 = rec[k, _REC]
            c1 = rec[k, _REC + 1]
            c2 = rec[k, _REC + 2]
            c3 = rec[k, _REC + 3]
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
                col = rec[k, _REC + c]
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
                _write_pixel(out_colors, out_alphas, iy, ix, st[_T + lane], background, st, _ACC + lane)


@njit(cache=True, inline="always")
def _write_pixel(out_colors, out_alphas, iy, ix, t_final, background, st, acc):
    """alpha = 1 - T; colour = acc (``st[acc + c * _LANES]``, or 0 when ``st`` is None), plus
    ``(1 - alpha) * background`` when one is given: float32, in the order of ``render/api.py``'s
    numpy composite ``c + (1 - a) * bg`` (so the same bits; 1 - (1 - T) is not always T)."""
    alpha = _ONE - t_final
    out_alphas[iy, ix] = alpha
    w = _ONE - alpha
    for c in range(out_colors.shape[2]):
        v = _ZERO if st is None else st[acc + c * _LANES]
        if background.shape[0] > 0:
            v = v + w * background[c]
        out_colors[iy, ix, c] = v


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
    if rows is None and all_finite(arr):
        return  # the common case, without building row masks
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


def _frames_float32(source: str, field: str, x: Any, n_frames: int, n: int, tail: tuple[int | None, ...],
                    text: str) -> np.ndarray:
    """A per-frame input as float32 (Bx, N, *tail) with Bx = 1 when it is shared by all frames.

    Accepts (N, *tail) (shared), (1, N, *tail) and (B, N, *tail); a (B, ...) array or tensor whose
    frames are one row repeated by a zero stride (``torch.expand``, ``np.broadcast_to``) counts as
    shared, so it is converted, validated and used once.
    """
    arr = _to_numpy(x)
    if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        raise InputError(source, field, "a real-valued array", f"dtype {arr.dtype}")
    if arr.ndim == len(tail) + 1:
        arr = arr[None]
    ok = (arr.ndim == len(tail) + 2 and arr.shape[0] in (1, n_frames) and arr.shape[1] == n
          and all(s is None or s == a for s, a in zip(tail, arr.shape[2:])))
    if not ok:
        raise InputError(source, field, text, f"shape {tuple(arr.shape)}")
    if arr.shape[0] > 1 and arr.strides[0] == 0:
        arr = arr[:1]
    arr = np.ascontiguousarray(arr, dtype=np.float32)
    _check_finite(source, field, arr.reshape(arr.shape[0] * arr.shape[1], -1) if arr.size else arr)
    return arr


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
    (``projection.project`` computes the same per splat, in numba, for the world-space path.)
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
    """Validated, contiguous float32/int32 inputs of one frame -> (colors, alpha).

    Only splats with ``valid`` are drawn. ``filter_lists=False`` walks every tile's whole list at
    every pixel (as the CUDA kernel does); the result is the same bit for bit (tests check it).
    """
    cuts, half_x, half_y = _footprints(opa, con)
    rad = np.where(valid[:, None], rad, 0).astype(np.int32)
    c, a = _raster_batch(m2[None], con[None], opa[None], col[None], dep[None], rad[None], cuts[None],
                         half_x[None], half_y[None], width, height, tile_size, filter_lists)
    return c[0], a[0]


def _raster_batch(m2: np.ndarray, con: np.ndarray, opa: np.ndarray, col: np.ndarray, dep: np.ndarray,
                  rad: np.ndarray, cuts: np.ndarray, half_x: np.ndarray, half_y: np.ndarray, width: int,
                  height: int, tile_size: int = TILE_SIZE, filter_lists: bool = True,
                  background: np.ndarray | None = None, only: np.ndarray | None = None,
                  per_frame: bool | None = None) -> tuple[np.ndarray, np.ndarray]:
    """B projected frames -> colors (B, H, W, D), alpha (B, H, W). No validation (callers do it).

    m2 (B, N, 2), con (B, N, 3), dep (B, N), rad (B, N, 2) int32, cuts (B, N) float32,
    half_x/half_y (B, N) float64, all C-contiguous; opa (Bo, N) and col (Bc, N, D) with Bo, Bc in
    (1, B), 1 meaning shared by all frames; background (D,) float32 or None; only (B, H, W) bool
    or None: the pixels wanted. Only the tiles holding one are rendered (bit for bit as in the
    full render); every other pixel reads as empty (alpha 0, colour = background or 0).
    per_frame: one thread per frame (:func:`_render_frames`) or every stage parallel over splats, parts
    and tiles (:func:`_prepare`, :func:`_raster_frames`); None picks the first when there are at least
    two frames per thread, and a batch past ``_SHARED_ROWS_MAX`` frames x splats always takes it. The
    two give the same bits (tests force each).
    """
    n_b = m2.shape[0]
    n_ch = col.shape[2]
    n_pad = -(-n_ch // 4) * 4  # the kernel handles channels 0-3 in its lane loop
    if n_pad != n_ch:
        col = np.concatenate([col, np.zeros(col.shape[:2] + (n_pad - n_ch,), np.float32)], axis=2)
    tiles_x = -(-width // tile_size)
    tiles_y = -(-height // tile_size)
    out_c = np.empty((n_b, height, width, n_ch), np.float32)  # every pixel is written
    out_a = np.empty((n_b, height, width), np.float32)
    bg = np.zeros(0, np.float32)
    if background is not None:
        bg = np.zeros(n_pad, np.float32)
        bg[:n_ch] = background

    global _jit_ready
    t0 = time.perf_counter()
    tile_sat = _tile_sat(only, width, height, tile_size)
    if per_frame is None:
        per_frame = n_b >= 2 * numba.get_num_threads()
    # The shared schedule numbers every frame's drawn splats in one int32 range; a batch past it
    # goes frame by frame, whose positions restart at 0 for each frame.
    per_frame = per_frame or n_b * m2.shape[1] > _SHARED_ROWS_MAX
    if per_frame:
        # Frames enough to keep every thread busy: each frame binned and rasterised by one thread.
        _render_frames(m2, con, opa, col, dep, rad, cuts, half_x, half_y, tile_size, tiles_x, tiles_y, tile_sat,
                       width, height, filter_lists, bg, out_c, out_a)
    else:
        # Few frames: bin in parallel parts of the depth order, then share the tiles out over the threads.
        ws = _workspaces
        offsets, ids, srec, need_f32, need_i32 = _prepare(
            m2, con, opa, col, dep, rad, cuts, half_x, half_y, tile_size, tiles_x, tiles_y, tile_sat,
            _SPLIT * numba.get_num_threads(), ws.f32, ws.i32)
        ws.grow(need_f32, need_i32)
        # Dynamic schedule in small chunks: numba otherwise gives each thread one contiguous range of
        # tiles, and the face's tiles cost far more than the background's (2 threads: up to 1.3x
        # imbalance). A golden-ratio permutation of the tiles balanced them too but lost the cache
        # reuse between neighbouring tiles (-20 % on one thread). Set from Python: inside the kernel
        # it would stop numba caching the kernel to disk.
        prev_chunk = numba.set_parallel_chunksize(_TILE_CHUNK)
        try:
            _raster_frames(n_b, offsets, ids, srec, width, height, tile_size, tiles_x, tiles_y, filter_lists,
                           bg, out_c, out_a)
        finally:
            numba.set_parallel_chunksize(prev_chunk)
    if not _jit_ready:
        _jit_ready = True
        log.info("cpu_raster: first call %.2f s (numba compile, or load from its on-disk cache)",
                 time.perf_counter() - t0)
    return out_c, out_a


@njit(cache=True)
def _first_zero_quat(q):
    """First row of q (M, 4) float32 whose squared norm is 0 in float32 (so it cannot be
    normalised), or -1: np.linalg.norm(q, axis=-1) > 0 row by row, without its temporaries."""
    for i in range(q.shape[0]):
        if not (q[i, 0] * q[i, 0] > 0 or q[i, 1] * q[i, 1] > 0 or q[i, 2] * q[i, 2] > 0 or q[i, 3] * q[i, 3] > 0):
            return i
    return -1


class _Workspace(threading.local):
    """The calling thread's buffers for :func:`_prepare`'s large arrays, kept between calls.

    500k splats need ~90 MB a call; freshly allocated, glibc maps such arrays anew every time and
    the page faults cost as much as the binning itself (2 threads: 45-120 ms against 25-30 ms
    reused, measured). Grown to the largest call so far (up to ``_WORKSPACE_MAX`` bytes; a larger
    call allocates its own); one per Python thread, so concurrent calls never share one.
    """

    def __init__(self) -> None:
        self.f32 = np.empty(0, np.float32)
        self.i32 = np.empty(0, np.int32)

    def grow(self, need_f32: int, need_i32: int) -> None:
        if need_f32 > self.f32.size and 4 * (need_f32 + self.i32.size) <= _WORKSPACE_MAX:
            self.f32 = np.empty(need_f32, np.float32)
        if need_i32 > self.i32.size and 4 * (need_i32 + self.f32.size) <= _WORKSPACE_MAX:
            self.i32 = np.empty(need_i32, np.int32)


_WORKSPACE_MAX = 512 * 2**20
_workspaces = _Workspace()  # the calling thread's (threading.local)


def warmup() -> float:
    """Compile (or load from numba's on-disk cache) the kernels; returns the seconds it took."""
    t0 = time.perf_counter()
    rasterize_cpu(np.array([[4.0, 4.0]], np.float32), np.array([[1.0, 0.0, 1.0]], np.float32),
                  np.array([0.5], np.float32), np.ones((1, 3), np.float32), np.ones(1, np.float32),
                  np.array([[4, 4]], np.int32), 8, 8)
    rasterize_splats(np.array([[0.0, 0.0, 1.0]], np.float32), np.array([[1.0, 0.0, 0.0, 0.0]], np.float32),
                     np.full((1, 3), 0.1, np.float32), np.ones(1, np.float32), np.ones((1, 3), np.float32),
                     np.eye(4, dtype=np.float32), np.array([[8, 0, 4], [0, 8, 4], [0, 0, 1]], np.float32), 8, 8)
    return time.perf_counter() - t0


def rasterize_splats(means: Any, quats: Any, scales: Any, opacities: Any, colors: Any,
                     viewmat: Any, K: Any, width: int, height: int,
                     near_plane: float = gsplat_adapter.NEAR_PLANE,
                     far_plane: float = gsplat_adapter.FAR_PLANE) -> tuple[np.ndarray, np.ndarray]:
    """World-space splats through one pinhole camera: gsplat's EWA projection, then the rasteriser.

    Args (numpy arrays or torch tensors):
        means: (N, 3) world positions; quats: (N, 4) wxyz (normalised inside); scales: (N, 3)
        linear sigmas; opacities: (N,); colors: (N, D); viewmat: (4, 4) world-to-camera (OpenCV
        axes); K: (3, 3) intrinsics; width, height: pixels.

    Returns:
        colors (H, W, D) float32 without background, alpha (H, W) float32.

    The projection is :mod:`avatarcheck.render.projection` (numba), bit-identical to gsplat's torch
    code (eps2d 0.3, near/far planes, radius ceil(3.33 sigma)). One frame of
    :func:`rasterize_splats_batch`.
    """
    src = "rasterize_splats"
    m = _to_numpy(means)
    if m.ndim != 2:
        raise InputError(src, "means", "shape (N, 3)", f"shape {tuple(m.shape)}")
    c, a = _splats_batch(src, m[None], quats, scales, opacities, colors, viewmat, K, width, height,
                         near_plane, far_plane, None, single=True)
    return c[0], a[0]


def rasterize_splats_batch(means: Any, quats: Any, scales: Any, opacities: Any, colors: Any,
                           viewmat: Any, K: Any, width: int, height: int,
                           near_plane: float = gsplat_adapter.NEAR_PLANE,
                           far_plane: float = gsplat_adapter.FAR_PLANE,
                           covariances: Any = None, background: Any = None,
                           only: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """B frames of world-space splats through one camera in one call (parallel over frames and tiles).

    Args (numpy arrays or torch tensors; every per-splat input may be (B, N, ...), (1, N, ...) or
    (N, ...); the last two, and (B, ...) tensors expanded from one frame (zero stride, as
    ``SplatState.from_parts`` makes them), are treated as shared by all frames and processed once):
        means: (B, N, 3) world positions.
        quats: (B, N, 4) wxyz; scales: (B, N, 3) linear sigmas. Ignored when ``covariances`` is given.
        opacities: (B, N); colors: (B, N, D).
        viewmat: (4, 4) world-to-camera (OpenCV); K: (3, 3); width, height: pixels.
        covariances: optional (N, 6) or (B, N, 6) from ``projection.covariances(quats, scales)``:
            pass it to reuse covariances across calls when quats and scales do not change (LAM
            binding moves only the centres).
        background: optional (D,): composited in the kernel's last write as
            ``colour + (1 - alpha) * background`` in float32, the same bits as ``render/api.py``'s
            numpy composite, without its three full-image temporaries.
        only: optional (B, H, W) or (H, W) bool, the pixels the caller will read: only the 16-px
            tiles holding one are rendered (bit for bit as in the full image), and splats whose
            tile rectangle meets none of them are not sorted or binned. Every other pixel reads
            as empty: alpha 0, colour 0 (or the background).

    Returns:
        colors (B, H, W, D) float32 (without background unless one is given), alpha (B, H, W)
        float32; frame b is bit-identical to ``rasterize_splats`` on frame b's inputs.
    """
    m = _to_numpy(means)
    if m.ndim != 3:
        raise InputError("rasterize_splats_batch", "means", "shape (B, N, 3)", f"shape {tuple(m.shape)}")
    return _splats_batch("rasterize_splats_batch", m, quats, scales, opacities, colors, viewmat, K, width,
                         height, near_plane, far_plane, covariances, single=False, background=background, only=only)


def _splats_batch(src: str, means: np.ndarray, quats: Any, scales: Any, opacities: Any, colors: Any,
                  viewmat: Any, K: Any, width: int, height: int, near_plane: float, far_plane: float,
                  covs: Any, single: bool, background: Any = None,
                  only: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """Validate once, covariances (unless given), numba projection, rasteriser: (B, H, W, D), (B, H, W).

    ``single``: error messages use the one-frame shapes of :func:`rasterize_splats`.
    """
    width = _check_size(src, "width", width)
    height = _check_size(src, "height", height)
    if means.ndim != 3 or means.shape[2] != 3:
        raise InputError(src, "means", "shape (N, 3)" if single else "shape (B, N, 3)", f"shape {tuple(means.shape)}")
    n_b, n = means.shape[:2]
    lead = "" if single else "B, "

    def per_frame(field: str, x: Any, tail: tuple[int | None, ...], text: str) -> np.ndarray:
        return _frames_float32(src, field, x, n_b, n, tail, f"shape ({lead}{n}{text}")

    m = per_frame("means", means, (3,), ", 3)")
    if m.shape[0] != n_b:  # one frame's means expanded over B frames: still B frames out
        m = np.ascontiguousarray(np.broadcast_to(m, (n_b,) + m.shape[1:]))
    if covs is None:
        q = per_frame("quats", quats, (4,), ", 4) wxyz")
        s = per_frame("scales", scales, (3,), ", 3)")
    o = per_frame("opacities", opacities, (), ",)")
    c = per_frame("colors", colors, (None,), ", D) with D >= 1")
    if c.shape[2] < 1:
        raise InputError(src, "colors", f"shape ({lead}{n}, D) with D >= 1", f"shape {c.shape}")
    vm = _checked_float32(src, "viewmat", viewmat, (4, 4), "shape (4, 4)")
    k = _checked_float32(src, "K", K, (3, 3), "shape (3, 3)")
    _check_finite(src, "viewmat", vm)
    _check_finite(src, "K", k)
    bg = None
    if background is not None:
        bg = _checked_float32(src, "background", background, (c.shape[2],), f"shape ({c.shape[2]},)")
        _check_finite(src, "background", bg)
    if only is not None:
        only = _to_numpy(only)
        if only.ndim == 2:
            only = only[None]
        if only.dtype != np.bool_ or only.ndim != 3 or only.shape[0] not in (1, n_b) or only.shape[1:] != (height, width):
            raise InputError(src, "only", f"a bool array of shape ({n_b}, {height}, {width}) or ({height}, {width})",
                             f"{only.dtype} array of shape {tuple(only.shape)}")
        only = np.ascontiguousarray(np.broadcast_to(only, (n_b, height, width)))
    if covs is None:
        first = _first_zero_quat(q.reshape(-1, 4))
        if first >= 0:
            raise InputError(src, "quats", "non-zero quaternions", f"zero quaternion at row {first % n}")
        if q.shape[0] != s.shape[0]:  # one shared, the other per frame
            q, s = (np.ascontiguousarray(np.broadcast_to(a, (n_b,) + a.shape[1:])) for a in (q, s))
        cv = projection.covariances(q, s)
    else:
        cv = per_frame("covariances", covs, (6,), ", 6)")
    p = projection.project_batch(m, cv, o, vm, k, width, height, near_plane, far_plane)
    return _raster_batch(p.means2d, p.conics, o, c, p.depths, p.radii, p.cuts, p.half_x, p.half_y, width, height,
                         background=bg, only=only)


def num_threads() -> int:
    """numba's current thread count for the prange loops (the results do not depend on it)."""
    return numba.get_num_threads()
