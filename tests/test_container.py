"""Behaviour of the .rgc container (spec/rgc.md): round trips, cuts, corruption, versions, fuzzing.

Test files are made with ``write`` and small fake payloads of the right size; damaged
files are made by editing chunks with the independent helpers below (struct + zlib), so
the tests do not trust the module's own parser to build what it then parses.
"""

import io
import struct
import zlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pillow_rgc import container
from pillow_rgc.container import (
    FORMAT_VERSION,
    SIGNATURE,
    CorruptChunkError,
    Header,
    NotRGCError,
    RGCFormatError,
    TruncatedFileError,
    UnsupportedVersionError,
    read,
    scan,
    truncate,
    write,
)

HEADER = Header(
    width=20,
    height=12,
    mode="RGB",
    model_id="test-model_1.0",
    model_hash=bytes(range(32)),
    code_channels=4,
    code_stride=8,
    iterations=3,
)
PAYLOADS = [(0, bytes([0x11 * (i + 1)]) * 3) for i in range(3)]  # code shape (4, 2, 3): 24 bits, 3 bytes
EXIF = b"Exif\x00\x00MM\x00\x2a"


def make_file(ancillary=None):
    return write(HEADER, PAYLOADS, ancillary)


# --- independent chunk helpers -----------------------------------------------


def chunk(chunk_type: bytes, data: bytes, crc: int | None = None) -> bytes:
    crc = zlib.crc32(chunk_type + data) if crc is None else crc
    return struct.pack(">I", len(data)) + chunk_type + data + struct.pack(">I", crc)


def split(data: bytes) -> list[tuple[bytes, bytes]]:
    """(type, data) of each chunk of a valid file."""
    chunks, offset = [], len(SIGNATURE)
    while offset < len(data):
        (length,) = struct.unpack_from(">I", data, offset)
        chunks.append((data[offset + 4 : offset + 8], data[offset + 8 : offset + 8 + length]))
        offset += 12 + length
    return chunks


def join(chunks: list[tuple[bytes, bytes]]) -> bytes:
    return SIGNATURE + b"".join(chunk(t, d) for t, d in chunks)


def offsets(data: bytes) -> list[int]:
    result, offset = [], len(SIGNATURE)
    while offset + 4 <= len(data):
        result.append(offset)
        offset += 12 + struct.unpack_from(">I", data, offset)[0]
    return result


def with_head(data: bytes, head_data: bytes) -> bytes:
    chunks = split(data)
    chunks[0] = (b"HEAD", head_data)
    return join(chunks)


def iter_data(index: int, payload: bytes = b"\0\0\0", coding: int = 0) -> bytes:
    return struct.pack(">HB", index, coding) + payload


def scan_bytes(data: bytes):
    return scan(io.BytesIO(data))


def scanned(data: bytes) -> tuple:
    """What scan found, as (header, complete ITER chunks, IEND reached)."""
    result = scan_bytes(data)
    return result.header, result.iterations, result.complete


# --- writing and reading -----------------------------------------------------


def test_write_then_read_round_trips_header_payloads_and_ancillary():
    data = make_file({"exif": EXIF, "xmpd": b"<x/>"})
    result = read(data)
    assert result.header == HEADER
    assert [(c.index, c.coding, c.payload) for c in result.iterations] == [
        (i, coding, payload) for i, (coding, payload) in enumerate(PAYLOADS)
    ]
    assert result.ancillary == {"exif": EXIF, "xmpd": b"<x/>"}
    assert result.complete and result.corrupt is None


def test_file_layout_is_the_one_in_the_spec():
    data = make_file()
    assert data[:8] == bytes.fromhex("89 52 47 43 0D 0A 1A 0A")
    head_type, head = split(data)[0]
    assert head_type == b"HEAD"
    model_id = HEADER.model_id.encode()
    assert head == (
        bytes([1, 0])
        + struct.pack(">II", 20, 12)
        + bytes([3, 4, 8, 3, len(model_id)])
        + model_id
        + bytes(range(32))
    )
    assert len(head) == 15 + len(model_id) + 32
    iters = [(b"ITER", iter_data(i, payload)) for i, (_, payload) in enumerate(PAYLOADS)]
    assert split(data)[1:] == iters + [(b"IEND", b"")]


