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
from pillow_rgc import api, codec, container, tiling
from pillow_rgc.container import CorruptChunkError, Header
from pillow_rgc.models import load_model
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
        ({"version": (3, 0), "tile_width": 32, "tile_height": 16, "tile_overlap": 9}, "tile_overlap 9"),
    ],
)
def test_bad_tilings_are_refused(fields, message):
    base = {"width": 64, "height": 64, "mode": "RGB", "model_id": "m", "model_hash": bytes(32)}
    with pytest.raises(ValueError, match=message):
        Header(**{**base, "code_channels": 8, "code_stride": STRIDE, "iterations": 1, **fields})


# --- writing and reading -------------------------------------------------------


def blend_weights(start: int, stop: int, before: int | None, after: int | None, overlap: int) -> np.ndarray:
    """The spec's cross-fade of one tile over pixels ``start:stop`` of one axis, in floats.

    ``before`` and ``after`` are the borders with the neighbouring tiles (None at the picture's edge).
    """
    x = np.arange(start, stop) + 0.5
    weight = np.ones(stop - start)
    if before is not None:
        weight = np.where(x < before + overlap, (x - (before - overlap)) / (2 * overlap), weight)
    if after is not None:
        weight = np.where(x >= after - overlap, 1 - (x - (after - overlap)) / (2 * overlap), weight)
    return weight


def test_a_tiled_file_is_version_3_and_its_tiles_cross_fade_as_if_coded_alone():
    image = synthetic_photo(80, 48)
    data = tiled_file(image, iterations=3)
    header = container.read(data).header
    assert header.version == (3, 0)
    assert (header.tile_width, header.tile_height, header.tile_overlap) == (32, 32, 16)
    expected = np.zeros((48, 80, 3))
    for index, (x, y, w, h) in enumerate(header.tiles()):
        alone = api.encode(image.crop((x, y, x + w, y + h)), iterations=3, model=TEST_MODEL, tile_side=0)
        row, column = divmod(index, 3)
        across = blend_weights(x, x + w, 32 * column or None, 32 * (column + 1) if column < 2 else None, 16)
        down = blend_weights(y, y + h, 32 * row or None, 32 * (row + 1) if row < 1 else None, 16)
        expected[y : y + h, x : x + w] += (
            down[:, None, None] * across[None, :, None] * np.asarray(api.decode(alone))
        )
    decoded = np.asarray(Image.open(io.BytesIO(data)).convert("RGB")).astype(float)
    assert np.abs(decoded - expected).max() <= 0.5 + 1e-6  # the integer blend, rounded


def test_a_tile_codes_its_core_and_the_overlap_on_the_sides_with_a_neighbour():
    header = Header(70, 50, "RGB", "m", bytes(32), 8, STRIDE, 1, (3, 0), 32, 32, 8)
    assert header.tiles()[:3] == [(0, 0, 40, 40), (24, 0, 46, 40), (56, 0, 14, 40)]
    assert header.tiles()[3] == (0, 24, 40, 26)


def test_quality_is_met_tile_by_tile_so_flat_tiles_end_early():
    pixels = np.asarray(synthetic_photo(128, 32)).copy()
    pixels[:, :64] = 128  # flat under the first tile's whole coded region (its core and overlap)
    target = 0.9
    parsed = container.read(tiled_file(Image.fromarray(pixels), quality=target))
    tile_bitplanes = api.read_tile_bitplanes(parsed)
    counts = [len(bitplanes) for bitplanes in tile_bitplanes]
    assert counts[0] < max(counts), counts
    model = load_model(TEST_MODEL)
    for (x, y, w, h), bitplanes in zip(parsed.header.tiles(), tile_bitplanes):
        source = pixels[y : y + h, x : x + w]
        reached = ms_ssim(source, codec.decode_pixels(model, bitplanes, h, w))
        assert reached >= target or len(bitplanes) == model.info.iterations  # met, or nothing more to give
        if len(bitplanes) > 1:  # and not met one iteration earlier: the tile needed its last one
            assert ms_ssim(source, codec.decode_pixels(model, bitplanes[:-1], h, w)) < target


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
    assert (summary["tiles"], summary["tile_width"], summary["tile_height"], summary["tile_overlap"]) == (
        6,
        32,
        32,
        16,
    )
    channels = pillow_rgc.installed_models()[TEST_MODEL].code_channels
    cells = (3 + 4 + 2) * (3 + 2)  # coded widths 48, 64, 32 and heights 48, 32, in 16-pixel cells
    assert summary["chunks"][0]["raw_bits"] == channels * cells == summary["raw_bits_per_iteration"]


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
    bad_heads = [
        (head[:-12], "data length|too short"),
        (head[:-8] + struct.pack(">II", 20, 16), "tile_height 20"),
        (head[:-4] + struct.pack(">I", 17), "tile_overlap 17"),
    ]
    for bad, message in bad_heads:
        chunks[0] = (b"HEAD", bad)
        with pytest.raises(CorruptChunkError, match=message):
            container.read(join(chunks))


@pytest.mark.parametrize(
    "length, tile, overlap", [(100, 32, 16), (64, 32, 16), (70, 32, 8), (1000, 96, 1), (33, 32, 16)]
)
def test_blend_weights_of_all_tiles_sum_to_one_everywhere(length, tile, overlap):
    total = np.zeros(length, np.int64)
    for index, (start, stop) in enumerate(tiling.spans(length, tile, overlap)):
        weights = tiling.axis_weights(length, tile, overlap, index)
        assert len(weights) == stop - start and (weights > 0).all()
        total[start:stop] += weights
    assert (total == 4 * overlap).all()


def test_a_tile_bigger_than_the_decode_limit_is_refused_at_open_until_the_limit_is_raised(monkeypatch):
    data = tiled_file(synthetic_photo(80, 48), iterations=1)  # tile regions up to 64x48
    monkeypatch.setattr(api, "MAX_DECODE_PIXELS", 64 * 48 - 1)
    with pytest.raises(Image.DecompressionBombError, match="MAX_DECODE_PIXELS"):
        Image.open(io.BytesIO(data))
    with pytest.raises(Image.DecompressionBombError):
        api.decode(data)
    monkeypatch.setattr(api, "MAX_DECODE_PIXELS", 64 * 48)
    assert api.decode(data).size == (80, 48)
