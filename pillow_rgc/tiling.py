"""Tile geometry of format 3.0: where each tile's coded region lies and how neighbours blend.

A tiled picture is cut into a grid of *cores* of ``tile`` pixels; each tile
codes its core widened by ``overlap`` pixels on every side that has a
neighbour. Where two tiles meet, both are decoded over the band of
``2 * overlap`` pixels centred on the border and cross-faded with linear
integer weights, so the worst pixels of each tile (those at its own coded
edge) count for almost nothing and no seam shows.

Weights are integers in units of ``1 / (4 * overlap)`` per axis, so every
reader blends identically (spec: *Tiles*).
"""

from __future__ import annotations

import math

import numpy as np


def span(length: int, tile: int, overlap: int, index: int) -> tuple[int, int]:
    """(start, stop) of the coded region of tile ``index`` along one axis of ``length`` pixels."""
    return max(0, index * tile - overlap), min(length, (index + 1) * tile + overlap)


def spans(length: int, tile: int, overlap: int) -> list[tuple[int, int]]:
    """(start, stop) of the coded region of each tile along one axis of ``length`` pixels."""
    return [span(length, tile, overlap, index) for index in range(math.ceil(length / tile))]


def axis_weights(length: int, tile: int, overlap: int, index: int) -> np.ndarray:
    """Integer weights (units of 1 / (4 * overlap)) of tile ``index`` over its coded span on one axis.

    Across the border at ``b`` between tiles i - 1 and i, pixel ``x`` in
    ``[b - overlap, b + overlap)`` weighs ``2 * (x - b + overlap) + 1`` for
    tile i and the rest of ``4 * overlap`` for tile i - 1; elsewhere a tile
    weighs the whole ``4 * overlap``. The weights of all tiles sum to it everywhere.
    """
    start, stop = span(length, tile, overlap, index)
    full = 4 * overlap
    x = np.arange(start, stop)
    weights = np.full(stop - start, full, np.int64)
    if index > 0:  # rising across the border on the left
        border = index * tile
        inside = x < border + overlap
        weights[inside] = 2 * (x[inside] - border + overlap) + 1
    if (index + 1) * tile < length:  # falling across the border on the right
        border = (index + 1) * tile
        inside = x >= border - overlap
        weights[inside] = full - (2 * (x[inside] - border + overlap) + 1)
    return weights


def blend_denominator(overlap: int) -> int:
    """What the product of two axis weights is divided by (the weight of a pixel no other tile covers)."""
    return (4 * overlap) ** 2
