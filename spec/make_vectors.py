"""(Re)generate the conformance vectors: ``spec/vectors/*.rgc``, their expected pixels and ``manifest.json``.

    python spec/make_vectors.py

Run it only on a deliberate format change (and add a changelog entry to
``spec/rgc.md``): the vectors pin what every reader must do with these exact
bytes, so they are not rebuilt casually.  They are bound to the frozen model
``rgc-tiny-test``.

Two steps, kept apart on purpose:

1. ``encode_sources``: three pictures made here (gradients, shapes and seeded
   noise, no input files) are encoded with ``pillow_rgc.encode``.  This step runs
   float networks, so on another machine it may give other bits: the committed
   files are the reference, not this step.
2. ``derive``: every other vector (cut, damaged, re-wrapped) is made from the
   bytes of ``rgb-48x40-4it.rgc`` with plain byte surgery (``struct`` and
   ``zlib``, independent of the module under test).  This step is exact, so
   ``tests/test_conformance.py`` checks that the committed derived files are what
   ``derive`` makes from the committed base file.

Expected outcomes are written by hand from ``spec/rgc.md``; the script then
checks each one against ``pillow_rgc.container`` and refuses to write vectors
that the reference reader disagrees with.
"""

from __future__ import annotations

import hashlib
import io
import json
import struct
import sys
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageCms

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from a checkout
    sys.path.insert(0, str(ROOT))

import pillow_rgc  # noqa: E402  (registers the plugin too)
from pillow_rgc import api, container  # noqa: E402
from pillow_rgc.models import find_model  # noqa: E402

VECTORS = ROOT / "spec" / "vectors"
MANIFEST = VECTORS / "manifest.json"
MODEL = "rgc-tiny-test"
BASE = "rgb-48x40-4it.rgc"
"""The vector every cut and damaged vector is made from."""
KNOWN_ANCILLARY = "rgb-48x40-4it-ancillary-known.rgc"

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


SOURCES = {
    # file name: (picture, iterations, description)
    BASE: (rgb_picture, 4, "RGB 48x40: gradients, a disc, a bar and noise (the base of the derived vectors)"),
    "gray-17x9-3it.rgc": (gray_picture, 3, "L 17x9: ramp, checkerboard and noise"),
    "rgb-1x1-2it.rgc": (one_pixel, 2, "RGB 1x1: one orange pixel"),
}


