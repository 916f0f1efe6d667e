"""Train a residual-GRU codec on a folder of photos, with checkpoints and resume.

Usage::

    python -m pillow_rgc.training.train --images ../shared/data/train --run runs/rgc \
        --steps 20000 [--val ../shared/data/val] [--init weights.pt]

Running the same command again resumes from ``RUN/checkpoint.pt`` (weights,
optimizer and step), so a long training can be spread over many sessions;
``--steps`` may be raised on resume to train longer. ``RUN/weights.pt`` holds
the model weights alone (small enough to commit as the resume point of a
model line), ``RUN/train.log`` the loss and validation history.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from pathlib import Path

import numpy as np
import torch

from .data import PatchSampler, list_images, load_rgb
from .losses import codec_loss, ms_ssim
from .model import Architecture, ResidualCodec


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
    """Architecture and state dict of a weights-only file written by :func:`save_weights`."""
    blob = torch.load(path, map_location="cpu", weights_only=True)
    return Architecture.from_json(json.loads(blob["architecture"])), blob["model"]


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


@torch.no_grad()
def validation_scores(model: ResidualCodec, crops: torch.Tensor, iterations: int) -> dict[str, list[float]]:
    """PSNR (dB) and mean MS-SSIM of each iteration's 8-bit reconstruction of fixed validation crops."""
    model.eval()
    outputs = model(crops, iterations, stochastic=False)
    model.train()
    psnr, msssim = [], []
    for out in outputs:
        pixels = torch.round((out.clamp(-0.5, 0.5) + 0.5) * 255) / 255
        mse = ((pixels - 0.5 - crops) ** 2).mean().item()
        psnr.append(round(10 * math.log10(1 / max(mse, 1e-12)), 2))
        msssim.append(round(ms_ssim(pixels, crops + 0.5).mean().item(), 4))
    return {"val_psnr": psnr, "val_ms_ssim": msssim}


def validation_crops(folder: str, size: int = 256) -> torch.Tensor:
    crops = []
    for path in list_images(folder):
        photo = load_rgb(path)
        h, w = photo.shape[:2]
        if min(h, w) < size:
            continue
        y, x = (h - size) // 2, (w - size) // 2
        crops.append(photo[y : y + size, x : x + size])
    array = np.stack(crops).astype(np.float32) / 255.0 - 0.5
    return torch.from_numpy(array).permute(0, 3, 1, 2).contiguous()


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--images", required=True, help="folder of training photos")
    p.add_argument("--run", required=True, help="folder for checkpoint, weights and log")
    p.add_argument("--steps", type=int, default=20000)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--patch", type=int, default=64)
    p.add_argument("--iterations", type=int, default=12, help="iterations unrolled per step")
    p.add_argument("--lr", type=float, default=5e-4)
    p.add_argument(
        "--ms-ssim-weight", type=float, default=0.0, help="weight of the (1 - MS-SSIM) term beside L1"
    )
    p.add_argument("--arch", default=None, help="architecture as JSON (new runs only)")
    p.add_argument("--init", default=None, help="weights.pt to start a new run from")
    p.add_argument("--val", default=None, help="folder of validation photos (never trained on)")
    p.add_argument("--val-every", type=int, default=500)
    p.add_argument("--checkpoint-every", type=int, default=200)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--no-bf16", action="store_true", help="train in float32 (bf16 autocast is ~25%% faster)")
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args(argv)


def build_model(args: argparse.Namespace, run: Path) -> tuple[ResidualCodec, torch.optim.Optimizer, int]:
    """The model and optimizer to continue from: the run's checkpoint, ``--init``, or fresh."""
    checkpoint_path = run / "checkpoint.pt"
    if checkpoint_path.exists():
        blob = torch.load(checkpoint_path, map_location="cpu", weights_only=True)
        model = ResidualCodec(Architecture.from_json(json.loads(blob["architecture"])))
        model.load_state_dict(blob["model"])
        optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
        optimizer.load_state_dict(blob["optimizer"])
        return model, optimizer, blob["step"]
    if args.init:
        arch, state = load_weights(args.init)
        model = ResidualCodec(arch)
        model.load_state_dict(state)
    else:
        arch = Architecture.from_json(json.loads(args.arch)) if args.arch else Architecture()
        model = ResidualCodec(arch)
    return model, torch.optim.Adam(model.parameters(), lr=args.lr), 0


def train(args: argparse.Namespace) -> Path:
    """Run (or resume) training to ``args.steps``; returns the path of the weights file."""
    torch.set_num_threads(args.threads)
    run = Path(args.run)
    run.mkdir(parents=True, exist_ok=True)
    model, optimizer, step = build_model(args, run)
    torch.manual_seed(args.seed + step)
    sampler = PatchSampler(args.images, args.patch, seed=args.seed + step)
    crops = validation_crops(args.val) if args.val else None
    log = open(run / "train.log", "a", buffering=1)
    log.write(json.dumps({"event": "start", "step": step, "args": vars(args)}) + "\n")
    started, losses = time.time(), []

    def checkpoint() -> None:
        save_atomically(
            {
                "architecture": json.dumps(model.arch.to_json()),
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "step": step,
            },
            run / "checkpoint.pt",
        )
        save_weights(model, step, args.iterations, run / "weights.pt")

    while step < args.steps:
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(step, args.steps, args.lr)
        batch = sampler.batch(args.batch)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=not args.no_bf16):
            outputs = model(batch, args.iterations)
        loss = codec_loss(batch, outputs, args.ms_ssim_weight)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        step += 1
        losses.append(loss.item())
        if step % 50 == 0:
            elapsed = time.time() - started
            log.write(
                json.dumps({"step": step, "loss": float(np.mean(losses)), "seconds": round(elapsed)}) + "\n"
            )
            losses = []
        if step % args.checkpoint_every == 0 or step == args.steps:
            checkpoint()
        if crops is not None and step % args.val_every == 0:
            scores = validation_scores(model, crops, args.iterations)
            log.write(json.dumps({"step": step, **scores}) + "\n")
    checkpoint()
    log.close()
    return run / "weights.pt"


def main(argv=None) -> None:
    train(parse_args(argv))


if __name__ == "__main__":
    main()
