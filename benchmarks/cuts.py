"""A file cut at any byte against a file made for that size (the product goal "cut anywhere").

Usage:
    python benchmarks/cuts.py DIR [--model ID] [--limit N] [--bpp 0.1 0.2 ...]
                                  [--plot docs/cuts.png] [--out benchmarks/results/]

Every photo of DIR (sorted by name; --limit keeps the first N) is encoded
twice with every iteration of the model: as the writer stores files by
default (whole iterations, each in its smallest coding) and with
``segmented=True`` (every iteration after the first in coding 4). For each
budget B of --bpp bits per pixel, three files of at most B x pixels / 8 bytes:

- made: ``pillow_rgc.encode(photo, max_bytes=...)``, a file made for the size
  (it ends with the segments of the last iteration that fit);
- cut: the first bytes of the default file, as a server or a slow link cuts
  it (a reader decodes its complete iterations);
- cut segmented: the first bytes of the segmented file (a reader also decodes
  the complete segments of the iteration the cut falls in).

Printed: per budget, the mean bpp and MS-SSIM of each over the photos whose
first iteration fits, and the MS-SSIM that each cut loses against the made
file. Written to --out: cuts_<DIR name>.json (every number); --plot draws
MS-SSIM against bpp for the three.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np
from PIL import Image
from rd import run_facts

import pillow_rgc
from pillow_rgc.quality import MsSsimReference
from pillow_rgc.training.photos import list_images

KINDS = ("made", "cut", "cut segmented")


def decoded_quality(data: bytes, scorer: MsSsimReference) -> float | None:
    """MS-SSIM of the picture ``data`` decodes to, None when it holds no complete iteration."""
    try:
        image = pillow_rgc.decode(data)
    except pillow_rgc.RGCFormatError:
        return None
    return scorer.score(np.asarray(image.convert("RGB")))


def photo_rows(path: Path, model: str | None, budgets: list[float]) -> list[dict]:
    with Image.open(path) as photo:
        photo = photo.convert("RGB")
    pixels = photo.width * photo.height
    scorer = MsSsimReference(np.asarray(photo))
    whole = pillow_rgc.encode(photo, quality=1, model=model)
    segmented = pillow_rgc.encode(photo, quality=1, model=model, segmented=True)
    rows = []
    for bpp in budgets:
        size = int(bpp * pixels / 8)
        try:
            made = pillow_rgc.encode(photo, max_bytes=size, model=model)
        except ValueError:  # not even the first iteration fits
            continue
        files = {"made": made, "cut": whole[:size], "cut segmented": segmented[:size]}
        row = {"photo": path.name, "budget_bpp": bpp}
        for kind, data in files.items():
            row[kind] = {"bpp": 8 * len(data) / pixels, "ms_ssim": decoded_quality(data, scorer)}
        rows.append(row)
    return rows


def summary(rows: list[dict], budgets: list[float]) -> list[dict]:
    """Per budget, means over the photos where every kind decodes."""
    table = []
    for bpp in budgets:
        usable = [
            r for r in rows if r["budget_bpp"] == bpp and all(r[k]["ms_ssim"] is not None for k in KINDS)
        ]
        if not usable:
            continue
        entry = {"budget_bpp": bpp, "photos": len(usable)}
        for kind in KINDS:
            entry[kind] = {
                "bpp": statistics.mean(r[kind]["bpp"] for r in usable),
                "ms_ssim": statistics.mean(r[kind]["ms_ssim"] for r in usable),
            }
        table.append(entry)
    return table


def print_table(table: list[dict]) -> None:
    print(
        f"{'budget bpp':>10} {'photos':>6} | {'made bpp':>8} {'MS-SSIM':>8} | {'cut bpp':>8} {'MS-SSIM':>8} "
        f"{'lost':>7} | {'seg. bpp':>8} {'MS-SSIM':>8} {'lost':>7}"
    )
    for entry in table:
        made, cut, seg = (entry[kind] for kind in KINDS)
        print(
            f"{entry['budget_bpp']:>10.3f} {entry['photos']:>6} | "
            f"{made['bpp']:>8.3f} {made['ms_ssim']:>8.4f} | "
            f"{cut['bpp']:>8.3f} {cut['ms_ssim']:>8.4f} {made['ms_ssim'] - cut['ms_ssim']:>7.4f} | "
            f"{seg['bpp']:>8.3f} {seg['ms_ssim']:>8.4f} {made['ms_ssim'] - seg['ms_ssim']:>7.4f}"
        )


def plot(table: list[dict], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    for kind, style in zip(KINDS, ("o-", "s--", "^:")):
        ax.plot([e[kind]["bpp"] for e in table], [e[kind]["ms_ssim"] for e in table], style, label=kind)
    ax.set_xlabel("bits per pixel (mean over the photos)")
    ax.set_ylabel("MS-SSIM (mean)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dir", type=Path)
    parser.add_argument("--model", default=None)
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument(
        "--bpp", type=float, nargs="+", default=[0.08, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.8]
    )
    parser.add_argument("--plot", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results")
    args = parser.parse_args()
    started = time.perf_counter()
    rows = [
        row for path in list_images(args.dir)[: args.limit] for row in photo_rows(path, args.model, args.bpp)
    ]
    table = summary(rows, args.bpp)
    model = args.model or pillow_rgc.DEFAULT_MODEL
    print(f"{args.dir.name}, model {model}: a cut file against a file made for the size")
    print_table(table)
    args.out.mkdir(parents=True, exist_ok=True)
    out = args.out / f"cuts_{args.dir.name}.json"
    out.write_text(
        json.dumps({"model": model, "rows": rows, "summary": table, **run_facts(started)}, indent=1)
    )
    print(f"wrote {out}")
    if args.plot:
        plot(table, args.plot, f"{args.dir.name}: cut at a byte vs made for the size ({model})")
        print(f"wrote {args.plot}")


if __name__ == "__main__":
    main()
