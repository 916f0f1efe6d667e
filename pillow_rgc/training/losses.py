"""Training losses: L1 (the paper's) or RMSE on the residual, and a differentiable MS-SSIM.

Users and the benchmark judge the codec by MS-SSIM, which weighs structure
at several scales, while L1 alone spends bits on pixel noise. The MS-SSIM
here is the usual one (Gaussian window 11, sigma 1.5, 'valid' borders, the
five scale exponents of Wang et al. 2003) computed in torch so gradients
flow; training patches too small for five scales use the finest scales that
fit, with their exponents renormalised.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch.nn import functional as F

from ..quality import MS_SSIM_WEIGHTS

_WIN = 11
_SIGMA = 1.5
_C1 = 0.01**2
_C2 = 0.03**2


def _window(channels: int, device) -> torch.Tensor:
    coords = torch.arange(_WIN, dtype=torch.float32, device=device) - _WIN // 2
    g = torch.exp(-(coords**2) / (2 * _SIGMA**2))
    g = g / g.sum()
    return g.view(1, 1, 1, _WIN).repeat(channels, 1, 1, 1)


def _blur(x: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    c = x.shape[1]
    x = F.conv2d(x, g, groups=c)
    return F.conv2d(x, g.transpose(2, 3), groups=c)


def _ssim_cs(x: torch.Tensor, y: torch.Tensor, g: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-image, per-channel (N,C) SSIM and contrast-structure means of images in [0, 1]."""
    mu_x, mu_y = _blur(x, g), _blur(y, g)
    var_x = _blur(x * x, g) - mu_x**2
    var_y = _blur(y * y, g) - mu_y**2
    cov = _blur(x * y, g) - mu_x * mu_y
    cs = (2 * cov + _C2) / (var_x + var_y + _C2)
    luminance = (2 * mu_x * mu_y + _C1) / (mu_x**2 + mu_y**2 + _C1)
    return (luminance * cs).flatten(2).mean(2), cs.flatten(2).mean(2)


def scales_that_fit(size: int) -> int:
    """How many MS-SSIM scales an image whose smaller side is ``size`` supports."""
    levels = 1
    while levels < len(MS_SSIM_WEIGHTS) and size // 2**levels >= _WIN:
        levels += 1
    return levels


def ms_ssim(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per-image MS-SSIM of (N,3,H,W) images with values in [0, 1]."""
    levels = scales_that_fit(min(x.shape[-2:]))
    weights = torch.tensor(MS_SSIM_WEIGHTS[:levels], device=x.device)
    weights = weights / weights.sum()
    g = _window(x.shape[1], x.device)
    factors = []
    for level in range(levels):
        ssim, cs = _ssim_cs(x, y, g)
        if level == levels - 1:
            factors.append(ssim.clamp(min=1e-6))
        else:
            factors.append(cs.clamp(min=1e-6))
            x, y = F.avg_pool2d(x, 2), F.avg_pool2d(y, 2)
    per_channel = torch.prod(torch.stack(factors) ** weights.view(-1, 1, 1), dim=0)
    return per_channel.mean(1)


def check_iteration_weights(weights: Sequence[float], iterations: int) -> None:
    """ValueError unless there is one non-negative weight per iteration and they do not sum to 0."""
    if len(weights) != iterations or min(weights) < 0 or not sum(weights) > 0:
        raise ValueError(f"need {iterations} non-negative iteration weights, not all 0; got {list(weights)}")


PIXEL_LOSSES = {
    "l1": lambda residual: residual.abs().mean(),
    "rmse": lambda residual: residual.square().mean().sqrt(),
}


def codec_loss(
    image: torch.Tensor,
    outputs: list[torch.Tensor],
    ms_ssim_weight: float,
    in_decibels: bool = False,
    iteration_weights: Sequence[float] | None = None,
    pixel_loss: str = "l1",
) -> torch.Tensor:
    """Mean over iterations of pixel(residual) + ``ms_ssim_weight`` * (1 - MS-SSIM); images in [-0.5, 0.5].

    ``in_decibels``: each term is replaced by its logarithm (over the batch), so the loss is the
    mean over iterations of the distortions in decibels, the scale on which rate-distortion
    curves and Bjontegaard rates are read. A late iteration's small error then weighs as
    much, relatively, as an early one's large error; with plain terms the early iterations
    dominate and quality stops rising after about 8 iterations of 12.

    ``iteration_weights`` (one per output; default all 1) makes it a weighted mean: the rates a
    user picks most (MS-SSIM 0.95 is two to four iterations) can count more than the tail.

    ``pixel_loss="rmse"`` puts the root mean squared error in L1's place: in decibels its
    logarithm is PSNR up to sign and scale, so training aims at the benchmark's second
    metric; a residual scaled by c moves log(RMSE) by log(c), as it moves log(L1), so the balance
    with the MS-SSIM term holds.
    """
    pixel = PIXEL_LOSSES[pixel_loss]
    weights = [1.0] * len(outputs) if iteration_weights is None else list(iteration_weights)
    check_iteration_weights(weights, len(outputs))
    total = image.new_zeros(())
    scale = torch.log if in_decibels else (lambda term: term)
    for weight, out in zip(weights, outputs):
        out = out.float()
        term = scale(pixel(image - out))
        if ms_ssim_weight:
            term = term + ms_ssim_weight * scale((1 - ms_ssim(out + 0.5, image + 0.5)).mean())
        total = total + weight * term
    return total / sum(weights)
