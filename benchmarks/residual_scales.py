"""Which scales of the picture each iteration codes: the residual's energy split into bands.

Usage:
    python benchmarks/residual_scales.py DIR [--models rgc-lean-3 ...] [--classic avif:40 jpeg:50 ...]
        [--plot P] [--out benchmarks/results/]

A centre crop of every photo of DIR is encoded once through all iterations
(``quality=1``) and decoded after each iteration, as ``Image.open`` returns it. The residual
(source minus decoded, in 0..1) is split into four bands by 2x2 box pyramids:
detail finer than 2x2 pixels, 2x2 to 4x4, 4x4 to 16x16, and coarser than
16x16 (the code block). Each band's energy is printed as the PSNR the residual
would have if that band alone were left (dB; higher is better), next to the
PSNR of the whole residual and the same split of the source itself (iteration
0: nothing decoded yet).

Why: a codec that saturates shows it here. A band whose PSNR stops rising
while the others rise is detail the network does not code, whatever the
rate; the cure is in the layers that carry that scale, not in more iterations.
``--classic CODEC:QUALITY`` adds the same split for JPEG, WebP, AVIF or JPEG XL
files of the crops (as ``benchmarks/rd.py`` writes them), with their bits per
pixel beside rgc's per iteration: at the same rate, which bands do they code
that rgc leaves?
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from rd import decode_rgb, encode_pillow  # noqa: E402

import pillow_rgc  # noqa: E402
from pillow_rgc import api  # noqa: E402
from pillow_rgc.training.evaluate import iteration_pictures  # noqa: E402
from pillow_rgc.training.photos import centre_crops  # noqa: E402

BANDS = ("finer than 2", "2 to 4", "4 to 16", "coarser than 16")
BAND_EDGES = (2, 4, 16)


def box_blur(plane: np.ndarray, factor: int) -> np.ndarray:
    """Mean over factor x factor blocks, repeated back to full size (the crop is a multiple of 16)."""
    h, w = plane.shape[:2]
    blocks = plane.reshape(h // factor, factor, w // factor, factor, -1).mean(axis=(1, 3))
    return blocks.repeat(factor, axis=0).repeat(factor, axis=1)


def band_energies(residual: np.ndarray) -> list[float]:
    """Mean squared value of each band of ``residual`` (H, W, 3); the bands sum to the whole."""
    energies, finer = [], residual
    for factor in BAND_EDGES:
        coarser = box_blur(residual, factor)
        energies.append(float(np.mean((finer - coarser) ** 2)))
        finer = coarser
    energies.append(float(np.mean(finer**2)))
    return energies


def as_psnr(energy: float) -> float:
    return 10 * math.log10(1 / max(energy, 1e-12))


def bits_per_pixel(data: bytes, source: np.ndarray) -> float:
    return 8 * len(data) / (source.shape[0] * source.shape[1])


def mean_row(label, energies: list[list[float]], bpps: list[float]) -> dict:
    """One table row: the photos' mean band energies (as PSNRs) and mean bits per pixel."""
    mean = np.mean(energies, axis=0)
    return {
        "iteration": label,
        "bpp": float(np.mean(bpps)),
        "psnr": as_psnr(float(mean.sum())),
        "bands_psnr": [as_psnr(float(e)) for e in mean],
        "finest_share": float(mean[0] / mean.sum()),
    }


def model_rows(model: str, photos: list[np.ndarray]) -> list[dict]:
    """Mean band energies over the photos after each iteration (iteration 0 is the source itself)."""
    energies: dict[int, list[list[float]]] = {}
    bpps: dict[int, list[float]] = {}
    for source in photos:
        data = pillow_rgc.encode(Image.fromarray(source), quality=1.0, model=model)
        reference = source.astype(np.float64) / 255
        energies.setdefault(0, []).append(band_energies(reference))
        bpps.setdefault(0, []).append(0.0)
        for it, decoded in enumerate(iteration_pictures(data), start=1):
            energies.setdefault(it, []).append(band_energies(reference - decoded / 255))
            bpps.setdefault(it, []).append(bits_per_pixel(api.truncate(data, iterations=it), source))
    return [mean_row(it, energies[it], bpps[it]) for it in sorted(energies)]


