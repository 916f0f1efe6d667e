"""Image modes: which are stored, how others convert, and the pixels the networks see.

The file stores ``L``, ``LA``, ``RGB`` and ``RGBA``; the networks code the
colour part (gray repeated in three channels) and the alpha channel is stored
exactly beside it (``alpha.py``).
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from . import container

CONVERTED_TO = {"1": "L", "L": "L", "LA": "LA", "La": "LA", "P": "RGB", "PA": "RGBA"}
"""Mode -> the stored mode it converts to (others: ``RGB``); ``A`` is added when it has transparency."""

UNSUPPORTED_MODES = {
    "I": "32-bit integer samples",
    "F": "floating-point samples",
    "I;16": "16-bit samples",
    "I;16L": "16-bit samples",
    "I;16B": "16-bit samples",
    "I;16N": "16-bit samples",
    "LAB": "CIELAB, which Pillow's convert('RGB') does not map to RGB",
}
"""Modes refused rather than converted: no conversion to 8-bit RGB or L is right for every image."""


class UnsupportedImageError(OSError, ValueError):
    """The image cannot be stored as RGC as it is (its mode, or several frames).

    An ``OSError`` as Pillow's writers raise ("cannot write mode ... as JPEG")
    and a ``ValueError`` as the rest of this API raises for bad arguments.
    """


def storable(image: Image.Image) -> Image.Image:
    """``image`` in the mode the file stores: ``L``, ``LA``, ``RGB`` or ``RGBA``.

    As Pillow's WebP and AVIF writers: ``P`` with transparency and ``PA`` become
    ``RGBA``, other ``P`` ``RGB``; ``1`` becomes ``L``; a ``transparency`` key in
    ``image.info`` becomes an alpha channel; ``RGBa``/``La`` are un-premultiplied;
    ``RGBX``, ``CMYK`` (naively, without a colour profile), ``YCbCr`` and ``HSV``
    become ``RGB``. ``I``, ``I;16``, ``F`` and ``LAB`` are refused
    (:data:`UNSUPPORTED_MODES`).
    """
    mode = image.mode
    if mode in container.MODE_CHANNELS and "transparency" not in image.info:
        return image
    if mode in UNSUPPORTED_MODES:
        raise UnsupportedImageError(
            f"cannot write mode {mode} as RGC ({UNSUPPORTED_MODES[mode]}): convert it to 'L' or 'RGB' "
            "yourself, choosing how its values map to 0-255"
        )
    target = CONVERTED_TO.get(mode, "RGB")
    if image.has_transparency_data and not target.endswith("A"):
        target += "A"
    return image.convert(target)


def colour_mode(mode: str) -> str:
    """The coded part of a stored mode: ``L`` or ``RGB`` (the alpha channel is stored apart)."""
    return mode.removesuffix("A")


def network_pixels(image: Image.Image) -> np.ndarray:
    """(H,W,3) uint8 pixels the networks see, of an image in a stored mode (gray repeated thrice)."""
    if colour_mode(image.mode) == "L":
        return np.repeat(np.asarray(image.convert("L"))[:, :, None], 3, axis=2)
    return np.asarray(image.convert("RGB"))


def output_pixels(pixels: np.ndarray, mode: str) -> np.ndarray:
    """Decoded RGB pixels in the file's colour mode: luma by ITU-R 601-2, as Pillow's convert('L')."""
    if colour_mode(mode) == "L":
        return np.asarray(Image.fromarray(pixels, "RGB").convert("L"))
    return pixels
