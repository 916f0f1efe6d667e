"""Fit a model's context prior (ITER coding 3) on training photos, and add it to the model folder.

Usage::

    python -m pillow_rgc.training.context_prior weights/MODEL_ID --images ../shared/data/train \
        [--crops 160] [--side 512] [--threads 1] [--stop-psnr 38 | --stop-psnr 0] [--effort 3]

The prior's weights belong to one network: the redundancy it models is that of
the bits this network's encoder writes. So the crops are encoded here with the
folder's own ONNX encoder (through ``codec.encode_pixels``, as a writer does),
and one L2-regularised logistic regression per (iteration, channel) is fitted
by Newton's method on the features coding 3 uses (``prior_coding``), then
quantised to int8 in 1/128 nat per feature unit. Fit on training photos only,
never on the photos the codec is measured on. The crops are encoded with the
writer's silent cells (``--stop-psnr``, as ``pillow_rgc.encode`` does by
default), so the weights fit the features that codings 5 and 6 see, and the
bits of silent cells, which no payload holds, are left out of the fit. They are
refined as the writer refines them (``--effort``, ``refinement.py``).

Writing the prior changes the model's hash (``models.model_hash`` covers it),
so this is part of making a model, before its release: ``model.json`` gets
the new hash and the ``context_prior`` entry that declares the weights.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from .. import api, codec, models, silence
from ..prior_coding import (
    ALL_CHANNEL_HISTORY,
    PRIOR_FILE,
    RING,
    SAME_CHANNEL_HISTORY,
    WEIGHT_UNIT,
    _padded,
    _shifted,
    feature_count,
    known_neighbour_sums,
    lower_features,
    phase_of,
    signs_of,
)
from .export import write_model_json
from .photos import centre_crop, list_images, load_rgb

REGULARISATION = 1.0
"""L2 weight (per scaled feature) of the logistic regressions: 160 crops saturate the fit with it."""

NEWTON_STEPS = 5

RING_SUM_SCALE = 4.0
LOWER_SCALE = np.array([1.0, 2.0, 2.0])
"""While fitting, the previous iteration's 8-neighbour sums are divided by RING_SUM_SCALE and a lower
channel's (sign, 4-neighbour sum, diagonal sum) by LOWER_SCALE, so one L2 weight suits every feature."""


def training_crops(folder: Path, count: int, side: int, seed: int = 0) -> list[np.ndarray]:
    """``count`` centre crops of at most ``side`` x ``side`` pixels (RGB uint8) of photos picked at random."""
    crops = []
    for path in np.random.default_rng(seed).permutation(list_images(folder)):
        pixels = load_rgb(path)
        if min(pixels.shape[:2]) < side // 2:  # thumbnails and strips: too little of a photo
            continue
        crops.append(centre_crop(pixels, side))
        if len(crops) == count:
            break
    return crops


def features(bitplanes: list[np.ndarray], t: int, c: int) -> np.ndarray:
    """(cells, features) float32: coding 3's features of channel ``c`` of iteration ``t``, scaled to fit."""
    bits = bitplanes[t]
    channels, rows, columns = bits.shape
    earlier = [signs_of(b) for b in bitplanes[:t]]
    zeros = np.zeros((rows, columns))
    history = [earlier[-k][c] if k <= t else zeros for k in range(1, SAME_CHANNEL_HISTORY + 1)]
    previous = [earlier[-k] if k <= t else np.zeros(bits.shape) for k in range(1, ALL_CHANNEL_HISTORY + 1)]
    padded = _padded(earlier[-1] if t else np.zeros(bits.shape))
    ring = [_shifted(padded, dy, dx) for dy, dx in RING]
    signs = signs_of(bits)
    lower = lower_features(signs) / LOWER_SCALE[:, None, None]
    lower[c:] = 0  # only the channels decoded before c
    lattice = phase_of(rows, columns)
    columns_ = [
        *history,
        *np.concatenate(previous),
        *(neighbour[c] for neighbour in ring),
        *(sum(ring) / RING_SUM_SCALE),
        *lower.reshape(3 * channels, rows, columns),
        *(lattice == phase for phase in range(4)),
        *known_neighbour_sums(signs)[:, c],
    ]
    return np.stack([np.asarray(f, np.float32).ravel() for f in columns_], axis=1)


def feature_scales(channels: int) -> np.ndarray:
    """What each fitted feature was divided by, in the weight layout: weights per raw unit are w / scale."""
    scales = np.ones(feature_count(channels))
    start = SAME_CHANNEL_HISTORY + ALL_CHANNEL_HISTORY * channels + len(RING)
    scales[start : start + channels] = RING_SUM_SCALE
    lower = start + channels
    scales[lower : lower + 3 * channels] = np.tile(LOWER_SCALE, channels)
    return scales


