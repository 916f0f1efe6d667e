"""Every Pillow mode: stored (L, LA, RGB, RGBA; alpha exactly), converted as Pillow's do, or refused."""

from __future__ import annotations

import io
import zlib

import numpy as np
import pytest
from PIL import Image

import pillow_rgc
from pillow_rgc import container, modes

from .conftest import TEST_MODEL, synthetic_photo

WIDTH, HEIGHT = 40, 24


def soft_mask() -> np.ndarray:
    """Alpha with every kind of edge: opaque, transparent, a ramp and isolated values."""
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH]
    mask = np.where((x - 20) ** 2 + (y - 12) ** 2 < 80, 255, 0).astype(np.uint8)
    mask[:, :8] = np.linspace(0, 255, HEIGHT, dtype=np.uint8)[:, None]
    mask[3, 30:35] = [1, 7, 128, 254, 3]
    return mask


def with_alpha(mode: str) -> Image.Image:
    image = synthetic_photo(WIDTH, HEIGHT).convert(mode.removesuffix("A"))
    image.putalpha(Image.fromarray(soft_mask()))
    return image


def round_trip(image: Image.Image, iterations: int = 2) -> tuple[bytes, Image.Image]:
    buffer = io.BytesIO()
    image.save(buffer, "RGC", model=TEST_MODEL, iterations=iterations)
    data = buffer.getvalue()
    decoded = Image.open(io.BytesIO(data))
    decoded.load()
    return data, decoded


@pytest.mark.parametrize("mode", ["RGBA", "LA"])
def test_alpha_is_kept_exactly_and_colour_is_coded_as_without_it(mode):
    image = with_alpha(mode)
    data, decoded = round_trip(image, iterations=3)
    assert decoded.mode == mode
    np.testing.assert_array_equal(np.asarray(decoded.getchannel("A")), soft_mask())
    colour = mode.removesuffix("A")
    without, decoded_without = round_trip(image.convert(colour), iterations=3)
    payloads = [[c.payload for c in container.read(d).iterations] for d in (data, without)]
    assert payloads[0] == payloads[1]
    np.testing.assert_array_equal(np.asarray(decoded.convert(colour)), np.asarray(decoded_without))


@pytest.mark.parametrize("mode", ["RGBA", "LA", "RGB", "L"])
def test_files_with_alpha_need_version_2_and_the_others_are_written_as_before(mode):
    image = with_alpha(mode) if mode.endswith("A") else synthetic_photo(WIDTH, HEIGHT).convert(mode)
    data = pillow_rgc.encode(image, iterations=1, model=TEST_MODEL)
    summary = pillow_rgc.info(data)
    has_alpha = mode.endswith("A")
    version = container.ALPHA_VERSION if has_alpha else container.FORMAT_VERSION
    assert summary["format_version"] == "{}.{}".format(*version)
    assert (summary["mode"], summary["alpha"], b"ALPH" in data) == (mode, has_alpha, has_alpha)
    assert container.ALPHA_VERSION[0] >= 2


def test_every_cut_of_an_alpha_file_keeps_its_alpha():
    data = pillow_rgc.encode(with_alpha("RGBA"), iterations=3, model=TEST_MODEL)
    first = container.read(data).iterations[0]
    for cut in range(first.offset + first.size, len(data) + 1, 7):
        with Image.open(io.BytesIO(data[:cut])) as im:
            assert im.mode == "RGBA"
            np.testing.assert_array_equal(np.asarray(im.getchannel("A")), soft_mask())


def test_opaque_alpha_costs_almost_nothing():
    opaque = synthetic_photo(WIDTH, HEIGHT).convert("RGBA")
    rgb = pillow_rgc.encode(opaque.convert("RGB"), iterations=1, model=TEST_MODEL)
    rgba = pillow_rgc.encode(opaque, iterations=1, model=TEST_MODEL)
    assert len(rgba) - len(rgb) < 40


