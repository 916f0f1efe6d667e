"""ITER codings 3 and 4: bits coded with the model's context prior, a logistic model fitted once per network.

The bits a network writes are redundant in ways that belong to the network,
not to the photo: the 32 bits of a code cell come from one fixed projection,
and a channel follows its own earlier iterations. Coding 1 learns such
dependencies anew for every file and must send what it learns; coding 3 takes
them from weights fitted once on training photos and shipped with the model
(``context_prior.bin``, covered by the model's hash), so a payload is only
coded words (spec: "Prior-coded payload").

The logit of a bit is an integer dot product of int8 weights (1/128 nat per
feature unit) with integer features: the same channel's bits in the 8
iterations before, every channel's bits in the 3 before, the previous
iteration's 3x3 neighbourhood and neighbour sums, the channels already decoded
at this cell and their neighbour sums, and the same channel's neighbours
decoded in earlier phases of the 2x2 lattice. It goes through the same
``P_ONE`` table and rANS coder as coding 1. Bits are coded channel by channel,
each in its 4 phases: 4 x channels groups, each decoded in one vectorised
step. Every product and sum is of integers small enough for floating point to
hold exactly, so numpy's fast float products are exact in any summation order.

Coding 4 (spec: "Segmented prior-coded payload") codes the same bits in
segments of channels, each its own rANS stream behind its length, so that a
payload may stop after any segment (a partial last iteration).

Codings 5 and 6 (spec: "Silent cells") are codings 3 and 4 for a bitplane with
silent cells (``silence.py``): the stream starts with the iteration's stop map,
and then codes only the bits of the cells still sending.
"""

from __future__ import annotations

from pathlib import Path

import construct
import numpy as np

from .rans import (
    BERNOULLI,
    LOGIT_LIMIT,
    PayloadError,
    check_used_up,
    coded_words,
    decoder,
    encode_words,
    phases,
    probabilities,
    view,
)
from .silence import (
    STOP_LOGITS,
    best_logits,
    decode_map,
    is_silenced,
    map_symbols,
    signs_of,
    silenced,
    silent_cells,
)

PRIOR_FILE = "context_prior.bin"
"""The weights in a model folder: int8, (iterations, channels, features) in C order."""

SAME_CHANNEL_HISTORY = 8
"""Earlier iterations of the same channel the prior sees."""

ALL_CHANNEL_HISTORY = 3
"""Earlier iterations whose every channel the prior sees."""

WEIGHT_UNIT = 128
"""Weights are in 1/WEIGHT_UNIT nat per feature unit; logits in 1/8 nat, so z is divided by 16."""

LOGIT_SHIFT = 4
"""log2(WEIGHT_UNIT / 8): the logit is (z + 8) >> LOGIT_SHIFT."""

RING = tuple((dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1) if dy or dx)
"""The 8 neighbours of a cell, row by row."""

CROSS = ((-1, 0), (1, 0), (0, -1), (0, 1))
DIAGONAL = ((-1, -1), (-1, 1), (1, -1), (1, 1))

SEGMENT_CHANNELS = construct.Int8ub
"""Coding 4: the payload's first byte, channels per segment (1 to the code's channels)."""

SEGMENT_LENGTH = construct.Int32ub
"""Coding 4: in front of each segment, the bytes of its coded words."""


def feature_count(channels: int) -> int:
    """Features per (iteration, channel): 22 + 7 x channels (246 for 32 channels)."""
    return sum(size for _, size in layout(channels))


def layout(channels: int) -> list[tuple[str, int]]:
    """The feature groups in their order in a weight row (spec: "Prior-coded payload", *Features*)."""
    return [
        ("history", SAME_CHANNEL_HISTORY),  # s[t-k, c], k = 1..8
        ("previous", ALL_CHANNEL_HISTORY * channels),  # s[t-k, c'], k = 1..3, all c'
        ("ring", len(RING)),  # s[t-1, c] at the 8 neighbours
        ("ring_sums", channels),  # the sum of the 8 neighbours of s[t-1, c'], all c'
        ("lower", 3 * channels),  # per c' < c: s[t, c'], its 4-neighbour sum, its diagonal sum
        ("phase", 4),  # one per phase of the 2x2 lattice
        ("near", 2),  # sums of the same channel's decoded 4-neighbours and diagonal neighbours
    ]


