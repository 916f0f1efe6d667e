"""``rgc analyze svcca``: which layers two models share, as a table, a ``--freeze`` hint and a plot."""

from __future__ import annotations

import argparse

import numpy as np

from . import models, svcca
from .training import photos


def centre_crops(folder: str, side: int, limit: int) -> list[np.ndarray]:
    """Centre ``side`` x ``side`` crops of the first ``limit`` images that are big enough."""
    if side <= 0 or side % 16:
        raise ValueError(f"--crop {side}: use a positive multiple of 16")
    crops = photos.centre_crops(folder, side, limit)
    if len(crops) < 2:
        raise ValueError(f"need at least 2 images of {side}x{side} pixels or more in {folder}")
    return crops


def freeze_hint(similarity: dict[str, float], converged: float) -> list[str]:
    """Layers that stayed alike, plus the convolutions that feed only them (the GRUs' neighbours)."""
    frozen = [name for name, value in similarity.items() if value >= converged]
    if "encoder.rnns.0" in frozen:
        frozen.insert(0, "encoder.conv")
    decoder_layers = [name for name in similarity if name.startswith("decoder.")]
    if decoder_layers and decoder_layers[-1] in frozen:
        frozen.append("decoder.output")
    if "decoder.rnns.0" in frozen:
        frozen.insert(frozen.index("decoder.rnns.0"), "decoder.conv")
    return frozen


def run(args: argparse.Namespace) -> None:
    crops = centre_crops(args.images, args.crop, args.limit)
    model_a, model_b = models.load_model(args.model_a), models.load_model(args.model_b)
    states_a = svcca.hidden_states(model_a, crops, args.iterations)
    states_b = svcca.hidden_states(model_b, crops, args.iterations)
    similarity = svcca.same_layer(states_a, states_b)
    print(f"SVCCA of {args.model_a} and {args.model_b}: {len(crops)} crops of {args.crop} px, ", end="")
    print(f"{args.iterations} iterations")
    print(f"{'layer':<16} {'similarity':>10}")
    for name, value in similarity.items():
        print(f"{name:<16} {value:10.3f}{'  unchanged' if value >= args.converged else ''}")
    hint = freeze_hint(similarity, args.converged)
    print(f"--freeze {','.join(hint)}" if hint else f"no layer reaches {args.converged}: nothing to freeze")
    if args.plot:
        plot(states_a, states_b, args.model_a, args.model_b, args.plot)
        print(f"plot: {args.plot}")


def plot(states_a: dict, states_b: dict, name_a: str, name_b: str, path: str) -> None:
    """The layer-by-layer matrix (pooled to the coarsest grid), then each layer's iteration-by-iteration."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    layers = list(states_a)
    columns = (len(layers) + 1) // 2
    fig = plt.figure(figsize=(5 + 2.4 * columns, 5.6))
    grid = fig.add_gridspec(2, columns + 2)
    ax = fig.add_subplot(grid[:, :2])
    image = _heatmap(ax, svcca.layer_matrix(states_a, states_b), layers, layers)
    ax.set_xlabel(name_b)
    ax.set_ylabel(name_a)
    ax.set_title("layer by layer (pooled to the coarsest grid)", fontsize=9)
    for index, layer in enumerate(layers):
        row, column = divmod(index, columns)
        ax = fig.add_subplot(grid[row, 2 + column])
        matrix = svcca.iteration_matrix(states_a[layer], states_b[layer])
        ticks = [str(t + 1) for t in range(matrix.shape[0])]
        _heatmap(ax, matrix, ticks, ticks, annotate=False)
        ax.set_title(layer, fontsize=8)
        ax.set_xlabel(f"{name_b} iteration", fontsize=7)
        if column == 0:
            ax.set_ylabel(f"{name_a} iteration", fontsize=7)
    fig.colorbar(image, ax=fig.axes, shrink=0.6, label="SVCCA similarity")
    fig.suptitle(f"SVCCA similarity of hidden states: {name_a} vs {name_b}")
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _heatmap(ax, matrix: np.ndarray, rows: list[str], columns: list[str], annotate: bool = True):
    image = ax.imshow(matrix, vmin=0, vmax=1, cmap="viridis")
    ax.set_xticks(range(len(columns)), columns, rotation=90, fontsize=6)
    ax.set_yticks(range(len(rows)), rows, fontsize=6)
    if annotate:
        for (i, j), value in np.ndenumerate(matrix):
            ax.text(
                j, i, f"{value:.2f}", ha="center", va="center", fontsize=6, color="w" if value < 0.6 else "k"
            )
    return image
