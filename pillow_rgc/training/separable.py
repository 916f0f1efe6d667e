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

With ``--fit-on IMAGES`` the factors are then refitted to the data instead of
the weights: on training crops, each split convolution's depthwise kernels and
1x1 weights are solved by alternating least squares for the outputs the dense
convolution gives (the inputs are the split model's own, so each fit also
absorbs the changes before it). The weights' rank-1 factors are the start.
On ``rgc-oneshot-1``'s separable fine-tune the three encoder GRUs' outputs
missed 44 / 13 / 18 % (squared) with the weights' factors and 21 / 2.7 / 4.6 %
refitted, and the split model started at val-crop MS-SSIM 0.78 after 4
iterations instead of 0.56.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import torch
from torch.nn import functional as F

from .data import PatchSampler
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
    convolutions, every other weight kept; with the relative error of each factorisation, in
    :func:`split_cells` order."""
    separable = ResidualCodec(separable_architecture(codec.arch, grus, encoder_grus))
    state = codec.state_dict()
    errors = []
    for cell in split_cells(grus, encoder_grus):
        conv, depthwise = f"{cell}.input_conv.weight", f"{cell}.input_spatial.weight"
        state[conv], state[depthwise], error = rank_one_factors(state[conv])
        errors.append(error)
    separable.load_state_dict(state)
    return separable, errors


def split_cells(grus: list[int], encoder_grus: list[int]) -> list[str]:
    """The module names of the GRU cells being split, in the order a forward pass reaches them."""
    return [f"encoder.rnns.{i}" for i in sorted(encoder_grus)] + [f"decoder.rnns.{i}" for i in sorted(grus)]


def _cell_inputs(codec: ResidualCodec, name: str, crops: torch.Tensor, iterations: int) -> torch.Tensor:
    """What GRU cell ``name`` reads in every iteration of coding ``crops``, stacked."""
    inputs = []
    hook = codec.get_submodule(name).register_forward_pre_hook(lambda _, args: inputs.append(args[0]))
    with torch.no_grad():
        codec.eval()(crops, iterations, binarizer="sign")
    hook.remove()
    return torch.cat(inputs).double()


def _patches(x: torch.Tensor, conv: torch.nn.Conv2d) -> torch.Tensor:
    """(positions, channels x k x k) input patches of a dense convolution."""
    k = conv.kernel_size[0]
    return F.unfold(x, k, padding=k // 2, stride=conv.stride).transpose(1, 2).reshape(-1, x.shape[1] * k * k)


@torch.no_grad()
def fit_to_outputs(
    dense: ResidualCodec,
    split: ResidualCodec,
    cells: list[str],
    crops: torch.Tensor,
    iterations: int,
    rounds: int = 30,
) -> list[tuple[float, float]]:
    """Refit ``split``'s factors of ``cells`` (in forward order) to the outputs of ``dense``'s convolutions
    on ``crops``; the (before, after) relative squared error of each cell's outputs."""
    errors = []
    for name in cells:
        conv = dense.get_submodule(name).input_conv
        weight = conv.weight.double().flatten(1)  # (outputs, channels x k x k)
        wanted = _patches(_cell_inputs(dense, name, crops, iterations), conv) @ weight.T
        given = _patches(_cell_inputs(split, name, crops, iterations), conv)
        problem = _FitProblem(given.T @ given, given.T @ wanted, float((wanted * wanted).sum()))
        cell = split.get_submodule(name)
        depthwise, pointwise = cell.input_spatial.weight, cell.input_conv.weight
        taps = depthwise.double().reshape(conv.in_channels, -1)
        ones = pointwise.double().reshape(len(weight), conv.in_channels)
        before = problem.error(ones, taps)
        ones, taps = problem.solve(ones, taps, rounds)
        depthwise.copy_(taps.reshape(depthwise.shape))
        pointwise.copy_(ones.reshape(pointwise.shape))
        errors.append((before, problem.error(ones, taps)))
    return errors


