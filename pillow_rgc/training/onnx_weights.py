"""Torch weights of an installed model, read back from its ONNX graphs.

Fine-tuning starts from a model a user has installed, and an installed model is
only its two graphs and ``model.json``: this module turns the graphs'
initializers back into a :class:`ResidualCodec` state dict, undoing what
:mod:`.export` does for speed (one convolution per GRU gate; the output
convolution moved to half resolution, which fast decoders keep as trained; a one-shot
model's synthesis layers in a graph of their own). Graphs written before those
rewrites hold the training layout already and are read as they are.
"""

from __future__ import annotations

from pathlib import Path

import onnx
import torch
from onnx import numpy_helper

from ..models import SYNTHESIS_FILE, ModelInfo
from .model import Architecture, ResidualCodec


def _initializers(path: Path, prefix: str) -> dict[str, torch.Tensor]:
    """The graph's named weights, with the module prefix (``encoder.``/``decoder.``) the state dict uses."""
    graph = onnx.load(str(path)).graph
    tensors = {}
    for init in graph.initializer:
        name = init.name if init.name.startswith(prefix) else prefix + init.name
        tensors[name] = torch.from_numpy(numpy_helper.to_array(init).copy())
    return tensors


GATE_LAYERS = {"x_gates": "input_conv", "h_gates": "hidden_conv", "s_gates": "hidden_spatial"}
"""Export's per-gate convolutions and the training layer each was split from."""


def _join_gates(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Export's split gates (``x_gates.g``, ``h_gates.g``, ``s_gates.g``) back to the training layers."""
    joined = dict(tensors)
    for name in list(tensors):
        gate_kind = next((kind for kind in GATE_LAYERS if f".{kind}.0." in name), None)
        if gate_kind is None:
            continue
        whole = GATE_LAYERS[gate_kind]
        parts = [joined.pop(name.replace(f".{gate_kind}.0.", f".{gate_kind}.{g}.")) for g in range(3)]
        joined[name.replace(f"{gate_kind}.0", whole)] = torch.cat(parts)
    return joined


def full_resolution_output(weight: torch.Tensor, bias: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The inverse of ``export.half_resolution_output``: the 3x3 convolution that runs after the shuffle.

    Sub-pixel phase (0, 0) of the merged convolution holds every tap of the
    original once: tap (dy, dx) reads the half-resolution cell
    ``divmod(dy, 2)`` and the input phase given by the remainder.
    """
    out_channels, channels = weight.shape[0] // 4, weight.shape[1] // 4
    original = torch.zeros(out_channels, channels, 3, 3)
    rows = torch.arange(out_channels) * 4
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            (cy, sy), (cx, sx) = divmod(dy, 2), divmod(dx, 2)
            cols = torch.arange(channels) * 4 + sy * 2 + sx
            original[:, :, dy + 1, dx + 1] = weight[rows[:, None], cols[None, :], cy + 1, cx + 1]
    return original, bias[::4].clone()


def load_model_weights(folder: str | Path) -> tuple[Architecture, dict[str, torch.Tensor]]:
    """Architecture and training state dict of the model in ``folder`` (an installed or exported model)."""
    folder = Path(folder)
    info = ModelInfo.from_folder(folder)
    arch = Architecture.from_json(info.card["architecture"])
    state = {
        **_join_gates(_initializers(folder / "encoder.onnx", "encoder.")),
        **_join_gates(_initializers(folder / "decoder.onnx", "decoder.")),
        **(_initializers(folder / SYNTHESIS_FILE, "decoder.") if arch.one_shot else {}),
    }
    if arch.output_shuffle == 1 and state["decoder.output.weight"].shape[0] != 3:
        state["decoder.output.weight"], state["decoder.output.bias"] = full_resolution_output(
            state["decoder.output.weight"], state["decoder.output.bias"]
        )
    expected = ResidualCodec(arch).state_dict()
    if set(state) != set(expected) or any(state[k].shape != expected[k].shape for k in expected):
        raise ValueError(f"the graphs in {folder} do not hold the weights of a {arch} codec")
    return arch, state
