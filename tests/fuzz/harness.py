"""What one fuzz input goes through, and what counts as a finding; shared by the fuzzer and the test suite.

``exercise(data)`` feeds the bytes to every reader a user reaches:

* ``PIL.Image.open(BytesIO(data))`` then ``im.load()`` (the plugin), and when
  that refuses bytes that start with the RGC signature, the same again with
  ``ImageFile.LOAD_TRUNCATED_IMAGES`` (the "keep the good prefix" path);
* for a file that loads: ``im.verify()``, a draft (thumbnail) decode and
  ``ImageFile.Parser`` fed in three pieces;
* ``pillow_rgc.api.info`` and ``pillow_rgc.api.decode``.

A reader may refuse the bytes only with an exception of ``ALLOWED``; anything
else escapes as it is (a finding). Warnings other than Pillow's
``DecompressionBombWarning`` are raised as errors, so they are findings too.

Guards, installed by :func:`guards` around every input (they patch
``codec.Reconstruction``, where a decode allocates its buffers and runs the
network, and ``entropy.decode_bitplane``, which every ``ITER`` payload goes
through before the network sees its bits):

* **time**: an input that takes more than ``TIME_LIMIT`` seconds (all the
  reader calls above together) is a :class:`Hang`, found when a call returns
  (the fuzzer also passes ``-timeout`` to libFuzzer, for a call that never does);
* **work**: a reader call that would run the network over more than
  ``WORK_LIMIT`` padded pixels x iterations (summed over tiles) is a
  :class:`Hang`, found before the network runs: when the bits of that much
  picture have been decoded, or when the network is about to go past it (with
  ``rgc-tiny-test`` that much work takes about 10 s on one core). So a tiny
  file that claims a huge picture is reported at once instead of after minutes;
* **memory**: a decoder set up for more than ``2 * Image.MAX_IMAGE_PIXELS``
  padded pixels (Pillow's decompression-bomb error limit) is a
  :class:`MemoryBomb`, raised before the buffers are allocated: a
  decompression-bomb check should have stopped the file first.
"""

from __future__ import annotations

import contextlib
import io
import time
import warnings
from collections.abc import Iterator

from PIL import Image, ImageFile, UnidentifiedImageError

import pillow_rgc  # noqa: F401  (registers the plugin)
from pillow_rgc import api, codec, container, entropy

ALLOWED = (UnidentifiedImageError, SyntaxError, OSError, ValueError, Image.DecompressionBombError)
"""What a reader may raise on bad bytes: Pillow's own refusals and ``pillow_rgc.RGCFormatError`` (both)."""

TIME_LIMIT = 10.0
"""Seconds one input may take (every reader call on it) before it is a hang."""

WORK_LIMIT = 12_000_000
"""Padded pixels x iterations one reader call may run the network over (about 10 s with rgc-tiny-test)."""

CODE_STRIDE = 16
"""Pixels per code cell side of rgc-tiny-test: a bitplane of R x C cells stands for R x C x 16 x 16 pixels."""


class Finding(Exception):
    """Something the harness itself judges wrong (beside exceptions outside ``ALLOWED``)."""


class Hang(Finding):
    """An input that took more than ``TIME_LIMIT`` seconds, or a decode that would take about as long."""


class MemoryBomb(Finding):
    """A decoder set up for far more pixels than Pillow's decompression-bomb limit lets through."""


class _Budget:
    """The input's start time and the work of the reader call under way (reset by ``_step``)."""

    start = 0.0
    network = 0  # padded pixels the network has run over, summed over iterations and tiles
    bits = 0  # padded pixels of the bitplanes decoded: the network work they are headed for


def _over_limit(work: int, what: str) -> None:
    if work > WORK_LIMIT:
        raise Hang(f"{what}: {work} padded px x iterations, above the work limit {WORK_LIMIT} (~10 s)")


