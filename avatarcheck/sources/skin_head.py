"""A head model from a subdivided mesh with ARKit morph targets (LAM's ``skin.glb``), no FLAME file needed.

What LAM's OpenAvatarChat export carries (facts in the module docstring of ``sources/oac.py``) is enough to
build every array the harness uses:

- **mesh**: the coarse FLAME mesh is recovered from the subdivided one and checked by re-subdividing it
  (``head.subdivide.coarse_of_subdivided``): the first V vertices are FLAME's, the faces in pytorch3d order.
  An edited mesh (``edited``: vouched for by ``sources/edit_marker.py``) keeps the faces check, and its
  midpoints, which the edit moved off their edges, are used as written.
- **ARKit basis**: the morph targets matched to ARKit-52 by name (any case); a missing ``tongueOut`` is zero
  and named; any other missing channel is an error. The basis is kept on all subdivided vertices as the file
  gives it (``Avatar.basis_on_subdivided`` then tells edits to re-evaluate it there).
- **pose**: the head is posed rigidly about a neck joint; the file's skeleton is ignored (lid and eyeball
  vertices are >= 99.7 % on the head bone in LAM's rig and skinning at rest is the identity). Gaze is in the
  ``eyeLook*`` morph targets (they move the eyeballs), so the eye joints carry no weight.
- **vertex sets**: eyeballs are FLAME's vertex ranges on a 5023-vertex mesh, else the vertices the
  ``eyeLook*<Side>`` targets move; each must fit a sphere. Lids: non-eyeball vertices ``eyeBlink<Side>``
  moves more than ``LID_MIN_M`` (upper above the eye centre, lower below). Eye regions, face and neck are
  placed from the eye centres and their distance (module constants).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from avatarcheck.arkit import ARKIT_NAMES, NUM_ARKIT
from avatarcheck.errors import InputError
from avatarcheck.geometry.sphere import fit_sphere
from avatarcheck.head.model import FLAME_PARENTS, NUM_JOINTS, HeadModel
from avatarcheck.head.subdivide import SubdivisionTopology, coarse_of_subdivided, subdivision_topology

# FLAME's eyeball vertices (5023-vertex topology); "left" is the subject's left, +x.
FLAME_VERTICES = 5023
FLAME_EYEBALLS = {"left": (3931, 4477), "right": (4477, 5023)}
MAY_BE_ABSENT = ("tongueOut",)   # LAM's template has 51 targets: no tongue
MOVED_M = 1e-6                   # a vertex a target moves at all
LID_MIN_M = 1e-3                 # a lid vertex: moved this much by the full blink
SPHERE_SPREAD = 0.25             # eyeball: (p95 - p5) of centre distances over the median, at most
EYE_REGION_RADII = 2.0           # eye region: within this many eyeball radii of the eye centre
FACE_BELOW_EYES = 2.2            # face and neck: eye distances below the eye line where the chin ends
FACE_ABOVE_EYES = 1.0
FACE_HALF_WIDTH = 1.3
FACE_BEHIND_EYES = 1.0


@dataclasses.dataclass(frozen=True, eq=False)
class SkinHead:
    head: HeadModel                 # coarse (FLAME: 5023 vertices)
    head_sub: HeadModel             # subdivided (20018): the splat anchors, the file's basis
    topology: SubdivisionTopology
    notes: tuple[str, ...]


def arkit_basis_from_targets(names: tuple[str, ...], deltas: np.ndarray, source: str
                             ) -> tuple[np.ndarray, list[str]]:
    """Morph targets (T names, (T, V, 3) deltas) -> (52, V, 3) ARKit basis in ``ARKIT_NAMES`` order and notes.

    Matched by name in any case (Apple's ``eyeBlinkLeft``, Live Link Face's ``EyeBlinkLeft``). Absent
    ``MAY_BE_ABSENT`` channels are zero; other missing channels, duplicates and non-ARKit names are errors.
    """
    by_lower = {n.lower(): i for i, n in enumerate(ARKIT_NAMES)}
    basis = np.zeros((NUM_ARKIT, deltas.shape[1], 3), np.float32)
    seen: dict[int, str] = {}
    for t, name in enumerate(names):
        k = by_lower.get(name.lower())
        if k is None:
            raise InputError(source, f"targetNames[{t}]", "ARKit-52 blendshape names", repr(name))
        if k in seen:
            raise InputError(source, f"targetNames[{t}]", "each ARKit channel once",
                             f"{name!r} again (first as {seen[k]!r})")
        seen[k] = name
        basis[k] = deltas[t]
    missing = [n for i, n in enumerate(ARKIT_NAMES) if i not in seen]
    fatal = [n for n in missing if n not in MAY_BE_ABSENT]
    if fatal:
        raise InputError(source, "morph targets", f"the ARKit-52 channels (only {', '.join(MAY_BE_ABSENT)} may be "
                         "absent)", f"no {', '.join(fatal[:8])}" + (" ..." if len(fatal) > 8 else ""))
    notes = [f"{n} absent from the morph targets: zero (it moves nothing)" for n in missing]
    return basis, notes


def _moved(basis: np.ndarray, names: list[str], min_m: float) -> np.ndarray:
    """(V,) bool: vertices any of the named channels moves more than ``min_m``."""
    idx = [ARKIT_NAMES.index(n) for n in names]
    return (np.linalg.norm(basis[idx], axis=2) > min_m).any(axis=0)


def eyeball_sets(v: np.ndarray, basis: np.ndarray, source: str) -> dict[str, np.ndarray]:
    """Per side, the coarse eyeball vertices (module docstring), checked to be a sphere on that side."""
    out = {}
    for side in ("left", "right"):
        looks = [f"eyeLook{d}{side.capitalize()}" for d in ("In", "Out", "Up", "Down")]
        if len(v) == FLAME_VERTICES:
            ids = np.arange(*FLAME_EYEBALLS[side])
        else:
            ids = np.nonzero(_moved(basis, looks, MOVED_M))[0]
        if len(ids) < 8:
            raise InputError(source, f"eyeball_{side}", f"the eyeball vertices (FLAME's on {FLAME_VERTICES} "
                             f"vertices, else those {'/'.join(looks)} move)", f"{len(ids)} vertices")
        p = v[ids].astype(np.float64)
        c, _ = fit_sphere(p)
        d = np.linalg.norm(p - c, axis=1)
        spread = float((np.percentile(d, 95) - np.percentile(d, 5)) / max(np.median(d), 1e-12))
        if spread > SPHERE_SPREAD or (c[0] > 0) != (side == "left"):
            raise InputError(source, f"eyeball_{side}", f"a sphere on the subject's {side} (x {'>' if side == 'left' else '<'} 0)",
                             f"{len(ids)} vertices centred at x {c[0]:.4f} m, radius spread {spread:.2f}")
        out[side] = ids
    return out


def head_sets(v: np.ndarray, basis: np.ndarray, eyeballs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Every named vertex set the harness uses, from the eyeballs and the blink targets (module docstring)."""
    sets = {f"eyeball_{s}": ids for s, ids in eyeballs.items()}
    fits = {s: fit_sphere(v[ids]) for s, ids in eyeballs.items()}
    centres = {s: c for s, (c, _) in fits.items()}
    radius = {s: r for s, (_, r) in fits.items()}
    is_eyeball = np.zeros(len(v), bool)
    is_eyeball[np.concatenate(list(eyeballs.values()))] = True
    for s in ("left", "right"):
        lid = _moved(basis, [f"eyeBlink{s.capitalize()}"], LID_MIN_M) & ~is_eyeball
        above = v[:, 1] >= centres[s][1]
        sets[f"lid_upper_{s}"] = np.nonzero(lid & above)[0]
        sets[f"lid_lower_{s}"] = np.nonzero(lid & ~above)[0]
        sets[f"eye_region_{s}"] = np.nonzero(np.linalg.norm(v - centres[s], axis=1)
                                             < EYE_REGION_RADII * radius[s])[0]
    eye_y = 0.5 * (centres["left"][1] + centres["right"][1])
    eye_z = 0.5 * (centres["left"][2] + centres["right"][2])
    mid_x = 0.5 * (centres["left"][0] + centres["right"][0])
    d = float(np.linalg.norm(centres["left"] - centres["right"]))
    chin = eye_y - FACE_BELOW_EYES * d
    face = ((v[:, 1] > chin) & (v[:, 1] < eye_y + FACE_ABOVE_EYES * d) & (v[:, 2] > eye_z - FACE_BEHIND_EYES * d)
            & (np.abs(v[:, 0] - mid_x) < FACE_HALF_WIDTH * d) & ~is_eyeball)
    sets["face"] = np.nonzero(face)[0]
    sets["neck"] = np.nonzero(v[:, 1] < chin)[0]
    return sets