@dataclasses.dataclass
class _FitProblem:
    """Least squares for the factors of one convolution, in the two products of the data it needs."""

    gram: torch.Tensor  # patches' Gram matrix (C k k, C k k)
    cross: torch.Tensor  # patches against the wanted outputs (C k k, outputs)
    total: float  # the wanted outputs' squared norm

    def error(self, pointwise: torch.Tensor, taps: torch.Tensor) -> float:
        """Relative squared error of the outputs of the factors (pointwise (O, C), taps (C, k k))."""
        factored = (pointwise[:, :, None] * taps[None]).flatten(1)
        fitted = float((factored.T * self.cross).sum())
        return (self.total - 2 * fitted + float(((factored @ self.gram) * factored).sum())) / self.total

    def solve(self, pointwise: torch.Tensor, taps: torch.Tensor, rounds: int):
        """Alternate: the 1x1 weights for the depthwise outputs, then the taps for the 1x1 weights."""
        channels, k2 = taps.shape
        blocks = self.gram.reshape(channels, k2, channels, k2)
        by_channel = self.cross.reshape(channels, k2, -1)
        for _ in range(rounds):
            normal = torch.einsum("ja,jakb,kb->jk", taps, blocks, taps)
            pointwise = _solve(normal, torch.einsum("ja,jao->jo", taps, by_channel)).T
            normal = ((pointwise.T @ pointwise)[:, None, :, None] * blocks).reshape(channels * k2, -1)
            target = torch.einsum("jao,oj->ja", by_channel, pointwise).reshape(-1, 1)
            taps = _solve(normal, target).reshape(channels, k2)
        norms = taps.norm(dim=1, keepdim=True)  # unit taps, as the weights' factors have
        return pointwise * norms.T, taps / norms


def _solve(normal: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Least squares from normal equations, with a ridge of 1e-6 of their scale against singular ones."""
    ridge = 1e-6 * normal.diagonal().mean() * torch.eye(len(normal), dtype=normal.dtype)
    return torch.linalg.solve(normal + ridge, target)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("weights", help="weights.pt or model folder")
    p.add_argument("--grus", default="0,1", help="decoder GRUs whose input convolutions to split")
    p.add_argument("--encoder-grus", default="", help="encoder GRUs whose input convolutions to split")
    p.add_argument("--out", required=True, help="weights file to write (train from it with --init)")
    p.add_argument("--fit-on", help="folder of training photos: refit the factors to the outputs there")
    p.add_argument("--fit-crops", type=int, default=32, help="128x128 crops (halved photos) to fit on")
    p.add_argument("--iterations", type=int, default=8, help="iterations the crops are coded with")
    args = p.parse_args(argv)
    codec = load_codec(args.weights)
    grus = [int(g) for g in args.grus.split(",") if g]
    encoder_grus = [int(g) for g in args.encoder_grus.split(",") if g]
    separable, errors = make_separable(codec, grus, encoder_grus)
    cells = split_cells(grus, encoder_grus)
    if args.fit_on:
        crops = PatchSampler(args.fit_on, 128, seed=5, downscale=2).batch(args.fit_crops)
        for name, (before, after) in zip(
            cells, fit_to_outputs(codec, separable, cells, crops, args.iterations)
        ):
            print(
                f"{name}: outputs missed {before:.1%} (squared) with the weights' factors, {after:.1%} fitted"
            )
    save_weights(separable, step=0, iterations=0, path=Path(args.out))
    before, after = codec.arch.macs_per_pixel(), separable.arch.macs_per_pixel()
    print(f"{args.out}: {json.dumps(separable.arch.to_json())}")
    for name, error in zip(cells, errors):
        print(f"{name}: rank-1 factors miss {error:.1%} of the input convolution (Frobenius)")
    for part in ("encoder", "decoder"):
        print(f"{part} MACs/pixel/iteration: {before[part]:,.0f} -> {after[part]:,.0f}")


if __name__ == "__main__":
    main()