@contextlib.contextmanager
def guards() -> Iterator[None]:
    """Installs the work and memory guards (see the module docstring) for the time of one input."""
    original_init, original_add = codec.Reconstruction.__init__, codec.Reconstruction.add
    original_decode_bitplane = entropy.decode_bitplane

    def init(self, model, height: int, width: int) -> None:
        padded_h, padded_w = codec.padded_size(height, width, model.info.code_stride)
        limit = 2 * (Image.MAX_IMAGE_PIXELS or 1 << 62)
        if padded_h * padded_w > limit:
            raise MemoryBomb(
                f"decoder set up for {width}x{height} px ({padded_w}x{padded_h} padded = "
                f"{padded_h * padded_w} px), above Pillow's decompression-bomb limit of {limit} px"
            )
        original_init(self, model, height, width)

    def add(self, bits) -> None:
        padded = int(self.value.shape[2]) * int(self.value.shape[3])
        _over_limit(_Budget.network + padded, f"the network would run over {self.width}x{self.height} px")
        _Budget.network += padded
        original_add(self, bits)

    def decode_bitplane(coding, payload, shape, earlier, prior=None):
        area = int(shape[1]) * int(shape[2]) * CODE_STRIDE**2
        _over_limit(_Budget.bits + area, f"decoding bits of {shape[1]}x{shape[2]} code cells")
        _Budget.bits += area
        return original_decode_bitplane(coding, payload, shape, earlier, prior)

    codec.Reconstruction.__init__, codec.Reconstruction.add = init, add
    entropy.decode_bitplane = decode_bitplane
    try:
        yield
    finally:
        codec.Reconstruction.__init__, codec.Reconstruction.add = original_init, original_add
        entropy.decode_bitplane = original_decode_bitplane


@contextlib.contextmanager
def _step(what: str) -> Iterator[None]:
    """One reader call: its own work budget; ``Hang`` after it if the input has taken too long so far."""
    _Budget.network = _Budget.bits = 0
    yield
    elapsed = time.monotonic() - _Budget.start
    if elapsed > TIME_LIMIT:
        raise Hang(f"the input took {elapsed:.1f} s when {what} returned (limit {TIME_LIMIT:.0f} s)")


@contextlib.contextmanager
def _truncated_images(allowed: bool) -> Iterator[None]:
    saved = ImageFile.LOAD_TRUNCATED_IMAGES
    ImageFile.LOAD_TRUNCATED_IMAGES = allowed
    try:
        yield
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = saved


def _open_and_load(data: bytes, keep_prefix: bool) -> tuple[bool, Image.Image | None]:
    """(opened as RGC, the loaded image or None); allowed exceptions are swallowed."""
    with _truncated_images(keep_prefix), _step(f"Image.open + load (LOAD_TRUNCATED_IMAGES={keep_prefix})"):
        try:
            im = Image.open(io.BytesIO(data))
        except ALLOWED:
            return False, None
        with im:
            if im.format != "RGC":  # another of Pillow's plugins took the bytes: not ours to judge
                return False, None
            try:
                im.load()
            except ALLOWED:
                return True, None
            return True, im


def _pillow_extras(data: bytes, loaded: Image.Image) -> None:
    """More of the plugin on bytes that load: verify, a draft decode, ImageFile.Parser."""
    with _step("verify"), Image.open(io.BytesIO(data)) as im:
        im.verify()
    with _step("draft + load"), Image.open(io.BytesIO(data)) as im:
        im.draft(im.mode, (max(1, im.width // 3), max(1, im.height // 3)))
        im.load()
    with _step("ImageFile.Parser"):
        parser = ImageFile.Parser()
        third = max(1, len(data) // 3)
        try:
            for start in range(0, len(data), third):
                parser.feed(data[start : start + third])
                if parser.image is not None:
                    parser.image.load()
            with parser.close() as im:
                assert im.size == loaded.size and im.mode == loaded.mode, "Parser's image differs from open's"
        except ALLOWED:
            pass


def _api_readers(data: bytes) -> None:
    with _step("api.info"):
        try:
            info = api.info(data)
        except ALLOWED:
            return
    assert info["iterations_present"] >= 1
    with _step("api.decode"):
        try:
            image = api.decode(data)
        except ALLOWED:
            return
    assert image.size == (info["width"], info["height"]) and image.mode == info["mode"]


def exercise(data: bytes) -> bool:
    """Feeds ``data`` to every reader; True if Pillow loads it. Raises on a finding."""
    _Budget.start = time.monotonic()
    with guards(), warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        opened, loaded = _open_and_load(data, keep_prefix=False)
        if loaded is None and (opened or data.startswith(container.SIGNATURE)):
            _open_and_load(data, keep_prefix=True)
        if loaded is not None:
            _pillow_extras(data, loaded)
        _api_readers(data)
    return loaded is not None
