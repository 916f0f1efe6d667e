"""Would spatially adaptive bits pay? Code cells that stop receiving bits, estimated without a format.

Usage:
    python benchmarks/adaptive_bits.py DIR [--model ID] [--reference ID] [--rules psnr:38 ...] [--limit N]

Johnston et al. (2018) send an iteration's bits only for the code cells (here
16x16 pixels) that still need them; the others get none and their decoder
input is 0, the value the decoder already reads for a partial iteration's
missing channels. Every photo of DIR is encoded through all iterations, once
with every cell and once per stopping rule, and after each iteration the
picture ``Image.open`` would return is scored with MS-SSIM and PSNR.

Stopping rules (a cell that stops gets no bits in any later iteration):

- ``psnr T``: the cell's PSNR reached T dB;
- ``ssim T``: the cell's mean luma SSIM (11x11 Gaussian, sigma 1.5) reached T;
- ``stall R``: the last iteration lowered the cell's squared error by less than
  the fraction R (the network no longer improves it).

Rates are estimates that favour the rules: a sent bit costs its information
under the model's context prior (``-log2 p``, what coding 3 spends, within a
fraction of a percent), computed with every cell's true bits as context; the
per-iteration map of cells that stop costs its binary entropy over the cells
still sending, plus 16 bits. The table gives each rule's Bjontegaard rates
against sending every cell (on MS-SSIM in dB and on PSNR; negative: the rule
saves bits) and the mean bpp, MS-SSIM and PSNR after the last iteration.
``--reference`` measures them against another model's every-cell curve instead
(a model trained with ``train --stop-psnr`` against the one it started from).
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
from pillow_rgc.bdrate import bd_rate, ms_ssim_db  # noqa: E402
from pillow_rgc.models import DEFAULT_MODEL, load_model  # noqa: E402
from pillow_rgc.quality import ms_ssim, psnr  # noqa: E402
from pillow_rgc.training.photos import list_images  # noqa: E402

RULES = [("psnr", t) for t in (34, 36, 38, 40)]
RULES += [("ssim", t) for t in (0.96, 0.975, 0.985, 0.99)]
RULES += [("stall", r) for r in (0.02, 0.05, 0.1)]
LUMA = np.array([0.299, 0.587, 0.114])
WINDOW = np.exp(-((np.arange(11) - 5) ** 2) / (2 * 1.5**2))
WINDOW /= WINDOW.sum()


def blur(plane: np.ndarray) -> np.ndarray:
    """SSIM's 11x11 Gaussian (sigma 1.5), same size, borders mirrored."""
    height, width = plane.shape
    padded = np.pad(plane, 5, mode="symmetric")
    rows = sum(w * padded[i : i + height] for i, w in enumerate(WINDOW))
    return sum(w * rows[:, i : i + width] for i, w in enumerate(WINDOW))


def bit_costs(bits: np.ndarray, earlier: list[np.ndarray], prior) -> np.ndarray:
    """Information (bits) of every bit of a bitplane under the context prior, (channels, rows, columns)."""
    p_one = rans.probabilities(prior_coding.cell_logits(bits, earlier, prior)).reshape(bits.shape)
    return -np.log2(np.maximum(np.where(bits, p_one, 1 - p_one), 1e-9))


def cell_errors(source: np.ndarray, picture: np.ndarray, stride: int, rows: int, columns: int) -> dict:
    """Per code cell: mean squared error over RGB and mean luma SSIM, (rows, columns) each."""
    height, width = source.shape[:2]
    pad = ((0, rows * stride - height), (0, columns * stride - width), (0, 0))
    a = np.pad(source.astype(np.float64), pad, mode="edge")
    b = np.pad(picture.astype(np.float64), pad, mode="edge")

    def per_cell(values: np.ndarray) -> np.ndarray:
        return values.reshape(rows, stride, columns, stride).mean(axis=(1, 3))

    ya, yb = a @ LUMA, b @ LUMA
    ma, mb = blur(ya), blur(yb)
    va, vb, cov = blur(ya * ya) - ma**2, blur(yb * yb) - mb**2, blur(ya * yb) - ma * mb
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    ssim = ((2 * ma * mb + c1) * (2 * cov + c2)) / ((ma**2 + mb**2 + c1) * (va + vb + c2))
    return {"mse": per_cell(((a - b) ** 2).mean(axis=2)), "ssim": per_cell(ssim)}


def stopping(rule, errors: dict, before: dict | None) -> np.ndarray:
    """The cells ``rule`` stops after an iteration with cell errors ``errors`` (``before``: the last's)."""
    kind, threshold = rule
    if kind == "psnr":
        return 10 * np.log10(255**2 / np.maximum(errors["mse"], 1e-6)) >= threshold
    if kind == "ssim":
        return errors["ssim"] >= threshold
    if before is None:
        return np.zeros(errors["mse"].shape, bool)
    return before["mse"] - errors["mse"] < threshold * before["mse"]


