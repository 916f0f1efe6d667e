"""Exif, ICC profile and XMP <-> the ancillary chunks ``exif``, ``iccp`` and ``xmpd``.

Pillow keeps them in ``im.info`` under its own keys and takes them as ``save``
options; the file keeps them untouched, so nothing a photo carried is lost.
"""

from __future__ import annotations

from PIL import Image

EXIF_PREFIX = b"Exif\x00\x00"
"""What JPEG's APP1 segment puts before the Exif block; ``exif`` chunks hold the block alone."""

METADATA_KEYS = {"exif": "exif", "iccp": "icc_profile", "xmpd": "xmp"}
"""Metadata chunk type -> the ``im.info`` key (and ``save`` option) Pillow uses for it."""


def to_chunks(
    exif: bytes | Image.Exif | None = None, icc_profile: bytes | None = None, xmp: bytes | str | None = None
) -> dict[str, bytes]:
    """The ancillary chunks holding the metadata a writer is given; empty or ``None`` values are left out.

    ``exif`` may be an ``Image.Exif`` or its bytes, with or without the
    ``Exif\\0\\0`` prefix (which the chunk does not keep); ``xmp`` a ``str``
    (stored as UTF-8) or bytes.
    """
    chunks = {}
    if isinstance(exif, Image.Exif):
        exif = exif.tobytes()
    if exif:
        block = bytes(exif).removeprefix(EXIF_PREFIX)
        if not block.startswith((b"II*\x00", b"MM\x00*")):
            raise ValueError("exif must be an Image.Exif or Exif bytes (a TIFF block: II*\\0 or MM\\0*)")
        chunks["exif"] = block
    if icc_profile:
        chunks["iccp"] = bytes(icc_profile)
    if xmp:
        chunks["xmpd"] = xmp.encode("utf-8") if isinstance(xmp, str) else bytes(xmp)
    return chunks


def to_info(ancillary: dict[str, bytes]) -> dict[str, bytes]:
    """``im.info`` entries for a file's metadata chunks (Exif after ``Exif\\0\\0``, as in PNG)."""
    info = {METADATA_KEYS[name]: data for name, data in ancillary.items() if name in METADATA_KEYS}
    if "exif" in info:
        info["exif"] = EXIF_PREFIX + info["exif"].removeprefix(EXIF_PREFIX)
    return info
