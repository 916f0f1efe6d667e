"""Big photos: peak memory, time and tile seams of encoding and decoding up to 24 megapixels.

Usage::

    python benchmarks/big_photos.py ../shared/data/val [--megapixels 6 12 24] [--quality 0.95]

No 24-megapixel photo ships with the data, so the test picture is a mosaic of
the folder's photos at their own resolution (mirrored in turn, so neighbours
meet without a jump at most seams), cropped to 3:2. Each encode and each
decode runs in a fresh subprocess whose peak resident memory
(``ru_maxrss``) is the figure reported, so one measurement cannot inherit
another's memory.

Seams: tiles are coded independently, so a seam would show as worse quality
next to tile borders. The PSNR over the 16-pixel bands centred on the tile
borders is compared with the PSNR of the rest of the picture (the interior),
and with bands of the same shape through the middle of the tiles (a control
for what the content of such bands costs, far from any border). With
``--untiled-reference`` the picture is also coded whole, and the PSNR of that
decode over the same bands is the fairest reference: a seam shows as the
tiled decode losing more on the border bands than on the interior.

Writes ``benchmarks/results/big_photos.json``.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
BAND = 16  # pixels: the band centred on each tile border

_CHILD = """
import resource, sys, time
from PIL import Image
import pillow_rgc
Image.MAX_IMAGE_PIXELS = None
pillow_rgc.api.MAX_DECODE_PIXELS = 1 << 40  # the untiled reference decodes whole pictures
source, target, quality, tile_side = sys.argv[1:5]
started = time.perf_counter()
if target.endswith(".rgc"):
    with Image.open(source) as image:
        image.save(target, quality=float(quality), tile_side=None if tile_side == "auto" else int(tile_side))
else:
    with Image.open(source) as image:
        image.load()
        image.save(target)
seconds = time.perf_counter() - started
print(seconds, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def mosaic(folder: Path, width: int, height: int) -> np.ndarray:
    """A width x height RGB mosaic of the folder's photos, row by row, mirrored in turn."""
    photos = [np.asarray(Image.open(p).convert("RGB")) for p in sorted(folder.iterdir()) if p.is_file()]
    canvas = np.empty((height, width, 3), np.uint8)
    y, row, count = 0, 0, 0
    while y < height:
        x, row_height = 0, min(p.shape[0] for p in photos)
        while x < width:
            photo = photos[count % len(photos)][:row_height]
            if count % 2:
                photo = photo[:, ::-1]
            if row % 2:
                photo = photo[::-1]
            w = min(photo.shape[1], width - x)
            h = min(row_height, height - y)
            canvas[y : y + h, x : x + w] = photo[:h, :w]
            x, count = x + w, count + 1
        y, row = y + row_height, row + 1
    return canvas


def run_child(source: Path, target: Path, quality: float, tile_side: str) -> tuple[float, float]:
    """(seconds, peak RSS in MB) of one encode (target .rgc) or decode (target .png) in a fresh process."""
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, str(source), str(target), str(quality), tile_side],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    return float(out[0]), int(out[1]) / 1024


