"""SVCCA: how alike two models' hidden states are, layer by layer and iteration by iteration.

Singular vector canonical correlation analysis (Raghu et al. 2017) compares
two sets of activations of the same inputs: each set is reduced by SVD to the
directions that carry 99 % of its variance, then canonical correlation
analysis finds the pairs of directions that correlate best. The mean of those
correlations is 1 when one layer's states are a linear function of the
other's, whatever the basis, and near 0 when they share nothing.

Here an activation is a GRU's hidden state at one cell of its grid, one row
per (picture, iteration, cell); the neurons are its channels. Comparing a
model with its fine-tuned copy shows which layers the fine-tune changed,
and layers that stay alike are the ones worth freezing (``rgc train
--freeze``). Runs on the ONNX graphs with onnxruntime (no torch).
"""

from __future__ import annotations

import numpy as np

from . import codec
from .models import LoadedModel

VARIANCE_KEPT = 0.99
MAX_ROWS = 6000
"""Rows sampled per comparison: enough for 128 neurons, and an SVD stays a few milliseconds."""


def svcca(a: np.ndarray, b: np.ndarray, variance: float = VARIANCE_KEPT) -> float:
    """Mean canonical correlation of activations ``a`` (rows, neurons) and ``b`` (same rows, own neurons)."""
    if a.shape[0] != b.shape[0]:
        raise ValueError("both activation sets need one row per input")
    return _mean_correlation(_top_directions(a, variance), _top_directions(b, variance))


def _mean_correlation(basis_a: np.ndarray, basis_b: np.ndarray) -> float:
    """Mean canonical correlation of two orthonormal bases: the singular values of their product."""
    if min(basis_a.shape[1], basis_b.shape[1]) == 0:
        return 0.0
    correlations = np.linalg.svd(basis_a.T @ basis_b, compute_uv=False)
    return float(np.clip(correlations, 0.0, 1.0).mean())


def _top_directions(x: np.ndarray, variance: float) -> np.ndarray:
    """Orthonormal basis (rows, k) of the top singular directions of centred ``x`` that hold ``variance``.

    Taken from the eigenvectors of the (neurons x neurons) Gram matrix rather
    than an SVD of the tall activation matrix: the same directions, and 50x
    faster here, where a multi-threaded SVD fights a training run for cores.
    """
    x = np.asarray(x, np.float64)
    x = x - x.mean(axis=0)
    energy, vectors = np.linalg.eigh(x.T @ x)
    energy, vectors = energy[::-1], vectors[:, ::-1]
    energy = np.clip(energy, 0.0, None)
    if energy.sum() <= 0:
        return x[:, :0]
    keep = int(np.searchsorted(np.cumsum(energy) / energy.sum(), variance) + 1)
    keep = min(keep, int(np.count_nonzero(energy > energy[0] * 1e-10)))
    return x @ vectors[:, :keep] / np.sqrt(energy[:keep])


def layer_names(model: LoadedModel) -> list[str]:
    """The GRUs whose states are compared, named as their parameters are (``rgc train --freeze`` names)."""
    return [f"encoder.rnns.{i}" for i in range(len(model.encoder_states))] + [
        f"decoder.rnns.{i}" for i in range(len(model.decoder_states))
    ]


def hidden_states(model: LoadedModel, pictures: list[np.ndarray], iterations: int) -> dict[str, np.ndarray]:
    """Each GRU's states while ``model`` codes ``pictures``: ``{layer: (iterations, pictures, C, h, w)}``.

    Pictures are (H, W, 3) uint8 of one size, a multiple of the code stride;
    each model codes them with its own encoder, so both models of a
    comparison see the same pictures and their own residuals.
    """
    names = layer_names(model)
    collected: dict[str, list] = {name: [[] for _ in range(iterations)] for name in names}
    for pixels in pictures:
        image = codec.to_network(pixels, model.info.code_stride)
        encoder_states = model.zero_encoder_states(*image.shape[2:])
        reconstruction = codec.Reconstruction(model, *pixels.shape[:2])
        for t in range(iterations):
            signs, encoder_states = model.encode_step(image - reconstruction.value, encoder_states)
            reconstruction.add(signs[0] > 0)
            for name, state in zip(names, [*encoder_states, *reconstruction.states]):
                collected[name][t].append(state[0])
    return {name: np.array(per_iteration) for name, per_iteration in collected.items()}


def _rows(states: np.ndarray, grid: int | None = None) -> np.ndarray:
    """(…, C, h, w) states as (rows, C), averaged over blocks down to ``grid`` rows of cells if given."""
    *lead, channels, height, width = states.shape
    if grid is not None and grid < height:
        factor = height // grid
        states = states.reshape(*lead, channels, grid, factor, width // factor, factor).mean(axis=(-3, -1))
    return np.moveaxis(states, -3, -1).reshape(-1, channels)


def _basis(states: np.ndarray, grid: int | None = None) -> np.ndarray:
    """The SVCCA basis of (at most ``MAX_ROWS``, the same for both models) rows of ``states``."""
    rows = _rows(states, grid)
    if rows.shape[0] > MAX_ROWS:
        keep = np.random.default_rng(0).choice(rows.shape[0], MAX_ROWS, replace=False)
        rows = rows[np.sort(keep)]
    return _top_directions(rows, VARIANCE_KEPT)


def same_layer(states_a: dict[str, np.ndarray], states_b: dict[str, np.ndarray]) -> dict[str, float]:
    """SVCCA of each layer of A with the same layer of B, all iterations, at the layer's own resolution."""
    return {
        name: _mean_correlation(_basis(states_a[name]), _basis(states_b[name]))
        for name in states_a
        if name in states_b
    }


def layer_matrix(states_a: dict[str, np.ndarray], states_b: dict[str, np.ndarray]) -> np.ndarray:
    """SVCCA of every layer of A with every layer of B, all iterations, states pooled to the coarsest grid."""
    grid = min(s.shape[-2] for s in [*states_a.values(), *states_b.values()])
    bases_a = [_basis(s, grid) for s in states_a.values()]
    bases_b = [_basis(s, grid) for s in states_b.values()]
    return np.array([[_mean_correlation(a, b) for b in bases_b] for a in bases_a])


def iteration_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """SVCCA of one layer's states at iteration i of A with iteration j of B, for every i and j."""
    bases_a = [_basis(states) for states in a]
    bases_b = [_basis(states) for states in b]
    return np.array([[_mean_correlation(x, y) for y in bases_b] for x in bases_a])
