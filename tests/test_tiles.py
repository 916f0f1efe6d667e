"""Big pictures in tiles (format 3.0): tile geometry, per-tile rate control, reading and damage."""

from __future__ import annotations

import dataclasses
import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

import pillow_rgc
from pillow_rgc import api, container
from pillow_rgc.container import CorruptChunkError, Header
from pillow_rgc.quality import ms_ssim

from .conftest import TEST_MODEL, synthetic_photo

STRIDE = 16


def tiled_file(image: Image.Image, tile_side: int = 32, **options) -> bytes:
    return api.encode(image, model=TEST_MODEL, tile_side=tile_side, **options)


def chunks_of(data: bytes) -> list[tuple[bytes, bytes]]:
    """(type, data) of every chunk after the signature."""
    out, offset = [], len(container.SIGNATURE)
    while offset < len(data):
        length, kind = struct.unpack(">I4s", data[offset : offset + 8])
        out.append((kind, data[offset + 8 : offset + 8 + length]))
        offset += 12 + length
    return out


def join(chunks: list[tuple[bytes, bytes]]) -> bytes:
    parts = [container.SIGNATURE]
    for kind, data in chunks:
        parts.append(struct.pack(">I4s", len(data), kind) + data + struct.pack(">I", zlib.crc32(kind + data)))
    return b"".join(parts)


def with_iter_payload(data: bytes, index: int, payload: bytes) -> bytes:
    """``data`` with the payload of ITER ``index`` replaced (CRC recomputed)."""
    chunks = chunks_of(data)
    iters = [i for i, (kind, _) in enumerate(chunks) if kind == b"ITER"]
    chunks[iters[index]] = (b"ITER", chunks[iters[index]][1][:3] + payload)
    return join(chunks)


# --- geometry ------------------------------------------------------------------


def test_small_pictures_stay_one_tile_and_big_ones_are_tiled():
    assert api.tile_size_for(1920, 1080, STRIDE) == (0, 0)
    width, height = api.tile_size_for(6000, 4000, STRIDE)
    assert width % STRIDE == 0 and height % STRIDE == 0
    assert width <= api.TILE_SIDE and height <= api.TILE_SIDE
    columns, rows = -(-6000 // width), -(-4000 // height)
    assert 6000 - (columns - 1) * width > width / 2  # balanced: no sliver in the last column
    assert 4000 - (rows - 1) * height > height / 2


def test_tile_side_zero_never_tiles_and_a_side_below_the_stride_is_refused():
    assert api.tile_size_for(6000, 4000, STRIDE, 0) == (0, 0)
    assert api.tile_size_for(100, 40, STRIDE, 64) == (64, 48)
    with pytest.raises(ValueError, match="stride"):
        api.tile_size_for(100, 100, STRIDE, 8)


def test_tiles_cover_the_picture_once_in_raster_order():
    header = Header(70, 50, "RGB", "m", bytes(32), 8, STRIDE, 1, (3, 0), 32, 32)
    tiles = header.tiles()
    assert tiles == [(0, 0, 32, 32), (32, 0, 32, 32), (64, 0, 6, 32), (0, 32, 32, 18), (32, 32, 32, 18),
                     (64, 32, 6, 18)]  # fmt: skip
    cover = np.zeros((50, 70), int)
    for x, y, w, h in tiles:
        cover[y : y + h, x : x + w] += 1
    assert (cover == 1).all()


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"version": (3, 0)}, "version 3 needs one"),
        ({"tile_width": 32, "tile_height": 32}, "goes with format version 3"),
        ({"version": (3, 0), "tile_width": 40, "tile_height": 32}, "tile_width 40"),
        ({"version": (3, 0), "tile_width": 16, "tile_height": 16, "width": 1 << 24}, "tiles, more than"),
    ],
)
def test_bad_tilings_are_refused(fields, message):
    base = {"width": 64, "height": 64, "mode": "RGB", "model_id": "m", "model_hash": bytes(32)}
    with pytest.raises(ValueError, match=message):
        Header(**{**base, "code_channels": 8, "code_stride": STRIDE, "iterations": 1, **fields})


# --- writing and reading -------------------------------------------------------


def test_a_tiled_file_is_version_3_and_each_tile_decodes_as_if_coded_alone():
    image = synthetic_photo(80, 48)
    data = tiled_file(image, iterations=3)
    parsed = container.read(data)
    assert parsed.header.version == (3, 0)
    assert (parsed.header.tile_width, parsed.header.tile_height) == (32, 32)
    decoded = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
    for x, y, w, h in parsed.header.tiles():
        alone = api.encode(image.crop((x, y, x + w, y + h)), iterations=3, model=TEST_MODEL, tile_side=0)
        np.testing.assert_array_equal(decoded[y : y + h, x : x + w], np.asarray(api.decode(alone)))


def test_quality_is_met_tile_by_tile_so_flat_tiles_end_early():
    pixels = np.asarray(synthetic_photo(96, 32)).copy()
    pixels[:, :32] = 128  # a flat tile beside detailed ones
    target = 0.9
    data = tiled_file(Image.fromarray(pixels), quality=target)
    parsed = container.read(data)
    counts = [sum(c.tiles[t] is not None for c in parsed.iterations) for t in range(3)]
    assert counts[0] < max(counts), counts
    decoded = np.asarray(api.decode(data))
    most = pillow_rgc.installed_models()[TEST_MODEL].iterations
    for (x, y, w, h), count in zip(parsed.header.tiles(), counts):
        reached = ms_ssim(pixels[y : y + h, x : x + w], decoded[y : y + h, x : x + w])
        assert reached >= target or count == most  # met, or the model had no more to give
        if count > 1:  # and not met one iteration earlier: the tile needed its last one
            earlier = np.asarray(api.decode(api.truncate(data, iterations=count - 1)))
            assert ms_ssim(pixels[y : y + h, x : x + w], earlier[y : y + h, x : x + w]) < target


