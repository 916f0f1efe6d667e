"""Bitplanes <-> ``ITER`` payloads.

Format 1.0 defines one coding, 0: the bits packed as they are (spec: "Raw
payload"). Each iteration's payload is coded knowing the earlier iterations'
bitplanes, so that a context-modelling coder can use them while every
iteration stays decodable after a cut.
"""

from __future__ import annotations

import numpy as np

RAW = 0


def encode_bitplane(bits: np.ndarray, earlier: list[np.ndarray]) -> tuple[int, bytes]:
    """(coding, payload) of one bitplane; ``earlier`` are the bitplanes of the previous iterations."""
    return RAW, np.packbits(bits.ravel()).tobytes()


def decode_bitplane(
    coding: int, payload: bytes, shape: tuple[int, int, int], earlier: list[np.ndarray]
) -> np.ndarray:
    """The bitplane (boolean, True for +1) of one ``ITER`` payload."""
    if coding != RAW:
        raise ValueError(f"unsupported ITER coding {coding}")
    count = shape[0] * shape[1] * shape[2]
    return np.unpackbits(np.frombuffer(payload, np.uint8), count=count).reshape(shape).astype(bool)


def decode_bitplanes(chunks, shape: tuple[int, int, int]) -> list[np.ndarray]:
    """Bitplanes of ``(coding, payload)`` pairs, in iteration order."""
    bitplanes: list[np.ndarray] = []
    for coding, payload in chunks:
        bitplanes.append(decode_bitplane(coding, payload, shape, bitplanes))
    return bitplanes
