"""The Pillow adapter: open, load and save ``.rgc`` files through ``PIL.Image``.

``_open`` reads the header, the metadata chunks and the chunk framing only
(lengths, no payloads, no model), so Pillow's decompression-bomb check runs
before anything large is allocated. Pixels are decoded in an overridden
``load()``, as Pillow's AVIF plugin does, so a cut file decodes its complete
iterations without ``ImageFile.LOAD_TRUNCATED_IMAGES``; that flag instead lets
a *corrupt* file decode the iterations before the damage.

Cheaper decodes, chosen between ``open`` and ``load``:

* ``im.iterations = n`` decodes the first ``n`` iterations (as JPEG 2000's
  ``im.layers``);
* ``im.draft(mode, size)``, which ``im.thumbnail()`` calls, decodes only the
  first ``ceil(n / shrink)`` of the file's ``n`` iterations (at least
  :data:`PREVIEW_MIN_ITERATIONS`), where ``shrink`` is how many times smaller
  the image must be to fit in ``size``: the network costs the same for every
  iteration, and what the later ones add is detail a smaller picture averages
  away. As JPEG's draft, it also reduces the image by 2, 4 or 8 when it stays
  at least ``size`` in both dimensions.

``ImageFile.Parser`` works: the plugin registers a push decoder that collects
the bytes fed so far, and ``parser.image`` decodes them whenever it is loaded,
going on from the iterations it decoded last time. The image appears once the
first iteration is complete (before that ``Image.open`` refuses the bytes, as
the spec says of a file cut there); feeding an empty piece ends the stream, as
``Parser.close()`` does.

``save`` keeps an ICC profile found in ``im.info`` unless ``icc_profile=`` says
otherwise, and writes Exif and XMP only when given (``exif=``, ``xmp=``), as
Pillow's PNG, TIFF and AVIF writers do.
"""

from __future__ import annotations

import math
from io import BytesIO
from typing import IO, Any

from PIL import Image, ImageFile

from . import api, container, metadata, modes

FORMAT = "RGC"
MIME_TYPE = "image/x-rgc"

PREVIEW_MIN_ITERATIONS = 2
"""Fewest iterations a draft (thumbnail) decodes, when the file has them: one is too coarse to show."""

DRAFT_FACTORS = (8, 4, 2)
"""Reductions ``draft`` may choose, as JPEG's DCT scaling."""


def _accept(prefix: bytes) -> bool:
    return prefix.startswith(container.SIGNATURE)


def _on_corrupt() -> str:
    """Damage policy for ``container``: keep the good prefix only when Pillow is told to."""
    return "stop" if ImageFile.LOAD_TRUNCATED_IMAGES else "raise"


class _Stream:
    """The bytes of a file known so far, shared by an image and the push decoder ``ImageFile.Parser`` uses.

    ``data`` is ``None`` for a file on disk (``load`` reads it); for an in-memory
    file it is the file's bytes, which ``BytesIO.getvalue()`` shares rather than
    copies. ``ImageFile.Parser`` closes the ``BytesIO`` it opened the image from,
    so those bytes are what its image loads until the decoder pushes more.
    """

    def __init__(self, data: bytes | None, opened_size: int):
        self.data: bytes | bytearray | None = data
        self.opened_size = opened_size


