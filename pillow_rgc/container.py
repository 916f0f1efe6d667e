"""The ``.rgc`` container, versions 1.0 and 2.0: the format of ``spec/rgc.md`` as code.

A file is an 8-byte signature followed by PNG-style chunks (length, type, data,
CRC-32), all integers big-endian::

    SIGNATURE  HEAD  [ALPH]  [exif] [iccp] [xmpd] [other ancillary]  ITER 0  ITER 1 ...  IEND

``HEAD`` says what the picture and the model are, ``ALPH`` (2.0, modes LA and
RGBA only) holds the alpha plane, each ``ITER`` holds one bitplane
of the progressive codec, ``IEND`` says the file is whole.  Because every
iteration is a chunk of its own, a file cut anywhere after its first complete
``ITER`` still decodes, at a lower quality.  The reader therefore tells three
outcomes apart: a file that is *cut* (decode what is there), a file that is
*corrupt* (a complete chunk that is wrong: refuse, or keep the good prefix on
request), and a file that is *not ours* or of a major version we do not know.

Header and chunk framing are parsed with ``construct``; the payloads are handed
on as raw bytes.  Parsers are never ``.compile()``-d (compiled parsers return
short data silently) and chunks are walked one by one rather than with
``GreedyRange`` (which swallows every error, a bad CRC included), so that a cut
is never mistaken for corruption or the other way round.  Every failure is an
``RGCFormatError``; no ``construct`` or ``struct`` error escapes.
"""

from __future__ import annotations

import io
import math
import re
import zlib
from collections import Counter
from dataclasses import dataclass

from construct import (
    Bytes,
    Checksum,
    ChecksumError,
    ConstructError,
    GreedyBytes,
    Int8ub,
    Int16ub,
    Int32ub,
    Prefixed,
    Rebuild,
    Struct,
    len_,
    this,
)

from . import entropy, tiling

SIGNATURE = b"\x89RGC\r\n\x1a\n"
"""As PNG's: the high byte catches 7-bit channels, CR LF and LF catch newline
conversion, ^Z stops a DOS ``type``."""

FORMAT_VERSION = (1, 0)
"""(major, minor) written by this module for files without alpha.  A minor bump
adds only things an older reader may ignore; a major bump anything else."""

ALPHA_VERSION = (2, 0)
"""Written for files with an alpha channel: 2.0 adds the critical ALPH chunk and
the HEAD modes LA and RGBA, which a 1.x reader must refuse."""

TILED_VERSION = (3, 0)
"""Written for pictures coded in tiles (big photos): 3.0 adds the tile size to HEAD
and ITER coding 2, whose payload holds one entry per tile; a 2.x reader must refuse
such files, since it would take the tile entries for one picture's bits."""

READ_MAJORS = (1, 2, 3)
"""Major versions this reader reads; it refuses any other."""

CODING_RAW = 0
CODING_CONTEXT = 1
CODING_TILED = 2
CODING_PRIOR = 3
CODING_SEGMENTED = 4
CODING_SILENT = 5
CODING_SILENT_SEGMENTED = 6

CODING_VERSION = {
    CODING_RAW: FORMAT_VERSION,
    CODING_CONTEXT: (2, 0),
    CODING_TILED: TILED_VERSION,
    CODING_PRIOR: (2, 1),
    CODING_SEGMENTED: (2, 2),
    CODING_SILENT: (2, 3),
    CODING_SILENT_SEGMENTED: (2, 3),
}
"""The major and the minor version each ITER coding needs at least.  2.0 adds coding 1
(context-coded bits, ``entropy.py``), which a 1.x reader refuses as an unsupported
coding, so a file with a coding-1 chunk is written as 2.0; a file whose chunks are all
coding 0 (and without alpha) stays 1.0.  Coding 3 (prior-coded bits, ``prior_coding.py``)
is minor version 1 of majors 2 and 3: a file using it, in a chunk or a tile entry, is
2.1, or 3.1 when tiled.  Coding 4 (coding 3 in segments, so that the last iteration may
hold only its first channels) is minor version 2: 2.2, or 3.2 when tiled.  Codings 5 and 6
(codings 3 and 4 with silent cells, ``silence.py``) are minor version 3.  The needs
combine part by part: the highest major, the highest minor."""

MAX_DIMENSION = 1 << 24
"""Largest width or height; keeps the code shape and payload sizes of a forged
header within reach of a chunk length."""

MAX_TILES = 1 << 16
"""Most tiles a picture may have, so a forged tile size cannot make a reader
walk or allocate per-tile state for billions of tiles."""

MAX_TILE_OVERLAP = 256
"""Largest overlap of neighbouring tiles: keeps the blend's integer sums (16 O^2 x 255) in 32 bits."""

TILE_ENTRY_FIXED = 4
"""Bytes in front of each tile's entry in a coding-2 payload: its length."""

MODE_CHANNELS = {"L": 1, "LA": 2, "RGB": 3, "RGBA": 4}
"""Pillow mode -> the byte stored in HEAD, which is the channel count."""

ALPHA_MODES = {"LA", "RGBA"}
"""Modes with an alpha channel: their files hold one ALPH chunk (version 2.0 on)."""

KNOWN_ANCILLARY = {"exif", "iccp", "xmpd"}
"""Ancillary chunk types this reader stores in ``Container.ancillary``: raw EXIF
bytes, a raw ICC profile, an XMP packet in UTF-8.  Other ancillary chunks are
CRC-checked and skipped."""

MAX_CHUNK_LENGTH = (1 << 31) - 1
"""As PNG: a length fits a signed 32-bit integer, so a flipped top bit is caught."""

MAX_ITER_OVERHEAD = 64
"""An ITER chunk's data may exceed index + coding + raw payload by at most this
many bytes in any 1.x version, so an absurd length is told from a cut."""

