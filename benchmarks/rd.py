"""Rate-distortion benchmark of JPEG, WebP, AVIF, JPEG XL and rgc (DESIGN.md section 5).

Usage:
    python benchmarks/rd.py DIR [--out benchmarks/results/] [--codecs jpeg,webp,avif,jxl,rgc]
                            [--model ID] [--stop-psnr DB] [--effort N] [--limit N]

Every photo of DIR (sorted by name; --limit keeps the first N) is encoded
with each codec at each setting:

- JPEG quality 5, 10, 15, 20, 30 ... 90, optimize=True (Pillow's 4:2:0);
- WebP quality 0, 2, 5, 10, 20 ... 90, method=6;
- AVIF quality 0, 5, 10, 20 ... 90, speed=6;
- JPEG XL (pillow_jxl) quality 1, 5, 10, 20 ... 90;
- rgc: one encode per photo at quality=1.0 (every iteration), cut after
  each iteration with pillow_rgc.truncate; the setting is the iteration count.

Quality is measured on ``Image.open(file bytes).convert("RGB")`` with
pillow_rgc.quality.ms_ssim / psnr; bpp = 8 * file bytes / pixels. Each codec's
curve is the mean bpp, mean MS-SSIM and mean PSNR over photos per setting.

Printed: each curve; a summary with bpp at MS-SSIM 0.90 and 0.95
(interpolating log bpp against MS-SSIM dB = -10 log10(1 - MS-SSIM) along the
mean curve; "—" out of range), BD-rate against JPEG on MS-SSIM dB and on
PSNR, and mean encode / decode time per photo at the setting closest to
MS-SSIM 0.95 (rgc: quality=0.95; others: the lowest setting whose mean
MS-SSIM reaches 0.95, else the highest); with rgc, a per-photo comparison of
rgc at quality=0.95 against AVIF at the lowest integer quality (bisection
over 0..100) reaching the same MS-SSIM, timed side by side.

Written to --out: rd_<DIR name>.json (every number) and rd_<DIR name>.png
(MS-SSIM dB and PSNR against bpp). Times use time.perf_counter after one
warm-up encode and decode per codec; decode time is Image.open + load.
rgc is included when ``import pillow_rgc`` succeeds (or fails loudly when
asked for explicitly with --codecs).
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import io
import json
import math
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image, features

from pillow_rgc import bdrate
from pillow_rgc.training.evaluate import JPEG_QUALITIES

REPO = Path(__file__).resolve().parents[1]
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".ppm", ".pgm", ".bmp", ".tif", ".tiff", ".webp"}
TENS = tuple(range(20, 100, 10))
SETTINGS = {
    "jpeg": JPEG_QUALITIES,  # the settings `rgc evaluate` uses too
    "webp": (0, 2, 5, 10, *TENS),
    "avif": (0, 5, 10, *TENS),
    "jxl": (1, 5, 10, *TENS),
}
ALL_CODECS = ("jpeg", "webp", "avif", "jxl", "rgc")
LABELS = {"jpeg": "JPEG", "webp": "WebP", "avif": "AVIF", "jxl": "JPEG XL", "rgc": "rgc"}
TARGETS = (0.90, 0.95)
TIME_TARGET = 0.95
DASH = "—"


# ---------------------------------------------------------------- setup


def load_quality_module():
    """pillow_rgc.quality, or the file itself when the package does not import yet."""
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    try:
        from pillow_rgc import quality

        return quality, None
    except Exception as exc:  # the package's __init__ is work in progress
        spec = importlib.util.spec_from_file_location("_rgc_quality", REPO / "pillow_rgc" / "quality.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module, exc


def load_rgc():
    """The pillow_rgc module if it imports and has the codec API, else (None, reason)."""
    try:
        import pillow_rgc
    except Exception as exc:  # any failure, reported as the reason
        return None, f"import pillow_rgc failed: {exc!r}"
    missing = [n for n in ("encode", "decode", "truncate", "info") if not hasattr(pillow_rgc, n)]
    if missing:
        return None, f"pillow_rgc lacks {', '.join(missing)}"
    return pillow_rgc, None


def codec_available(codec: str) -> tuple[bool, str | None]:
    if codec == "jpeg":
        return features.check("jpg"), "Pillow built without JPEG"
    if codec == "webp":
        return features.check("webp"), "Pillow built without WebP"
    if codec == "avif":
        return features.check("avif"), "Pillow built without AVIF"
    if codec == "jxl":
        try:
            import pillow_jxl  # noqa: F401  (registers JXL)
        except ImportError as exc:
            return False, f"pillow_jxl not importable: {exc!r}"
        return True, None
    raise ValueError(codec)


def list_photos(directory: Path) -> list[Path]:
    return sorted(p for p in directory.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def load_photos(
    directory: Path, limit: int | None
) -> tuple[list[Path], list[tuple[Image.Image, np.ndarray]]]:
    """The first ``limit`` photos of ``directory`` (all: None), and each as (RGB image, its pixels)."""
    photos = list_photos(directory)[:limit]
    if not photos:
        raise SystemExit(f"no photos in {directory}")
    images = []
    for path in photos:
        with Image.open(path) as f:
            im = f.convert("RGB")
        images.append((im, np.asarray(im)))
    return photos, images


def run_facts(started: float) -> dict:
    """Package versions, date, command line and duration of a benchmark run, for its JSON."""
    from importlib.metadata import PackageNotFoundError, version

    versions = {"python": platform.python_version()}
    for package in ("pillow", "numpy", "onnxruntime", "pillow-rgc", "pillow-jxl-plugin"):
        try:
            versions[package] = version(package)
        except PackageNotFoundError:
            versions[package] = None
    return {
        "versions": versions,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join(sys.argv),
        "seconds": time.perf_counter() - started,
    }


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- codecs


def encode_pillow(codec: str, im: Image.Image, q: int) -> bytes:
    buf = io.BytesIO()
    if codec == "jpeg":
        im.save(buf, "JPEG", quality=q, optimize=True)
    elif codec == "webp":
        im.save(buf, "WEBP", quality=q, method=6)
    elif codec == "avif":
        im.save(buf, "AVIF", quality=q, speed=6)
    elif codec == "jxl":
        im.save(buf, "JXL", quality=q)
    else:
        raise ValueError(codec)
    return buf.getvalue()


def decode_rgb(data: bytes) -> np.ndarray:
    """The 8-bit RGB image a user gets from Image.open on the file."""
    with Image.open(io.BytesIO(data)) as im:
        return np.asarray(im.convert("RGB"))


def decode_timed(data: bytes) -> float:
    t0 = time.perf_counter()
    with Image.open(io.BytesIO(data)) as im:
        im.load()
    return time.perf_counter() - t0


class Scorer:
    """Scores files against a photo; the photo's half of MS-SSIM is computed once, not once per file."""

    def __init__(self, quality_module):
        self.q = quality_module
        self._cached: tuple[np.ndarray, object] | None = None

    def reference(self, ref: np.ndarray):
        if self._cached is None or self._cached[0] is not ref:
            self._cached = (ref, self.q.MsSsimReference(ref))
        return self._cached[1]

    def __call__(self, ref: np.ndarray, data: bytes) -> dict:
        dec = decode_rgb(data)
        h, w = ref.shape[:2]
        return {
            "bytes": len(data),
            "bpp": 8.0 * len(data) / (w * h),
            "ms_ssim": self.reference(ref).score(dec),
            "psnr": self.q.psnr(ref, dec),
        }


