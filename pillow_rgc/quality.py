"""Image quality measures: MS-SSIM and PSNR on 8-bit images, in numpy.

The writer's rate control, which scores one source against many reconstructions,
may run each scale in onnxruntime instead (``MsSsimReference(on_graph=True)``).

``ms_ssim`` reproduces ``pytorch_msssim.ms_ssim(x, y, data_range=255)`` (the
implementation CompressAI and most learned-compression papers report), so
numbers are comparable with the literature; see DESIGN.md section 5.

``JPEG_QUALITY_TO_MS_SSIM`` maps Pillow's familiar JPEG quality scale to the
MS-SSIM JPEG typically reaches at that quality; the rgc writer uses it for
``quality`` values above 1 (DESIGN.md section 4).
"""

from __future__ import annotations

import math

import numpy as np

from . import ssim_onnx

__all__ = [
    "JPEG_QUALITY_TO_MS_SSIM",
    "MS_SSIM_WEIGHTS",
    "MsSsimReference",
    "ms_ssim",
    "ms_ssim_for_jpeg_quality",
    "ms_ssim_scales",
    "psnr",
]

#: Per-scale exponents of MS-SSIM (Wang et al. 2003), finest scale first.
MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)

_WIN_SIZE = 11
_SIGMA = 1.5
_K1 = 0.01
_K2 = 0.03
_DATA_RANGE = 255.0
_C1 = (_K1 * _DATA_RANGE) ** 2
_C2 = (_K2 * _DATA_RANGE) ** 2


def _gaussian(size: int, sigma: float = _SIGMA) -> np.ndarray:
    coords = np.arange(size, dtype=np.float64) - size // 2
    g = np.exp(-(coords**2) / (2.0 * sigma**2))
    return g / g.sum()


def _filter_axis(x: np.ndarray, g: np.ndarray, axis: int) -> np.ndarray:
    """'Valid' correlation of ``x`` with the symmetric kernel ``g`` along ``axis``.

    Sums shifted slices, pairing the taps that share a weight, so an 11-tap
    pass costs 6 multiplies and 10 adds per output element, in place.
    """
    k = g.size
    n = x.shape[axis] - k + 1

    def part(i: int) -> np.ndarray:
        idx = [slice(None)] * x.ndim
        idx[axis] = slice(i, i + n)
        return x[tuple(idx)]

    half = k // 2
    out = np.multiply(part(half), g[half])
    tmp = np.empty_like(out)
    for i in range(half):
        np.add(part(i), part(k - 1 - i), out=tmp)
        tmp *= g[i]
        out += tmp
    return out


_SHIFT = 127.5