MAX_HEAD_LENGTH = 65535
"""Largest HEAD data length in a 1.x file with minor > 0 (room for new fields)."""

_MODES = {channels: mode for mode, channels in MODE_CHANNELS.items()}
_MODEL_ID = re.compile(r"[a-z0-9._-]{1,64}")
_CHUNK_TYPE = re.compile(rb"[A-Za-z]{4}")


# --- errors ------------------------------------------------------------------


class RGCFormatError(OSError, ValueError):
    """Base of every format error.

    Both an ``OSError`` (what Pillow and file-handling code expect from a bad
    image file) and a ``ValueError`` (the bytes are a bad value), as
    ``io.UnsupportedOperation`` is both.
    """


class NotRGCError(RGCFormatError):
    """The data does not start with the RGC signature: not an RGC file at all."""


class TruncatedFileError(RGCFormatError):
    """The data ends before its first complete ITER chunk, so there is nothing to decode.

    A cut after the first complete ITER is not an error: ``read`` returns the
    complete iterations with ``complete=False``.
    """


class CorruptChunkError(RGCFormatError):
    """A complete chunk (or a chunk frame) that breaks the format.

    The message names the chunk type, its position among the file's chunks
    (HEAD is chunk 0) and the byte offset of its length field, so a damaged
    file can be inspected with a hex dump; the same are in ``chunk_type``,
    ``chunk_index`` and ``offset``.
    """

    def __init__(self, reason: str, chunk_type: str, chunk_index: int, offset: int):
        where = f"chunk {chunk_index}, byte offset {offset}"
        super().__init__(f"corrupt {chunk_type!r} chunk ({where}): {reason}")
        self.reason = reason
        self.chunk_type = chunk_type
        self.chunk_index = chunk_index
        self.offset = offset


class UnsupportedVersionError(RGCFormatError):
    """The file's major version is not 1: its layout after the version bytes is unknown to us."""

    def __init__(self, version: tuple[int, int]):
        major, minor = version
        readable = ", ".join(f"{m}.x" for m in READ_MAJORS)
        super().__init__(
            f"RGC format version {major}.{minor} is not supported (this reader reads {readable})"
        )
        self.version = version


def _truncated(size: int) -> TruncatedFileError:
    return TruncatedFileError(f"file is truncated before its first complete iteration ({size} bytes)")


# --- data model --------------------------------------------------------------