def test_iteration_chunks_report_their_offset_and_size():
    data = make_file({"iccp": b"profile"})
    for item in read(data).iterations:
        assert data[item.offset + 4 : item.offset + 8] == b"ITER"
        assert item.size == 12 + 3 + len(item.payload)


def test_code_shape_and_raw_payload_size_round_up():
    assert HEADER.code_shape() == (4, 2, 3)
    assert HEADER.raw_payload_size() == 3
    header = Header(17, 33, "L", "m", bytes(32), code_channels=3, code_stride=16, iterations=1)
    assert header.code_shape() == (3, 3, 2)
    assert header.raw_payload_size() == 3  # 18 bits


@pytest.mark.parametrize(
    "field, value",
    [
        ("width", 0),
        ("height", container.MAX_DIMENSION + 1),
        ("mode", "RGBA"),
        ("model_id", "Upper"),
        ("model_id", "x" * 65),
        ("model_id", ""),
        ("model_hash", bytes(31)),
        ("code_channels", 0),
        ("code_stride", 256),
        ("iterations", 0),
    ],
)
def test_header_refuses_out_of_range_fields(field, value):
    fields = {**HEADER.__dict__, field: value}
    with pytest.raises(ValueError, match=field):
        Header(**fields)


def test_header_refuses_a_code_too_large_for_a_chunk():
    with pytest.raises(ValueError, match="too large"):
        Header(**{**HEADER.__dict__, "width": 1 << 24, "height": 1 << 24, "code_stride": 1})


def test_write_refuses_what_a_reader_would_refuse():
    with pytest.raises(ValueError, match="payloads"):
        write(HEADER, PAYLOADS[:2])
    with pytest.raises(ValueError, match="bytes"):
        write(HEADER, [(0, b"\0\0")] + PAYLOADS[1:])
    with pytest.raises(ValueError, match="coding"):
        write(HEADER, [(1, b"\0\0\0")] + PAYLOADS[1:])
    with pytest.raises(ValueError, match="ancillary"):
        write(HEADER, PAYLOADS, {"EXIF": b""})
    with pytest.raises(ValueError, match="version"):
        write(Header(**{**HEADER.__dict__, "version": (1, 5)}), PAYLOADS)


def test_read_refuses_an_unknown_on_corrupt_policy():
    with pytest.raises(ValueError, match="on_corrupt"):
        read(make_file(), on_corrupt="ignore")


# --- scan --------------------------------------------------------------------


def test_scan_agrees_with_read_on_whole_and_cut_files():
    data = make_file({"exif": EXIF, "abcd": b"unknown"})
    first_iter_end = read(data).iterations[0].offset + read(data).iterations[0].size
    for size in range(first_iter_end, len(data) + 1):
        result = read(data[:size])
        assert scanned(data[:size]) == (result.header, len(result.iterations), result.complete)
        assert scan_bytes(data[:size]).ancillary == result.ancillary == {"exif": EXIF}


def test_scan_reads_from_the_current_position_of_the_file():
    stream = io.BytesIO(b"junk" + make_file())
    stream.seek(4)
    result = scan(stream)
    assert (result.header, result.iterations, result.complete) == (HEADER, 3, True)


def test_scan_returns_the_known_ancillary_chunks_crc_checked():
    data = make_file({"exif": EXIF, "iccp": b"profile", "xmpd": b"<x/>", "abcd": b"skipped"})
    assert scan_bytes(data).ancillary == {"exif": EXIF, "iccp": b"profile", "xmpd": b"<x/>"}
    chunks = split(make_file())
    bad = join(chunks[:1]) + chunk(b"iccp", b"profile", crc=0) + join(chunks[1:])[8:]
    with pytest.raises(CorruptChunkError, match="iccp.*CRC"):
        scan_bytes(bad)


