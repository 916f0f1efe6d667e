"""Train a residual-GRU codec on a folder of photos, with checkpoints and resume.

Usage::

    python -m pillow_rgc.training.train --images ../shared/data/train --run runs/rgc \
        --steps 20000 [--hours H | --cpu-hours H] [--val ../shared/data/val] [--init weights.pt|MODEL_DIR] \
        [--freeze encoder,decoder.rnns.0]

Running the same command again resumes from ``RUN/checkpoint.pt`` (weights,
optimizer, step and time trained), so a long training can be spread over many
sessions; ``--steps`` or ``--hours`` may be raised on resume to train longer.
With ``--hours`` (wall time) or ``--cpu-hours`` (CPU time of the process: the
fair budget on a machine shared with other work) the learning-rate schedule
follows the time trained instead of the steps; training stops at whichever of
``--steps`` and the time budget comes first. ``RUN/weights.pt`` holds the
model weights alone (small enough to commit as the resume point of a model
line), ``RUN/train.log`` the loss, wall and CPU seconds and validation history, ``RUN/snapshots/`` the weights
every ``--snapshot-every`` CPU seconds (to compare runs at equal CPU cost).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

from ..prior_coding import PRIOR_FILE, ContextPrior
from .data import PatchSampler
from .losses import PIXEL_LOSSES, check_iteration_weights, codec_loss, ms_ssim
from .model import TRAINING_BINARIZERS, Architecture, ResidualCodec
from .onnx_weights import load_model_weights
from .photos import centre_crops
from .rate import LEARNING_RATE, BitPrice, rate_term


def learning_rate(step: int, total: int, peak: float, warmup: int = 200) -> float:
    """Linear warm-up, then cosine decay to a tenth of the peak at ``total``."""
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return peak * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


def save_atomically(obj, path: Path) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def load_weights(path: str | Path) -> tuple[Architecture, dict]:
    """Architecture and state dict of a weights-only file (:func:`save_weights`) or of a model folder."""
    if Path(path).is_dir():
        return load_model_weights(path)
    blob = torch.load(path, map_location="cpu", weights_only=True)
    return Architecture.from_json(json.loads(blob["architecture"])), blob["model"]


def load_codec(path: str | Path) -> ResidualCodec:
    """The network of a weights-only file or of a model folder, with its weights loaded."""
    arch, state = load_weights(path)
    codec = ResidualCodec(arch)
    codec.load_state_dict(state)
    return codec


def save_weights(model: ResidualCodec, step: int, iterations: int, path: Path) -> None:
    save_atomically(
        {
            "architecture": json.dumps(model.arch.to_json()),
            "model": model.state_dict(),
            "step": step,
            "iterations": iterations,
        },
        path,
    )


def eight_bit_scores(out: torch.Tensor, crops: torch.Tensor) -> tuple[float, float]:
    """PSNR (dB) and mean MS-SSIM of ``out`` as the 8-bit picture a decode returns (images in [-0.5, 0.5])."""
    pixels = torch.round((out.clamp(-0.5, 0.5) + 0.5) * 255) / 255
    mse = ((pixels - 0.5 - crops) ** 2).mean().item()
    return 10 * math.log10(1 / max(mse, 1e-12)), ms_ssim(pixels, crops + 0.5).mean().item()


@torch.no_grad()
def validation_scores(
    model: ResidualCodec,
    crops: torch.Tensor,
    iterations: int,
    price: BitPrice | None = None,
    stop_psnr: float | None = None,
) -> dict[str, list[float]]:
    """PSNR (dB) and mean MS-SSIM of each iteration's 8-bit reconstruction of fixed validation crops,
    and with ``price`` the bits per pixel it puts on each iteration's bits (with ``stop_psnr``: on
    those of the cells still sending)."""
    model.eval()
    bits = None if price is None else []
    sending = [] if stop_psnr is not None else None
    outputs = model(
        crops, iterations, binarizer="sign", bits_out=bits, stop_psnr=stop_psnr, sending_out=sending
    )
    model.train()
    scores = [eight_bit_scores(out, crops) for out in outputs]
    result = {
        "val_psnr": [round(psnr, 2) for psnr, _ in scores],
        "val_ms_ssim": [round(msssim, 4) for _, msssim in scores],
    }
    if price is not None:
        rates = price(bits, crops.shape[-2] * crops.shape[-1], sending)
        result["val_price_bpp"] = [round(rate, 4) for rate in rates.tolist()]
    return result


def validation_crops(folder: str, size: int = 256) -> torch.Tensor:
    array = np.stack(centre_crops(folder, size)).astype(np.float32) / 255.0 - 0.5
    return torch.from_numpy(array).permute(0, 3, 1, 2).contiguous()


def comma_separated_weights(text: str) -> list[float]:
    """``--iteration-weights 1,2,2,1`` or ``--rate-weight 0,0,1,1``: weights, one per iteration."""
    try:
        return [float(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a comma-separated list of numbers: {text!r}") from None


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--images", required=True, help="folder of training photos")
    p.add_argument("--run", required=True, help="folder for checkpoint, weights and log")
    p.add_argument("--steps", type=int, default=20000)
    budget = p.add_mutually_exclusive_group()
    budget.add_argument("--hours", type=float, default=None, help="stop after this much wall time")
    budget.add_argument("--cpu-hours", type=float, default=None, help="stop after this much CPU time")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--patch", type=int, default=64)
    p.add_argument("--iterations", type=int, default=12, help="iterations unrolled per step")
    p.add_argument(
        "--downscale",
        type=int,
        choices=(1, 2),
        default=1,
        help="halve (2) the training photos that stay big enough for a patch (JPEG noise away)",
    )
    p.add_argument("--lr", type=float, default=5e-4)
    p.add_argument(
        "--ms-ssim-weight",
        type=float,
        default=0.0,
        help="weight of the (1 - MS-SSIM) term beside the pixel term (--pixel-loss)",
    )
    p.add_argument(
        "--pixel-loss",
        choices=sorted(PIXEL_LOSSES),
        default="l1",
        help="pixel term of the loss: L1 (the paper's) or RMSE, whose logarithm is PSNR's scale",
    )
    p.add_argument(
        "--loss-in-decibels",
        action="store_true",
        help="each iteration's loss terms as logarithms (losses.codec_loss): weighs the late iterations up",
    )
    p.add_argument(
        "--iteration-weights",
        type=comma_separated_weights,
        default=None,
        help="comma-separated weight of each iteration's loss (one per --iterations; default all 1)",
    )
    p.add_argument(
        "--rate-weight",
        type=comma_separated_weights,
        default=None,
        help="price the bits (rate.BitPrice, fitted alongside) and add this weight times their bits per "
        "pixel, the mean over iterations, to the loss; 0 only measures the price; a comma-separated "
        "list gives each iteration its own weight (e.g. only the last ones)",
    )
    p.add_argument(
        "--stop-psnr",
        type=float,
        default=None,
        help="train for spatially adaptive bits: a 16x16 cell whose reconstruction reaches this PSNR (dB) "
        "stops sending, and the decoder reads 0 for its later bits (validation too; --rate-weight still "
        "prices every cell's bits in training)",
    )
    p.add_argument(
        "--binarizer",
        choices=TRAINING_BINARIZERS,
        default="stochastic",
        help="training binarizer: the paper's stochastic bits, or the encode-time sign (straight-through)",
    )
    p.add_argument(
        "--arch",
        default=None,
        help="architecture as JSON (new runs only); with --init, the fields it changes (the rest is kept)",
    )
    p.add_argument(
        "--init",
        default=None,
        help="weights.pt or model folder to start a new run from (with --arch: the tensors that still fit)",
    )
    p.add_argument(
        "--freeze",
        default="",
        help="comma-separated parameter-name prefixes to keep fixed (e.g. encoder,decoder.rnns.0)",
    )
    p.add_argument("--snapshot-every", type=float, default=None, help="CPU seconds between weight snapshots")
    p.add_argument("--progress", action="store_true", help="show a progress line on stderr")
    p.add_argument("--val", default=None, help="folder of validation photos (never trained on)")
    p.add_argument("--val-every", type=int, default=500)
    p.add_argument("--checkpoint-every", type=int, default=200)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument(
        "--no-bf16",
        action="store_true",
        help="train in float32 (faster than bf16 autocast on some CPUs: docs/training.md)",
    )
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    if args.iteration_weights is not None:
        try:
            check_iteration_weights(args.iteration_weights, args.iterations)
        except ValueError as error:
            p.error(f"--iteration-weights: {error} (one per --iterations)")
    if args.rate_weight is not None:
        if len(args.rate_weight) == 1:
            args.rate_weight *= args.iterations
        if len(args.rate_weight) != args.iterations or min(args.rate_weight) < 0:
            p.error(f"--rate-weight: one weight (>= 0), or one per --iterations; got {args.rate_weight}")
    return args


@dataclasses.dataclass
class Progress:
    """Where a run is: steps done and time trained, carried across resumes in the checkpoint."""

    step: int = 0
    seconds: float = 0.0
    cpu_seconds: float = 0.0


def freeze(model: ResidualCodec, prefixes: list[str]) -> None:
    """Keep the parameters named by ``prefixes`` fixed.

    Freezing the encoder's first layers also stops gradients at its input (see
    :meth:`ResidualCodec.forward`), so backward never runs through them: that,
    more than the skipped weight gradients, is where freeze training saves CPU time.
    """
    parameters = dict(model.named_parameters())
    for prefix in prefixes:
        named = [name for name in parameters if name == prefix or name.startswith(prefix + ".")]
        if not named:
            example = next(iter(parameters))
            raise ValueError(f"--freeze {prefix!r} names no parameter (names look like {example!r})")
        for name in named:
            parameters[name].requires_grad_(False)


def shared_weights(start: dict, fresh: dict) -> dict:
    """``fresh`` with every tensor that ``start`` has under the same name and shape: a changed
    decoder, say, starts anew behind the start's encoder (``--freeze encoder`` then trains it alone)."""
    return {
        name: start[name] if name in start and start[name].shape == tensor.shape else tensor
        for name, tensor in fresh.items()
    }


