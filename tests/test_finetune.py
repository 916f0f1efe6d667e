"""Training your own model: weights read back from graphs, freezing, time budgets, ``rgc train``."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

import pillow_rgc
from pillow_rgc import models
from pillow_rgc.cli import main

from .conftest import TEST_MODEL, synthetic_photo

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")

from pillow_rgc.training import export, onnx_weights, train  # noqa: E402
from pillow_rgc.training.model import Architecture, ResidualCodec  # noqa: E402

from .test_training import TINY, VARIANTS, run_training, varied_codec  # noqa: E402


@pytest.mark.parametrize("variant", VARIANTS)
def test_weights_read_back_from_exported_graphs_are_the_trained_weights(tmp_path, variant):
    codec = varied_codec(variant)
    export.export_model(codec, tmp_path / "m", "m", 2, "")  # split gates, half-resolution output
    arch, state = onnx_weights.load_model_weights(tmp_path / "m")
    assert arch == codec.arch
    expected = codec.state_dict()
    assert set(state) == set(expected)
    for name, tensor in expected.items():
        assert torch.equal(state[name], tensor), name


def test_weights_of_graphs_in_the_training_layout_compute_what_the_graphs_compute():
    """rgc-tiny-test's graphs predate the export rewrites: read as they are, they run the same function."""
    folder = models.find_model(TEST_MODEL).folder
    arch, state = onnx_weights.load_model_weights(folder)
    codec = ResidualCodec(arch).eval()
    codec.load_state_dict(state)
    model = models.load_model(TEST_MODEL)
    bits = np.where(np.random.default_rng(0).random((1, arch.code_channels, 3, 4)) < 0.5, -1, 1).astype(
        np.float32
    )
    states = model.zero_decoder_states(48, 64)
    delta, _ = model.decode_step(bits, states)
    with torch.no_grad():
        expected, _ = codec.decoder(torch.from_numpy(bits), [torch.from_numpy(s) for s in states])
    assert np.allclose(delta, expected.numpy(), atol=1e-5)


def test_a_model_folder_that_is_not_a_codec_is_refused(tmp_path):
    torch.manual_seed(0)
    export.export_model(ResidualCodec(Architecture.from_json(TINY)), tmp_path / "m", "m", 2, "")
    card = json.loads((tmp_path / "m" / "model.json").read_text())
    card["architecture"]["decoder_conv"] = 12
    (tmp_path / "m" / "model.json").write_text(json.dumps(card))
    with pytest.raises(ValueError, match="do not hold the weights"):
        onnx_weights.load_model_weights(tmp_path / "m")


def test_frozen_layers_keep_their_weights_and_the_others_train(tmp_path, photos):
    run_training(photos, tmp_path / "start", 1)
    start = torch.load(tmp_path / "start" / "weights.pt", weights_only=True)["model"]
    args = train.parse_args(
        [
            *("--images", str(photos), "--run", str(tmp_path / "frozen"), "--steps", "3"),
            *("--batch", "2", "--patch", "32", "--iterations", "2", "--threads", "1"),
            *("--init", str(tmp_path / "start" / "weights.pt"), "--freeze", "encoder.conv,encoder.rnns.0"),
        ]
    )
    after = torch.load(train.train(args), weights_only=True)["model"]
    for name in start:
        unchanged = torch.equal(start[name], after[name])
        assert unchanged == name.startswith(("encoder.conv.", "encoder.rnns.0.")), name


