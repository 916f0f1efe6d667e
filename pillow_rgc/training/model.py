"""The residual-GRU codec network (Toderici et al. 2017), sized for CPUs.

One call of :class:`Encoder` or :class:`Decoder` is one iteration; the hidden
states are explicit inputs and outputs so the same modules export to ONNX as
single-iteration graphs that a Python loop drives at run time.

The layer list follows the paper's table, but every width is a parameter
(:class:`Architecture`) and the hidden-state convolutions are 1x1 by default:
multiply-accumulates per pixel set both the training steps a CPU-hour buys
and the decode time, and the paper's 3x3 hidden convolutions at high
resolution cost most of its decoder.
"""

from __future__ import annotations

import dataclasses
import json

import torch
from torch import nn
from torch.nn import functional as F


@dataclasses.dataclass(frozen=True)
class Architecture:
    """Widths of one model. Hidden channels of each GRU; ``code_channels`` bits per 16x16 block.

    ``decoder_input_kernels``: kernel of each decoder GRU's input convolution. A 1x1
    kernel at the top resolutions is the MobileNets lever for a fast decoder: there,
    the 3x3 input convolutions cost most of a decode, while the output convolution
    still mixes neighbouring pixels.

    ``decoder_input_spatial``: kernel of a depthwise convolution before each decoder
    GRU's input convolution (1: none; an empty tuple: none anywhere). With a 1x1
    input kernel it makes the input convolution depthwise-separable (MobileNets):
    the 3x3 neighbourhood for 9 multiply-accumulates per input channel instead
    of 9 per input and gate channel, where the 3x3 input convolutions cost most
    of a fast decode.

    ``encoder_input_kernels`` and ``encoder_input_spatial``: the same for the three
    encoder GRUs, whose 3x3 input convolutions are most of an encode; before a 1x1
    input convolution the depthwise one takes the GRU's stride of 2.

    ``decoder_hidden_spatial``: kernel of a depthwise convolution after each decoder
    GRU's 1x1 hidden-state convolution (1: none). With 1x1 hidden kernels a GRU's
    memory is per cell; the paper's 3x3 hidden kernels let it see its neighbours,
    which helped the top GRUs here, but cost twice the decoder. A depthwise 3x3
    gives the neighbours for 9 multiply-accumulates per gate channel (MobileNets).

    ``decoder_hidden`` may list fewer than four GRUs (the fast models): GRU *i*
    still runs at 1/2^(4-i) of the picture, and the output convolution then
    makes all the pixels of each 2^(4-n) x 2^(4-n) cell at once (depth to space),
    so nothing runs at full or half resolution but that shuffle.

    ``synthesis`` (one-shot reconstruction, the paper's "one shot" variant): widths
    of feed-forward 3x3 convolutions (each followed by ReLU and depth to space)
    that turn the last decoder GRU's state into the whole picture, instead of
    adding an increment per iteration. Only the GRUs recur, so a decode runs
    them once per iteration and the synthesis once, at the end; and the picture
    is no longer a linear function of the summed states, which capped the fast
    additive decoders.
    """

    code_channels: int = 32
    encoder_conv: int = 32
    encoder_hidden: tuple[int, int, int] = (64, 128, 128)
    decoder_conv: int = 128
    decoder_hidden: tuple[int, ...] = (128, 128, 64, 32)
    hidden_kernel: int = 1
    decoder_input_kernels: tuple[int, ...] = (3, 3, 3, 3)
    decoder_hidden_spatial: tuple[int, ...] = (1, 1, 1, 1)
    synthesis: tuple[int, ...] = ()
    decoder_input_spatial: tuple[int, ...] = ()
    encoder_input_kernels: tuple[int, int, int] = (3, 3, 3)
    encoder_input_spatial: tuple[int, ...] = ()

    STRIDE = 16  # the encoder downsamples four times by 2

    def __post_init__(self):
        n = len(self.decoder_hidden)
        if not 1 <= n <= 4 or len(self.decoder_input_kernels) != n or len(self.decoder_hidden_spatial) != n:
            raise ValueError(
                "decoder_hidden, decoder_input_kernels and decoder_hidden_spatial "
                "need the same length, 1 to 4"
            )
        if self.decoder_input_spatial and len(self.decoder_input_spatial) != n:
            raise ValueError("decoder_input_spatial needs one kernel per decoder GRU (or none at all)")
        if len(self.encoder_input_kernels) != 3 or len(self.encoder_input_spatial) not in (0, 3):
            raise ValueError("encoder_input_kernels (and encoder_input_spatial, if any) need 3 kernels")
        if n + len(self.synthesis) > 4 or any(w % 4 for w in self.synthesis):
            raise ValueError("synthesis: at most 4 - len(decoder_hidden) widths, each a multiple of 4")

    @property
    def input_spatial(self) -> tuple[int, ...]:
        """``decoder_input_spatial`` with its default spelled out: 1 (none) for every GRU."""
        return self.decoder_input_spatial or (1,) * len(self.decoder_hidden)

    @property
    def encoder_spatial(self) -> tuple[int, ...]:
        """``encoder_input_spatial`` with its default spelled out: 1 (none) for every GRU."""
        return self.encoder_input_spatial or (1, 1, 1)

    @property
    def one_shot(self) -> bool:
        """Whether the decoder makes the whole picture from its state (``synthesis``), not an increment."""
        return bool(self.synthesis)

    @property
    def output_shuffle(self) -> int:
        """Side of the pixel cell the output convolution fills at once (1: it runs at full resolution)."""
        return 2 ** (4 - len(self.decoder_hidden) - len(self.synthesis))

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> Architecture:
        fields = {f.name for f in dataclasses.fields(cls)}
        kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items() if k in fields}
        return cls(**kwargs)

    def encoder_state_shapes(self, height: int, width: int) -> list[tuple[int, int, int]]:
        """(channels, height, width) of each encoder hidden state for a padded image."""
        return [(c, height // 2 ** (i + 2), width // 2 ** (i + 2)) for i, c in enumerate(self.encoder_hidden)]

    def decoder_state_shapes(self, height: int, width: int) -> list[tuple[int, int, int]]:
        """(channels, height, width) of each decoder hidden state for a padded image."""
        return [(c, height // 2 ** (4 - i), width // 2 ** (4 - i)) for i, c in enumerate(self.decoder_hidden)]

    def macs_per_pixel(self) -> dict[str, float]:
        """Multiply-accumulates per image pixel of one encoder and one decoder iteration; a one-shot
        model's ``synthesis`` (and output convolution) runs once per picture and is counted apart."""
        k2 = self.hidden_kernel**2
        enc = 9 * 3 * self.encoder_conv / 4
        c_in = self.encoder_conv
        kernels = zip(self.encoder_input_kernels, self.encoder_spatial)
        for i, (c, (k, t)) in enumerate(zip(self.encoder_hidden, kernels)):
            spatial = (t * t * c_in if t > 1 else 0) * (1 if k == 1 else 4)  # strided before a 1x1
            enc += (k * k * c_in * 3 * c + k2 * c * 3 * c + spatial) / 4 ** (i + 2)
            c_in = c
        enc += c_in * self.code_channels / 256
        dec = self.code_channels * self.decoder_conv / 256
        c_in = self.decoder_conv
        kernels = zip(self.decoder_input_kernels, self.decoder_hidden_spatial, self.input_spatial)
        for i, (c, (k, s, t)) in enumerate(zip(self.decoder_hidden, kernels)):
            spatial = (s * s * 3 * c if s > 1 else 0) + (t * t * c_in if t > 1 else 0)
            dec += (k * k * c_in * 3 * c + k2 * c * 3 * c + spatial) / 4 ** (4 - i)
            c_in = c // 4
        synthesis = 0.0
        for i, width in enumerate(self.synthesis):
            synthesis += 9 * c_in * width / 4 ** (4 - len(self.decoder_hidden) - i)
            c_in = width // 4
        synthesis += 9 * c_in * 3
        if not self.one_shot:
            return {"encoder": enc, "decoder": dec + synthesis}
        return {"encoder": enc, "decoder": dec, "synthesis": synthesis}


class ConvGRUCell(nn.Module):
    """Convolutional GRU: gates from a strided conv of the input and a conv of the hidden state."""

    def __init__(
        self,
        in_channels: int,
        hidden_channels: int,
        stride: int,
        hidden_kernel: int,
        input_kernel: int = 3,
        hidden_spatial: int = 1,
        input_spatial: int = 1,
    ):
        super().__init__()
        self.input_spatial = None
        if input_spatial > 1:
            # Before a 1x1 convolution (separable) it takes the stride, so the 1x1 runs on fewer pixels.
            depthwise_stride = stride if input_kernel == 1 else 1
            self.input_spatial = depthwise(in_channels, input_spatial, depthwise_stride)
            stride //= depthwise_stride
        self.input_conv = nn.Conv2d(
            in_channels, 3 * hidden_channels, input_kernel, stride=stride, padding=input_kernel // 2
        )
        self.hidden_conv = nn.Conv2d(
            hidden_channels, 3 * hidden_channels, hidden_kernel, padding=hidden_kernel // 2, bias=False
        )
        self.hidden_spatial = None
        if hidden_spatial > 1:
            self.hidden_spatial = depthwise(3 * hidden_channels, hidden_spatial)

    def hidden(self, h: torch.Tensor) -> torch.Tensor:
        out = self.hidden_conv(h)
        return out if self.hidden_spatial is None else self.hidden_spatial(out)

    def forward(self, x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        if self.input_spatial is not None:
            x = self.input_spatial(x)
        xz, xr, xn = self.input_conv(x).chunk(3, dim=1)
        hz, hr, hn = self.hidden(h).chunk(3, dim=1)
        z = torch.sigmoid(xz + hz)
        r = torch.sigmoid(xr + hr)
        n = torch.tanh(xn + r * hn)
        return (1 - z) * n + z * h


def depthwise(channels: int, kernel: int, stride: int = 1) -> nn.Conv2d:
    """A depthwise convolution that starts as the identity (centre tap 1), so growing one changes nothing."""
    conv = nn.Conv2d(channels, channels, kernel, stride, kernel // 2, groups=channels, bias=False)
    with torch.no_grad():
        conv.weight.zero_()
        conv.weight[:, :, kernel // 2, kernel // 2] = 1.0
    return conv


class Encoder(nn.Module):
    """Residual (N,3,H,W) in [-1, 1] and hidden states -> code in (-1, 1) before the sign."""

    def __init__(self, arch: Architecture):
        super().__init__()
        self.conv = nn.Conv2d(3, arch.encoder_conv, 3, stride=2, padding=1)
        channels = (arch.encoder_conv, *arch.encoder_hidden)
        kernels = zip(arch.encoder_input_kernels, arch.encoder_spatial)
        self.rnns = nn.ModuleList(
            ConvGRUCell(channels[i], channels[i + 1], 2, arch.hidden_kernel, kernel, 1, before)
            for i, (kernel, before) in enumerate(kernels)
        )
        self.binarizer = nn.Conv2d(channels[-1], arch.code_channels, 1, bias=False)

    def forward(self, residual: torch.Tensor, states: list[torch.Tensor]):
        x = self.conv(residual)
        new_states = []
        for rnn, h in zip(self.rnns, states):
            x = rnn(x, h)
            new_states.append(x)
        return torch.tanh(self.binarizer(x)), new_states


class Decoder(nn.Module):
    """Bits (N,C,H/16,W/16) in {-1, +1} and hidden states -> increment of the reconstruction
    (one-shot: the reconstruction)."""

    def __init__(self, arch: Architecture):
        super().__init__()
        self.conv = nn.Conv2d(arch.code_channels, arch.decoder_conv, 1)
        c_in = arch.decoder_conv
        cells = []
        for c, kernel, spatial, before in zip(
            arch.decoder_hidden, arch.decoder_input_kernels, arch.decoder_hidden_spatial, arch.input_spatial
        ):
            cells.append(ConvGRUCell(c_in, c, 1, arch.hidden_kernel, kernel, spatial, before))
            c_in = c // 4  # depth-to-space halves resolution channels by 4
        self.rnns = nn.ModuleList(cells)
        self.synthesis = nn.ModuleList()
        for width in arch.synthesis:
            self.synthesis.append(nn.Conv2d(c_in, width, 3, padding=1))
            c_in = width // 4
        self.shuffle = arch.output_shuffle
        self.output = nn.Conv2d(c_in, 3 * self.shuffle**2, 3, padding=1)

    def forward(self, bits: torch.Tensor, states: list[torch.Tensor]):
        """(increment, or the whole picture for a one-shot model; new states)."""
        x, new_states = self.grus_from(0, self.conv(bits), states)
        return self.picture(x), new_states

    def grus_from(self, first: int, x: torch.Tensor, states: list[torch.Tensor], inputs: list | None = None):
        """Run GRU ``first`` on ``x``, and the GRUs above it: (the last GRU's new state, every GRU's state).

        The GRUs below ``first`` keep their states. ``inputs``, when given, collects the
        input each GRU ran on (``benchmarks/bottlenecks.py`` sets them free).
        """
        new_states = list(states)
        for index in range(first, len(self.rnns)):
            if index > first:
                x = F.pixel_shuffle(x, 2)
            if inputs is not None:
                inputs.append(x)
            x = self.rnns[index](x, states[index])
            new_states[index] = x
        return x, new_states

    def picture(self, state: torch.Tensor) -> torch.Tensor:
        """What the last GRU's new state adds to the picture (additive) or makes of it (one-shot)."""
        x = F.pixel_shuffle(state, 2)
        for conv in self.synthesis:
            x = F.pixel_shuffle(F.relu(conv(x)), 2)
        return F.pixel_shuffle(self.output(x), self.shuffle)


TRAINING_BINARIZERS = ("stochastic", "straight-through")
BINARIZERS = (*TRAINING_BINARIZERS, "sign")


def binarize(code: torch.Tensor, mode: str) -> torch.Tensor:
    """Bits in {-1, +1} from codes in (-1, 1); ``sign(0)`` maps to +1, as in the spec.

    - ``"stochastic"`` (the paper's training binarizer): +1 with probability
      (1 + code) / 2, straight-through gradient. Codes far from +-1 flip often,
      so the decoder learns to trust weak codes little.
    - ``"straight-through"``: the sign, as at encode time, with the identity
      gradient; training then sees exactly the bits a file will carry.
    - ``"sign"``: the exact bits of encoding, no gradient (export and evaluation).
    """
    if mode == "stochastic":
        bits = torch.where(torch.rand_like(code) < (1 + code) / 2, 1.0, -1.0)
    elif mode in ("straight-through", "sign"):
        bits = torch.where(code >= 0, 1.0, -1.0)
    else:
        raise ValueError(f"unknown binarizer {mode!r}; expected one of {BINARIZERS}")
    return bits if mode == "sign" else code + (bits - code).detach()


class ResidualCodec(nn.Module):
    """Encoder, binarizer and decoder unrolled over iterations (additive or one-shot reconstruction)."""

    def __init__(self, arch: Architecture):
        super().__init__()
        self.arch = arch
        self.encoder = Encoder(arch)
        self.decoder = Decoder(arch)

    def zero_states(self, batch: int, height: int, width: int, device=None):
        enc = [torch.zeros(batch, *s, device=device) for s in self.arch.encoder_state_shapes(height, width)]
        dec = [torch.zeros(batch, *s, device=device) for s in self.arch.decoder_state_shapes(height, width)]
        return enc, dec

    def forward(
        self,
        image: torch.Tensor,
        iterations: int,
        binarizer: str = "stochastic",
        bits_out: list | None = None,
        stop_psnr: float | None = None,
        sending_out: list | None = None,
    ) -> list[torch.Tensor]:
        """Reconstructions after each iteration; ``image`` is (N,3,H,W) in [-0.5, 0.5].

        ``bits_out``, when given, collects each iteration's bits (``rate.BitPrice`` prices them).

        ``stop_psnr`` (dB) trains for spatially adaptive bits (``benchmarks/adaptive_bits.py``'s
        ``psnr`` rule): a code cell whose reconstruction reaches it stops sending, and from the
        next iteration on the decoder reads 0 for its bits, as it would for bits a file does not
        hold. ``sending_out`` collects, per iteration, which cells sent (N, 1, h, w).

        When the encoder's first convolution is frozen (freeze training), the
        residual it reads is detached: earlier decoder outputs then get no
        gradient through later iterations' codes, and backward stops at the
        first trainable layer instead of running through the frozen ones.
        """
        n, _, h, w = image.shape
        enc_states, dec_states = self.zero_states(n, h, w, image.device)
        reconstruction = torch.zeros_like(image)
        outputs = []
        detach = not self.encoder.conv.weight.requires_grad
        sending = None
        for _ in range(iterations):
            seen = reconstruction.detach() if detach else reconstruction
            code, enc_states = self.encoder(image - seen, enc_states)
            bits = binarize(code, binarizer)
            if bits_out is not None:
                bits_out.append(bits)
            if stop_psnr is not None:
                sending = self.cells_sending(image, reconstruction, stop_psnr, sending)
                if sending_out is not None:
                    sending_out.append(sending)
                bits = bits * sending
            picture, dec_states = self.decoder(bits, dec_states)
            reconstruction = self.reconstruction_after(reconstruction, picture)
            outputs.append(reconstruction)
        return outputs

    @torch.no_grad()
    def cells_sending(
        self,
        image: torch.Tensor,
        reconstruction: torch.Tensor,
        stop_psnr: float,
        sending: torch.Tensor | None,
    ) -> torch.Tensor:
        """(N, 1, h, w): 1 for the code cells that still send (all of them before the first iteration),
        0 for those whose reconstruction has reached ``stop_psnr`` dB; a cell that stopped stays stopped."""
        if sending is None:
            n, _, h, w = image.shape
            return image.new_ones(n, 1, h // self.arch.STRIDE, w // self.arch.STRIDE)
        mse = F.avg_pool2d(
            (image - reconstruction.float()).pow(2).mean(dim=1, keepdim=True), self.arch.STRIDE
        )
        return sending * (mse > 10 ** (-stop_psnr / 10)).to(sending.dtype)

    def reconstruction_after(self, reconstruction: torch.Tensor, picture: torch.Tensor) -> torch.Tensor:
        """What an iteration leaves: the decoder's picture (one-shot) or the sum so far plus its increment."""
        return picture if self.arch.one_shot else reconstruction + picture


def architecture_json(arch: Architecture) -> str:
    return json.dumps(arch.to_json(), indent=2)
