"""Blink closure at mesh level: how much of the open eyeball the closed lids still leave visible.

A property of the avatar's rig (its blink blendshapes), not of any edit or splat: with the splats out
of the picture, the posed mesh is rasterised by triangle id from the gate's eye camera, and per eye
the eyeball's visible pixels at a closed-eye frame are divided by those at the open reference frame.
0 = the lid closes fully; LAM's template (the morph targets every OAC export carries) leaves 7-13 % of
its right eyeball visible at ``eyeBlinkRight = 1`` while the left closes.
"""

from __future__ import annotations

import hashlib

import numpy as np

from avatarcheck.avatar import Avatar
from avatarcheck.gate.evaluate import EYES, eyeball_face_eye
from avatarcheck.head.pose import Pose
from avatarcheck.render.camera import Camera
from avatarcheck.render.mesh_ids import triangle_ids_batch

# First 16 hex digits of the sha256 of the (52, 20018, 3) float32 ARKit basis (ARKIT_NAMES order) that three
# public OAC exports share: LAM's template. A head with this basis is named as LAM's template in reports.
LAM_TEMPLATE_BASIS = "4e1f246fc64a355a"
RIG_ROW = "eyeBlink = 1"    # the rig alone: both blink channels at 1, everything else at rest


def basis_digest(avatar: Avatar) -> str:
    """The first 16 hex digits of the sha256 of the subdivided ARKit basis (float32, C order)."""
    basis = np.ascontiguousarray(avatar.head_sub.arkit_basis, np.float32)
    return hashlib.sha256(basis.tobytes()).hexdigest()[:16]


def visible_eyeball_pixels(avatar: Avatar, pose: Pose, camera: Camera) -> np.ndarray:
    """(B, 2) int: per frame, the pixels where the posed mesh shows the left / right eyeball."""
    mesh = avatar.pose(pose).anchors.detach().cpu().numpy()
    ids = triangle_ids_batch(mesh, avatar.head_sub.faces, camera)
    eye_of = eyeball_face_eye(avatar)
    seen = np.where(ids >= 0, eye_of[np.maximum(ids, 0)], -1)
    return np.stack([(seen == k).sum(axis=(1, 2)) for k in range(len(EYES))], axis=1)


def closure_shares(avatar: Avatar, open_pose: Pose, closed: Pose, camera: Camera) -> np.ndarray:
    """(B, 2): visible eyeball at each closed frame over that at the open frame (``open_pose``, one frame),
    per eye; NaN where the open frame shows none of that eye."""
    ref = visible_eyeball_pixels(avatar, open_pose, camera)[0].astype(np.float64)
    now = visible_eyeball_pixels(avatar, closed, camera).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(ref > 0, now / np.maximum(ref, 1), np.nan)


def rig_name(avatar: Avatar) -> str:
    """Whose blink this is: LAM's template (the morph targets of every OAC export) or this avatar's own."""
    if basis_digest(avatar) == LAM_TEMPLATE_BASIS:
        return "LAM's template (the morph targets every OpenAvatarChat export carries)"
    return "this avatar's own blendshapes"


def closure_record(avatar: Avatar, camera: Camera, open_pose: Pose, closed: dict[str, Pose],
                   closure_max: float | None) -> dict:
    """The report's blink-closure finding: per row (the rig alone, then the take's closed frames), the share
    of each eyeball still visible; ``failed`` when a gate file's ``closure_max`` is exceeded."""
    from avatarcheck.arkit import arkit_index

    rest = np.zeros((1, 52), np.float32)
    blink = rest.copy()
    blink[0, [arkit_index("eyeBlinkLeft"), arkit_index("eyeBlinkRight")]] = 1.0
    rows = {RIG_ROW: closure_shares(avatar, Pose.of(rest), Pose.of(blink), camera)[0]}
    for name, pose in closed.items():
        rows[name] = closure_shares(avatar, open_pose, pose, camera)[0]
    shares = {name: {eye: (None if np.isnan(v[k]) else float(v[k])) for k, eye in enumerate(EYES)}
              for name, v in rows.items()}
    worst = max((x for r in shares.values() for x in r.values() if x is not None), default=0.0)
    return {"rig": rig_name(avatar), "shares": shares, "worst": worst, "closure_max": closure_max,
            "failed": closure_max is not None and worst > closure_max}
