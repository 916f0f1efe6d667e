"""Tests for pillow_rgc.quality (MS-SSIM, PSNR, JPEG quality table) and its onnxruntime scales."""

import math

import numpy as np
import pytest

from pillow_rgc import quality
from pillow_rgc.quality import (
    JPEG_QUALITY_TO_MS_SSIM,
    ms_ssim,
    ms_ssim_for_jpeg_quality,
    ms_ssim_scales,
    psnr,
)


def synthetic(h=192, w=256):
    """Deterministic test image: RGB gradients, a sine pattern and a checkerboard patch."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    r = x * 255 / (w - 1)
    g = y * 255 / (h - 1)
    b = 128 + 100 * np.sin(x / 5) * np.cos(y / 7)
    img = np.stack([r, g, b], axis=-1)
    checker = ((x // 8 + y // 8) % 2)[..., None] * 60 - 30
    img[h // 4 : h // 2, w // 4 : w // 2] += checker[h // 4 : h // 2, w // 4 : w // 2]
    return np.clip(np.round(img), 0, 255).astype(np.uint8)


def noisy(a, amp, seed=1234):
    """Uniform integer noise in [-amp, amp]; RandomState's stream is frozen across numpy versions."""
    n = np.random.RandomState(seed).randint(-amp, amp + 1, size=a.shape)
    return np.clip(a.astype(np.int64) + n, 0, 255).astype(np.uint8)


def box_blur(a, k):
    pad = k // 2
    p = np.pad(a.astype(np.float64), ((pad, pad), (pad, pad), (0, 0)), mode="edge")
    out = np.zeros(a.shape, dtype=np.float64)
    for dy in range(k):
        for dx in range(k):
            out += p[dy : dy + a.shape[0], dx : dx + a.shape[1]]
    return np.round(out / (k * k)).astype(np.uint8)


A = synthetic()


def test_identical_images():
    assert ms_ssim(A, A) == 1.0
    assert psnr(A, A) == math.inf
    assert ms_ssim(A[..., 0], A[..., 0].copy()) == 1.0


def test_degradations_order():
    noise = [noisy(A, amp) for amp in (2, 10, 30, 60)]
    scores = [ms_ssim(A, b) for b in noise]
    psnrs = [psnr(A, b) for b in noise]
    assert 1.0 > scores[0] > scores[1] > scores[2] > scores[3] > 0.0
    assert psnrs == sorted(psnrs, reverse=True)
    blurs = [ms_ssim(A, box_blur(A, k)) for k in (3, 5, 9)]
    assert 1.0 > blurs[0] > blurs[1] > blurs[2] > 0.0


# Reference values: pytorch_msssim 1.0 ms_ssim(..., data_range=255) in float64 on these images
# (192x256, 5 scales). Our filtering runs in float32, hence the tolerance.
@pytest.mark.parametrize(
    ("amp", "expected_ms_ssim", "expected_psnr"),
    [
        (5, 0.990188411537179, 38.18132458342399),
        (20, 0.9063470624907276, 26.786555771100193),
        (50, 0.7316585867562733, 19.14678771327404),
    ],
)
def test_pinned_values(amp, expected_ms_ssim, expected_psnr):
    b = noisy(A, amp)
    assert ms_ssim(A, b) == pytest.approx(expected_ms_ssim, abs=1e-5)
    assert psnr(A, b) == pytest.approx(expected_psnr, abs=1e-9)


def test_pinned_grayscale():
    b = noisy(A, 20)
    assert ms_ssim(A[..., 1], b[..., 1]) == pytest.approx(0.8754108094089669, abs=1e-5)


def test_symmetric_and_accepts_pil():
    from PIL import Image

    b = noisy(A, 20)
    assert ms_ssim(A, b) == pytest.approx(ms_ssim(b, A), abs=1e-7)
    assert ms_ssim(Image.fromarray(A), Image.fromarray(b)) == ms_ssim(A, b)


def test_shape_mismatch():
    with pytest.raises(ValueError):
        ms_ssim(A, A[:-1])
    with pytest.raises(ValueError):
        psnr(A, A[:, :-1])


def test_scale_count():
    assert ms_ssim_scales(161, 500) == 5
    assert ms_ssim_scales(500, 160) == 4
    assert ms_ssim_scales(81, 81) == 4
    assert ms_ssim_scales(80, 300) == 3
    assert ms_ssim_scales(41, 41) == 3
    assert ms_ssim_scales(40, 40) == 2
    assert ms_ssim_scales(21, 21) == 2
    assert ms_ssim_scales(20, 20) == 1
    assert ms_ssim_scales(11, 11) == 1


@pytest.mark.parametrize(
    "shape",
    [(1, 1), (1, 1, 3), (2, 3, 3), (7, 5, 3), (5, 7), (11, 11, 3), (40, 40, 3), (100, 300, 3), (3, 400, 3)],
)
def test_small_images(shape):
    a = synthetic(max(shape[0], 2), max(shape[1], 2))[: shape[0], : shape[1]]
    if len(shape) == 2:
        a = a[..., 0]
    b = noisy(a, 25)
    value = ms_ssim(a, b)
    assert 0.0 <= value <= 1.0
    assert ms_ssim(a, a) == 1.0


