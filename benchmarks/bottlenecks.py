"""Which layer of a model's decoder limits its quality: ceilings with one stage's input set free.

Usage:
    python benchmarks/bottlenecks.py DIR [--model ID] [--crops 2] [--side 128] [--steps 300]

Needs the ``[train]`` extra (torch). Centre crops of DIR are coded through every
iteration as a file codes them (the encoder's bits). Then the input of one
stage, at every iteration, is replaced by a free continuous tensor, started
from what the file's bits gave it, and fitted with Adam to the crops (squared
error of every iteration's picture); every weight stays as released. Stages,
from the bits up:

- ``codes``: the bits themselves, but continuous (what binarizing costs);
- ``GRU i``: the input of decoder GRU *i* (what the layers below it can hand on);
- ``synthesis`` (one-shot models): the last GRU's state after the last
  iteration, kept in (-1, 1) as a GRU state is (what the synthesis can draw).

Why: more width where it does not limit buys nothing but time. The stage
whose free input lifts the ceiling most is the narrowest place; a layer
whose ceiling is far above the others' is not worth widening. The table
gives PSNR / MS-SSIM of the crops after iterations 1, 4, 8 and the last
(8-bit pictures), first with the file's bits, then per stage.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import torch  # noqa: E402

import pillow_rgc  # noqa: E402
from pillow_rgc.training.model import ResidualCodec, binarize  # noqa: E402
from pillow_rgc.training.train import eight_bit_scores, load_codec, validation_crops  # noqa: E402

SHOWN_ITERATIONS = (1, 4, 8)


def decode_from(model: ResidualCodec, stage: int, inputs: list[torch.Tensor], size: tuple[int, int]):
    """Every iteration's picture (of ``size``) when ``inputs`` enter decoder GRU ``stage``.

    Stage -1: the inputs are the codes, read by the decoder's first convolution.
    """
    decoder = model.decoder
    states = model.zero_states(inputs[0].shape[0], *size)[1]
    reconstruction = torch.zeros(inputs[0].shape[0], 3, *size)
    pictures = []
    for x in inputs:
        x, states = decoder.grus_from(max(stage, 0), decoder.conv(x) if stage < 0 else x, states)
        reconstruction = model.reconstruction_after(reconstruction, decoder.picture(x))
        pictures.append(reconstruction)
    return pictures


def file_inputs(model: ResidualCodec, crops: torch.Tensor, iterations: int) -> list[list[torch.Tensor]]:
    """Per stage (codes, each GRU, then the last GRU's final state), its inputs when coding as a file does."""
    n, _, h, w = crops.shape
    enc_states, dec_states = model.zero_states(n, h, w)
    decoder = model.decoder
    reconstruction = torch.zeros_like(crops)
    stages: list[list[torch.Tensor]] = [[] for _ in range(len(decoder.rnns) + 1)]
    for _ in range(iterations):
        code, enc_states = model.encoder(crops - reconstruction, enc_states)
        bits = binarize(code, "sign")
        gru_inputs: list[torch.Tensor] = []
        x, dec_states = decoder.grus_from(0, decoder.conv(bits), dec_states, gru_inputs)
        for stage, given in zip(stages, [bits, *gru_inputs]):
            stage.append(given)
        reconstruction = model.reconstruction_after(reconstruction, decoder.picture(x))
    stages.append([dec_states[-1]])
    return stages


def fit(parameters: list[torch.Tensor], pictures_of, crops: torch.Tensor, steps: int) -> list[torch.Tensor]:
    """Adam on ``parameters`` (learning rate 0.01) to the summed squared error of every picture."""
    optimizer = torch.optim.Adam(parameters, lr=0.01)
    for _ in range(steps):
        loss = sum(((p - crops) ** 2).mean() for p in pictures_of(parameters))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        return pictures_of(parameters)


def ceilings(model: ResidualCodec, crops: torch.Tensor, iterations: int, steps: int) -> list[tuple]:
    """(stage name, the pictures after every iteration) for the file's bits and each free stage."""
    for weight in model.parameters():
        weight.requires_grad_(False)
    with torch.no_grad():
        stages = file_inputs(model, crops, iterations)
    size = tuple(crops.shape[-2:])
    rows = [("the file's bits", decode_from(model, -1, stages[0], size))]
    names = ["codes"] + [f"GRU {i + 1}" for i in range(len(model.decoder.rnns))]
    for stage, (name, inputs) in enumerate(zip(names, stages), start=-1):
        free = [x.clone().requires_grad_(True) for x in inputs]
        pictures = fit(free, lambda xs, s=stage: decode_from(model, s, xs, size), crops, steps)
        rows.append((f"free {name}", pictures))
    if model.arch.one_shot:
        free = [torch.atanh(stages[-1][0].clamp(-0.999, 0.999)).requires_grad_(True)]
        drawn = fit(free, lambda us: [model.decoder.picture(torch.tanh(us[0]))], crops, steps)
        rows.append(("free synthesis input", [None] * (iterations - 1) + drawn))
    return rows


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("images", type=Path)
    p.add_argument("--model", default=pillow_rgc.DEFAULT_MODEL, help="an installed model or a weights.pt")
    p.add_argument("--crops", type=int, default=2)
    p.add_argument("--side", type=int, default=128, help="centre crop side (a multiple of 16)")
    p.add_argument("--steps", type=int, default=300, help="Adam steps per stage")
    p.add_argument("--iterations", type=int, default=12)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    if args.side % 16:
        p.error("--side must be a multiple of 16")
    torch.set_num_threads(args.threads)
    source = args.model if Path(args.model).exists() else pillow_rgc.models.find_model(args.model).folder
    model = load_codec(source).eval()
    crops = validation_crops(str(args.images), args.side)[: args.crops]
    shown = [i for i in SHOWN_ITERATIONS if i < args.iterations] + [args.iterations]
    print(
        f"{args.model}: {len(crops)} centre crops of {args.side}x{args.side} from {args.images}, "
        f"{args.steps} Adam steps per stage; PSNR dB / MS-SSIM"
    )
    print("| input | " + " | ".join(f"iteration {i}" for i in shown) + " |")
    print("|---|" + "---|" * len(shown))
    for name, pictures in ceilings(model, crops, args.iterations, args.steps):
        scores = [
            None if pictures[i - 1] is None else eight_bit_scores(pictures[i - 1], crops) for i in shown
        ]
        cells = ["" if s is None else f"{s[0]:.2f} / {s[1]:.4f}" for s in scores]
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