def test_scan_stops_at_framing_damage_on_request():
    data = bytearray(make_file())
    struct.pack_into(">I", data, offsets(bytes(data))[3], 1 << 30)  # absurd length of the last ITER
    result = scan(io.BytesIO(bytes(data)), on_corrupt="stop")
    assert (result.iterations, result.complete) == (2, False)
    assert "ITER" in result.corrupt and "length" in result.corrupt
    with pytest.raises(ValueError, match="on_corrupt"):
        scan(io.BytesIO(make_file()), on_corrupt="ignore")


# --- truncate ----------------------------------------------------------------


def test_truncate_by_iterations_gives_a_complete_self_consistent_file():
    short = truncate(make_file(), iterations=2)
    result = read(short)
    assert result.complete
    assert result.header.iterations == 2
    assert [c.payload for c in result.iterations] == [p for _, p in PAYLOADS[:2]]
    assert short == write(Header(**{**HEADER.__dict__, "iterations": 2}), PAYLOADS[:2])


def test_truncate_by_max_bytes_keeps_as_many_iterations_as_fit():
    data = make_file()
    assert truncate(data, max_bytes=len(data)) == data
    assert read(truncate(data, max_bytes=len(data) - 1)).header.iterations == 2
    two = truncate(data, iterations=2)
    assert truncate(data, max_bytes=len(two)) == two
    assert len(truncate(data, max_bytes=len(two) + 5)) == len(two)


def test_truncate_takes_the_smaller_of_both_limits():
    data = make_file()
    assert read(truncate(data, iterations=1, max_bytes=len(data))).header.iterations == 1
    assert read(truncate(data, iterations=3, max_bytes=len(data) - 1)).header.iterations == 2


def test_truncate_keeps_ancillary_chunks():
    data = make_file({"exif": EXIF, "abcd": b"unknown"})
    short = truncate(data, iterations=1)
    assert read(short).ancillary == {"exif": EXIF}
    assert (b"abcd", b"unknown") in split(short)


def test_truncate_repairs_a_cut_file():
    data = make_file()
    short = truncate(data[:-20])
    assert read(short).complete
    assert read(short).header.iterations == 2


def test_truncate_refuses_when_nothing_fits():
    data = make_file()
    with pytest.raises(ValueError, match="not even one iteration"):
        truncate(data, max_bytes=len(truncate(data, iterations=1)) - 1)
    with pytest.raises(ValueError, match="at least 1"):
        truncate(data, iterations=0)


# --- truncation --------------------------------------------------------------


def test_every_cut_reads_the_complete_iterations_before_it():
    data = make_file({"exif": EXIF})
    ends = [c.offset + c.size for c in read(data).iterations]
    for size in range(len(data)):
        cut = data[:size]
        complete_iterations = sum(1 for end in ends if end <= size)
        if not complete_iterations:
            with pytest.raises(TruncatedFileError, match="truncated before its first complete iteration"):
                read(cut)
            with pytest.raises(TruncatedFileError):
                scan_bytes(cut)
            continue
        result = read(cut)
        assert len(result.iterations) == complete_iterations
        assert not result.complete


def test_data_after_iend_is_ignored():
    data = make_file()
    assert read(data + b"trailing garbage") == read(data)
    assert scanned(data + b"trailing garbage") == (HEADER, 3, True)


# --- corruption --------------------------------------------------------------


@pytest.mark.parametrize("data", [b"\x89PNG\r\n\x1a\n" + bytes(40), b"GIF89a", b"\x89RGX"])
def test_bad_signature_is_not_rgc(data):
    with pytest.raises(NotRGCError):
        read(data)
    with pytest.raises(NotRGCError):
        scan_bytes(data)


