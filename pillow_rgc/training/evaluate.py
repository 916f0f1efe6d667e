"""Rate-distortion of an installed or exported model on a folder of photos.

Usage::

    python -m pillow_rgc.training.evaluate --model rgc-lean-1 --images ../shared/data/val
    python -m pillow_rgc.training.evaluate --model-dir weights/rgc-lean-1 --images ../shared/data/val

Each photo is encoded once with every iteration the model has; the file is
then cut after each iteration. Prints, per iteration, the mean bpp of the
whole cut file (header included) and the mean MS-SSIM and PSNR of its
8-bit reconstruction. Runs with onnxruntime only (no torch).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import numpy as np
from PIL import Image

from .. import api, codec, container, models, modes
from ..quality import ms_ssim, psnr
from .photos import list_images


@dataclasses.dataclass
class IterationPoint:
    """One photo cut after ``iterations`` iterations."""

    iterations: int
    bytes: int
    bpp: float
    ms_ssim: float
    psnr: float


def photo_curve(image: Image.Image, model_id: str) -> list[IterationPoint]:
    """Every iteration's file size and quality for one photo, from a single encode and decode."""
    data = api.encode(image, quality=1.0, model=model_id)
    parsed = container.read(data)
    header = parsed.header
    reference = np.asarray(image.convert(header.mode))
    model = api.load_model_for(header)
    points = []
    decoded = codec.decode_iterations(model, api.read_bitplanes(parsed), header.height, header.width)
    for k, pixels in enumerate(decoded, start=1):
        pixels = modes.output_pixels(pixels, header.mode)
        size = len(api.truncate(data, iterations=k))
        points.append(
            IterationPoint(
                k,
                size,
                8 * size / (image.width * image.height),
                ms_ssim(reference, pixels),
                psnr(reference, pixels),
            )
        )
    return points


def folder_curve(folder: str | Path, model_id: str) -> list[dict]:
    """Mean bpp, MS-SSIM and PSNR over the photos of ``folder``, per iteration."""
    curves = []
    for path in list_images(folder):
        with Image.open(path) as image:
            curves.append(photo_curve(image.convert("RGB"), model_id))
    rows = []
    for k in range(min(len(c) for c in curves)):
        points = [c[k] for c in curves]
        rows.append(
            {
                "iterations": k + 1,
                "bpp": float(np.mean([p.bpp for p in points])),
                "ms_ssim": float(np.mean([p.ms_ssim for p in points])),
                "psnr": float(np.mean([p.psnr for p in points])),
            }
        )
    return rows


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--images", required=True)
    p.add_argument("--model", default=None, help="installed model id")
    p.add_argument("--model-dir", default=None, help="model folder (e.g. a fresh export)")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    model_id = args.model or models.DEFAULT_MODEL
    if args.model_dir:
        folder = Path(args.model_dir)
        models.add_model_path(folder.parent)
        model_id = models.ModelInfo.from_folder(folder).id
    rows = folder_curve(args.images, model_id)
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    print(f"model {model_id} on {args.images}")
    print(f"{'iterations':>10} {'bpp':>8} {'MS-SSIM':>8} {'PSNR':>7}")
    for row in rows:
        print(f"{row['iterations']:>10} {row['bpp']:8.3f} {row['ms_ssim']:8.4f} {row['psnr']:7.2f}")


if __name__ == "__main__":
    main()
