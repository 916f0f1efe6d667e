"""Measure Pillow JPEG quality -> mean MS-SSIM, printed as Python source for pillow_rgc/quality.py.

Usage: python benchmarks/jpeg_quality_table.py DIR

Every photo of DIR is encoded with Pillow JPEG (optimize=True, Pillow's default
4:2:0 chroma subsampling) at each quality of QUALITIES, decoded with
Image.open, and scored with pillow_rgc.quality.ms_ssim against the RGB
original; the table holds the mean over photos.
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import sys
from pathlib import Path

import numpy as np
import PIL
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
QUALITIES = (1, 2, 3, *range(5, 100, 5), 98, 100)
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".ppm", ".pgm", ".bmp", ".tif", ".tiff", ".webp"}


def load_quality_module():
    """pillow_rgc.quality, or the file itself if the package does not import (work in progress)."""
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    try:
        from pillow_rgc import quality

        return quality
    except Exception as exc:  # any failure of the package's __init__
        print(f"# note: import pillow_rgc failed ({exc!r}); loading quality.py directly", file=sys.stderr)
        spec = importlib.util.spec_from_file_location("_rgc_quality", REPO / "pillow_rgc" / "quality.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module


def list_photos(directory: Path) -> list[Path]:
    return sorted(p for p in directory.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def jpeg_roundtrip(im: Image.Image, quality: int) -> tuple[int, np.ndarray]:
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=quality, optimize=True)
    data = buf.getvalue()
    with Image.open(io.BytesIO(data)) as dec:
        return len(data), np.asarray(dec.convert("RGB"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dir", type=Path, help="directory of photos")
    args = parser.parse_args(argv)
    quality = load_quality_module()

    photos = list_photos(args.dir)
    if not photos:
        parser.error(f"no photos in {args.dir}")
    scores = np.zeros((len(photos), len(QUALITIES)))
    bpp = np.zeros_like(scores)
    for i, path in enumerate(photos):
        with Image.open(path) as f:
            im = f.convert("RGB")
        ref = np.asarray(im)
        for j, q in enumerate(QUALITIES):
            size, dec = jpeg_roundtrip(im, q)
            scores[i, j] = quality.ms_ssim(ref, dec)
            bpp[i, j] = 8.0 * size / (im.width * im.height)
        print(f"# {path.name}: done", file=sys.stderr)

    mean = scores.mean(axis=0)
    # The table must be non-decreasing in quality; report any fix-up made.
    table = np.maximum.accumulate(mean)
    raw_notes = [f"q={q}: {m:.5f}" for q, m, t in zip(QUALITIES, mean, table) if t != m]

    print(f"# Pillow JPEG quality -> mean MS-SSIM of the decoded image over the {len(photos)} photos of")
    print(f"# {args.dir}, measured by benchmarks/jpeg_quality_table.py")
    print(f"# (`python benchmarks/jpeg_quality_table.py {args.dir}`): Pillow {PIL.__version__} JPEG,")
    print("# optimize=True, default 4:2:0 subsampling. Mean bpp in comments. Do not edit by hand.")
    if raw_notes:
        print("# Made non-decreasing (running maximum); raw means: " + ", ".join(raw_notes))
    print("JPEG_QUALITY_TO_MS_SSIM: tuple[tuple[int, float], ...] = (")
    for q, v, b in zip(QUALITIES, table, bpp.mean(axis=0)):
        print(f"    ({q}, {v:.5f}),  # {b:.3f} bpp")
    print(")")
    return 0


if __name__ == "__main__":
    sys.exit(main())
