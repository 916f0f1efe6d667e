"""A structure-aware mutator for ``.rgc`` files (spec/rgc.md, "Chunks"), for the atheris harness.

Random byte changes rarely get past the CRC-32 of a chunk, so most of these
mutations edit the file as chunks and write every length and CRC anew: flip
bits in a chunk's data, set HEAD and ITER fields to edge values, cut, grow or
forge payloads (coding-1 parameter blocks that parse), turn a file into a
tiled one (format 3.0) and edit its tile entries, drop, repeat, reorder and
insert chunks, cut the file. A few keep a wrong CRC or write a raw length
on purpose, and some mutations are libFuzzer's own (``generic``), so the
byte-level damage the CRC check stands in front of is fuzzed too.
"""

from __future__ import annotations

import random
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field

SIGNATURE = b"\x89RGC\r\n\x1a\n"

# HEAD data offsets (spec: "HEAD: the header")
MAJOR, MINOR, WIDTH, HEIGHT, MODE = 0, 1, 2, 6, 10
CODE_CHANNELS, CODE_STRIDE, ITERATIONS, MODEL_ID_LENGTH = 11, 12, 13, 14
HEAD_FIELDS = (MAJOR, MINOR, WIDTH, HEIGHT, MODE, CODE_CHANNELS, CODE_STRIDE, ITERATIONS, MODEL_ID_LENGTH)

INTERESTING_U8 = (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 15, 16, 17, 31, 32, 64, 127, 128, 254, 255)
# fmt: off
INTERESTING_U32 = (
    0, 1, 2, 3, 7, 8, 15, 16, 17, 31, 32, 33, 47, 48, 100, 255, 256, 1000, 3000, 4095, 4096, 8192,
    65535, 65536, (1 << 24) - 1, 1 << 24, (1 << 24) + 1, (1 << 31) - 1, 1 << 31, (1 << 32) - 1,
)
# fmt: on
MODEL_IDS = (b"rgc-lean-1", b"rgc-tiny-test", b"RGC", b"..", b"a" * 64, b"a" * 65, b"", b"x/y", b"\xff")
CHUNK_TYPES = (b"HEAD", b"ALPH", b"ITER", b"IEND", b"exif", b"iccp", b"xmpd", b"zzAz", b"ABCD", b"tEXt")


@dataclass
class Chunk:
    type: bytes
    data: bytes
    bad_crc: bool = False  # keep the CRC read from the file (or a wrong one)
    raw_length: int | None = None  # write this length instead of len(data)
    crc: int | None = None

    def build(self) -> bytes:
        length = len(self.data) if self.raw_length is None else self.raw_length
        crc = zlib.crc32(self.type + self.data)
        if self.bad_crc:
            crc = self.crc if self.crc is not None and self.crc != crc else crc ^ 0x5A5A5A5A
        return struct.pack(">I", length & 0xFFFFFFFF) + self.type + self.data + struct.pack(">I", crc)


@dataclass
class File:
    prefix: bytes = SIGNATURE
    chunks: list[Chunk] = field(default_factory=list)
    tail: bytes = b""  # a partial chunk or bytes after IEND

    @classmethod
    def parse(cls, data: bytes) -> File:
        """Chunks of ``data`` as far as they are complete; anything else is the tail (never fails)."""
        if not data.startswith(SIGNATURE):
            return cls(prefix=b"", chunks=[], tail=data)
        chunks, offset = [], len(SIGNATURE)
        while offset + 12 <= len(data):
            length, kind = struct.unpack(">I4s", data[offset : offset + 8])
            end = offset + 12 + length
            if end > len(data):
                break
            body = data[offset + 8 : end - 4]
            (crc,) = struct.unpack(">I", data[end - 4 : end])
            chunks.append(Chunk(kind, body, bad_crc=crc != zlib.crc32(kind + body), crc=crc))
            offset = end
            if kind == b"IEND":
                break
        return cls(SIGNATURE, chunks, data[offset:])

    def build(self) -> bytes:
        return self.prefix + b"".join(chunk.build() for chunk in self.chunks) + self.tail

    def find(self, kind: bytes) -> list[int]:
        return [i for i, chunk in enumerate(self.chunks) if chunk.type == kind]

    def head(self) -> bytearray | None:
        found = self.find(b"HEAD")
        return bytearray(self.chunks[found[0]].data) if found else None

    def code_channels(self) -> int:
        head = self.head()
        return head[CODE_CHANNELS] if head and len(head) > CODE_CHANNELS and head[CODE_CHANNELS] else 8