class ContextPrior:
    """The prior's weights, split by feature group for one iteration at a time (integer-valued floats)."""

    def __init__(self, weights: np.ndarray):
        self.weights = np.asarray(weights, np.int8)
        self.iterations, self.channels, features = self.weights.shape
        if features != feature_count(self.channels):
            raise ValueError(f"{features} prior features for {self.channels} channels, not the layout's")
        self._groups = [self._split(t) for t in range(self.iterations)]

    @classmethod
    def load(cls, path: str | Path, channels: int) -> ContextPrior:
        """The weights of a model's ``context_prior.bin``: whole (channels x features) rows, int8."""
        data = np.fromfile(path, np.int8)
        row = channels * feature_count(channels)
        if not data.size or data.size % row:
            raise ValueError(f"{path}: {data.size} bytes, not a whole number of iterations of {row}")
        return cls(data.reshape(-1, channels, feature_count(channels)))

    def _split(self, t: int) -> dict[str, np.ndarray]:
        channels = self.channels
        groups, start = {}, 0
        for name, size in layout(channels):
            groups[name] = self.weights[t, :, start : start + size].astype(np.float64)
            start += size
        # every channel of the iterations before and the previous one's neighbour sums: one product
        groups["across"] = np.concatenate([groups.pop("previous"), groups.pop("ring_sums")], axis=1)
        groups["across"] = groups["across"].astype(np.float32)
        groups["history"] = groups["history"].astype(np.float32)
        groups["ring"] = groups["ring"].astype(np.float32)
        # (c, 3 c'): the lower block row by row; weights of c' >= c do not count (the bits are not known)
        lower = groups["lower"].reshape(channels, channels, 3)
        lower = lower * np.tri(channels, channels, -1)[:, :, None]
        groups["lower"] = lower.reshape(channels, 3 * channels)
        return groups

    def weights_for(self, t: int) -> dict[str, np.ndarray]:
        """Iteration ``t``'s weights; iterations beyond the prior's use its last."""
        return self._groups[min(t, self.iterations - 1)]


def _padded(signs: np.ndarray) -> np.ndarray:
    """``signs`` with a border of zeros one cell wide around each plane (of the same dtype)."""
    padded = np.zeros((*signs.shape[:-2], signs.shape[-2] + 2, signs.shape[-1] + 2), signs.dtype)
    padded[..., 1:-1, 1:-1] = signs
    return padded


def _shift(padded: np.ndarray, dy: int, dx: int) -> tuple:
    """The index of the values at (y + dy, x + dx) of every cell of a padded plane (0 outside)."""
    rows, columns = padded.shape[-2] - 2, padded.shape[-1] - 2
    return ..., slice(1 + dy, 1 + dy + rows), slice(1 + dx, 1 + dx + columns)


def _shifted(padded: np.ndarray, dy: int, dx: int) -> np.ndarray:
    return padded[_shift(padded, dy, dx)]


def neighbour_sum(padded: np.ndarray, offsets) -> np.ndarray:
    return _sum_at(padded, [_shift(padded, dy, dx) for dy, dx in offsets])


def _sum_at(
    plane: np.ndarray, indices: list, weight: float = 1.0, plus: np.ndarray | None = None
) -> np.ndarray:
    """``weight`` times the sum of ``plane`` at ``indices`` (at least one), plus ``plus``: a new array.

    In as few numpy calls as it takes: the decoder's inner step makes it on a few hundred cells,
    where each call costs more than its arithmetic. Its terms are integers or multiples of 1/16,
    so the order of the sums does not matter.
    """
    total = plane[indices[0]] + plane[indices[1]] if len(indices) > 1 else plane[indices[0]].copy()
    for at in indices[2:]:
        total += plane[at]
    if weight != 1.0:
        total *= weight
    if plus is not None:
        total += plus
    return total


