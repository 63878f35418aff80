"""Anchored Gaussian splats: the per-splat attributes LAM's network predicts, bound to mesh vertices."""

from avatarcheck.splats.cloud import LABEL_NAMES, SplatCloud

__all__ = ["LABEL_NAMES", "SplatCloud"]
