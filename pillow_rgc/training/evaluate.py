"""Rate-distortion of installed or exported models on a folder of photos, and their BD-rates.

Usage::

    python -m pillow_rgc.training.evaluate --model rgc-lean-1 --images ../shared/data/val
    python -m pillow_rgc.training.evaluate --model-dir weights/rgc-lean-1 --images ../shared/data/val
    rgc evaluate --images DIR --models START TUNED [--plot rd.png]

Each photo is encoded once with every iteration the model has; the file is
then cut after each iteration. Prints, per iteration, the mean bpp of the
whole cut file (header included) and the mean MS-SSIM and PSNR of its
8-bit reconstruction. ``rgc evaluate`` does that for several models and for
JPEG (the qualities of ``benchmarks/rd.py``) and prints the BD-rate of each
model against the first one and against JPEG. Runs with onnxruntime only (no torch).
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import json
from pathlib import Path

import numpy as np
from PIL import Image

from .. import api, bdrate, codec, container, models, modes
from ..quality import MsSsimReference, psnr
from .photos import list_images

JPEG_QUALITIES = (5, 10, 15, 20, 30, 40, 50, 60, 70, 80, 90)
"""JPEG's settings here and in ``benchmarks/rd.py`` (Pillow, optimize=True, 4:2:0)."""


@dataclasses.dataclass
class CurvePoint:
    """One photo at one ``setting``: the iterations kept of an rgc file, or JPEG's quality."""

    setting: int
    bytes: int
    bpp: float
    ms_ssim: float
    psnr: float


def _point(setting: int, size: int, scorer: MsSsimReference, reference: np.ndarray, pixels: np.ndarray):
    height, width = reference.shape[:2]
    return CurvePoint(
        setting, size, 8 * size / (width * height), scorer.score(pixels), psnr(reference, pixels)
    )


def iteration_pictures(data: bytes) -> list[np.ndarray]:
    """The picture ``Image.open`` returns for each cut of ``data`` after iteration 1, 2, ...,
    from one decode that runs every iteration once (not one decode per cut)."""
    parsed = container.read(data)
    header = parsed.header
    model = api.load_model_for(header)
    decoded = codec.decode_iterations(model, api.read_bitplanes(parsed), header.height, header.width)
    return [modes.output_pixels(pixels, header.mode) for pixels in decoded]


def photo_curve(image: Image.Image, model_id: str) -> list[CurvePoint]:
    """Every iteration's file size and quality for one photo, from a single encode and decode."""
    data = api.encode(image, quality=1.0, model=model_id)
    reference = np.asarray(image.convert(container.read(data).header.mode))
    scorer = MsSsimReference(reference)  # the photo's half of MS-SSIM, once for every iteration
    return [
        _point(k, len(api.truncate(data, iterations=k)), scorer, reference, pixels)
        for k, pixels in enumerate(iteration_pictures(data), start=1)
    ]


def jpeg_points(image: Image.Image) -> list[CurvePoint]:
    """JPEG's size and quality for one photo at each of ``JPEG_QUALITIES`` (the setting is the quality)."""
    reference = np.asarray(image)
    scorer = MsSsimReference(reference)
    points = []
    for quality in JPEG_QUALITIES:
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=quality, optimize=True)
        with Image.open(buffer) as decoded:
            pixels = np.asarray(decoded.convert("RGB"))
        points.append(_point(quality, buffer.tell(), scorer, reference, pixels))
    return points


def _photos(folder: str | Path) -> list[Image.Image]:
    images = []
    for path in list_images(folder):
        with Image.open(path) as image:
            images.append(image.convert("RGB"))
    return images


def mean_curve(curves: list[list[CurvePoint]]) -> list[dict]:
    """Mean bpp, MS-SSIM and PSNR over photos, per setting the photos share."""
    rows = []
    for k in range(min(len(c) for c in curves)):
        points = [c[k] for c in curves]
        rows.append(
            {
                "setting": points[0].setting,
                "bpp": float(np.mean([p.bpp for p in points])),
                "ms_ssim": float(np.mean([p.ms_ssim for p in points])),
                "psnr": float(np.mean([p.psnr for p in points])),
            }
        )
    return rows


def folder_curve(folder: str | Path, model_id: str) -> list[dict]:
    """Mean bpp, MS-SSIM and PSNR over the photos of ``folder``, per iteration."""
    return mean_curve([photo_curve(image, model_id) for image in _photos(folder)])


def bd_rates(test: list[dict], reference: list[dict]) -> dict[str, float | None]:
    """BD-rate of ``test`` against ``reference``, on MS-SSIM in dB and on PSNR (fractions; < 0 is better)."""
    result = {}
    for name, scale in (("ms_ssim", bdrate.ms_ssim_db), ("psnr", float)):
        result[name] = bdrate.bd_rate(
            [r["bpp"] for r in reference],
            [scale(r[name]) for r in reference],
            [r["bpp"] for r in test],
            [scale(r[name]) for r in test],
        )
    return result


def compare(folder: str | Path, model_ids: list[str]) -> dict:
    """Curves of JPEG and of every model on ``folder``; BD-rates against the first model and against JPEG."""
    images = _photos(folder)
    curves = {"JPEG": mean_curve([jpeg_points(image) for image in images])}
    for model_id in model_ids:
        curves[model_id] = mean_curve([photo_curve(image, model_id) for image in images])
    first = curves[model_ids[0]]
    return {
        "images": str(folder),
        "photos": len(images),
        "curves": curves,
        "bd_rate": {
            model_id: {
                "vs_first": bd_rates(curves[model_id], first),
                "vs_jpeg": bd_rates(curves[model_id], curves["JPEG"]),
            }
            for model_id in model_ids
        },
    }


def print_comparison(report: dict) -> None:
    first = next(iter(report["bd_rate"]))
    print(f"{report['photos']} photos of {report['images']}; BD-rate (negative: fewer bits, same quality)")
    print(f"{'model':<28} {'vs ' + first + ' MS-SSIM':>30} {'PSNR':>8} {'vs JPEG MS-SSIM':>16} {'PSNR':>8}")
    for model_id, rates in report["bd_rate"].items():
        cells = [
            rates["vs_first"]["ms_ssim"],
            rates["vs_first"]["psnr"],
            rates["vs_jpeg"]["ms_ssim"],
            rates["vs_jpeg"]["psnr"],
        ]
        text = ["—" if v is None else f"{100 * v:+.1f} %" for v in cells]
        print(f"{model_id:<28} {text[0]:>30} {text[1]:>8} {text[2]:>16} {text[3]:>8}")


def plot_comparison(report: dict, path: str | Path) -> None:
    """MS-SSIM (dB) and PSNR against bpp, one curve per model and JPEG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
    for name, curve in report["curves"].items():
        bpp = [r["bpp"] for r in curve]
        axes[0].plot(bpp, [bdrate.ms_ssim_db(r["ms_ssim"]) for r in curve], marker="o", ms=3, label=name)
        axes[1].plot(bpp, [r["psnr"] for r in curve], marker="o", ms=3, label=name)
    axes[0].set_ylabel("MS-SSIM dB  (-10 log10(1 - MS-SSIM))")
    axes[1].set_ylabel("PSNR dB")
    for ax in axes:
        ax.set_xlabel("bits per pixel")
        ax.set_xlim(0, max(r["bpp"] for r in report["curves"]["JPEG"]) * 1.05)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(f"{report['photos']} photos of {Path(report['images']).name}")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


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
        print(f"{row['setting']:>10} {row['bpp']:8.3f} {row['ms_ssim']:8.4f} {row['psnr']:7.2f}")


if __name__ == "__main__":
    main()
