"""Partial data: ``ImageFile.Parser`` fed piece by piece, and ``LOAD_TRUNCATED_IMAGES`` for corrupt files."""

from __future__ import annotations

import io
import struct

import numpy as np
import pytest
from PIL import Image, ImageFile, UnidentifiedImageError

import pillow_rgc
from pillow_rgc import container, models

from .conftest import TEST_MODEL, synthetic_photo


@pytest.fixture(scope="module")
def data() -> bytes:
    return pillow_rgc.encode(synthetic_photo(48, 40, seed=6), iterations=4, model=TEST_MODEL)


def iteration_ends(data: bytes) -> list[int]:
    return [chunk.offset + chunk.size for chunk in container.read(data).iterations]


def pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image)


def test_parser_image_appears_with_the_first_iteration_and_improves_as_bytes_arrive(data):
    ends = iteration_ends(data)
    parser = ImageFile.Parser()
    for fed in range(16, len(data) + 16, 16):
        parser.feed(data[fed - 16 : fed])
        complete = sum(end <= fed for end in ends)
        if not complete:
            assert parser.image is None
            continue
        assert parser.image is not None and parser.image.format == "RGC"
        parser.image.load()
        assert parser.image.info["iterations_decoded"] == complete
        expected = pillow_rgc.decode(data, iterations=complete)
        np.testing.assert_array_equal(pixels(parser.image), pixels(expected))
    image = parser.close()
    assert image.info["iterations_decoded"] == 4
    np.testing.assert_array_equal(pixels(image), pixels(pillow_rgc.decode(data)))


def test_parser_image_loads_right_after_the_feed_that_opened_it(data):
    parser = ImageFile.Parser()
    parser.feed(data[: iteration_ends(data)[0]])
    parser.image.load()
    assert parser.image.info["iterations_decoded"] == 1


def test_parser_runs_each_iteration_through_the_network_once(data, monkeypatch):
    steps = []
    original = models.LoadedModel.decode_step
    monkeypatch.setattr(
        models.LoadedModel, "decode_step", lambda self, *a: steps.append(1) or original(self, *a)
    )
    parser = ImageFile.Parser()
    previous = 0
    for end in iteration_ends(data):  # look after every new iteration
        parser.feed(data[previous:end])
        previous = end
        parser.image.load()
    parser.feed(data[previous:])
    parser.close().load()
    assert len(steps) == 4


@pytest.mark.parametrize("piece", [1, 100, 10_000])
def test_close_returns_the_best_image_the_bytes_allow(data, piece):
    ends = iteration_ends(data)
    for cut in (ends[0], ends[1] + 5, len(data) - 3, len(data)):
        parser = ImageFile.Parser()
        for start in range(0, cut, piece):
            parser.feed(data[start : min(start + piece, cut)])
        image = parser.close()
        np.testing.assert_array_equal(pixels(image), pixels(pillow_rgc.decode(data[:cut])))
        assert image.info["iterations_decoded"] == sum(end <= cut for end in ends)


def test_close_before_the_first_iteration_is_an_oserror(data):
    parser = ImageFile.Parser()
    parser.feed(data[: iteration_ends(data)[0] - 1])
    assert parser.image is None
    with pytest.raises(OSError):
        parser.close()


def test_parser_keeps_alpha_and_metadata():
    image = synthetic_photo(40, 24).convert("RGBA")
    image.putalpha(Image.linear_gradient("L").resize((40, 24)))
    data = pillow_rgc.encode(image, iterations=2, model=TEST_MODEL, icc_profile=b"profile")
    parser = ImageFile.Parser()
    for start in range(0, len(data), 10):
        parser.feed(data[start : start + 10])
    decoded = parser.close()
    assert decoded.mode == "RGBA" and decoded.info["icc_profile"] == b"profile"
    np.testing.assert_array_equal(pixels(decoded.getchannel("A")), pixels(image.getchannel("A")))


# --- corrupt files: ImageFile.LOAD_TRUNCATED_IMAGES ------------------------------


def with_bad_crc_in_iteration(data: bytes, index: int) -> bytes:
    damaged = bytearray(data)
    damaged[container.read(data).iterations[index].offset + 12] ^= 0xFF
    return bytes(damaged)


def with_absurd_length_of_iteration(data: bytes, index: int) -> bytes:
    damaged = bytearray(data)
    struct.pack_into(">I", damaged, container.read(data).iterations[index].offset, 1 << 30)
    return bytes(damaged)


@pytest.fixture
def load_truncated(monkeypatch):
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)


def test_a_corrupt_iteration_is_an_oserror_by_default(data):
    with Image.open(io.BytesIO(with_bad_crc_in_iteration(data, 2))) as im:
        with pytest.raises(OSError, match="ITER.*CRC"):
            im.load()
    with pytest.raises(UnidentifiedImageError):
        Image.open(io.BytesIO(with_absurd_length_of_iteration(data, 2)))


def test_load_truncated_images_decodes_the_iterations_before_the_damage(data, load_truncated):
    for damaged in (with_bad_crc_in_iteration(data, 2), with_absurd_length_of_iteration(data, 2)):
        with Image.open(io.BytesIO(damaged)) as im:
            im.load()
            assert im.info["iterations_decoded"] == 2
            np.testing.assert_array_equal(pixels(im), pixels(pillow_rgc.decode(data, iterations=2)))


def test_load_truncated_images_does_not_rescue_damage_before_the_first_iteration(data, load_truncated):
    with Image.open(io.BytesIO(with_bad_crc_in_iteration(data, 0))) as im:
        with pytest.raises(OSError, match="ITER"):
            im.load()
    damaged = bytearray(data)
    damaged[20] ^= 0xFF  # inside HEAD
    with pytest.raises(UnidentifiedImageError):
        Image.open(io.BytesIO(bytes(damaged)))


def test_a_cut_file_needs_no_flag(data):
    assert not ImageFile.LOAD_TRUNCATED_IMAGES
    with Image.open(io.BytesIO(data[: iteration_ends(data)[1] + 3])) as im:
        im.load()
        assert im.info["iterations_decoded"] == 2


def test_verify_finds_damage_without_decoding(data, monkeypatch):
    monkeypatch.setattr(pillow_rgc.api, "load_model", lambda *a, **k: pytest.fail("model loaded in verify"))
    with Image.open(io.BytesIO(data)) as im:
        im.verify()
    with Image.open(io.BytesIO(data[: iteration_ends(data)[1] + 3])) as im:
        im.verify()  # a cut file is not damaged: it decodes
    with Image.open(io.BytesIO(with_bad_crc_in_iteration(data, 3))) as im:
        with pytest.raises(OSError, match="ITER.*CRC"):
            im.verify()


def test_a_parser_shows_the_segments_received_of_a_segmented_file():
    data = pillow_rgc.encode(
        synthetic_photo(512, 384, seed=3), iterations=3, model="rgc-tiny-test-prior", segmented=True
    )
    last = container.read(data).iterations[-1]
    parser = ImageFile.Parser()
    parser.feed(data[: last.offset + last.size // 2])  # about half of the last iteration's segments
    parser.image.load()
    halfway = pixels(parser.image)
    two = pixels(pillow_rgc.decode(data, iterations=2))
    cut = pixels(pillow_rgc.decode(data[: last.offset + last.size // 2]))
    assert np.array_equal(halfway, cut) and not np.array_equal(halfway, two)
    parser.feed(data[last.offset + last.size // 2 :])
    assert np.array_equal(pixels(parser.close()), pixels(pillow_rgc.decode(data)))