# ---------------------------------------------------------------- measuring


def measure_curves(codecs, photos, images, score, rgc, options: dict) -> tuple[dict, dict, dict]:
    """Per-photo points for every codec and setting; returns (points, rgc_meta, settings)."""
    points: dict[str, list[dict]] = {c: [] for c in codecs}
    settings: dict[str, list[int]] = {}
    rgc_meta: dict = {}
    for path, (im, ref) in zip(photos, images):
        for codec in codecs:
            t0 = time.perf_counter()
            if codec == "rgc":
                full = rgc.encode(im, quality=1.0, **options)
                info = rgc.info(full)
                n = int(info["iterations_present"])
                rgc_meta.setdefault("model", info.get("model"))
                rgc_meta.setdefault("iterations", {})[path.name] = n
                for it in range(1, n + 1):
                    data = full if it == n else rgc.truncate(full, it)
                    points[codec].append({"photo": path.name, "setting": it, **score(ref, data)})
            else:
                for q in SETTINGS[codec]:
                    data = encode_pillow(codec, im, q)
                    points[codec].append({"photo": path.name, "setting": q, **score(ref, data)})
            log(f"  {path.name}: {codec} {time.perf_counter() - t0:.1f} s")
    for codec in codecs:
        if codec == "rgc":
            counts = set(rgc_meta.get("iterations", {}).values())
            # Photos should all carry every iteration of the model; average over the common ones.
            settings[codec] = list(range(1, min(counts) + 1)) if counts else []
        else:
            settings[codec] = list(SETTINGS[codec])
    return points, rgc_meta, settings


