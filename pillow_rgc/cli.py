"""The ``rgc`` command (also ``python -m pillow_rgc``)."""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

from PIL import Image

from . import api, models
from .container import RGCFormatError


def write_atomically(path: str, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file, so a failure leaves no partial file."""
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".rgc-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def _encode(args: argparse.Namespace) -> None:
    with Image.open(args.input) as image:
        image.load()
        data = api.encode(
            image,
            args.quality,
            args.iterations,
            args.max_bytes,
            args.model,
            # A converter keeps what the source file carried: colour profile, Exif, XMP.
            exif=image.info.get("exif"),
            icc_profile=image.info.get("icc_profile"),
            xmp=image.info.get("xmp"),
            tile_side=args.tile_side,
        )
    write_atomically(args.output, data)
    summary = api.info(data)
    bpp = 8 * len(data) / (summary["width"] * summary["height"])
    print(f"{args.output}: {len(data)} bytes, {summary['iterations_present']} iterations, {bpp:.3f} bpp")


def _decode(args: argparse.Namespace) -> None:
    image = api.decode(Path(args.input).read_bytes(), args.iterations)
    suffix = Path(args.output).suffix.lower()
    if suffix == ".rgc":
        raise ValueError("decode writes an ordinary image format (.png, .jpg, ...), not .rgc")
    with tempfile.NamedTemporaryFile(dir=os.path.dirname(os.path.abspath(args.output)), suffix=suffix) as tmp:
        image.save(tmp.name)
        write_atomically(args.output, Path(tmp.name).read_bytes())


def _info(args: argparse.Namespace) -> None:
    summary = api.info(Path(args.input).read_bytes())
    if args.json:
        print(json.dumps(summary, indent=2))
        return
    state = "complete" if summary["complete"] else "cut"
    print(
        f"{args.input}: {summary['width']}x{summary['height']} {summary['mode']}, model {summary['model']}, "
        f"format {summary['format_version']}, {summary['iterations_present']} of "
        f"{summary['iterations_written']} iterations ({state}), {summary['file_bytes']} bytes"
    )
    if summary["tiles"] > 1:
        print(
            f"  {summary['tiles']} tiles of {summary['tile_width']}x{summary['tile_height']}, "
            f"overlapping by {summary['tile_overlap']}"
        )
    pixels = summary["width"] * summary["height"]
    for chunk in summary["chunks"]:
        end = chunk["offset"] + chunk["size"]
        print(
            f"  iteration {chunk['iteration'] + 1:2d}: offset {chunk['offset']:8d}, "
            f"{chunk['size']:7d} bytes, "
            f"{chunk['raw_bits']} raw bits, file cut here: {8 * end / pixels:.3f} bpp"
        )


def _truncate(args: argparse.Namespace) -> None:
    data = api.truncate(Path(args.input).read_bytes(), args.iterations, args.max_bytes)
    write_atomically(args.output, data)
    print(f"{args.output}: {len(data)} bytes, {api.info(data)['iterations_present']} iterations")


def _models(args: argparse.Namespace) -> None:
    installed = models.installed_models()
    for model_id, info in sorted(installed.items()):
        default = " (default)" if model_id == models.DEFAULT_MODEL else ""
        macs = info.card.get("macs_per_pixel", {})
        print(
            f"{model_id}{default}: {info.iterations} iterations, {info.code_channels} bits per "
            f"{info.code_stride}x{info.code_stride} block per iteration, decoder "
            f"{macs.get('decoder', 0):.0f} MACs/pixel/iteration, {info.folder}"
        )
        if info.description:
            print(f"    {info.description}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rgc", description="Encode, decode, inspect and cut .rgc images.")
    commands = parser.add_subparsers(dest="command", required=True)

    p = commands.add_parser("encode", help="encode an image (any format Pillow reads) as .rgc")
    p.add_argument("input")
    p.add_argument("output")
    p.add_argument(
        "-q",
        "--quality",
        type=float,
        default=None,
        help=f"target MS-SSIM in (0, 1], or JPEG-like 1-100 (default {api.DEFAULT_QUALITY})",
    )
    p.add_argument("-n", "--iterations", type=int, default=None, help="number of iterations")
    p.add_argument("--max-bytes", type=int, default=None, help="largest file size allowed")
    p.add_argument(
        "--model", default=None, help=f"model id (default {models.DEFAULT_MODEL}; see `rgc models`)"
    )
    p.add_argument(
        "--tile-side",
        type=int,
        default=None,
        help=f"code in tiles of at most this many pixels a side (0: never; default: {api.TILE_SIDE} "
        f"for pictures above {api.TILE_ABOVE_PIXELS} pixels)",
    )
    p.set_defaults(run=_encode)

    p = commands.add_parser("decode", help="decode .rgc (complete or cut) to an ordinary image file")
    p.add_argument("input")
    p.add_argument("output", help="output image; its extension picks the format (e.g. .png)")
    p.add_argument("-n", "--iterations", type=int, default=None, help="decode only the first N iterations")
    p.set_defaults(run=_decode)

    p = commands.add_parser("info", help="describe a .rgc file without decoding it")
    p.add_argument("input")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(run=_info)

    p = commands.add_parser("truncate", help="cut a .rgc file to fewer iterations, without re-encoding")
    p.add_argument("input")
    p.add_argument("output")
    p.add_argument("-n", "--iterations", type=int, default=None, help="iterations to keep")
    p.add_argument("--max-bytes", type=int, default=None, help="largest file size allowed")
    p.set_defaults(run=_truncate)

    p = commands.add_parser("models", help="list the installed models")
    p.set_defaults(run=_models)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.run(args)
    except (OSError, ValueError, RGCFormatError) as error:
        print(f"rgc: error: {error}", file=sys.stderr)
        return 1
    return 0
