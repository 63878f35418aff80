"""LAM's subdivided head: the whole model carried through one midpoint subdivision.

As in LAM: vertices, identity/expression/ARKit bases and skinning weights are averaged onto the
edge midpoints; pose correctives are dropped (LAM does not apply them on this path); joints keep
coming from the coarse mesh, expression included. Because the first V subdivided vertices are
the coarse ones in order, zero-padding the coarse J_regressor gives exactly that.
On FLAME this turns 5023 vertices into 20018: one splat anchor per subdivided vertex.
"""

from __future__ import annotations

import numpy as np

from avatarcheck.head.model import HeadModel
from avatarcheck.head.subdivide import (
    SubdivisionTopology,
    subdivide_attributes,
    subdivide_vertex_indices,
    subdivision_topology,
)


def subdivide_head(model: HeadModel) -> tuple[HeadModel, SubdivisionTopology]:
    """(subdivided HeadModel named ``<name>_sub``, the topology that maps coarse to subdivided)."""
    topo = subdivision_topology(model.faces, model.num_vertices)
    J_reg = np.zeros((model.J_regressor.shape[0], topo.num_vertices_sub), model.J_regressor.dtype)
    J_reg[:, : model.num_vertices] = model.J_regressor
    sub = HeadModel(
        v_template=subdivide_attributes(model.v_template, topo),
        faces=topo.faces,
        shapedirs=subdivide_attributes(model.shapedirs, topo),
        arkit_basis=subdivide_attributes(model.arkit_basis, topo, vertex_axis=1),
        J_regressor=J_reg,
        parents=model.parents.copy(),
        lbs_weights=subdivide_attributes(model.lbs_weights, topo),
        exprdirs=None if model.exprdirs is None else subdivide_attributes(model.exprdirs, topo),
        posedirs=None,
        vertex_sets={k: subdivide_vertex_indices(v, topo) for k, v in model.vertex_sets.items()},
        name=f"{model.name}_sub",
    )
    return sub, topo