def build_model(
    args: argparse.Namespace, run: Path
) -> tuple[ResidualCodec, torch.optim.Optimizer, Progress, dict | None]:
    """The model and optimizer to continue from (the run's checkpoint, ``--init``, or fresh), and the
    checkpoint if there was one."""
    checkpoint_path = run / "checkpoint.pt"
    blob = None
    if checkpoint_path.exists():
        blob = torch.load(checkpoint_path, map_location="cpu", weights_only=True)
        model = ResidualCodec(Architecture.from_json(json.loads(blob["architecture"])))
        model.load_state_dict(blob["model"])
    elif args.init:
        start, state = load_weights(args.init)
        model = ResidualCodec(Architecture.from_json({**start.to_json(), **json.loads(args.arch or "{}")}))
        if model.arch != start:  # a changed architecture keeps what it shares with the start
            fresh = model.state_dict()
            state = shared_weights(state, fresh)
            anew = [name for name, tensor in state.items() if tensor is fresh[name]]
            print(
                f"--arch: {len(anew)} of {len(state)} tensors start anew: {', '.join(anew)}", file=sys.stderr
            )
        model.load_state_dict(state)
    else:
        arch = Architecture.from_json(json.loads(args.arch)) if args.arch else Architecture()
        model = ResidualCodec(arch)
    freeze(model, [p for p in args.freeze.split(",") if p])
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=args.lr)
    if blob is None:
        return model, optimizer, Progress(), None
    optimizer.load_state_dict(blob["optimizer"])
    progress = Progress(blob["step"], blob.get("seconds", 0.0), blob.get("cpu_seconds", 0.0))
    return model, optimizer, progress, blob


