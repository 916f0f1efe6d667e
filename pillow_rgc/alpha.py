"""The alpha channel <-> ``ALPH`` chunk data (spec: "ALPH: the alpha channel").

The networks code colour only; transparency is stored exactly, beside them,
because a soft edge that moves by a rounding step shows, and a cut file must
not lose its shape: ``ALPH`` comes before the first ``ITER``, so every
decodable prefix of a file has it. Method 0 is zlib (deflate) of the height x
width plane of 8-bit alpha values in row order, which shrinks the usual
all-opaque or two-level masks to almost nothing.
"""

from __future__ import annotations

import zlib

import numpy as np

from .container import AlphaChunk, CorruptChunkError

ZLIB = 0


def encode(plane: np.ndarray) -> bytes:
    """``ALPH`` chunk data for a (height, width) uint8 alpha plane."""
    plane = np.ascontiguousarray(plane, dtype=np.uint8)
    return bytes([ZLIB]) + zlib.compress(plane.tobytes(), 9)


def decode(chunk: AlphaChunk, width: int, height: int) -> np.ndarray:
    """The (height, width) uint8 alpha plane of an ``ALPH`` chunk.

    Inflates at most ``width x height + 1`` bytes, so a forged chunk cannot make
    it allocate more than the picture it belongs to; anything but exactly one
    complete zlib stream of exactly that size is corrupt.
    """

    def corrupt(reason: str) -> CorruptChunkError:
        return CorruptChunkError(reason, "ALPH", chunk.chunk_index, chunk.offset)

    if chunk.method != ZLIB:
        raise corrupt(f"unsupported alpha method {chunk.method}")
    size = width * height
    inflater = zlib.decompressobj()
    try:
        plane = inflater.decompress(chunk.data, size + 1)
    except zlib.error as error:
        raise corrupt(f"bad zlib data ({error})") from None
    if len(plane) != size or not inflater.eof or inflater.unconsumed_tail or inflater.unused_data:
        raise corrupt(f"alpha data does not inflate to exactly {width}x{height} bytes")
    return np.frombuffer(plane, np.uint8).reshape(height, width)
