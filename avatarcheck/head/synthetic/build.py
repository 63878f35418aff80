"""Assemble the synthetic head into a ``HeadModel`` (FLAME layout, deterministic, cached)."""

from __future__ import annotations

import functools

import numpy as np

from avatarcheck.arkit import arkit_index
from avatarcheck.head.model import FLAME_PARENTS, HeadModel
from avatarcheck.head.synthetic.blendshapes import arkit_blendshapes, upper_lid_side
from avatarcheck.head.synthetic.eyes import eye_frame, eyeball_mesh
from avatarcheck.head.synthetic.fields import jaw_weight
from avatarcheck.head.synthetic.identity import identity_shapedirs
from avatarcheck.head.synthetic.params import SyntheticHeadParams
from avatarcheck.head.synthetic.rig import build_rig, joint_positions
from avatarcheck.head.synthetic.skin import build_skin

SIDES = ("left", "right")


@functools.lru_cache(maxsize=4)
def synthetic_head(params: SyntheticHeadParams | None = None) -> HeadModel:
    """The embedded default avatar: a FLAME-layout head generated from ``params``.

    Vertex order: skin, then the left eyeball, then the right eyeball. Cached: the same params
    give the same (read-only) arrays.
    """
    p = params or SyntheticHeadParams()
    frames = [eye_frame(side, p) for side in SIDES]
    skin = build_skin(p, frames)
    n_skin = len(skin.vertices)

    verts, faces = [skin.vertices], [skin.faces]
    eye_ids, eye_polar, start = {}, {}, n_skin
    for f in frames:
        ev, ef, polar = eyeball_mesh(f.centre, p)
        verts.append(ev)
        faces.append(ef + start)
        eye_ids[f.side] = np.arange(start, start + len(ev))
        eye_polar[f.side] = polar
        start += len(ev)
    vertices = np.concatenate(verts)
    centres = {f.side: f.centre for f in frames}

    joints = joint_positions(p, (centres["left"], centres["right"]))
    J_reg, weights = build_rig(vertices, n_skin, (eye_ids["left"], eye_ids["right"]), joints, p)
    arkit = arkit_blendshapes(skin, len(vertices), centres, p)
    shapedirs = identity_shapedirs(vertices, skin.weight, eye_ids, centres, n_skin, p)

    sets: dict[str, np.ndarray] = {"skin": np.arange(n_skin)}
    for side in SIDES:
        ids, polar = eye_ids[side], eye_polar[side]
        sets[f"eyeball_{side}"] = ids
        sets[f"pupil_{side}"] = ids[polar <= p.pupil_angle + 1e-9]
        sets[f"iris_{side}"] = ids[(polar > p.pupil_angle + 1e-9) & (polar <= p.iris_angle + 1e-9)]
        sets[f"sclera_{side}"] = ids[polar > p.iris_angle + 1e-9]
        sets[f"eye_opening_{side}"] = skin.margin[side]
        blink = arkit[arkit_index(f"eyeBlink{side.capitalize()}"), :n_skin]
        moved = np.linalg.norm(blink, axis=1) > 1e-7
        a, b = np.nan_to_num(skin.alpha[side]), np.nan_to_num(skin.beta[side])
        upper = upper_lid_side(a, b, p)
        sets[f"lid_upper_{side}"] = np.nonzero(moved & upper)[0]
        sets[f"lid_lower_{side}"] = np.nonzero(moved & ~upper)[0]
        sets[f"eye_region_{side}"] = np.concatenate([np.nonzero(skin.weight[side] > 0)[0], ids])
    sv = skin.vertices
    sets["jaw"] = np.nonzero(jaw_weight(sv, p) > 0.5)[0]
    sets["neck"] = np.nonzero(sv[:, 1] < -0.105)[0]
    sets["face"] = np.nonzero((sv[:, 2] > 0.02) & (sv[:, 1] > p.mouth_y - 0.065) & (sv[:, 1] < p.eye_y + 0.055))[0]
    sets["lips"] = np.nonzero((np.abs(sv[:, 0]) < 0.03) & (np.abs(sv[:, 1] - p.mouth_y) < 0.012) & (sv[:, 2] > 0.05))[0]

    return HeadModel(
        v_template=vertices.astype(np.float32),
        faces=np.concatenate(faces).astype(np.int64),
        shapedirs=shapedirs,
        arkit_basis=arkit,
        J_regressor=J_reg.astype(np.float32),
        parents=FLAME_PARENTS.copy(),
        lbs_weights=weights.astype(np.float32),
        vertex_sets=sets,
        name="synthetic",
    )
