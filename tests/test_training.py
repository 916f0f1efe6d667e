"""A smoke run of the training pipeline: train, resume, export, then decode with the exported model."""

from __future__ import annotations

import io
import json
import math

import numpy as np
import pytest
from PIL import Image

import pillow_rgc

from .conftest import photo_folder, synthetic_photo

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")

from pillow_rgc.models import find_model  # noqa: E402
from pillow_rgc.training import evaluate, export, train  # noqa: E402
from pillow_rgc.training.model import Architecture, ResidualCodec, binarize  # noqa: E402

TINY = {
    "code_channels": 4,
    "encoder_conv": 4,
    "encoder_hidden": [8, 8, 8],
    "decoder_conv": 8,
    "decoder_hidden": [8, 8, 8, 8],
}


VARIANTS = [
    {},
    {"decoder_input_kernels": [3, 3, 1, 1]},
    {"decoder_hidden_spatial": [3, 3, 3, 3]},
    {"decoder_hidden": [8, 8], "decoder_input_kernels": [3, 3], "decoder_hidden_spatial": [1, 1]},
    {"decoder_hidden": [8], "decoder_input_kernels": [3], "decoder_hidden_spatial": [1]},
    {
        "decoder_hidden": [8, 8],
        "decoder_input_kernels": [3, 3],
        "decoder_hidden_spatial": [1, 1],
        "synthesis": [8, 8],
    },
    {
        "decoder_hidden": [8, 8],
        "decoder_input_kernels": [3, 3],
        "decoder_hidden_spatial": [1, 1],
        "synthesis": [8],
    },
    {
        "decoder_hidden": [8, 8],
        "decoder_input_kernels": [1, 1],
        "decoder_hidden_spatial": [1, 1],
        "decoder_input_spatial": [3, 3],
        "synthesis": [8, 8],
    },
    {"encoder_input_kernels": [1, 1, 3], "encoder_input_spatial": [3, 3, 1]},
]
"""Architectures whose graphs differ in layout: 1x1 top input kernels, depthwise hidden convolutions,
fast decoders whose output fills 4x4 or 8x8 cells, one-shot decoders (synthesis to full resolution or to
2x2 cells), depthwise-separable input convolutions in the decoder and in the encoder (strided)."""


def varied_codec(variant: dict) -> ResidualCodec:
    """A codec of ``TINY`` with ``variant``, every weight moved off its initialisation (the depthwise
    convolutions start as the identity, which would hide a wrong split)."""
    torch.manual_seed(3)
    codec = ResidualCodec(Architecture.from_json({**TINY, **variant}))
    with torch.no_grad():
        for p in codec.parameters():
            p.add_(0.1 * torch.randn_like(p))
    return codec


def run_training(photos, run, steps, *extra):
    args = [
        "--images",
        str(photos),
        "--run",
        str(run),
        "--steps",
        str(steps),
        "--batch",
        "2",
        "--patch",
        "32",
        "--iterations",
        "2",
        "--threads",
        "1",
        "--arch",
        json.dumps(TINY),
        "--checkpoint-every",
        "2",
        *extra,
    ]
    return train.train(train.parse_args(args))


def test_train_resume_export_and_decode(tmp_path, photos):
    run = tmp_path / "run"
    run_training(photos, run, 2)
    weights = run_training(photos, run, 4)  # resumes at step 2
    assert torch.load(weights, weights_only=True)["step"] == 4
    log = [json.loads(line) for line in (run / "train.log").read_text().splitlines()]
    assert [e["step"] for e in log if e.get("event") == "start"] == [0, 2]

    models = tmp_path / "models"
    export.main([str(weights), str(models / "smoke-test"), "--id", "smoke-test"])
    pillow_rgc.add_model_path(models)
    photo = synthetic_photo(50, 35)
    data = pillow_rgc.encode(photo, iterations=2, model="smoke-test")
    with Image.open(io.BytesIO(data)) as im:
        im.load()
        assert im.size == photo.size and im.info["model"] == "smoke-test"
    rows = evaluate.folder_curve(photos, "smoke-test")
    assert [r["setting"] for r in rows] == [1, 2] and rows[0]["bpp"] < rows[1]["bpp"]


FAST = {"decoder_hidden": [8, 8], "decoder_input_kernels": [3, 3], "decoder_hidden_spatial": [1, 1]}
"""A fast decoder of two GRUs (1/16 and 1/8) whose output convolution fills 4x4 cells."""
ONE_SHOT = {**FAST, "synthesis": [8, 8]}
"""Its one-shot twin: two synthesis convolutions make the whole picture from the second GRU's state."""