def test_a_new_decoder_behind_a_trained_frozen_encoder(tmp_path, photos, capsys):
    """--init with --arch keeps the start's tensors that still fit: here its encoder, frozen."""
    run_training(photos, tmp_path / "start", 1)
    start = torch.load(tmp_path / "start" / "weights.pt", weights_only=True)["model"]
    smaller_top = {"decoder_hidden": [8, 8, 4, 4], "decoder_input_kernels": [3, 3, 1, 1]}
    args = train.parse_args(
        [
            *("--images", str(photos), "--run", str(tmp_path / "fast"), "--steps", "2"),
            *("--batch", "2", "--patch", "32", "--iterations", "2", "--threads", "1"),
            *("--init", str(tmp_path / "start" / "weights.pt"), "--freeze", "encoder"),
            *("--arch", json.dumps(smaller_top)),
        ]
    )
    blob = torch.load(train.train(args), weights_only=True)
    assert Architecture.from_json(json.loads(blob["architecture"])) == Architecture.from_json(
        {**TINY, **smaller_top}
    )
    after = blob["model"]
    encoder = [name for name in after if name.startswith("encoder.")]
    assert encoder and all(torch.equal(start[name], after[name]) for name in encoder)
    assert start["decoder.rnns.3.input_conv.weight"].shape != after["decoder.rnns.3.input_conv.weight"].shape
    anew = capsys.readouterr().err.split("start anew: ")[1].splitlines()[0].split(", ")
    assert "decoder.rnns.3.input_conv.weight" in anew and not any(n.startswith("encoder.") for n in anew)


def test_shared_weights_take_the_start_where_name_and_shape_fit():
    start = {"a": torch.ones(2, 3), "b": torch.ones(4), "gone": torch.ones(1)}
    fresh = {"a": torch.zeros(2, 3), "b": torch.zeros(5), "new": torch.zeros(2)}
    shared = train.shared_weights(start, fresh)
    assert set(shared) == set(fresh)
    assert torch.equal(shared["a"], start["a"])
    assert torch.equal(shared["b"], fresh["b"]) and torch.equal(shared["new"], fresh["new"])


def _convolution_weights_in_backward(codec: ResidualCodec) -> set[tuple[int, ...]]:
    """Shapes of the weights of every convolution that backward of the last reconstruction runs through."""
    outputs = codec(torch.rand(1, 3, 32, 32) - 0.5, 3)
    seen, frontier = set(), [outputs[-1].sum().grad_fn]
    while frontier:
        node = frontier.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        frontier.extend(next_node for next_node, _ in node.next_functions)
    return {tuple(n._saved_weight.shape) for n in seen if "Convolution" in type(n).__name__}


def test_freezing_the_first_encoder_layers_keeps_backward_out_of_them():
    torch.manual_seed(0)
    codec = ResidualCodec(Architecture.from_json(TINY))
    first_layers = {
        tuple(codec.encoder.conv.weight.shape),
        tuple(codec.encoder.rnns[0].input_conv.weight.shape),
    }
    assert first_layers <= _convolution_weights_in_backward(codec)
    train.freeze(codec, ["encoder.conv", "encoder.rnns.0"])
    assert not first_layers & _convolution_weights_in_backward(codec)


def test_unknown_freeze_names_are_a_clear_error():
    with pytest.raises(ValueError, match="names no parameter"):
        train.freeze(ResidualCodec(Architecture.from_json(TINY)), ["encoder.gru"])


def test_a_cpu_time_budget_stops_training_and_snapshots_on_cpu_time(tmp_path, photos):
    args = train.parse_args(
        [
            *("--images", str(photos), "--run", str(tmp_path / "run"), "--cpu-hours", "0.0003"),
            *("--batch", "2", "--patch", "32", "--iterations", "2", "--threads", "1"),
            *("--arch", json.dumps(TINY), "--snapshot-every", "0.3"),
        ]
    )
    train.train(args)
    blob = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)
    assert 1.08 <= blob["cpu_seconds"] < 20 and blob["step"] >= 1
    snapshots = sorted((tmp_path / "run" / "snapshots").iterdir())
    assert snapshots and snapshots[0].name == "cpu-000000s.pt"


def test_training_stops_at_the_steps_or_the_time_budget_whichever_comes_first():
    args = train.parse_args(["--images", ".", "--run", ".", "--steps", "10", "--hours", "1"])
    assert train.finished(train.Progress(step=10, seconds=60), args)
    assert train.finished(train.Progress(step=3, seconds=3600), args)
    assert not train.finished(train.Progress(step=9, seconds=3599), args)


