"""The Pillow adapter: open, load and save ``.rgc`` files through ``PIL.Image``.

``_open`` reads the header and walks the chunk framing only (lengths, no
payloads, no model), so Pillow's decompression-bomb check runs before
anything large is allocated. Pixels are decoded in an overridden ``load()``,
as Pillow's AVIF plugin does, so a cut file decodes its complete iterations
without ``ImageFile.LOAD_TRUNCATED_IMAGES``.

Set ``im.iterations`` between ``open`` and ``load`` to decode fewer
iterations (a cheaper, coarser image), as JPEG 2000's ``im.layers``.
"""

from __future__ import annotations

from io import BytesIO
from typing import IO

from PIL import Image, ImageFile

from . import api, container

FORMAT = "RGC"
MIME_TYPE = "image/x-rgc"


def _accept(prefix: bytes) -> bool:
    return prefix.startswith(container.SIGNATURE)


class RgcImageFile(ImageFile.ImageFile):
    format = FORMAT
    format_description = "Residual-GRU learned image codec"

    def _open(self) -> None:
        assert self.fp is not None
        self.fp.seek(0)
        try:
            header, present, _ = container.scan(self.fp)
        except container.RGCFormatError as error:
            raise SyntaxError(str(error)) from error
        self._size = (header.width, header.height)
        self._mode = header.mode
        self.info["model"] = header.model_id
        self.info["iterations"] = present
        #: Iterations to decode; None decodes every complete iteration the file holds.
        self.iterations: int | None = None
        self.tile = [ImageFile._Tile("rgc", (0, 0, *self._size), 0, None)]

    def load(self) -> Image.core.PixelAccess | None:
        if self.tile and self.fp is not None:
            self.fp.seek(0)
            parsed = container.read(self.fp.read())
            if self.iterations is not None and self.iterations < 1:
                raise ValueError(f"iterations must be at least 1, not {self.iterations}")
            pixels = api.decode_array(parsed, self.iterations)
            self.info["iterations_decoded"] = min(
                self.iterations or len(parsed.iterations), len(parsed.iterations)
            )
            if self._exclusive_fp:
                self.fp.close()
            self.fp = BytesIO(pixels.tobytes())
            self.tile = [ImageFile._Tile("raw", (0, 0, *self.size), 0, self.mode)]
        return super().load()


def _save(im: Image.Image, fp: IO[bytes], filename: str | bytes) -> None:
    """Encode fully in memory first, so a failed save writes nothing."""
    options = im.encoderinfo
    data = api.encode(
        im,
        quality=options.get("quality"),
        iterations=options.get("iterations"),
        max_bytes=options.get("max_bytes"),
        model=options.get("model"),
    )
    fp.write(data)


def register() -> None:
    Image.register_open(FORMAT, RgcImageFile, _accept)
    Image.register_save(FORMAT, _save)
    Image.register_extension(FORMAT, ".rgc")
    Image.register_mime(FORMAT, MIME_TYPE)
