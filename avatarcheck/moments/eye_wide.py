"""``eye_wide``: the eye at its most open (the lid sheet stretched furthest): the highest eyeWide
among frames whose blink is low."""

from __future__ import annotations

from avatarcheck.moments.base import Condition, Criterion, EyeChannels, MomentDefinition


def criterion(ch: EyeChannels, p: dict) -> Criterion:
    return Criterion(ch.wide, f"highest eyeWide ({ch.how('mean')})", (
        Condition(f"eyeWide ({ch.how('mean')}) >= {p['wide_min']:g}", ch.wide, ch.wide >= p["wide_min"]),
        Condition(f"eyeBlink ({ch.how('max')}) < {p['blink_low']:g}", ch.blink_low, ch.blink_low < p["blink_low"]),
    ))


EYE_WIDE = MomentDefinition("eye_wide", "peak eye-wide: irises in the stretched sockets",
                            {"wide_min": 0.5, "blink_low": 0.2}, criterion)
