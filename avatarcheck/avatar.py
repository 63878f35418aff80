"""``Avatar``: a head model, its once-subdivided anchors and the splat cloud on them.

The unit everything downstream poses, edits and renders. ``synthetic_avatar()`` is the embedded
default (the synthetic head with a trained-like cloud); a real LAM avatar is the same bundle
built from the user's FLAME files and PLY.
"""

from __future__ import annotations

import dataclasses
import functools
import numpy as np

from avatarcheck.head.layer import HeadLayer
from avatarcheck.head.model import HeadModel
from avatarcheck.head.subdivide import SubdivisionTopology, subdivide_attributes
from avatarcheck.head.subdivided import subdivide_head
from avatarcheck.render.camera import Camera, head_camera
from avatarcheck.head.pose import Pose
from avatarcheck.render.shaders import shaded_state
from avatarcheck.render.state import SplatState
from avatarcheck.splats.binding import PosedSplats, pose_splats
from avatarcheck.splats.cloud import SplatCloud
from avatarcheck.splats.texture import detail_colors
from avatarcheck.splats.trained import TrainedCloudParams, region_colors, trained_like_cloud


@dataclasses.dataclass(frozen=True, eq=False)
class Avatar:
    head: HeadModel  # coarse (FLAME: 5023 vertices)
    head_sub: HeadModel  # once subdivided (FLAME: 20018): the splat anchors
    topology: SubdivisionTopology
    cloud: SplatCloud  # one splat per subdivided vertex

    @functools.cached_property
    def layer(self) -> HeadLayer:
        """The subdivided FLAME forward, without pose correctives (as LAM's subdivided path)."""
        return HeadLayer(self.head_sub, pose_correctives=False)

    @functools.cached_property
    def basis_on_subdivided(self) -> bool:
        """Whether the subdivided ARKit basis is its own (an OAC export's morph targets) rather than the coarse
        basis averaged onto the midpoints, as LAM's FLAME path makes it. Edits then re-evaluate it there."""
        n = self.head.num_vertices
        mids = subdivide_attributes(self.head.arkit_basis, self.topology, vertex_axis=1)[:, n:]
        return not np.array_equal(mids, self.head_sub.arkit_basis[:, n:])

    def with_cloud(self, cloud: SplatCloud) -> "Avatar":
        return dataclasses.replace(self, cloud=cloud)

    def camera(self, size: int = 512, **kwargs) -> Camera:
        """Default frontal camera on the canonical head, neck excluded."""
        v = self.head_sub.v_template
        neck = self.head_sub.vertex_sets.get("neck", np.zeros(0, np.int64))
        return head_camera(v, size=size, region=np.setdiff1d(np.arange(len(v)), neck), **kwargs)

    def eye_camera(self, size: int = 256, **kwargs) -> Camera:
        """Frontal camera framing both eye regions (what the blink gate looks at)."""
        sets = self.head_sub.vertex_sets
        region = np.concatenate([sets["eye_region_left"], sets["eye_region_right"]])
        return head_camera(self.head_sub.v_template, size=size, region=region, margin=1.25, **kwargs)

    def pose(self, pose: Pose, binding: str = "lam") -> PosedSplats:
        """Pose the anchors and drag the splats for ``pose.num_frames`` frames (one LBS pass)."""
        return pose_splats(self.layer, self.cloud, binding, pose)

    def state(self, shader: str = "rgb", pose: Pose | None = None, *, arkit52: np.ndarray | None = None,
              eyes: np.ndarray | None = None, global_rot: np.ndarray | None = None, binding: str = "lam",
              drop_eyeballs: bool = False) -> SplatState:
        """Posed, shaded splats for B frames: ``pose``, or its ``arkit52`` / ``eyes`` / ``global_rot`` parts."""
        if pose is None:
            pose = Pose.of(arkit52, eyes, global_rot)
        return shaded_state(self.cloud, self.pose(pose, binding), shader, drop_eyeballs)


def build_avatar(head: HeadModel, cloud: SplatCloud | None = None,
                 params: TrainedCloudParams = TrainedCloudParams()) -> Avatar:
    """Subdivide ``head`` and attach ``cloud`` (default: a trained-like cloud whose colours carry
    procedural skin, brow, lash and iris detail at the splat spacing, ``splats.texture``)."""
    head_sub, topo = subdivide_head(head)
    if cloud is None:
        rgb = detail_colors(head_sub, subdivide_attributes(region_colors(head), topo))
        cloud = trained_like_cloud(head_sub, topo.edges_sub, rgb, params)
    return Avatar(head, head_sub, topo, cloud)


@functools.lru_cache(maxsize=2)
def synthetic_avatar() -> Avatar:
    """The embedded default avatar (cached)."""
    from avatarcheck.head.synthetic import synthetic_head

    return build_avatar(synthetic_head())
