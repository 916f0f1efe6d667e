"""Bitplanes <-> ``ITER`` payloads: coding 0 (raw bits), coding 1 (context-modelled ANS) and the choice.

The writer stores each whole iteration with whichever of coding 0, coding 1 and,
when the model has a context prior, coding 3 (``prior_coding.py``) gives the
smallest payload; coding 4 (the same as coding 3, in segments of channels)
stores a partial last iteration, or every iteration of a segmented file.
A bitplane with silent cells (``silence.py``) has codings 5 and 6 instead of
3 and 4, and no other.

Coding 0 packs the bits as they are (spec: "Raw payload"). Coding 1 (format
2.0, spec: "Context-coded payload") codes them with an ANS coder whose
probabilities come from a small model that the encoder fits to each iteration
of each file and sends in front of the coded bits (two passes, static per
iteration), so it adapts to every file and to every model without assuming
anything about their statistics:

* the logit of the bit of channel ``c`` at a cell is
  ``T[k] + a[c] + sum_j w[c][j] * s_j``, in units of 1/8 nat, where ``k`` is a
  context shared by all channels (the lattice phase of the cell, the sum of its
  already-decoded 4-neighbours in the same channel, and the channel's bit at
  the same cell in the previous iteration), ``a[c]`` a per-channel bias, and
  ``s_j`` = +-1 the bit at the same cell of a *parent*: another channel of this
  iteration (a Chow-Liu tree over the channels plus extra parents, so the
  graph is acyclic) or any channel of the previous iteration;
* the logit is clamped to +-96 and mapped to a 24-bit probability by a fixed
  table of integers (``P_ONE``): the decoder's probabilities involve no float,
  so every machine decodes the same bits, whatever the networks compute;
* the bits are coded in a fixed order: the 4 phases of a 2x2 lattice, then the
  channels by their depth in the parent graph, then row-major. The bits of one
  (phase, depth) group depend only on earlier groups, so the decoder handles a
  group in one vectorised step and one call of ``constriction``'s ``AnsCoder``
  (rANS, 32-bit words, 64-bit state, 24-bit probabilities), whose arithmetic
  the spec gives in full.

A payload depends only on the bits of the earlier iterations (the previous one),
never on their payloads, so every complete iteration of a cut file decodes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import prior_coding
from .prior_coding import ContextPrior
from .rans import (
    BERNOULLI,
    LOGIT_LIMIT,
    ONE,
    P_ONE_ALL,
    PayloadError,
    check_used_up,
    coded_words,
    decoder,
    encode_words,
    phases,
    probabilities,
    view,
)
from .silence import is_silenced

RAW = 0
CONTEXT = 1
PRIOR = 3
SEGMENTED = 4
SILENT = 5
SILENT_SEGMENTED = 6
CODINGS = (RAW, CONTEXT, PRIOR, SEGMENTED, SILENT, SILENT_SEGMENTED)
PRIOR_CODINGS = (PRIOR, SEGMENTED, SILENT, SILENT_SEGMENTED)
"""The codings that need the model's context prior."""
SEGMENTED_CODINGS = (SEGMENTED, SILENT_SEGMENTED)
"""The codings whose payload may stop after any segment."""
SILENT_CODINGS = (SILENT, SILENT_SEGMENTED)
"""The codings of a bitplane with silent cells."""

PARTIAL_SEGMENTS = 8
"""Most segments per iteration in this writer's coding-4 payloads (eight when 8 divides the channels)."""

LAST_SEGMENTS = 16
"""Most segments of the iteration that ends a picture, which the rate control cuts: finer than
``PARTIAL_SEGMENTS``, so that it stops closer to a quality target. With 32 channels that made
``rgc-lean-6``'s files at quality 0.95 0.9 % smaller on val; a segment's framing costs about 8 bytes."""

PHASE_OFFSET = (0, 3, 8, 15)
"""Context of a phase's cells: PHASE_OFFSET[phase] + the sum of the known 4-neighbours."""

PLANE_CONTEXTS = 20
"""Contexts from the phase and the neighbours; after the first iteration, + 20 if the previous bit was +1."""

MAX_PARAMETER = (1 << 15) - 1
"""Largest magnitude of a model parameter in a payload."""

MAX_PARENTS = 3
"""Parents in this iteration per channel that this encoder considers (the format allows more)."""

