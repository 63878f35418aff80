"""The gate's lazy evaluation cache: bakes, variants, cameras and renders, each computed once on demand.

No files and no prose: everything here returns arrays and ``FrameEval``s. An item asks for the
(edit, variant) it needs, so pytest-xdist workers each compute only their share.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

from avatarcheck.avatar import Avatar
from avatarcheck.edit.base import EditAssets
from avatarcheck.gate.evaluate import EYES, FaceView, FrameEval, evaluate_frames, face_view
from avatarcheck.gate.head_coverage import HeadView, head_views, worst_excess
from avatarcheck.gate.inputs import GateInputs, take_pose
from avatarcheck.gate.leak_eyeball import as_leak_view, leak_eyeball_mask
from avatarcheck.gate.metrics import COVERAGE_STATS, STATS, worst_eye
from avatarcheck.gate.sharpness import face_region, sharpness
from avatarcheck.gate.spec import UNEDITED, WORST_CLOSED, CheckSpec, GateSpec
from avatarcheck.render.camera import Camera, head_camera


class Timings:
    """Seconds per stage, summed over calls."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def timed(self, stage: str) -> Iterator[None]:
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[stage] = self.seconds.get(stage, 0.0) + time.perf_counter() - t0


CLOSED_MOMENTS = ("full_blink",)  # moments whose frame has both lids closed


def unedited_value(ev: "GateEvaluation", check: CheckSpec, moment: str) -> float | None:
    """The unedited avatar's value (worse eye) of a check relative to it (``CheckSpec.unedited_margin``) at
    ``moment``, else None (nothing is evaluated then). Every variant key renders the same unedited avatar:
    the reference variant's, or the first variant's in a sweep gate (which has no reference)."""
    if check.unedited_margin is None:
        return None
    key = (ev.spec.variants_with("reference") or list(ev.spec.variants))[0]
    return worst_eye(ev.frame_eval(UNEDITED, key, moment).metrics, check.stat)[1]