@pytest.mark.parametrize(
    "make, stored",
    [
        (lambda: synthetic_photo(WIDTH, HEIGHT).convert("P"), "RGB"),
        (lambda: synthetic_photo(WIDTH, HEIGHT).convert("1"), "L"),
        (lambda: synthetic_photo(WIDTH, HEIGHT).convert("RGBX"), "RGB"),
        (lambda: synthetic_photo(WIDTH, HEIGHT).convert("CMYK"), "RGB"),
        (lambda: synthetic_photo(WIDTH, HEIGHT).convert("YCbCr"), "RGB"),
        (lambda: synthetic_photo(WIDTH, HEIGHT).convert("HSV"), "RGB"),
        (lambda: with_alpha("RGBA").convert("PA"), "RGBA"),
        (lambda: with_alpha("RGBA").convert("RGBa"), "RGBA"),
        (lambda: with_alpha("LA").convert("La"), "LA"),
    ],
    ids=["P", "1", "RGBX", "CMYK", "YCbCr", "HSV", "PA", "RGBa", "La"],
)
def test_other_modes_are_converted_as_pillows_writers_do(make, stored):
    image = make()
    _, decoded = round_trip(image, iterations=1)
    assert decoded.mode == stored
    if stored.endswith("A"):
        np.testing.assert_array_equal(
            np.asarray(decoded.getchannel("A")), np.asarray(image.convert(stored).getchannel("A"))
        )


def test_palette_with_transparency_becomes_rgba():
    palette = synthetic_photo(WIDTH, HEIGHT).convert("P")
    palette.info["transparency"] = palette.getpixel((0, 0))
    _, decoded = round_trip(palette, iterations=1)
    assert decoded.mode == "RGBA"
    expected = np.asarray(palette.convert("RGBA").getchannel("A"))
    assert 0 < (expected == 0).sum() and np.array_equal(np.asarray(decoded.getchannel("A")), expected)


@pytest.mark.parametrize("mode, stored", [("L", "LA"), ("RGB", "RGBA")])
def test_a_transparency_key_becomes_an_alpha_channel(mode, stored):
    image = synthetic_photo(WIDTH, HEIGHT).convert(mode)
    image.info["transparency"] = image.getpixel((0, 0))
    _, decoded = round_trip(image, iterations=1)
    assert decoded.mode == stored
    assert np.asarray(decoded.getchannel("A"))[0, 0] == 0


@pytest.mark.parametrize("mode", ["I", "I;16", "I;16B", "F", "LAB"])
def test_modes_without_a_right_8_bit_mapping_are_refused_naming_the_mode(mode, tmp_path):
    image = Image.new(mode, (8, 8))
    path = tmp_path / "refused.rgc"
    with pytest.raises(OSError, match=f"mode {mode} ") as caught:
        image.save(path, model=TEST_MODEL)
    assert isinstance(caught.value, ValueError)  # the Python API's habit, beside Pillow's OSError
    assert not path.exists()
    with pytest.raises(modes.UnsupportedImageError):
        pillow_rgc.encode(image, model=TEST_MODEL)


def test_alpha_data_is_checked_when_loaded():
    data = pillow_rgc.encode(with_alpha("RGBA"), iterations=1, model=TEST_MODEL)
    parsed = container.read(data)
    too_big = bytes([0]) + zlib.compress(bytes(WIDTH * HEIGHT + 1))
    not_zlib = bytes([0]) + b"not zlib data"
    for bad in (too_big, not_zlib):
        damaged = container.write(
            parsed.header, [(c.coding, c.payload) for c in parsed.iterations], alpha=bad
        )
        with Image.open(io.BytesIO(damaged)) as im, pytest.raises(OSError, match="ALPH"):
            im.load()


def test_save_all_of_one_frame_saves_it_and_of_several_is_refused(tmp_path):
    frame = synthetic_photo(WIDTH, HEIGHT)
    frame.save(tmp_path / "one.rgc", save_all=True, model=TEST_MODEL, iterations=1)
    with Image.open(tmp_path / "one.rgc") as im:
        assert im.size == frame.size
    with pytest.raises(ValueError, match="single image, not 3 frames") as caught:
        frame.save(tmp_path / "three.rgc", save_all=True, append_images=[frame, frame], model=TEST_MODEL)
    assert isinstance(caught.value, OSError)
    assert not (tmp_path / "three.rgc").exists()
