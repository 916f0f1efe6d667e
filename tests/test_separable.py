"""Splitting trained 3x3 GRU input convolutions into depthwise 3x3 and 1x1 ones."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from pillow_rgc.training.model import ResidualCodec  # noqa: E402
from pillow_rgc.training.separable import (  # noqa: E402
    fit_to_outputs,
    make_separable,
    rank_one_factors,
    split_cells,
)

from .test_widen import ONE_SHOT, trained_looking_codec  # noqa: E402


def test_an_exactly_separable_convolution_is_split_without_error():
    torch.manual_seed(0)
    pointwise, taps = torch.randn(24, 8), torch.randn(8, 3, 3)
    weight = pointwise[:, :, None, None] * taps[None]
    one_by_one, depthwise, error = rank_one_factors(weight)
    assert error < 1e-5
    rebuilt = one_by_one[:, :, 0, 0][:, :, None, None] * depthwise[:, 0][None]
    assert torch.allclose(rebuilt, weight, atol=1e-5)


def test_a_split_codec_keeps_every_other_weight_and_approximates_the_convolution():
    codec = trained_looking_codec(ONE_SHOT)
    split, errors = make_separable(codec, [0, 1])
    assert split.arch.decoder_input_kernels == (1, 1) and split.arch.decoder_input_spatial == (3, 3)
    assert split.arch.macs_per_pixel()["decoder"] < codec.arch.macs_per_pixel()["decoder"] / 2
    assert all(0 < e < 1 for e in errors)  # random 3x3 kernels are far from rank 1, but not orthogonal
    old, new = codec.state_dict(), split.state_dict()
    for name, value in old.items():
        if ".input_conv.weight" not in name:
            assert torch.equal(new[name], value), name
    x = torch.randn(1, 8, 6, 5)
    cell, split_cell = codec.decoder.rnns[0], split.decoder.rnns[0]
    exact = cell.input_conv(x)
    approx = split_cell.input_conv(split_cell.input_spatial(x))
    assert torch.linalg.norm(approx - exact) < torch.linalg.norm(exact)  # closer than predicting zero


def test_only_plain_3x3_input_convolutions_are_split():
    codec = ResidualCodec(ONE_SHOT)
    split, _ = make_separable(codec, [1])
    with pytest.raises(ValueError, match="GRU 1 has no plain 3x3"):
        make_separable(split, [1])


def test_a_separable_strided_encoder_convolution_is_split_into_the_same_function():
    codec = trained_looking_codec(ONE_SHOT)
    cell = codec.encoder.rnns[1]
    with torch.no_grad():  # make its input convolution exactly separable
        pointwise, taps = torch.randn(cell.input_conv.out_channels, 8), torch.randn(8, 3, 3)
        cell.input_conv.weight.copy_(pointwise[:, :, None, None] * taps[None])
    split, errors = make_separable(codec, [], [1])
    assert split.arch.encoder_input_kernels == (3, 1, 3) and split.arch.encoder_input_spatial == (1, 3, 1)
    assert split.arch.decoder_input_kernels == codec.arch.decoder_input_kernels
    assert errors[0] < 1e-5
    assert split.arch.macs_per_pixel()["encoder"] < codec.arch.macs_per_pixel()["encoder"]
    x = torch.randn(1, 8, 12, 10)
    split_cell = split.encoder.rnns[1]
    with torch.no_grad():
        exact = cell.input_conv(x)
        found = split_cell.input_conv(split_cell.input_spatial(x))
    assert found.shape == exact.shape == (1, 24, 6, 5)  # the stride of 2 is kept
    assert torch.allclose(found, exact, atol=1e-4)


def test_factors_fitted_to_the_outputs_miss_less_of_them_and_report_their_error():
    codec = trained_looking_codec(ONE_SHOT)
    split, _ = make_separable(codec, [0], [0, 2])
    cells = split_cells([0], [0, 2])
    assert cells == ["encoder.rnns.0", "encoder.rnns.2", "decoder.rnns.0"]
    torch.manual_seed(4)
    crops = torch.rand(3, 3, 32, 48) - 0.5
    errors = fit_to_outputs(codec, split, cells, crops, iterations=1)
    assert all(after < before for before, after in errors)
    # With one iteration the first encoder GRU reads the same input in both models: its error, directly.
    x = codec.encoder.conv(crops)
    dense, cell = codec.encoder.rnns[0].input_conv, split.encoder.rnns[0]
    with torch.no_grad():
        wanted = dense(x) - dense.bias[:, None, None]
        found = cell.input_conv(cell.input_spatial(x)) - cell.input_conv.bias[:, None, None]
    direct = float(((found - wanted) ** 2).sum() / (wanted**2).sum())
    assert direct == pytest.approx(errors[0][1], rel=1e-4)