def test_the_learning_rate_follows_the_time_budget():
    args = train.parse_args(["--images", ".", "--run", ".", "--hours", "1", "--lr", "1e-3"])
    rates = [train.scheduled_rate(train.Progress(step=5, seconds=s), args) for s in (0, 180, 1800, 3600)]
    assert rates[0] < rates[1] == pytest.approx(1e-3) and rates[2] < rates[1]
    assert rates[3] == pytest.approx(1e-4)


def test_rgc_train_fine_tunes_an_installed_model_into_a_model_files_can_use(tmp_path, photos, capsys):
    models_dir, big = tmp_path / "models", tmp_path / "big"
    big.mkdir()
    for seed in range(2):  # the context prior is fitted on crops of at least 256 pixels
        synthetic_photo(272, 256, seed=seed).save(big / f"{seed}.png")
    code = main(
        [
            *("train", "--images", str(big), "--init", TEST_MODEL, "--out", "my-photos-1"),
            *("--steps", "2", "--patch", "32", "--batch", "2", "--iterations", "2", "--threads", "1"),
            *("--models-dir", str(models_dir), "--run-dir", str(tmp_path / "run"), "--eval", str(photos)),
            *("--context-prior", "2"),
        ]
    )
    assert code == 0
    folder = models_dir / "my-photos-1"
    card = (folder / "MODEL_CARD.md").read_text()
    assert f"started from | {TEST_MODEL}" in card and "steps | 2 of batch 2" in card
    assert "my-photos-1 |" in card and (folder / "rd.png").stat().st_size > 0
    assert "context prior | fitted on 2 crops" in card and (folder / "context_prior.bin").is_file()
    assert "binarizer in training | straight-through" in card  # fine-tuning trains with the file's bits
    log = (tmp_path / "run" / "train.log").read_text().splitlines()
    assert json.loads(log[0])["args"]["binarizer"] == "straight-through"
    report = json.loads((folder / "evaluation.json").read_text())
    assert report["bd_rate"][TEST_MODEL]["vs_first"]["ms_ssim"] == pytest.approx(0.0, abs=1e-9)
    assert set(report["curves"]) == {"JPEG", TEST_MODEL, "my-photos-1"}

    pillow_rgc.add_model_path(models_dir)
    photo = synthetic_photo(40, 32)
    out = tmp_path / "x.rgc"
    photo.save(out, model="my-photos-1", iterations=2)
    with Image.open(out) as im:
        im.load()
        assert im.info["model"] == "my-photos-1" and im.size == photo.size
    assert {chunk["coding"] for chunk in pillow_rgc.info(out.read_bytes())["chunks"]} <= {0, 1, 3}


def test_rgc_train_starts_a_new_model_with_the_papers_stochastic_bits(tmp_path, photos):
    models_dir = tmp_path / "models"
    code = main(
        [
            *("train", "--images", str(photos), "--out", "new-1", "--arch", json.dumps(TINY)),
            *("--steps", "1", "--patch", "32", "--batch", "1", "--iterations", "2", "--threads", "1"),
            *("--models-dir", str(models_dir), "--run-dir", str(tmp_path / "run")),
        ]
    )
    assert code == 0
    assert "binarizer in training | stochastic" in (models_dir / "new-1" / "MODEL_CARD.md").read_text()


def test_rgc_train_refuses_an_installed_id_or_a_bad_one(tmp_path, photos, capsys):
    for name, message in ((TEST_MODEL, "installed already"), ("Bad Name", "use 1-64")):
        run = tmp_path / "run"
        code = main(["train", "--images", str(photos), "--out", name, "--steps", "1", "--run-dir", str(run)])
        assert code == 1 and message in capsys.readouterr().err
        assert not run.exists()


def test_rgc_evaluate_prints_bd_rates_against_the_first_model_and_jpeg(tmp_path, photos, capsys):
    plot = tmp_path / "rd.png"
    assert main(["evaluate", "--images", str(photos), "--models", TEST_MODEL, "--plot", str(plot)]) == 0
    out = capsys.readouterr().out
    assert TEST_MODEL in out and "vs JPEG" in out and plot.stat().st_size > 0