def fit_logistic(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """L2-regularised logistic regression by Newton's method (float32 products, float64 solves), in nat."""
    weights = np.zeros(x.shape[1], np.float32)
    target = y.astype(np.float32)
    ridge = np.full(x.shape[1], REGULARISATION, np.float32)
    for _ in range(NEWTON_STEPS):
        p = 1 / (1 + np.exp(-(x @ weights)))
        gradient = x.T @ (p - target) + ridge * weights
        hessian = (x * (p * (1 - p))[:, None]).T @ x + np.diag(ridge)
        weights -= np.linalg.solve(hessian.astype(np.float64), gradient.astype(np.float64)).astype(np.float32)
    return weights.astype(np.float64)


def fit_prior(crops_bitplanes: list[list[np.ndarray]], iterations: int, log=print) -> np.ndarray:
    """int8 weights (iterations, channels, features) fitted on the bitplanes of the crops."""
    channels = crops_bitplanes[0][0].shape[0]
    scales = feature_scales(channels)
    weights = np.zeros((iterations, channels, feature_count(channels)), np.int8)
    # per iteration and crop, the cells whose bits a payload holds (not the silent ones)
    coded = [
        [~silence.silent_cells(bitplanes[t]).ravel() for bitplanes in crops_bitplanes]
        for t in range(iterations)
    ]
    for t in range(iterations):
        for c in range(channels):
            x = np.concatenate(
                [features(bitplanes, t, c)[sending] for bitplanes, sending in zip(crops_bitplanes, coded[t])]
            )
            y = np.concatenate(
                [bitplanes[t][c].ravel()[sending] for bitplanes, sending in zip(crops_bitplanes, coded[t])]
            )
            used = np.flatnonzero(np.abs(x).max(axis=0) > 0)  # zero columns (no history yet, c' >= c)
            fitted = np.zeros(x.shape[1])
            fitted[used] = fit_logistic(np.ascontiguousarray(x[:, used]), y)
            weights[t, c] = np.clip(np.rint(fitted / scales * WEIGHT_UNIT), -127, 127)
        log(f"iteration {t + 1}/{iterations} fitted")
    return weights


def add_prior(folder: Path, weights: np.ndarray, crops: int, images: Path) -> str:
    """Write the weights and declare them in model.json, with the model's new hash; returns it."""
    weights.astype(np.int8).tofile(folder / PRIOR_FILE)
    card = json.loads((folder / models.MODEL_FILE).read_text())
    card["context_prior"] = {
        "file": PRIOR_FILE,
        "iterations": int(weights.shape[0]),
        "features": int(weights.shape[2]),
        "weight_unit": f"1/{WEIGHT_UNIT} nat",
        "fitted_on": f"{crops} crops of {images.name}",
    }
    return write_model_json(folder, card)["sha256"]


def make_prior(
    folder: Path,
    images: Path,
    crops: int,
    side: int = 512,
    iterations: int | None = None,
    log=print,
    stop_psnr: float | None = api.STOP_PSNR,
    effort: int | None = None,
) -> str:
    """Encode ``crops`` crops of ``images`` with the model in ``folder``, fit its prior, add it; the new hash.

    ``iterations`` (default: all the model's) limits the fit; later iterations reuse the last one's weights.
    ``stop_psnr``: the writer's silent cells (None: every cell sends); ``effort``: its refinement
    (None: the writer's default).
    """
    loaded = models.LoadedModel(models.ModelInfo.from_folder(folder))
    iterations = iterations or loaded.info.iterations
    effort = api.EFFORT if effort is None else effort
    started = time.perf_counter()
    pictures = training_crops(images, crops, side)
    if not pictures:
        raise ValueError(f"no image in {images} is at least {side // 2} pixels on its shorter side")

    def writers_silence(picture: np.ndarray):
        return silence.writer_rule(picture, loaded.info.code_stride, stop_psnr) if stop_psnr else None

    bitplanes = [
        codec.encode_pixels(
            loaded,
            picture,
            iterations,
            silence=writers_silence(picture),
            effort=effort,
        )
        for picture in pictures
    ]
    encoded = time.perf_counter()
    log(f"encoded {len(pictures)} crops in {encoded - started:.0f} s")
    weights = fit_prior(bitplanes, iterations, log=log)
    sha256 = add_prior(folder, weights, len(pictures), images)
    log(f"fitted in {time.perf_counter() - encoded:.0f} s; {PRIOR_FILE} written, model sha256 {sha256}")
    return sha256


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model_dir", type=Path, help="the model folder (graphs and model.json)")
    parser.add_argument("--images", type=Path, required=True, help="training photos (never the test photos)")
    parser.add_argument("--crops", type=int, default=160, help="how many photos to crop and encode")
    parser.add_argument("--side", type=int, default=512, help="crop side in pixels")
    parser.add_argument("--iterations", type=int, help="iterations to fit (default: the model's)")
    parser.add_argument("--threads", type=int, default=1, help="onnxruntime threads for encoding the crops")
    parser.add_argument(
        "--stop-psnr",
        type=float,
        default=api.STOP_PSNR,
        help="encode the crops with the writer's silent cells at this PSNR (dB); 0: every cell sends",
    )
    parser.add_argument(
        "--effort",
        type=int,
        default=api.EFFORT,
        help="refine the crops' bits as the writer does with this effort; 0: the encoder's bits",
    )
    args = parser.parse_args(argv)
    models.THREADS = args.threads
    make_prior(
        args.model_dir,
        args.images,
        args.crops,
        args.side,
        args.iterations,
        log=lambda line: print(line, flush=True),
        stop_psnr=args.stop_psnr or None,
        effort=args.effort,
    )


if __name__ == "__main__":
    main()