def mean_curve(points: list[dict], settings: list[int]) -> list[dict]:
    curve = []
    for s in settings:
        rows = [p for p in points if p["setting"] == s]
        psnrs = [p["psnr"] for p in rows]
        curve.append(
            {
                "setting": s,
                "photos": len(rows),
                "bpp": statistics.fmean(p["bpp"] for p in rows),
                "ms_ssim": statistics.fmean(p["ms_ssim"] for p in rows),
                "psnr": statistics.fmean(psnrs) if all(math.isfinite(v) for v in psnrs) else math.inf,
            }
        )
    return curve


def curve_arrays(curve: list[dict]) -> tuple[list[float], list[float], list[float]]:
    bpp = [c["bpp"] for c in curve]
    db = [bdrate.ms_ssim_db(c["ms_ssim"]) for c in curve]
    ps = [c["psnr"] for c in curve]
    return bpp, db, ps


def summarize(curves: dict) -> dict:
    summary = {}
    ref = curves.get("jpeg")
    for codec, curve in curves.items():
        bpp, db, ps = curve_arrays(curve)
        row = {f"bpp_at_{t:.2f}": bdrate.rate_at_quality(bpp, db, bdrate.ms_ssim_db(t)) for t in TARGETS}
        if ref is not None:
            rbpp, rdb, rps = curve_arrays(ref)
            row["bd_rate_ms_ssim"] = bdrate.bd_rate(rbpp, rdb, bpp, db)
            row["bd_rate_psnr"] = bdrate.bd_rate(rbpp, rps, bpp, ps)
        else:
            row["bd_rate_ms_ssim"] = row["bd_rate_psnr"] = None
        summary[codec] = row
    return summary


def timing_setting(curve: list[dict]) -> int:
    """Lowest setting whose mean MS-SSIM reaches TIME_TARGET, else the highest."""
    for c in sorted(curve, key=lambda c: c["setting"]):
        if c["ms_ssim"] >= TIME_TARGET:
            return c["setting"]
    return max(c["setting"] for c in curve)


def measure_times(codec, setting, images) -> dict:
    """Mean encode / decode seconds per photo at one Pillow-codec setting."""
    im0 = images[0][0]
    decode_timed(encode_pillow(codec, im0, setting))  # warm-up
    enc, dec = [], []
    for im, _ in images:
        t0 = time.perf_counter()
        data = encode_pillow(codec, im, setting)
        enc.append(time.perf_counter() - t0)
        dec.append(decode_timed(data))
    return {"setting": setting, "encode_s": statistics.fmean(enc), "decode_s": statistics.fmean(dec)}


