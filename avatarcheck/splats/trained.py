"""A "trained-like" splat cloud for a head without LAM weights (the embedded default avatar).

It stands in for the network's output with the one property the LAM chibi recipe's failure depends on:
scales calibrated to the local mesh density, so neighbouring splats just saturate alpha on a
one-layer sheet (the lid in front of the eyeball). Each splat is a flattened disc in the
surface's tangent plane: tangent sigma = ``density_scale`` x mean incident edge length on the
subdivided mesh, normal sigma = ``normal_ratio`` x that. Offsets are zero (LAM's are small).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from avatarcheck.geometry.mesh import mean_incident_edge_length, vertex_normals
from avatarcheck.geometry.rotations import frame_from_normal, matrix_to_quat
from avatarcheck.head.model import HeadModel
from avatarcheck.splats.cloud import SplatCloud, label_code, rgb_to_sh

# Region colours (linear RGB in [0, 1]) for the default avatar.
PALETTE: dict[str, tuple[float, float, float]] = {
    "skin": (0.87, 0.72, 0.62),
    "lid": (0.84, 0.62, 0.56),
    "sclera": (0.95, 0.95, 0.92),
    "iris": (0.22, 0.45, 0.78),
    "pupil": (0.04, 0.04, 0.05),
}


@dataclasses.dataclass(frozen=True)
class TrainedCloudParams:
    # tangent sigma / mean incident edge length. 0.7 just saturates the one-layer lid at a full
    # blink in a 256 px eye camera (E max 0.07) and no longer does once a strength-2 chibi stretches
    # it without a scale pull-back (E max 0.20-0.22). Coverage is resolution-dependent (gsplat's
    # 0.3 px^2 blur fattens splats at low resolution): at 384 px the unedited lid seam shows too.
    density_scale: float = 0.7
    normal_ratio: float = 0.3  # normal sigma / tangent sigma
    opacity: float = 0.98
    max_scale: float = 0.01  # LAM clamps activated scales to 1 cm
    # Colours from a photo carry the capture's lighting; bake a soft key light so renders read.
    light_dir: tuple[float, float, float] = (0.35, 0.45, 1.0)
    ambient: float = 0.55


def region_colors(head: HeadModel) -> np.ndarray:
    """Per-vertex colours (V, 3) from the named vertex sets: skin, lids, sclera, iris, pupil."""
    rgb = np.tile(np.array(PALETTE["skin"], np.float32), (head.num_vertices, 1))
    for side in ("left", "right"):
        for key, region in ((f"lid_upper_{side}", "lid"), (f"lid_lower_{side}", "lid"),
                            (f"eyeball_{side}", "sclera"), (f"iris_{side}", "iris"), (f"pupil_{side}", "pupil")):
            if key in head.vertex_sets:
                rgb[head.vertex_sets[key]] = PALETTE[region]
    return rgb


def splat_labels(head_sub: HeadModel) -> np.ndarray:
    """(V_sub,) label codes: eyeball sets -> eyeball_left/right, lid sets -> lid, the rest skin."""
    labels = np.full(head_sub.num_vertices, label_code("skin"), np.uint8)
    for side in ("left", "right"):
        for key, label in ((f"lid_upper_{side}", "lid"), (f"lid_lower_{side}", "lid"),
                           (f"eyeball_{side}", f"eyeball_{side}")):
            if key in head_sub.vertex_sets:
                labels[head_sub.vertex_sets[key]] = label_code(label)
    return labels


def trained_like_cloud(head_sub: HeadModel, edges_sub: np.ndarray, rgb: np.ndarray,
                       params: TrainedCloudParams = TrainedCloudParams()) -> SplatCloud:
    """One splat per vertex of the subdivided head (V_sub = N).

    head_sub: the once-subdivided model (anchors = its template); edges_sub (E', 2) its edges;
    rgb (N, 3) colours (coarse ``region_colors`` carried through the subdivision, so boundary
    midpoints blend like LAM's averaged attributes).
    """
    v = head_sub.v_template
    n = head_sub.num_vertices
    tangent = params.density_scale * mean_incident_edge_length(v, edges_sub, head_sub.name)
    tangent = np.minimum(tangent, params.max_scale)
    scales = np.stack([tangent, tangent, params.normal_ratio * tangent], axis=1)
    normals = vertex_normals(v, head_sub.faces)
    quats = matrix_to_quat(frame_from_normal(torch.from_numpy(normals))).numpy()
    light = np.asarray(params.light_dir) / np.linalg.norm(params.light_dir)
    lit = params.ambient + (1 - params.ambient) * np.clip(normals @ light, 0.0, 1.0)
    return SplatCloud(
        offsets=np.zeros((n, 3), np.float32),
        scales=scales,
        quats=quats,
        opacities=np.full(n, params.opacity, np.float32),
        sh=rgb_to_sh(np.asarray(rgb) * lit[:, None]),
        labels=splat_labels(head_sub),
        source=f"trained_like_cloud({head_sub.name})",
    )
