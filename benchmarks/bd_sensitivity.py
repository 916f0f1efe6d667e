"""Which points of a rate-distortion curve its BD-rate rests on (reads the JSON of benchmarks/rd.py).

Usage:
    python benchmarks/bd_sensitivity.py benchmarks/results/rd_val.json [--codec rgc] [--reference jpeg]

For every point of the codec's mean curve (for rgc: every iteration) it prints
how much the BD-rate against the reference moves when that point alone gains
0.1 dB, on MS-SSIM dB and on PSNR (``pillow_rgc.bdrate.bd_rate_sensitivity``).
The Bjontegaard mean runs over the quality range both curves span, so a few
points carry it; a gain at the top of the range can even raise it. Those
numbers are what ``train --iteration-weights`` can aim the training at.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from pillow_rgc import bdrate

STEP_DB = 0.1


def curve(result: dict, codec: str) -> tuple[list, list, list, list]:
    """(settings, bpp, MS-SSIM dB, PSNR) of one codec's mean curve in rd.py's JSON."""
    points = result["curves"].get(codec)
    if not points:
        raise SystemExit(f"no {codec!r} curve in this file (it has {', '.join(result['curves'])})")
    return (
        [p["setting"] for p in points],
        [p["bpp"] for p in points],
        [bdrate.ms_ssim_db(p["ms_ssim"]) for p in points],
        [p["psnr"] for p in points],
    )


def percent(change: float | None) -> str:
    return "—" if change is None else f"{100 * change:+.2f} %"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rd_json", type=Path, help="rd_<photos>.json written by benchmarks/rd.py")
    parser.add_argument("--codec", default="rgc")
    parser.add_argument("--reference", default="jpeg")
    args = parser.parse_args(argv)
    result = json.loads(args.rd_json.read_text())
    settings, bpp, ms_db, psnr = curve(result, args.codec)
    _, ref_bpp, ref_ms_db, ref_psnr = curve(result, args.reference)
    on_ms_ssim = bdrate.bd_rate_sensitivity(ref_bpp, ref_ms_db, bpp, ms_db, STEP_DB)
    on_psnr = bdrate.bd_rate_sensitivity(ref_bpp, ref_psnr, bpp, psnr, STEP_DB)
    print(
        f"BD-rate of {args.codec} against {args.reference}: "
        f"{percent(bdrate.bd_rate(ref_bpp, ref_ms_db, bpp, ms_db))} on MS-SSIM, "
        f"{percent(bdrate.bd_rate(ref_bpp, ref_psnr, bpp, psnr))} on PSNR"
    )
    print(f"its change when one point gains {STEP_DB} dB:\n")
    print("| setting | bpp | MS-SSIM dB | PSNR | BD MS-SSIM change | BD PSNR change |")
    print("|---|---|---|---|---|---|")
    for setting, rate, quality, p, *changes in zip(settings, bpp, ms_db, psnr, on_ms_ssim, on_psnr):
        moved = " | ".join(percent(change) for change in changes)
        print(f"| {setting} | {rate:.3f} | {quality:.2f} | {p:.2f} | {moved} |")


if __name__ == "__main__":
    main()