def avif_lowest_quality(im, ref, target, score) -> tuple[int, bytes, dict, bool]:
    """Lowest integer AVIF quality in 0..100 whose MS-SSIM >= target, by bisection.

    Assumes MS-SSIM is non-decreasing in quality. Returns (quality, bytes,
    score, reached); when even quality 100 falls short, quality 100 with
    reached=False.
    """
    cache: dict[int, tuple[bytes, dict]] = {}

    def at(q: int) -> tuple[bytes, dict]:
        if q not in cache:
            data = encode_pillow("avif", im, q)
            cache[q] = (data, score(ref, data))
        return cache[q]

    lo, hi = 0, 100
    if at(hi)[1]["ms_ssim"] < target:
        return hi, *at(hi), False
    if at(lo)[1]["ms_ssim"] >= target:
        return lo, *at(lo), True
    while hi - lo > 1:  # invariant: at(lo) < target <= at(hi)
        mid = (lo + hi) // 2
        if at(mid)[1]["ms_ssim"] >= target:
            hi = mid
        else:
            lo = mid
    return hi, *at(hi), True


def rgc_vs_avif(photos, images, score, rgc, options: dict) -> list[dict]:
    """rgc at quality=0.95 against the smallest AVIF of at least the same MS-SSIM, per photo."""
    im0 = images[0][0]
    warm = rgc.encode(im0, quality=TIME_TARGET, **options)  # warm-up: model load, caches
    decode_timed(warm)
    decode_timed(encode_pillow("avif", im0, 50))
    rows = []
    for path, (im, ref) in zip(photos, images):
        t0 = time.perf_counter()
        data = rgc.encode(im, quality=TIME_TARGET, **options)
        rgc_enc = time.perf_counter() - t0
        rgc_dec = decode_timed(data)
        r = score(ref, data)
        q, adata, a, reached = avif_lowest_quality(im, ref, r["ms_ssim"], score)
        t0 = time.perf_counter()
        encode_pillow("avif", im, q)
        avif_enc = time.perf_counter() - t0
        avif_dec = decode_timed(adata)
        rows.append(
            {
                "photo": path.name,
                "rgc_bytes": r["bytes"],
                "rgc_bpp": r["bpp"],
                "rgc_ms_ssim": r["ms_ssim"],
                "rgc_psnr": r["psnr"],
                "rgc_iterations": int(rgc.info(data)["iterations_present"]),
                "avif_quality": q,
                "avif_reached": reached,
                "avif_bytes": a["bytes"],
                "avif_bpp": a["bpp"],
                "avif_ms_ssim": a["ms_ssim"],
                "avif_psnr": a["psnr"],
                "size_ratio": r["bytes"] / a["bytes"],
                "rgc_encode_s": rgc_enc,
                "rgc_decode_s": rgc_dec,
                "avif_encode_s": avif_enc,
                "avif_decode_s": avif_dec,
                "encode_ratio": rgc_enc / avif_enc,
                "decode_ratio": rgc_dec / avif_dec,
            }
        )
        log(f"  {path.name}: rgc vs AVIF q={q} done")
    return rows


# ---------------------------------------------------------------- output


def fmt(v, spec: str = ".3f", suffix: str = "") -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return DASH if v is None else "inf"
    return f"{v:{spec}}{suffix}"


def pct(v) -> str:
    return DASH if v is None else f"{100.0 * v:+.1f} %"