class GateEvaluation:
    """spec + inputs + a backend name -> cached assets, variant avatars and frame evaluations."""

    def __init__(self, spec: GateSpec, inputs: GateInputs, backend: str, timings: Timings | None = None) -> None:
        self.spec = spec
        self.inputs = inputs
        self.backend = backend
        self.timings = timings or Timings()

    @functools.lru_cache(maxsize=None)
    def assets(self, edit: str) -> EditAssets:
        from avatarcheck.edit.registry import bake_edit

        e = self.spec.edit(edit)
        with self.timings.timed("bake edits"):
            return bake_edit(self.inputs.avatar, e.kind, e.params, name=e.name, source=self.spec.source,
                             rigid_eyes=e.rigid_eyes)

    @functools.lru_cache(maxsize=None)
    def variant(self, edit: str, variant: str) -> Avatar:
        from avatarcheck.edit.overrides import OverrideArrays, apply_override_arrays

        if edit == UNEDITED:
            return self.inputs.avatar
        v = self.spec.variants[variant]
        with self.timings.timed("apply overrides"):
            arrays = OverrideArrays.from_assets(self.assets(edit), v.overrides, v.numbers)
            return apply_override_arrays(self.inputs.avatar, arrays)

    @functools.cached_property
    def leak_eyeball(self) -> np.ndarray:
        """(N,) bool: the eyeball splats E counts (``gate.leak_eyeball``), decided on the unedited avatar."""
        return leak_eyeball_mask(self.inputs.avatar)

    @functools.lru_cache(maxsize=None)
    def camera(self, edit: str, variant: str) -> Camera:
        # Each variant frames its own eye regions: edited eyes are larger, and a shared camera would
        # measure the edit's magnification rather than its lids.
        return self.variant(edit, variant).eye_camera(self.spec.image_size)

    def evaluate(self, edit: str, variant: str, frames: np.ndarray, regions_only: bool = False,
                 coverage: bool = True, with_rgb: bool = False) -> list[FrameEval]:
        pose = take_pose(self.inputs.take, frames, self.spec.apply_eye_rotation)
        avatar = as_leak_view(self.variant(edit, variant), self.leak_eyeball)
        return evaluate_frames(avatar, pose, self.camera(edit, variant), self.backend,
                               self.spec.visible, self.spec.dilate_px, regions_only, coverage, with_rgb)

    @functools.lru_cache(maxsize=None)
    def moment_evals(self, edit: str, variant: str) -> dict[str, FrameEval]:
        """The take's present moments (a missing one has no frame to render)."""
        present = self.inputs.present
        names = [m for m in self.spec.moments if m in present]
        if not names:
            return {}
        frames = np.array([present[m].frame for m in names])
        with self.timings.timed("render moments"):
            evals = self.evaluate(edit, variant, frames, with_rgb=True)
        return dict(zip(names, evals))

    @functools.cached_property
    def closure(self) -> dict:
        """The unedited avatar's blink closure at mesh level (``gate.closure``): the rig alone, then each
        present closed moment against the eye-wide moment (the rest pose when the take has none)."""
        from avatarcheck.gate.closure import closure_record
        from avatarcheck.head.pose import Pose

        present = self.inputs.present
        take = self.inputs.take
        open_pose = (take_pose(take, np.array([present["eye_wide"].frame]), self.spec.apply_eye_rotation)
                     if "eye_wide" in present else Pose.of(np.zeros((1, 52), np.float32)))
        closed = {f"{m} (frame {present[m].frame})": take_pose(take, np.array([present[m].frame]),
                                                                self.spec.apply_eye_rotation)
                  for m in self.spec.moments if m in present and m in CLOSED_MOMENTS}
        avatar = self.inputs.avatar
        with self.timings.timed("blink closure"):
            return closure_record(avatar, avatar.eye_camera(self.spec.image_size), open_pose, closed,
                                  self.spec.closure_max)

    def closed_frames(self) -> np.ndarray:
        """(K,) take frames where both eyes' blink is at least the gate's ``closed_eye.blink_min``."""
        if self.spec.closed_eye is None:
            return np.zeros(0, np.int64)
        take = self.inputs.take
        blink = np.minimum(take.channel("eyeBlinkLeft"), take.channel("eyeBlinkRight"))
        return np.flatnonzero(blink >= self.spec.closed_eye.blink_min)

    @functools.lru_cache(maxsize=None)
    def frame_metrics(self, edit: str, variant: str, batch: int = 16) -> dict[int, dict[str, dict[str, float]]]:
        """Per-eye metrics of the curve's frames (``GateSpec.curve_frames``; none for a variant declared
        ``curve = false``) and of every closed-eye frame.

        Rendered only where the eye regions are (``evaluate_frames(regions_only=True)``): the same
        numbers, bit for bit, as full renders of those frames (the frames items check are rendered
        in full for their images).
        Coverage statistics only when ``closed_eye.rank_by`` is one (the curve itself plots leak)."""
        stride = np.asarray(self.spec.curve_frames(self.inputs.take.num_frames))
        if not self.spec.variants[variant].curve:  # no leak curve drawn: the worst closed frame needs these only
            stride = stride[:0]
        frames = np.union1d(stride, self.closed_frames())
        out: dict[int, dict[str, dict[str, float]]] = {}
        with self.timings.timed("leak curves"):
            for i in range(0, len(frames), batch):
                chunk = frames[i:i + batch]
                for f, ev in zip(chunk, self.evaluate(edit, variant, chunk, regions_only=True,
                                                      coverage=self._rank_needs_coverage())):
                    out[int(f)] = ev.metrics
        return out

    def _rank_needs_coverage(self) -> bool:
        return self.spec.closed_eye is not None and self.spec.closed_eye.rank_by in COVERAGE_STATS

    @functools.lru_cache(maxsize=None)
    def curve(self, edit: str, variant: str) -> tuple[list[int], dict, dict]:
        """(frames, leak_mean per eye, leak_max per eye) over the frames ``frame_metrics`` evaluates."""
        per_frame = self.frame_metrics(edit, variant)
        frames = sorted(per_frame)
        mean = {e: [per_frame[f][e]["leak_mean"] for f in frames] for e in EYES}
        peak = {e: [per_frame[f][e]["leak_max"] for f in frames] for e in EYES}
        return frames, mean, peak

    @functools.lru_cache(maxsize=None)
    def worst_closed(self, edit: str, variant: str) -> tuple[int, FrameEval] | None:
        """The closed-eye frame where ``closed_eye.rank_by`` is worst (worse eye), re-rendered for its
        images; None when the take never closes both eyes that far."""
        closed = self.closed_frames()
        if not len(closed):
            return None
        per_frame = self.frame_metrics(edit, variant)
        rank = self.spec.closed_eye.rank_by
        high_is_bad = STATS[rank] == "high"
        values = np.array([worst_eye(per_frame[int(f)], rank)[1] for f in closed])
        frame = int(closed[np.argmax(values) if high_is_bad else np.argmin(values)])  # first on ties
        (ev,) = self.evaluate(edit, variant, np.array([frame]), with_rgb=True)
        return frame, ev

    def frame_eval(self, edit: str, variant: str, moment: str) -> FrameEval:
        """The evaluated frame behind an item: a take moment, or the worst closed-eye frame."""
        if moment == WORST_CLOSED:
            found = self.worst_closed(edit, variant)
            assert found is not None, "callers skip worst_closed when the take has no closed-eye frame"
            return found[1]
        return self.moment_evals(edit, variant)[moment]

    @functools.cached_property
    def face_region(self) -> np.ndarray:
        """(V_sub,) bool: the sharpness check's region, chosen on the unedited head so every variant
        measures the same surface (edits keep the topology)."""
        return face_region(self.inputs.avatar.head_sub)

    @functools.lru_cache(maxsize=None)
    def face_view(self, edit: str, variant: str, moment: str) -> FaceView:
        """The face region at a take moment, framed on the variant's own (edited) face region."""
        avatar = self.variant(edit, variant)
        camera = head_camera(avatar.head_sub.v_template, size=self.spec.face_image_size,
                             region=np.flatnonzero(self.face_region))
        pose = take_pose(self.inputs.take, np.array([self.inputs.present[moment].frame]), self.spec.apply_eye_rotation)
        with self.timings.timed("sharpness"):
            return face_view(avatar, pose, camera, self.face_region, self.backend)

    @property
    def reference_variant(self) -> str:
        """The gate's reference variant (rendered on the unedited avatar); parse_gate makes sure there is
        one wherever a check compares with it."""
        return self.spec.variants_with("reference")[0]

    def sharpness(self, edit: str, variant: str, moment: str) -> float:
        """Face-region gradient energy of (edit, variant) over the reference variant's, same frame."""
        return sharpness(self.face_view(edit, variant, moment).energy,
                         self.face_view(UNEDITED, self.reference_variant, moment).energy)

    @functools.lru_cache(maxsize=None)
    def head_views(self, edit: str, variant: str, moment: str) -> dict[str, HeadView]:
        """The variant's whole head at a take moment from each ``HEAD_VIEWS`` view (``gate.head_coverage``)."""
        pose = take_pose(self.inputs.take, np.array([self.inputs.present[moment].frame]), self.spec.apply_eye_rotation)
        with self.timings.timed("head coverage"):
            return head_views(self.variant(edit, variant), pose, self.spec.head_image_size, self.backend)

    def head_holes(self, edit: str, variant: str, moment: str) -> tuple[str, float]:
        """("view/region", value): where the variant's hole share grew the most over the unedited avatar's."""
        return worst_excess(self.head_views(edit, variant, moment),
                            self.head_views(UNEDITED, self.reference_variant, moment))

    def face_stat(self, stat: str, edit: str, variant: str, moment: str) -> tuple[str, float]:
        """(where, value) of a ``FACE_STATS`` statistic, measured against the unedited avatar: "face" for
        sharpness, "head <view>/<region>" (the worst growth) for head_holes."""
        if stat == "head_holes":
            where, value = self.head_holes(edit, variant, moment)
            return f"head {where}", value
        return "face", self.sharpness(edit, variant, moment)
