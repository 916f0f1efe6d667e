"""Where an iteration's bits go: the bits a 16x16 block costs, flat blocks against busy ones.

Usage:
    python benchmarks/bits_by_detail.py DIR [--model ID] [--iterations 1 2 4 8 12]

Every photo of DIR is encoded through all its model's iterations. Each code
cell (one 16x16 block) is ranked by the source's detail finer than 2 pixels in
that block (the energy of the band ``residual_scales.py`` calls "finer than
2"), and the blocks of all photos are split into four quarters, flat to busy.
For each iteration the table gives the mean bits a block costs in each
quarter, as the model's context prior codes them (ITER coding 3: the sum over
the block's channels of -log2 of the probability the prior gives its bit). A
second table gives each quarter's share of an iteration's bits beside its share
of the drop in squared error that the iteration brings (the picture
``Image.open`` returns, before and after the iteration).

Why: a transform coder spends almost nothing on a flat block and much on a busy
one. If rgc's flat blocks cost nearly what busy ones do, the iterations spend
bits uniformly over the picture, and a lever that lets the encoder send less
where little is left (a price on the bits in training, a code that can be
cheaply "nothing") has bits to win.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from adaptive_bits import bit_costs  # noqa: E402
from residual_scales import box_blur  # noqa: E402

from pillow_rgc import codec  # noqa: E402
from pillow_rgc.models import DEFAULT_MODEL, load_model  # noqa: E402
from pillow_rgc.training.photos import list_images  # noqa: E402

BLOCK = 16
QUARTERS = ("flattest", "second", "third", "busiest")


def block_detail(pixels: np.ndarray, rows: int, columns: int) -> np.ndarray:
    """(rows, columns): mean squared detail finer than 2x2 pixels of each code block (edge-padded)."""
    height, width = pixels.shape[:2]
    padded = np.pad(
        pixels.astype(np.float64) / 255,
        ((0, rows * BLOCK - height), (0, columns * BLOCK - width), (0, 0)),
        mode="edge",
    )
    detail = padded - box_blur(padded, 2)
    return (detail**2).reshape(rows, BLOCK, columns, BLOCK, 3).mean(axis=(1, 3, 4))


def block_errors(source: np.ndarray, picture: np.ndarray, rows: int, columns: int) -> np.ndarray:
    """(rows * columns,): squared error of ``picture`` summed over each block (padding counts 0)."""
    height, width = source.shape[:2]
    errors = np.zeros((rows * BLOCK, columns * BLOCK))
    errors[:height, :width] = ((source.astype(np.float64) - picture) ** 2).sum(axis=2)
    return errors.reshape(rows, BLOCK, columns, BLOCK).sum(axis=(1, 3)).ravel()


def photo_blocks(path: Path, model) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A photo's block detail (blocks,), block bits (iterations, blocks), and the drop in each block's
    squared error that each iteration brings (iterations, blocks)."""
    pixels = np.asarray(Image.open(path).convert("RGB"))
    bitplanes = codec.encode_pixels(model, pixels, model.info.iterations)
    rows, columns = bitplanes[0].shape[1:]
    bits = [
        bit_costs(plane, bitplanes[:k], model.prior).sum(axis=0).ravel() for k, plane in enumerate(bitplanes)
    ]
    pictures = codec.decode_iterations(model, bitplanes, *pixels.shape[:2])
    errors = [block_errors(pixels, picture, rows, columns) for picture in [np.zeros(pixels.shape), *pictures]]
    return block_detail(pixels, rows, columns).ravel(), np.array(bits), -np.diff(errors, axis=0)


def quarters(detail: np.ndarray) -> list[np.ndarray]:
    """Indices of the blocks in each quarter of ``detail``, flattest first."""
    return np.array_split(np.argsort(detail, kind="stable"), len(QUARTERS))


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("images", type=Path)
    p.add_argument("--model", default=DEFAULT_MODEL)
    p.add_argument("--iterations", type=int, nargs="+", default=[1, 2, 3, 4, 6, 8, 12])
    args = p.parse_args(argv)
    model = load_model(args.model)
    if model.prior is None:
        p.error(f"model {args.model!r} has no context prior to price its bits with")
    photos = list_images(args.images)
    if not photos:
        p.error(f"no photos in {args.images}")
    detail, bits, drops = (
        np.concatenate(parts, axis=-1) for parts in zip(*(photo_blocks(p, model) for p in photos))
    )
    parts = quarters(detail)
    shown = [k for k in args.iterations if 1 <= k <= model.info.iterations]
    print(f"{len(photos)} photos of {args.images}, {detail.size} blocks of 16x16, model {args.model}")
    print("\nbits a block costs (context prior), blocks in quarters by detail finer than 2 px, flat to busy")
    print("| iteration | " + " | ".join(QUARTERS) + " | flattest / busiest |")
    print("|---" * (len(QUARTERS) + 2) + "|")
    for k in shown:
        means = [bits[k - 1, part].mean() for part in parts]
        print(f"| {k} | " + " | ".join(f"{m:.1f}" for m in means) + f" | {means[0] / means[-1]:.2f} |")
    print("\neach quarter's share of an iteration's bits / of the drop in squared error it brings")
    print("| iteration | " + " | ".join(QUARTERS) + " |")
    print("|---" * (len(QUARTERS) + 1) + "|")
    for k in shown:
        bit_share = [bits[k - 1, part].sum() / bits[k - 1].sum() for part in parts]
        drop_share = [drops[k - 1, part].sum() / drops[k - 1].sum() for part in parts]
        shares = [f"{b:.2f} / {d:.2f}" for b, d in zip(bit_share, drop_share)]
        print(f"| {k} | " + " | ".join(shares) + " |")


if __name__ == "__main__":
    main()
