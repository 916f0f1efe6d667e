"""Rate-distortion curve helpers: MS-SSIM in dB, rate at a quality, Bjontegaard delta rate.

Pure functions on sequences of numbers (numpy only); used by benchmarks/rd.py and ``rgc evaluate``.
A curve is given as parallel sequences of rate (bits per pixel) and quality
(MS-SSIM in dB or PSNR in dB), one point per codec setting.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

__all__ = ["bd_rate", "bd_rate_sensitivity", "ms_ssim_db", "rate_at_quality"]


def ms_ssim_db(ms_ssim: float) -> float:
    """MS-SSIM on a decibel scale: -10 log10(1 - MS-SSIM); ``inf`` at 1."""
    if ms_ssim >= 1.0:
        return math.inf
    return -10.0 * math.log10(1.0 - ms_ssim)


def _clean(rate: Sequence[float], quality: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    r = np.asarray(rate, dtype=np.float64)
    q = np.asarray(quality, dtype=np.float64)
    if r.shape != q.shape or r.ndim != 1:
        raise ValueError("rate and quality must be 1-D sequences of the same length")
    keep = np.isfinite(r) & np.isfinite(q) & (r > 0)
    return r[keep], q[keep]


def rate_at_quality(rate: Sequence[float], quality: Sequence[float], target: float) -> float | None:
    """Rate at which the curve first reaches ``target`` quality, or None if it never spans it.

    Points are taken in order of increasing rate; log(rate) is interpolated
    linearly in quality on the first segment that climbs from below ``target``
    to at least ``target``. None when every point is already above the target
    or none reaches it (no extrapolation).
    """
    r, q = _clean(rate, quality)
    order = np.argsort(r, kind="stable")
    r, q = r[order], q[order]
    if r.size == 0 or q[0] >= target:
        return float(r[0]) if r.size and q[0] == target else None
    for i in range(1, r.size):
        if q[i] >= target:
            q0, q1 = q[i - 1], q[i]
            t = (target - q0) / (q1 - q0)
            return float(math.exp(math.log(r[i - 1]) + t * (math.log(r[i]) - math.log(r[i - 1]))))
    return None


def bd_rate(
    rate_ref: Sequence[float],
    quality_ref: Sequence[float],
    rate_test: Sequence[float],
    quality_test: Sequence[float],
) -> float | None:
    """Bjontegaard delta rate of the test curve against the reference, as a fraction.

    Fits log(rate) as a cubic polynomial of quality for each curve (a lower
    degree when a curve has fewer than 4 points), integrates both fits over
    the overlapping quality interval and returns exp(mean difference) - 1:
    -0.3 means the test codec needs 30 % fewer bits for the same quality.
    None when the quality ranges do not overlap or a curve has < 2 points.
    """
    r1, q1 = _clean(rate_ref, quality_ref)
    r2, q2 = _clean(rate_test, quality_test)
    if r1.size < 2 or r2.size < 2:
        return None
    lo = max(q1.min(), q2.min())
    hi = min(q1.max(), q2.max())
    if not hi > lo:
        return None
    integrals = []
    for r, q in ((r1, q1), (r2, q2)):
        degree = min(3, r.size - 1)
        poly = np.polynomial.Polynomial.fit(q, np.log(r), degree)
        antideriv = poly.integ()
        integrals.append(antideriv(hi) - antideriv(lo))
    mean_diff = (integrals[1] - integrals[0]) / (hi - lo)
    return float(math.expm1(mean_diff))


def bd_rate_sensitivity(
    rate_ref: Sequence[float],
    quality_ref: Sequence[float],
    rate_test: Sequence[float],
    quality_test: Sequence[float],
    step: float = 0.1,
) -> list[float | None]:
    """For each test point: how much the BD-rate moves when that point alone gains ``step`` quality.

    A Bjontegaard rate is the mean over the quality range both curves span, so it rests
    on some points more than on others, and a point at the top of the range can even
    count against the test curve (its gain stretches the range to where the test codec
    is weaker). Negative entries are the points whose gain lowers the BD-rate; training
    can weigh iterations by them (``train --iteration-weights``).
    """
    base = bd_rate(rate_ref, quality_ref, rate_test, quality_test)
    changes = []
    for index in range(len(quality_test)):
        raised = list(quality_test)
        raised[index] += step
        moved = bd_rate(rate_ref, quality_ref, rate_test, raised)
        changes.append(None if base is None or moved is None else moved - base)
    return changes