def test_a_cut_tiled_file_decodes_its_complete_iterations():
    image = synthetic_photo(80, 48)
    data = tiled_file(image, iterations=4)
    two = api.truncate(data, iterations=2)
    cut = data[: container.read(data).iterations[2].offset + 5]
    for smaller in (two, cut):
        np.testing.assert_array_equal(np.asarray(api.decode(smaller)), np.asarray(api.decode(data, 2)))


def test_max_bytes_cuts_a_tiled_file_to_what_fits():
    image = synthetic_photo(80, 48)
    full = tiled_file(image, iterations=4)
    budget = container.read(full).iterations[1].offset + container.read(full).iterations[1].size + 12
    data = tiled_file(image, iterations=4, max_bytes=budget)
    assert len(data) <= budget and api.info(data)["iterations_present"] == 2
    with pytest.raises(ValueError, match="max_bytes"):
        tiled_file(image, max_bytes=100)


def test_info_reports_the_tiles_and_the_raw_bits_of_the_tiles_present():
    data = tiled_file(synthetic_photo(80, 48), iterations=2)
    summary = api.info(data)
    assert (summary["tiles"], summary["tile_width"], summary["tile_height"]) == (6, 32, 32)
    channels = pillow_rgc.installed_models()[TEST_MODEL].code_channels
    assert summary["chunks"][0]["raw_bits"] == channels * 5 * 3 == summary["raw_bits_per_iteration"]


def test_the_plugin_saves_tiles_on_request_and_opens_them(tmp_path):
    path = tmp_path / "tiled.rgc"
    synthetic_photo(80, 48).save(path, model=TEST_MODEL, tile_side=32, iterations=2)
    with Image.open(path) as im:
        assert im.size == (80, 48)
        im.load()
        assert im.info["iterations_decoded"] == 2
    with Image.open(path) as im:
        im.draft("RGB", (40, 24))
        im.load()
        assert im.info["iterations_decoded"] <= 2


# --- damage --------------------------------------------------------------------


def entries(data: bytes, index: int) -> list[tuple[int, bytes] | None]:
    return list(container.read(data).iterations[index].tiles)


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda e: container.tiled_payload(e)[:-1], "runs past the payload"),
        (lambda e: container.tiled_payload(e) + b"\0", "bytes after the entry of the last tile"),
        (lambda e: container.tiled_payload(e[:-1]), "ends in the entry of tile"),
        (lambda e: container.tiled_payload([(0, b"\0")] + e[1:]), "tile 0: payload of 1 bytes"),
        (lambda e: container.tiled_payload([(2, b"")] + e[1:]), "tile 0: unsupported coding 2"),
    ],
)
def test_broken_tile_entries_are_corrupt(edit, message):
    data = tiled_file(synthetic_photo(80, 48), iterations=2)
    damaged = with_iter_payload(data, 1, edit(entries(data, 1)))
    with pytest.raises(CorruptChunkError, match=message):
        container.read(damaged)
    assert len(container.read(damaged, on_corrupt="stop").iterations) == 1


def test_a_tile_cannot_start_late_or_come_back():
    data = tiled_file(synthetic_photo(80, 48), iterations=3)
    first = entries(data, 0)
    with pytest.raises(CorruptChunkError, match="no bits in the first iteration"):
        container.read(with_iter_payload(data, 0, container.tiled_payload([None] + first[1:])))
    second = entries(data, 1)
    ended = with_iter_payload(data, 1, container.tiled_payload([None] + second[1:]))
    with pytest.raises(CorruptChunkError, match="bits after its iterations ended"):
        container.read(ended)


def test_chunk_codings_must_match_the_tiling():
    tiled = tiled_file(synthetic_photo(80, 48), iterations=1)
    chunks = chunks_of(tiled)
    chunks[1] = (b"ITER", chunks[1][1][:2] + b"\x00" + chunks[1][1][3:])
    with pytest.raises(CorruptChunkError, match="coding 0 in a tiled picture"):
        container.read(join(chunks))
    whole = api.encode(synthetic_photo(80, 48), iterations=1, model=TEST_MODEL, tile_side=0)
    header = container.read(whole).header
    as_v3 = dataclasses.replace(header, version=(3, 0), tile_width=32, tile_height=32)
    bits = container.read(whole).iterations[0]
    with pytest.raises(ValueError, match="can only write version"):
        container.write(as_v3, [(bits.coding, bits.payload)])


def test_a_version_3_head_must_hold_a_valid_tile_size():
    data = tiled_file(synthetic_photo(80, 48), iterations=1)
    chunks = chunks_of(data)
    head = chunks[0][1]
    bad_heads = [(head[:-8], "data length|too short"), (head[:-4] + struct.pack(">I", 20), "tile_height")]
    for bad, message in bad_heads:
        chunks[0] = (b"HEAD", bad)
        with pytest.raises(CorruptChunkError, match=message):
            container.read(join(chunks))