def history_part(weights: dict[str, np.ndarray], earlier: list[np.ndarray], shape) -> np.ndarray:
    """The part of every cell's z that comes from earlier iterations: (channels, rows, columns).

    Each group of features is one batched product per channel. The products are
    in float32, which is exact here (every feature and weight is an integer and
    every partial sum stays below 2**24) and twice as fast as float64.
    """
    channels, rows, columns = shape
    if not earlier:
        return np.zeros(shape)
    count = min(len(earlier), SAME_CHANNEL_HISTORY)
    latest = earlier[: -count - 1 : -1]  # k = 1 .. count iterations back
    before = np.stack([signs_of(plane, np.float32) for plane in latest], axis=1)  # (c, k, rows, cols)
    previous = _padded(before[:, 0])
    ring = np.stack([_shifted(previous, dy, dx) for dy, dx in RING], axis=1)  # (c, 8, rows, cols)
    z = weights["history"][:, None, :count] @ before.reshape(channels, count, -1)
    z += weights["ring"][:, None, :] @ ring.reshape(channels, len(RING), -1)
    across = np.zeros((ALL_CHANNEL_HISTORY + 1, channels, rows * columns), np.float32)
    known = min(count, ALL_CHANNEL_HISTORY)
    across[:known] = before[:, :known].reshape(channels, known, -1).swapaxes(0, 1)
    np.sum(ring, axis=1, out=across[-1].reshape(channels, rows, columns))
    z += (weights["across"] @ across.reshape(-1, rows * columns))[:, None, :]
    return z.reshape(shape).astype(np.float64)


def lower_features(signs: np.ndarray) -> np.ndarray:
    """(channels, 3, rows, columns): each channel's signs, 4-neighbour sums and diagonal sums."""
    padded = _padded(signs)
    return np.stack([signs, neighbour_sum(padded, CROSS), neighbour_sum(padded, DIAGONAL)], axis=1)


def to_logits(z: np.ndarray) -> np.ndarray:
    """Logits in 1/8 nat: (z + 8) >> 4 (integer floor; the table lookup clamps to +-96)."""
    return np.floor_divide(z + (1 << (LOGIT_SHIFT - 1)), 1 << LOGIT_SHIFT).astype(np.int64)


INDEX_SCALE = 1.0 / (1 << LOGIT_SHIFT)
INDEX_OFFSET = 0.5 + LOGIT_LIMIT
_P_OF_INDEX = probabilities(np.arange(-LOGIT_LIMIT, LOGIT_LIMIT + 1))


def group_probabilities(scaled: np.ndarray) -> np.ndarray:
    """``probabilities(to_logits(z))`` from ``scaled`` = z * INDEX_SCALE + INDEX_OFFSET, in two steps.

    The decoder's many small groups work on z / 16 + 96.5 instead of z: exact in float64 (z is an
    integer far below 2**48, so it only gains 4 binary places), and truncated it is L + 96 wherever
    it is not negative; where it is, L < -96, which the clipped lookup clamps anyway.
    """
    return _P_OF_INDEX.take(scaled.astype(np.intp).ravel(), mode="clip")


def phase_of(rows: int, columns: int) -> np.ndarray:
    """The phase (0..3) of every cell of the 2x2 lattice: 2 x (row mod 2) + column mod 2."""
    return (np.arange(rows)[:, None] & 1) * 2 + (np.arange(columns)[None, :] & 1)


def known_neighbour_sums(signs: np.ndarray) -> np.ndarray:
    """(2, channels, rows, columns): per cell, the sums of its same-channel 4-neighbours and diagonal
    neighbours of an earlier phase (decoded before it)."""
    channels, rows, columns = signs.shape
    lattice = phase_of(rows, columns)
    sums = np.zeros((2, *signs.shape))
    for phase, dy, dx, count_y, count_x in phases(rows, columns):
        known = _padded(signs * (lattice < phase))
        for out, offsets in zip(sums, (CROSS, DIAGONAL)):
            views = [known[(slice(None), *view(dy, dx, count_y, count_x, oy, ox))] for oy, ox in offsets]
            out[:, dy::2, dx::2] = sum(views)
    return sums


def cell_logits(bits: np.ndarray, earlier: list[np.ndarray], prior: ContextPrior) -> np.ndarray:
    """The logit (1/8 nat, before clamping) of every bit of a bitplane, as the decoder computes it."""
    channels, rows, columns = shape = bits.shape
    weights = prior.weights_for(len(earlier))
    signs = signs_of(bits)
    z = history_part(weights, earlier, shape)
    z += np.einsum(
        "ij,jyx->iyx", weights["lower"], lower_features(signs).reshape(3 * channels, rows, columns)
    )
    z += weights["phase"][:, phase_of(rows, columns)]
    cross, diagonal = known_neighbour_sums(signs)
    z += weights["near"][:, 0, None, None] * cross + weights["near"][:, 1, None, None] * diagonal
    return to_logits(z)