def test_pinned_small():
    a = synthetic()
    assert ms_ssim(a[:100], noisy(a[:100], 20)) == pytest.approx(0.9017271674603252, abs=1e-5)  # 4 scales
    assert ms_ssim(a[:7, :5], noisy(a[:7, :5], 20)) == pytest.approx(0.5366235375404358, abs=1e-5)


def test_one_pixel_uses_luminance_term():
    c1 = (0.01 * 255) ** 2
    x, y = 100.0, 110.0
    expected = (2 * x * y + c1) / (x * x + y * y + c1)
    assert ms_ssim(np.array([[100]], np.uint8), np.array([[110]], np.uint8)) == pytest.approx(expected)
    assert ms_ssim(np.array([[7]], np.uint8), np.array([[7]], np.uint8)) == 1.0


def test_psnr_value():
    a = np.zeros((4, 4, 3), np.uint8)
    b = a.copy()
    b[0, 0, 0] = 255  # MSE = 255^2 / 48
    assert psnr(a, b) == pytest.approx(10 * math.log10(48))


def test_jpeg_table_shape():
    qs = [q for q, _ in JPEG_QUALITY_TO_MS_SSIM]
    vals = [v for _, v in JPEG_QUALITY_TO_MS_SSIM]
    assert qs[0] == 1 and qs[-1] == 100
    assert qs == sorted(set(qs))
    assert all(0.0 < v < 1.0 for v in vals)
    assert vals == sorted(vals)


def test_jpeg_quality_interpolation():
    table = dict(JPEG_QUALITY_TO_MS_SSIM)
    grid = np.linspace(1, 100, 991)
    values = [ms_ssim_for_jpeg_quality(q) for q in grid]
    assert all(b >= a for a, b in zip(values, values[1:]))
    assert min(table.values()) <= min(values) and max(values) <= max(table.values())
    for q, v in table.items():
        assert ms_ssim_for_jpeg_quality(q) == pytest.approx(v)
    assert table[50] < ms_ssim_for_jpeg_quality(52.5) < table[55]
    assert 0.9 < ms_ssim_for_jpeg_quality(75) < 0.995
    for bad in (0.5, 0, 101, float("nan")):
        with pytest.raises(ValueError):
            ms_ssim_for_jpeg_quality(bad)


def test_weights():
    assert len(quality.MS_SSIM_WEIGHTS) == 5
    assert sum(quality.MS_SSIM_WEIGHTS) == pytest.approx(1.0001)


def test_a_reference_scored_many_times_gives_ms_ssim_exactly():
    rng = np.random.default_rng(7)
    for shape in [(200, 180, 3), (90, 60), (9, 14, 3)]:
        reference = rng.integers(0, 256, shape).astype(np.uint8)
        scorer = quality.MsSsimReference(reference)
        for noise in (0, 3, 40):
            other = np.clip(reference.astype(int) + rng.integers(-noise, noise + 1, shape), 0, 255).astype(
                np.uint8
            )
            assert scorer.score(other) == quality.ms_ssim(reference, other)
        with pytest.raises(ValueError, match="shapes differ"):
            scorer.score(reference[1:])


@pytest.mark.parametrize("on_graph", [False, True])
@pytest.mark.parametrize("shape", [(192, 256, 3), (161, 170), (45, 50, 3), (12, 30, 3)])
def test_a_score_asked_to_reach_a_target_is_exact_or_an_upper_bound_below_it(shape, on_graph):
    reference = synthetic(*shape[:2])
    reference = reference if len(shape) == 3 else reference[..., 0]
    scorer = quality.MsSsimReference(reference, on_graph=on_graph)
    early = 0
    for amp in (1, 4, 10, 25, 60):
        for blur in (1, 3, 5):
            other = box_blur(noisy(reference if reference.ndim == 3 else reference[..., None], amp), blur)
            other = other if reference.ndim == 3 else other[..., 0]
            full = scorer.score(other)
            for target in (0.5, 0.8, 0.9, 0.95, 0.99):
                answer = scorer.score(other, at_least=target)
                if full >= target:
                    assert answer == full
                else:
                    assert full <= answer * (1 + 1e-6) and answer < target
                    early += answer != full
    assert early > 0 or min(shape[:2]) < 22  # one scale only: no coarser scales to stop at


@pytest.mark.parametrize("shape", [(192, 256, 3), (161, 170), (45, 51, 3), (9, 14, 3), (5, 9), (1, 1, 3)])
def test_scores_on_the_graph_agree_with_numpy(shape):
    rng = np.random.default_rng(11)
    reference = rng.integers(0, 256, shape).astype(np.uint8)
    on_graph = quality.MsSsimReference(reference, on_graph=True)
    for noise in (0, 2, 9, 40, 120):
        other = noisy(reference, noise, seed=noise)
        other = box_blur(other if other.ndim == 3 else other[..., None], 3).reshape(shape)
        assert on_graph.score(other) == pytest.approx(ms_ssim(reference, other), abs=1e-7)


def test_the_shipped_graph_is_what_its_exporter_writes():
    from pillow_rgc import ssim_onnx
    from pillow_rgc.training import export_ssim

    assert export_ssim.build().SerializeToString() == ssim_onnx.GRAPH_FILE.read_bytes()
