"""What the writer's ``effort`` buys and costs: bits saved against effort 0, and encode time.

Usage:
    python benchmarks/effort.py DIR [--efforts 0 1 2 3 4 6 8] [--model ID] [--limit N] [--plot PATH]

For each effort, every photo of DIR is encoded once with every iteration and cut
after each (as ``rd.py`` does), and once at ``quality=0.95`` (timed). Printed per
effort: the BD-rate of the mean curve against effort 0's (MS-SSIM in dB, and
PSNR; negative: fewer bits for the same quality), the MS-SSIM and PSNR after the
first and the last iteration, and the mean encode times. ``--plot`` draws the
BD-rates against the encode time at ``quality=0.95``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import rd  # noqa: E402  (the rate-distortion benchmark's measuring)

import pillow_rgc  # noqa: E402
from pillow_rgc import bdrate  # noqa: E402
from pillow_rgc.models import DEFAULT_MODEL  # noqa: E402

QUALITY = 0.95


def measure(photos, images, score, effort: int, model: str | None) -> dict:
    """The mean curve of files cut after each iteration, and the mean encode times, at ``effort``."""
    options = {"model": model, "effort": effort}
    points, _, settings = rd.measure_curves(["rgc"], photos, images, score, pillow_rgc, options)
    curve = rd.mean_curve(points["rgc"], settings["rgc"])
    whole, targeted = [], []
    for im, _ in images:
        start = time.perf_counter()
        pillow_rgc.encode(im, quality=QUALITY, **options)
        targeted.append(time.perf_counter() - start)
        start = time.perf_counter()
        pillow_rgc.encode(im, quality=1.0, **options)
        whole.append(time.perf_counter() - start)
    return {"curve": curve, "encode_s": statistics.fmean(targeted), "encode_all_s": statistics.fmean(whole)}


def head_to_head(reference: list[dict], curve: list[dict]) -> tuple[float | None, float | None]:
    """BD-rate of ``curve`` against ``reference`` on MS-SSIM (dB) and on PSNR."""
    rate_a, ms_a, psnr_a = rd.curve_arrays(reference)
    rate_b, ms_b, psnr_b = rd.curve_arrays(curve)
    return bdrate.bd_rate(rate_a, ms_a, rate_b, ms_b), bdrate.bd_rate(rate_a, psnr_a, rate_b, psnr_b)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dir", type=Path)
    parser.add_argument("--efforts", type=int, nargs="+", default=[0, 1, 2, 3, 4, 6, 8])
    parser.add_argument("--model", default=None, help="rgc model id (default: pillow_rgc's default)")
    parser.add_argument("--limit", type=int, default=None, help="use only the first N photos")
    parser.add_argument("--plot", type=Path, default=None, help="draw the BD-rates against encode time")
    args = parser.parse_args(argv)
    efforts = sorted(set(args.efforts) | {0})
    photos, images = rd.load_photos(args.dir, args.limit)
    quality_module, _ = rd.load_quality_module()
    score = rd.Scorer(quality_module)
    pillow_rgc.encode(images[0][0], iterations=1, model=args.model)  # warm-up: sessions, graphs

    results = {}
    for effort in efforts:
        rd.log(f"effort {effort}")
        results[effort] = measure(photos, images, score, effort, args.model)
    rows = []
    for effort in efforts:
        r = results[effort]
        ms, psnr = head_to_head(results[0]["curve"], r["curve"])
        first, last = r["curve"][0], r["curve"][-1]
        rows.append(
            [
                str(effort),
                rd.pct(ms),
                rd.pct(psnr),
                f"{first['ms_ssim']:.4f} / {first['psnr']:.2f}",
                f"{last['bpp']:.3f}: {last['ms_ssim']:.4f} / {last['psnr']:.2f}",
                f"{r['encode_s']:.2f}",
                f"{r['encode_all_s']:.2f}",
            ]
        )
        r["bd_ms_ssim"], r["bd_psnr"] = ms, psnr
    print(f"\n{len(photos)} photos of {args.dir}, model {args.model or DEFAULT_MODEL}")
    headers = ["effort", "BD MS-SSIM", "BD PSNR", "1st it.: MS-SSIM / dB", "last it.: bpp: MS-SSIM / dB"]
    rd.print_table([*headers, f"encode s, q={QUALITY}", "encode s, all it."], rows)
    if args.plot:
        plot(results, args.plot)
    return 0


def plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    efforts = sorted(results)
    seconds = [results[e]["encode_s"] for e in efforts]
    fig, ax = plt.subplots(figsize=(6, 4))
    for key, label in (("bd_ms_ssim", "MS-SSIM"), ("bd_psnr", "PSNR")):
        ax.plot(seconds, [100 * results[e][key] for e in efforts], "o-", label=label)
    for effort, x, y in zip(efforts, seconds, [100 * results[e]["bd_psnr"] for e in efforts]):
        ax.annotate(str(effort), (x, y), textcoords="offset points", xytext=(4, 4))
    ax.set_xlabel(f"encode time at quality={QUALITY} (s per photo)")
    ax.set_ylabel("BD-rate against effort 0 (%)")
    ax.set_title("what the writer's effort buys")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    raise SystemExit(main())
