"""FLAME-format head model: arrays, ARKit-52 expression, linear blend skinning, subdivision."""

from avatarcheck.head.model import JOINT_NAMES, HeadModel

__all__ = ["HeadModel", "JOINT_NAMES"]
