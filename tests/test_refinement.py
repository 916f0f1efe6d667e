"""The writer's refinement of each iteration's bits (``effort``): the graph it reads, the flips, the files."""

from __future__ import annotations

import io

import numpy as np
import onnx
import pytest
from PIL import Image

import pillow_rgc
from pillow_rgc import api, cli, codec, models, refinement, silence
from pillow_rgc.quality import psnr

from .conftest import synthetic_photo, writers_last_picture

MODEL = "rgc-tiny-test-prior"
DEFAULT = models.DEFAULT_MODEL


def first_iteration(model_id: str, photo: Image.Image):
    """(model, network picture, bits, confidence, an empty reconstruction) of ``photo``'s first iteration."""
    model = models.load_model(model_id)
    pixels = np.asarray(photo)
    image = codec.to_network(pixels, model.info.code_stride)
    states = model.zero_encoder_states(*image.shape[2:])
    signs, confidence, _ = model.encode_step_with_confidence(image, states)
    reconstruction = codec.Reconstruction(model, *pixels.shape[:2])
    return model, image, signs[0] > 0, confidence[0], reconstruction


def test_the_confidence_is_the_output_whose_sign_each_bit_is():
    model, image, bits, confidence, _ = first_iteration(MODEL, synthetic_photo(64, 48))
    plain, _ = model.encode_step(image, model.zero_encoder_states(*image.shape[2:]))
    assert np.array_equal(bits, plain[0] > 0), "the edited graph gives the released graph's bits"
    assert np.array_equal(bits, confidence >= 0)
    assert np.abs(confidence).max() < 1 and np.abs(confidence).min() < 0.5


def test_an_encoder_without_a_tanh_binarizer_cannot_be_refined(tmp_path):
    node = onnx.helper.make_node("Sign", ["residual"], ["bits"])
    tensor = onnx.helper.make_tensor_value_info
    graph = onnx.helper.make_graph(
        [node],
        "no-tanh",
        [tensor("residual", onnx.TensorProto.FLOAT, None)],
        [tensor("bits", onnx.TensorProto.FLOAT, None)],
    )
    path = tmp_path / "encoder.onnx"
    onnx.save(onnx.helper.make_model(graph), path)
    with pytest.raises(models.ModelError, match="no tanh binarizer"):
        models.with_confidence(path)


def test_refining_flips_only_the_least_sure_bits_of_the_sending_cells():
    model, image, bits, confidence, reconstruction = first_iteration(MODEL, synthetic_photo(96, 64, seed=3))
    silent = np.zeros(bits.shape[1:], bool)
    silent[:, :2] = True
    quiet = silence.silenced(bits, silent)
    assert np.array_equal(np.asarray(refinement.refined(quiet, confidence, reconstruction, image, 0)), quiet)
    refined = refinement.refined(quiet, confidence, reconstruction, image, 2)
    assert np.array_equal(silence.silent_cells(refined), silent), "silent cells stay silent"
    assert not np.asarray(refined)[:, silent].any()
    changed = np.asarray(refined) != np.asarray(quiet)
    assert changed.any(), "some flip pays"
    least_sure = np.argsort(np.abs(confidence), axis=0, kind="stable")[:2]
    allowed = np.zeros_like(changed)
    np.put_along_axis(allowed, least_sure, True, axis=0)
    assert not (changed & ~allowed).any()


def test_refined_bits_bring_the_default_models_first_picture_closer():
    """On a trained model the flips kept lower the squared error: on val (``benchmarks/rd.py
    --effort``) every photo gained PSNR at every iteration."""
    photo = synthetic_photo(128, 96, seed=2)
    model, image, bits, confidence, reconstruction = first_iteration(DEFAULT, photo)
    height, width = photo.height, photo.width

    def error(candidate: np.ndarray) -> float:
        picture = reconstruction.trial(candidate)
        return float(refinement.cell_errors(picture, image, height, width, model.info.code_stride).sum())

    refined = refinement.refined(bits, confidence, reconstruction, image, 2)
    assert error(refined) < 0.97 * error(bits)


def test_cell_errors_leave_out_the_padding():
    image = np.zeros((1, 3, 32, 32), np.float32)
    picture = np.ones_like(image)
    errors = refinement.cell_errors(picture, image, 20, 30, 16)
    assert errors.tolist() == [[16 * 16 * 3, 16 * 14 * 3], [4 * 16 * 3, 4 * 14 * 3]]


def test_a_refined_file_decodes_to_the_writers_own_reconstruction():
    photo = synthetic_photo(96, 80, seed=4)
    planes, picture = writers_last_picture(MODEL, np.asarray(photo), 4, stop_psnr=20, effort=2)
    plain, _ = writers_last_picture(MODEL, np.asarray(photo), 4, stop_psnr=20)
    assert any(not np.array_equal(a, b) for a, b in zip(planes, plain))
    data = pillow_rgc.encode(photo, iterations=4, model=MODEL, stop_psnr=20, effort=2)
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(data)).convert("RGB")), picture)


@pytest.mark.parametrize("effort", [-1, api.MAX_EFFORT + 1, 1.5, "2"])
def test_an_effort_out_of_range_is_refused(effort):
    with pytest.raises(ValueError, match="effort must be an integer"):
        pillow_rgc.encode(synthetic_photo(32, 32), model=MODEL, effort=effort)


def test_the_plugin_and_the_command_line_take_an_effort(tmp_path):
    photo = synthetic_photo(64, 48, seed=6)
    expected = {e: pillow_rgc.encode(photo, iterations=3, model=MODEL, effort=e) for e in (0, 3)}
    assert expected[0] != expected[3]
    photo.save(tmp_path / "a.png")
    for effort, data in expected.items():
        photo.save(tmp_path / "plugin.rgc", model=MODEL, iterations=3, effort=effort)
        assert (tmp_path / "plugin.rgc").read_bytes() == data
        arguments = ["encode", str(tmp_path / "a.png"), str(tmp_path / "cli.rgc"), "-n", "3"]
        assert cli.main([*arguments, "--model", MODEL, "--effort", str(effort)]) == 0
        assert (tmp_path / "cli.rgc").read_bytes() == data


def test_tiles_are_refined_too():
    photo = synthetic_photo(160, 96, seed=7)
    files = {e: pillow_rgc.encode(photo, iterations=1, model=DEFAULT, tile_side=80, effort=e) for e in (0, 3)}
    assert all(pillow_rgc.info(data)["format_version"].startswith("3.") for data in files.values())
    plain, refined = (psnr(photo, pillow_rgc.decode(files[e])) for e in (0, 3))
    assert refined > plain + 0.1


def test_no_effort_given_means_the_writers_default_read_when_writing(monkeypatch):
    photo = synthetic_photo(64, 48, seed=8)
    monkeypatch.setattr(api, "EFFORT", 2)
    assert pillow_rgc.encode(photo, iterations=2, model=MODEL) == pillow_rgc.encode(
        photo, iterations=2, model=MODEL, effort=2
    )
    photo.save(buffer := io.BytesIO(), "RGC", iterations=2, model=MODEL)
    assert buffer.getvalue() == pillow_rgc.encode(photo, iterations=2, model=MODEL, effort=2)
