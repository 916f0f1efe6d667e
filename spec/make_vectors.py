"""(Re)generate the conformance vectors: ``spec/vectors/*.rgc``, their expected pixels and the manifests.

    python spec/make_vectors.py

Run it only on a deliberate format change (and add a changelog entry to
``spec/rgc.md``): the vectors pin what every reader must do with these exact
bytes, so they are not rebuilt casually.  The vectors of ``manifest.json`` are
bound to the frozen model ``rgc-tiny-test``; those of ``manifest-prior.json``
(coding 3, versions 2.1 and 3.1), ``manifest-segmented.json`` (coding 4,
versions 2.2 and 3.2) and ``manifest-silent.json`` (codings 5 and 6, version
2.3) to ``rgc-tiny-test-prior``, the same graphs with a frozen context prior.

Two steps, kept apart on purpose:

1. ``encode_sources``: pictures made here (gradients, shapes and seeded
   noise, no input files) are encoded with ``pillow_rgc.encode``: three 1.0
   files, a 2.0 file whose iterations are all stored with coding 1 (context-coded
   bits) and two 2.0 files with alpha (RGBA, LA), a tiled 3.0 file, and the
   sources of the other manifests (``PRIOR_SOURCES``, ``SEGMENTED_SOURCES``,
   encoded with ``rgc-tiny-test-prior``).  This step runs float networks,
   so on another machine it may give other bits: the committed files are the
   reference, not this step.
2. ``derive`` (``derive_prior``, ``derive_segmented``): every other vector
   (cut, damaged, re-wrapped, truncated) is made from the bytes of the base
   files (``BASE``, ``CODING1_BASE``, ``ALPHA_BASE``, ``TILED_BASE``,
   ``PRIOR_BASE``, ``PRIOR_TILED_BASE``, ``SEGMENTED_BASE``,
   ``PARTIAL_TILED_BASE``) with plain byte surgery (``struct`` and ``zlib``'s
   checksums, independent of the module under test; zlib streams are built by
   hand from stored blocks, so no compressor is involved).  This step is exact,
   so ``tests/test_conformance.py`` checks that the committed derived files are
   what ``derive`` makes from the committed base files.

Expected outcomes are written by hand from ``spec/rgc.md``; the script then
checks each one against ``pillow_rgc.container`` and refuses to write vectors
that the reference reader disagrees with.  The decoded bits of every coding-1
chunk are also checked against ``spec_coding1_bits``, a plain transcription of
the spec's *Context-coded payload* that shares no code with ``entropy.py``, and
those of every coding-3, 4, 5 and 6 chunk (and of the complete segments of a
cut coding-4 or 6 chunk) against ``spec_coding3_bits``, ``spec_coding4_bits``
and ``spec_silent_bits``, transcriptions of *Prior-coded payload*, *Segmented
prior-coded payload* and *Silent cells* that share no code with
``prior_coding.py`` or ``silence.py``.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import struct
import sys
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageCms

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from a checkout
    sys.path.insert(0, str(ROOT))

import pillow_rgc  # noqa: E402  (registers the plugin too)
from pillow_rgc import alpha, api, container, entropy  # noqa: E402
from pillow_rgc.models import find_model  # noqa: E402

VECTORS = ROOT / "spec" / "vectors"
MANIFEST = VECTORS / "manifest.json"
MODEL = "rgc-tiny-test"
BASE = "rgb-48x40-4it.rgc"
"""The 1.0 vector the 1.0 cut and damaged vectors are made from."""
CODING1_BASE = "rgb-256x192-coding1-4it.rgc"
"""The 2.0 vector whose every ITER uses coding 1; the coding-1 cut and damaged vectors are made from it."""
ALPHA_BASE = "rgba-24x20-3it.rgc"
"""The 2.0 RGBA vector the alpha cut and damaged vectors are made from."""
TILED_BASE = "tiled-rgb-80x48-4it.rgc"
"""The 3.0 vector in 32x32 tiles (one of which ends early) the tiled cut and damaged vectors are made from."""
KNOWN_ANCILLARY = "rgb-48x40-4it-ancillary-known.rgc"

FORMAT_VERSION = "3.0"
"""The format version these vectors test (files of 1.0, 1.1, 2.0 and 3.0)."""

PRIOR_MANIFEST = VECTORS / "manifest-prior.json"
PRIOR_MODEL = "rgc-tiny-test-prior"
"""The frozen model with a context prior (rgc-tiny-test's graphs) that the coding-3 vectors are bound to."""
PRIOR_FORMAT_VERSION = "3.1"
"""The format version the coding-3 vectors test (files of 2.1 and 3.1)."""
PRIOR_BASE = "prior-rgb-256x192-coding3-4it.rgc"
"""The 2.1 vector whose every ITER uses coding 3; the coding-3 cut and damaged vectors are made from it."""
PRIOR_TILED_BASE = "prior-tiled-rgb-160x96-4it.rgc"
"""The 3.1 vector in tiles whose entries use coding 3 (the tiled coding-3 vectors are made from it)."""

SEGMENTED_MANIFEST = VECTORS / "manifest-segmented.json"
SEGMENTED_FORMAT_VERSION = "3.2"
"""The format version the coding-4 vectors test (files of 2.2 and 3.2; bound to ``PRIOR_MODEL`` too)."""
SEGMENTED_BASE = "prior-rgb-256x192-coding4-4it.rgc"
"""The 2.2 vector whose every ITER after the first uses coding 4; the coding-4 cut and damaged vectors are
made from it."""
PARTIAL_BASE = "prior-rgb-256x192-partial-2it.rgc"
"""The 2.2 vector that a quality target ends with a partial last iteration."""
PARTIAL_TILED_BASE = "prior-tiled-rgb-160x96-partial-4it.rgc"
"""The 3.2 vector with a partial (coding-4) tile entry; the tiled coding-4 vectors are made from it."""

ONE_SHOT_MANIFEST = VECTORS / "manifest-one-shot.json"
ONE_SHOT_MODEL = "rgc-tiny-test-one-shot"
"""The frozen one-shot model (its synthesis graph makes the picture from the last state), with a prior."""
ONE_SHOT_FORMAT_VERSION = "3.2"
"""The version a reader needs for every one-shot vector (they test *Decoding the pixels*, no new version)."""
ONE_SHOT_BASE = "one-shot-rgb-256x192-coding4-4it.rgc"
"""The one-shot vector the one-shot cuts are made from."""
ONE_SHOT_TILED_BASE = "one-shot-tiled-rgb-160x96-4it.rgc"

SILENT_MANIFEST = VECTORS / "manifest-silent.json"
SILENT_FORMAT_VERSION = "2.3"
SILENT_BASE = "silent-rgb-256x192-coding5-5it.rgc"
"""Coding 3, then coding 5 once cells fall silent: the base of the coding-5 vectors."""
SILENT_SEGMENTED_BASE = "silent-rgb-256x192-coding6-5it.rgc"
"""Segmented: coding 4, then coding 6 once cells fall silent: the base of the coding-6 vectors."""
SILENT_PSNR = 30
"""The writer's stop PSNR for the silent sources: cells of their flat half reach it by ITER 3."""

PIXEL_TOLERANCE = {"max_abs": 2, "mean_abs": 0.05}
"""Decoded pixels may differ from the expected PNG by this much (float networks round differently)."""

SIGNATURE = b"\x89RGC\r\n\x1a\n"


# --- source pictures (deterministic) ----------------------------------------


def rgb_picture(width: int = 48, height: int = 40) -> Image.Image:
    """Gradients, a disc, a bar and seeded noise: edges, flat areas and texture in a few pixels."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    red = 255 * x / (width - 1)
    green = 255 * y / (height - 1)
    blue = np.full_like(x, 64.0)
    disc = (x - 30) ** 2 + (y - 16) ** 2 <= 10**2
    blue[disc], red[disc] = 230, 40
    bar = (y >= 28) & (y < 34) & (x >= 4) & (x < 40)
    red[bar], green[bar], blue[bar] = 250, 250, 250
    noise = np.random.default_rng(20240601).normal(0, 10, (height, width, 3))
    pixels = np.stack([red, green, blue], axis=2) + noise
    return Image.fromarray(np.clip(np.rint(pixels), 0, 255).astype(np.uint8), "RGB")


def gray_picture(width: int = 17, height: int = 9) -> Image.Image:
    """A diagonal ramp with a checkerboard and seeded noise, of a size that is no multiple of anything."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    ramp = 255 * (x + y) / (width + height - 2)
    checker = np.where((x // 3 + y // 3) % 2 == 0, 40.0, -40.0)
    noise = np.random.default_rng(17 * 9).normal(0, 6, (height, width))
    return Image.fromarray(np.clip(np.rint(ramp + checker + noise), 0, 255).astype(np.uint8), "L")


def one_pixel() -> Image.Image:
    return Image.new("RGB", (1, 1), (200, 60, 30))


def scene_picture(width: int = 256, height: int = 192) -> Image.Image:
    """Sky, ground, a sun, a dark bar and stripes with mild noise: large flat areas whose bits code well.

    Large enough (16 x 12 code cells of 8 channels, 192 raw bytes per
    iteration) that the writer stores every iteration with coding 1.
    """
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    red = 40 + 180 * x / (width - 1)
    green = 60 + 150 * y / (height - 1)
    blue = np.full_like(x, 90.0)
    sky = y < 0.35 * height
    red[sky], green[sky], blue[sky] = 120 + 60 * y[sky] / height, 170, 235
    sun = (x - 0.7 * width) ** 2 + (y - 0.3 * height) ** 2 <= (0.15 * height) ** 2
    red[sun], green[sun], blue[sun] = 250, 220, 60
    bar = (y >= 0.7 * height) & (y < 0.8 * height) & (x >= 0.1 * width) & (x < 0.6 * width)
    red[bar], green[bar], blue[bar] = 30, 30, 30
    stripes = (x >= 0.75 * width) & (y >= 0.55 * height) & ((x // 4) % 2 == 0)
    red[stripes], green[stripes], blue[stripes] = 240, 240, 240
    noise = np.random.default_rng(256192).normal(0, 6, (height, width, 3))
    pixels = np.stack([red, green, blue], axis=2) + noise
    return Image.fromarray(np.clip(np.rint(pixels), 0, 255).astype(np.uint8), "RGB")


def quiet_picture() -> Image.Image:
    """``scene_picture`` with its left half one flat colour: cells there reach ``SILENT_PSNR`` and fall
    silent, the others keep sending."""
    pixels = np.asarray(scene_picture()).copy()
    pixels[:, :128] = (120, 150, 180)
    return Image.fromarray(pixels)


def rgba_alpha(width: int = 24, height: int = 20) -> np.ndarray:
    """A disc with a soft edge and a transparent hole, above a half-transparent ramp: many levels of alpha."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    radius = np.hypot(x - width / 2, y - 0.4 * height)
    plane = np.clip(255 * (0.4 * height - radius) / 3, 0, 255)
    plane[radius < 2.5] = 0
    ramp = y >= 0.85 * height
    plane[ramp] = 255 * x[ramp] / (width - 1) / 2
    return np.rint(plane).astype(np.uint8)


def rgba_picture(width: int = 24, height: int = 20) -> Image.Image:
    """RGBA: colour ramps with seeded noise (also under the transparent parts), alpha of ``rgba_alpha``."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    colour = np.stack([255 * x / (width - 1), 200 - 150 * y / (height - 1), np.full_like(x, 128.0)], axis=2)
    colour += np.random.default_rng(2420).normal(0, 8, colour.shape)
    pixels = np.dstack([np.clip(np.rint(colour), 0, 255).astype(np.uint8), rgba_alpha(width, height)])
    return Image.fromarray(pixels, "RGBA")


def la_alpha(width: int = 19, height: int = 13) -> np.ndarray:
    """Opaque to transparent from left to right, with fully transparent and fully opaque diagonals."""
    y, x = np.mgrid[0:height, 0:width]
    plane = 255 - (255 * x) // (width - 1)
    plane = np.where((x + y) % 5 == 0, 0, plane)
    return np.where((x - y) % 7 == 0, 255, plane).astype(np.uint8)


def la_picture(width: int = 19, height: int = 13) -> Image.Image:
    gray = np.asarray(gray_picture(width, height))
    return Image.fromarray(np.dstack([gray, la_alpha(width, height)]), "LA")


def tiled_picture(width: int = 80, height: int = 48) -> Image.Image:
    """The RGB picture's gradients, disc and noise over 48 columns, then a flat strip.

    With 32x32 cores and an overlap of 16, the third column of tiles codes
    columns 48 to 79: all flat, so it reaches the writer's quality target
    sooner than the rest and its tiles end before the others.
    """
    pixels = np.asarray(rgb_picture(width, height)).copy()
    pixels[:, 48:] = (90, 140, 200)
    return Image.fromarray(pixels, "RGB")


SOURCES = {
    # file name: (picture, iterations, description)
    BASE: (
        rgb_picture,
        4,
        "RGB 48x40: gradients, a disc, a bar and noise (the base of the 1.0 derived vectors)",
    ),
    "gray-17x9-3it.rgc": (gray_picture, 3, "L 17x9: ramp, checkerboard and noise"),
    "rgb-1x1-2it.rgc": (one_pixel, 2, "RGB 1x1: one orange pixel"),
    CODING1_BASE: (
        scene_picture,
        4,
        "format 2.0, RGB 256x192: sky, sun, bar, stripes and noise, every ITER stored with coding 1 "
        "(context-coded bits; the base of the coding-1 vectors)",
    ),
    ALPHA_BASE: (
        rgba_picture,
        3,
        "format 2.0, RGBA 24x20: colour ramps and noise; alpha a soft-edged disc with a hole above a "
        "half-transparent ramp (the base of the alpha vectors)",
    ),
    "la-19x13-2it.rgc": (
        la_picture,
        2,
        "format 2.0, LA 19x13: ramp, checkerboard and noise; alpha a ramp with transparent and opaque "
        "diagonals",
    ),
    TILED_BASE: (
        tiled_picture,
        4,
        "format 3.0, RGB 80x48 in 3x2 tiles, cores of 32x32 overlapping by 16 (coded regions 48, 64 and 32 "
        "wide, 48 and 32 high): the RGB picture's content beside a flat strip, whose tiles end after fewer "
        "iterations (the base of the tiled vectors)",
    ),
}
SOURCE_OPTIONS = {
    TILED_BASE: {"tile_side": 32, "quality": 0.8},
    PRIOR_TILED_BASE: {"tile_side": 64, "quality": 0.8},
    SEGMENTED_BASE: {"segmented": True},
    PARTIAL_BASE: {"quality": 0.56},
    PARTIAL_TILED_BASE: {"tile_side": 64, "quality": 0.46},
    ONE_SHOT_BASE: {"segmented": True},
    ONE_SHOT_TILED_BASE: {"tile_side": 64},
    SILENT_BASE: {"stop_psnr": SILENT_PSNR},
    SILENT_SEGMENTED_BASE: {"stop_psnr": SILENT_PSNR, "segmented": True},
}
"""Writer options beyond the iteration count, per source."""
ALPHA_PLANES = {ALPHA_BASE: rgba_alpha, "la-19x13-2it.rgc": la_alpha}
"""The alpha planes of the sources with alpha, which every decoder must give back exactly."""


PRIOR_SOURCES = {
    PRIOR_BASE: (
        scene_picture,
        4,
        "format 2.1, RGB 256x192: the coding-1 vector's picture coded with a context prior, every ITER "
        "stored with coding 3 (prior-coded bits; the base of the coding-3 vectors)",
    ),
    PRIOR_TILED_BASE: (
        lambda: tiled_picture(160, 96),
        4,
        "format 3.1, RGB 160x96 in 3x2 tiles, cores of 64x64 overlapping by 16: the tiled vector's "
        "content, larger, coded with a context prior; each tile entry is stored with coding 3 or 0, "
        "whichever is smaller (the base of the tiled coding-3 vectors)",
    ),
}
"""The coding-3 sources, encoded with ``PRIOR_MODEL``."""


SEGMENTED_SOURCES = {
    SEGMENTED_BASE: (
        scene_picture,
        4,
        "format 2.2, RGB 256x192: the coding-3 vector's picture, every ITER after the first stored with "
        "coding 4 (segmented prior-coded bits, 8 segments of 1 channel; the base of the coding-4 vectors)",
    ),
    PARTIAL_BASE: (
        scene_picture,
        2,
        "format 2.2, RGB 256x192: the coding-3 vector's picture at quality 0.56, which ITER 1 reaches with "
        "its first 3 channels: ITER 1 is partial, coding 4 with 3 of its 8 segments (the same bytes as the "
        "coding-4 vector truncated to this size)",
    ),
    PARTIAL_TILED_BASE: (
        lambda: tiled_picture(160, 96),
        4,
        "format 3.2, RGB 160x96 in 3x2 tiles, cores of 64x48 overlapping by 16: the tiled coding-3 vector's "
        "picture at quality 0.46; tile 0 ends in ITER 1 with a partial coding-4 entry (1 of its 8 "
        "segments), tile 3 goes on to ITER 3, the others end after ITER 0 (the base of the tiled coding-4 "
        "vectors)",
    ),
}
"""The coding-4 sources, encoded with ``PRIOR_MODEL`` (under ``SOURCE_OPTIONS``)."""


ONE_SHOT_SOURCES = {
    ONE_SHOT_BASE: (
        scene_picture,
        4,
        "format 2.2, RGB 256x192: the coding-4 vector's picture coded with a one-shot model (its decoder "
        "graph returns states only, its synthesis graph makes the picture from the last state, once), ITER 0 "
        "in coding 3 and the others in coding 4 (the base of the one-shot cuts)",
    ),
    ONE_SHOT_TILED_BASE: (
        lambda: tiled_picture(160, 96),
        4,
        "format 3.1, RGB 160x96 in 3x2 tiles, cores of 64x64 overlapping by 16, coded with a one-shot model: "
        "each tile's picture is synthesised from that tile's own states, then the tiles are blended",
    ),
}
"""The one-shot sources, encoded with ``ONE_SHOT_MODEL``."""


SILENT_SOURCES = {
    SILENT_BASE: (
        quiet_picture,
        5,
        f"format 2.3, RGB 256x192: the coding-3 vector's picture with its left half one flat colour, "
        f"written with silent cells at {SILENT_PSNR} dB: ITER 0 to 2 in coding 3, ITER 3 and 4 in coding 5 "
        "(cells of the flat half silent; the base of the coding-5 vectors)",
    ),
    SILENT_SEGMENTED_BASE: (
        quiet_picture,
        5,
        "format 2.3, RGB 256x192: the coding-5 vector's picture and silent cells, segmented: ITER 0 in "
        "coding 3, ITER 1 and 2 in coding 4, ITER 3 and 4 in coding 6 (8 segments of 1 channel; the base "
        "of the coding-6 vectors)",
    ),
}
"""The sources with silent cells, encoded with ``PRIOR_MODEL`` (under ``SOURCE_OPTIONS``)."""


def encode_sources(sources: dict = SOURCES, model: str = MODEL) -> dict[str, bytes]:
    """The base vectors, encoded by this machine's float encoder; silent cells only where
    ``SOURCE_OPTIONS`` asks for them, so the sources made before them stay as they were."""
    return {
        name: pillow_rgc.encode(
            make(), model=model, iterations=iterations, **{"stop_psnr": None, **SOURCE_OPTIONS.get(name, {})}
        )
        for name, (make, iterations, _) in sources.items()
    }


# --- metadata payloads (hand-built so that they never change) ---------------


def exif_block() -> bytes:
    """A big-endian TIFF-structured Exif block (no ``Exif\\0\\0`` prefix) with two ASCII tags."""
    entries = [(0x010E, b"pillow-rgc conformance vector\0"), (0x0131, b"spec/make_vectors.py\0")]
    values_offset = 8 + 2 + 12 * len(entries) + 4
    ifd, values = struct.pack(">H", len(entries)), b""
    for tag, value in entries:
        ifd += struct.pack(">HHII", tag, 2, len(value), values_offset + len(values))
        values += value + b"\0" * (len(value) % 2)
    return b"MM\0*" + struct.pack(">I", 8) + ifd + struct.pack(">I", 0) + values


def icc_profile() -> bytes:
    """A minimal ICC v2 RGB display profile (sRGB primaries, gamma 2.2), fixed date: byte-stable."""

    def s15f16(*values: float) -> bytes:
        return b"".join(struct.pack(">i", round(v * 65536)) for v in values)

    def xyz(*values: float) -> bytes:
        return b"XYZ \0\0\0\0" + s15f16(*values)

    text = b"pillow-rgc test RGB\0"
    curve = b"curv\0\0\0\0" + struct.pack(">IH", 1, 0x0233)  # one gamma value, u8Fixed8 2.2
    tags = [
        (b"desc", b"desc\0\0\0\0" + struct.pack(">I", len(text)) + text + bytes(4 + 4 + 2 + 1 + 67)),
        (b"cprt", b"text\0\0\0\0" + b"No copyright, test data\0"),
        (b"wtpt", xyz(0.9642, 1.0, 0.8249)),
        (b"rXYZ", xyz(0.4361, 0.2225, 0.0139)),
        (b"gXYZ", xyz(0.3851, 0.7169, 0.0971)),
        (b"bXYZ", xyz(0.1431, 0.0606, 0.7141)),
        (b"rTRC", curve),
        (b"gTRC", curve),
        (b"bTRC", curve),
    ]
    offset = 128 + 4 + 12 * len(tags)
    table, blob = struct.pack(">I", len(tags)), b""
    for signature, data in tags:
        table += struct.pack(">4sII", signature, offset + len(blob), len(data))
        blob += data + b"\0" * (-len(data) % 4)
    size = offset + len(blob)
    header = (
        struct.pack(">I4sI4s4s4s", size, b"\0" * 4, 0x02100000, b"mntr", b"RGB ", b"XYZ ")
        + struct.pack(">6H", 2024, 1, 1, 0, 0, 0)
        + b"acsp"
        + bytes(4 + 4 + 4 + 4 + 8 + 4)  # platform, flags, manufacturer, model, attributes, intent
        + s15f16(0.9642, 1.0, 0.8249)  # PCS illuminant D50
        + bytes(4 + 44)  # creator, reserved
    )
    assert len(header) == 128
    return header + table + blob


XMP_PACKET = (
    '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
    '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    '<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/">'
    '<dc:title><rdf:Alt><rdf:li xml:lang="x-default">pillow-rgc conformance vector \u00e9\u00e8</rdf:li>'
    "</rdf:Alt></dc:title></rdf:Description></rdf:RDF></x:xmpmeta>"
    '<?xpacket end="r"?>'
).encode("utf-8")


# --- byte surgery (independent of pillow_rgc.container) ---------------------


def chunk(chunk_type: bytes, data: bytes, crc: int | None = None) -> bytes:
    """length + type + data + CRC-32 over type and data."""
    crc = zlib.crc32(chunk_type + data) if crc is None else crc
    return struct.pack(">I", len(data)) + chunk_type + data + struct.pack(">I", crc)


@dataclass(frozen=True)
class Chunk:
    offset: int
    type: bytes
    data: bytes

    @property
    def end(self) -> int:
        return self.offset + 12 + len(self.data)

    def raw(self) -> bytes:
        return chunk(self.type, self.data)


def split(data: bytes) -> list[Chunk]:
    """The chunks of a complete, valid file."""
    assert data.startswith(SIGNATURE)
    chunks, offset = [], len(SIGNATURE)
    while offset < len(data):
        (length,) = struct.unpack_from(">I", data, offset)
        chunks.append(Chunk(offset, data[offset + 4 : offset + 8], data[offset + 8 : offset + 8 + length]))
        offset += 12 + length
        if chunks[-1].type == b"IEND":
            break
    return chunks


def join(*parts: bytes | Chunk) -> bytes:
    return SIGNATURE + b"".join(part.raw() if isinstance(part, Chunk) else part for part in parts)


def with_head(head: Chunk, **fields: int) -> bytes:
    """HEAD data with some fixed-position fields replaced (CRC recomputed by ``chunk``)."""
    layout = {
        "major": (0, ">B"),
        "minor": (1, ">B"),
        "width": (2, ">I"),
        "mode": (10, ">B"),
        "iterations": (13, ">B"),
        "tile_width": (15 + head.data[14] + 32, ">I"),  # version 3: after model_id and model_hash
    }
    data = bytearray(head.data)
    for name, value in fields.items():
        position, fmt = layout[name]
        struct.pack_into(fmt, data, position, value)
    return chunk(b"HEAD", bytes(data))


def middle(c: Chunk) -> int:
    """A byte offset inside the chunk's data (after its length and type, before its CRC)."""
    return c.offset + 8 + max(1, len(c.data) // 2)


def zlib_stored(data: bytes) -> bytes:
    """A zlib stream (RFC 1950) of deflate *stored* blocks: exact bytes, whatever zlib is installed."""
    blocks = [data[start : start + 0xFFFF] for start in range(0, len(data), 0xFFFF)] or [b""]
    out = b"\x78\x01"  # deflate, 32 KiB window, no dictionary, fastest; (0x7801 % 31 == 0)
    for number, block in enumerate(blocks):
        final = number == len(blocks) - 1
        out += bytes([final]) + struct.pack("<HH", len(block), len(block) ^ 0xFFFF) + block
    return out + struct.pack(">I", zlib.adler32(data))


# --- coding 1 as the spec words it (shares no code with pillow_rgc.entropy) ---


def spec_p_one(logit: int) -> int:
    """2^24 P(+1) of a clamped logit: the spec's formula for its P_ONE table (no value is near a tie)."""
    if logit < 0:
        return (1 << 24) - spec_p_one(-logit)
    return round((1 << 24) / (1 + math.exp(-logit / 8)))


class SpecPayloadError(ValueError):
    pass


class _Bits:
    """The parameter block: MSB first, u(k), ue and se as in H.264."""

    def __init__(self, data: bytes):
        self.data, self.position = data, 0

    def bit(self) -> int:
        if self.position >= 8 * len(self.data):
            raise SpecPayloadError("payload ends inside the parameter block")
        value = self.data[self.position // 8] >> (7 - self.position % 8) & 1
        self.position += 1
        return value

    def u(self, width: int) -> int:
        value = 0
        for _ in range(width):
            value = value << 1 | self.bit()
        return value

    def ue(self) -> int:
        zeros = 0
        while not self.bit():
            zeros += 1
            if zeros > 16:
                raise SpecPayloadError("Exp-Golomb code with more than 16 leading zeros")
        return (1 << zeros) - 1 + self.u(zeros)

    def se(self) -> int:
        code = self.ue()
        value = (code + 1) // 2 if code % 2 else -(code // 2)
        if abs(value) > 32767:
            raise SpecPayloadError(f"parameter {value}")
        return value


class SpecWords:
    """The coded words of a payload and the rANS state: *Decoding the words*, one bit at a time."""

    def __init__(self, data: bytes):
        if len(data) % 4:
            raise SpecPayloadError("coded bytes not a multiple of 4")
        self.words = list(struct.unpack(f">{len(data) // 4}I", data))
        if self.words and not self.words[-1]:
            raise SpecPayloadError("last word 0")
        words = self.words
        self.state = 0 if not words else words.pop() if len(words) == 1 else words.pop() << 32 | words.pop()

    def decode(self, logit: int) -> int:
        """The next bit (-1 or +1), coded with the probability of ``logit`` (clamped to +-96)."""
        p_zero = (1 << 24) - spec_p_one(max(-96, min(96, logit)))
        q = self.state % (1 << 24)
        bit, low, size = (-1, 0, p_zero) if q < p_zero else (1, p_zero, (1 << 24) - p_zero)
        self.state = size * (self.state >> 24) + q - low
        if self.state < 1 << 32 and self.words:
            self.state = self.state << 32 | self.words.pop()
        return bit

    def end(self) -> None:
        """After the last bit: the state 0 and no word left, or the payload is corrupt."""
        if self.state or self.words:
            raise SpecPayloadError(f"end of stream: state {self.state}, {len(self.words)} words left")


def spec_coding1_parameters(payload: bytes, channels: int, first: bool):
    """(T, a, parents as [(plane, weight)], levels, byte offset of the first coded word)."""
    bits = _Bits(payload)
    contexts, planes = (20, channels) if first else (40, 2 * channels)
    table = [bits.se() for _ in range(contexts)]
    bias, parents = [], []
    for c in range(channels):
        bias.append(bits.se())
        count = bits.ue()
        if count > planes - 1:
            raise SpecPayloadError(f"channel {c}: {count} parents")
        chosen: list[tuple[int, int]] = []
        for _ in range(count):
            plane = bits.u((planes - 1).bit_length())
            if plane >= planes or plane == c or plane in [p for p, _ in chosen]:
                raise SpecPayloadError(f"channel {c}: parent plane {plane}")
            chosen.append((plane, bits.se()))
        parents.append(chosen)
    levels: dict[int, int] = {}

    def level(c: int, path: tuple[int, ...] = ()) -> int:
        if c in path:
            raise SpecPayloadError("parents form a cycle")
        if c not in levels:
            inside = [p for p, _ in parents[c] if p < channels]
            levels[c] = 1 + max(level(p, (*path, c)) for p in inside) if inside else 0
        return levels[c]

    return table, bias, parents, [level(c) for c in range(channels)], -(-bits.position // 8)


def spec_coding1_bits(payload: bytes, shape: tuple[int, int, int], previous: np.ndarray | None) -> np.ndarray:
    """The bits of a coding-1 payload, one at a time, exactly as *Context-coded payload* decodes them.

    ``previous`` is the previous iteration's bitplane (boolean, True for +1), None for iteration 0.
    """
    channels, rows, columns = shape
    table, bias, parents, levels, start = spec_coding1_parameters(payload, channels, previous is None)
    words = SpecWords(payload[start:])
    sign = np.zeros(shape, np.int64)  # 0: not decoded yet
    before = None if previous is None else np.where(previous, 1, -1)

    def phase(y: int, x: int) -> int:
        return 2 * (y % 2) + x % 2

    for phi in range(4):
        for depth in sorted(set(levels)):
            for c in [c for c in range(channels) if levels[c] == depth]:
                for y in range(rows):
                    for x in range(columns):
                        if phase(y, x) != phi:
                            continue
                        near = [(y - 1, x), (y + 1, x), (y, x - 1), (y, x + 1)]
                        n = sum(
                            int(sign[c, v, u])
                            for v, u in near
                            if 0 <= v < rows and 0 <= u < columns and phase(v, u) < phi
                        )
                        k = (0, 3, 8, 15)[phi] + n + (20 if before is not None and before[c, y, x] > 0 else 0)
                        logit = table[k] + bias[c]
                        for plane, weight in parents[c]:
                            logit += weight * int(
                                sign[plane, y, x] if plane < channels else before[plane - channels, y, x]
                            )
                        sign[c, y, x] = words.decode(logit)
    words.end()
    return sign > 0


# --- coding 3 as the spec words it (shares no code with pillow_rgc.prior_coding) ---

RING = [(-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1)]
CROSS = [(-1, 0), (1, 0), (0, -1), (0, 1)]
DIAGONAL = [(-1, -1), (-1, 1), (1, -1), (1, 1)]


def spec_context_prior(model_id: str) -> list[int] | None:
    """The weights of an installed model's ``context_prior.bin`` as signed integers, None without one."""
    path = find_model(model_id).folder / "context_prior.bin"
    return [byte - 256 if byte > 127 else byte for byte in path.read_bytes()] if path.is_file() else None


def spec_coding3_bits(
    payload: bytes, shape: tuple[int, int, int], earlier: list[np.ndarray], prior: list[int] | None
) -> np.ndarray:
    """The bits of a coding-3 payload, one at a time, exactly as *Prior-coded payload* decodes them.

    ``earlier`` are the bitplanes of the iterations before (boolean, True for +1), ``prior`` the
    model's weights (``spec_context_prior``).
    """
    if prior is None:
        raise SpecPayloadError("coding 3 in a file whose model has no context prior")
    return spec_prior_bits([(shape[0], payload)], shape, earlier, prior)


def spec_silent_cells(bits: np.ndarray) -> np.ndarray:
    """(rows, columns): the silent cells of a decoded bitplane (the mask that marks them, if any)."""
    return np.ma.getmaskarray(bits)[0] if np.ma.is_masked(bits) else np.zeros(bits.shape[1:], bool)


def spec_stop_map(words: SpecWords, before: np.ndarray, logits: list[int]) -> np.ndarray:
    """The cells a stop map stops, one bit at a time as *Silent cells* orders them: by stop context (the
    4-neighbours in ``before``, the cells silent in the iteration before), then row by row."""
    rows, columns = before.shape
    stops = np.zeros((rows, columns), bool)
    for kappa in range(5):
        for y in range(rows):
            for x in range(columns):
                if before[y, x]:
                    continue
                inside = [
                    (y + dy, x + dx) for dy, dx in CROSS if 0 <= y + dy < rows and 0 <= x + dx < columns
                ]
                if sum(bool(before[at]) for at in inside) == kappa:
                    stops[y, x] = words.decode(logits[kappa]) == 1
    return stops


def spec_prior_bits(
    segments: list[tuple[int, bytes]],
    shape: tuple[int, int, int],
    earlier: list[np.ndarray],
    prior: list[int],
    stop_logits: list[int] | None = None,
) -> np.ndarray:
    """The known channels of an iteration whose channels are coded in ``segments`` with coding 3's rules.

    ``segments`` are (channel count, coded words) in channel order, each its own
    stream of words decoded afresh (coding 3: one segment of every channel;
    coding 4: the payload's segments). Gives the channels the segments hold, all
    of ``shape``'s or its first ones (a partial iteration). With ``stop_logits``
    (codings 5 and 6) the first segment's words start with the stop map, the
    silent cells have no bits, and the result is masked at them.
    """
    channels, rows, columns = shape
    features = 22 + 7 * channels
    block = min(len(earlier), len(prior) // (channels * features) - 1)
    sign = np.zeros(shape, np.int64)  # this iteration; 0: not decoded yet, or silent
    quiet = [spec_silent_cells(plane) for plane in earlier]
    silent = np.zeros((rows, columns), bool)

    def phase(y: int, x: int) -> int:
        return 2 * (y % 2) + x % 2

    def s(k: int, c: int, y: int, x: int) -> int:
        """s[t - k, c, y, x]: 0 outside the grid and before the first iteration."""
        if not (0 <= y < rows and 0 <= x < columns) or k > len(earlier):
            return 0
        if k == 0:
            return int(sign[c, y, x])
        if quiet[-k][y, x]:
            return 0
        return 1 if np.asarray(earlier[-k])[c, y, x] else -1

    first = 0
    for count, payload in segments:
        words = SpecWords(payload)
        if stop_logits is not None and not first:
            before = quiet[-1] if earlier else np.zeros((rows, columns), bool)
            silent = before | spec_stop_map(words, before, stop_logits)
        for c in range(first, first + count):
            q = prior[(block * channels + c) * features : (block * channels + c + 1) * features]
            for phi in range(4):
                for y in range(rows):
                    for x in range(columns):
                        if phase(y, x) != phi or silent[y, x]:
                            continue
                        f = [0] * features
                        for k in range(1, 9):
                            f[k - 1] = s(k, c, y, x)
                        for k in range(1, 4):
                            for other in range(channels):
                                f[8 + (k - 1) * channels + other] = s(k, other, y, x)
                        for r, (dy, dx) in enumerate(RING):
                            f[8 + 3 * channels + r] = s(1, c, y + dy, x + dx)
                        for other in range(channels):
                            f[16 + 3 * channels + other] = sum(s(1, other, y + dy, x + dx) for dy, dx in RING)
                        for other in range(c):
                            lower = 16 + 4 * channels + 3 * other
                            f[lower] = s(0, other, y, x)
                            f[lower + 1] = sum(s(0, other, y + dy, x + dx) for dy, dx in CROSS)
                            f[lower + 2] = sum(s(0, other, y + dy, x + dx) for dy, dx in DIAGONAL)
                        f[16 + 7 * channels + phi] = 1
                        for j, offsets in ((20, CROSS), (21, DIAGONAL)):
                            f[j + 7 * channels] = sum(
                                s(0, c, y + dy, x + dx) for dy, dx in offsets if phase(y + dy, x + dx) < phi
                            )
                        sign[c, y, x] = words.decode(
                            (sum(weight * value for weight, value in zip(q, f)) + 8) >> 4
                        )
        words.end()  # each segment's words used up exactly
        first += count
    bits = sign[:first] > 0
    return bits if stop_logits is None else np.ma.MaskedArray(bits, np.broadcast_to(silent, bits.shape))


# --- coding 4 as the spec words it (shares no code with pillow_rgc.prior_coding) ---


def spec_coding4_segments(payload: bytes, channels: int) -> list[tuple[int, bytes]]:
    """(channel count, coded words) of each segment, by *Segmented prior-coded payload*'s layout.

    Checks what the layout alone shows: segment_channels G in 1 .. C, 1 to
    ceil(C / G) segments, each a u32 length (a multiple of 4) and as many bytes
    of words (the last word not 0), nothing after the last segment.
    """
    if not payload:
        raise SpecPayloadError("no segment_channels byte")
    size = payload[0]
    if not 1 <= size <= channels:
        raise SpecPayloadError(f"segment_channels {size}, outside 1 .. {channels}")
    segments, offset = [], 1
    while offset < len(payload):
        first = len(segments) * size
        if first >= channels:
            raise SpecPayloadError(f"more than {-(-channels // size)} segments")
        if offset + 4 > len(payload):
            raise SpecPayloadError("payload ends inside a segment's length")
        (length,) = struct.unpack_from(">I", payload, offset)
        words = payload[offset + 4 : offset + 4 + length]
        if len(words) < length:
            raise SpecPayloadError(f"segment {len(segments)}: {length} bytes of words, beyond the payload")
        if length % 4 or (length and words[-4:] == bytes(4)):
            raise SpecPayloadError(f"segment {len(segments)}: words not a multiple of 4, or last word 0")
        segments.append((min(size, channels - first), words))
        offset += 4 + length
    if not segments:
        raise SpecPayloadError("no segment")
    return segments


def spec_coding4_bits(
    payload: bytes, shape: tuple[int, int, int], earlier: list[np.ndarray], prior: list[int] | None
) -> np.ndarray:
    """The known channels of a coding-4 payload: each segment decoded afresh with coding 3's rules."""
    if prior is None:
        raise SpecPayloadError("coding 4 in a file whose model has no context prior")
    return spec_prior_bits(spec_coding4_segments(payload, shape[0]), shape, earlier, prior)


def spec_stop_logits(data: bytes) -> list[int]:
    """The 5 signed stop logits at the start of ``data``; a payload too short for them is corrupt."""
    if len(data) < 5:
        raise SpecPayloadError("shorter than the stop logits")
    return [byte - 256 if byte > 127 else byte for byte in data[:5]]


def spec_silent_bits(
    coding: int,
    payload: bytes,
    shape: tuple[int, int, int],
    earlier: list[np.ndarray],
    prior: list[int] | None,
) -> np.ndarray:
    """The known channels of a coding-5 or coding-6 payload, silent cells masked (*Silent cells*): a
    coding-5 payload is 5 logits and coding 3's words, a coding-6 payload without its logits (bytes 1 to 5)
    has coding 4's layout."""
    if prior is None:
        raise SpecPayloadError(f"coding {coding} in a file whose model has no context prior")
    if coding == 5:
        logits = spec_stop_logits(payload)
        return spec_prior_bits([(shape[0], payload[5:])], shape, earlier, prior, logits)
    logits = spec_stop_logits(payload[1:])
    segments = spec_coding4_segments(payload[:1] + payload[6:], shape[0])
    return spec_prior_bits(segments, shape, earlier, prior, logits)


def spec_cut_payload(data: bytes, offset: int, channels: int) -> bytes:
    """The payload of the complete segments of the coding-4 (or 6) ITER chunk at ``offset``, which ``data``
    ends in.

    *Reading a file*, 4: what a cut chunk's data holds (up to the end of the
    data or of the chunk's length), up to the end of its last complete segment;
    b"" when it holds no complete segment. Whether that breaks a rule is left to
    ``spec_coding4_segments``.
    """
    (length,) = struct.unpack_from(">I", data, offset)
    payload = data[offset + 8 + 3 : offset + 8 + length]
    start = 6 if data[offset + 8 + 2] == 6 else 1  # segments after segment_channels (and the stop logits)
    if len(payload) < start or not 1 <= payload[0] <= channels:
        return b""
    end = position = start
    while position + 4 <= len(payload):
        position += 4 + struct.unpack_from(">I", payload, position)[0]
        if position > len(payload):
            break
        end = position
    return payload[:end] if end > start else b""


def spec_bits(
    coding: int, payload: bytes, shape: tuple[int, int, int], earlier: list[np.ndarray], model_id: str
) -> np.ndarray:
    """The bits of a coding-1, 3, 4, 5 or 6 payload by the spec's own decoders (codings 4 and 6: their known
    channels)."""
    if coding == 1:
        return spec_coding1_bits(payload, shape, earlier[-1] if earlier else None)
    if coding in (5, 6):
        return spec_silent_bits(coding, payload, shape, earlier, spec_context_prior(model_id))
    if coding == 4:
        return spec_coding4_bits(payload, shape, earlier, spec_context_prior(model_id))
    return spec_coding3_bits(payload, shape, earlier, spec_context_prior(model_id))


# --- the vectors -------------------------------------------------------------


@dataclass
class Vector:
    name: str
    data: bytes
    description: str
    expect: dict = field(default_factory=dict)
    source: str | None = None
    """For ``decodes``: the encoded vector whose first ``expect['iterations']`` iterations it holds."""


def decodes(iterations: int, complete: bool, **extra) -> dict:
    return {"outcome": "decodes", "iterations": iterations, "complete": complete, **extra}


def error(kind: str, stage: str, *message: str, **extra) -> dict:
    return {"outcome": "error", "error": kind, "stage": stage, "message_contains": list(message), **extra}


def corrupt(
    chunk_type: str, offset: int, stage: str, good_prefix: int, *message: str, decode_only=False
) -> dict:
    """A corrupt chunk: the error names its type and the offset of its length field.

    ``decode_only``: damage that a reader MAY find only when it decodes the bits
    or the alpha plane (coded words that are not used up exactly, zlib data of
    the wrong size), so its check of the chunks may let it through.
    """
    extra = {"decode_only": True} if decode_only else {}
    return error(
        "corrupt",
        stage,
        chunk_type,
        str(offset),
        *message,
        chunk=chunk_type,
        offset=offset,
        good_prefix=good_prefix,
        **extra,
    )


def derive(bases: dict[str, bytes]) -> list[Vector]:
    """Every vector made from the bytes of the base vectors (exact: no float arithmetic).

    ``bases`` maps the file names of ``SOURCES`` to their bytes (only the three
    bases are used).
    """
    return [
        *derive_v1(bases[BASE]),
        *derive_coding1(bases[CODING1_BASE]),
        *derive_alpha(bases[ALPHA_BASE]),
        *derive_tiled(bases[TILED_BASE]),
    ]


def derive_v1(base: bytes) -> list[Vector]:
    """The vectors made from the 1.0 base vector: format 1.0 rules (and a 2.0 file without 2.0 features)."""
    head, *rest = split(base)
    iters = [c for c in rest if c.type == b"ITER"]
    iend = rest[-1]
    assert len(iters) == 4 and iend.type == b"IEND" and iend.end == len(base)
    vectors: list[Vector] = []

    def add(name: str, data: bytes, description: str, expect: dict) -> None:
        source = BASE if expect["outcome"] == "decodes" else None
        vectors.append(Vector(name, data, description, expect, source))

    # valid files
    known = {"exif": exif_block(), "iccp": icc_profile(), "xmpd": XMP_PACKET}
    add(
        KNOWN_ANCILLARY,
        join(head, *(chunk(name.encode(), data) for name, data in known.items()), *iters, iend),
        "the base file with exif, iccp and xmpd chunks between HEAD and ITER 0",
        decodes(4, True, ancillary={name: hashlib.sha256(data).hexdigest() for name, data in known.items()}),
    )
    add(
        "rgb-48x40-4it-ancillary-unknown.rgc",
        join(head, chunk(b"prVt", b"private data"), *iters[:2], chunk(b"zzzz", b"\0" * 7), *iters[2:], iend),
        "unknown ancillary chunks after HEAD ('prVt') and between ITER 1 and ITER 2 ('zzzz'): skipped",
        decodes(4, True, ancillary={}),
    )
    add(
        "rgb-48x40-4it-v1.1.rgc",
        join(chunk(b"HEAD", bytes([1, 1]) + head.data[2:] + b"later"), *iters, iend),
        "format version 1.1 with 5 unknown bytes after model_hash: read as 1.0, extra bytes ignored",
        decodes(4, True),
    )
    add(
        "rgb-48x40-4it-trailing-data.rgc",
        base + b"\0\0\0\x05JUNKafter IEND",
        "bytes after IEND (including something that looks like a chunk): ignored",
        decodes(4, True),
    )
    add(
        "rgb-48x40-4it-v2.0.rgc",
        join(with_head(head, major=2), *iters, iend),
        "the base file as format version 2.0 (coding 0 only, no alpha: a 2.x reader reads it), "
        "CRC recomputed",
        decodes(4, True),
    )
    add(
        "rgb-48x40-2it-trimmed.rgc",
        join(with_head(head, iterations=2), *iters[:2], iend),
        "the base file trimmed to 2 iterations (HEAD.iterations = 2, then IEND): complete, not cut",
        decodes(2, True),
    )

    # cuts: at chunk boundaries and inside chunks
    truncated = error("truncated", "open", "truncated")
    cuts = [
        (4, "in-signature", "inside the signature", truncated),
        (8, "after-signature", "right after the signature", truncated),
        (middle(head), "in-head", "inside HEAD data", truncated),
        (head.end, "after-head", "right after HEAD", truncated),
        (middle(iters[0]), "in-iter0", "inside ITER 0 data", truncated),
        (iters[0].end - 2, "in-iter0-crc", "inside the CRC of ITER 0", truncated),
        (iters[0].end, "after-iter0", "right after ITER 0", decodes(1, False)),
        (iters[1].offset + 2, "in-iter1-length", "inside the length of ITER 1", decodes(1, False)),
        (iters[1].offset + 6, "in-iter1-type", "inside the type of ITER 1", decodes(1, False)),
        (iters[1].end, "after-iter1", "right after ITER 1", decodes(2, False)),
        (middle(iters[2]), "in-iter2", "inside ITER 2 data", decodes(2, False)),
        (iters[2].end, "after-iter2", "right after ITER 2", decodes(3, False)),
        (middle(iters[3]), "in-iter3", "inside ITER 3 data", decodes(3, False)),
        (iend.offset, "before-iend", "right before IEND (after the last ITER)", decodes(4, False)),
        (iend.offset + 6, "in-iend", "inside IEND", decodes(4, False)),
    ]
    for size, slug, where, expect in cuts:
        add(f"cut-{size:04d}-{slug}.rgc", base[:size], f"the base file cut at byte {size}: {where}", expect)

    # damaged files
    add(
        "corrupt-signature-lf.rgc",
        SIGNATURE.replace(b"\r\n", b"\n") + base[8:],
        "signature CR LF converted to LF by a text-mode transfer",
        error("not-rgc", "open", "not an RGC file"),
    )
    bad_crc = struct.unpack(">I", head.raw()[-4:])[0] ^ 1
    add(
        "corrupt-head-crc.rgc",
        join(chunk(b"HEAD", head.data, bad_crc), *iters, iend),
        "one bit of the HEAD CRC flipped",
        corrupt("HEAD", head.offset, "open", 0),
    )
    add(
        "corrupt-head-width.rgc",
        join(with_head(head, width=1 << 31), *iters, iend),
        "HEAD width 2^31 (above 2^24), CRC recomputed",
        corrupt("HEAD", head.offset, "open", 0),
    )
    add(
        "corrupt-head-version-4.0.rgc",
        join(with_head(head, major=4), *iters, iend),
        "format version 4.0, CRC recomputed: refused by its version before anything else",
        error("unsupported-version", "open", "4.0"),
    )
    add(
        "corrupt-critical-unknown.rgc",
        join(head, chunk(b"FUTR", b"a chunk of a later major version"), *iters, iend),
        "unknown critical chunk 'FUTR' between HEAD and ITER 0",
        corrupt("FUTR", head.end, "open", 0),
    )
    iter1_bad_crc = chunk(b"ITER", iters[1].data, zlib.crc32(b"ITER" + iters[1].data) ^ 0x80)
    add(
        "corrupt-iter1-crc.rgc",
        join(head, iters[0], iter1_bad_crc, *iters[2:], iend),
        "one bit of the CRC of ITER 1 flipped",
        corrupt("ITER", iters[1].offset, "decode", 1),
    )
    for length, label, why in [
        (0xFFFFFFFF, "huge", "2^32-1, above the 2^31-1 limit of every chunk"),
        (1_000_000, "absurd", "10^6: above 3 + raw_payload_size + 64 and past the end: corrupt, not cut"),
    ]:
        add(
            f"corrupt-iter1-length-{label}.rgc",
            base[: iters[1].offset] + struct.pack(">I", length) + base[iters[1].offset + 4 :],
            f"length of ITER 1 set to {why}",
            corrupt("ITER", iters[1].offset, "open", 1),
        )
    iter1_coding_255 = chunk(b"ITER", iters[1].data[:2] + b"\xff" + iters[1].data[3:])
    add(
        "corrupt-iter1-coding.rgc",
        join(head, iters[0], iter1_coding_255, *iters[2:], iend),
        "ITER 1 with coding 255 (reserved), CRC recomputed",
        corrupt("ITER", iters[1].offset, "decode", 1, "unsupported coding"),
    )
    add(
        "corrupt-iter-repeated.rgc",
        join(head, iters[0], iters[1], iters[1], iters[3], iend),
        "ITER 1 twice, ITER 2 missing (chunk count right): the third ITER has index 1, not 2",
        corrupt("ITER", iters[2].offset, "decode", 2),
    )
    add(
        "corrupt-iter-duplicated.rgc",
        join(head, iters[0], iters[1], iters[1], *iters[2:], iend),
        "ITER 1 duplicated (5 ITER chunks for 4 iterations): the third ITER has index 1, not 2; "
        "a reader walking the frames finds one ITER too many",
        corrupt("ITER", iters[2].offset, "open", 2),
    )
    add(
        "corrupt-iend-early.rgc",
        join(head, *iters[:2], iend),
        "IEND after 2 of HEAD's 4 iterations (a cut 'repaired' without fixing HEAD)",
        corrupt("IEND", iters[2].offset, "open", 2),
    )

    # well-formed files naming a model that is not there
    add(
        "model-unknown.rgc",
        join(chunk(b"HEAD", _head_with_model(head, b"no-such-model", head.data[-32:])), *iters, iend),
        "a valid file naming model 'no-such-model'",
        error("unknown-model", "decode", "no-such-model", model="no-such-model"),
    )
    other_hash = hashlib.sha256(b"not the weights of rgc-tiny-test").digest()
    add(
        "model-mismatch.rgc",
        join(chunk(b"HEAD", _head_with_model(head, MODEL.encode(), other_hash)), *iters, iend),
        f"a valid file naming model {MODEL!r} with another model_hash ({other_hash.hex()[:16]}...)",
        error("model-mismatch", "decode", MODEL, model=MODEL),
    )
    return vectors


def _collector(source: str) -> tuple[list[Vector], Callable[[str, bytes, str, dict], None]]:
    """A list of vectors and the function that adds to it (files that decode are tied to ``source``)."""
    vectors: list[Vector] = []

    def add(name: str, data: bytes, description: str, expect: dict) -> None:
        vectors.append(
            Vector(name, data, description, expect, source if expect["outcome"] == "decodes" else None)
        )

    return vectors, add


def add_cuts(add: Callable, base: bytes, prefix: str, what: str, cuts: list[tuple]) -> None:
    """One vector per ``(size, slug, where, expect)``: ``base`` cut after ``size`` bytes."""
    for size, slug, where, expect in cuts:
        add(f"{prefix}-{size:04d}-{slug}.rgc", base[:size], f"{what} cut at byte {size}: {where}", expect)


def _parts(data: bytes) -> tuple[Chunk, list[Chunk], list[Chunk], Chunk]:
    """HEAD, the chunks between HEAD and ITER 0, the ITER chunks and IEND of a complete file."""
    head, *rest = split(data)
    first = next(i for i, c in enumerate(rest) if c.type == b"ITER")
    iters, iend = rest[first:-1], rest[-1]
    assert all(c.type == b"ITER" for c in iters) and iend.type == b"IEND" and iend.end == len(data)
    return head, rest[:first], iters, iend


def derive_coding1(base: bytes) -> list[Vector]:
    """The vectors made from the coding-1 base: cuts inside coding-1 chunks, coding-1 rules."""
    head, before, iters, iend = _parts(base)
    assert not before and len(iters) == 4 and head.data[:2] == b"\x02\x00"
    assert all(c.data[2] == 1 for c in iters), "every ITER of the coding-1 base must use coding 1"
    channels = head.data[11]
    vectors, add = _collector(CODING1_BASE)

    add_cuts(add, base, "cut-coding1", "the coding-1 base file", coded_file_cuts(iters, 1))

    add(
        "corrupt-coding1-version-1.0.rgc",
        join(with_head(head, major=1), *iters, iend),
        "the coding-1 base file with HEAD version 1.0, CRC recomputed: coding 1 in a 1.x file",
        corrupt("ITER", iters[0].offset, "decode", 0),
    )

    payload = iters[1].data[3:]
    words_at = spec_coding1_parameters(payload, channels, first=False)[-1]
    damaged = _with_iter1_payload(head, iters, iend)
    short, extra = word_damage("corrupt-coding1", damaged, payload, words_at, iters[1].offset)
    add(*short)
    add(
        "corrupt-coding1-iter1-parameters.rgc",
        damaged(payload[:2]),
        "ITER 1's payload cut to its first 2 bytes, CRC recomputed: it ends inside the parameter block",
        corrupt("ITER", iters[1].offset, "decode", 1),
    )
    add(*extra)
    return vectors


def coded_file_cuts(iters: list[Chunk], coding: int) -> list[tuple]:
    """Cuts of a file whose ITERs use ``coding``: inside ITER 0, right after ITER 1, inside ITER 2's words."""
    return [
        (
            middle(iters[0]),
            "in-iter0",
            f"inside ITER 0 (coding {coding})",
            error("truncated", "open", "truncated"),
        ),
        (iters[1].end, "after-iter1", f"right after ITER 1 (coding {coding})", decodes(2, False)),
        (
            middle(iters[2]),
            "in-iter2",
            f"inside the coded words of ITER 2 (coding {coding})",
            decodes(2, False),
        ),
    ]


def _with_iter1_payload(head: Chunk, iters: list[Chunk], iend: Chunk) -> Callable[[bytes], bytes]:
    """A function giving the base file with ITER 1's payload replaced (CRC recomputed)."""

    def with_payload(payload: bytes) -> bytes:
        return join(head, iters[0], chunk(b"ITER", iters[1].data[:3] + payload), *iters[2:], iend)

    return with_payload


def word_damage(prefix: str, with_payload: Callable, payload: bytes, words_at: int, offset: int) -> tuple:
    """The arguments of ``add`` for two vectors: ITER 1's coded words (from byte ``words_at`` of its
    payload) one byte short, and one word too many."""
    short = (
        f"{prefix}-iter1-words.rgc",
        with_payload(payload[:-1]),
        f"the last byte of ITER 1's payload removed, CRC recomputed: {len(payload) - 1 - words_at} bytes "
        "of coded words, not a multiple of 4",
        corrupt("ITER", offset, "decode", 1),
    )
    extra = (
        f"{prefix}-iter1-extra-word.rgc",
        with_payload(payload[:words_at] + struct.pack(">I", 1) + payload[words_at:]),
        "one coded word too many (00 00 00 01, in front of the others) in ITER 1, CRC recomputed: the "
        "payload's layout is valid, but decoding does not end with the words used up and the state 0",
        corrupt("ITER", offset, "decode", 1, decode_only=True),
    )
    return short, extra


def derive_alpha(base: bytes) -> list[Vector]:
    """The vectors made from the RGBA base: ALPH rules and cuts of a file with alpha."""
    head, before, iters, iend = _parts(base)
    assert [c.type for c in before] == [b"ALPH"] and head.data[:2] == b"\x02\x00" and head.data[10] == 4
    alph = before[0]
    plane = zlib.decompress(alph.data[1:])
    vectors, add = _collector(ALPHA_BASE)

    add(
        "rgba-24x20-3it-alph-stored.rgc",
        join(head, chunk(b"ALPH", b"\0" + zlib_stored(plane)), *iters, iend),
        "the RGBA base file with its alpha plane re-stored as a zlib stream of stored (uncompressed) blocks",
        decodes(3, True),
    )
    truncated = error("truncated", "open", "truncated")
    cuts = [
        (middle(alph), "in-alph", "inside ALPH", truncated),
        (middle(iters[0]), "in-iter0", "inside ITER 0", truncated),
        (iters[0].end, "after-iter0", "right after ITER 0", decodes(1, False)),
    ]
    add_cuts(add, base, "cut-rgba", "the RGBA base file", cuts)

    bad_crc = zlib.crc32(b"ALPH" + alph.data) ^ 0x01
    add(
        "corrupt-rgba-alph-crc.rgc",
        join(head, chunk(b"ALPH", alph.data, bad_crc), *iters, iend),
        "one bit of the ALPH CRC flipped",
        corrupt("ALPH", alph.offset, "decode", 0),
    )
    add(
        "corrupt-rgba-version-1.0.rgc",
        join(with_head(head, major=1), alph, *iters, iend),
        "the RGBA base file with HEAD version 1.0, CRC recomputed: mode 4 (RGBA) in a 1.x file",
        corrupt("HEAD", head.offset, "open", 0),
    )
    add(
        "corrupt-rgba-alph-missing.rgc",
        join(head, *iters, iend),
        "the RGBA base file without its ALPH chunk: ITER 0 comes before any ALPH",
        corrupt("ITER", head.end, "open", 0),
    )
    add(
        "corrupt-rgba-alph-twice.rgc",
        join(head, alph, alph, *iters, iend),
        "the ALPH chunk twice",
        corrupt("ALPH", alph.end, "open", 0),
    )
    add(
        "corrupt-rgba-alph-empty.rgc",
        join(head, chunk(b"ALPH", b""), *iters, iend),
        "an ALPH chunk of length 0 (no method byte)",
        corrupt("ALPH", alph.offset, "open", 0),
    )
    add(
        "corrupt-rgba-alph-method.rgc",
        join(head, chunk(b"ALPH", b"\x01" + alph.data[1:]), *iters, iend),
        "ALPH method 1 (reserved), CRC recomputed",
        corrupt("ALPH", alph.offset, "decode", 0, "unsupported alpha method"),
    )
    add(
        "corrupt-rgba-alph-short.rgc",
        join(head, chunk(b"ALPH", b"\0" + zlib_stored(plane[:-1])), *iters, iend),
        "ALPH holds a valid zlib stream of one byte less than the 24x20 alpha plane, CRC recomputed",
        corrupt("ALPH", alph.offset, "decode", 0, decode_only=True),
    )
    add(
        "corrupt-rgba-alph-in-rgb.rgc",
        join(with_head(head, mode=3), alph, *iters, iend),
        "the RGBA base file with HEAD mode 3 (RGB), CRC recomputed: an ALPH chunk in a picture without alpha",
        corrupt("ALPH", alph.offset, "open", 0),
    )
    add(
        "corrupt-rgba-alph-in-v1.0.rgc",
        join(with_head(head, major=1, mode=3), alph, *iters, iend),
        "the RGBA base file as a version 1.0 RGB file (CRC recomputed) that keeps its ALPH chunk: an unknown "
        "critical chunk to a 1.x reader",
        corrupt("ALPH", alph.offset, "open", 0),
    )
    return vectors


def tile_entries(payload: bytes) -> list[bytes]:
    """The entries of a coding-2 payload, each with its 4-byte length, as *Tiles* lays them out."""
    entries, offset = [], 0
    while offset < len(payload):
        (length,) = struct.unpack_from(">I", payload, offset)
        entries.append(payload[offset : offset + 4 + length])
        offset += 4 + length
    return entries


def derive_tiled(base: bytes) -> list[Vector]:
    """The vectors made from the tiled base: cuts of a tiled file and the rules of *Tiles*."""
    head, before, iters, iend = _parts(base)
    assert not before and len(iters) == 4 and head.data[:2] == b"\x03\x00"
    assert all(c.data[2] == 2 for c in iters), "every ITER of a tiled file uses coding 2"
    assert tile_entries(iters[-1].data[3:])[2] == bytes(4), "the flat strip's tile must end early"
    vectors, add = _collector(TILED_BASE)

    truncated = error("truncated", "open", "truncated")
    cuts = [
        (middle(iters[0]), "in-iter0", "inside ITER 0", truncated),
        (middle(iters[2]), "in-iter2", "inside ITER 2", decodes(2, False)),
    ]
    add_cuts(add, base, "cut-tiled", "the tiled base file", cuts)

    def with_entries(index: int, entries: list[bytes]) -> bytes:
        """The base file with ITER ``index``'s tile entries replaced (CRC recomputed)."""
        changed = chunk(b"ITER", iters[index].data[:3] + b"".join(entries))
        return join(head, *iters[:index], changed, *iters[index + 1 :], iend)

    first, second = tile_entries(iters[0].data[3:]), tile_entries(iters[1].data[3:])
    add(
        "corrupt-tiled-iter0-empty-tile.rgc",
        with_entries(0, [first[0], bytes(4), *first[2:]]),
        "tile 1's entry in ITER 0 made empty, CRC recomputed: every tile needs bits in the first iteration",
        corrupt("ITER", iters[0].offset, "decode", 0),
    )
    ended = with_entries(1, [bytes(4), *second[1:]])
    add(
        "corrupt-tiled-iter1-tile0-ended.rgc",
        ended,
        "tile 0's entry in ITER 1 made empty, CRC recomputed: tile 0 ends there but has bits in ITER 2",
        corrupt("ITER", [c for c in split(ended) if c.type == b"ITER"][2].offset, "decode", 2),
    )
    add(
        "corrupt-tiled-iter1-overrun.rgc",
        join(head, iters[0], chunk(b"ITER", iters[1].data[:-1]), *iters[2:], iend),
        "the last byte of ITER 1's payload removed, CRC recomputed: the last tile's entry runs past it",
        corrupt("ITER", iters[1].offset, "decode", 1),
    )
    add(
        "corrupt-tiled-head-version-2.0.rgc",
        join(with_head(head, major=2), *iters, iend),
        "the tiled base file with HEAD version 2.0, CRC recomputed: 12 bytes too many for a 2.0 HEAD",
        corrupt("HEAD", head.offset, "open", 0),
    )
    add(
        "corrupt-tiled-head-tile-width.rgc",
        join(with_head(head, tile_width=20), *iters, iend),
        "HEAD tile_width 20, not a multiple of the code stride 16, CRC recomputed",
        corrupt("HEAD", head.offset, "open", 0),
    )
    return vectors


def derive_prior(bases: dict[str, bytes]) -> list[Vector]:
    """Every coding-3 vector made from the bytes of the coding-3 base vectors (exact: no float arithmetic)."""
    return [*derive_coding3(bases[PRIOR_BASE]), *derive_tiled_coding3(bases[PRIOR_TILED_BASE])]


def derive_coding3(base: bytes) -> list[Vector]:
    """The vectors made from the coding-3 base: cuts inside coding-3 chunks, coding-3 rules."""
    head, before, iters, iend = _parts(base)
    assert not before and len(iters) == 4 and head.data[:2] == b"\x02\x01"
    assert all(c.data[2] == 3 for c in iters), "every ITER of the coding-3 base must use coding 3"
    vectors, add = _collector(PRIOR_BASE)

    add_cuts(add, base, "cut-coding3", "the coding-3 base file", coded_file_cuts(iters, 3))
    add(
        "corrupt-coding3-version-2.0.rgc",
        join(with_head(head, minor=0), *iters, iend),
        "the coding-3 base file with HEAD version 2.0, CRC recomputed: coding 3 needs minor version 1",
        corrupt("ITER", iters[0].offset, "decode", 0, "coding 3"),
    )

    payload = iters[1].data[3:]
    damaged = _with_iter1_payload(head, iters, iend)
    for damage in word_damage("corrupt-coding3", damaged, payload, 0, iters[1].offset):
        add(*damage)
    plain = find_model(MODEL)
    renamed = chunk(b"HEAD", _head_with_model(head, MODEL.encode(), bytes.fromhex(plain.sha256)))
    without_prior = join(renamed, *iters, iend)
    add(
        "corrupt-coding3-model-without-prior.rgc",
        without_prior,
        f"the coding-3 base file with HEAD naming {MODEL!r} (its right hash), which has no context prior, "
        "CRC recomputed: its coding-3 chunks cannot be decoded",
        corrupt("ITER", _parts(without_prior)[2][0].offset, "decode", 0, "context prior", decode_only=True),
    )
    return vectors


def derive_tiled_coding3(base: bytes) -> list[Vector]:
    """The vectors made from the tiled coding-3 base: a cut, and coding-3 tile entries in a 3.0 file."""
    head, before, iters, iend = _parts(base)
    assert not before and len(iters) == 4 and head.data[:2] == b"\x03\x01"
    assert any(entry[4] == 3 for entry in tile_entries(iters[0].data[3:])), "ITER 0 needs a coding-3 entry"
    vectors, add = _collector(PRIOR_TILED_BASE)
    cut = [(middle(iters[2]), "in-iter2", "inside ITER 2", decodes(2, False))]
    add_cuts(add, base, "cut-tiled-coding3", "the tiled coding-3 base file", cut)
    add(
        "corrupt-tiled-coding3-version-3.0.rgc",
        join(with_head(head, minor=0), *iters, iend),
        "the tiled coding-3 base file with HEAD version 3.0, CRC recomputed: coding-3 tile entries need 3.1",
        corrupt("ITER", iters[0].offset, "decode", 0, "coding 3"),
    )
    return vectors


def derive_segmented(bases: dict[str, bytes]) -> list[Vector]:
    """Every coding-4 vector made from the bytes of the coding-4 base vectors (exact: no float arithmetic)."""
    return [*derive_coding4(bases[SEGMENTED_BASE]), *derive_tiled_coding4(bases[PARTIAL_TILED_BASE])]


def segment_ends(c: Chunk, channels: int) -> list[int]:
    """The file offset where each segment of the coding-4 (or 6) ITER chunk ``c`` ends (after its words)."""
    head = 6 if c.data[2] == 6 else 1  # segment_channels, and coding 6's stop logits
    end, ends = c.offset + 8 + 3 + head, []  # after the frame, index, coding and head
    for _, words in spec_coding4_segments(c.data[3:4] + c.data[3 + head :], channels):
        end += 4 + len(words)
        ends.append(end)
    return ends


def as_coding4(payload: bytes, channels: int) -> bytes:
    """A coding-3 payload as the coding-4 payload of the same bits: one segment of every channel."""
    return bytes([channels]) + struct.pack(">I", len(payload)) + payload


def iter2_segment_offsets(c: Chunk, channels: int) -> tuple[int, list[int]]:
    """Where the coded words of ITER 2's first segment start, and where each segment ends: the cut points
    of the coding-4 and one-shot vectors."""
    ends = segment_ends(c, channels)
    first_words = c.offset + 8 + 3 + 1 + 4
    assert ends[0] - first_words > 2 and ends[3] - ends[2] > 6, "segments 0 and 3 of ITER 2 need words"
    return first_words, ends


TRIMMED = "prior-rgb-256x192-coding4-3it-trimmed.rgc"
TRIMMED_SLACK = 3
"""Bytes of its budget that the trimmed coding-4 vector leaves unused: fewer than its next segment needs."""


def derive_coding4(base: bytes) -> list[Vector]:
    """The vectors made from the coding-4 base: cuts inside coding-4 chunks, truncation, coding-4 rules."""
    head, before, iters, iend = _parts(base)
    assert not before and len(iters) == 4 and head.data[:2] == b"\x02\x02"
    assert [c.data[2] for c in iters] == [3, 4, 4, 4], "ITER 0 in coding 3, the others in coding 4"
    channels = head.data[11]
    assert all(len(spec_coding4_segments(c.data[3:], channels)) == channels == 8 for c in iters[1:])
    vectors, add = _collector(SEGMENTED_BASE)

    first_words, ends = iter2_segment_offsets(iters[2], channels)
    cuts = [
        (
            first_words + 2,
            "in-iter2-segment0",
            "inside the coded words of the first segment of ITER 2 (coding 4): no complete segment, so the "
            "chunk is ignored",
            decodes(2, False),
        ),
        (
            ends[2] + 6,
            "in-iter2-segment3",
            "inside the coded words of segment 3 of ITER 2 (coding 4): its 3 complete segments decode as a "
            "partial last iteration of 3 channels",
            decodes(3, False),
        ),
        (
            iters[3].end - 2,
            "in-iter3-crc",
            "inside the CRC of ITER 3 (coding 4): its 8 segments are complete, so it decodes whole, its CRC "
            "unchecked",
            decodes(4, False),
        ),
    ]
    add_cuts(add, base, "cut-coding4", "the coding-4 base file", cuts)

    kept = 5
    assert ends[kept] - ends[kept - 1] > TRIMMED_SLACK
    shortened = chunk(b"ITER", iters[2].data[: ends[kept - 1] - iters[2].offset - 8])
    trimmed = join(with_head(head, iterations=3), *iters[:2], shortened, iend)
    add(
        TRIMMED,
        trimmed,
        f"the coding-4 base file truncated to a budget of {len(trimmed) + TRIMMED_SLACK} bytes: ITER 0 and "
        f"ITER 1 whole, then ITER 2 rewritten with the first {kept} of its 8 segments, the most that fit "
        "(HEAD.iterations = 3, then IEND, CRCs recomputed): complete, its last iteration partial",
        decodes(3, True),
    )

    add(
        "corrupt-coding4-iter0.rgc",
        join(
            head,
            chunk(b"ITER", iters[0].data[:2] + b"\x04" + as_coding4(iters[0].data[3:], channels)),
            *iters[1:],
            iend,
        ),
        "ITER 0's coding-3 words re-stored as coding 4 (one segment of all 8 channels: the same bits), CRC "
        "recomputed: coding 4 in ITER 0",
        corrupt("ITER", iters[0].offset, "decode", 0, "coding 4"),
    )
    add(
        "corrupt-coding4-version-2.1.rgc",
        join(with_head(head, minor=1), *iters, iend),
        "the coding-4 base file with HEAD version 2.1, CRC recomputed: coding 4 needs minor version 2",
        corrupt("ITER", iters[1].offset, "decode", 1, "coding 4"),
    )
    payload = iters[1].data[3:]
    damaged = _with_iter1_payload(head, iters, iend)
    # where each segment's length is in ITER 1's payload (after segment_channels), then the payload's end
    starts = [1, *(end - iters[1].offset - 8 - 3 for end in segment_ends(iters[1], channels))]
    add(
        "corrupt-coding4-iter1-partial.rgc",
        damaged(payload[: starts[4]]),
        "ITER 1 cut to its first 4 segments, CRC recomputed: a partial iteration that is not the file's last",
        corrupt("ITER", iters[1].offset, "decode", 1),
    )
    add(
        "corrupt-coding4-iter1-segment-channels-0.rgc",
        damaged(b"\0" + payload[1:]),
        "ITER 1's segment_channels set to 0, CRC recomputed",
        corrupt("ITER", iters[1].offset, "decode", 1),
    )
    last = starts[-2]
    (length,) = struct.unpack_from(">I", payload, last)
    add(
        "corrupt-coding4-iter1-segment-length.rgc",
        damaged(payload[:last] + struct.pack(">I", length + 4) + payload[last + 4 :]),
        f"the length of ITER 1's last segment set to {length + 4}, 4 more than its words, CRC recomputed: "
        "the segment runs past the payload",
        corrupt("ITER", iters[1].offset, "decode", 1),
    )
    add(
        "corrupt-coding4-iter1-extra-segment.rgc",
        damaged(payload + payload[last:]),
        "a copy of ITER 1's last segment appended to it, CRC recomputed: 9 segments of 1 channel, for 8 "
        "channels",
        corrupt("ITER", iters[1].offset, "decode", 1),
    )
    third = starts[3]
    (length,) = struct.unpack_from(">I", payload, third)
    add(
        "corrupt-coding4-iter1-extra-word.rgc",
        damaged(payload[:third] + struct.pack(">II", length + 4, 1) + payload[third + 4 :]),
        "one coded word too many (00 00 00 01, in front of the others) in segment 3 of ITER 1, its length 4 "
        "more, CRC recomputed: the payload's layout is valid, but decoding segment 3 does not end with its "
        "words used up and the state 0",
        corrupt("ITER", iters[1].offset, "decode", 1, decode_only=True),
    )
    return vectors


def derive_tiled_coding4(base: bytes) -> list[Vector]:
    """The vectors made from the tiled coding-4 base: a cut, and the rules of coding-4 tile entries."""
    head, before, iters, iend = _parts(base)
    assert not before and len(iters) == 4 and head.data[:2] == b"\x03\x02"
    entries = [tile_entries(c.data[3:]) for c in iters]
    assert entries[0][0][4] == 3 and entries[1][0][4] == 4, "tile 0: coding 3 in ITER 0, coding 4 in ITER 1"
    assert all(e[0] == bytes(4) for e in entries[2:]), "tile 0's partial entry in ITER 1 must be its last"
    channels = head.data[11]
    assert len(spec_coding4_segments(entries[1][0][5:], channels)) < channels, "tile 0's ITER 1 is partial"
    vectors, add = _collector(PARTIAL_TILED_BASE)

    after_entry = iters[1].offset + 8 + 3 + len(entries[1][0])
    cut = [
        (
            after_entry + 2,
            "in-iter1",
            "inside ITER 1, after tile 0's complete coding-4 entry: a cut ITER of a tiled picture is ignored "
            "whole",
            decodes(1, False),
        )
    ]
    add_cuts(add, base, "cut-tiled-coding4", "the tiled coding-4 base file", cut)
    add(
        "corrupt-tiled-coding4-version-3.1.rgc",
        join(with_head(head, minor=1), *iters, iend),
        "the tiled coding-4 base file with HEAD version 3.1, CRC recomputed: coding-4 tile entries need 3.2",
        corrupt("ITER", iters[1].offset, "decode", 1, "coding 4"),
    )

    def with_entries(index: int, changed: list[bytes]) -> bytes:
        """The base file with ITER ``index``'s tile entries replaced (CRC recomputed)."""
        replaced = chunk(b"ITER", iters[index].data[:3] + b"".join(changed))
        return join(head, *iters[:index], replaced, *iters[index + 1 :], iend)

    recoded = b"\x04" + as_coding4(entries[0][0][5:], channels)
    add(
        "corrupt-tiled-coding4-iter0-entry.rgc",
        with_entries(0, [struct.pack(">I", len(recoded)) + recoded, *entries[0][1:]]),
        "tile 0's coding-3 entry in ITER 0 re-stored as coding 4 (one segment of all 8 channels: the same "
        "bits), CRC recomputed: coding 4 in ITER 0",
        corrupt("ITER", iters[0].offset, "decode", 0, "coding 4"),
    )
    n = head.data[14]
    width, height = struct.unpack_from(">II", head.data, 2)
    tile_width, tile_height, overlap = struct.unpack_from(">III", head.data, 47 + n)
    stride = head.data[12]
    cells = -(-min(width, tile_width + overlap) // stride) * -(-min(height, tile_height + overlap) // stride)
    raw = b"\0" + bytes(-(-channels * cells // 8))  # coding 0, every bit -1
    add(
        "corrupt-tiled-coding4-iter2-after-partial.rgc",
        with_entries(2, [struct.pack(">I", len(raw)) + raw, *entries[2][1:]]),
        f"tile 0's empty entry in ITER 2 given {len(raw) - 1} bytes of coding-0 bits, CRC recomputed: tile "
        "0's partial entry in ITER 1 must be its last",
        corrupt("ITER", iters[2].offset, "decode", 2),
    )
    return vectors


def derive_silent(bases: dict[str, bytes]) -> list[Vector]:
    """Every coding-5 and coding-6 vector made from the bytes of their base vectors (exact: no float
    arithmetic)."""
    return [*derive_coding5(bases[SILENT_BASE]), *derive_coding6(bases[SILENT_SEGMENTED_BASE])]


def derive_coding5(base: bytes) -> list[Vector]:
    """The vectors made from the coding-5 base: a cut inside a coding-5 chunk and the rules of coding 5."""
    head, before, iters, iend = _parts(base)
    assert not before and len(iters) == 5 and head.data[:2] == b"\x02\x03"
    assert [c.data[2] for c in iters] == [3, 3, 3, 5, 5], "ITER 0 to 2 in coding 3, ITER 3 and 4 in coding 5"
    vectors, add = _collector(SILENT_BASE)
    cuts = [
        (
            middle(iters[4]),
            "in-iter4",
            "inside the coded words of ITER 4 (coding 5, which is not segmented): the chunk is ignored",
            decodes(4, False),
        )
    ]
    add_cuts(add, base, "cut-coding5", "the coding-5 base file", cuts)

    def with_iter(index: int, data: bytes) -> bytes:
        return join(head, *iters[:index], chunk(b"ITER", data), *iters[index + 1 :], iend)

    add(
        "corrupt-coding5-version-2.2.rgc",
        join(with_head(head, minor=2), *iters, iend),
        "the coding-5 base file with HEAD version 2.2, CRC recomputed: coding 5 needs minor version 3",
        corrupt("ITER", iters[3].offset, "decode", 3, "coding 5"),
    )
    add(
        "corrupt-coding5-iter0.rgc",
        with_iter(0, iters[0].data[:2] + b"\x05" + iters[0].data[3:]),
        "ITER 0's coding set to 5 (its payload unchanged), CRC recomputed: coding 5 in ITER 0",
        corrupt("ITER", iters[0].offset, "decode", 0, "coding 5"),
    )
    add(
        "corrupt-coding5-iter3-stop-logits.rgc",
        with_iter(3, iters[3].data[: 3 + 4]),
        "ITER 3's payload cut to its first 4 bytes, CRC recomputed: shorter than the 5 stop logits",
        corrupt("ITER", iters[3].offset, "decode", 3),
    )
    payload = iters[3].data[3:]
    add(
        "corrupt-coding5-iter3-extra-word.rgc",
        with_iter(3, iters[3].data[:3] + payload[:5] + struct.pack(">I", 1) + payload[5:]),
        "one coded word too many (00 00 00 01, after the stop logits, in front of the other words) in "
        "ITER 3, CRC recomputed: the payload's layout is valid, but decoding does not end with the words "
        "used up and the state 0",
        corrupt("ITER", iters[3].offset, "decode", 3, decode_only=True),
    )
    return vectors


SILENT_TRIMMED = "silent-rgb-256x192-coding6-4it-trimmed.rgc"


def derive_coding6(base: bytes) -> list[Vector]:
    """The vectors made from the coding-6 base: cuts inside a coding-6 chunk, truncation, coding-6 rules."""
    head, before, iters, iend = _parts(base)
    assert not before and len(iters) == 5 and head.data[:2] == b"\x02\x03"
    assert [c.data[2] for c in iters] == [3, 4, 4, 6, 6], "coding 4 before cells fall silent, then coding 6"
    channels = head.data[11]
    vectors, add = _collector(SILENT_SEGMENTED_BASE)
    ends = segment_ends(iters[3], channels)
    first_words = iters[3].offset + 8 + 3 + 6 + 4  # after segment_channels, the stop logits, the length
    assert len(ends) == channels == 8
    assert ends[0] - first_words > 2 and ends[3] - ends[2] > 6, "segments 0 and 3 of ITER 3 need words"
    cuts = [
        (
            first_words + 2,
            "in-iter3-segment0",
            "inside the first segment of ITER 3 (coding 6), which holds the stop map: no complete segment, "
            "so the chunk is ignored",
            decodes(3, False),
        ),
        (
            ends[2] + 6,
            "in-iter3-segment3",
            "inside segment 3 of ITER 3 (coding 6): its 3 complete segments, the stop map with them, decode "
            "as a partial last iteration of 3 channels",
            decodes(4, False),
        ),
    ]
    add_cuts(add, base, "cut-coding6", "the coding-6 base file", cuts)
    kept = 5
    shortened = chunk(b"ITER", iters[3].data[: ends[kept - 1] - iters[3].offset - 8])
    add(
        SILENT_TRIMMED,
        join(with_head(head, iterations=4), *iters[:3], shortened, iend),
        f"the coding-6 base file truncated to ITER 0 to 2 whole and the first {kept} of ITER 3's 8 segments "
        "(HEAD.iterations = 4, then IEND, CRCs recomputed): complete, its last iteration partial",
        decodes(4, True),
    )
    payload = iters[3].data[3:]
    add(
        "corrupt-coding6-iter3-segment-channels-0.rgc",
        join(head, *iters[:3], chunk(b"ITER", iters[3].data[:3] + b"\0" + payload[1:]), *iters[4:], iend),
        "ITER 3's segment_channels set to 0, CRC recomputed",
        corrupt("ITER", iters[3].offset, "decode", 3),
    )
    add(
        "corrupt-coding6-iter3-stop-logits.rgc",
        join(head, *iters[:3], chunk(b"ITER", iters[3].data[:3] + payload[:4]), *iters[4:], iend),
        "ITER 3's payload cut to its segment_channels and 3 of its 5 stop logits, CRC recomputed",
        corrupt("ITER", iters[3].offset, "decode", 3),
    )
    return vectors


def derive_one_shot(bases: dict[str, bytes]) -> list[Vector]:
    """Cuts of the one-shot base: the picture synthesised from the states of whole and partial iterations."""
    base = bases[ONE_SHOT_BASE]
    head, before, iters, iend = _parts(base)
    assert not before and len(iters) == 4 and [c.data[2] for c in iters] == [3, 4, 4, 4]
    channels = head.data[11]
    vectors, add = _collector(ONE_SHOT_BASE)
    first_words, ends = iter2_segment_offsets(iters[2], channels)
    cuts = [
        (
            first_words + 2,
            "in-iter2-segment0",
            "inside the first segment of ITER 2: the picture synthesised from the states of 2 iterations",
            decodes(2, False),
        ),
        (
            ends[2] + 6,
            "in-iter2-segment3",
            "inside segment 3 of ITER 2: the picture synthesised from the states after a partial third "
            "iteration of 3 channels (the missing ones fed as 0)",
            decodes(3, False),
        ),
    ]
    add_cuts(add, base, "cut-one-shot", "the one-shot base file", cuts)
    return vectors


def _head_with_model(head: Chunk, model_id: bytes, model_hash: bytes) -> bytes:
    return head.data[:14] + bytes([len(model_id)]) + model_id + model_hash


# --- expectations and output -------------------------------------------------


def bitplanes_sha256(data: bytes, iterations: int) -> str:
    """SHA-256 of the first decoded bitplanes, each packed as coding 0 stores it (padding bits 0).

    In iteration order; within an iteration of a tiled file, in tile order, the
    tiles without bits left out.

    Computed from the decoded bits, so it does not depend on the payload coding
    (a partial iteration gives only its known channels).
    Cross-checked: for coding-0 chunks against the payload bytes themselves, for
    coding-1, 3 and 4 chunks against ``spec_coding1_bits``, ``spec_coding3_bits`` and ``spec_coding4_bits``
    (the spec's decoders, bit by bit); for a cut coding-4 chunk, its complete segments are found by
    ``spec_cut_payload``.
    """
    parsed = container.read(data)
    header = parsed.header
    tile_bitplanes = api.read_tile_bitplanes(parsed, iterations)
    packed = []
    for index, item in enumerate(parsed.iterations[:iterations]):
        if item.cut:
            cut = spec_cut_payload(data, item.offset, header.code_channels)
            assert item.coding in (4, 6) and item.payload == cut, (
                "the library and the spec cut the chunk differently"
            )
        entries = item.tiles if item.tiles is not None else [(item.coding, item.payload)]
        for tile, entry, (_, _, width, height) in zip(tile_bitplanes, entries, header.tiles()):
            if entry is None:
                continue
            bits, (coding, payload) = tile[index], entry
            packed.append(np.packbits(np.asarray(bits).ravel()).tobytes())
            if coding == 0:
                assert payload == packed[-1], "coding-0 payload with nonzero padding bits"
            else:
                shape = header.code_shape(width, height)
                expected = spec_bits(coding, payload, shape, tile[:index], header.model_id)
                assert np.array_equal(np.asarray(bits), np.asarray(expected)), (
                    f"iteration {index}: bits differ"
                )
                assert np.array_equal(spec_silent_cells(bits), spec_silent_cells(expected)), (
                    f"iteration {index}: the library and the spec silence other cells"
                )
    return hashlib.sha256(b"".join(packed)).hexdigest()


def silent_cells_sha256(data: bytes, iterations: int) -> str | None:
    """SHA-256 of the silent cells of the first decoded iterations of a one-tile picture, each iteration's
    rows x columns map packed as coding 0 packs bits (1 = silent), None when no cell is silent."""
    maps = [spec_silent_cells(bits) for bits in api.read_bitplanes(container.read(data), iterations)]
    if not any(silent.any() for silent in maps):
        return None
    return hashlib.sha256(b"".join(np.packbits(silent.ravel()).tobytes() for silent in maps)).hexdigest()


def alpha_sha256(image: Image.Image) -> str | None:
    """SHA-256 of the decoded alpha plane (height x width bytes, row by row), None without alpha."""
    if image.mode not in ("LA", "RGBA"):
        return None
    return hashlib.sha256(np.asarray(image.getchannel("A")).tobytes()).hexdigest()


def pixel_file(source: str, iterations: int, last_channels: int | None = None) -> str:
    """The PNG of ``source``'s first iterations; ``last_channels``: the last of them partial, holding only
    that many channels."""
    partial = "" if last_channels is None else f"-{last_channels}ch"
    return f"{source.removesuffix('.rgc').rsplit('-', 1)[0]}.{iterations}it{partial}.png"


FORMAT_ERRORS = {
    "not-rgc": container.NotRGCError,
    "truncated": container.TruncatedFileError,
    "corrupt": container.CorruptChunkError,
    "unsupported-version": container.UnsupportedVersionError,
}


def read_fully(data: bytes) -> container.Container:
    """``container.read``, then the bits of every ITER and the alpha plane: every check short of the model."""
    parsed = container.read(data)
    api.read_tile_bitplanes(parsed)
    if parsed.alpha is not None:
        alpha.decode(parsed.alpha, parsed.header.width, parsed.header.height)
    return parsed


def check(vector: Vector) -> None:
    """Refuse a vector whose expectation the reference reader disagrees with.

    Damage marked ``decode_only`` is looked for in the decoded bits and alpha
    plane too (``read_fully``); the reference raises ``entropy.PayloadError``
    there instead of a ``CorruptChunkError`` (reported as a bug), which is only
    noted here.
    """
    expect = vector.expect
    try:
        parsed = read_fully(vector.data) if expect.get("decode_only") else container.read(vector.data)
    except container.RGCFormatError as caught:
        assert expect["outcome"] == "error", (vector.name, caught)
        assert isinstance(caught, FORMAT_ERRORS[expect["error"]]), (vector.name, caught)
        assert all(part in str(caught) for part in expect["message_contains"]), (vector.name, caught)
        if expect["error"] == "corrupt":
            assert (caught.chunk_type, caught.offset) == (expect["chunk"], expect["offset"]), vector.name
            if expect["good_prefix"] and not expect.get("decode_only"):
                kept = container.read(vector.data, on_corrupt="stop").iterations
                assert len(kept) == expect["good_prefix"], vector.name
    except entropy.PayloadError as caught:
        assert expect.get("decode_only"), (vector.name, caught)
        print(f"note: {vector.name}: the reference reader raises {caught!r}, not a CorruptChunkError")
    else:
        if expect["outcome"] == "decodes":
            found = (len(parsed.iterations), parsed.complete)
            assert found == (expect["iterations"], expect["complete"]), (vector.name, found)
        else:
            assert expect["error"] in ("unknown-model", "model-mismatch"), vector.name
    if expect.get("decode_only"):
        _check_decode_only(vector)
    try:
        container.scan(io.BytesIO(vector.data))
        found_at_open = False
    except container.RGCFormatError:
        found_at_open = True
    assert found_at_open == (expect.get("stage") == "open"), (vector.name, "stage")


def _check_decode_only(vector: Vector) -> None:
    """Damage found when decoding: the good prefix decodes, and the spec's own decoder refuses the payload."""
    expect = vector.expect
    try:
        good = container.read(vector.data, on_corrupt="stop")
    except container.RGCFormatError:  # damage before the first ITER: nothing to keep
        assert not expect["good_prefix"], vector.name
        return
    assert good.corrupt is None and len(good.iterations) > expect["good_prefix"], vector.name
    if expect["good_prefix"]:
        api.read_tile_bitplanes(good, expect["good_prefix"])
    if expect["chunk"] == "ITER":
        damaged = good.iterations[expect["good_prefix"]]
        assert damaged.offset == expect["offset"] and damaged.coding in (1, 3, 4, 5, 6), vector.name
        earlier = api.read_bitplanes(good, damaged.index) if damaged.index else []
        header = good.header
        try:
            spec_bits(damaged.coding, damaged.payload, header.code_shape(), earlier, header.model_id)
        except SpecPayloadError:
            return
        raise AssertionError(f"{vector.name}: the spec's decoder accepts the damaged payload")


def decoded_entry(vector: Vector, bases: dict[str, bytes], files: dict[str, bytes]) -> dict:
    """The fields of a ``decodes`` entry that come from decoding it; writes its pixels PNG into ``files``."""
    iterations = vector.expect["iterations"]
    parsed = container.read(vector.data)
    image = pillow_rgc.decode(vector.data, iterations=iterations)
    last_channels = _partial_last_channels(vector, bases[vector.source])
    if last_channels is None:
        source_image = pillow_rgc.decode(bases[vector.source], iterations=iterations)
        assert np.array_equal(np.asarray(image), np.asarray(source_image)), vector.name
    pixels = pixel_file(vector.source, iterations, last_channels)
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    if pixels not in files:
        files[pixels] = buffer.getvalue()
    elif last_channels is not None:  # the same bits as another vector's: the same pixels
        assert np.array_equal(np.asarray(Image.open(io.BytesIO(files[pixels]))), np.asarray(image)), (
            vector.name
        )
    bits = bitplanes_sha256(vector.data, iterations)
    if last_channels is None:
        assert bits == bitplanes_sha256(bases[vector.source], iterations), vector.name
    silent = None if parsed.header.tiled else silent_cells_sha256(vector.data, iterations)
    entry = {
        "width": image.width,
        "height": image.height,
        "mode": image.mode,
        "version": "{}.{}".format(*parsed.header.version),
        "codings": [item.coding for item in parsed.iterations[:iterations]],
        **({} if last_channels is None else {"last_channels": last_channels}),
        "bitplanes_sha256": bits,
        **({} if silent is None else {"silent_cells_sha256": silent}),
        "pixels": pixels,
    }
    if vector.source in ALPHA_PLANES:  # alpha is lossless: what the source picture had, exactly
        plane = ALPHA_PLANES[vector.source]()
        assert np.array_equal(np.asarray(image.getchannel("A")), plane), vector.name
        assert zlib.decompress(parsed.alpha.data) == plane.tobytes(), vector.name
        entry["alpha_sha256"] = alpha_sha256(image)
    return entry


def _partial_last_channels(vector: Vector, source: bytes) -> int | None:
    """The channels of the last decoded iteration of a one-tile vector when it is partial, else None.

    Its bits are then the source's: the iterations before whole, the last one's first channels.
    """
    parsed = container.read(vector.data)
    if parsed.header.tiled:
        return None
    planes = api.read_bitplanes(parsed, vector.expect["iterations"])
    if len(planes[-1]) == parsed.header.code_channels:
        return None
    whole = api.read_bitplanes(container.read(source), len(planes))
    assert all(np.array_equal(a, b[: len(a)]) for a, b in zip(planes, whole)), vector.name
    assert all(len(a) == len(b) for a, b in zip(planes[:-1], whole)), vector.name
    return len(planes[-1])


def main() -> None:
    find_model(MODEL)  # fail early, naming what is installed, if a frozen model is missing
    find_model(PRIOR_MODEL)
    assert find_model(ONE_SHOT_MODEL).one_shot
    bases = encode_sources()
    prior_bases = encode_sources(PRIOR_SOURCES, PRIOR_MODEL)
    segmented_bases = encode_sources(SEGMENTED_SOURCES, PRIOR_MODEL)
    one_shot_bases = encode_sources(ONE_SHOT_SOURCES, ONE_SHOT_MODEL)
    silent_bases = encode_sources(SILENT_SOURCES, PRIOR_MODEL)
    for name, coding in ((CODING1_BASE, 1), (PRIOR_BASE, 3)):
        codings = [item["coding"] for item in pillow_rgc.info({**bases, **prior_bases}[name])["chunks"]]
        if codings != [coding] * len(codings):
            raise SystemExit(f"{name}: codings {codings}, expected coding {coding} for every iteration")
    _check_segmented_sources(segmented_bases)
    _check_metadata()
    files: dict[str, bytes] = {}
    vectors = complete_vectors(bases, SOURCES) + derive(bases)
    _check_writer(bases[BASE], next(v for v in vectors if v.name == KNOWN_ANCILLARY))
    segmented = complete_vectors(segmented_bases, SEGMENTED_SOURCES) + derive_segmented(segmented_bases)
    _check_truncate(segmented_bases, next(v for v in segmented if v.name == TRIMMED))
    manifests = {
        MANIFEST: manifest(MODEL, FORMAT_VERSION, vectors, bases, files),
        PRIOR_MANIFEST: manifest(
            PRIOR_MODEL,
            PRIOR_FORMAT_VERSION,
            complete_vectors(prior_bases, PRIOR_SOURCES) + derive_prior(prior_bases),
            prior_bases,
            files,
        ),
        SEGMENTED_MANIFEST: manifest(
            PRIOR_MODEL, SEGMENTED_FORMAT_VERSION, segmented, segmented_bases, files
        ),
        ONE_SHOT_MANIFEST: manifest(
            ONE_SHOT_MODEL,
            ONE_SHOT_FORMAT_VERSION,
            complete_vectors(one_shot_bases, ONE_SHOT_SOURCES) + derive_one_shot(one_shot_bases),
            one_shot_bases,
            files,
        ),
        SILENT_MANIFEST: manifest(
            PRIOR_MODEL,
            SILENT_FORMAT_VERSION,
            complete_vectors(silent_bases, SILENT_SOURCES) + derive_silent(silent_bases),
            silent_bases,
            files,
        ),
    }
    VECTORS.mkdir(parents=True, exist_ok=True)
    for stale in [*VECTORS.glob("*.rgc"), *VECTORS.glob("*.png")]:
        if stale.name not in files:
            stale.unlink()
    for name, data in files.items():
        (VECTORS / name).write_bytes(data)
    for path, content in manifests.items():
        path.write_text(json.dumps(content, indent=1, ensure_ascii=False) + "\n")
        entries = content["vectors"]
        counts = {kind: sum(e["outcome"] == kind for e in entries) for kind in ("decodes", "error")}
        print(f"{path.name}: {len(entries)} vectors ({counts['decodes']} decode, {counts['error']} errors)")


def complete_vectors(bases: dict[str, bytes], sources: dict) -> list[Vector]:
    """The encoded base files themselves, complete."""
    vectors = []
    for name, data in bases.items():
        _, iterations, what = sources[name]
        description = f"{what}, {iterations} iterations, complete"
        vectors.append(Vector(name, data, description, decodes(iterations, True), name))
    return vectors


def manifest(
    model_id: str, version: str, vectors: list[Vector], bases: dict[str, bytes], files: dict[str, bytes]
) -> dict:
    """The manifest of vectors bound to ``model_id``, each checked; adds the vectors and PNGs to ``files``."""
    entries = []
    for vector in vectors:
        check(vector)
        entry = {"file": vector.name, "description": vector.description, **vector.expect}
        if vector.expect["outcome"] == "decodes":
            entry.update(decoded_entry(vector, bases, files))
        files[vector.name] = vector.data
        entries.append(entry)
    return {
        "format_version": version,
        "model": {"id": model_id, "sha256": find_model(model_id).sha256},
        "pixel_tolerance": PIXEL_TOLERANCE,
        "vectors": entries,
    }


def _check_writer(base: bytes, vector: Vector) -> None:
    """The metadata vector is what ``container.write(..., ancillary=...)`` writes, byte for byte."""
    parsed = container.read(base)
    written = container.write(
        parsed.header,
        [(item.coding, item.payload) for item in parsed.iterations],
        ancillary={"exif": exif_block(), "iccp": icc_profile(), "xmpd": XMP_PACKET},
    )
    assert written == vector.data, "container.write lays out ancillary chunks differently"


def _check_segmented_sources(bases: dict[str, bytes]) -> None:
    """The coding-4 sources came out as their descriptions say (this machine's float encoder decides)."""
    expected = {
        SEGMENTED_BASE: ("2.2", [3, 4, 4, 4], None),
        PARTIAL_BASE: ("2.2", [3, 4], 3),
        PARTIAL_TILED_BASE: ("3.2", [2, 2, 2, 2], None),
    }
    for name, (version, codings, last_channels) in expected.items():
        info = pillow_rgc.info(bases[name])
        found = [item["coding"] for item in info["chunks"]]
        if (info["format_version"], found) != (version, codings):
            raise SystemExit(f"{name}: version {info['format_version']}, codings {found}")
        if last_channels is not None:
            parsed = container.read(bases[name])
            segments = spec_coding4_segments(parsed.iterations[-1].payload, parsed.header.code_channels)
            if sum(count for count, _ in segments) != last_channels:
                raise SystemExit(f"{name}: the last iteration does not hold {last_channels} channels")


def _check_truncate(bases: dict[str, bytes], vector: Vector) -> None:
    """The trimmed coding-4 vector is what ``container.truncate(..., max_bytes=...)`` makes, byte for byte;
    so is the partial vector, from the coding-4 one (the writer's segments are the truncation's)."""
    base = bases[SEGMENTED_BASE]
    for budget in (len(vector.data), len(vector.data) + TRIMMED_SLACK):
        assert container.truncate(base, max_bytes=budget) == vector.data, f"truncate to {budget} bytes"
    partial = bases[PARTIAL_BASE]
    assert container.truncate(base, max_bytes=len(partial)) == partial, "the partial vector is no truncation"


def _check_metadata() -> None:
    """The hand-built metadata must be what it claims to be."""
    exif = Image.Exif()
    exif.load(exif_block())
    assert exif[0x0131] == "spec/make_vectors.py", dict(exif)
    profile = ImageCms.ImageCmsProfile(io.BytesIO(icc_profile()))
    assert ImageCms.getProfileDescription(profile).strip() == "pillow-rgc test RGB"


if __name__ == "__main__":
    main()