@pytest.mark.parametrize("variant", [{}, FAST, ONE_SHOT])
def test_exported_graphs_match_the_torch_model(tmp_path, variant):
    torch.manual_seed(0)
    codec = ResidualCodec(Architecture.from_json({**TINY, **variant}))
    export.export_model(codec, tmp_path / "m", "m", 2, "")
    pillow_rgc.add_model_path(tmp_path)
    image = torch.rand(1, 3, 48, 64) - 0.5
    expected = codec(image, 2, binarizer="sign")[-1].detach().numpy()
    pixels = np.rint((image[0].permute(1, 2, 0).numpy() + 0.5) * 255).astype(np.uint8)
    from pillow_rgc import codec as runtime
    from pillow_rgc.models import load_model

    model = load_model("m")
    bitplanes = runtime.encode_pixels(model, pixels, 2)
    decoded = runtime.decode_pixels(model, bitplanes, 48, 64).astype(np.float32) / 255 - 0.5
    # The input was rounded to 8 bits, so allow a few levels of difference.
    assert np.abs(decoded - np.clip(expected[0].transpose(1, 2, 0), -0.5, 0.5)).mean() < 0.02


def test_straight_through_binarizer_gives_the_encode_bits_and_the_identity_gradient():
    code = torch.tensor([-0.9, -0.2, 0.0, 0.1, 0.7], requires_grad=True)
    bits = binarize(code, "straight-through")
    assert bits.tolist() == binarize(code.detach(), "sign").tolist() == [-1.0, -1.0, 1.0, 1.0, 1.0]
    (bits * torch.arange(5.0)).sum().backward()
    assert code.grad.tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]


def test_stochastic_binarizer_flips_weak_codes_and_sign_never_does():
    torch.manual_seed(0)
    weak = torch.full((10000,), 0.5)
    flips = (binarize(weak, "stochastic") < 0).float().mean().item()
    assert flips == pytest.approx(0.25, abs=0.02)  # +1 with probability (1 + 0.5) / 2
    assert (binarize(weak, "sign") == 1).all()
    with pytest.raises(ValueError, match="unknown binarizer"):
        binarize(weak, "round")


def test_training_with_the_straight_through_binarizer(tmp_path, photos):
    weights = run_training(photos, tmp_path / "run", 1, "--binarizer", "straight-through")
    assert torch.load(weights, weights_only=True)["step"] == 1


def test_loss_in_decibels_weighs_each_iteration_by_its_own_error(tmp_path, photos):
    from pillow_rgc.training.losses import codec_loss

    image = torch.zeros(1, 3, 8, 8)
    big, small = torch.full_like(image, 0.4), torch.full_like(image, 0.01)
    outputs = [big.clone().requires_grad_(), small.clone().requires_grad_()]
    plain = codec_loss(image, outputs, 0.0)
    assert plain.item() == pytest.approx((0.4 + 0.01) / 2)
    assert codec_loss(image, outputs, 0.0, in_decibels=True).item() == pytest.approx(
        (math.log(0.4) + math.log(0.01)) / 2
    )
    codec_loss(image, outputs, 0.0, in_decibels=True).backward()
    # d log(L1) = d L1 / L1: the iteration with 40 times less error gets 40 times the gradient.
    assert outputs[1].grad.abs().sum() / outputs[0].grad.abs().sum() == pytest.approx(40, rel=1e-4)
    weights = run_training(photos, tmp_path / "run", 1, "--loss-in-decibels", "--ms-ssim-weight", "1")
    assert torch.load(weights, weights_only=True)["step"] == 1


def test_rmse_pixel_loss_in_decibels_is_psnr_up_to_sign_and_scale(tmp_path, photos):
    from pillow_rgc.training.losses import codec_loss

    image = torch.zeros(1, 3, 4, 4)
    output = image.clone()
    output[..., 0, :] = 0.2  # a quarter of the pixels off by 0.2: L1 0.05, RMSE 0.1
    assert codec_loss(image, [output], 0.0).item() == pytest.approx(0.05)
    rmse_db = codec_loss(image, [output], 0.0, in_decibels=True, pixel_loss="rmse")
    assert rmse_db.item() == pytest.approx(math.log(0.1))
    psnr = 10 * math.log10(1 / 0.1**2)
    assert rmse_db.item() == pytest.approx(-psnr * math.log(10) / 20)
    with pytest.raises(KeyError):
        codec_loss(image, [output], 0.0, pixel_loss="l2")
    weights = run_training(photos, tmp_path / "run", 1, "--pixel-loss", "rmse", "--loss-in-decibels")
    assert torch.load(weights, weights_only=True)["step"] == 1