def print_table(headers: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    print("  ".join(h.rjust(w) for h, w in zip(headers, widths)))
    print("  ".join("-" * w for w in widths))
    for r in rows:
        print("  ".join(c.rjust(w) for c, w in zip(r, widths)))


def print_report(curves, summary, times, comparison, n_photos, directory) -> None:
    print(f"Rate-distortion on {directory} ({n_photos} photos), means over photos\n")
    for codec, curve in curves.items():
        name = "iterations" if codec == "rgc" else "quality"
        print(f"{LABELS[codec]}")
        print_table(
            [name, "bpp", "MS-SSIM", "MS-SSIM dB", "PSNR dB"],
            [
                [
                    str(c["setting"]),
                    fmt(c["bpp"], ".4f"),
                    fmt(c["ms_ssim"], ".5f"),
                    fmt(bdrate.ms_ssim_db(c["ms_ssim"]), ".2f"),
                    fmt(c["psnr"], ".2f"),
                ]
                for c in curve
            ],
        )
        print()
    print("Summary (BD-rate vs JPEG: negative = fewer bits for the same quality; times at ~MS-SSIM 0.95)")
    rows = []
    for codec, row in summary.items():
        t = times.get(codec, {})
        setting = t.get("setting")
        rows.append(
            [
                LABELS[codec],
                fmt(row["bpp_at_0.90"], ".3f"),
                fmt(row["bpp_at_0.95"], ".3f"),
                pct(row["bd_rate_ms_ssim"]),
                pct(row["bd_rate_psnr"]),
                DASH if setting is None else str(setting),
                fmt(t.get("encode_s"), ".3f", " s"),
                fmt(t.get("decode_s"), ".3f", " s"),
            ]
        )
    print_table(
        ["codec", "bpp@0.90", "bpp@0.95", "BD MS-SSIM", "BD PSNR", "time at", "encode", "decode"], rows
    )
    print()
    if comparison:
        print("rgc at quality=0.95 vs AVIF (lowest AVIF quality with MS-SSIM >= rgc's; times side by side)")
        rows = [
            [
                r["photo"],
                str(r["rgc_bytes"]),
                fmt(r["rgc_ms_ssim"], ".4f"),
                str(r["avif_quality"]) + ("" if r["avif_reached"] else " (max)"),
                str(r["avif_bytes"]),
                fmt(r["avif_ms_ssim"], ".4f"),
                fmt(r["size_ratio"], ".3f"),
                fmt(r["encode_ratio"], ".2f"),
                fmt(r["decode_ratio"], ".2f"),
            ]
            for r in comparison
        ]
        geo = {
            k: math.exp(statistics.fmean(math.log(r[k]) for r in comparison))
            for k in ("size_ratio", "encode_ratio", "decode_ratio")
        }
        rows.append(
            [
                "geometric mean",
                "",
                "",
                "",
                "",
                "",
                fmt(geo["size_ratio"], ".3f"),
                fmt(geo["encode_ratio"], ".2f"),
                fmt(geo["decode_ratio"], ".2f"),
            ]
        )
        means = {k: statistics.fmean(r[k] for r in comparison) for k in ("rgc_bytes", "avif_bytes")}
        rows.append(  # the quality issue's target: mean sizes, AVIF photo by photo at rgc's MS-SSIM
            [
                "mean size",
                f"{means['rgc_bytes']:.0f}",
                "",
                "",
                f"{means['avif_bytes']:.0f}",
                "",
                fmt(means["rgc_bytes"] / means["avif_bytes"], ".3f"),
                "",
                "",
            ]
        )
        print_table(
            [
                "photo",
                "rgc bytes",
                "rgc MS-SSIM",
                "AVIF q",
                "AVIF bytes",
                "AVIF MS-SSIM",
                "size rgc/AVIF",
                "enc rgc/AVIF",
                "dec rgc/AVIF",
            ],
            rows,
        )
        print()


def plot(curves, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 5))
    for codec, curve in curves.items():
        bpp, db, ps = curve_arrays(curve)
        ax1.plot(bpp, db, marker="o", ms=3, label=LABELS[codec])
        ax2.plot(bpp, ps, marker="o", ms=3, label=LABELS[codec])
    for t in TARGETS:
        ax1.axhline(bdrate.ms_ssim_db(t), color="grey", lw=0.6, ls=":")
        ax1.annotate(
            f"{t:.2f}",
            (0, bdrate.ms_ssim_db(t)),
            xycoords=("axes fraction", "data"),
            fontsize=7,
            color="grey",
            va="bottom",
        )
    ax1.set_ylabel("MS-SSIM dB  (-10 log10(1 - MS-SSIM))")
    ax2.set_ylabel("PSNR dB")
    for ax in (ax1, ax2):
        ax.set_xlabel("bits per pixel")
        ax.set_xlim(left=0)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def jsonable(obj):
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        return jsonable(obj.item())
    return obj


