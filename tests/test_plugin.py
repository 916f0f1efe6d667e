"""Reading and writing .rgc through Pillow's own API."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, UnidentifiedImageError

import pillow_rgc
from pillow_rgc import container

from .conftest import TEST_MODEL


def save_to_bytes(image: Image.Image, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "RGC", model=TEST_MODEL, **options)
    return buffer.getvalue()


def test_import_registers_format_extension_and_mime():
    assert Image.registered_extensions()[".rgc"] == "RGC"
    assert Image.MIME["RGC"] == "image/x-rgc"


def test_save_by_extension_and_open_round_trip(tmp_path, photo):
    path = tmp_path / "photo.rgc"
    photo.save(path, model=TEST_MODEL, iterations=3)
    with Image.open(path) as im:
        assert im.format == "RGC"
        assert im.size == photo.size and im.mode == "RGB"
        assert im.info["iterations"] == 3 and im.info["model"] == TEST_MODEL
        im.load()
        assert im.info["iterations_decoded"] == 3
        assert np.abs(np.asarray(im, np.int16) - np.asarray(photo, np.int16)).mean() < 40


def test_open_reads_no_payload_and_loads_no_model(tmp_path, photo, monkeypatch):
    path = tmp_path / "photo.rgc"
    photo.save(path, model=TEST_MODEL, iterations=2)
    monkeypatch.setattr(pillow_rgc.api, "load_model", lambda *a, **k: pytest.fail("model loaded in open"))
    with Image.open(path) as im:
        assert im.size == photo.size


def test_grayscale_round_trip(photo):
    gray = photo.convert("L")
    with Image.open(io.BytesIO(save_to_bytes(gray, iterations=2))) as im:
        assert im.mode == "L"
        im.load()
        assert np.abs(np.asarray(im, np.int16) - np.asarray(gray, np.int16)).mean() < 40


@pytest.mark.parametrize("size", [(1, 1), (1, 37), (37, 1), (15, 17), (33, 16)])
def test_any_size_round_trips(size):
    image = Image.new("RGB", size, (200, 100, 50))
    with Image.open(io.BytesIO(save_to_bytes(image, iterations=1))) as im:
        im.load()
        assert im.size == size


def test_iterations_attribute_decodes_fewer_iterations(photo):
    data = save_to_bytes(photo, iterations=4)
    with Image.open(io.BytesIO(data)) as im:
        im.iterations = 1
        im.load()
        assert im.info["iterations_decoded"] == 1
        first = np.asarray(im)
    np.testing.assert_array_equal(first, np.asarray(pillow_rgc.decode(data, iterations=1)))


def test_not_rgc_is_unidentified():
    with pytest.raises(UnidentifiedImageError):
        Image.open(io.BytesIO(b"\x89PNG\r\n\x1a\n" + b"\0" * 64))


def test_cut_inside_first_iteration_is_unidentified(photo):
    data = save_to_bytes(photo, iterations=2)
    first = container.read(data).iterations[0]
    with pytest.raises(UnidentifiedImageError):
        Image.open(io.BytesIO(data[: first.offset + first.size - 1]))


def test_corrupt_chunk_raises_oserror_naming_it(photo):
    data = bytearray(save_to_bytes(photo, iterations=2))
    second = container.read(bytes(data)).iterations[1]
    data[second.offset + 20] ^= 0xFF
    with Image.open(io.BytesIO(bytes(data))) as im, pytest.raises(OSError, match="ITER"):
        im.load()


def test_huge_header_trips_decompression_bomb_check_before_decoding(photo):
    data = save_to_bytes(photo, iterations=1)
    parsed = container.read(data)
    header = container.Header(**{**parsed.header.__dict__, "width": 100000, "height": 100000})
    huge = container.write(header, [(0, b"\0" * header.raw_payload_size())])
    with pytest.raises(Image.DecompressionBombError):
        Image.open(io.BytesIO(huge))


def test_unknown_model_names_model_and_installed_ones(photo):
    parsed = container.read(save_to_bytes(photo, iterations=1))
    header = container.Header(**{**parsed.header.__dict__, "model_id": "no-such-model"})
    data = container.write(header, [(c.coding, c.payload) for c in parsed.iterations])
    with Image.open(io.BytesIO(data)) as im, pytest.raises(pillow_rgc.ModelError) as error:
        im.load()
    assert "no-such-model" in str(error.value) and TEST_MODEL in str(error.value)


def test_failed_save_leaves_no_file(tmp_path, photo):
    path = tmp_path / "out.rgc"
    with pytest.raises(ValueError):
        photo.save(path, model=TEST_MODEL, quality=150)
    assert not path.exists()
    with pytest.raises(pillow_rgc.ModelError):
        photo.save(path, model="no-such-model")
    assert not path.exists()
