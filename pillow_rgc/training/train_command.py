"""``rgc train``: a user's own model from a folder of their images, ready for ``save(..., model=NAME)``.

Trains from scratch or fine-tunes an installed model (:mod:`.train`, with
checkpoints, so running the same command again resumes), exports the ONNX
graphs (and, with ``--context-prior N``, fits the prior that lets files use
ITER coding 3, about 10 % smaller) into the user's model folder (:func:`pillow_rgc.models.user_model_dir`,
searched by ``Image.open`` and ``save``) and writes a model card saying what
data, steps and time made it. ``--eval DIR`` measures it on held-out images
against the model it started from and against JPEG, into the card.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

import torch

from .. import models
from . import context_prior, evaluate, export, train
from .photos import list_images

MODEL_ID = re.compile(r"[a-z0-9._-]{1,64}")


def _starting_weights(init: str | None) -> tuple[str | None, str | None]:
    """(path for ``train --init``, id of the starting model) for an installed id or a weights file."""
    if init is None:
        return None, None
    if Path(init).exists():
        return init, None
    return str(models.find_model(init).folder), init


def run(args: argparse.Namespace) -> Path:
    """Train (or resume), export and describe the model; returns its folder."""
    if not MODEL_ID.fullmatch(args.out):
        raise ValueError(f"model id {args.out!r}: use 1-64 of a-z, 0-9, '.', '_', '-'")
    if args.out in models.installed_models():
        raise ValueError(
            f"a model {args.out!r} is installed already; released models never change, pick a new id"
        )
    models_dir = Path(args.models_dir) if args.models_dir else models.user_model_dir()
    run_dir = Path(args.run_dir) if args.run_dir else models_dir.parent / "runs" / args.out
    init_path, init_id = _starting_weights(args.init)
    # Fine-tuning trains with the encode-time bits, as the default model was; a new model starts with
    # the paper's stochastic bits (a start from scratch with the sign got stuck in a colour cast).
    binarizer = args.binarizer or ("straight-through" if init_path else "stochastic")
    args = argparse.Namespace(**{**vars(args), "binarizer": binarizer})
    budget = ("--steps", str(args.steps)) if args.steps else ("--hours", str(args.hours or 1.0))
    if args.cpu_hours:
        budget = ("--cpu-hours", str(args.cpu_hours))
    train_args = train.parse_args(
        [
            *("--images", args.images, "--run", str(run_dir)),
            *budget,
            *("--patch", str(args.patch), "--batch", str(args.batch)),
            *("--iterations", str(args.iterations), "--ms-ssim-weight", str(args.ms_ssim_weight)),
            *("--binarizer", args.binarizer),
            *("--lr", str(args.lr or (1e-4 if init_path else 5e-4)), "--threads", str(args.threads)),
            *("--freeze", args.freeze, "--progress"),
            *(("--init", init_path) if init_path else ()),
            *(("--arch", args.arch) if args.arch else ()),
            *(("--val", args.val) if args.val else ()),
            *(("--snapshot-every", str(args.snapshot_every)) if args.snapshot_every else ()),
        ]
    )
    started = time.time()
    weights = train.train(train_args)
    state = torch.load(run_dir / "checkpoint.pt", map_location="cpu", weights_only=True)
    folder = models_dir / args.out
    start = init_id or init_path
    description = f"fine-tuned from {start} on {args.images}" if start else f"trained on {args.images}"
    card = export.export_model(train.load_codec(weights), folder, args.out, args.iterations, description)
    if args.context_prior:
        card["sha256"] = context_prior.make_prior(folder, Path(args.images), args.context_prior)
    report = None
    if args.eval:
        models.add_model_path(models_dir)
        report = evaluate.compare(args.eval, [m for m in (init_id, args.out) if m])
        evaluate.print_comparison(report)
        evaluate.plot_comparison(report, folder / "rd.png")
        (folder / "evaluation.json").write_text(json.dumps(report, indent=2) + "\n")
    (folder / "MODEL_CARD.md").write_text(model_card(card, args, state, start, report))
    print(f"model {args.out} written to {folder} in {time.time() - started:.0f} s", file=sys.stderr)
    print(
        f"use it with Image.save(..., model={args.out!r}) or rgc encode --model {args.out}", file=sys.stderr
    )
    return folder


def model_card(
    card: dict, args: argparse.Namespace, state: dict, start: str | None, report: dict | None
) -> str:
    """What made the model, in the form of the released models' cards."""
    images = len(list_images(args.images))
    rows = [
        ("started from", start or "random weights (a new model)"),
        ("training data", f"{images} images in `{args.images}`"),
        (
            "steps",
            f"{state['step']:,} of batch {args.batch}, {args.patch}x{args.patch} patches, "
            f"{args.iterations} iterations unrolled",
        ),
        (
            "training time",
            f"{state.get('seconds', 0) / 60:.1f} min wall, {state.get('cpu_seconds', 0) / 60:.1f} min CPU",
        ),
        ("loss", f"L1 + {args.ms_ssim_weight} x (1 - MS-SSIM) of every iteration"),
        ("binarizer in training", args.binarizer),
        ("frozen layers", args.freeze or "none"),
        (
            "context prior",
            f"fitted on {args.context_prior} crops of the training images (ITER coding 3)"
            if args.context_prior
            else "none (bits coded with ITER coding 1)",
        ),
        ("parameters", f"{card['parameters']:,}"),
        ("SHA-256 of the graphs", f"`{card['sha256']}`"),
    ]
    lines = [f"# {card['id']}", "", card["description"], "", "| | |", "|---|---|"]
    lines += [f"| {name} | {value} |" for name, value in rows]
    if report:
        lines += ["", f"## Rate-distortion on {report['photos']} photos of `{report['images']}`", ""]
        lines += [
            "| model | BD-rate vs start, MS-SSIM | PSNR | vs JPEG, MS-SSIM | PSNR |",
            "|---|---|---|---|---|",
        ]
        for model_id, rates in report["bd_rate"].items():
            cells = [rates[ref][q] for ref in ("vs_first", "vs_jpeg") for q in ("ms_ssim", "psnr")]
            lines.append(
                f"| {model_id} | "
                + " | ".join("—" if v is None else f"{100 * v:+.1f} %" for v in cells)
                + " |"
            )
    return "\n".join(lines) + "\n"
