"""Export trained weights as a model folder that pillow_rgc runs with onnxruntime.

Usage::

    python -m pillow_rgc.training.export RUN/weights.pt weights/MODEL_ID --id MODEL_ID \
        [--iterations N] [--description TEXT]

The folder holds ``encoder.onnx`` and ``decoder.onnx`` (one iteration each,
hidden states as explicit inputs and outputs, dynamic batch, height and width)
and ``model.json`` (architecture, iteration count, SHA-256 of the graphs).
A released model never changes: export to a new id instead of overwriting.
"""

from __future__ import annotations

import argparse
import json
import warnings
from pathlib import Path

import torch
from torch import nn

from ..models import MODEL_FILE, model_hash
from .model import Architecture, ResidualCodec, binarize
from .train import load_weights

OPSET = 17


class EncoderStep(nn.Module):
    """One encoder iteration: residual and states in, deterministic bits and states out."""

    def __init__(self, codec: ResidualCodec):
        super().__init__()
        self.encoder = codec.encoder

    def forward(self, residual, *states):
        code, new_states = self.encoder(residual, list(states))
        return (binarize(code, stochastic=False), *new_states)


class DecoderStep(nn.Module):
    """One decoder iteration: bits and states in, reconstruction increment and states out."""

    def __init__(self, codec: ResidualCodec):
        super().__init__()
        self.decoder = codec.decoder

    def forward(self, bits, *states):
        delta, new_states = self.decoder(bits, list(states))
        return (delta, *new_states)


def _export(module: nn.Module, inputs: tuple, input_names: list[str], output_names: list[str], path: Path):
    # Each tensor has its own resolution (states at 1/2 .. 1/16), so each gets its own dimension names.
    dynamic = {
        name: {0: "batch", 2: f"{name}_height", 3: f"{name}_width"} for name in input_names + output_names
    }
    with warnings.catch_warnings():  # the TorchScript exporter is deprecated but exports these graphs well
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(
            module,
            inputs,
            str(path),
            input_names=input_names,
            output_names=output_names,
            dynamic_axes=dynamic,
            opset_version=OPSET,
            dynamo=False,
        )


def export_model(codec: ResidualCodec, out: Path, model_id: str, iterations: int, description: str) -> dict:
    """Write the ONNX graphs and model.json of ``codec`` into ``out``; returns model.json's content."""
    codec.eval()
    arch: Architecture = codec.arch
    out.mkdir(parents=True, exist_ok=True)
    size = 64  # example size; height and width are dynamic
    enc_states = [torch.zeros(1, *s) for s in arch.encoder_state_shapes(size, size)]
    dec_states = [torch.zeros(1, *s) for s in arch.decoder_state_shapes(size, size)]
    enc_names = [f"state{i}" for i in range(len(enc_states))]
    dec_names = [f"state{i}" for i in range(len(dec_states))]
    with torch.no_grad():
        _export(
            EncoderStep(codec),
            (torch.zeros(1, 3, size, size), *enc_states),
            ["residual", *enc_names],
            ["bits", *[n + "_out" for n in enc_names]],
            out / "encoder.onnx",
        )
        bits = torch.ones(1, arch.code_channels, size // arch.STRIDE, size // arch.STRIDE)
        _export(
            DecoderStep(codec),
            (bits, *dec_states),
            ["bits", *dec_names],
            ["delta", *[n + "_out" for n in dec_names]],
            out / "decoder.onnx",
        )
    card = {
        "id": model_id,
        "description": description,
        "architecture": arch.to_json(),
        "code_stride": arch.STRIDE,
        "iterations": iterations,
        "macs_per_pixel": arch.macs_per_pixel(),
        "parameters": sum(p.numel() for p in codec.parameters()),
        "sha256": model_hash(out),
    }
    (out / MODEL_FILE).write_text(json.dumps(card, indent=2) + "\n")
    return card


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("weights", help="weights.pt written by pillow_rgc.training.train")
    p.add_argument("out", help="model folder to write")
    p.add_argument("--id", required=True, help="model id: [a-z0-9._-]{1,64}")
    p.add_argument(
        "--iterations", type=int, default=None, help="iterations the model supports (default: trained)"
    )
    p.add_argument("--description", default="")
    args = p.parse_args(argv)
    arch, state = load_weights(args.weights)
    codec = ResidualCodec(arch)
    codec.load_state_dict(state)
    trained = torch.load(args.weights, map_location="cpu", weights_only=True)["iterations"]
    card = export_model(codec, Path(args.out), args.id, args.iterations or trained, args.description)
    print(json.dumps(card, indent=2))


if __name__ == "__main__":
    main()