def test_iteration_weights_make_the_loss_a_weighted_mean_over_iterations(tmp_path, photos):
    from pillow_rgc.training.losses import codec_loss

    image = torch.zeros(1, 3, 8, 8)
    outputs = [torch.full_like(image, 0.4), torch.full_like(image, 0.1)]
    assert codec_loss(image, outputs, 0.0, iteration_weights=[1, 3]).item() == pytest.approx(
        (0.4 + 3 * 0.1) / 4
    )
    assert codec_loss(image, outputs, 0.0, iteration_weights=[0, 1]).item() == pytest.approx(0.1)
    for wrong in ([1], [1, -1], [0, 0]):
        with pytest.raises(ValueError, match="iteration weights"):
            codec_loss(image, outputs, 0.0, iteration_weights=wrong)
    weights = run_training(photos, tmp_path / "run", 1, "--iteration-weights", "1,2")
    assert torch.load(weights, weights_only=True)["step"] == 1
    for wrong in ("1,2,3", "1,x", "0,0"):
        with pytest.raises(SystemExit):
            run_training(photos, tmp_path / "bad", 1, "--iteration-weights", wrong)


def test_training_prices_the_bits_and_resumes_the_price(tmp_path, photos):
    run = tmp_path / "run"
    val = photo_folder(tmp_path / "val", 256, 256, count=1)  # validation takes 256x256 centre crops
    priced = ("--rate-weight", "0.5", "--val", str(val), "--val-every", "2")
    run_training(photos, run, 2, *priced)
    blob = torch.load(run / "checkpoint.pt", weights_only=True)
    assert set(blob["bit_price"]) >= {"lower", "history", "near"}
    price_after_two = blob["bit_price"]["lower"].clone()
    run_training(photos, run, 4, *priced)  # resumes the price with the codec
    blob = torch.load(run / "checkpoint.pt", weights_only=True)
    assert not torch.equal(blob["bit_price"]["lower"], price_after_two)
    assert blob["bit_price_optimizer"]["state"]
    validations = [
        json.loads(line) for line in (run / "train.log").read_text().splitlines() if "val_psnr" in line
    ]
    assert [len(v["val_price_bpp"]) for v in validations] == [2, 2]
    assert all(
        0 < rate <= TINY["code_channels"] / 256 * 1.5 for v in validations for rate in v["val_price_bpp"]
    )


@torch.no_grad()
def test_cells_that_reach_the_stop_psnr_send_nothing_more():
    codec = varied_codec(
        {
            "decoder_hidden": [8, 8],
            "decoder_input_kernels": [3, 3],
            "decoder_hidden_spatial": [1, 1],
            "synthesis": [8, 8],
        }
    )
    codec.eval()
    torch.manual_seed(0)
    image = torch.rand(1, 3, 32, 48) - 0.5
    plain = codec(image, 3, "sign")
    never = []
    assert all(
        torch.equal(a, b) for a, b in zip(plain, codec(image, 3, "sign", stop_psnr=200.0, sending_out=never))
    )
    assert [s.shape for s in never] == [(1, 1, 2, 3)] * 3 and all(bool(s.all()) for s in never)
    # a cell stops once its reconstruction is within the PSNR: then the decoder reads 0 for its bits
    first = plain[0]
    cell_psnr = -10 * torch.log10(
        torch.nn.functional.avg_pool2d((image - first).pow(2).mean(dim=1, keepdim=True), 16)
    )
    threshold = float(cell_psnr.median())
    sending = []
    bits = []
    stopped = codec(image, 3, "sign", bits_out=bits, stop_psnr=threshold, sending_out=sending)
    assert torch.equal(stopped[0], first) and bool(sending[0].all())
    assert torch.equal(sending[1], (cell_psnr < threshold).float())
    assert 0 < int(sending[1].sum()) < 6
    assert bool((sending[2] <= sending[1]).all())  # a cell that stopped stays stopped
    # the second iteration is what the decoder makes of the bits with the stopped cells' set to 0
    _, states = codec.decoder(bits[0], codec.zero_states(1, 32, 48)[1])
    by_hand, _ = codec.decoder(bits[1] * sending[1], states)
    assert torch.allclose(stopped[1], by_hand, atol=1e-6)
    assert not torch.allclose(stopped[1], plain[1])


