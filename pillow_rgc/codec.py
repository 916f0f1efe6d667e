"""The iteration loop: 8-bit pixels <-> bitplanes, with onnxruntime models.

Per iteration t the encoder turns the residual between the image and the
current reconstruction into one bitplane, and the decoder turns that bitplane
into an increment of the reconstruction (additive reconstruction, hidden
states carried from one iteration to the next). Images of any size are padded
to a multiple of the code stride by edge replication; the decoder crops back.

Bitplanes are boolean arrays of shape (channels, rows, columns), True for +1.
The last bitplane of a file may be partial: only its first channels, a
shorter array; the decoder network reads the missing bits as 0 (unknown), as it
does the bits of silent cells (``silence.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np

from . import refinement, tiling
from .models import LoadedModel
from .silence import signs_of


def padded_size(height: int, width: int, stride: int) -> tuple[int, int]:
    return -(-height // stride) * stride, -(-width // stride) * stride


def to_network(pixels: np.ndarray, stride: int) -> np.ndarray:
    """(H,W,3) uint8 -> (1,3,H',W') float32 in [-0.5, 0.5], edge-padded to the stride."""
    height, width = pixels.shape[:2]
    padded_h, padded_w = padded_size(height, width, stride)
    padded = np.pad(pixels, ((0, padded_h - height), (0, padded_w - width), (0, 0)), mode="edge")
    return np.ascontiguousarray(padded.transpose(2, 0, 1)[None], dtype=np.float32) / 255.0 - 0.5


def to_pixels(reconstruction: np.ndarray, height: int, width: int) -> np.ndarray:
    """(1,3,H',W') float reconstruction -> (height,width,3) uint8, rounded and clipped."""
    image = reconstruction[0, :, :height, :width].transpose(1, 2, 0)
    return np.clip(np.rint((image + 0.5) * 255.0), 0, 255).astype(np.uint8)


def _as_signs(bits: np.ndarray, channels: int) -> np.ndarray:
    """The decoder network's input: +1 and -1 for the bits, 0 for silent cells and for the channels a
    partial iteration lacks."""
    signs = np.zeros((1, channels, *bits.shape[1:]), np.float32)
    signs[0, : len(bits)] = signs_of(bits, np.float32)
    return signs


def encode_pixels(
    model: LoadedModel,
    pixels: np.ndarray,
    max_iterations: int,
    keep_going: Callable[[list[np.ndarray], Reconstruction], bool] = lambda bitplanes, reconstruction: True,
    silence: Callable[[np.ndarray, list[np.ndarray], Reconstruction], np.ndarray] | None = None,
    effort: int = 0,
) -> list[np.ndarray]:
    """Bitplanes of ``pixels`` (H,W,3 uint8), one per iteration.

    After each iteration ``keep_going(bitplanes_so_far, reconstruction)``
    decides whether to add another one (rate control); at most ``max_iterations``.
    Before an iteration is decoded, ``silence(bits, bitplanes_so_far, reconstruction)``
    may silence cells of its bits (``silence.silenced``), and then ``effort`` > 0 refines the bits
    of the cells still sending (``refinement.refined``: that many of each cell's least sure bits tried).
    """
    height, width = pixels.shape[:2]
    image = to_network(pixels, model.info.code_stride)
    states = model.zero_encoder_states(*image.shape[2:])
    reconstruction = Reconstruction(model, height, width, revisable=True)  # exactly a reader's view
    bitplanes = []
    while len(bitplanes) < max_iterations:
        residual = image - reconstruction.value
        if effort:
            signs, confidence, states = model.encode_step_with_confidence(residual, states)
        else:
            signs, states = model.encode_step(residual, states)
        bits = signs[0] > 0
        if silence is not None:
            bits = silence(bits, bitplanes, reconstruction)
        if effort:
            bits = refinement.refined(bits, confidence[0], reconstruction, image, effort)
        bitplanes.append(bits)
        reconstruction.add(bitplanes[-1])
        if not keep_going(bitplanes, reconstruction):
            break
    return bitplanes


class Reconstruction:
    """A decode that goes on as bitplanes arrive: one decoder step per added bitplane.

    A file fed piece by piece (``ImageFile.Parser``) shows a better picture each
    time another iteration is complete; keeping the decoder states here makes
    that cost one decode in all, not one per look.
    """

    def __init__(self, model: LoadedModel, height: int, width: int, revisable: bool = False):
        """``revisable``: keep what ``replace_last`` needs after every iteration (the encoder's rate
        control tries shorter last iterations); otherwise only after a partial one, a cut file's."""
        padded_h, padded_w = padded_size(height, width, model.info.code_stride)
        self.model = model
        self.revisable = revisable
        self._before = None
        self.height, self.width = height, width
        self.states = model.zero_decoder_states(padded_h, padded_w)
        self._value = np.zeros((1, 3, padded_h, padded_w), np.float32)
        self.count = 0

    @property
    def value(self) -> np.ndarray:
        """(1,3,H',W') reconstruction; a one-shot model's is synthesised on first look after each add."""
        if self._value is None:
            self._value = self.model.synthesize(self.states)
        return self._value

    def add(self, bits: np.ndarray) -> None:
        partial = len(bits) < self.model.info.code_channels
        self._before = (self._value, self.states) if self.revisable or partial else None
        self.last_channels = len(bits)
        delta, self.states = self.model.decode_step(
            _as_signs(bits, self.model.info.code_channels), self.states
        )
        self._value = None if delta is None else self._value + delta
        self.count += 1

    def trial(self, bits: np.ndarray) -> np.ndarray:
        """The (1,3,H',W') reconstruction ``add(bits)`` would give, leaving this one as it is."""
        delta, states = self.model.decode_step(_as_signs(bits, self.model.info.code_channels), self.states)
        return self.model.synthesize(states) if delta is None else self.value + delta

    def replace_last(self, bits: np.ndarray) -> None:
        """Decode the last iteration again from ``bits``: a shorter last iteration the encoder tries, or
        more of a cut one that has arrived. Needs a revisable reconstruction or a partial last iteration."""
        if self._before is None:
            raise ValueError("the last iteration cannot be replaced: it was whole and not kept revisable")
        self._value, self.states = self._before
        self.count -= 1
        self.add(bits)

    def pixels(self) -> np.ndarray:
        """(height,width,3) uint8 pixels of the bitplanes added so far."""
        return to_pixels(self.value, self.height, self.width)


def decode_iterations(
    model: LoadedModel, bitplanes: list[np.ndarray], height: int, width: int
) -> Iterator[np.ndarray]:
    """The (height,width,3) uint8 reconstruction after each bitplane, in turn."""
    reconstruction = Reconstruction(model, height, width)
    for bits in bitplanes:
        reconstruction.add(bits)
        yield reconstruction.pixels()


def decode_pixels(model: LoadedModel, bitplanes: list[np.ndarray], height: int, width: int) -> np.ndarray:
    """The (height,width,3) uint8 reconstruction after all ``bitplanes`` (at least one)."""
    if not bitplanes:
        raise ValueError("no iteration to decode")
    reconstruction = Reconstruction(model, height, width)
    for bits in bitplanes:
        reconstruction.add(bits)
    return reconstruction.pixels()


def decode_tiles(model: LoadedModel, header, tile_bitplanes: list[list[np.ndarray]]) -> np.ndarray:
    """(height,width,3) uint8 picture of a tiled ``header``'s independently coded tiles.

    One tile at a time, so memory is that of one tile's decoder states (and,
    with overlap, an integer accumulator of the picture); neighbours are
    cross-faded over their overlap as ``tiling`` says.
    """
    overlap = header.tile_overlap
    picture = np.zeros((header.height, header.width, 3), np.uint32 if overlap else np.uint8)
    columns, _ = header.tile_grid()
    for index, ((left, top, w, h), bitplanes) in enumerate(zip(header.tiles(), tile_bitplanes)):
        pixels = decode_pixels(model, bitplanes, h, w)
        region = picture[top : top + h, left : left + w]
        if not overlap:
            region[...] = pixels
            continue
        row, column = divmod(index, columns)
        across = tiling.axis_weights(header.width, header.tile_width, overlap, column)
        down = tiling.axis_weights(header.height, header.tile_height, overlap, row)
        region += (down[:, None, None] * across[None, :, None]).astype(np.uint32) * pixels
    if not overlap:
        return picture
    denominator = tiling.blend_denominator(overlap)
    picture += denominator // 2
    picture //= denominator
    return picture.astype(np.uint8)