MAX_PREVIOUS_PARENTS = 2
"""Parents in the previous iteration per channel that this encoder considers."""

MAX_DEPTH = 16
"""Depth levels of the parent graph this encoder makes at most: the decoder runs 4 x depth groups."""

PRUNE_ROUNDS = 2
"""Rounds of fitting and dropping the parents that do not pay for themselves."""

MIN_BITS = 64
"""Bitplanes smaller than this are always stored raw: the model would outweigh them."""


# --- probabilities -----------------------------------------------------------

_COST_ONE = -np.log2(P_ONE_ALL / ONE)  # encoder only: bits to code +1 / -1 at each logit
_COST_ZERO = -np.log2(1 - P_ONE_ALL / ONE)


def _clamped(logits: np.ndarray) -> np.ndarray:
    return np.clip(logits, -LOGIT_LIMIT, LOGIT_LIMIT) + LOGIT_LIMIT


# --- the model and its bit-packed parameters ---------------------------------


@dataclass
class _Model:
    """The parameters of one coding-1 payload; logits in units of 1/8 nat.

    Parent ``j < channels`` is channel ``j`` of this iteration, ``j >=
    channels`` channel ``j - channels`` of the previous one.
    """

    table: np.ndarray  # T[k]
    bias: np.ndarray  # a[c]
    parents: list[list[int]]
    weights: list[list[int]]

    def levels(self) -> np.ndarray:
        """Depth of every channel among this iteration's parents: 0 without any, else 1 + the deepest's."""
        levels = _levels([[j for j in p if j < len(self.bias)] for p in self.parents])
        if levels is None:
            raise PayloadError("the parents in this iteration form a cycle")
        return levels


def _levels(parents: list[list[int]]) -> np.ndarray | None:
    """Depth of every node of a graph given by each node's parents (Kahn's order), or None on a cycle."""
    count = len(parents)
    children: list[list[int]] = [[] for _ in range(count)]
    waiting = [len(p) for p in parents]
    for c, chosen in enumerate(parents):
        for parent in chosen:
            children[parent].append(c)
    levels = [0] * count
    ready = [c for c in range(count) if not waiting[c]]
    done = 0
    while ready:
        c = ready.pop()
        done += 1
        for child in children[c]:
            levels[child] = max(levels[child], levels[c] + 1)
            waiting[child] -= 1
            if not waiting[child]:
                ready.append(child)
    return np.array(levels) if done == count else None


def _index_width(sources: int) -> int:
    """Bits of a parent index: enough for 0 .. sources - 1."""
    return (sources - 1).bit_length()


def _ue_bits(value: int) -> int:
    return 2 * (value + 1).bit_length() - 1


def _se_bits(value: int) -> int:
    return _ue_bits(2 * value - 1 if value > 0 else -2 * value)


