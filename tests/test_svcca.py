"""SVCCA of hidden states, and ``rgc analyze svcca``."""

from __future__ import annotations

import numpy as np
import pytest

from pillow_rgc import models, svcca
from pillow_rgc.cli import main
from pillow_rgc.svcca_report import freeze_hint

from .conftest import TEST_MODEL, synthetic_photo


def test_svcca_ignores_the_basis_and_sees_unrelated_activations():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(3000, 12))
    mixed = a @ rng.normal(size=(12, 20)) + 5.0  # the same information in 20 other neurons
    assert svcca.svcca(a, mixed) == pytest.approx(1.0, abs=1e-6)
    assert svcca.svcca(a, rng.normal(size=(3000, 12))) < 0.1
    half = np.concatenate([a[:, :6], rng.normal(size=(3000, 6))], axis=1)
    assert 0.4 < svcca.svcca(a, half) < 0.7


def test_svcca_needs_the_same_inputs():
    with pytest.raises(ValueError, match="one row per input"):
        svcca.svcca(np.zeros((10, 3)), np.zeros((11, 3)))


def test_hidden_states_of_every_layer_iteration_and_picture():
    model = models.load_model(TEST_MODEL)
    pictures = [np.asarray(synthetic_photo(64, 48, seed=s)) for s in range(2)]
    states = svcca.hidden_states(model, pictures, 3)
    assert list(states) == [f"encoder.rnns.{i}" for i in range(3)] + [f"decoder.rnns.{i}" for i in range(4)]
    assert states["encoder.rnns.0"].shape == (3, 2, 16, 12, 16)
    assert states["decoder.rnns.3"].shape == (3, 2, 16, 24, 32)
    same = svcca.same_layer(states, states)
    assert all(value == pytest.approx(1.0, abs=1e-6) for value in same.values())
    matrix = svcca.layer_matrix(states, states)
    assert matrix.shape == (7, 7) and np.allclose(np.diag(matrix), 1.0, atol=1e-6)
    assert svcca.iteration_matrix(states["decoder.rnns.0"], states["decoder.rnns.0"]).shape == (3, 3)


def test_freeze_hint_adds_the_convolutions_of_the_frozen_ends():
    similarity = {
        "encoder.rnns.0": 0.95,
        "encoder.rnns.1": 0.5,
        "decoder.rnns.0": 0.4,
        "decoder.rnns.1": 0.97,
    }
    assert freeze_hint(similarity, 0.9) == [
        "encoder.conv",
        "encoder.rnns.0",
        "decoder.rnns.1",
        "decoder.output",
    ]
    assert freeze_hint(similarity, 0.99) == []


def test_rgc_analyze_svcca_of_a_model_with_itself(photos, capsys):
    args = ["analyze", "svcca", TEST_MODEL, TEST_MODEL, "--images", str(photos), "--iterations", "2"]
    assert main([*args, "--crop", "32"]) == 0
    out = capsys.readouterr().out
    assert "decoder.rnns.3        1.000  unchanged" in out and "--freeze encoder.conv," in out
    assert main([*args, "--crop", "40"]) == 1
    assert "multiple of 16" in capsys.readouterr().err


def test_rgc_analyze_svcca_plots_the_similarity_matrices(photos, tmp_path):
    pytest.importorskip("matplotlib")
    plot = tmp_path / "svcca.png"
    args = ["analyze", "svcca", TEST_MODEL, TEST_MODEL, "--images", str(photos), "--crop", "32"]
    assert main([*args, "--iterations", "2", "--plot", str(plot)]) == 0
    assert plot.stat().st_size > 0
