"""A differentiable price of the bits a codec writes, so that training can weigh rate beside distortion.

A file's bits are coded with the model's context prior (``prior_coding``,
fitted once the network is trained): a bit the prior predicts costs little, a
bit left to chance costs one. The plain loss sees none of that; every bit is
free to it. :class:`BitPrice` stands in for the prior during training: a
logistic model on a subset of the prior's contexts (the previous iterations'
bits of every channel at the cell and its 8 neighbours, the lower channels'
bits at the cell), fitted alongside the codec. With its price in the loss
(``train --rate-weight``) the encoder can make the bits it does not need
predictable, which the prior then codes in less than a bit.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

HISTORY = 3
"""Earlier iterations whose bits (every channel, 3x3 neighbourhood) a bit's price depends on."""


class BitPrice(nn.Module):
    """Logistic models of each iteration's bits, one per iteration (later ones share the last's)."""

    def __init__(self, channels: int, iterations: int):
        super().__init__()
        self.earlier = nn.ModuleList(
            nn.Conv2d(HISTORY * channels, channels, 3, padding=1) for _ in range(iterations)
        )
        self.lower = nn.Parameter(torch.zeros(iterations, channels, channels))
        self.register_buffer("below", torch.tril(torch.ones(channels, channels), -1), persistent=False)
        with torch.no_grad():  # every bit starts at probability 1/2: one bit each
            for conv in self.earlier:
                conv.weight.zero_()
                conv.bias.zero_()

    def nats(self, bitplanes: list[torch.Tensor]) -> list[torch.Tensor]:
        """-log p of every bit, in nats: one tensor per bitplane (N, channels, h, w) in {-1, +1}.

        Differentiable in the bits too: through a straight-through binarizer the price reaches the codes.
        """
        costs = []
        for t, bits in enumerate(bitplanes):
            model = min(t, len(self.earlier) - 1)
            earlier = [bitplanes[t - k] if k <= t else torch.zeros_like(bits) for k in range(1, HISTORY + 1)]
            logits = self.earlier[model](torch.cat(earlier, dim=1))
            logits = logits + torch.einsum("oc,nchw->nohw", self.lower[model] * self.below, bits)
            costs.append(F.softplus(logits) - (bits + 1) / 2 * logits)
        return costs

    def forward(self, bitplanes: list[torch.Tensor], pixels: int) -> torch.Tensor:
        """Bits per pixel of each iteration's bitplane, shape (iterations,); ``pixels`` of one picture."""
        return torch.stack(
            [nats.sum() / (math.log(2) * nats.shape[0] * pixels) for nats in self.nats(bitplanes)]
        )


LEARNING_RATE = 1e-3
"""Adam's rate for the price's weights: constant, so that the price keeps up with the codec's bits."""


def rate_term(price: BitPrice, bitplanes: list[torch.Tensor], pixels: int, weight: float):
    """(the rate term of the loss, the bits per pixel priced: mean over iterations).

    The price's own weights always learn the bits (they are fitted as the prior will be);
    the codec pays the price only with ``weight`` (0: the price is measured, not paid).
    """
    fitted = price([bits.detach() for bits in bitplanes], pixels).mean()
    if not weight:
        return fitted, fitted.item()
    paid = price(bitplanes, pixels).mean()
    return fitted + weight * paid, paid.item()