def starting_price(args: argparse.Namespace, channels: int) -> BitPrice:
    """The ``--init`` model's context prior, if it has one for these bits; else one bit for every bit."""
    prior_file = Path(args.init) / PRIOR_FILE if args.init else None
    if prior_file is not None and prior_file.is_file():
        try:
            return BitPrice.from_prior(ContextPrior.load(prior_file, channels))
        except ValueError:  # a prior for another number of code channels (--arch changed them)
            pass
    return BitPrice(channels, args.iterations)


def build_price(
    args: argparse.Namespace, model: ResidualCodec, blob: dict | None
) -> tuple[BitPrice | None, torch.optim.Optimizer | None]:
    """With ``--rate-weight``: the bit price and its optimizer, from the checkpoint if it has them."""
    if args.rate_weight is None:
        return None, None
    price = starting_price(args, model.arch.code_channels)
    optimizer = torch.optim.Adam(price.parameters(), lr=LEARNING_RATE)
    if blob is not None and "bit_price" in blob:
        price.load_state_dict(blob["bit_price"])
        optimizer.load_state_dict(blob["bit_price_optimizer"])
    return price, optimizer


def show_progress(progress: Progress, loss: float, args: argparse.Namespace) -> None:
    """One self-overwriting line: steps, loss, time trained and time left."""
    budget = time_budget(progress, args)
    if budget:
        spent, total = budget
        left = (total - spent) * progress.seconds / max(spent, 1e-9)
    else:
        left = (args.steps - progress.step) * progress.seconds / max(1, progress.step)
    print(
        f"\rstep {progress.step:6d}  loss {loss:.4f}  trained {_clock(progress.seconds)}  "
        f"left {_clock(max(0.0, left))} ",
        end="",
        file=sys.stderr,
        flush=True,
    )


def _clock(seconds: float) -> str:
    minutes, seconds = divmod(int(seconds), 60)
    return f"{minutes // 60}:{minutes % 60:02d}:{seconds:02d}"


def time_budget(progress: Progress, args: argparse.Namespace) -> tuple[float, float] | None:
    """(seconds spent, seconds allowed) of wall time with ``--hours``, CPU time with ``--cpu-hours``."""
    if args.hours is not None:
        return progress.seconds, args.hours * 3600
    if args.cpu_hours is not None:
        return progress.cpu_seconds, args.cpu_hours * 3600
    return None


