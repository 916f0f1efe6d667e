import math

import pytest

from pillow_rgc import bdrate

RATE = [0.15, 0.27, 0.36, 0.45, 0.61, 0.74, 0.86, 1.01, 1.21, 1.51, 2.19]
QUALITY = [7.7, 10.1, 11.7, 12.7, 14.2, 15.3, 16.0, 16.8, 17.9, 19.3, 21.3]


def test_identical_curves_give_zero():
    assert bdrate.bd_rate(RATE, QUALITY, RATE, QUALITY) == pytest.approx(0.0, abs=1e-12)


def test_half_the_rate_gives_minus_50_percent():
    half = [r / 2 for r in RATE]
    assert bdrate.bd_rate(RATE, QUALITY, half, QUALITY) == pytest.approx(-0.5, abs=1e-9)
    assert bdrate.bd_rate(half, QUALITY, RATE, QUALITY) == pytest.approx(1.0, abs=1e-9)


def test_no_overlap_gives_none():
    assert bdrate.bd_rate(RATE, QUALITY, RATE, [q + 100 for q in QUALITY]) is None


def test_rate_at_quality_interpolates_log_rate():
    r = bdrate.rate_at_quality([0.1, 0.4], [10.0, 20.0], 15.0)
    assert r == pytest.approx(0.2)
    assert bdrate.rate_at_quality([0.1, 0.4], [10.0, 20.0], 25.0) is None
    assert bdrate.rate_at_quality([0.1, 0.4], [10.0, 20.0], 5.0) is None


def test_ms_ssim_db():
    assert bdrate.ms_ssim_db(0.9) == pytest.approx(10.0)
    assert bdrate.ms_ssim_db(1.0) == math.inf


def test_sensitivity_is_smallest_at_points_beyond_the_shared_range():
    # The test curve reaches beyond the reference at both ends: its end points shape the fit little,
    # while a gain in the middle of the shared range lowers the BD-rate.
    rate = [0.05, *RATE, 4.0]
    quality = [QUALITY[0] - 3, *[q + 0.5 for q in QUALITY], QUALITY[-1] + 4]
    changes = bdrate.bd_rate_sensitivity(RATE, QUALITY, rate, quality)
    assert len(changes) == len(rate)
    middle = changes[len(rate) // 2]
    assert middle < 0
    assert abs(changes[0]) < abs(middle) and abs(changes[-1]) < abs(middle)
    stepped = bdrate.bd_rate(RATE, QUALITY, rate, [q + 0.1 * (i == 6) for i, q in enumerate(quality)])
    assert changes[6] == pytest.approx(stepped - bdrate.bd_rate(RATE, QUALITY, rate, quality))


def test_sensitivity_is_none_without_overlap():
    assert bdrate.bd_rate_sensitivity(RATE, QUALITY, RATE, [q + 100 for q in QUALITY]) == [None] * len(RATE)