def coding_order(rows: int, columns: int) -> np.ndarray:
    """Cell indices (row-major) in the order coded within a channel: phase by phase, row-major in each."""
    return np.argsort(phase_of(rows, columns).ravel(), kind="stable")


def _ordered(
    bits: np.ndarray, earlier: list[np.ndarray], prior: ContextPrior
) -> tuple[np.ndarray, np.ndarray]:
    """(channels, cells) bits and their logits, each channel's cells in coding order: those still sending."""
    channels, rows, columns = bits.shape
    order = coding_order(rows, columns)
    sending = ~silent_cells(bits).ravel()[order]
    logits = cell_logits(bits, earlier, prior).reshape(channels, -1)[:, order]
    plain = np.asarray(np.ma.getdata(bits), bool).reshape(channels, -1)[:, order]
    return (plain, logits) if sending.all() else (plain[:, sending], logits[:, sending])


def _stop_map(bits: np.ndarray, earlier: list[np.ndarray]) -> tuple[bytes, np.ndarray, np.ndarray]:
    """The stop logits (bytes), then the stop map's bits and logits, of a bitplane with silent cells."""
    before = silent_cells(earlier[-1] if earlier else None, bits.shape[1:])
    silent = silent_cells(bits)
    if (before & ~silent).any():
        raise ValueError("a cell silent in the iteration before sends again: codings 5 and 6 cannot say so")
    stops = silent & ~before
    logits = best_logits(stops, before)
    return STOP_LOGITS.build(logits), *map_symbols(stops, before, logits)


def encode_prior(bits: np.ndarray, earlier: list[np.ndarray], prior: ContextPrior) -> bytes:
    """The coding-3 payload of a bitplane (``earlier``: the bitplanes of the iterations before it), or the
    coding-5 payload of one with silent cells."""
    ordered, logits = _ordered(bits, earlier, prior)
    if not is_silenced(bits):
        return encode_words(ordered, logits)
    head, symbols, map_logits = _stop_map(bits, earlier)
    return head + encode_words(
        np.concatenate([symbols, ordered.ravel()]), np.concatenate([map_logits, logits.ravel()])
    )


