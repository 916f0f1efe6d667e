"""Cutting a file is a feature: every cut after the first iteration decodes, better as bytes grow."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, UnidentifiedImageError

import pillow_rgc
from pillow_rgc import container
from pillow_rgc.quality import ms_ssim

from .conftest import TEST_MODEL, synthetic_photo


def decoded_ms_ssim(reference: Image.Image, data: bytes) -> float:
    with Image.open(io.BytesIO(data)) as im:
        return ms_ssim(np.asarray(reference), np.asarray(im.convert("RGB")))


def test_quality_rises_at_every_chunk_boundary_with_the_default_model():
    photo = synthetic_photo(176, 176, seed=1)
    data = pillow_rgc.encode(photo, quality=1.0)
    chunks = container.read(data).iterations
    scores = [decoded_ms_ssim(photo, data[: c.offset + c.size]) for c in chunks]
    assert len(scores) == pillow_rgc.installed_models()[pillow_rgc.DEFAULT_MODEL].iterations
    assert all(later >= earlier - 1e-3 for earlier, later in zip(scores, scores[1:])), scores
    assert scores[-1] > scores[0] + 0.05


def test_every_cut_position_decodes_its_complete_iterations():
    photo = synthetic_photo(40, 24, seed=2)
    data = pillow_rgc.encode(photo, iterations=3, model=TEST_MODEL)
    ends = [c.offset + c.size for c in container.read(data).iterations]
    for cut in range(len(data) + 1):
        complete = sum(end <= cut for end in ends)
        if complete == 0:
            with pytest.raises(UnidentifiedImageError):
                Image.open(io.BytesIO(data[:cut]))
            continue
        with Image.open(io.BytesIO(data[:cut])) as im:
            assert im.info["iterations"] == complete
            im.load()
            expected = pillow_rgc.decode(data, iterations=complete)
            np.testing.assert_array_equal(np.asarray(im), np.asarray(expected))


def test_truncate_by_iterations_and_bytes_without_reencoding(photo):
    data = pillow_rgc.encode(photo, iterations=4, model=TEST_MODEL)
    two = pillow_rgc.truncate(data, iterations=2)
    assert pillow_rgc.info(two)["iterations_present"] == 2 and pillow_rgc.info(two)["complete"]
    payloads = [chunk.payload for chunk in container.read(data).iterations]
    assert [chunk.payload for chunk in container.read(two).iterations] == payloads[:2]
    np.testing.assert_array_equal(
        np.asarray(pillow_rgc.decode(two)), np.asarray(pillow_rgc.decode(data, iterations=2))
    )
    fitted = pillow_rgc.truncate(data, max_bytes=len(two) + 5)
    assert fitted == two


def test_truncate_refuses_a_budget_below_one_iteration(photo):
    data = pillow_rgc.encode(photo, iterations=2, model=TEST_MODEL)
    with pytest.raises(ValueError):
        pillow_rgc.truncate(data, max_bytes=40)