def classic_rows(settings: list[tuple[str, int]], photos: list[np.ndarray]) -> list[dict]:
    """The same split for a classic codec's file of each crop, one row per ``(codec, quality)``."""
    rows = []
    for codec, quality in settings:
        energies, bpps = [], []
        for source in photos:
            data = encode_pillow(codec, Image.fromarray(source), quality)
            energies.append(band_energies((source.astype(np.float64) - decode_rgb(data)) / 255))
            bpps.append(bits_per_pixel(data, source))
        rows.append(mean_row(f"{codec} q{quality}", energies, bpps))
    return rows


def codec_setting(text: str) -> tuple[str, int]:
    """``avif:40`` -> ("avif", 40), for ``--classic``."""
    codec, _, quality = text.partition(":")
    if codec not in ("jpeg", "webp", "avif", "jxl") or not quality.isdigit():
        raise argparse.ArgumentTypeError(
            f"expected CODEC:QUALITY with CODEC jpeg, webp, avif or jxl: {text!r}"
        )
    return codec, int(quality)


def print_table(model: str, rows: list[dict]) -> None:
    print(f"\n{model}: PSNR (dB) of the residual left in each band (higher: more of that band coded)")
    header = ["iteration", "bpp", "whole", *BANDS, "finest share"]
    print(" | ".join(f"{h:>15}" for h in header))
    for r in rows:
        cells = [
            str(r["iteration"]),
            f"{r['bpp']:.3f}",
            f"{r['psnr']:.2f}",
            *(f"{b:.2f}" for b in r["bands_psnr"]),
        ]
        print(" | ".join(f"{c:>15}" for c in cells) + f" | {r['finest_share']:>15.2f}")


def plot(results: dict[str, list[dict]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(BANDS), figsize=(4 * len(BANDS), 3.6), sharey=True)
    for b, (ax, band) in enumerate(zip(axes, BANDS)):
        for model, rows in results.items():
            ax.plot(
                [r["iteration"] for r in rows], [r["bands_psnr"][b] for r in rows], marker="o", label=model
            )
        ax.set_title(f"residual detail {band} px")
        ax.set_xlabel("iteration")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("PSNR of the band left (dB)")
    axes[0].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("images", type=Path)
    p.add_argument("--models", nargs="+", default=[pillow_rgc.DEFAULT_MODEL])
    p.add_argument(
        "--classic",
        nargs="*",
        type=codec_setting,
        default=[],
        help="classic codec files too, as CODEC:QUALITY",
    )
    p.add_argument("--side", type=int, default=256, help="centre crop side (a multiple of 16)")
    p.add_argument("--plot", type=Path, default=None)
    p.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results")
    args = p.parse_args(argv)
    if args.side % 16:
        p.error("--side must be a multiple of 16")
    photos = centre_crops(args.images, args.side)
    if not photos:
        p.error(f"no photo of {args.images} is at least {args.side} pixels on its short side")
    results = {model: model_rows(model, photos) for model in args.models}
    print(f"{len(photos)} centre crops of {args.side}x{args.side} from {args.images}")
    classic = classic_rows(args.classic, photos)
    for model, rows in results.items():
        print_table(model, rows)
    if classic:
        print_table("classic codecs", classic)
    args.out.mkdir(parents=True, exist_ok=True)
    out = args.out / f"residual_scales_{args.images.name}.json"
    out.write_text(
        json.dumps(
            {"args": {**vars(args), "images": str(args.images)}, "results": results, "classic": classic},
            default=str,
            indent=1,
        )
    )
    print(f"\nwritten: {out}")
    if args.plot:
        plot(results, args.plot)
        print(f"plot: {args.plot}")


if __name__ == "__main__":
    main()