def test_training_for_adaptive_bits_validates_the_bits_of_the_cells_still_sending(tmp_path, photos):
    run = tmp_path / "run"
    val = photo_folder(tmp_path / "val", 256, 256, count=1)
    options = ("--rate-weight", "0", "--val", str(val), "--val-every", "2")
    run_training(photos, run, 2, *options)
    run_training(photos, tmp_path / "stopped", 2, *options, "--stop-psnr", "0")  # every cell stops at once
    rates = [
        [json.loads(line) for line in (r / "train.log").read_text().splitlines() if "val_psnr" in line][-1]
        for r in (run, tmp_path / "stopped")
    ]
    assert rates[0]["val_price_bpp"][1] > 0
    assert rates[1]["val_price_bpp"][0] > 0 and rates[1]["val_price_bpp"][1] == 0


def test_the_rate_weight_is_one_for_all_iterations_or_one_per_iteration(tmp_path):
    common = ["--images", str(tmp_path), "--run", str(tmp_path / "run"), "--iterations", "3"]
    assert train.parse_args([*common, "--rate-weight", "0.5"]).rate_weight == [0.5, 0.5, 0.5]
    assert train.parse_args([*common, "--rate-weight", "0,0,2"]).rate_weight == [0, 0, 2]
    assert train.parse_args(common).rate_weight is None
    for wrong in ("0,1", "0,0,-1", "x"):
        with pytest.raises(SystemExit):
            train.parse_args([*common, "--rate-weight", wrong])


def test_a_priced_run_starts_from_the_context_prior_of_the_model_it_starts_from(tmp_path):
    from pillow_rgc.prior_coding import PRIOR_FILE, ContextPrior
    from pillow_rgc.training.rate import BitPrice

    folder = find_model("rgc-tiny-test-prior").folder
    channels = json.loads((folder / "model.json").read_text())["architecture"]["code_channels"]
    common = ["--images", str(tmp_path), "--run", str(tmp_path / "run"), "--rate-weight", "1"]
    price = train.starting_price(train.parse_args([*common, "--init", str(folder)]), channels)
    fitted = BitPrice.from_prior(ContextPrior.load(folder / PRIOR_FILE, channels))
    assert fitted.ring.abs().sum() > 0
    assert all(torch.equal(a, b) for a, b in zip(price.parameters(), fitted.parameters()))
    fresh = train.starting_price(train.parse_args(common), channels)
    assert not any(p.any() for p in fresh.parameters())  # one bit for every bit


def test_downscaled_patches_come_from_halved_photos_where_a_patch_still_fits(tmp_path):
    from pillow_rgc.training.data import PatchSampler

    synthetic_photo(96, 80).save(tmp_path / "big.png")
    synthetic_photo(48, 40, seed=1).save(tmp_path / "small.png")
    full, halved = (PatchSampler(tmp_path, 32, downscale=factor) for factor in (1, 2))
    assert sorted(p.shape for p in full.photos) == [(40, 48, 3), (80, 96, 3)]
    assert sorted(p.shape for p in halved.photos) == [(40, 48, 3), (40, 48, 3)]  # the small one stays whole
    assert halved.batch(4).shape == (4, 3, 32, 32)


def test_training_on_downscaled_photos(tmp_path, photos):
    weights = run_training(photos, tmp_path / "run", 1, "--downscale", "2", "--patch", "16")
    assert torch.load(weights, weights_only=True)["step"] == 1


def test_learning_rate_warms_up_then_decays():
    rates = [train.learning_rate(s, 1000, 1e-3) for s in (0, 199, 600, 1000)]
    assert (
        rates[0] < rates[1] == pytest.approx(1e-3) and rates[2] < rates[1] and rates[3] == pytest.approx(1e-4)
    )


def test_macs_per_pixel_counts_the_decoder_convolutions():
    arch = Architecture()
    assert arch.macs_per_pixel()["decoder"] == pytest.approx(13096)
    # 1x1 input convolutions in the two top GRUs: 9x fewer of their input MACs
    top = Architecture(decoder_input_kernels=(3, 3, 1, 1))
    saved = 8 / 9 * (32 * 3 * 64 * 9 / 16 + 16 * 3 * 32 * 9 / 4)
    assert top.macs_per_pixel()["decoder"] == pytest.approx(13096 - saved)
    # a depthwise 3x3 after each hidden 1x1: 9 per gate channel at the GRU's resolution
    spatial = Architecture(decoder_hidden_spatial=(3, 3, 3, 3))
    added = 9 * 3 * (128 / 256 + 128 / 64 + 64 / 16 + 32 / 4)
    assert spatial.macs_per_pixel()["decoder"] == pytest.approx(13096 + added)
    # two GRUs: the output convolution (27 per input channel and pixel) fills 4x4 cells from 1/4
    fast = Architecture(
        decoder_hidden=(128, 128), decoder_input_kernels=(3, 3), decoder_hidden_spatial=(1, 1)
    )
    two_top_grus = (9 * 32 * 3 * 64 + 64 * 3 * 64) / 16 + (9 * 16 * 3 * 32 + 32 * 3 * 32) / 4 + 27 * 8
    assert fast.macs_per_pixel()["decoder"] == pytest.approx(13096 - two_top_grus + 27 * 32)
    assert fast.output_shuffle == 4 and export.graph_macs_per_pixel(fast) == fast.macs_per_pixel()


