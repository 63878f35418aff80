"""The embedded synthetic head: FLAME's array layout, generated deterministically by code."""

from avatarcheck.head.synthetic.build import synthetic_head
from avatarcheck.head.synthetic.params import SyntheticHeadParams

__all__ = ["synthetic_head", "SyntheticHeadParams"]