class _BitWriter:
    def __init__(self) -> None:
        self.parts: list[str] = []

    def u(self, value: int, width: int) -> None:
        if width:
            self.parts.append(format(value, f"0{width}b"))

    def ue(self, value: int) -> None:
        code = value + 1
        self.parts.append("0" * (code.bit_length() - 1) + format(code, "b"))

    def se(self, value: int) -> None:
        self.ue(2 * value - 1 if value > 0 else -2 * value)

    def tobytes(self) -> bytes:
        text = "".join(self.parts)
        text += "0" * (-len(text) % 8)
        return int(text, 2).to_bytes(len(text) // 8, "big") if text else b""


class _BitReader:
    """Reads the parameters MSB first; turns the payload into a bit string 1 KB at a time."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.text = ""
        self.position = 0

    def _need(self, count: int) -> None:
        while self.position + count > len(self.text):
            start = len(self.text) // 8
            if start >= len(self.data):
                raise PayloadError("the payload ends inside the model parameters")
            chunk = self.data[start : start + 1024]
            self.text += format(int.from_bytes(chunk, "big"), f"0{8 * len(chunk)}b")

    def u(self, width: int) -> int:
        if not width:
            return 0
        self._need(width)
        self.position += width
        return int(self.text[self.position - width : self.position], 2)

    def ue(self) -> int:
        while (one := self.text.find("1", self.position)) < 0 and len(self.text) - self.position <= 16:
            self._need(len(self.text) - self.position + 1)
        if one < 0 or one - self.position > 16:
            raise PayloadError("a parameter code longer than 33 bits")
        zeros = one - self.position
        self.position = one
        return self.u(zeros + 1) - 1

    def se(self) -> int:
        code = self.ue()
        value = (code + 1) // 2 if code & 1 else -(code // 2)
        if abs(value) > MAX_PARAMETER:
            raise PayloadError(f"parameter {value} outside +-{MAX_PARAMETER}")
        return value

    def end(self) -> int:
        """Byte offset after the parameters: the rest of the last byte is padding."""
        return -(-self.position // 8)


def _write_model(model: _Model, sources: int) -> bytes:
    out = _BitWriter()
    for value in model.table:
        out.se(int(value))
    width = _index_width(sources)
    for c, bias in enumerate(model.bias):
        out.se(int(bias))
        out.ue(len(model.parents[c]))
        for parent, weight in zip(model.parents[c], model.weights[c]):
            out.u(parent, width)
            out.se(weight)
    return out.tobytes()


def _read_model(payload: bytes, channels: int, first: bool) -> tuple[_Model, int]:
    """The parameters at the start of a payload, and the byte offset of the coded words after them."""
    reader = _BitReader(payload)
    table = np.array([reader.se() for _ in range(_contexts(first))], np.int64)
    sources = channels if first else 2 * channels
    width = _index_width(sources)
    bias = np.zeros(channels, np.int64)
    parents: list[list[int]] = []
    weights: list[list[int]] = []
    for c in range(channels):
        bias[c] = reader.se()
        count = reader.ue()
        if count > sources - 1:
            raise PayloadError(f"channel {c} has {count} parents, more than there are other planes")
        parents.append([])
        weights.append([])
        for _ in range(count):
            parent = reader.u(width)
            if parent >= sources or parent == c or parent in parents[c]:
                raise PayloadError(f"channel {c}: parent {parent} is out of range, itself or repeated")
            parents[c].append(parent)
            weights[c].append(reader.se())
    model = _Model(table, bias, parents, weights)
    model.levels()
    return model, reader.end()


# --- geometry ----------------------------------------------------------------


def _contexts(first: bool) -> int:
    return PLANE_CONTEXTS if first else 2 * PLANE_CONTEXTS


_NEIGHBOURS = ((-1, 0), (1, 0), (0, -1), (0, 1))


# --- encoding ----------------------------------------------------------------


def encode_bitplane(
    bits: np.ndarray, earlier: list[np.ndarray], prior: ContextPrior | None = None
) -> tuple[int, bytes]:
    """(coding, payload) of one bitplane; ``earlier`` are the bitplanes of the previous iterations.

    The smallest of coding 0, coding 1 and, with the model's context ``prior``,
    coding 3; on a tie the lower coding (cheaper to decode).
    """
    return _smallest(bitplane_candidates(bits, earlier, prior))


def bitplane_candidates(
    bits: np.ndarray, earlier: list[np.ndarray], prior: ContextPrior | None = None, context: bool = True
) -> dict[int, bytes]:
    """The payload of each coding tried for a bitplane, by coding: 0, 1 (unless ``context`` is False)
    and, with the model's context ``prior``, 3; for one with silent cells, only 5."""
    if is_silenced(bits):
        if prior is None or prior.channels != bits.shape[0]:
            raise ValueError("silent cells need coding 5, and so a model with a context prior")
        return {SILENT: prior_coding.encode_prior(bits, earlier, prior)}
    bits = np.asarray(bits, bool)
    candidates = {RAW: np.packbits(bits.ravel()).tobytes()}
    if bits.size >= MIN_BITS:
        if context:
            candidates[CONTEXT] = encode_context(bits, earlier)
        if prior is not None and prior.channels == bits.shape[0]:
            candidates[PRIOR] = prior_coding.encode_prior(bits, earlier, prior)
    return candidates


def _smallest(candidates: dict[int, bytes]) -> tuple[int, bytes]:
    return min(sorted(candidates.items()), key=lambda candidate: len(candidate[1]))


class CodingChoice:
    """The codings of one picture's bitplanes, in turn: coding 1 is tried only while it may win.

    With a context prior, coding 3 was smaller than coding 1 on 199 of 200 val bitplanes
    (`rgc-fast-2` and `rgc-oneshot-1`, every iteration of the 10 photos; the one exception by 0.5 %),
    and fitting coding 1 took 19 ms of each iteration of a 768x512 encode. On flat or drawn
    pictures coding 1 wins, up to 15x smaller on a flat one, and a picture's coding ratio moves
    slowly from one iteration to the next. So once coding 3 is smaller than ``CONTEXT_MARGIN`` of
    coding 1, the picture's later bitplanes skip coding 1.
    """

    CONTEXT_MARGIN = 0.97

    def __init__(self, prior: ContextPrior | None):
        self.prior = prior
        self.context = True
        self._last: tuple[np.ndarray, tuple[int, bytes]] | None = None

    def encode(self, bits: np.ndarray, earlier: list[np.ndarray]) -> tuple[int, bytes]:
        """(coding, payload) of the picture's next bitplane, as :func:`encode_bitplane` chooses among
        the codings tried; asked again for the same ``bits`` (object), the same answer, not coded again."""
        if self._last is not None and self._last[0] is bits:
            return self._last[1]
        candidates = bitplane_candidates(bits, earlier, self.prior, self.context)
        if CONTEXT in candidates and PRIOR in candidates:
            self.context = len(candidates[PRIOR]) > self.CONTEXT_MARGIN * len(candidates[CONTEXT])
        self._last = bits, _smallest(candidates)
        return self._last[1]


def segment_size(channels: int, segments: int) -> int:
    """Channels per segment of this writer's coding-4 payloads of at most ``segments`` segments
    (``PARTIAL_SEGMENTS`` for whole iterations, ``LAST_SEGMENTS`` for the one that ends a picture)."""
    return -(-channels // segments)


def segment_count(channels: int, segments: int) -> int:
    """Segments of this writer's coding-4 payload of a whole iteration (see :func:`segment_size`)."""
    return prior_coding.segment_count(channels, segment_size(channels, segments))


def segmented_coding(bits: np.ndarray) -> int:
    """The coding of :func:`encode_segmented`'s payloads of ``bits``: 4, or 6 with silent cells."""
    return SILENT_SEGMENTED if is_silenced(bits) else SEGMENTED


def encode_segmented(
    bits: np.ndarray, earlier: list[np.ndarray], prior: ContextPrior, segments: int
) -> list[bytes]:
    """The :func:`segmented_coding` payloads of ``bits`` that end after its 1st, 2nd ... last segment
    (this writer's segments: :func:`segment_size` channels each); the last holds the whole iteration."""
    return prior_coding.encode_segmented(bits, earlier, prior, segment_size(len(bits), segments))


def encode_context(bits: np.ndarray, earlier: list[np.ndarray]) -> bytes:
    """The coding-1 payload of a bitplane, whatever its size (``encode_bitplane`` picks the smaller)."""
    bits = np.asarray(bits, bool)
    previous = np.asarray(earlier[-1], bool) if earlier else None
    channels, rows, columns = bits.shape
    signs = np.where(bits, 1, -1).astype(np.int8)
    phase_of = (np.arange(rows)[:, None] & 1) * 2 + (np.arange(columns)[None, :] & 1)
    sources = bits if previous is None else np.concatenate([bits, previous])
    # every cell's context, and the bits of all planes, phase after phase: (planes, cells)
    contexts, cells = [], []
    for phase, dy, dx, count_y, count_x in phases(rows, columns):
        known = np.pad(signs * (phase_of < phase), ((0, 0), (1, 1), (1, 1)))
        near = sum(known[(slice(None), *view(dy, dx, count_y, count_x, oy, ox))] for oy, ox in _NEIGHBOURS)
        k = PHASE_OFFSET[phase] + near.astype(np.int64)
        if previous is not None:
            k += PLANE_CONTEXTS * previous[:, dy::2, dx::2]
        contexts.append(k.reshape(channels, -1))
        cells.append(sources[:, dy::2, dx::2].reshape(len(sources), -1))
    k = np.concatenate(contexts, axis=1)
    planes = np.concatenate(cells, axis=1)
    model = _fit(k, planes, _contexts(previous is None))

    logits = model.table[k] + model.bias[:, None]
    plane_signs = planes.astype(np.int64) * 2 - 1
    for c, (parents, weights) in enumerate(zip(model.parents, model.weights)):
        for parent, weight in zip(parents, weights):
            logits[c] += weight * plane_signs[parent]
    # the coding order: phase, then channels by (depth, index), then row-major
    order = np.lexsort((np.arange(channels), model.levels()))
    starts = np.cumsum([0] + [part.shape[1] for part in contexts])
    phase_parts = [np.s_[order, start:end] for start, end in zip(starts[:-1], starts[1:])]
    symbols = np.concatenate([planes[part].ravel() for part in phase_parts])
    logits_in_order = np.concatenate([logits[part].ravel() for part in phase_parts])
    return _write_model(model, len(sources)) + encode_words(symbols, logits_in_order)


# --- fitting (encoder only: any parameters decode; these are merely good ones) --


def _mutual_information(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Mutual information (bits) between every row of ``a`` and every row of ``b`` (boolean, same cells).

    The joint counts come from popcounts of packed bits: exact, and no BLAS
    call, whose threads fight over a busy machine.
    """
    n = a.shape[1]
    packed_a, packed_b = np.packbits(a, axis=1), np.packbits(b, axis=1)
    n11 = np.stack([np.bitwise_count(row & packed_b).sum(axis=1, dtype=np.int64) for row in packed_a])
    ones_a, ones_b = a.sum(axis=1)[:, None], b.sum(axis=1)[None, :]
    joint = np.stack([n - ones_a - ones_b + n11, ones_b - n11, ones_a - n11, n11]) / n  # 00 01 10 11
    pa, pb = ones_a / n, ones_b / n
    marginal = np.stack([(1 - pa) * (1 - pb), (1 - pa) * pb, pa * (1 - pb), pa * pb])
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(joint > 0, joint * np.log2(joint / marginal), 0.0)
    return np.nan_to_num(terms.sum(axis=0))


def _choose_parents(planes: np.ndarray, channels: int) -> list[list[int]]:
    """Candidate parents: a Chow-Liu tree in this iteration plus extra parents, and previous-iteration ones.

    The tree (maximum spanning tree by mutual information) is grown as Prim's
    algorithm does from the channel whose best partner helps least, only from
    channels less than MAX_DEPTH - 1 deep; extra parents come from shallower
    channels, so the graph stays acyclic and no deeper. From the previous
    iteration (planes ``channels`` on), the channels that tell most about a
    channel, besides its own previous bit (already in the context).
    """
    current = planes[:channels]
    parents: list[list[int]] = [[] for _ in range(channels)]
    if channels > 1:
        mi = _mutual_information(current, current)
        np.fill_diagonal(mi, -1.0)
        level = np.full(channels, -1)
        root = int(np.argmin(mi.max(axis=1)))
        level[root] = 0
        order = [root]
        for _ in range(channels - 1):
            open_ = (level >= 0) & (level < MAX_DEPTH - 1)
            score = np.where((level < 0)[:, None] & open_[None, :], mi, -np.inf)
            c, j = np.unravel_index(int(np.argmax(score)), score.shape)
            parents[c].append(int(j))
            level[c] = level[j] + 1
            order.append(int(c))
        for c in order[1:]:
            shallower = [j for j in order if level[j] < level[c] and j not in parents[c]]
            shallower.sort(key=lambda j: -mi[c, j])
            parents[c].extend(shallower[: MAX_PARENTS - 1])
    if len(planes) > channels:
        mi = _mutual_information(current, planes[channels:])
        np.fill_diagonal(mi, -1.0)
        best = np.argsort(-mi, axis=1, kind="stable")[:, :MAX_PREVIOUS_PARENTS]
        for c in range(channels):
            parents[c].extend(channels + int(j) for j in best[c])
    return parents


def _fit(k: np.ndarray, planes: np.ndarray, contexts: int) -> _Model:
    """Good parameters for the bits ``planes[:channels]`` in contexts ``k``; the other planes are parents."""
    channels = k.shape[0]
    parents = _choose_parents(planes, channels)
    start = None
    for _ in range(PRUNE_ROUNDS):
        cells = _Cells(k, planes, contexts, parents)
        fitted = _fit_float(cells, parents, start)
        model = _quantize(*fitted, parents)
        kept = _prune(model, cells, len(planes))
        if kept == parents:
            return model
        table, bias, weights = fitted  # warm start: the kept parents keep their weights
        start = (
            table,
            bias,
            [[weights[c][parents[c].index(j)] for j in chosen] for c, chosen in enumerate(kept)],
        )
        parents = kept
    cells = _Cells(k, planes, contexts, parents)
    return _quantize(*_fit_float(cells, parents, start), parents)


class _Cells:
    """The cells that occur, by channel, context and pattern of the parents' bits, with their bit counts.

    ``patterns`` is the (2**P, 1 + P) matrix of [1, parent signs] of every
    pattern, P the most parents of a channel.
    """

    def __init__(self, k: np.ndarray, planes: np.ndarray, contexts: int, parents: list[list[int]]):
        channels = k.shape[0]
        most = max((len(p) for p in parents), default=0)
        pattern = np.zeros(k.shape, np.int64)
        for c, chosen in enumerate(parents):
            for j, parent in enumerate(chosen):
                pattern[c] |= planes[parent].astype(np.int64) << j
        index = ((np.arange(channels)[:, None] * contexts + k) << most | pattern) * 2 + planes[:channels]
        counts = np.bincount(index.ravel(), minlength=channels * (contexts << most) * 2).reshape(-1, 2)
        cell = np.flatnonzero(counts.sum(axis=1))
        self.zeros, self.ones = counts[cell, 0].astype(np.float64), counts[cell, 1].astype(np.float64)
        self.total = self.zeros + self.ones
        self.pattern = cell & ((1 << most) - 1)
        self.context = (cell >> most) % contexts
        self.channel = (cell >> most) // contexts
        self.channels, self.contexts, self.most = channels, contexts, most
        signs = ((np.arange(1 << most)[:, None] >> np.arange(most)[None, :]) & 1) * 2.0 - 1.0
        self.patterns = np.concatenate([np.ones((1 << most, 1)), signs], axis=1)

    def by_channel_and_pattern(self, values: np.ndarray) -> np.ndarray:
        """Sums of per-cell ``values`` by (channel, pattern)."""
        size = 1 << self.most
        sums = np.bincount(self.channel * size + self.pattern, values, minlength=self.channels * size)
        return sums.reshape(self.channels, size)


def _fit_float(cells: _Cells, parents, start=None, ridge=0.05):
    """Maximum-likelihood T, a, w (in nat, lightly regularised) by alternating Newton steps on the cells."""
    size = cells.patterns.shape[1]
    mask = np.zeros((cells.channels, size))
    for c, chosen in enumerate(parents):
        mask[c, : 1 + len(chosen)] = 1.0
    theta = np.zeros((cells.channels, size))  # a, w...
    table = np.zeros(cells.contexts)
    if start is not None:  # a previous fit: T, a and the weights of each channel's parents
        table, theta[:, 0] = start[0].copy(), start[1]
        for c, weights in enumerate(start[2]):
            theta[c, 1 : 1 + len(weights)] = weights
    rounds = 12 if start is None else 6

    def residuals():
        by_pattern = np.einsum("cj,sj->cs", theta, cells.patterns)
        p = 1.0 / (1.0 + np.exp(-(table[cells.context] + by_pattern[cells.channel, cells.pattern])))
        return cells.total * p - cells.ones, cells.total * p * (1 - p)

    eye = np.eye(size)
    for _ in range(rounds):
        residual, weight = residuals()
        residual, weight = cells.by_channel_and_pattern(residual), cells.by_channel_and_pattern(weight)
        gradient = (np.einsum("cs,sj->cj", residual, cells.patterns) + ridge * theta) * mask
        hessian = np.einsum("cs,si,sj->cij", weight, cells.patterns, cells.patterns) + ridge * eye
        hessian = hessian * mask[:, :, None] * mask[:, None, :] + eye * (1 - mask[:, :, None])
        step = np.linalg.solve(hessian, gradient[..., None])[..., 0]
        theta = np.clip(theta - step * _damping(np.abs(step).max(axis=1, keepdims=True)), -12, 12)
        residual, weight = residuals()
        residual = np.bincount(cells.context, residual, minlength=cells.contexts)
        weight = np.bincount(cells.context, weight, minlength=cells.contexts)
        step = (residual + ridge * table) / (weight + ridge)
        table = np.clip(table - step * _damping(np.abs(step)), -12, 12)
    return table, theta[:, 0], theta[:, 1:]


def _damping(size: np.ndarray) -> np.ndarray:
    """Shrinks Newton steps to at most 2 nat: near-certain bits flatten the curvature and steps overshoot."""
    return np.minimum(1.0, 2.0 / np.maximum(size, 1e-12))


def _quantize(table, bias, weights, parents) -> _Model:
    def q(values):
        return np.clip(np.rint(np.asarray(values) * 8), -MAX_PARAMETER, MAX_PARAMETER).astype(np.int64)

    quantized = q(weights)
    return _Model(
        q(table),
        q(bias),
        [list(chosen) for chosen in parents],
        [[int(quantized[c, j]) for j in range(len(chosen))] for c, chosen in enumerate(parents)],
    )


def _prune(model: _Model, cells: _Cells, sources: int) -> list[list[int]]:
    """The parents that save more bits than they take in the payload (index and weight)."""
    most = cells.most
    weights = np.zeros((cells.channels, most), np.int64)
    for c, chosen in enumerate(model.weights):
        weights[c, : len(chosen)] = chosen
    signs = cells.patterns[:, 1:].astype(np.int64)
    terms = weights[:, None, :] * signs[None, :, :]  # (channels, 2**P, P): each parent's part of the logit
    full = terms.sum(axis=2)
    # every cell's logit with all its parents, then without parent j: (cells, 1 + P)
    variants = np.concatenate([full[:, :, None], full[:, :, None] - terms], axis=2)
    base = model.table[cells.context] + model.bias[cells.channel]
    index = _clamped(base[:, None] + variants[cells.channel, cells.pattern])
    cost = cells.ones[:, None] * _COST_ONE[index] + cells.zeros[:, None] * _COST_ZERO[index]
    per_channel = np.stack(
        [np.bincount(cells.channel, cost[:, j], minlength=cells.channels) for j in range(1 + most)], axis=1
    )
    saving = per_channel[:, 1:] - per_channel[:, :1]
    width = _index_width(sources)
    return [
        [parent for j, parent in enumerate(chosen) if saving[c, j] > width + _se_bits(int(weights[c, j]))]
        for c, chosen in enumerate(model.parents)
    ]


# --- decoding ----------------------------------------------------------------


def payload_problem(coding: int, payload: bytes, shape: tuple[int, int, int], index: int) -> str | None:
    """What is wrong with an ``ITER`` payload that shows without decoding it, or None.

    ``index`` is the iteration's index (the first iteration has fewer contexts).
    """
    if coding == RAW:
        expected = -(-shape[0] * shape[1] * shape[2] // 8)
        return None if len(payload) == expected else f"payload of {len(payload)} bytes, expected {expected}"
    if coding in PRIOR_CODINGS:
        return prior_coding.payload_problem(
            payload, shape[0], coding in SEGMENTED_CODINGS, coding in SILENT_CODINGS
        )
    if coding != CONTEXT:
        return f"unsupported coding {coding}"
    try:
        _split(payload, shape, index == 0)
    except PayloadError as error:
        return f"coding 1 payload: {error}"
    return None


def whole_segments(coding: int, payload: bytes, channels: int) -> bytes:
    """The complete segments at the start of a cut coding-4 or coding-6 payload, as a payload (b"" for
    none, or for another coding)."""
    if coding not in SEGMENTED_CODINGS:
        return b""
    return prior_coding.whole_segments(payload, channels, coding in SILENT_CODINGS)


def known_channels(coding: int, payload: bytes, channels: int) -> int:
    """Channels of its iteration that a (checked) payload holds: all but in a partial coding-4 (6) one."""
    if coding not in SEGMENTED_CODINGS:
        return channels
    return prior_coding.known_channels(payload, channels, coding in SILENT_CODINGS)


def _split(payload: bytes, shape, first: bool) -> tuple[_Model, np.ndarray]:
    """The model and the coded words of a coding-1 payload, checked as far as that goes without decoding."""
    model, start = _read_model(payload, shape[0], first)
    return model, coded_words(payload[start:])


def decode_bitplane(
    coding: int,
    payload: bytes,
    shape: tuple[int, int, int],
    earlier: list[np.ndarray],
    prior: ContextPrior | None = None,
) -> np.ndarray:
    """The bitplane (boolean, True for +1) of one ``ITER`` payload; ``earlier`` and ``prior`` as in
    ``encode_bitplane`` (codings 3 and 4 need the prior of the model that wrote the file).

    A partial coding-4 (6) payload gives only its first channels: a shorter array. Codings 5 and 6 give
    a masked array when cells are silent (``silence.py``).
    """
    shape = tuple(int(n) for n in shape)
    if coding == RAW:
        count = shape[0] * shape[1] * shape[2]
        if len(payload) != -(-count // 8):
            raise PayloadError(f"raw payload of {len(payload)} bytes for {count} bits")
        return np.unpackbits(np.frombuffer(payload, np.uint8), count=count).reshape(shape).astype(bool)
    if any(np.shape(plane) != shape for plane in earlier[-1:]):
        raise ValueError(f"the previous bitplane has shape {np.shape(earlier[-1])}, not {shape}")
    if coding in PRIOR_CODINGS:
        if prior is None:
            raise PayloadError(
                f"coding {coding} needs a model with a context prior, and the file's model has none"
            )
        silent = coding in SILENT_CODINGS
        if coding in SEGMENTED_CODINGS:
            return prior_coding.decode_segmented(payload, shape, earlier, prior, silent)
        return prior_coding.decode_prior(payload, shape, earlier, prior, silent)
    if coding != CONTEXT:
        raise PayloadError(f"unsupported ITER coding {coding}")
    previous = np.asarray(earlier[-1], bool) if earlier else None
    return _decode_context(payload, shape, previous)


def _decode_context(payload: bytes, shape, previous: np.ndarray | None) -> np.ndarray:
    channels, rows, columns = shape
    model, words = _split(payload, shape, previous is None)
    levels = model.levels()
    # logits fit in int32: |T|, |a|, |w| <= 2**15 - 1 and at most 2 * 255 parents
    table, bias = model.table.astype(np.int32), model.bias.astype(np.int32)[:, None, None]
    pairs = [list(zip(p, w)) for p, w in zip(model.parents, model.weights)]
    # parents in the previous iteration: (channel, parent, weight) arrays, added once per phase
    earlier = np.array([(c, j - channels, w) for c in range(channels) for j, w in pairs[c] if j >= channels])
    # parents in this iteration, per depth level: index tables (index `channels`: a plane of zeros)
    groups = []
    for level in range(int(levels.max()) + 1):
        chosen = np.flatnonzero(levels == level)
        current = [[(j, w) for j, w in pairs[c] if j < channels] for c in chosen]
        most = max(len(p) for p in current)
        parent_index = np.full((len(chosen), most), channels, np.intp)
        weights = np.zeros((len(chosen), most, 1, 1), np.int32)
        for row, chosen_pairs in enumerate(current):
            for j, (parent, weight) in enumerate(chosen_pairs):
                parent_index[row, j], weights[row, j] = parent, weight
        groups.append((chosen, parent_index, weights))
    previous_signs = None if previous is None else previous.astype(np.int32) * 2 - 1
    plane = np.zeros((channels, rows + 2, columns + 2), np.int8)  # signs so far, 0 = not decoded (yet)
    coder = decoder(words)
    for phase, dy, dx, count_y, count_x in phases(rows, columns):
        # all but this iteration's parents is known before the phase starts: do it for all channels at once
        near = [plane[(slice(None), *view(dy, dx, count_y, count_x, oy, ox))] for oy, ox in _NEIGHBOURS]
        k = near[0].astype(np.int32) + near[1] + near[2] + near[3] + PHASE_OFFSET[phase]
        if previous is not None:
            k += PLANE_CONTEXTS * previous[:, dy::2, dx::2]
        base = table[k] + bias
        if len(earlier):
            before = previous_signs[:, dy::2, dx::2]
            np.add.at(base, earlier[:, 0], earlier[:, 2, None, None].astype(np.int32) * before[earlier[:, 1]])
        signs = np.zeros((channels + 1, count_y, count_x), np.int32)
        for chosen, parent_index, weights in groups:
            logits = base[chosen]
            if parent_index.shape[1]:
                logits += (signs[parent_index] * weights).sum(axis=1, dtype=np.int32)
            decoded = coder.decode(BERNOULLI, probabilities(logits))
            signs[chosen] = (decoded * 2 - 1).reshape(len(chosen), count_y, count_x)
        plane[(slice(None), *view(dy, dx, count_y, count_x))] = signs[:channels]
    check_used_up(coder)
    return plane[:, 1:-1, 1:-1] > 0