def binary_entropy(p: float) -> float:
    p = min(max(p, 1e-9), 1 - 1e-9)
    return -(p * np.log2(p) + (1 - p) * np.log2(1 - p))


def curve(model, pixels: np.ndarray, rule=None) -> list[tuple[float, float, float]]:
    """(bpp, MS-SSIM, PSNR) per iteration: every cell sending (``rule`` None) or stopping by ``rule``."""
    height, width = pixels.shape[:2]
    stride = model.info.code_stride
    image = codec.to_network(pixels, stride)
    rows, columns = image.shape[2] // stride, image.shape[3] // stride
    encoder_states = model.zero_encoder_states(*image.shape[2:])
    decoder_states = model.zero_decoder_states(*image.shape[2:])
    value = np.zeros_like(image)
    sending = np.ones((rows, columns), bool)
    earlier, bits_spent, before, points = [], 0.0, None, []
    for _ in range(model.info.iterations):
        signs, encoder_states = model.encode_step(image - value, encoder_states)
        bits = signs[0] > 0
        bits_spent += bit_costs(bits, earlier, model.prior)[:, sending].sum()
        decoder_input = np.where(bits, np.float32(1), np.float32(-1)) * sending
        delta, decoder_states = model.decode_step(decoder_input[None], decoder_states)
        value = model.synthesize(decoder_states) if delta is None else value + delta
        earlier.append(bits)
        picture = codec.to_pixels(value, height, width)
        points.append((bits_spent / (height * width), ms_ssim(pixels, picture), psnr(pixels, picture)))
        if rule is not None:
            errors = cell_errors(pixels, picture, stride, rows, columns)
            stops = sending & stopping(rule, errors, before)
            if sending.any():
                bits_spent += sending.sum() * binary_entropy(stops.sum() / sending.sum()) + 16
            sending &= ~stops
            before = errors
    return points


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dir", type=Path)
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument(
        "--reference",
        default=None,
        help="model whose every-cell curve the BD-rates are against (default: --model)",
    )
    parser.add_argument(
        "--rules", nargs="*", type=stopping_rule, default=RULES, help="e.g. psnr:38 ssim:0.99"
    )
    parser.add_argument("--limit", type=int, default=None)
    args = parser.parse_args()
    loaded = {name: load_model(name) for name in {args.model, args.reference or args.model}}
    for name, model in loaded.items():
        if model.prior is None:
            parser.error(f"{name} has no context prior to price the bits with")
    model, reference_model = loaded[args.model], loaded[args.reference or args.model]
    photos = [np.asarray(Image.open(p).convert("RGB")) for p in list_images(args.dir)[: args.limit]]
    reference = [curve(reference_model, pixels) for pixels in photos]
    against = args.reference or "every cell"
    print(f"{args.model} on {len(photos)} photos of {args.dir}; bits priced by the context prior\n")
    print(
        f"| rule | BD-rate vs {against}, MS-SSIM dB | PSNR | after the last iteration: bpp | MS-SSIM | PSNR |"
    )
    print("|---|---|---|---|---|---|")
    for rule in [None, *args.rules]:
        if rule is None and args.reference is None:
            curves = reference
        else:
            curves = [curve(model, pixels, rule) for pixels in photos]
        on_ms_ssim, on_psnr = [], []
        for plain, test in zip(reference, curves):
            (r1, m1, p1), (r2, m2, p2) = zip(*plain), zip(*test)
            for rates, rate in (
                (on_ms_ssim, bd_rate(r1, list(map(ms_ssim_db, m1)), r2, list(map(ms_ssim_db, m2)))),
                (on_psnr, bd_rate(r1, p1, r2, p2)),
            ):
                if rate is not None:
                    rates.append(100 * rate)
        last = np.mean([points[-1] for points in curves], axis=0)
        name = "every cell" if rule is None else f"{rule[0]} {rule[1]:g}"
        print(
            f"| {name} | {np.mean(on_ms_ssim):+.1f} % | {np.mean(on_psnr):+.1f} % "
            f"| {last[0]:.3f} | {last[1]:.4f} | {last[2]:.2f} |",
            flush=True,
        )


def stopping_rule(text: str) -> tuple[str, float]:
    """``psnr:38`` -> ("psnr", 38.0), for ``--rules``."""
    kind, _, threshold = text.partition(":")
    try:
        value = float(threshold)
    except ValueError:
        value = None
    if kind not in ("psnr", "ssim", "stall") or value is None:
        raise argparse.ArgumentTypeError(f"expected psnr:T, ssim:T or stall:R, got {text!r}")
    return kind, value


if __name__ == "__main__":
    main()