def test_bad_crc_on_head_is_corrupt():
    data = bytearray(make_file())
    data[20] ^= 0x01  # inside HEAD data
    with pytest.raises(CorruptChunkError, match="HEAD.*CRC") as error:
        read(bytes(data))
    assert (error.value.chunk_type, error.value.chunk_index, error.value.offset) == ("HEAD", 0, 8)
    with pytest.raises(CorruptChunkError, match="HEAD"):
        scan_bytes(bytes(data))


def test_bad_crc_on_iter_is_corrupt_and_named():
    data = bytearray(make_file())
    second = offsets(bytes(data))[2]
    data[second + 12] ^= 0x80  # payload of ITER 1
    with pytest.raises(CorruptChunkError, match="ITER") as error:
        read(bytes(data))
    assert error.value.chunk_type == "ITER"
    assert error.value.offset == second
    assert str(second) in str(error.value) and "chunk 2" in str(error.value)


def test_stop_on_corrupt_keeps_the_good_prefix():
    data = bytearray(make_file())
    data[offsets(bytes(data))[2] + 12] ^= 0x80
    result = read(bytes(data), on_corrupt="stop")
    assert len(result.iterations) == 1
    assert not result.complete
    assert "ITER" in result.corrupt and "CRC" in result.corrupt


def test_stop_on_corrupt_still_raises_without_a_good_iteration():
    data = bytearray(make_file())
    data[offsets(bytes(data))[1] + 12] ^= 0x80
    with pytest.raises(CorruptChunkError):
        read(bytes(data), on_corrupt="stop")


def test_unknown_critical_chunk_is_rejected():
    chunks = split(make_file())
    data = join(chunks[:2] + [(b"ZZZZ", b"data")] + chunks[2:])
    with pytest.raises(CorruptChunkError, match="ZZZZ.*unknown critical"):
        read(data)
    with pytest.raises(CorruptChunkError, match="ZZZZ"):
        scan_bytes(data)


def test_unknown_ancillary_chunk_is_skipped_but_crc_checked():
    chunks = split(make_file())
    data = join(chunks[:2] + [(b"zzzz", b"data")] + chunks[2:])
    result = read(data)
    assert [c.payload for c in result.iterations] == [p for _, p in PAYLOADS]
    assert result.ancillary == {} and result.complete
    assert scanned(data) == (HEADER, 3, True)
    bad = join(chunks[:2]) + chunk(b"zzzz", b"data", crc=0) + join(chunks[2:])[8:]
    with pytest.raises(CorruptChunkError, match="zzzz.*CRC"):
        read(bad)


def test_chunk_type_that_is_not_letters_is_corrupt():
    chunks = split(make_file())
    with pytest.raises(CorruptChunkError, match="letters"):
        read(join(chunks[:2] + [(b"z\0zz", b"")] + chunks[2:]))


def test_absurd_iter_length_is_corrupt_not_a_cut():
    data = bytearray(make_file())
    last_iter = offsets(bytes(data))[3]
    struct.pack_into(">I", data, last_iter, 1 << 30)
    with pytest.raises(CorruptChunkError, match="ITER.*length"):
        read(bytes(data))
    with pytest.raises(CorruptChunkError, match="ITER.*length"):
        scan_bytes(bytes(data))
    struct.pack_into(">I", data, last_iter, 0xFFFFFFFF)
    with pytest.raises(CorruptChunkError, match="2\\^31"):
        read(bytes(data))


def test_iter_payload_of_the_wrong_size_is_corrupt():
    chunks = split(make_file())
    chunks[1] = (b"ITER", iter_data(0, b"\0\0\0\0"))
    with pytest.raises(CorruptChunkError, match="payload of 4 bytes"):
        read(join(chunks))


def test_unsupported_coding_is_corrupt():
    chunks = split(make_file())
    chunks[2] = (b"ITER", iter_data(1, coding=7))
    with pytest.raises(CorruptChunkError, match="unsupported coding 7"):
        read(join(chunks))


