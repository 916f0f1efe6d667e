"""One-shot models: a synthesis graph makes the picture from the decoder's state, once per look."""

from __future__ import annotations

import io
import shutil

import numpy as np
import pytest
from PIL import Image

import pillow_rgc
from pillow_rgc import models

from .conftest import photo_folder, synthetic_photo

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")

from pillow_rgc.training import export  # noqa: E402
from pillow_rgc.training.model import Architecture, ResidualCodec  # noqa: E402

from .test_training import ONE_SHOT, TINY  # noqa: E402


@pytest.fixture(scope="module")
def one_shot_models(tmp_path_factory):
    """A folder of models holding the tiny one-shot model ``one-shot``."""
    folder = tmp_path_factory.mktemp("models")
    torch.manual_seed(1)
    export.export_model(
        ResidualCodec(Architecture.from_json({**TINY, **ONE_SHOT})), folder / "one-shot", "one-shot", 3, ""
    )
    pillow_rgc.add_model_path(folder)
    return folder


def test_the_synthesis_graph_is_part_of_the_model_hash(one_shot_models, tmp_path):
    folder = tmp_path / "one-shot"
    shutil.copytree(one_shot_models / "one-shot", folder)
    before = models.model_hash(folder)
    assert before == models.ModelInfo.from_folder(folder).sha256
    with open(folder / models.SYNTHESIS_FILE, "ab") as graph:
        graph.write(b"\0")
    assert models.model_hash(folder) != before


def test_a_one_shot_model_without_its_synthesis_graph_is_a_clear_error(one_shot_models, tmp_path):
    folder = tmp_path / "one-shot"
    shutil.copytree(one_shot_models / "one-shot", folder)
    (folder / models.SYNTHESIS_FILE).unlink()
    info = models.ModelInfo.from_folder(folder)
    info = models.ModelInfo(**{**info.__dict__, "sha256": models.model_hash(folder)})
    with pytest.raises(models.ModelError, match="synthesis.onnx"):
        models.LoadedModel(info)


def test_one_shot_files_decode_progressively_and_when_cut(one_shot_models):
    photo = synthetic_photo(50, 35)
    data = pillow_rgc.encode(photo, iterations=3, model="one-shot")
    pictures = [np.asarray(pillow_rgc.decode(data, iterations=k)) for k in (1, 2, 3)]
    assert not np.array_equal(pictures[0], pictures[2])  # each look is synthesised from its own states
    with Image.open(io.BytesIO(data)) as im:
        assert np.array_equal(np.asarray(im.convert("RGB")), pictures[2])
    cut = pillow_rgc.truncate(data, iterations=2)
    with Image.open(io.BytesIO(cut)) as im:
        assert np.array_equal(np.asarray(im.convert("RGB")), pictures[1])


def test_a_one_shot_model_encodes_to_a_quality_target(one_shot_models):
    """Rate control reads the synthesised picture after each iteration (and the shorter last
    iterations it tries), so a target stops the encoder as with additive models."""
    photo = synthetic_photo(50, 35)
    low = pillow_rgc.encode(photo, quality=0.01, model="one-shot")
    high = pillow_rgc.encode(photo, quality=0.999, model="one-shot")
    assert pillow_rgc.info(low)["iterations_present"] < pillow_rgc.info(high)["iterations_present"] == 3


def test_a_one_shot_model_with_a_prior_ends_files_in_partial_iterations(one_shot_models, tmp_path):
    """A partial last iteration (coding 4) is decoded again as segments arrive or as the writer
    tries shorter ones: the synthesised picture must follow the replaced states."""
    training = pytest.importorskip("pillow_rgc.training.context_prior")
    photos = photo_folder(tmp_path / "photos", 96, 80)
    folder = tmp_path / "with-prior"
    shutil.copytree(one_shot_models / "one-shot", folder / "one-shot")
    training.main([str(folder / "one-shot"), "--images", str(photos), "--crops", "2", "--side", "64"])
    pillow_rgc.add_model_path(folder)
    photo = synthetic_photo(320, 256, 5)
    two, three = (pillow_rgc.encode(photo, iterations=n, model="one-shot") for n in (2, 3))
    budget = (len(two) + len(three)) // 2
    made = pillow_rgc.encode(photo, max_bytes=budget, model="one-shot")
    assert len(two) < len(made) <= budget
    assert [c["coding"] for c in pillow_rgc.info(made)["chunks"]][-1] == 4  # ends in a partial iteration
    whole = pillow_rgc.encode(photo, iterations=3, model="one-shot", segmented=True)
    cut = whole[: len(whole) - (len(three) - len(two)) // 2]
    with Image.open(io.BytesIO(cut)) as im:
        im.load()
        assert im.size == photo.size
    decoded = [np.asarray(pillow_rgc.decode(d)) for d in (two, cut, whole)]
    assert not np.array_equal(decoded[1], decoded[0]) and not np.array_equal(decoded[1], decoded[2])