def _filtered_statistics(x: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Local mean and mean square of one (C, H, W) float64 image: (2, C, H', W') float32.

    The filtering runs in float32 (as pytorch_msssim does) on values shifted by
    -127.5: variances do not change, and E[x^2] - E[x]^2 keeps its precision
    (about 1e-6 on the result); means are restored by the caller.
    """
    stack = np.empty((2, *x.shape), dtype=np.float32)
    np.subtract(x, _SHIFT, out=stack[0])
    np.multiply(stack[0], stack[0], out=stack[1])
    return _filter_2d(stack, g)


def _filter_2d(stack: np.ndarray, g: np.ndarray) -> np.ndarray:
    g32 = g.astype(np.float32)
    return _filter_axis(_filter_axis(stack, g32, axis=2), g32, axis=3)


def _ssim_cs(
    x_stats: np.ndarray, x: np.ndarray, y: np.ndarray, g: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel SSIM and contrast-structure means; ``x``, ``y`` are (C, H, W) float64.

    ``x_stats`` are ``x``'s :func:`_filtered_statistics`, computed once when
    one reference is scored against many images (the writer's rate control).
    Local statistics come from a separable Gaussian window with 'valid' borders.
    """
    stack = np.empty((3, *y.shape), dtype=np.float32)
    np.subtract(y, _SHIFT, out=stack[0])
    np.multiply(stack[0], stack[0], out=stack[1])
    np.subtract(x, _SHIFT, out=stack[2])
    stack[2] *= stack[0]
    my, myy, mxy = _filter_2d(stack, g)
    mx, mxx = x_stats.copy()
    # sigma_x^2 + sigma_y^2 + C2 and 2 sigma_xy + C2, reusing the buffers.
    mxx += myy
    mxx -= mx * mx
    mxx -= my * my
    mxx += _C2
    mxy -= mx * my
    mxy *= 2.0
    mxy += _C2
    cs_map = mxy
    cs_map /= mxx
    mx += _SHIFT
    my += _SHIFT
    lum = mx * my
    lum *= 2.0
    lum += _C1
    mx *= mx
    my *= my
    mx += my
    mx += _C1
    lum /= mx
    lum *= cs_map
    ssim_map = lum
    return (
        ssim_map.mean(axis=(1, 2), dtype=np.float64),
        cs_map.mean(axis=(1, 2), dtype=np.float64),
    )


def _pool2(x: np.ndarray) -> np.ndarray:
    """2x2 average pooling of (C, H, W) as ``F.avg_pool2d(x, 2, padding=[H % 2, W % 2])``.

    An odd side is zero-padded (the pad counts in the average); only the
    leading pad is ever inside a window, so prepend one zero row/column.
    """
    _, h, w = x.shape
    if h % 2 or w % 2:
        x = np.pad(x, ((0, 0), (h % 2, 0), (w % 2, 0)))
    pooled = x[:, 0::2, 0::2] + x[:, 1::2, 0::2]  # strided sums: 9x faster than reshape().mean()
    pooled += x[:, 0::2, 1::2]
    pooled += x[:, 1::2, 1::2]
    pooled *= 0.25
    return pooled


def ms_ssim_scales(height: int, width: int) -> int:
    """Number of MS-SSIM scales used for an image of this size (1 to 5).

    A scale count ``s`` is used when the smaller side exceeds ``10 * 2**(s-1)``
    (the condition pytorch_msssim asserts for 5 scales: smaller side > 160).
    """
    side = min(height, width)
    scales = 1
    while scales < len(MS_SSIM_WEIGHTS) and side > (_WIN_SIZE - 1) * 2**scales:
        scales += 1
    return scales


def _as_chw(a) -> np.ndarray:
    arr = np.asarray(a)
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.ndim != 3:
        raise ValueError(f"expected an HxW or HxWxC image, got shape {arr.shape}")
    return np.ascontiguousarray(np.moveaxis(arr, 2, 0), dtype=np.float64)


def ms_ssim(a, b) -> float:
    """Multi-scale SSIM of two 8-bit images, in [0, 1] (1 when identical).

    ``a`` and ``b`` are arrays (or anything ``np.asarray`` accepts, e.g. PIL
    images) of the same shape, HxW or HxWxC, with values 0..255 (uint8).

    Definition (matches ``pytorch_msssim.ms_ssim(x, y, data_range=255)``
    within 1e-5 on the val photos, clean and degraded; both filter in
    float32): 11x11 Gaussian window, sigma 1.5, applied separably with
    'valid' borders; K1 = 0.01, K2 = 0.03, data range 255; scale weights
    (0.0448, 0.2856, 0.3001, 0.2363, 0.1333), used as given although they
    sum to 1.0001, as the reference does; between scales a
    2x2 average pool (an odd side gets one leading zero row/column, as
    ``avg_pool2d(padding=side % 2)`` does). Per channel, the contrast-structure
    means of scales 1..4 and the SSIM mean of the last scale are clamped at 0
    (relu), raised to their weights and multiplied; the result is the mean
    over channels.

    Small images (the reference implementation refuses them):

    - 5 scales need the smaller side > 160 px. Otherwise use the largest
      number of scales ``s`` with smaller side > ``10 * 2**(s-1)`` (4 scales
      above 80 px, 3 above 40, 2 above 20, 1 from 11 px), taking the first
      ``s`` weights renormalised to sum 1; the last used scale contributes
      SSIM, the others contrast-structure. One scale is plain SSIM (clamped
      at 0).
    - Smaller side below 11 px: one scale with a square Gaussian window whose
      size is the largest odd number <= the smaller side (sigma stays 1.5,
      the window is truncated and renormalised).
    - 1x1 images: the window is the single pixel, so the variances vanish and
      the value is the SSIM luminance term ``(2xy + C1) / (x^2 + y^2 + C1)``
      per channel: 1.0 when equal.
    """
    return MsSsimReference(a).score(b)


class MsSsimReference:
    """One reference image, scored against many others: :func:`ms_ssim` with the reference's work done once.

    The writer's rate control compares the same source with a new
    reconstruction after every iteration; the reference's pyramid and its
    local means and mean squares are the same each time (two of the five
    filtered planes per scale). Scores equal :func:`ms_ssim`'s exactly; with
    ``on_graph=True`` (:mod:`ssim_onnx`, 2.7x faster) to within 1e-7.
    """

    def __init__(self, a, on_graph: bool = False):
        x = _as_chw(a)
        self.shape = np.shape(a)
        _, h, w = x.shape
        if h == 0 or w == 0:
            raise ValueError("empty image")
        side = min(h, w)
        if side < _WIN_SIZE:
            self.window = _gaussian(side if side % 2 else side - 1)
            scales = 1
        else:
            self.window = _gaussian(_WIN_SIZE)
            scales = ms_ssim_scales(h, w)
        weights = np.asarray(MS_SSIM_WEIGHTS[:scales])
        if scales < len(MS_SSIM_WEIGHTS):
            # The five reference weights sum to 1.0001 and are used as they are.
            weights = weights / weights.sum()
        self.weights = weights
        self.pyramid = [x]
        for _ in range(scales - 1):
            self.pyramid.append(_pool2(self.pyramid[-1]))
        self.statistics = [_filtered_statistics(level, self.window) for level in self.pyramid]
        self.on_graph = None
        if on_graph:
            shifted = [(level - _SHIFT).astype(np.float32)[:, None] for level in self.pyramid]
            self.on_graph = shifted, ssim_onnx.ScaleWindow(self.window)

    def score(self, b, at_least: float | None = None) -> float:
        """MS-SSIM of the reference and ``b`` (same shape), in [0, 1].

        With ``at_least``, a score the coarser scales already put below it comes
        back early, unfinished: the product of those scales' factors, an upper
        bound that is still below ``at_least`` (the finest scale's contrast-structure
        factor is at most 1). The finest scale is three quarters of the work, and
        the writer's rate control only asks whether its target is reached.
        """
        y = _as_chw(b)
        if y.shape != self.pyramid[0].shape:
            raise ValueError(f"image shapes differ: {self.shape} vs {np.shape(b)}")
        if np.array_equal(self.pyramid[0], y):
            return 1.0  # exactly, without float32 rounding
        levels = [y]
        for _ in range(len(self.pyramid) - 1):
            levels.append(_pool2(levels[-1]))
        factors = [self._factor(i, level) for i, level in enumerate(levels) if i > 0]
        if at_least is not None and factors:
            bound = self._combine(factors, self.weights[1:])
            if bound * (1 + _BOUND_SLACK) < at_least:
                return bound
        return self._combine([self._factor(0, y), *factors], self.weights)

    def _factor(self, scale: int, y: np.ndarray) -> np.ndarray:
        """Per-channel factor of one scale: contrast-structure, SSIM at the coarsest; clamped at 0."""
        if self.on_graph is None:
            ssim_c, cs_c = _ssim_cs(self.statistics[scale], self.pyramid[scale], y, self.window)
        else:
            shifted, window = self.on_graph
            ssim_c, cs_c = ssim_onnx.ssim_cs(shifted[scale], self.statistics[scale], y, window)
        return np.maximum(ssim_c if scale == len(self.pyramid) - 1 else cs_c, 0.0)

    @staticmethod
    def _combine(factors: list[np.ndarray], weights: np.ndarray) -> float:
        per_channel = np.prod(np.stack(factors) ** weights[:, None], axis=0)
        return float(min(max(per_channel.mean(), 0.0), 1.0))


_BOUND_SLACK = 1e-6
"""Room for float32 rounding in the finest factor, which may then exceed 1 by about 1e-7."""


def psnr(a, b) -> float:
    """PSNR in dB over all pixels and channels, peak 255; ``inf`` when identical."""
    x = np.asarray(a, dtype=np.float64)
    y = np.asarray(b, dtype=np.float64)
    if x.shape != y.shape:
        raise ValueError(f"image shapes differ: {x.shape} vs {y.shape}")
    mse = float(np.mean((x - y) ** 2))
    if mse == 0.0:
        return math.inf
    return 10.0 * math.log10(_DATA_RANGE**2 / mse)


# Pillow JPEG quality -> mean MS-SSIM of the decoded image over the 10 photos of
# /work/shared/data/val, measured by benchmarks/jpeg_quality_table.py
# (`python benchmarks/jpeg_quality_table.py /work/shared/data/val`): Pillow 13.0.0 JPEG,
# optimize=True, default 4:2:0 subsampling. Mean bpp in comments. Do not edit by hand.
JPEG_QUALITY_TO_MS_SSIM: tuple[tuple[int, float], ...] = (
    (1, 0.75638),  # 0.097 bpp
    (2, 0.75644),  # 0.097 bpp
    (3, 0.76766),  # 0.107 bpp
    (5, 0.83304),  # 0.152 bpp
    (10, 0.90259),  # 0.267 bpp
    (15, 0.93248),  # 0.364 bpp
    (20, 0.94686),  # 0.451 bpp
    (25, 0.95610),  # 0.533 bpp
    (30, 0.96224),  # 0.610 bpp
    (35, 0.96704),  # 0.686 bpp
    (40, 0.97028),  # 0.742 bpp
    (45, 0.97300),  # 0.803 bpp
    (50, 0.97503),  # 0.857 bpp
    (55, 0.97681),  # 0.912 bpp
    (60, 0.97885),  # 1.013 bpp
    (65, 0.98139),  # 1.110 bpp
    (70, 0.98375),  # 1.214 bpp
    (75, 0.98592),  # 1.333 bpp
    (80, 0.98830),  # 1.514 bpp
    (85, 0.99016),  # 1.770 bpp
    (90, 0.99268),  # 2.187 bpp
    (95, 0.99539),  # 3.087 bpp
    (98, 0.99718),  # 4.292 bpp
    (100, 0.99800),  # 5.879 bpp
)


def ms_ssim_for_jpeg_quality(q: float) -> float:
    """MS-SSIM that Pillow JPEG typically reaches at quality ``q`` (1 to 100).

    Piecewise-linear interpolation of ``JPEG_QUALITY_TO_MS_SSIM``;
    non-decreasing in ``q``.
    """
    q = float(q)
    if not 1.0 <= q <= 100.0:
        raise ValueError(f"JPEG quality must be in [1, 100], got {q}")
    qs, vals = zip(*JPEG_QUALITY_TO_MS_SSIM)
    return float(np.interp(q, qs, vals))