def test_huge_width_is_corrupt():
    head = bytearray(split(make_file())[0][1])
    struct.pack_into(">I", head, 2, container.MAX_DIMENSION + 1)
    data = with_head(make_file(), bytes(head))
    with pytest.raises(CorruptChunkError, match="HEAD.*width"):
        read(data)
    with pytest.raises(CorruptChunkError, match="width"):
        scan_bytes(data)


@pytest.mark.parametrize(
    "offset, value, message",
    [
        (10, 5, "mode byte 5"),
        (10, 2, "mode LA needs format version 2.0"),
        (10, 4, "mode RGBA needs format version 2.0"),
        (11, 0, "code_channels"),
        (12, 0, "code_stride"),
        (13, 0, "iterations"),
        (15, 0x41, "model_id"),
    ],
)
def test_bad_head_fields_are_corrupt(offset, value, message):
    head = bytearray(split(make_file())[0][1])
    head[offset] = value
    with pytest.raises(CorruptChunkError, match=message):
        read(with_head(make_file(), bytes(head)))


def test_head_of_the_wrong_length_is_corrupt():
    head = split(make_file())[0][1]
    for bad in (head + b"\0", head[:-1], head[:10]):
        with pytest.raises(CorruptChunkError, match="HEAD"):
            read(with_head(make_file(), bad))


def test_head_must_come_first_and_only_once():
    chunks = split(make_file())
    with pytest.raises(CorruptChunkError, match="first chunk must be HEAD"):
        read(join([(b"exif", EXIF)] + chunks))
    with pytest.raises(CorruptChunkError, match="duplicate HEAD"):
        read(join(chunks[:1] + chunks))


def test_major_version_4_is_unsupported_and_named():
    head = bytes([4, 0]) + b"a future header of any length"
    for data in (with_head(make_file(), head), with_head(make_file(), head)[:30]):
        with pytest.raises(UnsupportedVersionError, match=r"4\.0"):
            read(data)
        with pytest.raises(UnsupportedVersionError, match=r"4\.0"):
            scan_bytes(data)


def test_higher_minor_version_is_read_and_its_new_fields_ignored():
    head = split(make_file())[0][1]
    data = with_head(make_file(), bytes([1, 5]) + head[2:] + b"fields of 1.5")
    result = read(data)
    assert result.header.version == (1, 5)
    assert result.header == Header(**{**HEADER.__dict__, "version": (1, 5)})
    assert scanned(data)[1:] == (3, True)
    assert (
        split(truncate(data, iterations=1))[0][1]
        == bytes([1, 5]) + head[2:13] + b"\x01" + head[14:] + b"fields of 1.5"
    )


def test_duplicate_iteration_is_corrupt():
    chunks = split(make_file())
    with pytest.raises(CorruptChunkError, match="index 0, expected 1"):
        read(join(chunks[:2] + chunks[1:3] + chunks[4:]))


def test_reordered_iterations_are_corrupt():
    chunks = split(make_file())
    with pytest.raises(CorruptChunkError, match="index 1, expected 0"):
        read(join(chunks[:1] + [chunks[2], chunks[1]] + chunks[3:]))


def test_missing_iteration_is_corrupt():
    chunks = split(make_file())
    with pytest.raises(CorruptChunkError, match="index 2, expected 1"):
        read(join(chunks[:2] + chunks[3:]))


def test_more_iterations_than_the_header_says_is_corrupt():
    chunks = split(make_file())
    data = join(chunks[:4] + [(b"ITER", iter_data(3))] + chunks[4:])
    with pytest.raises(CorruptChunkError, match="more ITER"):
        read(data)
    with pytest.raises(CorruptChunkError, match="more ITER"):
        scan_bytes(data)


def test_iend_before_all_iterations_is_corrupt():
    chunks = split(make_file())
    with pytest.raises(CorruptChunkError, match="IEND after 2 of the header's 3"):
        read(join(chunks[:3] + chunks[4:]))


