"""Freeze training against full fine-tuning: BD-rate reached for the CPU time spent.

Usage:
    python benchmarks/freeze_training.py --images ../shared/data/holdout-monuments \
        --start rgc-lean-2 RUN_DIR [RUN_DIR ...] [--every 1200] [--out benchmarks/results/]

Each RUN_DIR is a training run (``rgc train --run-dir`` or
``python -m pillow_rgc.training.train --run``) started from the model
``--start`` with ``--snapshot-every``: its ``snapshots/cpu-*.pt`` hold the
weights after that much CPU time. Every snapshot whose CPU time is a multiple
of ``--every`` seconds, and the run's final weights, is exported to a
temporary model and measured on ``--images`` (every iteration of every
photo, as ``rgc evaluate`` does). Printed: per run, CPU seconds per step and
the layers it froze; then per point, the CPU minutes, steps and BD-rate
against the start model on MS-SSIM and PSNR. Written: freeze_training.json
and freeze_training.png (BD-rate against CPU minutes).
"""

from __future__ import annotations

import argparse
import json
import re
import tempfile
from pathlib import Path

import torch

from pillow_rgc import models
from pillow_rgc.training import evaluate, export, train


def run_summary(run: Path) -> dict:
    """The run's options, and its CPU seconds per step from its log."""
    lines = [json.loads(line) for line in (run / "train.log").read_text().splitlines()]
    start = next(line["args"] for line in lines if line.get("event") == "start")
    steps = [line for line in lines if "loss" in line]
    return {
        "run": str(run),
        "freeze": start.get("freeze") or "none",
        "cpu_seconds_per_step": steps[-1]["cpu_seconds"] / steps[-1]["step"] if steps else None,
    }


def points_to_measure(run: Path, every: float) -> list[tuple[float, Path]]:
    """(CPU seconds, weights file) of the chosen snapshots and of the final weights."""
    chosen = []
    for path in sorted((run / "snapshots").glob("cpu-*.pt")):
        seconds = float(re.fullmatch(r"cpu-(\d+)s\.pt", path.name).group(1))
        if seconds % every == 0:
            chosen.append((seconds, path))
    final = torch.load(run / "checkpoint.pt", map_location="cpu", weights_only=True)["cpu_seconds"]
    return [*chosen, (final, run / "weights.pt")]


def measure(weights: Path, images: str, start_curve: list[dict], models_dir: Path, name: str) -> dict:
    steps = torch.load(weights, map_location="cpu", weights_only=True)["step"]
    export.export_model(
        train.load_codec(weights), models_dir / name, name, 12, "freeze-training benchmark point"
    )
    curve = evaluate.folder_curve(images, name)
    return {"steps": steps, "bd_rate": evaluate.bd_rates(curve, start_curve), "curve": curve}


def plot(results: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    for run in results:
        minutes = [0.0] + [p["cpu_minutes"] for p in run["points"]]
        rates = [0.0] + [100 * p["bd_rate"]["ms_ssim"] for p in run["points"]]
        ax.plot(minutes, rates, marker="o", label=f"freeze: {run['freeze']}")
    ax.set_xlabel("CPU minutes of fine-tuning")
    ax.set_ylabel("BD-rate vs start model, MS-SSIM (%)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("runs", nargs="+", type=Path)
    p.add_argument("--images", required=True)
    p.add_argument("--start", required=True, help="the installed model the runs started from")
    p.add_argument("--every", type=float, default=1200, help="CPU seconds between measured snapshots")
    p.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results")
    args = p.parse_args(argv)
    start_curve = evaluate.folder_curve(args.images, args.start)
    results = []
    with tempfile.TemporaryDirectory() as folder:
        models.add_model_path(folder)
        for index, run in enumerate(args.runs):
            summary = run_summary(run)
            summary["points"] = []
            for seconds, weights in points_to_measure(run, args.every):
                name = f"freeze-bench-{index}-{int(seconds)}"
                point = measure(weights, args.images, start_curve, Path(folder), name)
                summary["points"].append({"cpu_minutes": seconds / 60, **point})
            results.append(summary)
    print(f"BD-rate against {args.start} on {args.images} (negative: fewer bits for the same quality)")
    for run in results:
        per_step = run["cpu_seconds_per_step"]
        print(f"\n{run['run']}: freeze {run['freeze']}, {per_step:.2f} CPU s per step")
        print(f"{'CPU min':>8} {'steps':>6} {'MS-SSIM':>9} {'PSNR':>8}")
        for point in run["points"]:
            rates = point["bd_rate"]
            print(
                f"{point['cpu_minutes']:8.1f} {point['steps']:6d} {100 * rates['ms_ssim']:+8.1f}% "
                f"{100 * rates['psnr']:+7.1f}%"
            )
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "freeze_training.json").write_text(json.dumps(results, indent=2) + "\n")
    plot(results, args.out / "freeze_training.png")
    print(f"\nwritten: {args.out / 'freeze_training.json'}, {args.out / 'freeze_training.png'}")


if __name__ == "__main__":
    main()