def rigid_rig(v: np.ndarray, sets: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(J_regressor (5, V), lbs_weights (V, 5)): every vertex on the global joint at the neck (a rigid head);
    neck and jaw joints there too, eye joints at the eyeball centres (unweighted: gaze is in the targets)."""
    n = len(v)
    neck = sets["neck"] if len(sets["neck"]) else np.argsort(v[:, 1])[: max(1, n // 20)]
    reg = np.zeros((NUM_JOINTS, n), np.float32)
    reg[:3, neck] = 1.0 / len(neck)
    for j, side in ((3, "left"), (4, "right")):
        reg[j, sets[f"eyeball_{side}"]] = 1.0 / len(sets[f"eyeball_{side}"])
    weights = np.zeros((n, NUM_JOINTS), np.float32)
    weights[:, 0] = 1.0
    return reg, weights


def with_exact_midpoints(positions: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """positions (V_sub, 3) with every vertex past the coarse ones moved to its edge's midpoint (as the faces'
    pytorch3d blocks say); unchanged when the faces are not such blocks (``coarse_of_subdivided`` says why)."""
    f = np.asarray(triangles)
    p = np.array(positions, np.float64)
    if f.ndim != 2 or f.shape[1] != 3 or len(f) == 0 or len(f) % 4:
        return p
    n_f = len(f) // 4
    coarse = np.stack([f[:n_f, 0], f[n_f:2 * n_f, 0], f[2 * n_f:3 * n_f, 0]], axis=1).astype(np.int64)
    n_v = int(coarse.max()) + 1
    if n_v >= len(p):
        return p
    topo = subdivision_topology(coarse, n_v)
    if topo.num_vertices_sub == len(p):
        p[n_v:] = 0.5 * (p[topo.edges[:, 0]] + p[topo.edges[:, 1]])
    return p


def coarse_of_mesh(positions: np.ndarray, triangles: np.ndarray, source: str, edited: bool = False
                   ) -> tuple[np.ndarray, SubdivisionTopology, float]:
    """(coarse faces (F, 3), topology, largest midpoint offset in metres) of a subdivided mesh (V_sub, 3).

    Unedited: ``coarse_of_subdivided``'s exact checks (offset 0). ``edited``: the faces are checked exactly
    and the midpoints are measured, not checked (an edit moves them off their edges)."""
    if not edited:
        faces, topo = coarse_of_subdivided(positions, triangles, source)
        return faces, topo, 0.0
    exact = with_exact_midpoints(positions, triangles)
    faces, topo = coarse_of_subdivided(exact, triangles, source)
    return faces, topo, float(np.linalg.norm(exact - np.asarray(positions, np.float64), axis=1).max())


SET_NAMES = ("eyeball_left", "eyeball_right", "lid_upper_left", "lid_lower_left", "eye_region_left",
             "lid_upper_right", "lid_lower_right", "eye_region_right", "face", "neck")  # what head_sets makes


def head_from_skin(positions: np.ndarray, triangles: np.ndarray, names: tuple[str, ...], deltas: np.ndarray,
                   source: str, name: str = "skin", edited: str | None = None,
                   marker: dict | None = None) -> SkinHead:
    """positions (V_sub, 3), triangles (4F, 3), T target names and deltas (T, V_sub, 3) -> ``SkinHead``.

    ``edited``: the mesh is an edit's (a line saying whose, for the notes): its midpoints are used as written,
    and the vertex sets ``marker`` (its ``avatarcheck_edit.json``) carries replace the derived ones."""
    from avatarcheck.head.subdivided import subdivide_head

    coarse_faces, topo, moved = coarse_of_mesh(positions, triangles, source, edited is not None)
    n = topo.num_vertices
    basis_sub, notes = arkit_basis_from_targets(names, np.asarray(deltas, np.float32), source)
    v = np.asarray(positions, np.float32)[:n]
    from avatarcheck.sources.edit_marker import carried_vertex_sets

    carried = carried_vertex_sets(marker, SET_NAMES, n, source)
    eyeballs = eyeball_sets(v, basis_sub[:, :n], source)  # checked to be spheres either way
    sets = head_sets(v, basis_sub[:, :n], eyeballs) if carried is None else carried
    reg, weights = rigid_rig(v, sets)
    head = HeadModel(v_template=v, faces=coarse_faces, shapedirs=np.zeros((n, 3, 0), np.float32),
                     arkit_basis=basis_sub[:, :n], J_regressor=reg, parents=FLAME_PARENTS.copy(),
                     lbs_weights=weights, vertex_sets=sets, name=name)
    head_sub, _ = subdivide_head(head)
    head_sub = head_sub.replace(v_template=np.asarray(positions, np.float32), arkit_basis=basis_sub)
    notes += ["head posed rigidly about the neck: the file's skeleton is ignored (LAM's lid and eyeball vertices "
              "are >= 99.7 % on its head bone); gaze comes from the eyeLook morph targets",
              f"eyeballs: {len(eyeballs['left'])} + {len(eyeballs['right'])} coarse vertices "
              + ("(FLAME's ranges)" if n == FLAME_VERTICES else "(moved by the eyeLook targets)")]
    if edited is not None:
        notes.append(f"{edited}: midpoints up to {moved * 1e3:.2f} mm off their edges, used as written"
                     + ("; vertex sets carried from the input (an edit keeps them)" if carried is not None else ""))
    return SkinHead(head, head_sub, topo, tuple(notes))
