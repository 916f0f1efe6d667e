"""The bit price that lets training weigh rate (pillow_rgc.training.rate)."""

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from pillow_rgc.prior_coding import ContextPrior, cell_logits, feature_count  # noqa: E402
from pillow_rgc.training.model import binarize  # noqa: E402
from pillow_rgc.training.rate import LEARNING_RATE, BitPrice, rate_term  # noqa: E402

CHANNELS, CELLS = 4, 8
PIXELS = (16 * CELLS) ** 2  # a 16x16 block per code cell


def random_bits(seed: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, 2, (2, CHANNELS, CELLS, CELLS), generator=generator).float() * 2 - 1


def fitted(price: BitPrice, bitplanes: list[torch.Tensor], steps: int = 300) -> BitPrice:
    optimizer = torch.optim.Adam(price.parameters(), lr=20 * LEARNING_RATE)
    for _ in range(steps):
        optimizer.zero_grad()
        price(bitplanes, PIXELS).sum().backward()
        optimizer.step()
    return price


def test_a_new_price_charges_one_bit_a_bit():
    rates = BitPrice(CHANNELS, 2)([random_bits(0), random_bits(1)], PIXELS)
    assert rates.tolist() == pytest.approx([CHANNELS / 256] * 2)


def test_only_the_cells_still_sending_are_paid_for():
    price = BitPrice(CHANNELS, 2)
    bitplanes = [random_bits(0), random_bits(1)]
    left_half = torch.zeros(2, 1, CELLS, CELLS)
    left_half[..., : CELLS // 2] = 1
    rates = price(bitplanes, PIXELS, [torch.ones(2, 1, CELLS, CELLS), left_half])
    assert rates.tolist() == pytest.approx([CHANNELS / 256, CHANNELS / 512])


def test_the_price_learns_what_earlier_iterations_and_lower_channels_predict():
    first = random_bits(0)
    second = -first  # each bit of iteration 2 is its channel's bit in iteration 1, flipped
    price = fitted(BitPrice(CHANNELS, 2), [first, second])
    rates = price([first, second], PIXELS).tolist()
    assert rates[0] == pytest.approx(CHANNELS / 256, rel=0.1)  # random: nothing to learn
    assert rates[1] < 0.1 * CHANNELS / 256


def test_a_bit_is_priced_only_by_the_channels_below_it():
    bits = random_bits(3)
    bits[:, 1] = bits[:, 0]  # channel 1 copies channel 0 at each cell
    price = fitted(BitPrice(CHANNELS, 1), [bits])
    bits_per_channel = price.nats([bits])[0].mean(dim=(0, 2, 3)) / math.log(2)
    assert bits_per_channel[0] > 0.9  # channel 0 cannot see channel 1
    assert bits_per_channel[1] < 0.1  # channel 1 sees channel 0


def test_the_codec_pays_the_price_only_with_a_weight():
    codes = (torch.rand(2, CHANNELS, CELLS, CELLS) * 2 - 1).requires_grad_()
    price = BitPrice(CHANNELS, 2)
    with torch.no_grad():
        price.phase[1].fill_(2.0)  # iteration 2: bits of +1 are cheap
    for weights in ([0.0, 0.0], [1.0, 1.0]):
        codes.grad = None
        bits = binarize(codes, "straight-through")
        term, bpp = rate_term(price, [bits, bits], PIXELS, weights)
        term.backward()
        assert bpp > 0
        if any(weights):
            assert codes.grad.abs().sum() > 0
            assert (codes.grad <= 0).all()  # pushing the codes towards +1 lowers the price
        else:
            assert codes.grad is None or not codes.grad.any()


def test_each_iteration_pays_its_own_weight_of_the_price():
    first, second = ((torch.rand(2, CHANNELS, CELLS, CELLS) * 2 - 1).requires_grad_() for _ in range(2))
    price = BitPrice(CHANNELS, 2)
    with torch.no_grad():
        price.phase.fill_(2.0)  # both iterations: bits of +1 are cheap
    binarized = [binarize(codes, "straight-through") for codes in (first, second)]
    term, _ = rate_term(price, binarized, PIXELS, [0.0, 1.0])
    term.backward()
    assert first.grad is None or not first.grad.any()  # the first bitplane's price is not paid
    assert second.grad.abs().sum() > 0
    tail_only = term.item() - price([bits.detach() for bits in binarized], PIXELS).mean().item()
    assert tail_only == pytest.approx(price(binarized, PIXELS)[1].item() / 2, rel=1e-5)


def test_the_price_of_a_fitted_prior_is_the_prior_coders_logit():
    # Random int8 weights for every feature, and bits of 3 iterations on an odd-sized plane (every phase
    # of the 2x2 lattice, borders on all sides): BitPrice must compute the logit that coding 3 uses.
    rng = np.random.default_rng(0)
    channels, rows, columns = 5, 7, 6
    prior = ContextPrior(rng.integers(-127, 128, (2, channels, feature_count(channels)), dtype=np.int8))
    planes = [rng.random((channels, rows, columns)) < 0.5 for _ in range(3)]
    price = BitPrice.from_prior(prior)
    signs = [torch.from_numpy(plane.astype(np.float32) * 2 - 1)[None] for plane in planes]
    for t in range(3):
        eighths = price.logits(signs, t)[0].detach().numpy() * 8  # the prior's logits are in 1/8 nat
        coded = cell_logits(planes[t], planes[:t], prior)  # iteration 3 takes the prior's last weights
        assert np.abs(eighths - coded).max() <= 0.5 + 1e-4  # coding 3 rounds to the nearest 1/8 nat
