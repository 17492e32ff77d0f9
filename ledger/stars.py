"""Star levels (星级) from earned service minutes, after 民政部《志愿服务记录办法》."""

from __future__ import annotations

from collections.abc import Sequence

# ★1 ≥ 100 h, ★2 ≥ 300 h, ★3 ≥ 600 h, ★4 ≥ 1,000 h, ★5 ≥ 1,500 h.
NATIONAL_THRESHOLDS_MINUTES: tuple[int, ...] = (6_000, 18_000, 36_000, 60_000, 90_000)


def star_level(earned_minutes: int, thresholds_minutes: Sequence[int]) -> int:
    """0 below the first threshold, else the highest star whose threshold is reached."""
    return sum(1 for threshold in thresholds_minutes if earned_minutes >= threshold)
