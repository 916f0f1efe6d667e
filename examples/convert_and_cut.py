"""Convert a photo to .rgc, then cut the file after each iteration and look at what each cut gives.

    python examples/convert_and_cut.py [PHOTO] [--out DIR]

Without PHOTO a synthetic test picture is used. Writes the .rgc file and one
PNG per cut into DIR (default: rgc-example/), and prints bytes, bpp and
MS-SSIM for each: the same file, read only in part, is a coarser picture.
"""

from __future__ import annotations

import argparse
import io
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

import pillow_rgc
from pillow_rgc.quality import ms_ssim


def test_card(width: int = 384, height: int = 256) -> Image.Image:
    """A made-up picture with gradients, edges and texture, for when no photo is at hand."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    rng = np.random.default_rng(0)
    pixels = np.stack(
        [128 + 90 * np.sin(x / 31), 110 + 70 * np.cos(y / 23), 150 + 60 * np.sin((x + y) / 41)], 2
    )
    pixels += rng.normal(0, 8, pixels.shape)
    image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).filter(ImageFilter.SMOOTH_MORE)
    draw = ImageDraw.Draw(image)
    draw.ellipse((60, 50, 200, 190), fill=(235, 190, 40))
    draw.rectangle((230, 30, 350, 140), fill=(30, 70, 160))
    draw.text((240, 180), "pillow-rgc", fill=(255, 255, 255))
    return image


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("photo", nargs="?")
    parser.add_argument("--out", default="rgc-example")
    parser.add_argument("--quality", type=float, default=0.95)
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(exist_ok=True)
    original = Image.open(args.photo).convert("RGB") if args.photo else test_card()

    original.save(out / "photo.rgc", quality=args.quality)  # the Pillow way
    data = (out / "photo.rgc").read_bytes()
    summary = pillow_rgc.info(data)
    pixels = original.width * original.height
    print(
        f"{out / 'photo.rgc'}: {len(data)} bytes, {summary['iterations_present']} iterations, "
        f"quality={args.quality}, model {summary['model']}"
    )
    print(f"{'cut after':>10} {'bytes':>8} {'bpp':>7} {'MS-SSIM':>8}")
    for chunk in summary["chunks"]:
        cut = data[: chunk["offset"] + chunk["size"]]  # a plain byte cut: no re-encoding, no flag
        with Image.open(io.BytesIO(cut)) as im:
            im.save(out / f"cut-{chunk['iteration'] + 1:02d}.png")
            score = ms_ssim(np.asarray(original), np.asarray(im.convert("RGB")))
        print(f"{chunk['iteration'] + 1:>10} {len(cut):>8} {8 * len(cut) / pixels:7.3f} {score:8.4f}")
    first = summary["chunks"][0]
    budget = max(
        len(data) // 2, first["offset"] + first["size"] + 12
    )  # at least the first iteration and IEND
    smaller = pillow_rgc.truncate(data, max_bytes=budget)
    print(
        f"truncate(max_bytes={budget}) -> {len(smaller)} bytes, "
        f"{pillow_rgc.info(smaller)['iterations_present']} iterations, a complete file"
    )


if __name__ == "__main__":
    main()
