"""The built-in avatars: ``synthetic`` (the stand-in the gate is calibrated on) and its flavours.

=====================  ===========================================================================
spec                   avatar
=====================  ===========================================================================
``synthetic``          the embedded head with the stand-in cloud (scales 0.7 x edge, opacity 0.98)
``synthetic:lam-trained``  the same head with a cloud of trained LAM statistics (``splats/lam_trained.py``):
                       big soft splats, 10 % at the 0.01 m clip, offsets of 4-25 mm by region, half the
                       eyeball splats hidden in the orbit at opacity ~0.01
``synthetic:lam-broken``   the trained-statistics cloud broken like one public export (offsets median
                       54 mm, 76 % of sigmas at the clip): for the implausible-avatar check
=====================  ===========================================================================
"""

from __future__ import annotations

import functools

from avatarcheck.errors import InputError
from avatarcheck.sources.base import AvatarSource, LoadedAvatar, LoadOptions, SourceInfo

PREFIX = "synthetic"
FLAVOURS = ("lam-trained", "lam-broken")


def _flavour(spec: str) -> str | None:
    """``""`` for ``synthetic``, the flavour for ``synthetic:FLAVOUR``, None for anything else."""
    if spec == PREFIX:
        return ""
    if spec.startswith(PREFIX + ":"):
        return spec[len(PREFIX) + 1:]
    return None


def detect(spec: str) -> str | None:
    flavour = _flavour(spec)
    if flavour is None:
        return None
    return "the embedded stand-in" if not flavour else f"the embedded head, {flavour} flavour"


@functools.lru_cache(maxsize=2)
def lam_trained_avatar(broken: bool = False):
    """The embedded head carrying a cloud of trained LAM statistics (cached; ``broken``: the broken export's)."""
    from avatarcheck.splats.lam_trained import broken_cloud, lam_trained_avatar

    avatar = lam_trained_avatar()
    return avatar.with_cloud(broken_cloud(avatar.cloud)) if broken else avatar


def load(spec: str, options: LoadOptions) -> LoadedAvatar:
    from avatarcheck.avatar import synthetic_avatar

    flavour = _flavour(spec)
    if flavour == "":
        return LoadedAvatar("synthetic", synthetic_avatar(), SourceInfo("embedded", spec, calibrated=True))
    if flavour not in FLAVOURS:
        raise InputError("--avatar", "synthetic flavour", f"synthetic or synthetic:{{{','.join(FLAVOURS)}}}",
                         repr(spec))
    avatar = lam_trained_avatar(broken=flavour == "lam-broken")
    broken = flavour == "lam-broken"
    note = ("a trained LAM export broken as one public export is (no real person): no verdict is calibrated for it"
            if broken else "a stand-in with trained LAM statistics (no real person)")
    return LoadedAvatar(f"synthetic-{flavour}", avatar,
                        SourceInfo("embedded", spec, notes=(note,), calibrated=not broken))


EMBEDDED = AvatarSource("embedded", "synthetic or synthetic:" + "|".join(FLAVOURS) + " (built in)", detect, load)