# --- coding-1 parameter blocks (spec: "Context-coded payload") -------------------


class _Bits:
    def __init__(self) -> None:
        self.text: list[str] = []

    def u(self, value: int, width: int) -> None:
        if width:
            self.text.append(format(value & ((1 << width) - 1), f"0{width}b"))

    def ue(self, value: int) -> None:
        code = value + 1
        self.text.append("0" * (code.bit_length() - 1) + format(code, "b"))

    def se(self, value: int) -> None:
        self.ue(2 * value - 1 if value > 0 else -2 * value)

    def tobytes(self) -> bytes:
        text = "".join(self.text)
        text += "0" * (-len(text) % 8)
        return int(text, 2).to_bytes(len(text) // 8, "big") if text else b""


def _parameter(rng: random.Random) -> int:
    return rng.choice([0, 0, 1, -1, rng.randint(-96, 96), rng.randint(-400, 400), 32767, -32767, 32768])


def coding1_payload(rng: random.Random, channels: int, first: bool) -> bytes:
    """A parameter block that mostly parses (some parents repeat, cycle or overflow), then coded words."""
    bits = _Bits()
    for _ in range(20 if first else 40):
        bits.se(_parameter(rng))
    sources = channels if first else 2 * channels
    width = (sources - 1).bit_length()
    for _ in range(channels):
        bits.se(_parameter(rng))
        count = rng.choice([0, 0, 0, 1, 1, 2, 3, rng.randint(0, sources)])
        bits.ue(count)
        for _ in range(count):
            parent = rng.randrange(sources) if rng.random() < 0.9 else rng.randrange(1 << width or 1)
            bits.u(parent, width)
            bits.se(_parameter(rng))
    words = [rng.getrandbits(32) for _ in range(rng.choice([0, 0, 1, 2, 3, rng.randint(0, 40)]))]
    if words and rng.random() < 0.9:
        words[-1] |= 1
    return bits.tobytes() + b"".join(struct.pack(">I", w) for w in words)


# --- the mutations -----------------------------------------------------------------


def _flip(rng: random.Random, data: bytes, count: int = 1) -> bytes:
    if not data:
        return data
    out = bytearray(data)
    for _ in range(count):
        position = rng.randrange(len(out))
        out[position] ^= 1 << rng.randrange(8)
    return bytes(out)


def _pick(rng: random.Random, f: File, kinds: tuple[bytes, ...] = ()) -> int | None:
    choices = [i for i, c in enumerate(f.chunks) if not kinds or c.type in kinds]
    return rng.choice(choices) if choices else None


def m_flip_data(rng, f):
    i = _pick(rng, f)
    if i is not None:
        f.chunks[i].data = _flip(rng, f.chunks[i].data, rng.choice([1, 1, 2, 8]))


def m_head_field(rng, f):
    i = _pick(rng, f, (b"HEAD",))
    if i is None:
        return
    head = bytearray(f.chunks[i].data)
    if len(head) < 15:
        return
    where = rng.choice(HEAD_FIELDS)
    if where in (WIDTH, HEIGHT):
        old = struct.unpack(">I", head[where : where + 4])[0]
        value = rng.choice(
            [rng.choice(INTERESTING_U32), old + rng.randint(-17, 17), old * 2, old * 16, rng.getrandbits(32)]
        )
        head[where : where + 4] = struct.pack(">I", value & 0xFFFFFFFF)
    else:
        nearby = (head[where] + rng.choice([-1, 1])) & 255
        head[where] = rng.choice([*INTERESTING_U8, rng.randrange(256), nearby])
    f.chunks[i].data = bytes(head)


def m_head_size(rng, f):
    """Grow or shrink HEAD data (later-minor fields, short model ids, missing hash bytes)."""
    i = _pick(rng, f, (b"HEAD",))
    if i is None:
        return
    data = f.chunks[i].data
    if rng.random() < 0.5:
        f.chunks[i].data = data + bytes(rng.randrange(256) for _ in range(rng.choice([1, 2, 17, 64])))
        if rng.random() < 0.7 and len(data) > MINOR:
            head = bytearray(f.chunks[i].data)
            head[MINOR] = rng.choice([1, 2, 255])
            f.chunks[i].data = bytes(head)
    else:
        f.chunks[i].data = data[: max(0, len(data) - rng.choice([1, 2, 31, 32, 33]))]


def m_model_id(rng, f):
    i = _pick(rng, f, (b"HEAD",))
    if i is None:
        return
    head = f.chunks[i].data
    if len(head) < 16:
        return
    n = head[MODEL_ID_LENGTH]
    name = rng.choice(MODEL_IDS)
    f.chunks[i].data = head[:MODEL_ID_LENGTH] + bytes([len(name) & 255]) + name + head[15 + n :]


def m_iter_field(rng, f):
    i = _pick(rng, f, (b"ITER",))
    if i is None:
        return
    data = bytearray(f.chunks[i].data)
    if len(data) < 3:
        return
    if rng.random() < 0.5:
        data[0:2] = struct.pack(">H", rng.choice([0, 1, 2, 3, 5, 255, 256, 65535, rng.randrange(65536)]))
    else:
        data[2] = rng.choice([0, 1, 1, 2, 255])
    f.chunks[i].data = bytes(data)


def m_payload_size(rng, f):
    i = _pick(rng, f, (b"ITER", b"ALPH", b"exif", b"iccp", b"xmpd"))
    if i is None:
        return
    data = f.chunks[i].data
    how = rng.randrange(4)
    if how == 0:
        f.chunks[i].data = data[: rng.randint(0, len(data))]
    elif how == 1:
        f.chunks[i].data = data[: max(0, len(data) - rng.choice([1, 3, 4, 5]))]
    elif how == 2:
        f.chunks[i].data = data + bytes(rng.choice([1, 3, 4, 8, 61, 64, 65]))
    else:
        f.chunks[i].data = data + bytes(rng.randrange(256) for _ in range(rng.choice([4, 8, 16])))


def m_coding1(rng, f):
    """Replace an ITER payload with a forged coding-1 one (marks the file 2.0 now and then)."""
    i = _pick(rng, f, (b"ITER",))
    if i is None:
        return
    index = struct.unpack(">H", f.chunks[i].data[:2])[0] if len(f.chunks[i].data) >= 2 else 0
    payload = coding1_payload(rng, f.code_channels(), index == 0)
    f.chunks[i].data = struct.pack(">HB", index, 1) + payload
    h = _pick(rng, f, (b"HEAD",))
    if h is not None and rng.random() < 0.5 and f.chunks[h].data:
        head = bytearray(f.chunks[h].data)
        head[MAJOR] = 2
        f.chunks[h].data = bytes(head)


def m_alpha(rng, f):
    i = _pick(rng, f, (b"ALPH",))
    head = f.head()
    if i is None or head is None or len(head) < 10:
        return
    width, height = struct.unpack(">II", head[WIDTH:MODE])
    size = min(width * height, 1 << 16) + rng.choice([0, 0, -1, 1])
    plane = bytes(rng.choice([0, 255, rng.randrange(256)]) for _ in range(min(max(size, 0), 64)))
    plane = (plane * (max(size, 0) // max(len(plane), 1) + 1))[: max(size, 0)]
    how = rng.randrange(4)
    if how == 0:
        f.chunks[i].data = bytes([0]) + zlib.compress(plane, rng.choice([0, 1, 9]))
    elif how == 1:
        f.chunks[i].data = bytes([rng.choice([0, 1, 255])]) + f.chunks[i].data[1:]
    elif how == 2:
        stream = zlib.compress(plane)
        f.chunks[i].data = bytes([0]) + stream[: rng.randint(0, len(stream))]
    else:
        f.chunks[i].data = bytes([0]) + zlib.compress(plane) + bytes(rng.choice([1, 4]))


def _head_end(head: bytes) -> int:
    """Offset after model_hash: where version 3 keeps tile_width, tile_height and tile_overlap (u32 each)."""
    return 15 + head[MODEL_ID_LENGTH] + 32 if len(head) > MODEL_ID_LENGTH else len(head)


def _entries(payload: bytes) -> tuple[list[bytes | None], bytes]:
    """The tile entries of a coding-2 payload (None: an empty entry) and what is left after them."""
    entries, offset = [], 0
    while offset + 4 <= len(payload):
        (length,) = struct.unpack(">I", payload[offset : offset + 4])
        if offset + 4 + length > len(payload):
            break
        entries.append(payload[offset + 4 : offset + 4 + length] or None)
        offset += 4 + length
    return entries, payload[offset:]


def _join_entries(entries: list[bytes | None], rest: bytes = b"") -> bytes:
    return b"".join(struct.pack(">I", len(e or b"")) + (e or b"") for e in entries) + rest


def m_make_tiled(rng, f):
    """Version 3: tile size and overlap in HEAD, every ITER as coding 2 (one whole-picture tile: valid)."""
    h = _pick(rng, f, (b"HEAD",))
    if h is None or len(f.chunks[h].data) < 15:
        return
    head = bytearray(f.chunks[h].data)
    end = _head_end(head)
    width, height = struct.unpack(">II", bytes(head[WIDTH:MODE]).ljust(8, b"\0"))
    stride = head[CODE_STRIDE] or 16

    def side(length: int) -> int:
        whole = -(-length // stride) * stride
        return rng.choice([whole, stride, 2 * stride, max(stride, whole // 2), rng.choice(INTERESTING_U32)])

    overlap = rng.choice([0, 0, stride, 1, 8, rng.choice(INTERESTING_U32)])
    head[MAJOR] = 3
    head[end : end + 12] = struct.pack(">III", side(width) & 0xFFFFFFFF, side(height) & 0xFFFFFFFF, overlap)
    f.chunks[h].data = bytes(head)
    for chunk in f.chunks:
        if chunk.type == b"ITER" and len(chunk.data) >= 3 and chunk.data[2] != 2:
            entry = chunk.data[2:3] + chunk.data[3:]
            count = rng.choice([1, 1, 1, 2, 4])
            chunk.data = chunk.data[:2] + b"\2" + _join_entries([entry] * count)


def m_tile_entries(rng, f):
    """Edit the entries of a coding-2 payload: empty, drop, repeat, swap, recode or forge one."""
    i = _pick(rng, f, (b"ITER",))
    if i is None or len(f.chunks[i].data) < 3:
        return
    data = f.chunks[i].data
    entries, rest = _entries(data[3:])
    if not entries:
        entries = [data[2:]]
    j = rng.randrange(len(entries))
    how = rng.randrange(7)
    if how == 0:
        entries[j] = None
    elif how == 1:
        del entries[j]
    elif how == 2:
        entries.insert(j, entries[j])
    elif how == 3 and len(entries) > 1:
        k = rng.randrange(len(entries))
        entries[j], entries[k] = entries[k], entries[j]
    elif how == 4 and entries[j]:
        entries[j] = bytes([rng.choice([0, 1, 2, 255])]) + entries[j][1:]
    elif how == 5:
        index = struct.unpack(">H", data[:2])[0]
        entries[j] = b"\1" + coding1_payload(rng, f.code_channels(), index == 0)
    else:
        rest = rng.choice([b"", b"\0", b"\0\0\0\1", b"\0\0\0\0"])
    f.chunks[i].data = data[:2] + b"\2" + _join_entries(entries, rest)


def m_tile_size(rng, f):
    h = _pick(rng, f, (b"HEAD",))
    if h is None or len(f.chunks[h].data) < 15:
        return
    head = bytearray(f.chunks[h].data)
    where = _head_end(head) + rng.choice([0, 4, 8])
    if len(head) >= where + 4:
        value = rng.choice([*INTERESTING_U32, rng.getrandbits(32)])
        head[where : where + 4] = struct.pack(">I", value)
        f.chunks[h].data = bytes(head)


def m_duplicate(rng, f):
    i = _pick(rng, f)
    if i is not None:
        c = f.chunks[i]
        f.chunks.insert(rng.randint(0, len(f.chunks)), Chunk(c.type, c.data))


def m_delete(rng, f):
    i = _pick(rng, f)
    if i is not None:
        del f.chunks[i]


def m_swap(rng, f):
    if len(f.chunks) >= 2:
        i, j = rng.sample(range(len(f.chunks)), 2)
        f.chunks[i], f.chunks[j] = f.chunks[j], f.chunks[i]


def m_insert(rng, f):
    kind = rng.choice(CHUNK_TYPES)
    if kind == b"IEND":
        data = b""
    elif kind == b"exif":
        data = rng.choice([b"MM\0*\0\0\0\x08\0\0", b"II*\0\x08\0\0\0", b"Exif\0\0MM\0*", b"junk"])
    else:
        data = bytes(rng.randrange(256) for _ in range(rng.choice([0, 1, 3, 10, 40])))
    f.chunks.insert(rng.randint(0, len(f.chunks)), Chunk(kind, data))


def m_retype(rng, f):
    i = _pick(rng, f)
    if i is not None:
        f.chunks[i].type = rng.choice(
            [*CHUNK_TYPES, f.chunks[i].type.swapcase(), bytes(rng.randrange(256) for _ in range(4))]
        )


def m_raw_length(rng, f):
    i = _pick(rng, f)
    if i is not None:
        n = len(f.chunks[i].data)
        f.chunks[i].raw_length = rng.choice(
            [n + 1, n - 1, n + 4, 0, rng.choice(INTERESTING_U32), rng.getrandbits(32), n * 2, n + 64]
        )


def m_bad_crc(rng, f):
    i = _pick(rng, f)
    if i is not None:
        f.chunks[i].bad_crc = True
        f.chunks[i].crc = None


def m_tail(rng, f):
    f.tail = rng.choice([b"", b"\0", b"garbage after IEND", bytes(rng.randrange(256) for _ in range(20))])


def m_cut_chunks(rng, f):
    """Keep a prefix of the chunks (a file cut at a chunk boundary)."""
    if f.chunks:
        del f.chunks[rng.randint(1, len(f.chunks)) :]
        f.tail = b""


STRUCTURED: tuple[Callable[[random.Random, File], None], ...] = (
    m_flip_data,
    m_head_field,
    m_head_field,
    m_head_size,
    m_model_id,
    m_iter_field,
    m_payload_size,
    m_coding1,
    m_coding1,
    m_alpha,
    m_duplicate,
    m_delete,
    m_swap,
    m_insert,
    m_retype,
    m_raw_length,
    m_bad_crc,
    m_tail,
    m_cut_chunks,
    m_make_tiled,
    m_tile_entries,
    m_tile_entries,
    m_tile_size,
)


Generic = Callable[[bytes, int], bytes]


def mutate(data: bytes, max_size: int, seed: int, generic: Generic | None = None) -> bytes:
    """One mutation of ``data`` (at most ``max_size`` bytes); ``generic`` is libFuzzer's own mutator."""
    rng = random.Random(seed)
    roll = rng.random()
    if generic is not None and roll < 0.2:
        out = generic(data, max_size)  # bytes as libFuzzer sees them, CRCs left broken
    elif generic is not None and roll < 0.3:
        out = File.parse(generic(data, max_size)).build()  # then every CRC is right again...
        if out.startswith(SIGNATURE):  # ...though only for the chunks still complete
            f = File.parse(out)
            for chunk in f.chunks:
                chunk.bad_crc = False
            out = f.build()
    else:
        f = File.parse(data)
        if not f.prefix:
            f = File.parse(SIGNATURE + data) if rng.random() < 0.5 else f
        for _ in range(rng.choice([1, 1, 1, 2, 3])):
            rng.choice(STRUCTURED)(rng, f)
        out = f.build()
        if rng.random() < 0.1 and len(out) > 8:
            out = out[: rng.randint(8, len(out) - 1)]  # a cut anywhere
    return out[:max_size]


def crossover(data1: bytes, data2: bytes, max_size: int, seed: int) -> bytes:
    """The chunks of ``data1`` with a run of chunks of ``data2`` spliced in (CRCs kept right)."""
    rng = random.Random(seed)
    a, b = File.parse(data1), File.parse(data2)
    if not a.chunks or not b.chunks:
        return data1[: rng.randint(0, len(data1))] + data2[rng.randint(0, len(data2)) :][:max_size]
    start = rng.randrange(len(b.chunks))
    piece = b.chunks[start : start + rng.randint(1, 3)]
    at = rng.randint(0, len(a.chunks))
    a.chunks[at : at + rng.choice([0, len(piece)])] = [Chunk(c.type, c.data) for c in piece]
    return a.build()[:max_size]
