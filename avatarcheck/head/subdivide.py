"""One midpoint subdivision step in pytorch3d ``SubdivideMeshes`` order (LAM's 5023 -> 20018).

The order is part of the contract: LAM's splat ``i`` belongs to subdivided vertex ``i``, so a
different numbering would attach every trained splat to the wrong anchor. pytorch3d's rule:

* unique edges are the sorted pairs ``(a, b)``, ``a < b``, ordered by ``a * V + b``;
  new vertex ``V + i`` is the midpoint of edge ``i``;
* for a face ``(v0, v1, v2)``: ``e0 = edge(v1, v2)``, ``e1 = edge(v2, v0)``, ``e2 = edge(v0, v1)``
  (as new-vertex indices); new faces in four blocks over all faces:
  ``[v0, e2, e1]``, then ``[v1, e0, e2]``, then ``[v2, e1, e0]``, then ``[e0, e1, e2]``.

Per-vertex attributes (bases, skinning weights) are averaged onto the midpoints the same way.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from avatarcheck.errors import InputError


@dataclasses.dataclass(frozen=True, eq=False)
class SubdivisionTopology:
    """How a coarse mesh maps onto its once-subdivided mesh.

    edges:         (E, 2) int64  unique coarse edges, a < b, in pytorch3d order
    face_edges:    (F, 3) int64  per coarse face, indices into ``edges`` of (e0, e1, e2)
    faces:         (4F, 3) int64 subdivided faces
    edges_sub:     (E', 2) int64 unique edges of the subdivided mesh, same ordering rule
    """

    num_vertices: int
    edges: np.ndarray
    face_edges: np.ndarray
    faces: np.ndarray
    edges_sub: np.ndarray

    @property
    def num_vertices_sub(self) -> int:
        return self.num_vertices + len(self.edges)


def _check_faces(faces: np.ndarray, num_vertices: int) -> np.ndarray:
    f = np.asarray(faces)
    if f.ndim != 2 or f.shape[1] != 3 or not np.issubdtype(f.dtype, np.integer):
        raise InputError("subdivide", "faces", "integer array of shape (F, 3)", f"{f.dtype} {f.shape}")
    if f.size and (f.min() < 0 or f.max() >= num_vertices):
        raise InputError("subdivide", "faces", f"indices in [0, {num_vertices})", f"[{f.min()}, {f.max()}]")
    if (f[:, 0] == f[:, 1]).any() or (f[:, 1] == f[:, 2]).any() or (f[:, 2] == f[:, 0]).any():
        raise InputError("subdivide", "faces", "three distinct corners per face", "a face with a repeated index")
    return f.astype(np.int64)


def unique_edges(faces: np.ndarray, num_vertices: int) -> tuple[np.ndarray, np.ndarray]:
    """pytorch3d's edge list of a triangle mesh.

    faces (F, 3) -> (edges (E, 2) sorted pairs ordered by ``a * V + b``,
    face_edges (F, 3) edge index of (v1v2, v2v0, v0v1) per face).
    """
    f = _check_faces(faces, num_vertices)
    # All edges with duplicates, in pytorch3d's block order: e12, e20, e01.
    all_edges = np.concatenate([f[:, [1, 2]], f[:, [2, 0]], f[:, [0, 1]]], axis=0)
    all_edges.sort(axis=1)
    key = all_edges[:, 0] * num_vertices + all_edges[:, 1]
    uniq, inverse = np.unique(key, return_inverse=True)
    edges = np.stack([uniq // num_vertices, uniq % num_vertices], axis=1)
    return edges, inverse.reshape(3, len(f)).T.copy()


def subdivision_topology(faces: np.ndarray, num_vertices: int) -> SubdivisionTopology:
    """Topology of one midpoint step for faces (F, 3) over ``num_vertices`` vertices."""
    f = _check_faces(faces, num_vertices)
    edges, face_edges = unique_edges(f, num_vertices)
    e = face_edges + num_vertices  # midpoint vertex indices
    e0, e1, e2 = e[:, 0], e[:, 1], e[:, 2]
    v0, v1, v2 = f[:, 0], f[:, 1], f[:, 2]
    faces_sub = np.concatenate([
        np.stack([v0, e2, e1], axis=1),
        np.stack([v1, e0, e2], axis=1),
        np.stack([v2, e1, e0], axis=1),
        np.stack([e0, e1, e2], axis=1),
    ], axis=0)
    edges_sub, _ = unique_edges(faces_sub, num_vertices + len(edges))
    return SubdivisionTopology(num_vertices, edges, face_edges, faces_sub, edges_sub)


def subdivide_attributes(attr: np.ndarray, topo: SubdivisionTopology, vertex_axis: int = 0) -> np.ndarray:
    """Per-vertex attribute (..., V, ...) -> (..., V + E, ...): coarse values, then edge means.

    ``vertex_axis`` says which axis is the vertex axis ((52, V, 3) ARKit basis: 1).
    """
    a = np.asarray(attr)
    if a.shape[vertex_axis] != topo.num_vertices:
        raise InputError("subdivide", f"attribute axis {vertex_axis}",
                         f"{topo.num_vertices} vertices", f"shape {a.shape}")
    a0 = np.take(a, topo.edges[:, 0], axis=vertex_axis)
    a1 = np.take(a, topo.edges[:, 1], axis=vertex_axis)
    mid = (a0 + a1) * a.dtype.type(0.5) if np.issubdtype(a.dtype, np.floating) else (a0 + a1) / 2
    return np.concatenate([a, mid.astype(a.dtype, copy=False)], axis=vertex_axis)


def subdivide_vertex_indices(indices: np.ndarray, topo: SubdivisionTopology) -> np.ndarray:
    """A coarse vertex set -> the subdivided set: its vertices plus midpoints of edges inside it."""
    idx = np.asarray(indices, np.int64)
    inside = np.zeros(topo.num_vertices, bool)
    inside[idx] = True
    mids = np.nonzero(inside[topo.edges[:, 0]] & inside[topo.edges[:, 1]])[0] + topo.num_vertices
    return np.concatenate([np.sort(idx), mids])


def subdivide_mesh(vertices: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """vertices (V, 3), faces (F, 3) -> (V + E, 3) vertices and (4F, 3) faces."""
    v = np.asarray(vertices)
    topo = subdivision_topology(faces, len(v))
    return subdivide_attributes(v, topo), topo.faces


def subdivided_edges(faces: np.ndarray, num_vertices: int) -> np.ndarray:
    """The LAM chibi recipe's ``subdivided_edges``: unique edges (E', 2) of the once-subdivided mesh."""
    return subdivision_topology(faces, num_vertices).edges_sub


# A midpoint must equal its parents' mean to float32 rounding of body-frame coordinates (~2 m): a few ulps.
MIDPOINT_TOL_M = 1e-5


def coarse_of_subdivided(vertices: np.ndarray, faces: np.ndarray, source: str = "subdivided mesh"
                         ) -> tuple[np.ndarray, SubdivisionTopology]:
    """Undo one pytorch3d-order midpoint step: the coarse faces (F, 3) and the topology, checked exactly.

    vertices (V + E, 3), faces (4F, 3) as ``subdivision_topology`` writes them. The face blocks give the
    coarse faces back (block k's first column is each coarse face's k-th corner); subdividing those must
    reproduce ``faces`` exactly and every vertex past V must be its edge's midpoint (``MIDPOINT_TOL_M``),
    else an ``InputError`` says which and by how much. The coarse vertices are ``vertices[:V]``.
    """
    v = np.asarray(vertices, np.float64)
    f = np.asarray(faces)
    if f.ndim != 2 or f.shape[1] != 3 or len(f) == 0 or len(f) % 4:
        raise InputError(source, "faces", "(4F, 3) triangles of a once-subdivided mesh (a multiple of 4)",
                         f"shape {f.shape}")
    n_f = len(f) // 4
    coarse = np.stack([f[:n_f, 0], f[n_f:2 * n_f, 0], f[2 * n_f:3 * n_f, 0]], axis=1).astype(np.int64)
    n_v = int(coarse.max()) + 1
    if n_v >= len(v):
        raise InputError(source, "faces", "the coarse corners first, then the edge midpoints (pytorch3d order)",
                         f"corner index {n_v - 1} of {len(v)} vertices")
    topo = subdivision_topology(coarse, n_v)
    if topo.num_vertices_sub != len(v) or not np.array_equal(topo.faces, f):
        first = (int(np.argmax(np.any(topo.faces != f, axis=1))) if topo.faces.shape == f.shape else None)
        raise InputError(source, "faces", f"a once-subdivided mesh in pytorch3d order ({n_v} coarse vertices + "
                         f"{len(topo.edges)} edges = {topo.num_vertices_sub} vertices)",
                         f"{len(v)} vertices" + ("" if first is None else f", triangle {first} differs"))
    mids = 0.5 * (v[topo.edges[:, 0]] + v[topo.edges[:, 1]])
    err = np.abs(mids - v[n_v:]).max(axis=1)
    if err.max() > MIDPOINT_TOL_M:
        i = int(np.argmax(err))
        raise InputError(source, "vertices", f"vertex {n_v + i} at the midpoint of its edge {topo.edges[i].tolist()} "
                         f"(within {MIDPOINT_TOL_M:g} m)", f"{err[i]:.3g} m off")
    return coarse, topo
