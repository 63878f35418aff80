"""A gate run's inputs: the avatar, the take, its moments, and the per-frame pose the take drives."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from avatarcheck.avatar import Avatar
from avatarcheck.errors import InputError
from avatarcheck.head.pose import Pose
from avatarcheck.moments import MissingMoment, Moment, pick_moments
from avatarcheck.sources.base import LoadedAvatar, LoadOptions, SourceInfo, safe_stem
from avatarcheck.takes.take import Take

SYNTHETIC_PREFIX = "synthetic:"


def load_take_source(source: str) -> Take:
    """``synthetic:SEED`` (generated, deterministic) or a Live Link Face .csv / .npz path.

    Remembered per source and file state (size, mtime), so the pytest plugin's early check and the
    gate session parse a long take once; an edited file is read again."""
    stamp = None
    if not source.startswith(SYNTHETIC_PREFIX):
        try:
            st = Path(source).stat()
            stamp = (st.st_size, st.st_mtime_ns)
        except OSError:
            pass  # the loader reports it with the file's name
    return _load_take_cached(source, stamp)


@functools.lru_cache(maxsize=4)
def _load_take_cached(source: str, stamp: tuple[int, int] | None) -> Take:
    if source.startswith(SYNTHETIC_PREFIX):
        from avatarcheck.takes.synthetic import synthetic_take

        raw = source[len(SYNTHETIC_PREFIX):]
        if not raw.isascii() or not raw.isdigit():
            raise InputError("--gate-take", "take", "synthetic:SEED with a non-negative integer seed", repr(source))
        return synthetic_take(seed=int(raw))
    from avatarcheck.takes.files import load_take

    return load_take(Path(source))


def take_key(source: str, take: Take) -> str:
    """A take's name in golden paths: its stem plus a short hash of its weights, so goldens of one
    take are never compared with renders of another (same name, other content included)."""
    stem = source[len(SYNTHETIC_PREFIX):] if source.startswith(SYNTHETIC_PREFIX) else Path(source).stem
    stem = ("synthetic-" if source.startswith(SYNTHETIC_PREFIX) else "") + stem
    safe = safe_stem(stem, "take")
    digest = hashlib.sha256(np.ascontiguousarray(take.weights, np.float32).tobytes()).hexdigest()[:8]
    return f"{safe}-{digest}"


def eye_axis_angles(take: Take, frames: np.ndarray) -> np.ndarray:
    """(B, 6) left then right eye axis-angle from the take's yaw/pitch/roll (Live Link Face convention:
    pitch > 0 looks down, yaw > 0 towards the subject's right). Head frame: y up, face +z, left +x."""
    out = []
    for angles in (take.eye_left[frames], take.eye_right[frames]):
        yaw, pitch, roll = angles[:, 0], angles[:, 1], angles[:, 2]
        # Looking right turns the gaze towards -x: a negative rotation about +y. Looking down turns
        # +z towards -y: a positive rotation about +x.
        rot = Rotation.from_euler("YXZ", np.stack([-yaw, pitch, roll], axis=1))
        out.append(rot.as_rotvec())
    return np.concatenate(out, axis=1).astype(np.float32)


def take_pose(take: Take, frames: np.ndarray, apply_eye_rotation: bool) -> Pose:
    """The head-locked pose of some take frames: the 52 weights, and the eye rotations if asked.
    (The camera is head-locked: the take's head rotation is not applied.)"""
    frames = np.asarray(frames)
    eyes = eye_axis_angles(take, frames) if apply_eye_rotation else np.zeros((len(frames), 6), np.float32)
    return Pose(take.weights[frames], eyes=eyes)


@dataclasses.dataclass(frozen=True, eq=False)
class GateInputs:
    avatar_name: str
    avatar: Avatar
    take: Take
    take_key: str
    moments: dict[str, Moment | MissingMoment]
    source: SourceInfo = SourceInfo("embedded", "synthetic", calibrated=True)

    @property
    def present(self) -> dict[str, Moment]:
        return {k: m for k, m in self.moments.items() if isinstance(m, Moment)}


def load_inputs(avatar_source: str | Path | None, take_source: str, moment_names: tuple[str, ...],
                moment_params: dict, options: LoadOptions = LoadOptions(),
                loaded: LoadedAvatar | None = None) -> GateInputs:
    """The avatar (through ``avatarcheck.sources``), the take and its moments.

    ``loaded``: the avatar already read from ``avatar_source`` (a catalogue worker reads each avatar once and
    gates it for several edits and takes); None reads it here."""
    from avatarcheck.sources import load_avatar_source

    take = load_take_source(take_source)
    if loaded is None:
        loaded = load_avatar_source(avatar_source, options)
    return GateInputs(safe_stem(loaded.name, "avatar"), loaded.avatar, take, take_key(take_source, take),
                      pick_moments(take, moment_names, moment_params), loaded.info)
