"""Sharpness of a face region against the unedited avatar: what a uniform scale boost costs.

The LAM chibi recipe's diagnostic fix, ``LAM_CHIBI_SCALE_BOOST=1.5``, closes the blink by growing
every splat, and so blurs the whole face; the per-vertex ratio grows splats only where the mesh
stretched. The lid checks cannot see blur. This module measures it (pure functions over images):

* **region**: the lower face, away from the eyes: the head's ``face`` vertex set minus both
  ``eye_region_*`` sets, below the eyeball centres (cheeks, nose, mouth, chin). In a render it is
  the opaque pixels whose mesh triangle (triangle-ID raster) has all three vertices in the region,
  so every variant measures the same piece of surface, wherever the edit moved it.
* **gradient energy**: the sum over the region of the squared Sobel gradient magnitude of the
  luminance (scikit-image's ``sobel`` with the region as mask: pixels whose 3x3 window leaves the
  region do not count).
* **sharpness** = gradient energy of the variant / that of the reference (the unedited avatar),
  at the same take frame. A sum, not a mean: the Dirichlet energy of a 2-D image is unchanged by a
  uniform magnification (gradients scale by 1/m, area by m^2), so an edit that enlarges the region
  in the picture, with the splats grown by the same factor, keeps its sharpness; blur lowers it.
  The reference against itself is exactly 1; a variant sharper than the reference (splats that were
  not grown with the stretched skin) reads above 1.

The splat colours must carry detail at the splat spacing for this to mean anything: the embedded
avatar's do (``splats.texture``); smooth region colours have almost no gradient energy to lose.
"""

from __future__ import annotations

import numpy as np
from skimage.filters import sobel

from avatarcheck.errors import InputError
from avatarcheck.head.model import HeadModel

REGION_SETS = ("face", "eye_region_left", "eye_region_right", "eyeball_left", "eyeball_right")
LUMA = np.array([0.299, 0.587, 0.114])   # Rec. 601


def face_region(head: HeadModel) -> np.ndarray:
    """(V,) bool: the lower-face vertices of ``head`` (the sets in ``REGION_SETS`` must exist)."""
    sets = head.vertex_sets
    missing = [s for s in REGION_SETS if s not in sets]
    if missing:
        raise InputError(head.name, "vertex_sets", f"the sets {list(REGION_SETS)} (the sharpness check's face "
                         "region: face minus the eye regions, below the eyeballs)", f"no {missing}")
    v = head.v_template
    region = np.zeros(head.num_vertices, bool)
    region[sets["face"]] = True
    region[np.concatenate([sets["eye_region_left"], sets["eye_region_right"]])] = False
    eye_y = min(float(v[sets[f"eyeball_{side}"], 1].mean()) for side in ("left", "right"))
    return region & (v[:, 1] < eye_y)


def region_pixels(triangle_ids: np.ndarray, region_faces: np.ndarray, alpha: np.ndarray,
                  opaque: float = 0.99) -> np.ndarray:
    """(H, W) bool: pixels that see a region triangle and are opaque.

    triangle_ids (H, W) int (-1: no triangle); region_faces (F,) bool; alpha (H, W) of the splat render
    (silhouette pixels blend in the background and would count as detail).
    """
    ids = np.asarray(triangle_ids)
    return (ids >= 0) & np.asarray(region_faces, bool)[np.maximum(ids, 0)] & (np.asarray(alpha) > opaque)


def luminance(rgb: np.ndarray) -> np.ndarray:
    """(H, W, 3) -> (H, W) float64 luma."""
    return np.asarray(rgb, np.float64) @ LUMA


def gradient_energy(image: np.ndarray, mask: np.ndarray) -> float:
    """Sum of squared Sobel gradient magnitudes of ``image`` (H, W) over ``mask`` (H, W) bool (pixels
    whose 3x3 window leaves the mask excluded)."""
    return float(np.square(sobel(np.asarray(image, np.float64), mask=np.asarray(mask, bool))).sum())


def sharpness(energy: float, reference_energy: float) -> float:
    """Gradient energy relative to the reference's (1 = as sharp as the unedited avatar)."""
    if not reference_energy > 0.0:
        raise InputError("sharpness", "reference gradient energy",
                         "a face region with detail (> 0) in the reference render", repr(reference_energy))
    return energy / reference_energy
