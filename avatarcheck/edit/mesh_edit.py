"""Any sculpted edit: the override assets of an edited mesh of the avatar's topology (issue 14).

A user who sculpts the head in a DCC tool has no field D, only D's values at the vertices. The
deformation gradient is recovered per face from a tangent-plane fit (deformation transfer, Sumner &
Popovic 2004; the per-triangle Jacobians GaussianAvatars / SurFhead-style methods bind splats with)::

    V  = [e1, e2, n]    e1 = v1 - v0, e2 = v2 - v0 on the canonical face (columns)
    V' = [e1', e2', n'] the same on the edited face
    F  = V' V^-1        (3, 3): maps the canonical edges to the edited ones exactly

The normal column is the one thing a surface cannot see (how the edit stretches along the normal):
``normal="area"`` uses ``n = (e1 x e2) / sqrt(|e1 x e2|)``, so the normal stretches by the square root of
the face's area ratio (Sumner & Popovic's choice); ``normal="unit"`` keeps the normal's length (no stretch
across the surface). Per vertex, ``J`` is the canonical-area-weighted mean of its faces' ``F``.

``bake_mesh`` turns an edited mesh into ``EditAssets``: the mesh itself (coarse meshes are subdivided
the way LAM does), the scale ratio (``corrections.scale_ratio``), the Jacobians, and the ARKit basis.
With no field to evaluate at ``v + b_k``, ``MeshDeformation`` extends the edit to first order from the
nearest canonical vertex; ``basis="extend"`` (default) re-evaluates ``D(v + b_k) - D(v)`` through it,
``basis="linear"`` is ``J(v) b_k`` (like ``chibi.linearised_basis``). The local Jacobian alone is enough
for head-scale edits but not for local ones: a closing lid moves from the anime eye's falloff onto its
1.6x plateau, and ``J(v) b`` leaves it at the falloff's scale (anime-eyes gate, Jacobian variant: leak
max 0.82 with the linear basis, 0.04 extended, 0.03 on the analytic field). Measured against the
analytic route, tolerances in ``tests/test_edit_mesh.py``: the ratio is identical, the tangential part
of J agrees to 0.04 % (median) / 5 % (99th percentile), the basis to 5 % (relative norm).

A sculpt is checked before it binds (``mesh_deformation``) with the override layer's own limits, so a
bake never writes assets the renderer then refuses: units, extent, coordinates and mirroring on the
file's vertices, then the scale ratio and det / singular values of J (``edit.sculpt_checks``). Errors
name the OBJ and the file's own 1-based vertex numbers (an edge midpoint of a coarse file as the two
vertices it lies between). A few welded faces (a DCC merge) are bridged with a ``SculptWarning``: the
vertices they leave without a face take their neighbours' Jacobian (``sculpt_jacobians``).
"""

from __future__ import annotations

import dataclasses
import os
import warnings
from typing import TYPE_CHECKING

import numpy as np

from avatarcheck.edit.basis import reevaluate_basis
from avatarcheck.edit.corrections import scale_ratio
from avatarcheck.edit.interface import REQUIRED, EditAssets, EditKind
from avatarcheck.edit.rigid_eyes import rigid_eyeballs
from avatarcheck.edit.sculpt_checks import (LISTED, FileNumbering, check_sculpt_stretch, check_sculpt_vertices,
                                            count_vertices, sculpt_ratio)
from avatarcheck.errors import InputError

if TYPE_CHECKING:
    from avatarcheck.avatar import Avatar

NORMALS = ("area", "unit")
MESH_KIND = "mesh"


def _face_frames(vertices: np.ndarray, faces: np.ndarray, normal: str) -> tuple[np.ndarray, np.ndarray]:
    """(F, 3, 3) frames [e1, e2, n] as columns, and (F,) twice the face areas."""
    v = np.asarray(vertices, np.float64)
    e1 = v[faces[:, 1]] - v[faces[:, 0]]
    e2 = v[faces[:, 2]] - v[faces[:, 0]]
    cross = np.cross(e1, e2)
    double_area = np.linalg.norm(cross, axis=1)
    safe = np.where(double_area > 0, double_area, 1.0)
    n = cross / (np.sqrt(safe) if normal == "area" else safe)[:, None]
    return np.stack([e1, e2, n], axis=2), double_area