# ---------------------------------------------------------------- main


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dir", type=Path, help="directory of photos")
    parser.add_argument(
        "--out",
        type=Path,
        default=REPO / "benchmarks" / "results",
        help="output directory (default: benchmarks/results/)",
    )
    parser.add_argument(
        "--codecs",
        default=None,
        help=f"comma-separated subset of {','.join(ALL_CODECS)} (default: all available)",
    )
    parser.add_argument("--model", default=None, help="rgc model id (default: pillow_rgc's default)")
    parser.add_argument(
        "--stop-psnr",
        type=float,
        default=None,
        help="rgc's stop_psnr (silent cells; default: the writer's; 0: every cell sends)",
    )
    parser.add_argument(
        "--effort", type=int, default=None, help="rgc's effort (bit refinement; default: the writer's)"
    )
    parser.add_argument("--limit", type=int, default=None, help="use only the first N photos")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    quality_module, quality_import_error = load_quality_module()
    score = Scorer(quality_module)

    explicit = args.codecs is not None
    wanted = [c.strip().lower() for c in (args.codecs or ",".join(ALL_CODECS)).split(",") if c.strip()]
    unknown = [c for c in wanted if c not in ALL_CODECS]
    if unknown:
        raise SystemExit(f"unknown codec(s): {', '.join(unknown)}; choose from {', '.join(ALL_CODECS)}")
    codecs, rgc = [], None
    for c in wanted:
        if c == "rgc":
            rgc, why = load_rgc()
            ok = rgc is not None
        else:
            ok, why = codec_available(c)
        if ok:
            codecs.append(c)
        elif explicit:
            raise SystemExit(f"{c} unavailable: {why}")
        else:
            log(f"skipping {c}: {why}")
    if quality_import_error is not None:
        log(f"note: pillow_rgc did not import ({quality_import_error!r}); using pillow_rgc/quality.py")
    if "rgc" in codecs and not features.check("avif"):
        raise SystemExit("the rgc vs AVIF comparison needs Pillow with AVIF")

    photos, images = load_photos(args.dir, args.limit)
    log(f"{len(photos)} photos, codecs: {', '.join(codecs)}")

    started = time.perf_counter()
    log("measuring curves")
    options = {"model": args.model}
    if rgc is not None:  # the writer's settings, recorded in the JSON whether given or its defaults
        options["stop_psnr"] = rgc.api.STOP_PSNR if args.stop_psnr is None else args.stop_psnr or None
        options["effort"] = rgc.api.EFFORT if args.effort is None else args.effort
    points, rgc_meta, settings = measure_curves(codecs, photos, images, score, rgc, options)
    curves = {c: mean_curve(points[c], settings[c]) for c in codecs}
    summary = summarize(curves)

    log("timing")
    times: dict[str, dict] = {}
    for c in codecs:
        if c != "rgc":
            times[c] = measure_times(c, timing_setting(curves[c]), images)
    comparison = []
    if "rgc" in codecs:
        comparison = rgc_vs_avif(photos, images, score, rgc, options)
        times["rgc"] = {
            "setting": "q=0.95",
            "encode_s": statistics.fmean(r["rgc_encode_s"] for r in comparison),
            "decode_s": statistics.fmean(r["rgc_decode_s"] for r in comparison),
        }
    times = {c: times[c] for c in codecs}

    print_report(curves, summary, times, comparison, len(photos), args.dir)

    args.out.mkdir(parents=True, exist_ok=True)
    stem = f"rd_{args.dir.resolve().name}"
    json_path = args.out / f"{stem}.json"
    png_path = args.out / f"{stem}.png"
    result = {
        "meta": {
            "dir": str(args.dir),
            "photos": [p.name for p in photos],
            "codecs": codecs,
            "settings": {c: settings[c] for c in codecs},
            "rgc": rgc_meta or None,
            "rgc_options": options if "rgc" in codecs else None,
            **run_facts(started),
            "ms_ssim_targets": list(TARGETS),
            "time_target_ms_ssim": TIME_TARGET,
        },
        "curves": curves,
        "summary": summary,
        "times": times,
        "rgc_vs_avif": comparison,
        "points": points,
    }
    json_path.write_text(json.dumps(jsonable(result), indent=1, ensure_ascii=False) + "\n")
    plot(curves, png_path, f"{args.dir.resolve().name}: {len(photos)} photos, means over photos")
    print(f"wrote {json_path} and {png_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
