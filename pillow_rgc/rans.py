"""What the context-coded payloads (codings 1 and 3) share: integer probabilities, rANS words, the lattice.

Both codings turn an integer logit (1/8 nat) into a 24-bit probability with
the fixed table ``P_ONE`` and code the bits with ``constriction``'s
``AnsCoder`` (spec: "Context-coded payload", *Coding the bits*), in groups
that visit the 4 phases of a 2x2 lattice of cells. Only the model that gives
the logits differs: coding 1 sends its parameters in the payload
(``entropy.py``), coding 3 takes them from the model's context prior
(``prior_coding.py``).
"""

from __future__ import annotations

import constriction
import numpy as np

PRECISION = 24
"""Probabilities are integers out of 2**PRECISION, constriction's precision for its default coders."""

LOGIT_LIMIT = 96
"""Logits are integers in units of 1/8 nat, clamped to +-LOGIT_LIMIT (+-12 nat) before the table."""

# fmt: off
P_ONE = (
    8388608, 8912214, 9431757, 9943296, 10443135, 10927921, 11394728, 11841108,
    12265128, 12665372, 13040928, 13391352, 13716624, 14017088, 14293396, 14546446,
    14777323, 14987245, 15177517, 15349491, 15504527, 15643971, 15769129, 15881257,
    15981542, 16071101, 16150975, 16222125, 16285438, 16341724, 16391720, 16436096,
    16475457, 16510351, 16541267, 16568648, 16592886, 16614335, 16633310, 16650091,
    16664929, 16678045, 16689637, 16699880, 16708930, 16716925, 16723987, 16730224,
    16735732, 16740596, 16744891, 16748683, 16752030, 16754986, 16757595, 16759898,
    16761931, 16763726, 16765310, 16766708, 16767942, 16769031, 16769992, 16770841,
    16771590, 16772251, 16772834, 16773349, 16773803, 16774204, 16774558, 16774870,
    16775146, 16775389, 16775604, 16775793, 16775960, 16776108, 16776238, 16776353,
    16776454, 16776544, 16776623, 16776693, 16776754, 16776808, 16776856, 16776898,
    16776936, 16776969, 16776998, 16777023, 16777046, 16777066, 16777084, 16777099,
    16777113,
)
# fmt: on
"""2**24 * P(bit = +1) for the logits L = 0 .. 96: round(2**24 / (1 + exp(-L / 8))).

For L < 0 it is 2**24 - P_ONE[-L]. The exact values are at least 0.008 from a
rounding tie, so any correctly rounding evaluation of the formula gives them.
"""


class PayloadError(ValueError):
    """A context-coded payload (coding 1 or 3) that breaks the spec (structure, parameters or coded words)."""


# --- probabilities -----------------------------------------------------------

ONE = 1 << PRECISION
P_ONE_ALL = np.array(
    [ONE - P_ONE[-v] if v < 0 else P_ONE[v] for v in range(-LOGIT_LIMIT, LOGIT_LIMIT + 1)], np.int64
)
"""2**24 * P(+1) of every clamped logit, indexed by L + LOGIT_LIMIT."""


def _constriction_p(p_one: np.ndarray) -> np.ndarray:
    """The float ``p`` for which constriction's ``Bernoulli(perfect=False)`` codes with exactly ``p_one``.

    constriction 0.5 quantizes ``[1 - p, p]`` with its "fast" categorical
    quantizer to ``P(0) = floor((1 - p) * (2**24 - 2)) + 1`` (out of 2**24).
    With ``1 - p = m / 2**24`` (exact in a double, as are all the products)
    that is ``m`` for ``m <= 2**23`` and ``m - 1`` above, so ``m`` is picked to
    land exactly on ``P(0) = 2**24 - p_one``. ``tests/test_entropy.py`` checks
    the coded words against a plain-integer coder.
    """
    p_zero = ONE - p_one
    m = np.where(p_zero <= ONE // 2, p_zero, p_zero + 1)
    return (ONE - m) / float(ONE)


_P_FLOAT = _constriction_p(P_ONE_ALL)
BERNOULLI = constriction.stream.model.Bernoulli(perfect=False)


def probabilities(logits: np.ndarray) -> np.ndarray:
    """constriction's ``p`` for every logit (clamped to +-LOGIT_LIMIT by the lookup), flattened."""
    return np.take(_P_FLOAT, logits.ravel() + LOGIT_LIMIT, mode="clip")


# --- coded words -------------------------------------------------------------


def encode_words(symbols: np.ndarray, logits: np.ndarray) -> bytes:
    """The coded words (big-endian u32) of the bits ``symbols`` (0/1) in coding order, with their logits."""
    coder = constriction.stream.stack.AnsCoder()
    coder.encode_reverse(symbols.ravel().astype(np.int32), BERNOULLI, probabilities(logits))
    return coder.get_compressed().astype(">u4").tobytes()


def coded_words(data: bytes) -> np.ndarray:
    """The words of the coded part of a payload, checked as far as that goes without decoding."""
    if len(data) % 4:
        raise PayloadError(f"{len(data)} bytes of coded words, not a multiple of 4")
    words = np.frombuffer(data, ">u4").astype(np.uint32)
    if len(words) and not words[-1]:
        raise PayloadError("the last coded word is 0")
    return words


def decoder(words: np.ndarray):
    """A rANS decoder over ``words``: ``.decode(BERNOULLI, probabilities(logits))`` gives the next bits."""
    return constriction.stream.stack.AnsCoder(words)


def check_used_up(coder) -> None:
    if not coder.is_empty():
        raise PayloadError("coded words left over after the last bit (a damaged or mismatched payload)")


# --- the 2x2 lattice ---------------------------------------------------------


def phases(rows: int, columns: int):
    """(phase, first row, first column, rows, columns) of each non-empty phase of the 2x2 lattice."""
    for phase in range(4):
        dy, dx = phase >> 1, phase & 1
        count_y, count_x = (rows - dy + 1) // 2, (columns - dx + 1) // 2
        if count_y and count_x:
            yield phase, dy, dx, count_y, count_x


def view(dy: int, dx: int, count_y: int, count_x: int, oy: int = 0, ox: int = 0):
    """Slices of a plane padded by one cell on each side: a phase's cells, moved by (oy, ox)."""
    y, x = 1 + dy + oy, 1 + dx + ox
    return slice(y, y + 2 * count_y - 1, 2), slice(x, x + 2 * count_x - 1, 2)
