"""Silent cells (ITER codings 5 and 6): code cells that stop receiving bits once they look good enough.

Every 16x16 block of a photo costs an iteration about the same bits, flat or
busy (``benchmarks/bits_by_detail.py``), though a flat block reconstructed at
38 dB gains almost nothing from more. So a writer may silence cells: from an
iteration on, a silent cell sends no bits, its signs count as 0 wherever the
codings or the decoder network read them, and it stays silent in the later
iterations of a coding-5 or coding-6 run (spec: "Silent cells").

A bitplane with silent cells is a ``numpy.ma.MaskedArray`` of booleans whose
mask covers the silent cells in every channel and whose data there is False;
a bitplane without silent cells is a plain boolean array. Slicing off channels
(a partial iteration) keeps the mask, and the codings that predate silence
(0 and 1) read a silent cell's bits as False, its sign as -1.

An iteration's *stop map* says which of the cells that sent in the iteration
before stop now; this module codes it. Its probabilities are one logit per
context, the count of the cell's 4-neighbours already silent (0 to 4), sent
in front of the payload's words.
"""

from __future__ import annotations

import construct
import numpy as np

from .rans import BERNOULLI, LOGIT_LIMIT, ONE, P_ONE_ALL, probabilities

STOP_CONTEXTS = 5
"""Contexts of a stop bit: how many of the cell's 4-neighbours were silent in the iteration before."""

STOP_LOGITS = construct.Array(STOP_CONTEXTS, construct.Int8sb)
"""In front of a coding-5 payload's words (after a coding-6 payload's first byte): each context's logit."""

_COST_STOP = -np.log2(P_ONE_ALL / ONE)
_COST_GO = -np.log2(1 - P_ONE_ALL / ONE)


def silenced(bits: np.ndarray, silent: np.ndarray) -> np.ndarray:
    """``bits`` (channels, rows, columns) with the ``silent`` (rows, columns) cells silent: a masked
    array whose data is False there, or ``bits`` itself when no cell is silent."""
    silent = np.asarray(silent, bool)
    if not silent.any():
        return bits
    data = np.array(np.ma.getdata(bits), bool)
    data[:, silent] = False
    return np.ma.MaskedArray(data, np.broadcast_to(silent, data.shape).copy())


def silent_cells(bits: np.ndarray | None, shape: tuple[int, int] | None = None) -> np.ndarray:
    """(rows, columns): True for the cells silent in ``bits`` (none for a plain array or for None, which
    then needs ``shape``)."""
    if bits is None:
        return np.zeros(shape, bool)
    mask = np.ma.getmaskarray(bits)
    return mask[0] if len(mask) else np.zeros(bits.shape[1:], bool)


def is_silenced(bits: np.ndarray) -> bool:
    return np.ma.is_masked(bits)


def signs_of(bits: np.ndarray, dtype=np.float64) -> np.ndarray:
    """+1 and -1 for the bits, 0 for the silent cells (any leading axes)."""
    signs = np.asarray(np.ma.getdata(bits), dtype) * 2.0 - 1.0
    if np.ma.is_masked(bits):
        signs[np.ma.getmaskarray(bits)] = 0
    return signs


def stop_contexts(before: np.ndarray) -> np.ndarray:
    """(rows, columns): each cell's count of 4-neighbours silent in the iteration before (``before``)."""
    padded = np.pad(before, 1).astype(np.int8)
    return padded[:-2, 1:-1] + padded[2:, 1:-1] + padded[1:-1, :-2] + padded[1:-1, 2:]


def stop_order(before: np.ndarray) -> list[np.ndarray]:
    """Per context 0 .. 4, the row-major indices of the cells sending before with that context: the order
    in which the stop map is coded."""
    contexts = stop_contexts(before).ravel()
    sending = ~before.ravel()
    return [np.flatnonzero(sending & (contexts == k)) for k in range(STOP_CONTEXTS)]


def best_logits(stops: np.ndarray, before: np.ndarray) -> list[int]:
    """The logit of each context that codes the stop map in the fewest bits (clamped table values)."""
    logits = []
    for cells in stop_order(before):
        count = int(stops.ravel()[cells].sum())
        cost = count * _COST_STOP + (len(cells) - count) * _COST_GO
        logits.append(int(np.argmin(cost)) - LOGIT_LIMIT)
    return logits


def map_symbols(stops: np.ndarray, before: np.ndarray, logits: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """The stop map's bits (1 = stops) in coding order, and the logit of each."""
    order = stop_order(before)
    symbols = np.concatenate([stops.ravel()[cells] for cells in order])
    return symbols, np.concatenate([np.full(len(cells), logit) for cells, logit in zip(order, logits)])


def decode_map(coder, before: np.ndarray, logits: list[int]) -> np.ndarray:
    """(rows, columns): the cells a stop map decoded from ``coder`` stops, in its order and logits."""
    stops = np.zeros(before.size, bool)
    for cells, logit in zip(stop_order(before), logits):
        if len(cells):
            stops[cells] = coder.decode(BERNOULLI, probabilities(np.full(len(cells), logit)))
    return stops.reshape(before.shape)


def writer_rule(source: np.ndarray, stride: int, stop_psnr: float):
    """The reference writer's silence for ``codec.encode_pixels``: from the second iteration on, the cells
    silent before stay silent and those whose picture so far reaches ``stop_psnr`` dB fall silent."""

    def silence(bits: np.ndarray, earlier: list[np.ndarray], reconstruction) -> np.ndarray:
        if not earlier:
            return bits
        reached = cells_reaching(source, reconstruction.pixels(), stride, stop_psnr)
        return silenced(bits, silent_cells(earlier[-1]) | reached)

    return silence


def cells_reaching(source: np.ndarray, picture: np.ndarray, stride: int, psnr: float) -> np.ndarray:
    """(rows, columns): the code cells whose 8-bit ``picture`` has reached ``psnr`` dB against ``source``
    (H,W,3 uint8 each), the mean squared error over the cell's pixels inside the picture: the
    reference writer's rule for silencing them."""
    height, width = source.shape[:2]
    rows, columns = -(-height // stride), -(-width // stride)
    error = np.zeros((rows * stride, columns * stride))
    count = np.zeros_like(error)
    difference = source.astype(np.float64) - picture
    error[:height, :width] = np.mean(difference * difference, axis=2)
    count[:height, :width] = 1
    cells = (rows, stride, columns, stride)
    mse = error.reshape(cells).sum(axis=(1, 3)) / count.reshape(cells).sum(axis=(1, 3))
    return mse <= 255.0**2 * 10 ** (-psnr / 10)
