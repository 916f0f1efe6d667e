"""Make a model's encoder and synthesis graphs int8: a new model, the same network, faster.

Usage::

    python -m pillow_rgc.training.quantize rgc-fast-2 --id rgc-fast-2-int8 \\
        --out weights/rgc-fast-2-int8 --images ../shared/data/train

onnxruntime's int8 convolutions (per-channel int8 weights, uint8 activations,
QDQ) ran ``rgc-fast-2``'s encoder in 22 ms instead of 52 ms and its synthesis in
14 ms instead of 23 ms at 768x512 here. Two graphs may be quantized, and only
they:

* the **encoder** decides which bits a file carries, and any bits decode
  exactly: an int8 encoder writes other files, not wrong ones;
* the **synthesis** is feed-forward and its output is the picture, so int8
  rounding moves pixels a little and nothing else.

The decoder's states feed the next iteration, and int8 kernels differ between
CPUs (with and without VNNI), so a quantized decoder could drift from one
machine to another: it stays float32. Weights use 7 bits (``reduce_range``), so
CPUs without VNNI cannot overflow their 16-bit sums either.

The activation ranges are calibrated on what each graph reads while the source
model encodes ``--photos`` training photos (halved, as in training). The
decoder and the context prior are copied unchanged; the new model's hash covers
the new graphs, so it is a model of its own (``--id``), and the source stays
installed for its files.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import numpy as np
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
from PIL import Image

from .. import api
from ..models import MODEL_FILE, SYNTHESIS_FILE, LoadedModel, load_model
from .data import downscaled
from .export import write_model_json
from .photos import list_images, load_rgb

QUALITY = 0.97
"""The target the calibration photos are coded to: past the usual 0.95, so late iterations count too."""

ENCODER_FILE = "encoder.onnx"
QUANTIZABLE = (ENCODER_FILE, SYNTHESIS_FILE)


def calibration_feeds(model: LoadedModel, images: str | Path, photos: int, seed: int = 0) -> dict[str, list]:
    """What the encoder and synthesis graphs read (by file name) while ``model`` encodes ``photos``
    photos of ``images``, halved."""
    rng = np.random.default_rng(seed)
    paths = list_images(images)
    sessions = {ENCODER_FILE: model.encoder, SYNTHESIS_FILE: model.synthesis}
    feeds: dict[str, list] = {name: [] for name, session in sessions.items() if session is not None}

    def recording(name: str, run):
        def record(outputs, feed):
            feeds[name].append({key: np.array(value) for key, value in feed.items()})
            return run(outputs, feed)

        return record

    for name in feeds:
        sessions[name].run = recording(name, sessions[name].run)
    try:
        for path in rng.choice(paths, min(photos, len(paths)), replace=False):
            image = Image.fromarray(downscaled(load_rgb(path), 2, patch=64))
            # effort=0: the plain encoder session is the one recorded, and the synthesis sees only
            # the pictures of the file, not the writer's trial decodes
            api.encode(image, quality=QUALITY, model=model.info.id, effort=0)
    finally:
        for name in feeds:
            del sessions[name].run  # the session's own method again
    return feeds


class _Feeds(CalibrationDataReader):
    def __init__(self, feeds: list[dict]):
        self._feeds = iter(feeds)

    def get_next(self) -> dict | None:
        return next(self._feeds, None)


def quantize_graphs(
    source: LoadedModel, out: Path, model_id: str, feeds: dict[str, list], graphs=QUANTIZABLE
) -> dict:
    """Write ``source`` with ``graphs`` in int8 into ``out`` as model ``model_id``; its model.json."""
    unknown = [g for g in graphs if g not in QUANTIZABLE or not (source.info.folder / g).is_file()]
    if unknown:
        raise ValueError(f"{source.info.id}: cannot quantize {', '.join(unknown)} (only {QUANTIZABLE})")
    out.mkdir(parents=True, exist_ok=True)
    for path in source.info.folder.iterdir():
        if path.name not in (*graphs, MODEL_FILE, "MODEL_CARD.md"):
            shutil.copyfile(path, out / path.name)
    for graph in graphs:
        quantize_static(
            str(source.info.folder / graph),
            str(out / graph),
            _Feeds(feeds[graph]),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            reduce_range=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
        )
    card = {
        **source.info.card,
        "id": model_id,
        "description": f"{source.info.id} with {' and '.join(graphs)} in int8 (pillow_rgc.training.quantize)",
        "quantized": {
            "from": source.info.id,
            "graphs": list(graphs),
            "format": "QDQ, per-channel int8 weights (7-bit range), uint8 activations",
            "calibrated_on": {graph: f"{len(feeds[graph])} runs on training photos" for graph in graphs},
        },
    }
    return write_model_json(out, card)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", help="id of the installed one-shot model to quantize")
    p.add_argument("--id", required=True, help="id of the new model")
    p.add_argument("--out", required=True, help="folder to write the new model into")
    p.add_argument("--images", required=True, help="training photos to calibrate on (never val)")
    p.add_argument("--photos", type=int, default=8, help="photos to calibrate on")
    p.add_argument("--graphs", default=",".join(QUANTIZABLE), help="graphs to quantize")
    args = p.parse_args(argv)
    source = load_model(args.model)
    feeds = calibration_feeds(source, args.images, args.photos)
    card = quantize_graphs(source, Path(args.out), args.id, feeds, args.graphs.split(","))
    print(f"{args.out}: {card['id']}, sha256 {card['sha256']}, {card['quantized']['calibrated_on']}")


if __name__ == "__main__":
    main()
