"""A differentiable price of the bits a codec writes, so that training can weigh rate beside distortion.

A file's bits are coded with the model's context prior (``prior_coding``,
fitted once the network is trained): a bit the prior predicts costs little, a
bit left to chance costs one. The plain loss sees none of that; every bit is
free to it. :class:`BitPrice` stands in for the prior during training: the
same logistic model on the same contexts (spec: "Prior-coded payload",
*Features*), in torch and fitted alongside the codec by Adam. With its price
in the loss (``train --rate-weight``) the encoder can make the bits it does
not need predictable, from contexts the prior will see, so that the prior
fitted after training codes them in less than a bit.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from ..prior_coding import (
    ALL_CHANNEL_HISTORY,
    CROSS,
    DIAGONAL,
    RING,
    SAME_CHANNEL_HISTORY,
    WEIGHT_UNIT,
    ContextPrior,
    decoded_before,
    layout,
    phase_of,
)


def _at(plane: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """``plane`` (N, C, h, w) moved so that each cell holds the value at (y + dy, x + dx); 0 outside."""
    h, w = plane.shape[-2:]
    padded = F.pad(plane, (1, 1, 1, 1))
    return padded[..., 1 + dy : 1 + dy + h, 1 + dx : 1 + dx + w]


def _sum_at(plane: torch.Tensor, offsets) -> torch.Tensor:
    return sum(_at(plane, dy, dx) for dy, dx in offsets)


def _phases(h: int, w: int) -> torch.Tensor:
    """The phase (0..3) of every cell of the 2x2 lattice (``prior_coding.phase_of``)."""
    return torch.from_numpy(phase_of(h, w))


def _known_neighbours(h: int, w: int, offsets) -> torch.Tensor:
    """(len(offsets), h, w): 1 where the neighbour at the offset is decoded before the cell
    (``prior_coding.decoded_before``); 0 elsewhere and outside the plane."""
    phases, inside = _phases(h, w), torch.ones(1, 1, h, w)
    masks = []
    for offset in offsets:
        earlier = torch.tensor([float(offset in decoded_before(phase, offsets)) for phase in range(4)])
        masks.append(earlier[phases] * _at(inside, *offset)[0, 0])
    return torch.stack(masks)


class BitPrice(nn.Module):
    """The context prior's logistic model per (iteration, channel), as differentiable tensors.

    Later iterations share the last one's weights, as the prior's do.
    """

    def __init__(self, channels: int, iterations: int):
        super().__init__()

        def weights(*shape: int) -> nn.Parameter:  # every bit starts at probability 1/2: one bit each
            return nn.Parameter(torch.zeros(iterations, channels, *shape))

        self.history = weights(SAME_CHANNEL_HISTORY)  # s[t-k, c], k = 1..8
        self.previous = weights(ALL_CHANNEL_HISTORY * channels)  # s[t-k, c'] at the cell, k = 1..3
        self.ring = weights(len(RING))  # s[t-1, c] at the 8 neighbours
        self.ring_sums = weights(channels)  # sum of the 8 neighbours of s[t-1, c']
        self.lower = weights(3, channels)  # s[t, c'], its cross and diagonal sums, c' < c
        self.phase = weights(4)  # one per phase of the 2x2 lattice
        self.near = weights(2)  # the same channel's decoded cross and diagonal neighbours
        self.register_buffer("below", torch.tril(torch.ones(channels, channels), -1), persistent=False)

    @classmethod
    def from_prior(cls, prior: ContextPrior) -> BitPrice:
        """The price a fitted context prior puts on bits (a model's ``context_prior.bin``): the start
        of a price that then follows the codec's bits."""
        price = cls(prior.channels, prior.iterations)
        weights = torch.from_numpy(prior.weights.astype("float32") / WEIGHT_UNIT)
        start = 0
        with torch.no_grad():
            for name, size in layout(prior.channels):
                group = weights[..., start : start + size]
                if name == "lower":  # (c, c' x 3) in the file, (c, 3, c') here
                    group = group.reshape(prior.iterations, prior.channels, prior.channels, 3).transpose(2, 3)
                getattr(price, name).copy_(group.reshape(getattr(price, name).shape))
                start += size
        return price

    def logits(self, bitplanes: list[torch.Tensor], t: int) -> torch.Tensor:
        """The logit of every bit of iteration ``t`` (N, C, h, w), from the bits the prior sees before it."""
        bits = bitplanes[t]
        h, w = bits.shape[-2:]
        m = min(t, self.history.shape[0] - 1)
        earlier = [
            bitplanes[t - k] if k <= t else torch.zeros_like(bits) for k in range(1, SAME_CHANNEL_HISTORY + 1)
        ]
        z = torch.einsum("ck,nkchw->nchw", self.history[m], torch.stack(earlier, dim=1))
        z = z + torch.einsum(
            "oi,nihw->nohw", self.previous[m], torch.cat(earlier[:ALL_CHANNEL_HISTORY], dim=1)
        )
        z = z + sum(
            weight[None, :, None, None] * _at(earlier[0], dy, dx)
            for weight, (dy, dx) in zip(self.ring[m].T, RING)
        )
        z = z + torch.einsum("oi,nihw->nohw", self.ring_sums[m], _sum_at(earlier[0], RING))
        lower = self.lower[m] * self.below[:, None, :]
        for k, plane in enumerate((bits, _sum_at(bits, CROSS), _sum_at(bits, DIAGONAL))):
            z = z + torch.einsum("oi,nihw->nohw", lower[:, k], plane)
        z = z + self.phase[m][:, _phases(h, w)]
        for k, offsets in enumerate((CROSS, DIAGONAL)):
            known = _known_neighbours(h, w, offsets)
            neighbours = torch.stack([_at(bits, dy, dx) for dy, dx in offsets], dim=2)  # (N, C, 4, h, w)
            z = z + self.near[m][:, k, None, None] * (neighbours * known).sum(dim=2)
        return z

    def nats(self, bitplanes: list[torch.Tensor]) -> list[torch.Tensor]:
        """-log p of every bit, in nats: one tensor per bitplane (N, channels, h, w) in {-1, +1}.

        Differentiable in the bits too: through a straight-through binarizer the price reaches the codes.
        """
        costs = []
        for t, bits in enumerate(bitplanes):
            logits = self.logits(bitplanes, t)
            costs.append(F.softplus(logits) - (bits + 1) / 2 * logits)
        return costs

    def forward(
        self, bitplanes: list[torch.Tensor], pixels: int, sending: list[torch.Tensor] | None = None
    ) -> torch.Tensor:
        """Bits per pixel of each iteration's bitplane, shape (iterations,); ``pixels`` of one picture.

        ``sending`` (one (N, 1, h, w) mask of 0 and 1 per bitplane, ``ResidualCodec``'s
        ``sending_out``): only the cells that send are paid for.
        """
        costs = self.nats(bitplanes)
        if sending is not None:
            costs = [nats * cells for nats, cells in zip(costs, sending)]
        return torch.stack([nats.sum() / (math.log(2) * nats.shape[0] * pixels) for nats in costs])


LEARNING_RATE = 1e-3
"""Adam's rate for the price's weights: constant, so that the price keeps up with the codec's bits."""


def rate_term(price: BitPrice, bitplanes: list[torch.Tensor], pixels: int, weights: Sequence[float]):
    """(the rate term of the loss, the bits per pixel priced: mean over iterations).

    The price's own weights always learn the bits (they are fitted as the prior will be);
    the codec pays each iteration's price times its entry of ``weights`` (one per bitplane),
    averaged over iterations. All 0: the price is measured, not paid. Weights on the last
    iterations alone make the tail's bits cheaper without touching the early ones.
    """
    fitted = price([bits.detach() for bits in bitplanes], pixels).mean()
    if not any(weights):
        return fitted, fitted.item()
    paid = (price(bitplanes, pixels) * torch.tensor(weights, dtype=torch.float32)).mean()
    return fitted + paid, fitted.item()