def band_mask(width: int, height: int, tile_width: int, tile_height: int, shift: int = 0) -> np.ndarray:
    """True on the 16-pixel bands centred on the tile borders, or on lines ``shift`` pixels after them.

    With ``shift`` half a tile the bands run through the middle of the tiles: the
    same amount of the same kind of content, far from any border, as a control.
    """
    mask = np.zeros((height, width), bool)
    for x in range(tile_width + shift, width, tile_width):
        mask[:, max(0, x - BAND // 2) : x + BAND // 2] = True
    for y in range(tile_height + shift, height, tile_height):
        mask[max(0, y - BAND // 2) : y + BAND // 2] = True
    return mask


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return 10 * math.log10(255**2 / mse) if mse else float("inf")


def measure(
    folder: Path, megapixels: float, quality: float, tile_side: str, work: Path, reference: bool
) -> dict:
    import pillow_rgc

    height = int(round(math.sqrt(megapixels * 1e6 / 1.5) / 16)) * 16
    width = height * 3 // 2
    picture = mosaic(folder, width, height)
    source, coded, decoded = work / "source.png", work / "coded.rgc", work / "decoded.png"
    Image.fromarray(picture).save(source, compress_level=1)
    encode_s, encode_mb = run_child(source, coded, quality, tile_side)
    decode_s, decode_mb = run_child(coded, decoded, quality, tile_side)
    summary = pillow_rgc.info(coded.read_bytes())
    result = np.asarray(Image.open(decoded).convert("RGB"))
    coded_bytes = coded.stat().st_size
    untiled = None
    if reference:  # the same picture coded whole: what the border bands cost without tiles
        run_child(source, coded, quality, "0")
        run_child(coded, decoded, quality, "0")
        untiled = np.asarray(Image.open(decoded).convert("RGB"))
    row = {
        "width": width,
        "height": height,
        "megapixels": round(width * height / 1e6, 2),
        "tiles": summary["tiles"],
        "tile": f"{summary['tile_width']}x{summary['tile_height']}",
        "bpp": round(8 * coded_bytes / (width * height), 3),
        "encode_s": round(encode_s, 1),
        "encode_peak_mb": round(encode_mb),
        "decode_s": round(decode_s, 1),
        "decode_peak_mb": round(decode_mb),
        "psnr": round(psnr(picture, result), 2),
    }
    if summary["tiles"] > 1:
        tile_width, tile_height = summary["tile_width"], summary["tile_height"]
        borders = band_mask(width, height, tile_width, tile_height)
        control = band_mask(width, height, tile_width, tile_height, shift=-min(tile_width, tile_height) // 2)
        row["psnr_borders"] = round(psnr(picture[borders], result[borders]), 2)
        row["psnr_interior"] = round(psnr(picture[~borders], result[~borders]), 2)
        row["psnr_mid_tile_bands"] = round(psnr(picture[control], result[control]), 2)
        if untiled is not None:
            row["untiled_psnr_borders"] = round(psnr(picture[borders], untiled[borders]), 2)
            row["untiled_psnr_interior"] = round(psnr(picture[~borders], untiled[~borders]), 2)
    return row


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("photos", type=Path, help="folder of photos to build the mosaic from")
    parser.add_argument("--megapixels", type=float, nargs="+", default=[6, 12, 24])
    parser.add_argument("--quality", type=float, default=0.95)
    parser.add_argument(
        "--tile-side", default="auto", help="'auto' (the writer's choice), 0 (one tile) or a side in pixels"
    )
    parser.add_argument(
        "--untiled-reference",
        action="store_true",
        help="also code each picture whole (memory grows with the picture: ~4 GB at 6 MP) and report its "
        "PSNR on the same bands, so seams can be told from content",
    )
    args = parser.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for megapixels in args.megapixels:
            started = time.perf_counter()
            rows.append(
                measure(
                    args.photos, megapixels, args.quality, args.tile_side, Path(tmp), args.untiled_reference
                )
            )
            print(f"  {megapixels} MP measured in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    extra = (
        "psnr_borders",
        "psnr_interior",
        "psnr_mid_tile_bands",
        "untiled_psnr_borders",
        "untiled_psnr_interior",
    )
    columns = list(rows[0]) + [c for c in extra if c not in rows[0]]
    print(f"quality={args.quality}, tile side {args.tile_side}; peak = the process's peak RSS")
    print(" | ".join(columns))
    print(" | ".join("---" for _ in columns))
    for row in rows:
        print(" | ".join(str(row.get(c, "")) for c in columns))
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "big_photos.json").write_text(json.dumps({"args": vars(args) | {"photos": str(args.photos)},
                                                        "rows": rows}, indent=1))  # fmt: skip


if __name__ == "__main__":
    main()
