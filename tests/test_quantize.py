"""Int8 encoder and synthesis graphs: a new model of its own that codes close to its source."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("torch")  # pillow_rgc.training (its photo sampler) needs it ([train] extra)

import pillow_rgc  # noqa: E402
from pillow_rgc import models  # noqa: E402
from pillow_rgc.quality import psnr  # noqa: E402
from pillow_rgc.training.quantize import calibration_feeds, quantize_graphs  # noqa: E402

from .conftest import photo_folder, synthetic_photo  # noqa: E402

SOURCE = "rgc-tiny-test-one-shot"


def test_int8_graphs_make_a_model_that_decodes_close_to_its_source(tmp_path):
    source = models.load_model(SOURCE)
    feeds = calibration_feeds(source, photo_folder(tmp_path / "photos", 96, 80), photos=2)
    assert len(feeds["encoder.onnx"]) >= 2 and len(feeds["synthesis.onnx"]) >= 2
    assert set(feeds["synthesis.onnx"][0]) == {"state"}
    assert "run" not in vars(source.encoder)  # the sessions are themselves again
    card = quantize_graphs(source, tmp_path / "models" / "tiny-int8", "tiny-int8", feeds)

    folder = tmp_path / "models" / "tiny-int8"
    assert card["sha256"] == models.model_hash(folder) != source.info.sha256
    assert card["quantized"]["graphs"] == ["encoder.onnx", "synthesis.onnx"]
    assert json.loads((folder / "model.json").read_text()) == card
    assert (folder / "decoder.onnx").read_bytes() == (source.info.folder / "decoder.onnx").read_bytes()
    pillow_rgc.add_model_path(tmp_path / "models")
    image = synthetic_photo(96, 80, seed=5)
    exact = pillow_rgc.decode(pillow_rgc.encode(image, iterations=3, model=SOURCE))
    data = pillow_rgc.encode(image, iterations=3, model="tiny-int8")
    assert pillow_rgc.info(data)["model"] == "tiny-int8"
    # other bits and rounded pixels, but about the same quality, not another picture
    assert psnr(image, pillow_rgc.decode(data)) == pytest.approx(psnr(image, exact), abs=0.5)


def test_only_the_encoder_and_synthesis_graphs_are_quantized(tmp_path):
    additive = models.load_model("rgc-tiny-test")
    with pytest.raises(ValueError, match="cannot quantize synthesis.onnx"):
        quantize_graphs(additive, tmp_path / "a", "a", {}, ["encoder.onnx", "synthesis.onnx"])
    with pytest.raises(ValueError, match="cannot quantize decoder.onnx"):
        quantize_graphs(additive, tmp_path / "b", "b", {}, ["decoder.onnx"])