def test_known_ancillary_chunk_after_the_first_iteration_is_corrupt():
    chunks = split(make_file())
    with pytest.raises(CorruptChunkError, match="exif.*out of order"):
        read(join(chunks[:2] + [(b"exif", EXIF)] + chunks[2:]))


def test_duplicate_known_ancillary_chunk_is_corrupt():
    chunks = split(make_file())
    with pytest.raises(CorruptChunkError, match="iccp.*duplicate"):
        read(join(chunks[:1] + [(b"iccp", b"a"), (b"iccp", b"b")] + chunks[1:]))


# --- alpha (version 2.0) ------------------------------------------------------

ALPHA_HEADER = Header(**{**HEADER.__dict__, "mode": "RGBA", "version": (2, 0)})
ALPH = bytes([0]) + zlib.compress(bytes(range(240)))  # method 0: zlib of the 20x12 plane


def alpha_file() -> bytes:
    return write(ALPHA_HEADER, PAYLOADS, {"exif": EXIF}, alpha=ALPH)


def test_alpha_file_round_trips_with_alph_after_head():
    data = alpha_file()
    assert [t for t, _ in split(data)] == [b"HEAD", b"ALPH", b"exif", b"ITER", b"ITER", b"ITER", b"IEND"]
    assert split(data)[0][1][:2] == bytes([2, 0]) and split(data)[0][1][10] == 4
    result = read(data)
    assert result.header == ALPHA_HEADER and len(result.iterations) == 3
    assert (result.alpha.method, result.alpha.data, result.alpha.offset) == (0, ALPH[1:], offsets(data)[1])
    assert read(make_file()).alpha is None
    assert scanned(data) == (ALPHA_HEADER, 3, True)


def test_alpha_modes_are_written_as_version_2_and_others_as_1():
    assert container.version_for("RGBA") == container.version_for("LA") == (2, 0)
    assert container.version_for("RGB") == container.version_for("L") == FORMAT_VERSION
    with pytest.raises(ValueError, match="version"):
        Header(**{**HEADER.__dict__, "mode": "LA"})  # 1.0 has no alpha
    with pytest.raises(ValueError, match="ALPH"):
        write(ALPHA_HEADER, PAYLOADS)
    with pytest.raises(ValueError, match="ALPH"):
        write(HEADER, PAYLOADS, alpha=ALPH)
    with pytest.raises(ValueError, match="method"):
        write(ALPHA_HEADER, PAYLOADS, alpha=bytes([7]))


def test_every_cut_after_the_first_iteration_keeps_the_alpha_chunk():
    data = alpha_file()
    first_iter_end = read(data).iterations[0].offset + read(data).iterations[0].size
    for size in range(first_iter_end, len(data) + 1):
        assert read(data[:size]).alpha.data == ALPH[1:]
    for size in range(first_iter_end):
        with pytest.raises(TruncatedFileError):
            read(data[:size])
    trimmed = read(truncate(data, iterations=1))
    assert trimmed.alpha.data == ALPH[1:] and trimmed.complete


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda c: c[:1] + c[2:], "ITER.*no ALPH chunk"),  # missing
        (lambda c: c[:2] + c[1:], "ALPH.*duplicate"),
        (lambda c: c[:1] + c[2:4] + c[1:2] + c[4:], "ITER.*no ALPH chunk"),  # after ITER 0
        (lambda c: c[:1] + [(b"ALPH", b"")] + c[2:], "ALPH.*at least the method byte"),
        (lambda c: c[:1] + [(b"ALPH", b"\x01" + ALPH[1:])] + c[2:], "ALPH.*unsupported alpha method 1"),
    ],
)
def test_alph_rules(edit, message):
    with pytest.raises(CorruptChunkError, match=message):
        read(join(edit(split(alpha_file()))))


