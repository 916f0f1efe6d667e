"""Cheaper decodes: ``im.iterations``, ``im.draft()`` and ``im.thumbnail()`` run fewer network iterations."""

from __future__ import annotations

import io
import math

import numpy as np
import pytest
from PIL import Image

import pillow_rgc
from pillow_rgc import models, plugin

from .conftest import TEST_MODEL, synthetic_photo

ITERATIONS = 6


@pytest.fixture(scope="module")
def data() -> bytes:
    return pillow_rgc.encode(synthetic_photo(192, 128, seed=5), iterations=ITERATIONS, model=TEST_MODEL)


@pytest.fixture
def decoder_steps(monkeypatch) -> list:
    """One entry per run of the decoder network."""
    steps = []
    original = models.LoadedModel.decode_step

    def counted(self, bits, states):
        steps.append(bits.shape)
        return original(self, bits, states)

    monkeypatch.setattr(models.LoadedModel, "decode_step", counted)
    return steps


def opened(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data))


def test_iterations_attribute_chooses_how_many_to_decode(data, decoder_steps):
    with opened(data) as im:
        im.iterations = 2
        im.load()
        assert len(decoder_steps) == 2
        assert im.info["iterations_decoded"] == 2 and im.size == (192, 128)
        np.testing.assert_array_equal(np.asarray(im), np.asarray(pillow_rgc.decode(data, iterations=2)))


def test_iterations_beyond_the_file_decode_what_it_has(data):
    with opened(data) as im:
        im.iterations = 100
        im.load()
        assert im.info["iterations_decoded"] == ITERATIONS


def test_iterations_below_one_is_a_value_error(data):
    with opened(data) as im:
        im.iterations = 0
        with pytest.raises(ValueError, match="iterations"):
            im.load()


def test_thumbnail_decodes_a_fraction_of_the_iterations(data, decoder_steps):
    with opened(data) as im:
        im.thumbnail((48, 48))  # draft box 96x96: the 192x128 picture shrinks 2x to fit, and halves
        assert im.size == (48, 32)
        assert im.info["iterations_decoded"] == math.ceil(ITERATIONS / 2)
    assert len(decoder_steps) == math.ceil(ITERATIONS / 2)


def test_thumbnail_is_about_as_close_to_the_source_as_the_full_decode_thumbnail(data):
    source = synthetic_photo(192, 128, seed=5)
    source.thumbnail((48, 48))
    with opened(data) as im:
        im.thumbnail((48, 48))
        preview = np.asarray(im, np.int16)
    full = pillow_rgc.decode(data)
    full.thumbnail((48, 48))

    def error(image):
        return np.abs(np.asarray(image, np.int16) - np.asarray(source, np.int16)).mean()

    assert error(preview) <= error(full) + 2


def test_draft_reduces_by_a_power_of_two_and_returns_the_box(data):
    with opened(data) as im:
        assert im.draft(None, (48, 32)) == ("RGB", (0, 0, 48.0, 32.0))  # 4 times smaller
        assert im.size == (48, 32)
        im.load()
        assert im.size == (48, 32)
        assert im.info["iterations_decoded"] == max(plugin.PREVIEW_MIN_ITERATIONS, math.ceil(ITERATIONS / 4))
        full = pillow_rgc.decode(data, iterations=im.info["iterations_decoded"]).reduce(4)
        np.testing.assert_array_equal(np.asarray(im), np.asarray(full))


def test_draft_shrinking_less_than_twice_keeps_the_size_but_decodes_fewer_iterations(data):
    with opened(data) as im:
        assert im.draft("RGB", (128, 128)) == ("RGB", (0, 0, 192.0, 128.0))
        im.load()
        assert im.size == (192, 128)
        assert im.info["iterations_decoded"] == math.ceil(ITERATIONS / 1.5)


def test_draft_changes_nothing_when_the_picture_fits_already_is_loaded_or_was_drafted(data):
    with opened(data) as im:
        assert im.draft(None, (192, 128)) is None
        assert im.draft("L", None) is None
        im.load()
        assert im.draft(None, (10, 10)) is None
        assert im.info["iterations_decoded"] == ITERATIONS
    with opened(data) as im:
        assert im.draft(None, (96, 64)) is not None
        assert im.draft(None, (10, 10)) is None  # as JPEG's: once
        assert im.size == (96, 64)


def test_iterations_attribute_overrides_the_draft_choice(data):
    with opened(data) as im:
        im.iterations = 5
        im.thumbnail((48, 48))
        assert im.info["iterations_decoded"] == 5 and im.size == (48, 32)


def test_draft_keeps_alpha_and_grayscale():
    rgba = synthetic_photo(64, 64).convert("RGBA")
    rgba.putalpha(128)
    for image in (rgba, rgba.convert("LA"), rgba.convert("L")):
        with opened(pillow_rgc.encode(image, iterations=2, model=TEST_MODEL)) as im:
            im.thumbnail((16, 16))
            assert (im.mode, im.size) == (image.mode, (16, 16))
            if im.mode.endswith("A"):
                assert set(np.asarray(im.getchannel("A")).ravel()) == {128}
