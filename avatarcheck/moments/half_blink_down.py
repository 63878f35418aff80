"""``half_blink_down``: a half-closed lid over a lowered eyeball (the recipe's chase frame): the
strongest eyeLookDown among frames whose blink is near half."""

from __future__ import annotations

from avatarcheck.moments.base import Condition, Criterion, EyeChannels, MomentDefinition


def criterion(ch: EyeChannels, p: dict) -> Criterion:
    lo, hi = p["blink_range"]
    return Criterion(ch.down, f"strongest eyeLookDown ({ch.how('mean')})", (
        Condition(f"eyeLookDown ({ch.how('mean')}) >= {p['look_down_min']:g}", ch.down, ch.down >= p["look_down_min"]),
        Condition(f"eyeBlink ({ch.how('mean')}) in [{lo:g}, {hi:g}]", ch.blink_mid, (ch.blink_mid >= lo) & (ch.blink_mid <= hi)),
    ))


HALF_BLINK_DOWN = MomentDefinition("half_blink_down", "hard half-blink on a downward gaze",
                                   {"look_down_min": 0.3, "blink_range": (0.35, 0.65)}, criterion)