def test_alph_in_a_file_without_alpha_is_corrupt():
    chunks = split(make_file())
    with pytest.raises(CorruptChunkError, match="unknown critical"):  # 1.0: ALPH is not a chunk type
        read(join(chunks[:1] + [(b"ALPH", ALPH)] + chunks[1:]))
    v2 = with_head(make_file(), bytes([2, 0]) + split(make_file())[0][1][2:])
    chunks = split(v2)
    with pytest.raises(CorruptChunkError, match="ALPH.*no alpha"):
        read(join(chunks[:1] + [(b"ALPH", ALPH)] + chunks[1:]))


def test_errors_are_both_oserror_and_valueerror():
    for error in (NotRGCError, TruncatedFileError, CorruptChunkError, UnsupportedVersionError):
        assert issubclass(error, RGCFormatError)
        assert issubclass(error, OSError) and issubclass(error, ValueError)


# --- fuzzing: only RGCFormatError ever escapes -------------------------------

VALID = make_file({"exif": EXIF, "abcd": b"x"})
BASES = st.sampled_from([VALID, alpha_file()])


def check_only_format_errors(data: bytes) -> None:
    """read() and scan() raise nothing but RGCFormatError, and agree whenever read() succeeds."""
    try:
        result = read(data)
    except RGCFormatError:
        result = None
    try:
        read(data, on_corrupt="stop")
    except RGCFormatError:
        pass
    try:
        found = scan_bytes(data)
    except RGCFormatError:
        found = None
    if result is not None:
        assert found is not None
        assert (found.header, found.iterations, found.complete) == (
            result.header,
            len(result.iterations),
            result.complete,
        )
        assert found.ancillary == result.ancillary


@given(st.binary(max_size=300))
def test_arbitrary_bytes_raise_only_format_errors(data):
    check_only_format_errors(data)


@given(st.binary(max_size=300))
def test_arbitrary_bytes_after_a_valid_head_raise_only_format_errors(data):
    check_only_format_errors(VALID[: offsets(VALID)[1]] + data)


def apply(data: bytes, mutation) -> bytes:
    kind, a, b = mutation
    chunks = split(data) if kind in ("duplicate", "remove", "swap") else None
    if kind == "flip":
        position = a % len(data)
        return data[:position] + bytes([data[position] ^ (1 << (b % 8))]) + data[position + 1 :]
    if kind == "cut":
        return data[: a % (len(data) + 1)]
    if kind == "length":
        starts = offsets(data) or [len(SIGNATURE)]
        position = starts[a % len(starts)]
        return data[:position] + struct.pack(">I", b) + data[position + 4 :]
    if kind == "duplicate":
        i = a % len(chunks)
        return join(chunks[: i + 1] + chunks[i:])
    if kind == "remove":
        i = a % len(chunks)
        return join(chunks[:i] + chunks[i + 1 :])
    i, j = sorted((a % len(chunks), b % len(chunks)))
    return join(chunks[:i] + [chunks[j]] + chunks[i + 1 : j] + [chunks[i]] + chunks[j + 1 :])


STRUCTURAL = st.tuples(
    st.sampled_from(["duplicate", "remove", "swap"]), st.integers(0, 20), st.integers(0, 20)
)
BYTEWISE = st.tuples(
    st.sampled_from(["flip", "cut", "length"]), st.integers(0, 1000), st.integers(0, 2**32 - 1)
)


@given(BASES, st.lists(STRUCTURAL, max_size=2), st.lists(BYTEWISE, min_size=1, max_size=4))
def test_mutated_valid_files_raise_only_format_errors(data, structural, bytewise):
    for mutation in structural:  # whole-chunk edits first, while the framing is still walkable
        data = apply(data, mutation)
    for mutation in bytewise:
        if data:
            data = apply(data, mutation)
    check_only_format_errors(data)


@given(BASES, st.lists(STRUCTURAL, min_size=1, max_size=3))
def test_chunk_edits_of_valid_files_raise_only_format_errors(data, structural):
    for mutation in structural:
        data = apply(data, mutation)
    check_only_format_errors(data)


def test_format_version_is_1_0():
    assert FORMAT_VERSION == (1, 0)