def face_deformation_gradients(canonical: np.ndarray, edited: np.ndarray, faces: np.ndarray,
                               normal: str = "area") -> tuple[np.ndarray, np.ndarray]:
    """Per-face gradients F (F, 3, 3) with F [e1, e2, n] = [e1', e2', n'], and canonical double areas (F,).

    canonical, edited (N, 3) vertices of one topology; faces (F, 3). A face degenerate on the canonical
    mesh gets F = I and area 0 (it carries no weight at its vertices).
    """
    if normal not in NORMALS:
        raise InputError("face_deformation_gradients", "normal", f"one of {NORMALS}", repr(normal))
    f = np.asarray(faces, np.int64)
    frame, area = _face_frames(canonical, f, normal)
    frame_edit, area_edit = _face_frames(edited, f, normal)
    grads = np.broadcast_to(np.eye(3), (len(f), 3, 3)).copy()
    ok = (area > 0) & (area_edit > 0)
    grads[ok] = frame_edit[ok] @ np.linalg.inv(frame[ok])
    return grads, np.where(ok, area, 0.0)


def _incident_sums(canonical: np.ndarray, edited: np.ndarray, faces: np.ndarray, normal: str
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per vertex the sums over its faces of area * F (N, 3, 3) and of area (N,), canonical double
    areas; and (F,) bool: the faces that count (non-degenerate on both meshes)."""
    c = np.asarray(canonical, np.float64)
    grads, area = face_deformation_gradients(c, edited, faces, normal)
    f = np.asarray(faces, np.int64)
    total = np.zeros((len(c), 3, 3))
    weight = np.zeros(len(c))
    for k in range(3):
        np.add.at(total, f[:, k], grads * area[:, None, None])
        np.add.at(weight, f[:, k], area)
    return total, weight, area > 0


def vertex_jacobians(canonical: np.ndarray, edited: np.ndarray, faces: np.ndarray,
                     normal: str = "area") -> np.ndarray:
    """Per-vertex Jacobians (N, 3, 3) float64: the canonical-area-weighted mean of the incident faces' F.

    A vertex with no non-degenerate face is an error here; ``sculpt_jacobians`` bridges a few.
    """
    total, weight, _ = _incident_sums(canonical, edited, faces, normal)
    if (weight <= 0).any():
        bad = np.flatnonzero(weight <= 0)
        raise InputError("vertex_jacobians", "faces", "every vertex on at least one non-degenerate face",
                         f"{len(bad)} vertices without one (first {int(bad[0])})")
    return total / weight[:, None, None]


def neighbour_fill(jacobians: np.ndarray, known: np.ndarray, edges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Give each unknown vertex the mean Jacobian of its known mesh neighbours, ring by ring outwards.

    jacobians (N, 3, 3), known (N,) bool, edges (E, 2). Returns the filled Jacobians and which vertices
    have one now (False only on a patch of the mesh with no known vertex at all).
    """
    jac, have = jacobians.copy(), known.copy()
    a, b = np.asarray(edges, np.int64).T
    while not have.all():
        total, count = np.zeros_like(jac), np.zeros(len(jac))
        for src, dst in ((a, b), (b, a)):
            m = have[src] & ~have[dst]
            np.add.at(total, dst[m], jac[src[m]])
            np.add.at(count, dst[m], 1.0)
        ring = count > 0
        if not ring.any():
            break
        jac[ring] = total[ring] / count[ring, None, None]
        have |= ring
    return jac, have


class SculptWarning(UserWarning):
    """A sculpt baked with a fallback (``sculpt_jacobians``: a few welded faces bridged)."""


#: At most this share of a sculpt's faces may have zero area (welded) for ``sculpt_jacobians`` to bridge them.
MAX_DEGENERATE_SHARE = 0.01


def _collapsed_file_faces(ok: np.ndarray, avatar: "Avatar", numbering: FileNumbering) -> np.ndarray:
    """The file's faces (K, 3) zero-based that have zero area (a coarse face: any of its 4 sub-faces)."""
    if numbering.coarse_edges is None:
        return np.asarray(avatar.head_sub.faces)[~ok]
    per_coarse = (~ok).reshape(4, -1).any(axis=0)  # sub-face k + j F comes from coarse face k
    return np.asarray(avatar.head.faces)[per_coarse]


def sculpt_jacobians(avatar: "Avatar", edited: np.ndarray, numbering: FileNumbering,
                     normal: str = "area") -> tuple[np.ndarray, str | None]:
    """Per-vertex Jacobians (V_sub, 3, 3) of a sculpt ``edited`` (V_sub, 3), bridging a few welded faces;
    and the warning to give when it bridged some (None: nothing bridged).

    A DCC merge welds a face: it and its neighbours along the welded edges get zero area, and the
    vertices inside them (on a coarse file: the midpoints of the welded edges) keep no face to measure
    the deformation on. What a graphics engineer expects there is the surrounding edit, not a hole:
    such a vertex takes the mean Jacobian of its nearest neighbours that kept a face (ring by ring,
    ``neighbour_fill``), so its splats follow the sculpt around them. The canonical Jacobian (the
    identity) would instead keep them at rest size inside a scaled region: a visible dot. The bake
    warns (``SculptWarning``, once the sculpt passed every check) with the welded faces and the bridged
    vertices in the file's numbering.
    More than ``MAX_DEGENERATE_SHARE`` of the faces collapsed is no weld but a broken sculpt: an
    ``InputError`` naming the OBJ and the vertices.
    """
    canon = np.asarray(avatar.head_sub.v_template, np.float64)
    total, weight, ok = _incident_sums(canon, edited, avatar.topology.faces, normal)
    orphans = np.flatnonzero(weight <= 0)
    if not len(orphans):
        return total / weight[:, None, None], None
    welded = _collapsed_file_faces(ok, avatar, numbering)
    n_faces = len(avatar.head.faces) if numbering.coarse_edges is not None else len(ok)
    shown = ", ".join(numbering.face(f) for f in welded[:LISTED]) + (" ..." if len(welded) > LISTED else "")
    if len(welded) > MAX_DEGENERATE_SHARE * n_faces:
        raise InputError(numbering.source, "f", f"a sculpt with at most {MAX_DEGENERATE_SHARE:.0%} of its faces "
                         "degenerate (zero area; a few welded faces are bridged from their neighbours)",
                         f"{len(welded)} of {n_faces} faces collapsed ({shown}); {count_vertices(len(orphans))} left "
                         f"on no face: {numbering.names(orphans)}")
    jac, have = neighbour_fill(total / np.where(weight > 0, weight, 1.0)[:, None, None], weight > 0,
                               avatar.topology.edges_sub)
    if not have.all():
        lost = np.flatnonzero(~have)
        raise InputError(numbering.source, "f", "every vertex on a face of non-zero area, or next to one",
                         f"{count_vertices(len(lost))} on a collapsed patch: {numbering.names(lost)}")
    return jac, (f"{numbering.source}: {len(welded)} of {n_faces} faces have zero area (welded: {shown}); "
                 f"{count_vertices(len(orphans))} left on no face take the mean Jacobian of their nearest "
                 f"neighbours that kept one: {numbering.names(orphans)}")


@dataclasses.dataclass(frozen=True, eq=False)
class MeshDeformation:
    """A deformation known at the canonical vertices (N, 3) -> edited (N, 3), with per-vertex J (N, 3, 3).

    Away from a vertex it is the first-order extension from the nearest canonical vertex,
    ``D(p) = edited[i] + J[i] (p - canonical[i])``: exact at the vertices, and exact everywhere for an
    affine edit.
    """

    canonical: np.ndarray
    edited: np.ndarray
    jacobians: np.ndarray

    def _nearest(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        from scipy.spatial import cKDTree

        p = np.asarray(points, np.float64)
        if p.ndim != 2 or p.shape[1] != 3 or not np.isfinite(p).all():
            raise InputError("MeshDeformation", "points", "finite (N, 3) points", f"shape {p.shape}")
        _, idx = cKDTree(self.canonical).query(p)
        return p, idx

    def __call__(self, points: np.ndarray) -> np.ndarray:
        p, i = self._nearest(points)
        return self.edited[i] + np.einsum("nij,nj->ni", self.jacobians[i], p - self.canonical[i])

    def jacobian(self, points: np.ndarray) -> np.ndarray:
        _, i = self._nearest(points)
        return self.jacobians[i].copy()


def _file_vertices(avatar: "Avatar", xyz: np.ndarray, source: str) -> np.ndarray:
    """The sculpt's own vertices (V, 3) or (V_sub, 3) float64: shape and finiteness checked."""
    v = np.asarray(xyz, np.float64)
    n, n_sub = avatar.head.num_vertices, avatar.head_sub.num_vertices
    if v.ndim != 2 or v.shape[1] != 3 or len(v) not in (n, n_sub):
        raise InputError(source, "v", f"{n} vertices (coarse) or {n_sub} (subdivided) of the avatar's topology",
                         f"shape {v.shape}")
    if not np.isfinite(v).all():
        raise InputError(source, "v", "finite coordinates", "NaN or inf")
    return v


def file_numbering(avatar: "Avatar", file_vertices: int, source: str) -> FileNumbering:
    """How the subdivided vertices map to a sculpt file of ``file_vertices`` vertices (coarse or subdivided)."""
    coarse = file_vertices == avatar.head.num_vertices
    return FileNumbering(source, file_vertices, avatar.topology.edges if coarse else None)


def subdivided_edit(avatar: "Avatar", xyz: np.ndarray, source: str = "mesh") -> np.ndarray:
    """An edited mesh of the avatar's coarse (V) or subdivided (V_sub) topology -> (V_sub, 3) float64."""
    from avatarcheck.head.subdivide import subdivide_attributes

    v = _file_vertices(avatar, xyz, source)
    return subdivide_attributes(v, avatar.topology) if len(v) == avatar.head.num_vertices else v


def mesh_deformation(avatar: "Avatar", xyz: np.ndarray, normal: str = "area", source: str = "mesh"
                     ) -> MeshDeformation:
    """Bind an edited mesh (coarse or subdivided) to the avatar's subdivided canonical mesh.

    The sculpt is checked against the override layer's limits first (``edit.sculpt_checks``: units,
    extent, coordinates, mirroring, then the scale ratio and the Jacobians), so what binds, renders;
    errors name ``source`` and the file's own 1-based vertex numbers. A few welded faces are bridged
    with a warning (``sculpt_jacobians``).
    """
    v = _file_vertices(avatar, xyz, source)
    numbering = file_numbering(avatar, len(v), source)
    canon_file = avatar.head.v_template if numbering.coarse_edges is not None else avatar.head_sub.v_template
    check_sculpt_vertices(np.asarray(canon_file, np.float64), v, numbering)
    edited = subdivided_edit(avatar, v, source)
    canon = np.asarray(avatar.head_sub.v_template, np.float64)
    jac, bridged = sculpt_jacobians(avatar, edited, numbering, normal)
    check_sculpt_stretch(sculpt_ratio(canon, edited, avatar.topology.edges_sub, numbering), jac, numbering)
    if bridged:
        warnings.warn(bridged, SculptWarning, stacklevel=2)
    return MeshDeformation(canon, edited, jac)


BASIS_MODES = ("extend", "linear")


def bake_mesh(avatar: "Avatar", xyz: np.ndarray, name: str = "mesh", normal: str = "area", basis: str = "extend",
              source: str = "mesh", params: dict | None = None, rigid_eyes: bool = True) -> EditAssets:
    """The override assets of an edited mesh (module docstring), in memory, float32.

    ``basis="extend"``: ``D(v + b_k) - D(v)`` through ``MeshDeformation``'s nearest-vertex extension, so a
    blendshape that carries a vertex into a differently edited region (a closing lid moving from an
    eye's falloff onto its enlarged plateau) picks up the edit found there. ``"linear"``: ``J(v) b_k``,
    the local Jacobian only; enough for head-scale edits (chibi), not for local ones (anime eyes).
    ``rigid_eyes`` (default): the sculpt's eyeballs are replaced by similarity images of the rest ones
    (``edit.rigid_eyes``), as in every bake.
    """
    if basis not in BASIS_MODES:
        raise InputError(source, "basis", f"one of {BASIS_MODES}", repr(basis))
    d = mesh_deformation(avatar, xyz, normal, source)
    n = avatar.head.num_vertices
    arkit = np.asarray(avatar.head.arkit_basis, np.float64)
    if basis == "linear":
        bs = np.einsum("vij,kvj->kvi", d.jacobians[:n], arkit)
    else:
        bs = reevaluate_basis(d, d.canonical[:n], arkit)
    ratio = scale_ratio(d.canonical, d.edited, avatar.topology.edges_sub)
    assets = EditAssets(name, "mesh", dict(params or {}, normal=normal, basis=basis), avatar.head.name,
                        d.edited.astype(np.float32), np.asarray(bs, np.float32), ratio, d.jacobians.astype(np.float32))
    return rigid_eyeballs(avatar, assets) if rigid_eyes else assets


def bake_mesh_file(avatar: "Avatar", path: str | os.PathLike, name: str = "mesh", normal: str = "area",
                   basis: str = "extend", rigid_eyes: bool = True, *, edit: str | None = None) -> EditAssets:
    """``bake_mesh`` on an OBJ file (its faces are not read: the vertex order is the contract).

    ``edit``: the ``--edit`` kind given beside ``--mesh`` (None: none). A sculpt is its own edit, so
    any other kind is a conflict, refused rather than silently ignored.
    """
    from avatarcheck.io.obj import read_obj

    if edit is not None and edit != MESH_KIND:
        raise InputError("--edit", "edit", f"no --edit beside --mesh (the sculpt is the edit, kind {MESH_KIND!r})",
                         repr(edit))
    xyz, _ = read_obj(path)
    return bake_mesh(avatar, xyz, name, normal, basis, source=str(path), params={"mesh": str(path)},
                     rigid_eyes=rigid_eyes)


def _validate_mesh(params, source: str, where: str) -> None:
    if params["normal"] not in NORMALS:
        raise InputError(source, f"{where}.normal", f"one of {NORMALS}", repr(params["normal"]))
    if not params["path"].strip():
        raise InputError(source, f"{where}.path", "an .obj path", repr(params["path"]))


def _make_mesh(avatar, params, source: str) -> MeshDeformation:
    from avatarcheck.io.obj import read_obj

    xyz, _ = read_obj(params["path"])
    return mesh_deformation(avatar, xyz, params["normal"], str(params["path"]))


#: A sculpt in a gate file (``kind = "mesh"``, ``path = "sculpt.obj"``). The generic bake evaluates
#: ``MeshDeformation`` at the vertices and at ``v + b_k``: the same assets as ``bake_mesh(basis="extend")``.
MESH = EditKind(
    name=MESH_KIND,
    description="an edited mesh of the avatar's topology (a sculpt), read from an .obj",
    params={"path": (str, REQUIRED), "normal": (str, "area")},
    make=_make_mesh,
    validate=_validate_mesh,
)