def segment_count(channels: int, segment_channels: int) -> int:
    return -(-channels // segment_channels)


def encode_segmented(
    bits: np.ndarray, earlier: list[np.ndarray], prior: ContextPrior, segment_channels: int
) -> list[bytes]:
    """The coding-4 payloads of ``bits`` in segments of ``segment_channels`` channels: with 1, 2, ... all
    segments; coding-6 payloads for a bitplane with silent cells.

    Coding 3's bits, order and probabilities, but each segment is coded on its
    own behind its length, so the payload can stop after any segment: the
    channels after it are unknown, and the decoder network reads them as 0.
    Coding 6 puts the stop logits after the first byte and the stop map at the
    start of the first segment's words.
    """
    ordered, logits = _ordered(bits, earlier, prior)
    payload, payloads = SEGMENT_CHANNELS.build(segment_channels), []
    map_bits = map_logits = np.zeros(0, np.int64)
    if is_silenced(bits):
        head, map_bits, map_logits = _stop_map(bits, earlier)
        payload += head
    for first in range(0, len(ordered), segment_channels):
        part = slice(first, first + segment_channels)
        symbols, part_logits = ordered[part].ravel(), logits[part].ravel()
        if not first:  # the stop map leads the first segment's words
            symbols = np.concatenate([map_bits, symbols])
            part_logits = np.concatenate([map_logits, part_logits])
        words = encode_words(symbols, part_logits)
        payload += SEGMENT_LENGTH.build(len(words)) + words
        payloads.append(payload)
    return payloads


def segments_start(silent: bool) -> int:
    """Where the first segment of a coding-4 (or, ``silent``, coding-6) payload starts."""
    return SEGMENT_CHANNELS.sizeof() + (STOP_LOGITS.sizeof() if silent else 0)


def _segment_ends(payload: bytes, silent: bool):
    """Where each segment of a coding-4 (6) payload ends, for every segment whose length is there (the last
    one may claim bytes past the payload's end)."""
    offset = segments_start(silent)
    while offset + SEGMENT_LENGTH.sizeof() <= len(payload):
        offset += SEGMENT_LENGTH.sizeof() + int.from_bytes(
            payload[offset : offset + SEGMENT_LENGTH.sizeof()], "big"
        )
        yield offset


def segments_of(payload: bytes, channels: int, silent: bool = False) -> list[tuple[int, np.ndarray]]:
    """(channels, coded words) of each segment of a coding-4 (``silent``: coding-6) payload, checked
    without decoding."""
    name = f"coding {6 if silent else 4}"
    if not payload:
        raise PayloadError(f"empty {name} payload")
    if len(payload) < segments_start(silent):
        raise PayloadError(f"{len(payload)} bytes, shorter than the stop logits")
    segment_channels = SEGMENT_CHANNELS.parse(payload)
    if not 1 <= segment_channels <= channels:
        raise PayloadError(f"{segment_channels} channels per segment, outside 1 .. {channels}")
    limit = segment_count(channels, segment_channels)
    segments, start = [], segments_start(silent)
    for end in _segment_ends(payload, silent):
        if len(segments) == limit:
            break
        if end > len(payload):
            raise PayloadError(f"segment {len(segments)} claims {end - start - 4} bytes, beyond the payload")
        count = min(segment_channels, channels - len(segments) * segment_channels)
        segments.append((count, coded_words(payload[start + SEGMENT_LENGTH.sizeof() : end])))
        start = end
    if start < len(payload):
        if len(segments) == limit:
            raise PayloadError(f"data after the last of {limit} segments")
        raise PayloadError("the payload ends inside a segment length")
    if not segments:
        raise PayloadError(f"a {name} payload without a segment")
    return segments


def whole_segments(payload: bytes, channels: int, silent: bool = False) -> bytes:
    """The start of a cut coding-4 (6) payload up to its last complete segment (b"" when there is none)."""
    if len(payload) < segments_start(silent) or not 1 <= payload[0] <= channels:
        return b""
    limit = segment_count(channels, payload[0])
    ends = []
    for end in _segment_ends(payload, silent):
        if end > len(payload) or len(ends) == limit:
            break
        ends.append(end)
    if len(ends) == limit and ends[-1] < len(payload):
        return b""  # data after the last segment breaks a rule: the cut chunk is ignored
    return payload[: ends[-1]] if ends else b""


def payload_problem(payload: bytes, channels: int, segmented: bool, silent: bool = False) -> str | None:
    """What is wrong with a coding-3 payload (``segmented``: 4; ``silent``: 5, or both: 6) that shows
    without decoding it."""
    try:
        if segmented:
            segments_of(payload, channels, silent)
        elif silent:
            _silent_parts(payload)
        else:
            coded_words(payload)
    except PayloadError as error:
        return f"coding {3 + segmented + 2 * silent} payload: {error}"
    return None


def known_channels(payload: bytes, channels: int, silent: bool = False) -> int:
    """Channels a (checked) coding-4 (6) payload holds: fewer than ``channels`` for a partial iteration."""
    return sum(count for count, _ in segments_of(payload, channels, silent))


def _silent_parts(payload: bytes) -> tuple[list[int], np.ndarray]:
    """The stop logits and the coded words of a coding-5 payload."""
    if len(payload) < STOP_LOGITS.sizeof():
        raise PayloadError(f"{len(payload)} bytes, shorter than the stop logits")
    return list(STOP_LOGITS.parse(payload)), coded_words(payload[STOP_LOGITS.sizeof() :])


def decoded_before(phase: int, offsets) -> list[tuple[int, int]]:
    """The neighbour offsets whose cells come in an earlier phase than ``phase``'s cells."""
    dy, dx = phase >> 1, phase & 1
    return [(oy, ox) for oy, ox in offsets if ((dy + oy) & 1) * 2 + ((dx + ox) & 1) < phase]


def _group_views(rows: int, columns: int) -> list[tuple]:
    """Per phase: the slices of its cells in a plane and in a padded plane, and of its decoded 4- and diagonal
    neighbours (cells of later phases are not decoded yet, so they are left out rather than added as 0)."""
    groups = []
    for phase, dy, dx, count_y, count_x in phases(rows, columns):
        cross, diagonal = (
            [view(dy, dx, count_y, count_x, oy, ox) for oy, ox in decoded_before(phase, offsets)]
            for offsets in (CROSS, DIAGONAL)
        )
        groups.append(
            ((slice(dy, None, 2), slice(dx, None, 2)), view(dy, dx, count_y, count_x), cross, diagonal)
        )
    return groups


def decode_prior(
    payload: bytes, shape, earlier: list[np.ndarray], prior: ContextPrior, silent: bool = False
) -> np.ndarray:
    """The bitplane (boolean, True for +1) of a coding-3 (``silent``: coding-5) payload."""
    if not silent:
        return _decode(shape, earlier, prior, [(shape[0], coded_words(payload))])
    logits, words = _silent_parts(payload)
    return _decode(shape, earlier, prior, [(shape[0], words)], logits)


def decode_segmented(
    payload: bytes, shape, earlier: list[np.ndarray], prior: ContextPrior, silent: bool = False
) -> np.ndarray:
    """The known channels (boolean, True for +1) of a coding-4 (``silent``: coding-6) payload: all of
    ``shape``'s, or a prefix."""
    segments = segments_of(payload, shape[0], silent)  # checks the payload holds its stop logits
    logits = list(STOP_LOGITS.parse(payload[SEGMENT_CHANNELS.sizeof() :])) if silent else None
    return _decode(shape, earlier, prior, segments, logits)


_SIGN = np.array([-1.0, 1.0])
"""The sign of a decoded bit, by the bit."""


def _decode(
    shape, earlier: list[np.ndarray], prior: ContextPrior, segments, stop_logits: list[int] | None = None
) -> np.ndarray:
    """The channels of ``segments`` ((channels, coded words) in channel order), each its own rANS stream;
    with ``stop_logits`` (codings 5 and 6), the first stream starts with the stop map."""
    channels, rows, columns = shape
    if channels != prior.channels:
        raise PayloadError(f"{channels} code channels, but the context prior is for {prior.channels}")
    coders = [coder for count, words in segments for coder in [decoder(words)] * count]
    silent = None
    if stop_logits is not None:
        before = silent_cells(earlier[-1] if earlier else None, (rows, columns))
        silent = before | decode_map(coders[0], before, stop_logits)
    weights = prior.weights_for(len(earlier))
    # Every term is an integer multiple of 1/16 far below 2**48 (see group_probabilities), so the sums
    # are exact in float64 in any order: the phase and history terms are scaled for all channels at once.
    scaled_all = history_part(weights, earlier, shape) * INDEX_SCALE
    scaled_all += (weights["phase"] * INDEX_SCALE + INDEX_OFFSET)[:, phase_of(rows, columns)]
    scaled_lower = weights["lower"] * INDEX_SCALE
    done = np.zeros((3 * channels, rows * columns))  # lower_features of the channels decoded so far
    planes = np.zeros((channels, rows + 2, columns + 2))  # padded signs, 0 = not decoded yet
    groups = _group_views(rows, columns)
    sending = [None] * len(groups)  # per group, its cells that send (None: all of them)
    if silent is not None and silent.any():
        sending = [~silent[cells].ravel() for cells, *_ in groups]
    scaled_near = (weights["near"] * INDEX_SCALE).tolist()
    cross_all, diagonal_all = (
        [_shift(planes[0], dy, dx) for dy, dx in offsets] for offsets in (CROSS, DIAGONAL)
    )
    for c, coder in enumerate(coders):
        zc = scaled_all[c]
        if c:
            zc = zc + (scaled_lower[c, : 3 * c] @ done[: 3 * c]).reshape(rows, columns)
        near_cross, near_diagonal = scaled_near[c]
        plane = planes[c]
        for (cells, padded_cells, cross, diagonal), keep in zip(groups, sending):
            scaled = zc[cells]
            if cross:
                scaled = _sum_at(plane, cross, near_cross, scaled)
            if diagonal:
                scaled = _sum_at(plane, diagonal, near_diagonal, scaled)
            if keep is None:
                bits = coder.decode(BERNOULLI, group_probabilities(scaled))
                plane[padded_cells] = _SIGN[bits].reshape(scaled.shape)
            elif keep.any():  # silent cells stay 0
                signs = np.zeros(keep.shape)
                signs[keep] = _SIGN[coder.decode(BERNOULLI, group_probabilities(scaled)[keep])]
                plane[padded_cells] = signs.reshape(scaled.shape)
        done[3 * c] = plane[1:-1, 1:-1].ravel()
        done[3 * c + 1] = _sum_at(plane, cross_all).ravel()  # neighbour_sum, its indices made once
        done[3 * c + 2] = _sum_at(plane, diagonal_all).ravel()
        if c + 1 == len(coders) or coders[c + 1] is not coder:
            check_used_up(coder)
    bits = planes[: len(coders), 1:-1, 1:-1] > 0
    return bits if silent is None else silenced(bits, silent)
