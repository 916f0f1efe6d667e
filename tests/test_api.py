"""The Python API beside Pillow: encode, decode, info, truncate and rate control."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

import pillow_rgc
from pillow_rgc.quality import ms_ssim, ms_ssim_for_jpeg_quality

from .conftest import TEST_MODEL, synthetic_photo


def test_iterations_option_gives_that_many(photo):
    data = pillow_rgc.encode(photo, iterations=3, model=TEST_MODEL)
    assert pillow_rgc.info(data)["iterations_present"] == 3


def test_iterations_capped_by_model(photo):
    data = pillow_rgc.encode(photo, iterations=1000, model=TEST_MODEL)
    assert pillow_rgc.info(data)["iterations_present"] == pillow_rgc.installed_models()[TEST_MODEL].iterations


def test_max_bytes_is_respected_and_filled(photo):
    one = len(pillow_rgc.encode(photo, iterations=1, model=TEST_MODEL))
    three = len(pillow_rgc.encode(photo, iterations=3, model=TEST_MODEL))
    data = pillow_rgc.encode(photo, max_bytes=three + 1, model=TEST_MODEL)
    assert len(data) == three
    with pytest.raises(ValueError, match="max_bytes"):
        pillow_rgc.encode(photo, max_bytes=one - 1, model=TEST_MODEL)


@pytest.mark.parametrize("quality", [0, -1, 101, float("nan")])
def test_bad_quality_is_a_value_error(photo, quality):
    with pytest.raises(ValueError):
        pillow_rgc.encode(photo, quality=quality, model=TEST_MODEL)


def test_info_lists_every_chunk(photo):
    data = pillow_rgc.encode(photo, iterations=3, model=TEST_MODEL)
    summary = pillow_rgc.info(data)
    assert (summary["width"], summary["height"], summary["mode"]) == (*photo.size, "RGB")
    assert summary["model"] == TEST_MODEL and summary["complete"]
    chunks = summary["chunks"]
    assert [c["iteration"] for c in chunks] == [0, 1, 2]
    assert all(data[c["offset"] + 4 : c["offset"] + 8] == b"ITER" for c in chunks)
    assert chunks[1]["offset"] == chunks[0]["offset"] + chunks[0]["size"]
    model = pillow_rgc.installed_models()[TEST_MODEL]
    cells = -(-photo.width // model.code_stride) * -(-photo.height // model.code_stride)
    assert summary["raw_bits_per_iteration"] == model.code_channels * cells


def test_decode_matches_pillow(photo):
    data = pillow_rgc.encode(photo, iterations=2, model=TEST_MODEL)
    with Image.open(io.BytesIO(data)) as im:
        np.testing.assert_array_equal(np.asarray(im), np.asarray(pillow_rgc.decode(data)))


def test_encoding_is_deterministic(photo):
    assert pillow_rgc.encode(photo, iterations=3, model=TEST_MODEL) == pillow_rgc.encode(
        photo, iterations=3, model=TEST_MODEL
    )


def test_quality_target_stops_at_the_first_iteration_that_meets_it():
    photo = synthetic_photo(160, 176, seed=3)
    reference = np.asarray(photo)
    everything = pillow_rgc.encode(photo, quality=1.0)
    present = pillow_rgc.info(everything)["iterations_present"]
    scores = [ms_ssim(reference, np.asarray(pillow_rgc.decode(everything, k))) for k in range(1, present + 1)]
    for wanted in (2, 3):
        target = scores[wanted - 1] - 1e-4  # reachable in `wanted` iterations, maybe fewer
        data = pillow_rgc.encode(photo, quality=target)
        used = pillow_rgc.info(data)["iterations_present"]
        assert used == next(k for k, score in enumerate(scores, start=1) if score >= target)
        assert ms_ssim(reference, np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))) >= target


def test_unreachable_target_gives_every_iteration(photo):
    data = pillow_rgc.encode(photo, quality=0.99999, model=TEST_MODEL)
    assert pillow_rgc.info(data)["iterations_present"] == pillow_rgc.installed_models()[TEST_MODEL].iterations


def test_jpeg_scale_quality_means_the_ms_ssim_jpeg_reaches():
    photo = synthetic_photo(160, 176, seed=4)
    target = ms_ssim_for_jpeg_quality(30)
    assert pillow_rgc.encode(photo, quality=30) == pillow_rgc.encode(photo, quality=target)


def test_default_is_jpeg_scale_75(photo):
    assert pillow_rgc.encode(photo, model=TEST_MODEL) == pillow_rgc.encode(
        photo, quality=75, model=TEST_MODEL
    )


def test_quality_one_uses_every_iteration(photo):
    data = pillow_rgc.encode(photo, quality=1, model=TEST_MODEL)
    assert pillow_rgc.info(data)["iterations_present"] == pillow_rgc.installed_models()[TEST_MODEL].iterations
