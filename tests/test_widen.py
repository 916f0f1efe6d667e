"""Widening a trained codec keeps what it computes and lets the new channels learn."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from pillow_rgc.training.model import Architecture, ResidualCodec  # noqa: E402
from pillow_rgc.training.widen import widen, widened_architecture  # noqa: E402

NARROW = Architecture(
    code_channels=4, encoder_conv=4, encoder_hidden=(8, 8, 8), decoder_conv=8, decoder_hidden=(8, 8, 8, 8)
)
WIDER = {
    "code_channels": 6,
    "encoder_conv": 6,
    "encoder_hidden": [8, 12, 16],
    "decoder_conv": 12,
    "decoder_hidden": [8, 16, 12, 16],
}


def trained_looking_codec(arch: Architecture = NARROW, seed: int = 1) -> ResidualCodec:
    torch.manual_seed(seed)
    codec = ResidualCodec(arch)
    with torch.no_grad():
        for p in codec.parameters():
            p.add_(0.2 * torch.randn_like(p))  # no zero or default-init pattern to hide a wrong copy
    return codec


def test_widened_codec_computes_exactly_what_the_narrow_one_does():
    codec = trained_looking_codec()
    wide = widen(codec, widened_architecture(NARROW, WIDER))
    assert sum(p.numel() for p in wide.parameters()) > sum(p.numel() for p in codec.parameters())
    image = torch.rand(2, 3, 48, 64) - 0.5
    with torch.no_grad():
        narrow_out = codec(image, 3, binarizer="sign")
        wide_out = wide(image, 3, binarizer="sign")
    for a, b in zip(narrow_out, wide_out):
        assert torch.allclose(a, b, atol=1e-6)


ONE_SHOT = Architecture(
    code_channels=4,
    encoder_conv=4,
    encoder_hidden=(8, 8, 8),
    decoder_conv=8,
    decoder_hidden=(8, 8),
    decoder_input_kernels=(3, 3),
    decoder_hidden_spatial=(1, 1),
    synthesis=(8, 4),
)


def test_a_widened_one_shot_codec_computes_exactly_what_the_narrow_one_does():
    codec = trained_looking_codec(ONE_SHOT, seed=2)
    changes = {
        "code_channels": 6,
        "decoder_hidden": [12, 16],
        "synthesis": [12, 8],
        "decoder_input_spatial": [3, 1],  # grown: starts as the identity
        "encoder_input_spatial": [1, 3, 1],
    }
    wide = widen(codec, widened_architecture(ONE_SHOT, changes))
    assert wide.decoder.synthesis[0].weight.shape == (12, 4, 3, 3)  # reads the 16 // 4 channels of the state
    image = torch.rand(2, 3, 48, 64) - 0.5
    with torch.no_grad():
        for a, b in zip(codec(image, 3, binarizer="sign"), wide(image, 3, binarizer="sign")):
            assert torch.allclose(a, b, atol=1e-6)
    outputs = wide(image, 2, binarizer="straight-through")
    sum((image - out).abs().mean() for out in outputs).backward()
    assert wide.decoder.output.weight.grad[:, ONE_SHOT.synthesis[-1] // 4 :].abs().sum() > 0


def test_widening_keeps_the_synthesis_layers():
    with pytest.raises(ValueError, match="number of decoder GRUs or synthesis layers"):
        widened_architecture(ONE_SHOT, {"synthesis": [8]})
    with pytest.raises(ValueError, match="synthesis: .* narrows"):
        widened_architecture(ONE_SHOT, {"synthesis": [8, 0]})


def test_new_channels_get_gradients():
    wide = widen(trained_looking_codec(), widened_architecture(NARROW, WIDER))
    image = torch.rand(1, 3, 32, 32) - 0.5
    outputs = wide(image, 2, binarizer="straight-through")
    sum((image - out).abs().mean() for out in outputs).backward()
    new_columns = wide.decoder.output.weight.grad[:, NARROW.decoder_hidden[-1] // 4 :]
    assert new_columns.abs().sum() > 0  # the picture starts hearing the new top channels
    new_bits = wide.decoder.conv.weight.grad[:, NARROW.code_channels :]
    assert new_bits.abs().sum() > 0  # ... and the decoder the new bits


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"decoder_hidden": [8, 8, 8, 4]}, "narrows"),
        ({"encoder_conv": 2}, "narrows"),
        ({"code_channels": 2}, "narrows"),
        ({"hidden_kernel": 3}, "cannot change"),
        ({"encoder_input_kernels": [1, 3, 3]}, "cannot change"),
        ({"decoder_hidden": [8, 8, 8, 10]}, "multiples of 4"),
    ],
)
def test_widening_refuses_what_would_not_keep_the_function(changes, message):
    with pytest.raises(ValueError, match=message):
        widened_architecture(NARROW, changes)


def test_growing_depthwise_hidden_convolutions_keeps_the_function_and_widening_keeps_them():
    codec = trained_looking_codec()
    spatial = widen(codec, widened_architecture(NARROW, {"decoder_hidden_spatial": [1, 3, 3, 3]}))
    image = torch.rand(1, 3, 48, 64) - 0.5
    with torch.no_grad():
        for a, b in zip(codec(image, 3, "sign"), spatial(image, 3, "sign")):
            assert torch.allclose(a, b, atol=1e-6)
        for p in spatial.decoder.rnns[3].hidden_spatial.parameters():
            assert torch.count_nonzero(p) == p.shape[0]  # the identity: one centre tap per channel
        for p in spatial.parameters():
            p.add_(0.05 * torch.randn_like(p))  # trained-looking depthwise weights too
    wide = widen(spatial, widened_architecture(spatial.arch, WIDER))
    with torch.no_grad():
        for a, b, c in zip(codec(image, 3, "sign"), spatial(image, 3, "sign"), wide(image, 3, "sign")):
            assert not torch.equal(a, b)  # the moved depthwise weights now matter ...
            assert torch.allclose(b, c, atol=1e-6)  # ... and widening keeps them
    grown = widened_architecture(NARROW, {"decoder_hidden_spatial": [1, 3, 3, 3]})
    with pytest.raises(ValueError, match="only grow from 1"):
        widened_architecture(grown, {"decoder_hidden_spatial": [1, 3, 3, 5]})
