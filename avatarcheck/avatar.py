"""``Avatar``: a head model, its once-subdivided anchors and the splat cloud on them.

The unit everything downstream poses, edits and renders. ``synthetic_avatar()`` is the embedded
default (the synthetic head with a trained-like cloud); a real LAM avatar is the same bundle
built from the user's FLAME files and PLY.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from pathlib import Path

import numpy as np

from avatarcheck.errors import InputError
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


def find_splat_ply(folder: Path) -> Path | None:
    """The one 3DGS ``.ply`` of a LAM export folder (None when there is none; several is an error)."""
    plys = sorted(p for p in folder.iterdir() if p.suffix.lower() == ".ply" and p.is_file())
    if len(plys) > 1:
        raise InputError(folder, "splats", "one 3DGS .ply in the avatar folder (LAM writes one per avatar)",
                         ", ".join(p.name for p in plys))
    return plys[0] if plys else None


def trained_cloud(ply: Path, head_sub: HeadModel) -> SplatCloud:
    """A LAM-trained cloud: one splat per subdivided vertex, LAM's PLY layout and activations; eyeball
    and lid labels come from the head's masks through the subdivision unless the PLY carries them."""
    from avatarcheck.splats.ply import read_ply
    from avatarcheck.splats.trained import splat_labels

    cloud = read_ply(ply, head_sub.v_template)
    if not cloud.labels.any():  # LAM writes no labels: derive them from FLAME's masks
        cloud = cloud.replace(labels=splat_labels(head_sub))
    return cloud


def load_avatar(path: str | os.PathLike | None) -> Avatar:
    """The avatar at ``path``, else the embedded one.

    ``path``: a FLAME/LAM asset folder or a head ``.npz``. A folder holding LAM's 3DGS ``.ply`` (a LAM
    export: the user's own trained splats, one per subdivided vertex) uses that cloud; otherwise a
    trained-like cloud stands in. A PLY whose splat count is not the subdivided vertex count is an
    error naming both counts.
    """
    if path is None:
        return synthetic_avatar()
    from avatarcheck.head.loaders import load_head

    path = Path(path)
    head = load_head(path)
    ply = find_splat_ply(path) if path.is_dir() else None
    if ply is None:
        return build_avatar(head)
    head_sub, topo = subdivide_head(head)
    return Avatar(head, head_sub, topo, trained_cloud(ply, head_sub))


@functools.lru_cache(maxsize=2)
def synthetic_avatar() -> Avatar:
    """The embedded default avatar (cached)."""
    from avatarcheck.head.synthetic import synthetic_head

    return build_avatar(synthetic_head())
