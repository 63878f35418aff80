"""The 52 ARKit blendshapes of the synthetic head as smooth displacement fields.

Eye channels slide the lids on the lid sphere (see ``eye_frame``): a lid point (alpha, beta)
moves to (alpha + d_alpha, beta + d_beta), scaled by the lid weight, so at weight 1 a blink is an
exact rotation about the eyeball centre and the closed lid stays in front of the eyeball. The
upper lid travels past the lower one (``blink_overlap``), so a full blink closes the opening.
Eyeballs never move here (the eye joints rotate them). All other channels are Gaussian regions
on the face with a physically sensible direction, and leave the lid spheres alone.
Left is the subject's left (+x); the synthetic head has no tongue, so tongueOut parts the lips.
"""

from __future__ import annotations

import numpy as np

from avatarcheck.arkit import ARKIT_NAMES, arkit_index
from avatarcheck.head.synthetic.eye_frame import lid_point, opening_margins, opening_profile
from avatarcheck.head.synthetic.fields import gaussian, jaw_weight, smoothstep
from avatarcheck.head.synthetic.params import SyntheticHeadParams
from avatarcheck.head.synthetic.skin import SkinMesh
from avatarcheck.head.synthetic.skull import skull_front_z


def upper_lid_side(alpha: np.ndarray, beta: np.ndarray, p: SyntheticHeadParams) -> np.ndarray:
    """True for lid-frame points above the opening's mid line (the upper lid's side)."""
    up, lo = opening_margins(alpha, p)
    return beta > 0.5 * (up + lo)


def lid_motion(skin: SkinMesh, side: str, p: SyntheticHeadParams, centre: np.ndarray,
               d_beta_upper: float, d_beta_lower: float, d_alpha: float = 0.0) -> np.ndarray:
    """Displacement (N_skin, 3) sliding one eye's lids on the lid sphere.

    d_beta_* are the lid rotations at the opening's centre (rad, + = up), scaled by the opening
    profile s(alpha) so the corners stay put; d_alpha shifts both lids sideways.
    """
    a, b, w = skin.alpha[side], skin.beta[side], skin.weight[side]
    valid = w > 0
    a0, b0 = np.where(valid, a, 0.0), np.where(valid, b, 0.0)
    s = opening_profile(a0, p)
    d_beta = np.where(upper_lid_side(a0, b0, p), d_beta_upper, d_beta_lower) * s
    moved = lid_point(centre, p.lid_radius, a0 + d_alpha * s, b0 + d_beta)
    rest = lid_point(centre, p.lid_radius, a0, b0)
    return np.where(valid[:, None], w[:, None] * (moved - rest), 0.0)


def blink_travel(p: SyntheticHeadParams) -> tuple[float, float]:
    """(upper, lower) lid rotation of a full blink at the opening centre, both as magnitudes.

    Upper margin: open_up - upper; lower margin: -open_down + lower. They cross by blink_overlap.
    """
    upper = p.open_up + p.upper_lid_share * p.open_down + 0.5 * p.blink_overlap
    lower = (1.0 - p.upper_lid_share) * p.open_down + 0.5 * p.blink_overlap
    return upper, lower


class _Shapes:
    """The (52, n_total, 3) displacement table being filled; rows beyond the skin (eyeballs) stay zero.

    ``region`` is a Gaussian bump on the face (N_skin,) that leaves the lid spheres alone (their
    weight masks it out)."""

    def __init__(self, skin: SkinMesh, n_total: int, p: SyntheticHeadParams) -> None:
        self.v, self.p = skin.vertices, p
        self.out = np.zeros((len(ARKIT_NAMES), n_total, 3))
        self.free = (1.0 - skin.weight["left"]) * (1.0 - skin.weight["right"])

    def put(self, name: str, disp: np.ndarray) -> None:
        self.out[arkit_index(name), :len(self.v)] += disp

    def put_region(self, name: str, weight: np.ndarray, direction) -> None:
        self.put(name, weight[:, None] * np.asarray(direction, float))

    def region(self, centre_xy, radii) -> np.ndarray:
        x, y = centre_xy
        return gaussian(self.v, (x, y, skull_front_z(x, y, self.p)), radii) * self.free


