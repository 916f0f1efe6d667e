"""Make a trained model's 3x3 GRU input convolutions depthwise-separable, as the start of a fine-tune.

Usage::

    python -m pillow_rgc.training.separable weights/rgc-fast-1 --grus 0,1 [--encoder-grus 0,1,2] \
        --out runs/sep/init.pt

then train from it with ``--init runs/sep/init.pt``. Why: in a one-shot decoder
the two GRUs' 3x3 input convolutions are most of the multiply-accumulates of
every iteration, and the encoder's three GRUs' are most of an encode (MobileNets'
observation); a depthwise 3x3 convolution followed by a 1x1 one sees the same
neighbourhood for a ninth of the work per input channel. Unlike :mod:`.widen`
this changes what the network computes, so it starts the fine-tune from the
closest separable convolution rather than from scratch: for each input channel,
the 3x3 taps of all its output channels form an (outputs x 9) matrix, and its
best rank-1 approximation (the leading singular vectors) gives that channel's
depthwise kernel and its column of the 1x1 convolution (Jaderberg et al. 2014,
"Speeding up convolutional neural networks with low rank expansions").
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import torch

from .model import Architecture, ResidualCodec
from .train import load_codec, save_weights


def separable_architecture(arch: Architecture, grus: list[int], encoder_grus: list[int] = ()) -> Architecture:
    """``arch`` with the input convolutions of decoder GRUs ``grus`` and encoder GRUs ``encoder_grus``
    as depthwise 3x3 then 1x1."""
    decoder = _split_kernels("decoder", arch.decoder_input_kernels, arch.input_spatial, grus)
    encoder = _split_kernels("encoder", arch.encoder_input_kernels, arch.encoder_spatial, encoder_grus)
    return dataclasses.replace(
        arch,
        decoder_input_kernels=decoder[0],
        decoder_input_spatial=decoder[1],
        encoder_input_kernels=encoder[0],
        encoder_input_spatial=encoder[1] if encoder_grus or arch.encoder_input_spatial else (),
    )


def _split_kernels(part: str, kernels, spatial, grus) -> tuple[tuple[int, ...], tuple[int, ...]]:
    kernels, spatial = list(kernels), list(spatial)
    for index in grus:
        if kernels[index] != 3 or spatial[index] != 1:
            raise ValueError(f"{part} GRU {index} has no plain 3x3 input convolution to split")
        kernels[index], spatial[index] = 1, 3
    return tuple(kernels), tuple(spatial)


def rank_one_factors(weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, float]:
    """The 1x1 weight (O, I, 1, 1) and depthwise weight (I, 1, k, k) closest to ``weight`` (O, I, k, k).

    Also returns the relative error: the Frobenius norm of what the factors miss over the weight's.
    """
    outputs, inputs, k, _ = weight.shape
    per_input = weight.permute(1, 0, 2, 3).reshape(inputs, outputs, k * k).double()
    u, s, vh = torch.linalg.svd(per_input, full_matrices=False)
    pointwise = (u[:, :, 0] * s[:, :1]).T  # (O, I)
    taps = vh[:, 0, :]  # (I, k*k), unit norm
    flip = torch.where(taps.sum(dim=1) < 0, -1.0, 1.0).double()  # a positive sum of taps, for readability
    pointwise, taps = pointwise * flip, taps * flip[:, None]
    approx = pointwise.T[:, :, None] * taps[:, None, :]
    error = float(torch.linalg.norm(per_input - approx) / torch.linalg.norm(per_input))
    return (
        pointwise[:, :, None, None].float().contiguous(),
        taps.reshape(inputs, 1, k, k).float().contiguous(),
        error,
    )


@torch.no_grad()
def make_separable(
    codec: ResidualCodec, grus: list[int], encoder_grus: list[int] = ()
) -> tuple[ResidualCodec, list[float]]:
    """A codec whose decoder GRUs ``grus`` and encoder GRUs ``encoder_grus`` have separable input
    convolutions, every other weight kept; with the relative error of each factorisation (decoder's first)."""
    separable = ResidualCodec(separable_architecture(codec.arch, grus, encoder_grus))
    state = codec.state_dict()
    errors = []
    cells = [f"decoder.rnns.{index}" for index in grus] + [f"encoder.rnns.{index}" for index in encoder_grus]
    for cell in cells:
        conv, depthwise = f"{cell}.input_conv.weight", f"{cell}.input_spatial.weight"
        state[conv], state[depthwise], error = rank_one_factors(state[conv])
        errors.append(error)
    separable.load_state_dict(state)
    return separable, errors


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("weights", help="weights.pt or model folder")
    p.add_argument("--grus", default="0,1", help="decoder GRUs whose input convolutions to split")
    p.add_argument("--encoder-grus", default="", help="encoder GRUs whose input convolutions to split")
    p.add_argument("--out", required=True, help="weights file to write (train from it with --init)")
    args = p.parse_args(argv)
    codec = load_codec(args.weights)
    grus = [int(g) for g in args.grus.split(",") if g]
    encoder_grus = [int(g) for g in args.encoder_grus.split(",") if g]
    separable, errors = make_separable(codec, grus, encoder_grus)
    save_weights(separable, step=0, iterations=0, path=Path(args.out))
    before, after = codec.arch.macs_per_pixel(), separable.arch.macs_per_pixel()
    print(f"{args.out}: {json.dumps(separable.arch.to_json())}")
    names = [f"decoder GRU {i}" for i in grus] + [f"encoder GRU {i}" for i in encoder_grus]
    for name, error in zip(names, errors):
        print(f"{name}: rank-1 factors miss {error:.1%} of the input convolution (Frobenius)")
    for part in ("encoder", "decoder"):
        print(f"{part} MACs/pixel/iteration: {before[part]:,.0f} -> {after[part]:,.0f}")


if __name__ == "__main__":
    main()
