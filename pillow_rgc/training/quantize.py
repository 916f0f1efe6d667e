"""Make a one-shot model's synthesis graph int8: a new model, the same network, a faster picture.

Usage::

    python -m pillow_rgc.training.quantize rgc-fast-2 --id rgc-fast-2-int8 \\
        --out weights/rgc-fast-2-int8 --images ../shared/data/train

The synthesis runs once per decode and once per iteration of an encode; in
``rgc-fast-2`` it was a quarter of a decode. onnxruntime's int8 convolutions
(per-channel int8 weights, uint8 activations, QDQ) ran it in 14.3 ms instead
of 22.5 ms at 768x512 here. Only the synthesis is quantized: it is feed-forward
and its output is the picture, so int8 rounding moves pixels a little and
nothing else. The decoder's states feed the next iteration, and int8 kernels
differ between CPUs (with and without VNNI), so a quantized decoder could drift
from one machine to another. Weights use 7 bits (``reduce_range``), so CPUs
without VNNI cannot overflow their 16-bit sums either.

The activation ranges are calibrated on the synthesis inputs of ``--photos``
training photos (halved, as in training) coded with the source model. The
encoder, decoder and context prior are copied unchanged; the new model's hash
covers the new graph, so it is a model of its own (``--id``), and the source
stays installed for its files.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import numpy as np
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
from PIL import Image

from .. import api, codec, container
from ..models import MODEL_FILE, SYNTHESIS_FILE, LoadedModel, load_model, model_hash
from .data import downscaled
from .photos import list_images, load_rgb

QUALITY = 0.97
"""The target the calibration photos are coded to: past the usual 0.95, so late states count too."""


def synthesis_inputs(model: LoadedModel, images: str | Path, photos: int, seed: int = 0) -> list[np.ndarray]:
    """The last decoder state after every iteration of ``photos`` photos of ``images``, halved and coded."""
    rng = np.random.default_rng(seed)
    paths = list_images(images)
    states = []
    for path in rng.choice(paths, min(photos, len(paths)), replace=False):
        image = Image.fromarray(downscaled(load_rgb(path), 2, patch=64))
        parsed = container.read(api.encode(image, quality=QUALITY, model=model.info.id))
        reconstruction = codec.Reconstruction(model, image.height, image.width)
        for bits in api.read_bitplanes(parsed, model=model):
            reconstruction.add(bits)
            states.append(reconstruction.states[-1])
    return states


class _States(CalibrationDataReader):
    def __init__(self, states: list[np.ndarray]):
        self._feeds = iter({"state": state} for state in states)

    def get_next(self) -> dict | None:
        return next(self._feeds, None)


def quantize_synthesis(source: LoadedModel, out: Path, model_id: str, states: list[np.ndarray]) -> dict:
    """Write ``source`` with an int8 synthesis graph into ``out`` as model ``model_id``; its model.json."""
    if not source.info.one_shot:
        raise ValueError(f"{source.info.id} has no synthesis graph to quantize")
    out.mkdir(parents=True, exist_ok=True)
    for path in source.info.folder.iterdir():
        if path.name not in (SYNTHESIS_FILE, MODEL_FILE, "MODEL_CARD.md"):
            shutil.copyfile(path, out / path.name)
    quantize_static(
        str(source.info.folder / SYNTHESIS_FILE),
        str(out / SYNTHESIS_FILE),
        _States(states),
        quant_format=QuantFormat.QDQ,
        per_channel=True,
        reduce_range=True,
        activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8,
    )
    card = {
        **source.info.card,
        "id": model_id,
        "description": f"{source.info.id} with its synthesis graph in int8 (pillow_rgc.training.quantize)",
        "quantized": {
            "from": source.info.id,
            "graphs": [SYNTHESIS_FILE],
            "format": "QDQ, per-channel int8 weights (7-bit range), uint8 activations",
            "calibrated_on": f"the synthesis inputs of {len(states)} iterations of training photos",
        },
        "sha256": model_hash(out),
    }
    (out / MODEL_FILE).write_text(json.dumps(card, indent=2) + "\n")
    return card


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", help="id of the installed one-shot model to quantize")
    p.add_argument("--id", required=True, help="id of the new model")
    p.add_argument("--out", required=True, help="folder to write the new model into")
    p.add_argument("--images", required=True, help="training photos to calibrate on (never val)")
    p.add_argument("--photos", type=int, default=8, help="photos to calibrate on")
    args = p.parse_args(argv)
    source = load_model(args.model)
    states = synthesis_inputs(source, args.images, args.photos)
    card = quantize_synthesis(source, Path(args.out), args.id, states)
    print(f"{args.out}: {card['id']}, sha256 {card['sha256']}, calibrated on {len(states)} states")


if __name__ == "__main__":
    main()