def arkit_blendshapes(skin: SkinMesh, n_total: int, eye_centres: dict[str, np.ndarray],
                      p: SyntheticHeadParams) -> np.ndarray:
    """(52, n_total, 3) float32 displacements; rows beyond the skin (eyeballs) stay zero."""
    shapes = _Shapes(skin, n_total, p)
    _eye_shapes(shapes, skin, eye_centres, p)
    # Everything below leaves the lid spheres alone (their weight masks it out).
    upper_lip = shapes.region((0.0, p.mouth_y + 0.006), (0.024, 0.0055, 0.015))
    lower_lip = shapes.region((0.0, p.mouth_y - 0.007), (0.024, 0.0065, 0.015))
    _jaw_and_lip_shapes(shapes, upper_lip, lower_lip)
    _sided_face_shapes(shapes, upper_lip, lower_lip)
    _centre_face_shapes(shapes)
    return shapes.out.astype(np.float32)


def _eye_shapes(shapes: _Shapes, skin: SkinMesh, eye_centres: dict[str, np.ndarray], p: SyntheticHeadParams) -> None:
    """The eye channels: each slides one eye's lids on its lid sphere (``lid_motion``)."""
    up_travel, lo_travel = blink_travel(p)
    for side, sfx, inward in (("left", "Left", -1.0), ("right", "Right", 1.0)):
        c = eye_centres[side]
        shapes.put(f"eyeBlink{sfx}", lid_motion(skin, side, p, c, -up_travel, +lo_travel))
        shapes.put(f"eyeWide{sfx}", lid_motion(skin, side, p, c, +0.16, -0.04))
        shapes.put(f"eyeSquint{sfx}", lid_motion(skin, side, p, c, -0.08, +0.13))
        shapes.put(f"eyeLookDown{sfx}", lid_motion(skin, side, p, c, -0.16, -0.07))
        shapes.put(f"eyeLookUp{sfx}", lid_motion(skin, side, p, c, +0.10, +0.05))
        shapes.put(f"eyeLookIn{sfx}", lid_motion(skin, side, p, c, 0.0, 0.0, d_alpha=0.08 * inward))
        shapes.put(f"eyeLookOut{sfx}", lid_motion(skin, side, p, c, 0.0, 0.0, d_alpha=-0.08 * inward))


def _jaw_and_lip_shapes(shapes: _Shapes, upper_lip: np.ndarray, lower_lip: np.ndarray) -> None:
    """Jaw channels (open rotates the jaw region about the hinge's x axis: chin down and back) and the
    unsided mouth channels; lips (N_skin,) are the lip regions' weights."""
    v, put, put_region = shapes.v, shapes.put, shapes.put_region
    n = len(v)
    lips = upper_lip + lower_lip
    jaw = jaw_weight(v, shapes.p) * shapes.free
    hinge = np.array([0.0, -0.022, -0.014])
    ang = 0.21
    rot = np.array([[1, 0, 0], [0, np.cos(ang), -np.sin(ang)], [0, np.sin(ang), np.cos(ang)]])
    put("jawOpen", jaw[:, None] * ((v - hinge) @ rot.T + hinge - v))
    put_region("jawForward", jaw, (0.0, 0.0, 0.006))
    put_region("jawLeft", jaw, (0.006, 0.0, 0.0))
    put_region("jawRight", jaw, (-0.006, 0.0, 0.0))

    put("mouthClose", upper_lip[:, None] * [0.0, -0.002, 0.0] + lower_lip[:, None] * [0.0, 0.006, 0.002])
    put("mouthFunnel", lips[:, None] * [0.0, 0.0, 0.006]
        + upper_lip[:, None] * [0.0, 0.002, 0.0] + lower_lip[:, None] * [0.0, -0.003, 0.0])
    pucker = lips[:, None] * np.stack([-0.3 * v[:, 0], np.zeros(n), np.full(n, 0.007)], axis=1)
    put("mouthPucker", pucker)
    put_region("mouthLeft", lips, (0.007, 0.0, 0.0))
    put_region("mouthRight", lips, (-0.007, 0.0, 0.0))
    put_region("mouthRollLower", lower_lip, (0.0, 0.002, -0.004))
    put_region("mouthRollUpper", upper_lip, (0.0, -0.002, -0.004))
    put_region("mouthShrugLower", lower_lip + 0.5 * jaw, (0.0, 0.004, 0.002))
    put_region("mouthShrugUpper", upper_lip, (0.0, 0.003, 0.001))
    put_region("tongueOut", lower_lip, (0.0, -0.002, 0.002))


