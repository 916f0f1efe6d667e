"""The writer's search for the shortest last iteration that reaches its quality target.

Each probe decodes a candidate and scores it with MS-SSIM, the dearest step of
an encode, so the search interpolates between the scores it knows instead of
halving blindly: quality grows about linearly with the channels of an
iteration, and two probes then usually find what bisection finds in four.
"""

from __future__ import annotations

import math
from collections.abc import Callable

__all__ = ["first_reaching"]


def first_reaching(
    count: int,
    score_at: Callable[[int], float],
    target: float,
    before: float | None = None,
    last: float | None = None,
) -> int:
    """The smallest index below ``count`` whose ``score_at`` reaches ``target`` (``count - 1`` if none does).

    Scores must grow with the index, as bisection assumes too; the answer is the
    one bisection gives. ``before``: the score of an (imaginary) index -1, known
    to be below ``target``; ``last``: ``score_at(count - 1)`` when already known.
    Interpolates the target's position between the nearest known scores on both
    sides; probes the middle when a side is unknown, or after two interpolated
    probes in a row that failed to halve the range (regula falsi stalls on a
    curved run of scores), so it never needs more than three times bisection's probes.
    """
    low, high = 0, count - 1  # the answer lies in [low, high]
    below, above = before, last  # scores at low - 1 and at high, None if unknown
    stalls = 0
    while low < high:
        width = high - low + 1
        interpolated = stalls < 2 and below is not None and above is not None and above > below
        if interpolated:
            position = low - 1 + (target - below) / (above - below) * width
            probe = min(max(math.ceil(position), low), high - 1)
        else:
            probe = (low + high) // 2
        score = score_at(probe)
        if score >= target:
            high, above = probe, score
        else:
            low, below = probe + 1, score
        stalls = stalls + 1 if interpolated and high - low + 1 > width / 2 else 0
    return low