def encode_sources() -> dict[str, bytes]:
    """The base vectors, encoded by this machine's float encoder."""
    return {
        name: pillow_rgc.encode(make(), model=MODEL, iterations=iterations)
        for name, (make, iterations, _) in SOURCES.items()
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
    layout = {"major": (0, ">B"), "minor": (1, ">B"), "width": (2, ">I"), "iterations": (13, ">B")}
    data = bytearray(head.data)
    for name, value in fields.items():
        position, fmt = layout[name]
        struct.pack_into(fmt, data, position, value)
    return chunk(b"HEAD", bytes(data))


def middle(c: Chunk) -> int:
    """A byte offset inside the chunk's data (after its length and type, before its CRC)."""
    return c.offset + 8 + max(1, len(c.data) // 2)


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


def corrupt(chunk_type: str, offset: int, stage: str, good_prefix: int, *message: str) -> dict:
    """A corrupt chunk: the error names its type and the offset of its length field."""
    return error(
        "corrupt",
        stage,
        chunk_type,
        str(offset),
        *message,
        chunk=chunk_type,
        offset=offset,
        good_prefix=good_prefix,
    )


def derive(base: bytes) -> list[Vector]:
    """Every vector made from the bytes of the base vector (exact: no float arithmetic)."""
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
        "corrupt-head-version-2.0.rgc",
        join(with_head(head, major=2), *iters, iend),
        "format version 2.0, CRC recomputed: refused by its version before anything else",
        error("unsupported-version", "open", "2.0"),
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


def _head_with_model(head: Chunk, model_id: bytes, model_hash: bytes) -> bytes:
    return head.data[:14] + bytes([len(model_id)]) + model_id + model_hash


# --- expectations and output -------------------------------------------------


def bitplanes_sha256(data: bytes, iterations: int) -> str:
    """SHA-256 of the first decoded bitplanes, each packed as coding 0 stores it (padding bits 0).

    Computed from the decoded bits, so it does not depend on the payload coding;
    for coding-0 chunks it is cross-checked against the payload bytes themselves.
    """
    parsed = container.read(data)
    bitplanes = api.read_bitplanes(parsed, iterations)
    packed = [np.packbits(bits.ravel()).tobytes() for bits in bitplanes]
    for item, raw in zip(parsed.iterations, packed):
        assert item.coding != 0 or item.payload == raw, "coding-0 payload with nonzero padding bits"
    return hashlib.sha256(b"".join(packed)).hexdigest()


def pixel_file(source: str, iterations: int) -> str:
    return f"{source.removesuffix('.rgc').rsplit('-', 1)[0]}.{iterations}it.png"


FORMAT_ERRORS = {
    "not-rgc": container.NotRGCError,
    "truncated": container.TruncatedFileError,
    "corrupt": container.CorruptChunkError,
    "unsupported-version": container.UnsupportedVersionError,
}


def check(vector: Vector) -> None:
    """Refuse a vector whose expectation the reference container reader disagrees with."""
    expect = vector.expect
    try:
        parsed = container.read(vector.data)
    except container.RGCFormatError as caught:
        assert expect["outcome"] == "error", (vector.name, caught)
        assert isinstance(caught, FORMAT_ERRORS[expect["error"]]), (vector.name, caught)
        assert all(part in str(caught) for part in expect["message_contains"]), (vector.name, caught)
        if expect["error"] == "corrupt":
            assert (caught.chunk_type, caught.offset) == (expect["chunk"], expect["offset"]), vector.name
            if expect["good_prefix"]:
                kept = container.read(vector.data, on_corrupt="stop").iterations
                assert len(kept) == expect["good_prefix"], vector.name
    else:
        if expect["outcome"] == "decodes":
            found = (len(parsed.iterations), parsed.complete)
            assert found == (expect["iterations"], expect["complete"]), (vector.name, found)
        else:
            assert expect["error"] in ("unknown-model", "model-mismatch"), vector.name
    try:
        container.scan(io.BytesIO(vector.data))
        found_at_open = False
    except container.RGCFormatError:
        found_at_open = True
    assert found_at_open == (expect.get("stage") == "open"), (vector.name, "stage")


def main() -> None:
    find_model(MODEL)  # fails early, naming what is installed, if the frozen model is missing
    bases = encode_sources()
    vectors = []
    for name, data in bases.items():
        _, iterations, what = SOURCES[name]
        description = f"{what}, {iterations} iterations, complete"
        vectors.append(Vector(name, data, description, decodes(iterations, True), name))
    vectors += derive(bases[BASE])

    _check_metadata()
    _check_writer(bases[BASE], next(v for v in vectors if v.name == KNOWN_ANCILLARY))
    files: dict[str, bytes] = {}
    entries = []
    for vector in vectors:
        check(vector)
        entry = {"file": vector.name, "description": vector.description, **vector.expect}
        if vector.expect["outcome"] == "decodes":
            source = bases[vector.source]
            iterations = vector.expect["iterations"]
            image = pillow_rgc.decode(source, iterations=iterations)
            pixels = pixel_file(vector.source, iterations)
            if pixels not in files:
                buffer = io.BytesIO()
                image.save(buffer, "PNG")
                files[pixels] = buffer.getvalue()
            entry.update(
                width=image.width,
                height=image.height,
                mode=image.mode,
                bitplanes_sha256=bitplanes_sha256(source, iterations),
                pixels=pixels,
            )
        files[vector.name] = vector.data
        entries.append(entry)

    model = find_model(MODEL)
    manifest = {
        "format_version": "{}.{}".format(*container.FORMAT_VERSION),
        "model": {"id": MODEL, "sha256": model.sha256},
        "pixel_tolerance": PIXEL_TOLERANCE,
        "vectors": entries,
    }
    VECTORS.mkdir(parents=True, exist_ok=True)
    for stale in [*VECTORS.glob("*.rgc"), *VECTORS.glob("*.png")]:
        if stale.name not in files:
            stale.unlink()
    for name, data in files.items():
        (VECTORS / name).write_bytes(data)
    MANIFEST.write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n")
    counts = {kind: sum(e["outcome"] == kind for e in entries) for kind in ("decodes", "error")}
    print(f"wrote {len(entries)} vectors ({counts['decodes']} decode, {counts['error']} errors) to {VECTORS}")


def _check_writer(base: bytes, vector: Vector) -> None:
    """The metadata vector is what ``container.write(..., ancillary=...)`` writes, byte for byte."""
    parsed = container.read(base)
    written = container.write(
        parsed.header,
        [(item.coding, item.payload) for item in parsed.iterations],
        ancillary={"exif": exif_block(), "iccp": icc_profile(), "xmpd": XMP_PACKET},
    )
    assert written == vector.data, "container.write lays out ancillary chunks differently"


def _check_metadata() -> None:
    """The hand-built metadata must be what it claims to be."""
    exif = Image.Exif()
    exif.load(exif_block())
    assert exif[0x0131] == "spec/make_vectors.py", dict(exif)
    profile = ImageCms.ImageCmsProfile(io.BytesIO(icc_profile()))
    assert ImageCms.getProfileDescription(profile).strip() == "pillow-rgc test RGB"


if __name__ == "__main__":
    main()