def _sided_face_shapes(shapes: _Shapes, upper_lip: np.ndarray, lower_lip: np.ndarray) -> None:
    """The Left / Right channels of mouth corners, lips, brows, cheeks and nose (left is +x)."""
    v, p, region, put, put_region = shapes.v, shapes.p, shapes.region, shapes.put, shapes.put_region
    left_half = smoothstep(v[:, 0], -0.006, 0.010)
    right_half = smoothstep(-v[:, 0], -0.006, 0.010)
    for sfx, sign, half in (("Left", 1.0, left_half), ("Right", -1.0, right_half)):
        corner = region((sign * 0.025, p.mouth_y), (0.012, 0.010, 0.012))
        put_region(f"mouthSmile{sfx}", corner, (sign * 0.004, 0.006, -0.002))
        put_region(f"mouthFrown{sfx}", corner, (0.0, -0.005, 0.0))
        put_region(f"mouthDimple{sfx}", corner, (sign * 0.003, 0.0, -0.003))
        put_region(f"mouthStretch{sfx}", corner, (sign * 0.006, -0.002, -0.001))
        put(f"mouthPress{sfx}", (half * upper_lip)[:, None] * [0.0, -0.0015, 0.0]
            + (half * lower_lip)[:, None] * [0.0, 0.0015, 0.0])
        put_region(f"mouthLowerDown{sfx}", half * lower_lip, (0.0, -0.005, 0.0))
        put_region(f"mouthUpperUp{sfx}", half * upper_lip, (0.0, 0.005, 0.0))
        brow = region((sign * 0.032, p.eye_y + 0.024), (0.022, 0.009, 0.015))
        put_region(f"browDown{sfx}", brow, (-sign * 0.002, -0.005, 0.001))
        put_region(f"browOuterUp{sfx}", region((sign * 0.046, p.eye_y + 0.021), (0.013, 0.009, 0.015)),
                   (0.0, 0.006, 0.0))
        put_region(f"cheekSquint{sfx}", region((sign * 0.040, p.eye_y - 0.030), (0.015, 0.010, 0.015)),
                   (0.0, 0.004, 0.001))
        put_region(f"noseSneer{sfx}", region((sign * 0.011, -0.008), (0.009, 0.012, 0.012)),
                   (sign * 0.001, 0.003, 0.0))


def _centre_face_shapes(shapes: _Shapes) -> None:
    """browInnerUp (both inner brows) and cheekPuff (both cheeks, outwards from the y axis)."""
    v, p, region = shapes.v, shapes.p, shapes.region
    n = len(v)
    inner_brows = region((0.013, p.eye_y + 0.026), (0.011, 0.009, 0.015)) + region(
        (-0.013, p.eye_y + 0.026), (0.011, 0.009, 0.015))
    shapes.put_region("browInnerUp", inner_brows, (0.0, 0.006, 0.0))
    my = p.mouth_y
    cheeks = region((0.046, my + 0.012), (0.018, 0.018, 0.02)) + region((-0.046, my + 0.012), (0.018, 0.018, 0.02))
    outward = np.stack([v[:, 0], np.zeros(n), v[:, 2]], axis=1)
    outward /= np.maximum(np.linalg.norm(outward, axis=1, keepdims=True), 1e-9)
    shapes.put("cheekPuff", cheeks[:, None] * outward * 0.007)
