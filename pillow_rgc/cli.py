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
            segmented=args.segmented,
            stop_psnr=args.stop_psnr or None,
            effort=args.effort,
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
        synthesis = f" + one-shot synthesis {macs['synthesis']:.0f} once" if info.one_shot else ""
        print(
            f"{model_id}{default}: {info.iterations} iterations, {info.code_channels} bits per "
            f"{info.code_stride}x{info.code_stride} block per iteration, decoder "
            f"{macs.get('decoder', 0):.0f} MACs/pixel/iteration{synthesis}, {info.folder}"
        )
        if info.description:
            print(f"    {info.description}")


def _train(args: argparse.Namespace) -> None:
    try:
        from .training import train_command
    except ImportError as error:
        raise ValueError(
            f"rgc train needs PyTorch and onnx ({error.name} is missing): "
            "pip install torch==2.13.0 'pillow-rgc[train]'"
        ) from None
    train_command.run(args)


def _evaluate(args: argparse.Namespace) -> None:
    from .training import evaluate

    report = evaluate.compare(args.images, args.models)
    evaluate.print_comparison(report)
    if args.plot:
        evaluate.plot_comparison(report, args.plot)
        print(f"plot: {args.plot}")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")


def _svcca(args: argparse.Namespace) -> None:
    from . import svcca_report

    svcca_report.run(args)


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
    p.add_argument(
        "--segmented",
        action="store_true",
        help="store iterations in segments: ~1%% larger, but a cut anywhere (or `rgc truncate "
        "--max-bytes`) keeps the bits before it, to at most an eighth of an iteration",
    )
    p.add_argument(
        "--stop-psnr",
        type=float,
        default=api.STOP_PSNR,
        help="16x16 cells whose picture reaches this PSNR (dB) stop receiving bits (default "
        f"{api.STOP_PSNR:g}; 0: every cell gets every iteration)",
    )
    p.add_argument(
        "--effort",
        type=int,
        choices=range(api.MAX_EFFORT + 1),
        default=api.EFFORT,
        metavar=f"0-{api.MAX_EFFORT}",
        help="how many of each cell's least sure bits the writer tries flipping per iteration, "
        f"keeping the flips that bring the picture closer: slower, smaller (default {api.EFFORT}; "
        "0: the encoder network's bits as they are)",
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

    p = commands.add_parser(
        "train", help="train or fine-tune a model on your images (needs the [train] extra)"
    )
    _add_train_arguments(p)
    p.set_defaults(run=_train)

    p = commands.add_parser(
        "evaluate", help="rate-distortion and BD-rates of models (the first is the reference) and JPEG"
    )
    p.add_argument("--images", required=True, help="folder of images no model trained on")
    p.add_argument("--models", nargs="+", required=True, help="model ids; BD-rates are against the first")
    p.add_argument("--plot", default=None, help="write the curves to this PNG (needs matplotlib)")
    p.add_argument("--json", default=None, help="write every number to this JSON file")
    p.set_defaults(run=_evaluate)

    p = commands.add_parser("analyze", help="look inside models")
    analyses = p.add_subparsers(dest="analysis", required=True)
    p = analyses.add_parser("svcca", help="how alike two models' hidden states are, layer by layer (SVCCA)")
    p.add_argument("model_a")
    p.add_argument("model_b")
    p.add_argument("--images", required=True, help="folder of images to run both models on")
    p.add_argument("--iterations", type=int, default=8)
    p.add_argument("--crop", type=int, default=256, help="centre crop side, a multiple of 16")
    p.add_argument("--limit", type=int, default=16, help="use at most this many images")
    p.add_argument(
        "--converged", type=float, default=0.9, help="similarity above which a layer counts as unchanged"
    )
    p.add_argument("--plot", default=None, help="write the similarity matrices to this PNG")
    p.set_defaults(run=_svcca)
    return parser


def _add_train_arguments(p: argparse.ArgumentParser) -> None:
    """``rgc train``'s options, without importing torch until the command runs."""
    p.add_argument("--images", required=True, help="folder of your training images")
    p.add_argument("--out", required=True, help="id of the new model, e.g. my-scans-1 ([a-z0-9._-])")
    p.add_argument("--init", default=None, help="installed model id (or weights.pt) to fine-tune")
    budget = p.add_mutually_exclusive_group()
    budget.add_argument("--hours", type=float, default=None, help="wall time to train (default 1 hour)")
    budget.add_argument(
        "--cpu-hours", type=float, default=None, help="CPU time to train instead (fair on a busy machine)"
    )
    budget.add_argument("--steps", type=int, default=None, help="training steps instead of a time")
    p.add_argument("--freeze", default="", help="layers to keep fixed, e.g. encoder.conv,encoder.rnns.0")
    p.add_argument(
        "--context-prior",
        type=int,
        default=0,
        metavar="CROPS",
        help="fit a context prior (smaller files, ITER coding 3) on this many crops of your images",
    )
    p.add_argument("--eval", default=None, help="folder of held-out images to measure the model on")
    p.add_argument("--val", default=None, help="folder of validation images, logged during training")
    p.add_argument(
        "--run-dir", default=None, help="folder for checkpoints and log (default: next to the models)"
    )
    p.add_argument("--models-dir", default=None, help="where to write the model (default: user model folder)")
    p.add_argument("--patch", type=int, default=128)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--lr", type=float, default=None, help="peak learning rate (1e-4 fine-tuning, 5e-4 new)")
    p.add_argument("--iterations", type=int, default=12, help="iterations unrolled per step")
    p.add_argument("--ms-ssim-weight", type=float, default=1.0)
    p.add_argument(
        "--binarizer",
        choices=("straight-through", "stochastic"),
        default=None,
        help="bits in training (default: the encode-time sign when fine-tuning, the paper's stochastic bits "
        "for a new model)",
    )
    p.add_argument("--arch", default=None, help="architecture JSON of a new model (no --init)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--snapshot-every", type=float, default=None, help="CPU seconds between snapshots")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.run(args)
    except (OSError, ValueError, RGCFormatError) as error:
        print(f"rgc: error: {error}", file=sys.stderr)
        return 1
    return 0
