"""``full_blink``: the largest eyeBlink (a closed lid, where iris leaks show)."""

from __future__ import annotations

from avatarcheck.moments.base import Condition, Criterion, EyeChannels, MomentDefinition


def criterion(ch: EyeChannels, p: dict) -> Criterion:
    return Criterion(ch.blink_high, f"highest eyeBlink ({ch.how('min')})", (
        Condition(f"eyeBlink ({ch.how('min')}) >= {p['blink_min']:g}", ch.blink_high, ch.blink_high >= p["blink_min"]),
    ))


FULL_BLINK = MomentDefinition("full_blink", "peak full blink: the closed lid over the iris",
                              {"blink_min": 0.9}, criterion)
