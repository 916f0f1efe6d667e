"""What a gallery of thumbnails costs: ``im.thumbnail()`` against a full decode (issue 6, "Previews").

Usage:
    python benchmarks/thumbnails.py DIR [--size 256] [--quality 75] [--model ID]
                                        [--limit N] [--repeat 3] [--out benchmarks/results/]

Every photo of DIR (sorted by name; --limit keeps the first N) is encoded
once with ``im.save(..., quality=Q)``. Then, from the file's bytes, timed
with time.perf_counter (best of --repeat runs, after one warm-up that loads
the model):

- full: ``Image.open`` + ``load()``, every iteration at full size;
- thumbnail: ``Image.open`` + ``thumbnail((S, S))``, which calls
  ``draft()``: the image is reduced by 2, 4 or 8 and fewer iterations are
  decoded (pillow_rgc.plugin: ceil(n / factor), at least 2);
- baseline: ``Image.open`` + ``load()`` + ``thumbnail((S, S))``, what the
  thumbnail would cost without ``draft()``.

Printed: one row per photo (size, iterations in the file, iterations the
thumbnail decoded, the three times, the speed-up of thumbnail over baseline,
and the PSNR of both thumbnails against the thumbnail of the source photo
made the same way, so the cost of the skipped iterations shows), then the
totals: the speed-up of a gallery is total baseline time / total thumbnail
time. Written to --out: thumbnails_<DIR name>.json (every number).
"""

from __future__ import annotations

import argparse
import datetime
import functools
import io
import json
import platform
import statistics
import time
from pathlib import Path

import numpy as np
from PIL import Image

import pillow_rgc
from pillow_rgc.quality import psnr

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".ppm", ".bmp", ".tif", ".tiff", ".webp"}


def best_time(action, repeat: int):
    """(fastest wall time of ``repeat`` runs, the last run's result)."""
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = action()
        times.append(time.perf_counter() - start)
    return min(times), result


def full(data: bytes) -> Image.Image:
    im = Image.open(io.BytesIO(data))
    im.load()
    return im


def thumbnail(data: bytes, size: int) -> Image.Image:
    im = Image.open(io.BytesIO(data))
    im.thumbnail((size, size))
    return im


def baseline(data: bytes, size: int) -> Image.Image:
    im = full(data)
    im.thumbnail((size, size))
    return im


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dir", type=Path)
    parser.add_argument("--size", type=int, default=256, help="thumbnail box (default 256)")
    parser.add_argument("--quality", type=float, default=pillow_rgc.DEFAULT_QUALITY)
    parser.add_argument("--model", default=None)
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results")
    args = parser.parse_args()

    paths = sorted(p for p in args.dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)[: args.limit]
    if not paths:
        raise SystemExit(f"no images in {args.dir}")
    rows = []
    print(
        f"{'photo':32} {'size':>9} {'iters':>5} {'thumb':>5} {'full s':>7} {'thumb s':>7} {'base s':>7} "
        f"{'speed-up':>8} {'PSNR thumb':>10} {'PSNR base':>9}"
    )
    for number, path in enumerate(paths):
        with Image.open(path) as photo:
            photo = photo.convert("RGB")
        buffer = io.BytesIO()
        photo.save(buffer, "RGC", quality=args.quality, model=args.model)
        data = buffer.getvalue()
        if number == 0:
            full(data)  # warm-up: loads the model once
        full_s, _ = best_time(functools.partial(full, data), args.repeat)
        thumb_s, thumb = best_time(functools.partial(thumbnail, data, args.size), args.repeat)
        base_s, base = best_time(functools.partial(baseline, data, args.size), args.repeat)
        source = photo.copy()
        source.thumbnail((args.size, args.size))
        reference = np.asarray(source)
        row = {
            "photo": path.name,
            "width": photo.width,
            "height": photo.height,
            "bytes": len(data),
            "iterations": thumb.info["iterations"],
            "thumbnail_iterations": thumb.info["iterations_decoded"],
            "thumbnail_size": list(thumb.size),
            "full_s": full_s,
            "thumbnail_s": thumb_s,
            "baseline_s": base_s,
            "speedup": base_s / thumb_s,
            "psnr_thumbnail_db": psnr(reference, np.asarray(thumb.convert("RGB"))),
            "psnr_baseline_db": psnr(reference, np.asarray(base.convert("RGB"))),
        }
        rows.append(row)
        print(
            f"{path.name[:32]:32} {photo.width:>4}x{photo.height:<4} {row['iterations']:>5} "
            f"{row['thumbnail_iterations']:>5} {full_s:>7.3f} {thumb_s:>7.3f} {base_s:>7.3f} "
            f"{row['speedup']:>7.2f}x {row['psnr_thumbnail_db']:>10.2f} {row['psnr_baseline_db']:>9.2f}"
        )
    total_thumb = sum(r["thumbnail_s"] for r in rows)
    total_base = sum(r["baseline_s"] for r in rows)
    summary = {
        "photos": len(rows),
        "total_thumbnail_s": total_thumb,
        "total_baseline_s": total_base,
        "gallery_speedup": total_base / total_thumb,
        "mean_psnr_thumbnail_db": statistics.mean(r["psnr_thumbnail_db"] for r in rows),
        "mean_psnr_baseline_db": statistics.mean(r["psnr_baseline_db"] for r in rows),
    }
    print(
        f"\ngallery of {len(rows)} thumbnails ({args.size}px): {total_thumb:.2f} s with draft, "
        f"{total_base:.2f} s with full decodes: {summary['gallery_speedup']:.2f}x faster; "
        f"mean PSNR against the source's thumbnail {summary['mean_psnr_thumbnail_db']:.2f} dB "
        f"(full decodes: {summary['mean_psnr_baseline_db']:.2f} dB)"
    )
    args.out.mkdir(parents=True, exist_ok=True)
    out = args.out / f"thumbnails_{args.dir.name}.json"
    meta = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": platform.platform(),
        "model": args.model or pillow_rgc.DEFAULT_MODEL,
        "quality": args.quality,
        "size": args.size,
        "repeat": args.repeat,
    }
    out.write_text(json.dumps({"meta": meta, "summary": summary, "photos": rows}, indent=1) + "\n")
    print(f"written: {out}")


if __name__ == "__main__":
    main()