@dataclass(frozen=True)
class Header:
    """The HEAD chunk: picture size and mode, and the model and code geometry needed to decode.

    Validated on construction, so a ``Header`` in hand is always writable and
    ``read`` can turn a bad field into a ``CorruptChunkError``.
    """

    width: int
    height: int
    mode: str
    model_id: str
    model_hash: bytes
    code_channels: int
    code_stride: int
    iterations: int
    version: tuple[int, int] = FORMAT_VERSION
    tile_width: int = 0  # 0 (versions 1 and 2): the picture is one tile
    tile_height: int = 0
    tile_overlap: int = 0  # pixels each tile codes beyond its core, on the sides with a neighbour

    def __post_init__(self) -> None:
        problem = _header_problem(self)
        if problem:
            raise ValueError(problem)

    @property
    def tiled(self) -> bool:
        return bool(self.tile_width)

    def code_shape(self, width: int | None = None, height: int | None = None) -> tuple[int, int, int]:
        """Shape of one iteration's bits of the picture (or of a ``width`` x ``height`` tile).

        (channels, rows, columns), one cell per stride x stride pixels.
        """
        stride = self.code_stride
        width, height = width or self.width, height or self.height
        return self.code_channels, -(-height // stride), -(-width // stride)

    def raw_payload_size(self, width: int | None = None, height: int | None = None) -> int:
        """Bytes of one raw (coding 0) payload of the picture or of a tile: the bits packed 8 to a byte."""
        return -(-math.prod(self.code_shape(width, height)) // 8)

    def tile_grid(self) -> tuple[int, int]:
        """(columns, rows) of tiles; (1, 1) for an untiled picture."""
        if not self.tiled:
            return 1, 1
        return -(-self.width // self.tile_width), -(-self.height // self.tile_height)

    def tiles(self) -> list[tuple[int, int, int, int]]:
        """(left, top, width, height) of the region each tile codes, in raster order (row after row)."""
        if not self.tiled:
            return [(0, 0, self.width, self.height)]
        columns = tiling.spans(self.width, self.tile_width, self.tile_overlap)
        rows = tiling.spans(self.height, self.tile_height, self.tile_overlap)
        return [(x0, y0, x1 - x0, y1 - y0) for y0, y1 in rows for x0, x1 in columns]

    def largest_tile(self) -> tuple[int, int]:
        """(width, height) of the widest and the tallest tile region (the picture's own, untiled)."""
        if not self.tiled:
            return self.width, self.height
        overlap = self.tile_overlap
        widest = max(stop - start for start, stop in tiling.spans(self.width, self.tile_width, overlap))
        tallest = max(stop - start for start, stop in tiling.spans(self.height, self.tile_height, overlap))
        return widest, tallest

    def max_entry_payload(self, width: int | None = None, height: int | None = None) -> int:
        """Largest payload of one iteration's bits of the picture, or of a tile: raw size plus slack."""
        return self.raw_payload_size(width, height) + MAX_ITER_OVERHEAD

    def max_iter_payload(self) -> int:
        """Largest ITER payload a file of this header may hold (the chunk length limit, less 3)."""
        if not self.tiled:
            return self.max_entry_payload()
        overlap = self.tile_overlap
        columns = tiling.spans(self.width, self.tile_width, overlap)
        rows = tiling.spans(self.height, self.tile_height, overlap)
        widths = Counter(stop - start for start, stop in columns)
        heights = Counter(stop - start for start, stop in rows)
        return sum(
            count_w * count_h * (TILE_ENTRY_FIXED + 1 + self.max_entry_payload(w, h))  # length, coding
            for w, count_w in widths.items()
            for h, count_h in heights.items()
        )


def _header_problem(h: Header) -> str | None:
    """What is wrong with a header's fields, or None; shared by the writer and the reader."""
    checks = [
        (len(h.version) == 2 and all(0 <= v <= 255 for v in h.version), f"version {h.version}"),
        (1 <= h.width <= MAX_DIMENSION, f"width {h.width} (1..{MAX_DIMENSION})"),
        (1 <= h.height <= MAX_DIMENSION, f"height {h.height} (1..{MAX_DIMENSION})"),
        (h.mode in MODE_CHANNELS, f"mode {h.mode!r} (one of {', '.join(MODE_CHANNELS)})"),
        (_MODEL_ID.fullmatch(h.model_id) is not None, f"model_id {h.model_id!r} ([a-z0-9._-]{{1,64}})"),
        (isinstance(h.model_hash, bytes) and len(h.model_hash) == 32, "model_hash (32 bytes)"),
        (1 <= h.code_channels <= 255, f"code_channels {h.code_channels} (1..255)"),
        (1 <= h.code_stride <= 255, f"code_stride {h.code_stride} (1..255)"),
        (1 <= h.iterations <= 255, f"iterations {h.iterations} (1..255)"),
    ]
    for ok, field in checks:
        if not ok:
            return f"bad {field}"
    problem = _tiling_problem(h)
    if problem:
        return problem
    if _ITER_FIXED + h.max_iter_payload() > MAX_CHUNK_LENGTH:
        return "code too large for an ITER chunk"
    if h.mode in ALPHA_MODES and h.version < ALPHA_VERSION:
        return f"mode {h.mode} needs format version {ALPHA_VERSION[0]}.{ALPHA_VERSION[1]} or later"
    return None


def _tiling_problem(h: Header) -> str | None:
    """Tiles exactly in version 3 and later; whole code cells; not too many of them."""
    if (h.version >= TILED_VERSION) != h.tiled:
        return "a tile size goes with format version 3 and later, and version 3 needs one"
    if not h.tiled:
        return None
    for side, name in ((h.tile_width, "tile_width"), (h.tile_height, "tile_height")):
        if not (0 < side <= MAX_DIMENSION and side % h.code_stride == 0):
            return f"bad {name} {side} (a multiple of code_stride {h.code_stride}, up to {MAX_DIMENSION})"
    columns, rows = h.tile_grid()
    if columns * rows > MAX_TILES:
        return f"{columns}x{rows} tiles, more than {MAX_TILES}"
    if not 0 <= h.tile_overlap <= min(MAX_TILE_OVERLAP, h.tile_width // 2, h.tile_height // 2):
        limit = f"0 to half the smaller tile side, at most {MAX_TILE_OVERLAP}"
        return f"bad tile_overlap {h.tile_overlap} ({limit})"
    return None


def version_for(mode: str, codings=()) -> tuple[int, int]:
    """The version this module writes for a picture of ``mode`` with ``codings`` (of chunks and tile entries).

    Tiles (coding 2) need 3.0; alpha needs 2.0, and so does any coding-1 chunk;
    coding 3 needs minor version 1 (2.1, or 3.1 with tiles), coding 4 minor version 2,
    codings 5 and 6 minor version 3; anything else is 1.0.
    """
    base = ALPHA_VERSION if mode in ALPHA_MODES else FORMAT_VERSION
    needs = [base, *(CODING_VERSION[coding] for coding in codings)]
    return max(major for major, _ in needs), max(minor for _, minor in needs)


def _coding_problem(version: tuple[int, int], coding: int) -> str | None:
    """Why ``coding`` may not appear in a file of ``version``, or None."""
    if coding not in CODING_VERSION:
        return f"unsupported coding {coding}"
    need = CODING_VERSION[coding]
    if version[0] < need[0] or version[1] < need[1]:
        major = max(version[0], need[0])  # the minor version a coding needs is the same in every major
        return f"coding {coding} in a version {version[0]}.{version[1]} file (needs {major}.{need[1]})"
    return None


@dataclass(frozen=True)
class IterationChunk:
    """One complete, CRC-checked ITER chunk (or the complete segments of a cut one): one iteration's bits."""

    index: int
    offset: int
    size: int
    coding: int
    payload: bytes
    chunk_index: int  # position among the file's chunks (HEAD is 0), for error messages
    tiles: tuple[tuple[int, bytes] | None, ...] | None = None
    """Coding 2: each tile's (coding, payload) in raster order, None for a tile that has ended."""
    cut: bool = False
    """The file ends inside this chunk: a coding-4 chunk read as its complete segments, CRC unchecked.
    Its ``size`` is then that of the complete chunk those segments make (``truncate`` writes it)."""


@dataclass(frozen=True)
class AlphaChunk:
    """The complete, CRC-checked ALPH chunk: how the alpha plane is stored, and the stored bytes."""

    offset: int
    chunk_index: int
    method: int
    data: bytes


@dataclass(frozen=True)
class Container:
    """What ``read`` found: the header, the decodable iterations, and whether the file was whole."""

    header: Header
    iterations: list[IterationChunk]
    ancillary: dict[str, bytes]
    complete: bool
    corrupt: str | None = None
    alpha: AlphaChunk | None = None


@dataclass(frozen=True)
class Scan:
    """What ``scan`` found from the chunk frames: like ``Container`` but with counts instead of payloads."""

    header: Header
    iterations: int
    complete: bool
    ancillary: dict[str, bytes]
    corrupt: str | None = None


# --- construct schema --------------------------------------------------------

_FRAME = Struct("length" / Int32ub, "type" / Bytes(4))
"""The 8 bytes in front of every chunk's data: enough to walk the file without reading payloads."""

_CHUNK = Struct(
    "length" / Rebuild(Int32ub, len_(this.data)),
    "type" / Bytes(4),
    "data" / Bytes(this.length),
    "crc" / Checksum(Int32ub, zlib.crc32, lambda ctx: ctx.type + ctx.data),
)

_HEAD = Struct(
    "major" / Int8ub,
    "minor" / Int8ub,
    "width" / Int32ub,
    "height" / Int32ub,
    "mode" / Int8ub,
    "code_channels" / Int8ub,
    "code_stride" / Int8ub,
    "iterations" / Int8ub,
    "model_id" / Prefixed(Int8ub, GreedyBytes),
    "model_hash" / Bytes(32),
    "extension" / GreedyBytes,  # fields of later minor versions, kept verbatim by truncate()
)
_HEAD_FIXED = 15 + 32  # HEAD data bytes besides the model_id itself
_HEAD_PREFIX = len(SIGNATURE) + _FRAME.sizeof() + 2  # through the version bytes

_ITER = Struct("index" / Int16ub, "coding" / Int8ub, "payload" / GreedyBytes)
_ITER_FIXED = 3  # ITER data bytes before the payload

_TILES = Struct("tile_width" / Int32ub, "tile_height" / Int32ub, "tile_overlap" / Int32ub)
"""The HEAD fields of version 3, after ``model_hash``."""

_ALPH = Struct("method" / Int8ub, "data" / GreedyBytes)
ALPHA_METHODS = {0}
"""ALPH methods this reader knows: 0 = zlib of the alpha plane (``alpha.py``)."""


def _chunk(chunk_type: bytes, data: bytes) -> bytes:
    return _CHUNK.build({"type": chunk_type, "data": data})


_IEND = _CHUNK.build({"type": b"IEND", "data": b""})


def _type_name(chunk_type: bytes) -> str:
    return chunk_type.decode("latin-1")


def _is_critical(chunk_type: bytes) -> bool:
    """PNG's rule: bit 5 of the first type byte clear (an uppercase letter) means critical."""
    return not chunk_type[0] & 0x20


# --- writing -----------------------------------------------------------------


def write(
    header: Header,
    payloads: list[tuple[int, bytes]],
    ancillary: dict[str, bytes] | None = None,
    alpha: bytes | None = None,
) -> bytes:
    """A complete file: HEAD, ALPH, the ancillary chunks, one ITER per ``(coding, payload)``, IEND.

    ``alpha`` is the ALPH chunk data, given exactly when the mode has alpha.
    Refuses (``ValueError``) anything a reader would refuse, so a written file
    always reads back.  Only ``version_for(header.mode, codings)`` is written.
    """
    codings = [coding for coding, _ in payloads]
    for index, coding in enumerate(codings):
        if coding not in CODING_VERSION:
            raise ValueError(f"unsupported coding {coding} for iteration {index}")
    codings += _entry_codings(header, payloads)
    if header.version != version_for(header.mode, codings):
        raise ValueError(
            f"can only write version {version_for(header.mode, codings)} for mode {header.mode} "
            f"with codings {sorted(set(codings))}, not {header.version}"
        )
    if len(payloads) != header.iterations:
        raise ValueError(f"{len(payloads)} payloads for a header of {header.iterations} iterations")
    if (alpha is not None) != (header.mode in ALPHA_MODES):
        raise ValueError(f"an ALPH chunk goes with the modes LA and RGBA only, not {header.mode}")
    chunks = [SIGNATURE, _chunk(b"HEAD", _build_head(header))]
    if alpha is not None:
        if not alpha or alpha[0] not in ALPHA_METHODS:
            raise ValueError("ALPH data must start with a known method byte")
        chunks.append(_chunk(b"ALPH", alpha))
    for name, data in (ancillary or {}).items():
        chunk_type = name.encode("latin-1")
        if not _CHUNK_TYPE.fullmatch(chunk_type) or _is_critical(chunk_type):
            raise ValueError(f"{name!r} is not an ancillary chunk type (4 letters, the first lowercase)")
        chunks.append(_chunk(chunk_type, data))
    ended: set[int] = set()
    for index, (coding, payload) in enumerate(payloads):
        if len(payload) > header.max_iter_payload():
            raise ValueError(
                f"iteration {index}: a payload of {len(payload)} bytes, longer than a reader accepts"
            )
        problem, _ = _payload_problem(header, coding, payload, index, ended)
        if problem:
            raise ValueError(f"iteration {index}: {problem}")
        chunks.append(_iteration_chunk(index, coding, payload))
    chunks.append(_IEND)
    return b"".join(chunks)


def _entry_codings(header: Header, payloads: list[tuple[int, bytes]]) -> list[int]:
    """The codings of the tile entries of the coding-2 payloads (the version depends on them too)."""
    count = len(header.tiles())
    entries = [_tile_entries(payload, count)[1] for coding, payload in payloads if coding == CODING_TILED]
    return [entry[0] for split in entries for entry in split if entry is not None]


def _build_head(h: Header) -> bytes:
    major, minor = h.version
    return _HEAD.build(
        {
            "major": major,
            "minor": minor,
            "width": h.width,
            "height": h.height,
            "mode": MODE_CHANNELS[h.mode],
            "code_channels": h.code_channels,
            "code_stride": h.code_stride,
            "iterations": h.iterations,
            "model_id": h.model_id.encode("ascii"),
            "model_hash": h.model_hash,
            "extension": _TILES.build(vars(h)) if h.tiled else b"",
        }
    )


def tiled_payload(entries: list[tuple[int, bytes] | None]) -> bytes:
    """The coding-2 payload of one iteration: each tile's (coding, payload), or None once it has ended."""
    parts = []
    for entry in entries:
        if entry is None:
            parts.append(bytes(TILE_ENTRY_FIXED))
        else:
            coding, payload = entry
            parts.append(Int32ub.build(1 + len(payload)) + bytes([coding]) + payload)
    return b"".join(parts)


def _tile_entries(payload: bytes, count: int) -> tuple[str | None, list[tuple[int, bytes] | None]]:
    """Splits a coding-2 payload into ``count`` tile entries; a problem if it does not split exactly."""
    entries: list[tuple[int, bytes] | None] = []
    offset = 0
    for tile in range(count):
        if offset + TILE_ENTRY_FIXED > len(payload):
            return f"payload ends in the entry of tile {tile} of {count}", entries
        length = Int32ub.parse(payload[offset : offset + TILE_ENTRY_FIXED])
        offset += TILE_ENTRY_FIXED
        if offset + length > len(payload):
            return f"entry of tile {tile} ({length} bytes) runs past the payload", entries
        entries.append((payload[offset], payload[offset + 1 : offset + length]) if length else None)
        offset += length
    if offset != len(payload):
        return f"{len(payload) - offset} bytes after the entry of the last tile", entries
    return None, entries


# --- reading: signature and HEAD ---------------------------------------------


def _head_end(prefix: bytes) -> int:
    """Checks signature, first chunk type, version and HEAD length; returns the byte offset after HEAD.

    Needs only the first ``_HEAD_PREFIX`` bytes, so ``scan`` can call it
    before reading the rest of HEAD.  The major version is checked before the
    HEAD length, because a future major version may lay HEAD out differently.
    """
    if prefix[: len(SIGNATURE)] != SIGNATURE:
        if len(prefix) < len(SIGNATURE) and SIGNATURE.startswith(prefix):
            raise _truncated(len(prefix))
        raise NotRGCError("not an RGC file (bad signature)")
    if len(prefix) < len(SIGNATURE) + _FRAME.sizeof():
        raise _truncated(len(prefix))
    frame = _FRAME.parse(prefix[len(SIGNATURE) :])
    if frame.type != b"HEAD":
        raise CorruptChunkError("the first chunk must be HEAD", _type_name(frame.type), 0, len(SIGNATURE))
    if len(prefix) < _HEAD_PREFIX:
        raise _truncated(len(prefix))
    major, minor = prefix[_HEAD_PREFIX - 2 : _HEAD_PREFIX]
    if major not in READ_MAJORS:
        raise UnsupportedVersionError((major, minor))
    fixed = _HEAD_FIXED + (_TILES.sizeof() if major >= TILED_VERSION[0] else 0)
    longest = fixed + 64 if minor == 0 else MAX_HEAD_LENGTH  # 64: the longest model_id
    if not fixed + 1 <= frame.length <= longest:
        raise CorruptChunkError(f"data length {frame.length}", "HEAD", 0, len(SIGNATURE))
    return len(SIGNATURE) + _FRAME.sizeof() + frame.length + 4


def _read_head(data: bytes) -> tuple[Header, int]:
    """The validated header of a file starting at ``data[0]``, and the byte offset after HEAD."""
    end = _head_end(data[:_HEAD_PREFIX])
    if len(data) < end:
        raise _truncated(len(data))
    try:
        head = _HEAD.parse(_checked_chunk(data[len(SIGNATURE) : end], 0, len(SIGNATURE)).data)
    except ConstructError:
        raise _corrupt_head("data too short for its fields") from None
    tiles = {"tile_width": 0, "tile_height": 0, "tile_overlap": 0}
    if head.major >= TILED_VERSION[0]:
        if len(head.extension) < _TILES.sizeof():
            raise _corrupt_head("data too short for the tile size")
        tiles = _TILES.parse(head.extension)
        known = _TILES.sizeof()
    else:
        known = 0
    if head.minor == 0 and len(head.extension) != known:
        extra = len(head.extension) - known
        raise _corrupt_head(f"{extra} bytes after the last field in a version {head.major}.0 header")
    if head.mode not in _MODES:
        raise _corrupt_head(f"unknown mode byte {head.mode}")
    try:
        header = Header(
            width=head.width,
            height=head.height,
            mode=_MODES[head.mode],
            model_id=head.model_id.decode("latin-1"),
            model_hash=head.model_hash,
            code_channels=head.code_channels,
            code_stride=head.code_stride,
            iterations=head.iterations,
            version=(head.major, head.minor),
            tile_width=tiles["tile_width"],
            tile_height=tiles["tile_height"],
            tile_overlap=tiles["tile_overlap"],
        )
    except ValueError as error:
        raise _corrupt_head(str(error)) from None
    return header, end


def _corrupt_head(reason: str) -> CorruptChunkError:
    return CorruptChunkError(reason, "HEAD", 0, len(SIGNATURE))


def _checked_chunk(chunk: bytes, chunk_index: int, offset: int):
    """Parses one whole chunk (exactly its bytes), raising ``CorruptChunkError`` on a bad CRC."""
    try:
        return _CHUNK.parse(chunk)
    except ChecksumError:
        raise CorruptChunkError("bad CRC", _type_name(chunk[4:8]), chunk_index, offset) from None


# --- reading: the chunks after HEAD ------------------------------------------


class _Walk:
    """The rules on the chunks after HEAD, applied as the file is walked; shared by ``read`` and ``scan``.

    ``check_frame`` needs only a chunk's length and type, so it also judges a
    chunk that the data cuts short: that is how an absurd length (corrupt) is
    told from a cut.  ``accept`` counts a chunk once it is complete.
    """

    def __init__(self, header: Header):
        self.header = header
        self.chunk_index = 1
        self.iterations = 0
        self.seen_ancillary: set[str] = set()
        self.seen_alpha = False
        self.ended_tiles: set[int] = set()  # coding 2: tiles whose iterations are over
        self.complete = False  # IEND reached

    def corrupt(self, reason: str, chunk_type: bytes, offset: int) -> CorruptChunkError:
        return CorruptChunkError(reason, _type_name(chunk_type), self.chunk_index, offset)

    def check_frame(self, offset: int, length: int, chunk_type: bytes) -> None:
        problem = self._frame_problem(length, chunk_type)
        if problem:
            raise self.corrupt(problem, chunk_type, offset)

    def _frame_problem(self, length: int, chunk_type: bytes) -> str | None:
        name = _type_name(chunk_type)
        if not _CHUNK_TYPE.fullmatch(chunk_type):
            return "chunk type is not 4 ASCII letters"
        if length > MAX_CHUNK_LENGTH:
            return f"length {length} above 2^31-1"
        if chunk_type == b"ITER":
            return self._iter_frame_problem(length)
        if chunk_type == b"ALPH" and self.header.version >= ALPHA_VERSION:
            return self._alpha_frame_problem(length)
        if chunk_type == b"IEND":
            if length:
                return f"data length {length}, must be 0"
            if self.iterations != self.header.iterations:
                return f"IEND after {self.iterations} of the header's {self.header.iterations} iterations"
            return None
        if _is_critical(chunk_type):
            return "duplicate HEAD chunk" if chunk_type == b"HEAD" else "unknown critical chunk"
        if name in KNOWN_ANCILLARY and self.iterations:
            return "out of order: must come before the first ITER chunk"
        if name in self.seen_ancillary:
            return "duplicate chunk"
        return None

    def _iter_frame_problem(self, length: int) -> str | None:
        longest = _ITER_FIXED + self.header.max_iter_payload()
        if not _ITER_FIXED <= length <= longest:
            return f"data length {length} outside {_ITER_FIXED}..{longest}"
        if self.iterations >= self.header.iterations:
            return f"more ITER chunks than the header's {self.header.iterations} iterations"
        if self.header.mode in ALPHA_MODES and not self.seen_alpha:
            return f"no ALPH chunk before the first ITER of a {self.header.mode} file"
        return None

    def _alpha_frame_problem(self, length: int) -> str | None:
        if self.header.mode not in ALPHA_MODES:
            return f"ALPH chunk in a {self.header.mode} file, which has no alpha"
        if self.seen_alpha:  # an ALPH after ITER 0 is one too: ITER 0 needs one before it
            return "duplicate chunk"
        if length < 1:
            return "data length 0, must hold at least the method byte"
        return None

    def accept(self, chunk_type: bytes) -> None:
        if chunk_type == b"ITER":
            self.iterations += 1
        elif chunk_type == b"ALPH":
            self.seen_alpha = True
        elif _type_name(chunk_type) in KNOWN_ANCILLARY:
            self.seen_ancillary.add(_type_name(chunk_type))
        self.chunk_index += 1


def read(data: bytes, on_corrupt: str = "raise") -> Container:
    """Parses a whole or cut file, checking every CRC.

    A cut file yields its complete ITER chunks with ``complete=False``, and the
    complete segments of a coding-4 chunk the cut falls in (``cut=True``).  A
    corrupt chunk raises ``CorruptChunkError``; with ``on_corrupt="stop"`` the
    iterations before it are returned instead (with ``corrupt`` set), since a
    progressive file is still useful up to the damage.  HEAD damage, or damage
    before the first complete ITER, always raises.
    """
    if on_corrupt not in ("raise", "stop"):
        raise ValueError(f"on_corrupt must be 'raise' or 'stop', not {on_corrupt!r}")
    data = bytes(data)
    header, offset = _read_head(data)
    walk = _Walk(header)
    iterations: list[IterationChunk] = []
    ancillary: dict[str, bytes] = {}
    alpha = None
    corrupt = None
    try:
        for chunk_type, chunk_offset, chunk_data in _chunks(io.BytesIO(data), 0, offset, len(data), walk):
            if chunk_type == _CUT_ITER:
                iterations += filter(None, [_cut_iteration(walk, chunk_data, chunk_offset)])
            elif chunk_type == b"ITER":
                iterations.append(_iteration(walk, chunk_data, chunk_offset))
            elif chunk_type == b"ALPH":
                alpha = _alpha(walk, chunk_data, chunk_offset)
            elif _type_name(chunk_type) in KNOWN_ANCILLARY:
                ancillary[_type_name(chunk_type)] = chunk_data
    except CorruptChunkError as error:
        if on_corrupt == "raise" or not iterations:
            raise
        corrupt = str(error)
    if not iterations:
        raise _truncated(len(data))
    return Container(header, iterations, ancillary, walk.complete, corrupt, alpha)


def _chunks(fp, start: int, offset: int, size: int, walk: _Walk, wanted=lambda chunk_type: True):
    """The complete chunks from ``offset`` on, as (type, offset, data or None), checked by ``walk``.

    The walk shared by ``read`` and ``scan``: each chunk's frame is judged from
    its 8 bytes, even when the data ends inside the chunk (a cut, which ends
    the walk; an ITER chunk cut after its frame comes last, as type
    ``_CUT_ITER`` with the data there is); the data of the types ``wanted``
    picks is read and CRC-checked, the others are sought past. The walk accepts a chunk once the caller has
    used it, and stops after IEND (``walk.complete``). Offsets count from
    ``start`` in ``fp``; ``size`` bytes follow it.
    """
    while offset + _FRAME.sizeof() <= size:
        fp.seek(start + offset)
        frame = _FRAME.parse(fp.read(_FRAME.sizeof()))
        walk.check_frame(offset, frame.length, frame.type)
        end = offset + _FRAME.sizeof() + frame.length + 4
        if end > size:
            if frame.type == b"ITER" and not walk.header.tiled:  # only codings 4 and 6 are read when cut
                available = min(frame.length, size - offset - _FRAME.sizeof())
                head = fp.read(min(_ITER_FIXED, available))
                if len(head) == _ITER_FIXED and head[2] in entropy.SEGMENTED_CODINGS:
                    yield _CUT_ITER, offset, head + fp.read(available - _ITER_FIXED)
            return
        data = None
        if wanted(frame.type):
            fp.seek(start + offset)
            data = _checked_chunk(fp.read(end - offset), walk.chunk_index, offset).data
        yield frame.type, offset, data
        walk.accept(frame.type)
        if frame.type == b"IEND":
            walk.complete = True
            return
        offset = end


_CUT_ITER = b"ITER cut"
"""What ``_chunks`` calls an ITER chunk the data ends inside."""


def _cut_iteration(walk: _Walk, data: bytes, offset: int) -> IterationChunk | None:
    """The complete segments of a coding-4 (or 6) ITER chunk that the file ends inside, or None.

    A cut is not an error (spec: "Reading a file", 4), so a cut chunk that is not
    coding 4 or 6, holds no complete segment or breaks a rule is ignored, as any
    other cut chunk is. Its CRC is not there to check; each segment's coded
    words must still be used up exactly when decoded.
    """
    header = walk.header
    fields = _ITER.parse(data)  # ``_chunks`` hands on only the coding-4 and 6 chunks of one-tile pictures
    if fields.index != walk.iterations:
        return None
    payload = entropy.whole_segments(fields.coding, fields.payload, header.code_channels)
    if not payload or _tile_payload_problem(
        header, fields.coding, payload, fields.index, header.width, header.height
    ):
        return None
    size = _FRAME.sizeof() + _ITER_FIXED + len(payload) + 4  # as truncate() frames it again, CRC and all
    return IterationChunk(fields.index, offset, size, fields.coding, payload, walk.chunk_index, cut=True)


def _alpha(walk: _Walk, data: bytes, offset: int) -> AlphaChunk:
    """The fields of a CRC-checked ALPH chunk; its method must be known (``alpha.decode`` checks the rest)."""
    fields = _ALPH.parse(data)
    if fields.method not in ALPHA_METHODS:
        raise walk.corrupt(f"unsupported alpha method {fields.method}", b"ALPH", offset)
    return AlphaChunk(offset, walk.chunk_index, fields.method, fields.data)


def _iteration(walk: _Walk, data: bytes, offset: int) -> IterationChunk:
    """The fields of a CRC-checked ITER chunk, checked against the walk so far and the header."""
    fields = _ITER.parse(data)
    if fields.index != walk.iterations:
        problem = f"iteration index {fields.index}, expected {walk.iterations} (duplicate, gap or reorder)"
        raise walk.corrupt(problem, b"ITER", offset)
    header, ended = walk.header, walk.ended_tiles
    problem, tiles = _payload_problem(header, fields.coding, fields.payload, fields.index, ended)
    if problem:
        raise walk.corrupt(problem, b"ITER", offset)
    size = _FRAME.sizeof() + len(data) + 4
    return IterationChunk(fields.index, offset, size, fields.coding, fields.payload, walk.chunk_index, tiles)


def _payload_problem(
    header: Header, coding: int, payload: bytes, index: int, ended: set[int]
) -> tuple[str | None, tuple | None]:
    """What is wrong with iteration ``index``'s payload that shows without decoding it, or None.

    With it, for coding 2, the tile entries. ``ended`` holds the tiles whose
    iterations ended before this one, and gains those that end here.
    """
    problem = _coding_problem(header.version, coding)
    if problem:
        return problem, None
    if header.tiled != (coding == CODING_TILED):
        return f"coding {coding} in a {'tiled' if header.tiled else 'one-tile'} picture", None
    if coding != CODING_TILED:
        problem = _tile_payload_problem(header, coding, payload, index, header.width, header.height)
        if not problem and index + 1 < header.iterations and _partial(header, coding, payload):
            problem = "a partial iteration (coding 4 or 6 without all its segments) before the last"
        return problem, None
    tiles = header.tiles()
    problem, entries = _tile_entries(payload, len(tiles))
    if problem:
        return problem, None
    for tile, (entry, (_, _, width, height)) in enumerate(zip(entries, tiles)):
        if entry is None:
            if not index:
                return f"tile {tile} has no bits in the first iteration", None
            ended.add(tile)
            continue
        if tile in ended:
            return f"tile {tile} has bits after its iterations ended", None
        problem = _tile_payload_problem(header, *entry, index, width, height)
        if problem:
            return f"tile {tile}: {problem}", None
        if _partial(header, *entry):
            ended.add(tile)  # a partial iteration is a tile's last
    return None, tuple(entries)


def _partial(header: Header, coding: int, payload: bytes) -> bool:
    """Whether a (checked) payload holds only the first channels of its iteration."""
    return entropy.known_channels(coding, payload, header.code_channels) < header.code_channels


def _tile_payload_problem(
    header: Header, coding: int, payload: bytes, index: int, width: int, height: int
) -> str | None:
    """What is wrong with the coding-0, 1, 3, 4, 5 or 6 bits of a picture or tile, or None."""
    if coding == CODING_RAW:
        expected = header.raw_payload_size(width, height)
        return None if len(payload) == expected else f"payload of {len(payload)} bytes, expected {expected}"
    if coding in CODING_VERSION and coding not in (CODING_RAW, CODING_TILED):
        problem = _coding_problem(header.version, coding)
        if not problem and coding in _NEVER_FIRST and not index:
            problem = f"coding {coding} in the first iteration"
        return problem or entropy.payload_problem(coding, payload, header.code_shape(width, height), index)
    return f"unsupported coding {coding}"


def scan(fp, on_corrupt: str = "raise") -> Scan:
    """Header, number of decodable ITER chunks, whether IEND was reached and the known ancillary chunks.

    For Pillow's ``_open``, which must stay cheap: reads the signature and
    HEAD (CRC-checked) and the data of the known ancillary chunks (metadata,
    CRC-checked), then only each other chunk's 8-byte length and type, seeking
    past the data (when the file ends inside a coding-4 ITER chunk, its data
    there, to count it when it holds a complete segment).  Finds framing damage
    (absurd length, unknown critical or misplaced chunk) but not bad CRCs or
    fields inside ITER chunks; ``read`` finds those when the pixels are decoded.
    ``on_corrupt`` is as in ``read``.  Offsets count from the position of
    ``fp`` on entry (0 for a file); ``fp`` is left after the last chunk read.
    """
    if on_corrupt not in ("raise", "stop"):
        raise ValueError(f"on_corrupt must be 'raise' or 'stop', not {on_corrupt!r}")
    start = fp.tell()
    size = fp.seek(0, io.SEEK_END) - start
    fp.seek(start)
    prefix = fp.read(_HEAD_PREFIX)
    head_end = _head_end(prefix)
    header, offset = _read_head(prefix + fp.read(head_end - len(prefix)))
    walk = _Walk(header)
    ancillary: dict[str, bytes] = {}
    corrupt = None
    cut = False  # the file ends inside a coding-4 ITER chunk, after a complete segment

    def metadata(chunk_type: bytes) -> bool:
        return _type_name(chunk_type) in KNOWN_ANCILLARY

    try:
        for chunk_type, chunk_offset, chunk_data in _chunks(fp, start, offset, size, walk, metadata):
            if chunk_type == _CUT_ITER:
                cut = _cut_iteration(walk, chunk_data, chunk_offset) is not None
            elif chunk_data is not None:
                ancillary[_type_name(chunk_type)] = chunk_data
    except CorruptChunkError as error:
        if on_corrupt == "raise" or not walk.iterations:
            raise
        corrupt = str(error)
    if not walk.iterations:
        raise _truncated(size)
    return Scan(header, walk.iterations + cut, walk.complete, ancillary, corrupt)


# --- truncation --------------------------------------------------------------


_NEVER_FIRST = (CODING_SEGMENTED, CODING_SILENT, CODING_SILENT_SEGMENTED)
"""Codings that MUST NOT store ITER 0 (spec: "Versioning"), so a reader that predates them gets a picture."""


def truncate(data: bytes, iterations: int | None = None, max_bytes: int | None = None) -> bytes:
    """A complete, self-consistent file holding the first iterations of ``data``.

    Keeps the first ``iterations`` ITER chunks, or as many as fit in
    ``max_bytes`` (the whole output, IEND included), the smaller when both are
    given, and every chunk between HEAD and the last kept ITER verbatim
    (ancillary chunks included). When ``max_bytes`` stops it at a coding-4 or 6
    chunk (of a one-tile picture), the complete segments of that chunk that
    fit make a partial last iteration. The HEAD ``iterations`` field is set to
    the number kept (and its CRC recomputed), so the result reads as complete
    rather than cut: this is how a progressive file is trimmed to a bit budget.
    ``data`` may itself be cut (asking for more iterations than it holds keeps
    them all); it must not be corrupt.
    """
    if iterations is not None and iterations < 1:
        raise ValueError(f"iterations must be at least 1, not {iterations}")
    parsed = read(data)
    chunks = parsed.iterations
    wanted = keep = len(chunks) if iterations is None else min(iterations, len(chunks))
    if max_bytes is not None:
        sizes = [chunk.offset + chunk.size + len(_IEND) for chunk in chunks[:wanted]]
        keep = sum(1 for size in sizes if size <= max_bytes)
        if not keep:
            raise ValueError(f"not even one iteration fits in {max_bytes} bytes (needs {sizes[0]})")
    last = chunks[keep - 1]
    cut = []
    if keep < wanted:  # max_bytes stopped it: a coding-4 or 6 chunk may still give its first segments
        cut = _segments_that_fit(parsed.header, chunks[keep], max_bytes - sizes[keep - 1])
    _, head_end = _read_head(data)
    head = _HEAD.parse(_CHUNK.parse(data[len(SIGNATURE) : head_end]).data)
    head.iterations = keep + len(cut)
    if last.cut:  # the complete segments of a cut chunk, framed anew
        body = data[head_end : last.offset] + _iteration_chunk(last.index, last.coding, last.payload)
    else:
        body = data[head_end : last.offset + last.size]
    return b"".join([SIGNATURE, _chunk(b"HEAD", _HEAD.build(head)), body, *cut, _IEND])


def _iteration_chunk(index: int, coding: int, payload: bytes) -> bytes:
    return _chunk(b"ITER", _ITER.build({"index": index, "coding": coding, "payload": payload}))


def _segments_that_fit(header: Header, chunk: IterationChunk, room: int) -> list[bytes]:
    """An ITER chunk of the complete segments of coding-4 (or 6) ``chunk`` that fit ``room`` more bytes, or
    none."""
    if header.tiled:
        return []
    fitting = room - _FRAME.sizeof() - _ITER_FIXED - 4  # frame, index and coding, CRC
    payload = entropy.whole_segments(chunk.coding, chunk.payload[: max(fitting, 0)], header.code_channels)
    if not payload:
        return []
    return [_iteration_chunk(chunk.index, chunk.coding, payload)]
