"""An int8 synthesis graph: a new model of its own that decodes close to its source."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("onnx")  # onnxruntime's quantizer needs it ([train] extra)

import pillow_rgc  # noqa: E402
from pillow_rgc import models  # noqa: E402
from pillow_rgc.training.quantize import quantize_synthesis, synthesis_inputs  # noqa: E402

from .conftest import photo_folder, synthetic_photo  # noqa: E402

SOURCE = "rgc-tiny-test-one-shot"


def test_an_int8_synthesis_makes_a_model_that_decodes_close_to_its_source(tmp_path):
    source = models.load_model(SOURCE)
    states = synthesis_inputs(source, photo_folder(tmp_path / "photos", 96, 80), photos=2)
    assert len(states) >= 2 and {s.shape[1] for s in states} == {
        source.info.card["architecture"]["decoder_hidden"][-1]
    }
    card = quantize_synthesis(source, tmp_path / "models" / "tiny-int8", "tiny-int8", states)

    assert card["sha256"] == models.model_hash(tmp_path / "models" / "tiny-int8") != source.info.sha256
    assert card["quantized"]["from"] == SOURCE
    assert json.loads((tmp_path / "models" / "tiny-int8" / "model.json").read_text()) == card
    pillow_rgc.add_model_path(tmp_path / "models")
    image = synthetic_photo(96, 80, seed=5)
    exact = np.asarray(pillow_rgc.decode(pillow_rgc.encode(image, iterations=3, model=SOURCE)), np.int16)
    data = pillow_rgc.encode(image, iterations=3, model="tiny-int8")
    assert pillow_rgc.info(data)["model"] == "tiny-int8"
    quantized = np.asarray(pillow_rgc.decode(data), np.int16)
    assert np.abs(quantized - exact).mean() < 2.0  # int8 rounding, not another picture
    with pytest.raises(ValueError, match="no synthesis graph"):
        quantize_synthesis(models.load_model("rgc-tiny-test"), tmp_path / "other", "other", states)