def finished(progress: Progress, args: argparse.Namespace) -> bool:
    """At ``--steps`` or at the end of the time budget, whichever comes first."""
    budget = time_budget(progress, args)
    return progress.step >= args.steps or (budget is not None and budget[0] >= budget[1])


def scheduled_rate(progress: Progress, args: argparse.Namespace) -> float:
    """The learning rate now: by the time budget if any (warm-up over its first 5 %), else by step."""
    budget = time_budget(progress, args)
    if budget:
        spent, total = int(budget[0]), int(budget[1])
        return learning_rate(spent, total, args.lr, warmup=max(1, total // 20))
    return learning_rate(progress.step, args.steps, args.lr)


def train(args: argparse.Namespace) -> Path:
    """Run (or resume) training to ``args.steps`` or the time budget; returns the path of the weights file."""
    torch.set_num_threads(args.threads)
    run = Path(args.run)
    run.mkdir(parents=True, exist_ok=True)
    model, optimizer, progress, blob = build_model(args, run)
    price, price_optimizer = build_price(args, model, blob)
    del blob
    torch.manual_seed(args.seed + progress.step)
    sampler = PatchSampler(args.images, args.patch, seed=args.seed + progress.step, downscale=args.downscale)
    crops = validation_crops(args.val) if args.val else None
    log = open(run / "train.log", "a", buffering=1)
    log.write(json.dumps({"event": "start", "step": progress.step, "args": vars(args)}) + "\n")
    losses: list[float] = []
    rates: list[float] = []
    next_snapshot = _next_multiple(progress.cpu_seconds, args.snapshot_every)

    def checkpoint() -> None:
        state = {
            "architecture": json.dumps(model.arch.to_json()),
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            **dataclasses.asdict(progress),
        }
        if price is not None:
            state.update(bit_price=price.state_dict(), bit_price_optimizer=price_optimizer.state_dict())
        save_atomically(state, run / "checkpoint.pt")
        save_weights(model, progress.step, args.iterations, run / "weights.pt")

    while not finished(progress, args):
        wall, cpu = time.time(), time.process_time()
        for group in optimizer.param_groups:
            group["lr"] = scheduled_rate(progress, args)
        batch = sampler.batch(args.batch)
        bits = None if price is None else []
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=not args.no_bf16):
            outputs = model(batch, args.iterations, args.binarizer, bits, args.stop_psnr)
        loss = codec_loss(
            batch,
            outputs,
            args.ms_ssim_weight,
            args.loss_in_decibels,
            args.iteration_weights,
            args.pixel_loss,
        )
        optimizer.zero_grad(set_to_none=True)
        if price is None:
            loss.backward()
        else:
            price_optimizer.zero_grad(set_to_none=True)
            term, bpp = rate_term(price, bits, batch.shape[-2] * batch.shape[-1], args.rate_weight)
            (loss + term).backward()
            price_optimizer.step()
            rates.append(bpp)
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        progress.step += 1
        losses.append(loss.item())
        if args.progress:
            show_progress(progress, losses[-1], args)
        if progress.step % 50 == 0:
            priced = {"price_bpp": round(float(np.mean(rates)), 4)} if rates else {}
            log.write(json.dumps({"loss": float(np.mean(losses)), **priced, **_rounded(progress)}) + "\n")
            losses, rates = [], []
        if progress.step % args.checkpoint_every == 0:
            checkpoint()
        if next_snapshot is not None and progress.cpu_seconds >= next_snapshot:
            snapshot = run / "snapshots" / f"cpu-{int(next_snapshot):06d}s.pt"
            snapshot.parent.mkdir(exist_ok=True)
            save_weights(model, progress.step, args.iterations, snapshot)
            log.write(json.dumps({"snapshot": snapshot.name, **_rounded(progress)}) + "\n")
            next_snapshot += args.snapshot_every
        if crops is not None and progress.step % args.val_every == 0:
            scores = validation_scores(model, crops, args.iterations, price, args.stop_psnr)
            log.write(json.dumps({"step": progress.step, **scores}) + "\n")
        progress.seconds += time.time() - wall  # checkpoints and validation included
        progress.cpu_seconds += time.process_time() - cpu
    if args.progress:
        print(file=sys.stderr)
    checkpoint()
    log.close()
    return run / "weights.pt"


def _next_multiple(value: float, every: float | None) -> float | None:
    return None if every is None else (math.floor(value / every) + 1) * every


def _rounded(progress: Progress) -> dict:
    return {
        "step": progress.step,
        "seconds": round(progress.seconds),
        "cpu_seconds": round(progress.cpu_seconds),
    }


def main(argv=None) -> None:
    train(parse_args(argv))


if __name__ == "__main__":
    main()