class RgcImageFile(ImageFile.ImageFile):
    format = FORMAT
    format_description = "Residual-GRU learned image codec"

    def _open(self) -> None:
        assert self.fp is not None
        self.fp.seek(0)
        try:
            found = container.scan(self.fp, on_corrupt=_on_corrupt())
        except container.RGCFormatError as error:
            raise SyntaxError(str(error)) from error
        header = found.header
        api.check_decode_limits(header)  # at open, as Pillow's own bomb check, before any decoding
        self._size = (header.width, header.height)
        self._mode = header.mode
        self.info["model"] = header.model_id
        self.info["iterations"] = found.iterations
        self.info.update(metadata.to_info(found.ancillary))
        #: Iterations to decode; None decodes every complete iteration the file holds.
        self.iterations: int | None = None
        self._shrink: float | None = None  # set by draft()
        self._reduce = 1
        self._decoder: api.Decoder | None = None
        self._decoded_bytes = 0
        size = self.fp.seek(0, 2)
        self._stream = _Stream(self.fp.getvalue() if isinstance(self.fp, BytesIO) else None, size)
        self.tile = [ImageFile._Tile("rgc", (0, 0, *self._size), 0, self._stream)]

    def draft(
        self, mode: str | None, size: tuple[int, int] | None
    ) -> tuple[str, tuple[int, int, float, float]] | None:
        """Decode fewer iterations for a picture shown at ``size``; reduce it by 2, 4 or 8 if it stays as big.

        The mode is kept. As JPEG's, works once, before ``load``; returns the
        mode and the box of the original image in the reduced one, or ``None``
        when the image is no larger than ``size``.
        """
        if not self.tile or self._shrink is not None or not size:
            return None
        box = (max(size[0], 1), max(size[1], 1))
        shrink = max(self.width / box[0], self.height / box[1])
        if shrink <= 1:
            return None
        self._shrink = shrink
        cover = min(self.width // box[0], self.height // box[1])
        factor = next((f for f in DRAFT_FACTORS if cover >= f), 1)
        original = self.size
        self._reduce = factor
        self._size = (-(-original[0] // factor), -(-original[1] // factor))
        self.tile = [self.tile[0]._replace(extents=(0, 0, *self._size))]
        return self.mode, (0, 0, original[0] / factor, original[1] / factor)

    def verify(self) -> None:
        """Check every chunk (CRCs, order, fields) without decoding, as PNG's ``verify``.

        Raises an ``OSError`` naming the first damaged chunk; a cut file is not
        damaged (it decodes). As with Pillow's other formats, call it right
        after ``open``, and open the file again to use the image.
        """
        if not self.tile:
            raise RuntimeError("verify must be called directly after open")
        data = self._unseen_data()
        if data is not None:
            container.read(data)
        if self._exclusive_fp and self.fp is not None:
            self.fp.close()
        self.fp = None

    def _iterations_wanted(self, present: int) -> int:
        if self.iterations is not None:
            if self.iterations < 1:
                raise ValueError(f"iterations must be at least 1, not {self.iterations}")
            return min(self.iterations, present)
        if self._shrink is not None:
            return min(present, max(PREVIEW_MIN_ITERATIONS, math.ceil(present / self._shrink)))
        return present

    def _unseen_data(self) -> bytes | bytearray | None:
        """The file's bytes if some have not been decoded yet (a first load, or a stream that grew)."""
        if self._stream.data is not None:
            return self._stream.data if len(self._stream.data) > self._decoded_bytes else None
        if self.tile and self.fp is not None:
            self.fp.seek(0)
            return self.fp.read()
        return None

    def load(self) -> Image.core.PixelAccess | None:
        data = self._unseen_data()
        if data is not None:
            parsed = container.read(data, on_corrupt=_on_corrupt())
            if self._decoder is None:
                self._decoder = api.Decoder(parsed.header)
            wanted = self._iterations_wanted(len(parsed.iterations))
            decoded = Image.fromarray(self._decoder.pixels(parsed, wanted, _on_corrupt()), self.mode)
            if self._reduce > 1:
                decoded = decoded.reduce(self._reduce)
            self.info["iterations_decoded"] = self._decoder.decoded
            self._decoded_bytes = len(data)
            if self.tile:  # opened as a whole file, not pushed by ImageFile.Parser: no more will come
                self._stream.data = None
            if self._exclusive_fp and self.fp is not None:
                self.fp.close()
            self.fp = None
            self.im = decoded.im
            self.tile = []
        return super().load()


class RgcDecoder(ImageFile.PyDecoder):
    """Push decoder for ``ImageFile.Parser``: collects the bytes; ``parser.image.load()`` decodes them.

    Parser hands over the bytes from the start of the file, then each new piece.
    A call that brings nothing new is the end of the stream (``Parser.close()``
    feeds an empty piece): it returns -1 so that ``close()`` hands back the
    image of every complete iteration received, as a cut file gives.
    """

    def init(self, args: tuple[Any, ...]) -> None:
        self.stream: _Stream = args[0]
        self.received: bytearray | None = None

    def decode(self, buffer: bytes | Image.SupportsArrayInterface) -> tuple[int, int]:
        piece = bytes(buffer)
        if self.received is None:  # the first call: everything from byte 0
            if len(piece) <= self.stream.opened_size:
                return -1, 0
            self.received = bytearray(piece)
        elif not piece:
            return -1, 0
        else:
            self.received += piece
        self.stream.data = self.received
        return len(piece), 0


def _frame_count(im: Image.Image) -> int:
    extra = im.encoderinfo.get("append_images", [])
    return sum(getattr(frame, "n_frames", 1) for frame in [im, *extra])


def _save(im: Image.Image, fp: IO[bytes], filename: str | bytes) -> None:
    """Encode fully in memory first, so a failed save writes nothing."""
    options = im.encoderinfo
    data = api.encode(
        im,
        quality=options.get("quality"),
        iterations=options.get("iterations"),
        max_bytes=options.get("max_bytes"),
        model=options.get("model"),
        exif=options.get("exif"),
        icc_profile=options.get("icc_profile", im.info.get("icc_profile")),
        xmp=options.get("xmp"),
        tile_side=options.get("tile_side"),
        segmented=options.get("segmented", False),
        stop_psnr=options.get("stop_psnr", api.STOP_PSNR),
        effort=options.get("effort"),
    )
    fp.write(data)


def _save_all(im: Image.Image, fp: IO[bytes], filename: str | bytes) -> None:
    """RGC holds one image: ``save_all`` of a single frame saves it, of several is refused."""
    frames = _frame_count(im)
    if frames > 1:
        raise modes.UnsupportedImageError(
            f"RGC stores a single image, not {frames} frames: save each frame to its own file"
        )
    _save(im, fp, filename)


def register() -> None:
    Image.register_open(FORMAT, RgcImageFile, _accept)
    Image.register_save(FORMAT, _save)
    Image.register_save_all(FORMAT, _save_all)
    Image.register_decoder("rgc", RgcDecoder)
    Image.register_extension(FORMAT, ".rgc")
    Image.register_mime(FORMAT, MIME_TYPE)
