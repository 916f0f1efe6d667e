"""Where an iteration's bits go: the bits a 16x16 block costs, flat blocks against busy ones.

Usage:
    python benchmarks/bits_by_detail.py DIR [--model ID] [--iterations 1 2 4 8 12]

Every photo of DIR is encoded through all its model's iterations. Each code
cell (one 16x16 block) is ranked by the source's detail finer than 2 pixels in
that block (the energy of the band ``residual_scales.py`` calls "finer than
2"), and the blocks of all photos are split into four quarters, flat to busy.
For each iteration the table gives the mean bits a block costs in each
quarter, as the model's context prior codes them (ITER coding 3: the sum over
the block's channels of -log2 of the probability the prior gives its bit).

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

from pillow_rgc import codec, prior_coding, rans  # noqa: E402
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
    pairs = padded.reshape(rows * BLOCK // 2, 2, columns * BLOCK // 2, 2, 3)
    detail = pairs - pairs.mean(axis=(1, 3), keepdims=True)
    return (detail**2).reshape(rows, BLOCK, columns, BLOCK, 3).mean(axis=(1, 3, 4))


def block_bits(bitplane: np.ndarray, earlier: list[np.ndarray], prior) -> np.ndarray:
    """(rows, columns): the bits each cell of ``bitplane`` (channels, rows, columns) costs under ``prior``."""
    p_one = rans.probabilities(prior_coding.cell_logits(bitplane, earlier, prior)).reshape(bitplane.shape)
    chance = np.where(bitplane, p_one, 1 - p_one)
    return -np.log2(np.maximum(chance, 1e-12)).sum(axis=0)


def photo_blocks(path: Path, model) -> tuple[np.ndarray, list[np.ndarray]]:
    """A photo's block detail and, per iteration, its block bits (all flattened)."""
    pixels = np.asarray(Image.open(path).convert("RGB"))
    bitplanes = codec.encode_pixels(model, pixels, model.info.iterations)
    rows, columns = bitplanes[0].shape[1:]
    bits = [block_bits(plane, bitplanes[:k], model.prior).ravel() for k, plane in enumerate(bitplanes)]
    return block_detail(pixels, rows, columns).ravel(), bits


def quarter_means(detail: np.ndarray, bits: np.ndarray) -> list[float]:
    """Mean bits of the blocks in each quarter of ``detail``, flattest first."""
    order = np.argsort(detail, kind="stable")
    return [float(bits[part].mean()) for part in np.array_split(order, len(QUARTERS))]


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
    details, bits_per_iteration = [], []
    for path in photos:
        detail, bits = photo_blocks(path, model)
        details.append(detail)
        bits_per_iteration.append(bits)
    detail = np.concatenate(details)
    print(f"{len(photos)} photos of {args.images}, {detail.size} blocks of 16x16, model {args.model}")
    print("bits a block costs (context prior), blocks in quarters by detail finer than 2 px, flat to busy")
    print("| iteration | " + " | ".join(QUARTERS) + " | flattest / busiest |")
    print("|---" * (len(QUARTERS) + 2) + "|")
    for k in args.iterations:
        if not 1 <= k <= model.info.iterations:
            continue
        bits = np.concatenate([photo[k - 1] for photo in bits_per_iteration])
        means = quarter_means(detail, bits)
        cells = " | ".join(f"{m:.1f}" for m in means)
        print(f"| {k} | {cells} | {means[0] / means[-1]:.2f} |")


if __name__ == "__main__":
    main()
