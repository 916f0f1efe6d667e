"""Widen a trained codec without changing what it computes (Net2Net's idea, for residual GRUs).

Usage::

    python -m pillow_rgc.training.widen weights/resume/lean.pt \
        --arch '{"decoder_hidden": [128, 128, 64, 64]}' --out runs/wide/init.pt

then train from it with ``--init runs/wide/init.pt``. Why: a wider layer trained
from scratch costs many CPU-hours before it catches up with the line it replaces;
widened this way it starts exactly where the line is. Every old channel keeps its
weights; new channels start from PyTorch's default initialisation, and every
weight through which an old channel (or the code, or the picture) would read a
new channel starts at zero. So the new channels compute from the start but are
heard by nothing until training gives them weight.

``--arch`` names only the widths that change (a one-shot model's ``synthesis``
too). ``code_channels`` may grow as well:
the old bits keep their meaning and the decoder starts deaf to the new ones, so
a model with more bits per iteration (fewer iterations, so fewer network passes,
for the same rate) starts from the line's quality. ``decoder_hidden_spatial``
and the ``decoder_input_spatial`` and ``encoder_input_spatial`` may go from 1 to a kernel: the new depthwise
convolutions start as the identity.
Other kernels cannot change.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from .model import Architecture, ResidualCodec
from .train import load_codec, save_weights


def widened_architecture(old: Architecture, changes: dict) -> Architecture:
    """``old`` with the widths in ``changes``; refuses narrowing and kernel changes."""
    fixed = {"hidden_kernel", "decoder_input_kernels", "encoder_input_kernels"} & set(changes)
    if fixed:
        raise ValueError(f"widening cannot change {sorted(fixed)}")
    new = Architecture.from_json({**old.to_json(), **changes})
    for field in ("decoder_hidden_spatial", "input_spatial", "encoder_spatial"):
        if any(b != a and b != 1 for b, a in zip(getattr(old, field), getattr(new, field))):
            raise ValueError(f"{field} can only grow from 1 (no depthwise convolution)")
    if len(new.decoder_hidden) != len(old.decoder_hidden) or len(new.synthesis) != len(old.synthesis):
        raise ValueError("widening cannot change the number of decoder GRUs or synthesis layers")
    widths = (
        "code_channels",
        "encoder_conv",
        "decoder_conv",
        "encoder_hidden",
        "decoder_hidden",
        "synthesis",
    )
    for field in widths:
        before, after = getattr(old, field), getattr(new, field)
        pairs = zip(before, after) if isinstance(before, tuple) else [(before, after)]
        if any(b > a for b, a in pairs):
            raise ValueError(f"{field}: {before} -> {after} narrows the network")
    if any(c % 4 for c in new.decoder_hidden):
        raise ValueError("decoder hidden widths must be multiples of 4 (depth-to-space)")
    return new


def _positions(old: int, new: int, chunks: int = 1) -> torch.Tensor:
    """Where the old channels sit among the new ones (a GRU convolution holds three gates in a row)."""
    return torch.tensor([g * new + i for g in range(chunks) for i in range(old)])


def _layer_maps(old: Architecture, new: Architecture) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """For each layer: positions of its old output channels and of its old input channels.

    Depth-to-space sends hidden channel 4k+j to output channel k, so the old
    channels of a decoder GRU's input stay the leading ones.
    """
    maps = {
        "encoder.conv": (_positions(old.encoder_conv, new.encoder_conv), _positions(3, 3)),
        "encoder.binarizer": (
            _positions(old.code_channels, new.code_channels),
            _positions(old.encoder_hidden[-1], new.encoder_hidden[-1]),
        ),
        "decoder.conv": (
            _positions(old.decoder_conv, new.decoder_conv),
            _positions(old.code_channels, new.code_channels),
        ),
    }
    old_in, new_in = (old.encoder_conv, *old.encoder_hidden), (new.encoder_conv, *new.encoder_hidden)
    for i, (o, n) in enumerate(zip(old.encoder_hidden, new.encoder_hidden)):
        maps[f"encoder.rnns.{i}.input_conv"] = (_positions(o, n, 3), _positions(old_in[i], new_in[i]))
        maps[f"encoder.rnns.{i}.hidden_conv"] = (_positions(o, n, 3), _positions(o, n))
        maps[f"encoder.rnns.{i}.input_spatial"] = (_positions(old_in[i], new_in[i]), _positions(1, 1))
    old_in = (old.decoder_conv, *(c // 4 for c in old.decoder_hidden))
    new_in = (new.decoder_conv, *(c // 4 for c in new.decoder_hidden))
    for i, (o, n) in enumerate(zip(old.decoder_hidden, new.decoder_hidden)):
        maps[f"decoder.rnns.{i}.input_conv"] = (_positions(o, n, 3), _positions(old_in[i], new_in[i]))
        maps[f"decoder.rnns.{i}.hidden_conv"] = (_positions(o, n, 3), _positions(o, n))
        maps[f"decoder.rnns.{i}.hidden_spatial"] = (_positions(o, n, 3), _positions(1, 1))  # depthwise
        maps[f"decoder.rnns.{i}.input_spatial"] = (_positions(old_in[i], new_in[i]), _positions(1, 1))
    old_in, new_in = old.decoder_hidden[-1] // 4, new.decoder_hidden[-1] // 4
    for i, (o, n) in enumerate(zip(old.synthesis, new.synthesis)):
        maps[f"decoder.synthesis.{i}"] = (_positions(o, n), _positions(old_in, new_in))
        old_in, new_in = o // 4, n // 4
    pictures = 3 * old.output_shuffle**2
    maps["decoder.output"] = (_positions(pictures, pictures), _positions(old_in, new_in))
    return maps


@torch.no_grad()
def widen(codec: ResidualCodec, arch: Architecture, seed: int = 0) -> ResidualCodec:
    """A codec of architecture ``arch`` that computes exactly what ``codec`` computes."""
    torch.manual_seed(seed)
    wide = ResidualCodec(arch)
    old_state = codec.state_dict()
    maps = _layer_maps(codec.arch, arch)
    for name, param in wide.named_parameters():
        if name not in old_state:
            continue  # a layer the old codec lacks: a depthwise convolution that starts as the identity
        layer, kind = name.rsplit(".", 1)
        rows, columns = maps[layer]
        old = old_state[name]
        if kind == "bias":
            param[rows] = old
            continue
        param[rows] = 0.0  # old channels hear nothing new ...
        param[rows.unsqueeze(1), columns.unsqueeze(0)] = old  # ... and what they heard before
    return wide


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("weights", help="weights.pt or model folder to widen")
    p.add_argument("--arch", required=True, help="the widths that change, as JSON")
    p.add_argument("--out", required=True, help="weights file to write (train from it with --init)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    codec = load_codec(args.weights)
    arch = widened_architecture(codec.arch, json.loads(args.arch))
    wide = widen(codec, arch, args.seed)
    save_weights(wide, step=0, iterations=0, path=Path(args.out))
    before, after = codec.arch.macs_per_pixel(), arch.macs_per_pixel()
    print(
        f"{args.out}: {json.dumps(arch.to_json())}\n"
        f"MACs/pixel/iteration: encoder {before['encoder']:,.0f} -> {after['encoder']:,.0f}, "
        f"decoder {before['decoder']:,.0f} -> {after['decoder']:,.0f}"
    )


if __name__ == "__main__":
    main()
