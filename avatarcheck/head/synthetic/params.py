"""Parameters of the synthetic head (metres, radians). Frozen so a head is a pure function of them."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class SyntheticHeadParams:
    # Skull: an ellipsoid about the origin (y up, face towards +z), jaw tapered, neck column below.
    half_width: float = 0.074
    half_height: float = 0.138  # crown ~11 cm above the eye line, as on a real head (and FLAME)
    half_depth_front: float = 0.094
    half_depth_back: float = 0.102
    jaw_taper: float = 0.22  # relative narrowing of the lower face
    neck_radius: float = 0.047
    neck_bottom: float = -0.185
    mouth_y: float = -0.048  # height of the (closed) mouth line

    # Eyes: an eyeball sphere, and a concentric "lid sphere" the lids slide on (gap = lid_gap).
    eye_x: float = 0.031  # left eye at +x (subject's left), right eye mirrored
    eye_y: float = 0.026
    eyeball_radius: float = 0.012
    lid_gap: float = 0.0016
    eye_recess: float = 0.0025  # lid-sphere front sits this far behind the skull surface
    # Eye opening (almond) on the lid sphere, in the lid frame's angles (alpha across, beta up):
    # upper margin beta = open_up * s(alpha), lower = -open_down * s(alpha), s = 1 - (alpha/open_half_width)^2.
    open_half_width: float = 0.70
    open_up: float = 0.44
    open_down: float = 0.36
    # Where the lid sphere ends and the socket blends into the skull (elliptical radii, lid angles).
    lid_extent_across: float = 0.95
    lid_extent_up: float = 1.75
    lid_extent_down: float = 1.00
    blend_factor: float = 1.55  # blend zone ends at this multiple of the lid extent
    # Closure of a full blink: the upper lid passes the lower one by this angle at the centre.
    blink_overlap: float = 0.04
    upper_lid_share: float = 0.7  # share of the lower opening the upper lid travels

    # Sampling density.
    n_global: int = 2250  # skull points before the eye regions are cut out
    front_density: float = 1.3  # >1 concentrates skull points on the face
    neck_density: float = 1.3  # >1 concentrates skull points on the neck
    margin_spacing: float = 0.055  # lid-angle spacing of points at the eye opening
    ring_growth: float = 1.11  # spacing growth per ring away from the opening
    eyeball_rings: int = 21
    eyeball_segments: int = 24
    pupil_angle: float = 0.17  # polar angle (from the eye's front pole) of the pupil edge
    iris_angle: float = 0.38

    @property
    def lid_radius(self) -> float:
        return self.eyeball_radius + self.lid_gap