def test_macs_per_pixel_counts_separable_encoder_inputs_at_the_grus_resolution():
    dense = Architecture().macs_per_pixel()["encoder"]
    split = Architecture(encoder_input_kernels=(1, 3, 3), encoder_input_spatial=(3, 1, 1))
    first_gru_input = 9 * 32 * 3 * 64 / 16  # 3x3 stride 2 from 1/2 to 1/4 of the picture
    separable = (9 * 32 + 32 * 3 * 64) / 16  # depthwise with the stride, then 1x1 at 1/4
    assert split.macs_per_pixel()["encoder"] == pytest.approx(dense - first_gru_input + separable)


def test_decoder_settings_must_name_the_same_grus():
    with pytest.raises(ValueError, match="same length"):
        Architecture(decoder_hidden=(128, 128))
    with pytest.raises(ValueError, match="same length"):
        Architecture(decoder_hidden=(), decoder_input_kernels=(), decoder_hidden_spatial=())


def test_training_ms_ssim_is_the_benchmarks_ms_ssim_and_has_gradients():
    from pillow_rgc.quality import ms_ssim as reference
    from pillow_rgc.training.losses import ms_ssim, scales_that_fit

    a = np.asarray(synthetic_photo(192, 176, seed=1))
    b = np.asarray(synthetic_photo(192, 176, seed=2))
    x = torch.tensor(a / 255.0, dtype=torch.float32).permute(2, 0, 1)[None]
    y = torch.tensor(b / 255.0, dtype=torch.float32).permute(2, 0, 1)[None].requires_grad_()
    value = ms_ssim(x, y)
    assert value.item() == pytest.approx(reference(a, b), abs=1e-4)
    value.sum().backward()
    assert y.grad.abs().sum() > 0
    assert [scales_that_fit(size) for size in (16, 32, 64, 128, 176)] == [1, 2, 3, 4, 5]


@pytest.mark.parametrize("variant", VARIANTS)
def test_inference_graphs_compute_what_the_training_modules_compute(variant):
    codec = varied_codec(variant).eval()
    arch = codec.arch
    residual = torch.rand(1, 3, 48, 64) - 0.5
    enc_states = [torch.randn(1, *s) * 0.5 for s in arch.encoder_state_shapes(48, 64)]
    dec_states = [torch.randn(1, *s) * 0.5 for s in arch.decoder_state_shapes(48, 64)]
    bits = torch.sign(torch.randn(1, arch.code_channels, 3, 4))
    with torch.no_grad():
        code, enc_expected = codec.encoder(residual, enc_states)
        delta, dec_expected = codec.decoder(bits, dec_states)
        enc_found = export.EncoderStep(codec)(residual, *enc_states)
        dec_found = export.DecoderStep(codec)(bits, *dec_states)
        if arch.one_shot:  # the picture comes from the synthesis graph
            dec_found = (export.SynthesisStep(codec)(dec_found[-1]), *dec_found)
    confident = code.abs() > 1e-4  # the sign of a code within rounding of 0 may go either way
    assert torch.equal(enc_found[0][confident], torch.where(code >= 0, 1.0, -1.0)[confident])
    for expected, found in zip([delta, *dec_expected, *enc_expected], [*dec_found, *enc_found[1:]]):
        assert torch.allclose(expected, found, atol=1e-5)


def test_graph_macs_count_the_output_convolution_at_half_resolution():
    arch = Architecture()
    output_at_full_resolution = 9 * (arch.decoder_hidden[-1] // 4) * 3
    graph = export.graph_macs_per_pixel(arch)
    assert graph["decoder"] == arch.macs_per_pixel()["decoder"] + 3 * output_at_full_resolution
    assert graph["encoder"] == arch.macs_per_pixel()["encoder"]
