"""The Python API beside Pillow: encode, decode, info and truncate ``.rgc`` bytes.

Rate control lives here. ``quality`` is read as in the spec's "Quality scale":

* ``0 < quality <= 1``: the target MS-SSIM of the 8-bit image that decoding
  returns; iterations are added until it is reached. ``1`` means every
  iteration the model has.
* ``1 < quality <= 100``: Pillow's familiar JPEG scale; the target is the
  MS-SSIM that JPEG typically reaches at that quality
  (:func:`pillow_rgc.quality.ms_ssim_for_jpeg_quality`).
* nothing given: ``quality=DEFAULT_QUALITY`` (75, JPEG's own default).

``iterations`` and ``max_bytes`` cap the number of iterations; when several
limits are given, encoding stops at the first one reached. Targets the model
cannot reach give all of its iterations.

Modes are converted as Pillow's own writers convert them (:func:`modes.storable`);
an alpha channel is kept exactly, beside the coded colour (``alpha.py``).
Metadata (Exif, ICC profile, XMP) travels in the ancillary chunks ``exif``,
``iccp`` and ``xmpd``, untouched.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
from PIL import Image

from . import alpha, codec, container, entropy, metadata, modes
from .models import DEFAULT_MODEL, ModelError, load_model
from .quality import ms_ssim, ms_ssim_for_jpeg_quality

DEFAULT_QUALITY = 75
CHUNK_OVERHEAD = 4 + 4 + 3 + 4  # length, type, ITER index and coding, CRC


def _target_ms_ssim(quality: float) -> float:
    if not 0 < quality <= 100:
        raise ValueError(f"quality must be in (0, 1] (MS-SSIM) or (1, 100] (JPEG scale), not {quality}")
    return quality if quality <= 1 else ms_ssim_for_jpeg_quality(quality)


def encode(
    image: Image.Image,
    quality: float | None = None,
    iterations: int | None = None,
    max_bytes: int | None = None,
    model: str | None = None,
    exif: bytes | Image.Exif | None = None,
    icc_profile: bytes | None = None,
    xmp: bytes | str | None = None,
) -> bytes:
    """Encode ``image`` as a complete ``.rgc`` file; see the module docstring for the limits.

    ``exif``, ``icc_profile`` and ``xmp`` are stored as given (:func:`metadata.to_chunks`);
    nothing is taken from ``image.info`` here (the Pillow plugin decides that).
    """
    if quality is None and iterations is None and max_bytes is None:
        quality = DEFAULT_QUALITY
    if iterations is not None and iterations < 1:
        raise ValueError(f"iterations must be at least 1, not {iterations}")
    if image.width < 1 or image.height < 1:
        raise ValueError("cannot encode an empty image")
    ancillary = metadata.to_chunks(exif, icc_profile, xmp)
    image = modes.storable(image)
    mode = image.mode
    alpha_data = alpha.encode(np.asarray(image.getchannel("A"))) if mode.endswith("A") else None
    loaded = load_model(model or DEFAULT_MODEL)
    info = loaded.info
    pixels = modes.network_pixels(image)
    target = None if quality is None or quality == 1 else _target_ms_ssim(quality)
    reference = modes.output_pixels(pixels, mode)
    header = container.Header(
        width=image.width,
        height=image.height,
        mode=mode,
        model_id=info.id,
        model_hash=bytes.fromhex(info.sha256),
        code_channels=info.code_channels,
        code_stride=info.code_stride,
        iterations=1,
        version=container.version_for(mode),
    )
    limit = min(iterations or info.iterations, info.iterations)
    budget = max_bytes if max_bytes is not None else float("inf")
    payloads: list[tuple[int, bytes]] = []
    raw_size = header.raw_payload_size()
    file_bytes = (
        len(container.write(header, [(entropy.RAW, bytes(raw_size))], ancillary, alpha_data))
        - CHUNK_OVERHEAD
        - raw_size
    )

    def keep_going(bitplanes: list[np.ndarray], reconstruction: np.ndarray) -> bool:
        nonlocal file_bytes
        coding, payload = entropy.encode_bitplane(bitplanes[-1], bitplanes[:-1])
        file_bytes += CHUNK_OVERHEAD + len(payload)
        if file_bytes > budget:
            return False
        payloads.append((coding, payload))
        return target is None or ms_ssim(reference, modes.output_pixels(reconstruction, mode)) < target

    codec.encode_pixels(loaded, pixels, limit, keep_going)
    if not payloads:
        raise ValueError(f"max_bytes={max_bytes} is too small: one iteration needs {file_bytes} bytes")
    codings = [coding for coding, _ in payloads]  # a coding-1 chunk makes the file 2.0
    final = dataclasses.replace(
        header, iterations=len(payloads), version=container.version_for(mode, codings)
    )
    return container.write(final, payloads, ancillary, alpha_data)


def read_bitplanes(
    parsed: container.Container, iterations: int | None = None, on_corrupt: str = "raise"
) -> list[np.ndarray]:
    """Bitplanes of the first ``iterations`` complete iterations (all by default).

    A payload whose damage only decoding finds is a corrupt ``ITER`` chunk; with
    ``on_corrupt="stop"`` the iterations before it are kept, if there are any.
    """
    shape = parsed.header.code_shape()
    bitplanes: list[np.ndarray] = []
    for chunk in parsed.iterations[:iterations] if iterations else parsed.iterations:
        try:
            bitplanes.append(entropy.decode_bitplane(chunk.coding, chunk.payload, shape, bitplanes))
        except entropy.PayloadError as error:
            if on_corrupt == "stop" and bitplanes:
                break
            raise container.CorruptChunkError(str(error), "ITER", chunk.chunk_index, chunk.offset) from None
    return bitplanes


def load_model_for(header: container.Header):
    """The installed model that wrote ``header``'s file, verified by its hash."""
    loaded = load_model(header.model_id, header.model_hash.hex())
    if (loaded.info.code_channels, loaded.info.code_stride) != (header.code_channels, header.code_stride):
        raise ModelError(
            f"the file's code shape ({header.code_channels} channels every {header.code_stride} px) "
            f"does not match model {header.model_id!r} "
            f"({loaded.info.code_channels} every {loaded.info.code_stride})"
        )
    return loaded


class Decoder:
    """Decodes one file, and goes on where it stopped when more of it has arrived (a stream).

    ``pixels`` runs the decoder network once per iteration it has not run yet,
    so a picture shown after every new iteration costs one decode in all.
    """

    def __init__(self, header: container.Header):
        self.header = header
        self.reconstruction = codec.Reconstruction(load_model_for(header), header.height, header.width)
        self.alpha: np.ndarray | None = None

    @property
    def decoded(self) -> int:
        return self.reconstruction.count

    def pixels(
        self, parsed: container.Container, iterations: int | None = None, on_corrupt: str = "raise"
    ) -> np.ndarray:
        """Pixels of the first ``iterations`` complete iterations of ``parsed`` (all by default).

        ``decoded`` then says how many were used: fewer than asked when
        ``on_corrupt="stop"`` met a damaged payload.

        (H,W) for L, (H,W,2) for LA, (H,W,3) for RGB, (H,W,4) for RGBA.
        """
        header = self.header
        if parsed.header != header:
            raise ValueError("the data is not the file this decoder began")
        wanted = min(iterations or len(parsed.iterations), len(parsed.iterations))
        if not wanted:
            raise ValueError("no iteration to decode")
        if wanted < self.reconstruction.count:  # fewer than already decoded: start again
            self.reconstruction = codec.Reconstruction(self.reconstruction.model, header.height, header.width)
        for bits in read_bitplanes(parsed, wanted, on_corrupt)[self.reconstruction.count :]:
            self.reconstruction.add(bits)
        pixels = modes.output_pixels(self.reconstruction.pixels(), header.mode)
        if parsed.alpha is None:
            return pixels
        if self.alpha is None:
            self.alpha = alpha.decode(parsed.alpha, header.width, header.height)
        return np.dstack([pixels, self.alpha])


def decode_array(parsed: container.Container, iterations: int | None = None) -> np.ndarray:
    """Pixels of a parsed file: (H,W) for L, (H,W,2) for LA, (H,W,3) for RGB, (H,W,4) for RGBA."""
    return Decoder(parsed.header).pixels(parsed, iterations)


def decode(data: bytes, iterations: int | None = None) -> Image.Image:
    """Decode ``.rgc`` bytes (complete or cut) using at most ``iterations`` iterations.

    The file's metadata is in ``info`` under Pillow's keys (:func:`metadata.to_info`).
    """
    parsed = container.read(data)
    image = Image.fromarray(decode_array(parsed, iterations), parsed.header.mode)
    image.info.update(metadata.to_info(parsed.ancillary))
    return image


def info(data: bytes) -> dict[str, Any]:
    """What a file holds, without decoding it: size, mode, model, alpha, metadata, every iteration chunk."""
    parsed = container.read(data)
    header = parsed.header
    raw_bits = int(np.prod(header.code_shape()))
    return {
        "format_version": "{}.{}".format(*header.version),
        "width": header.width,
        "height": header.height,
        "mode": header.mode,
        "model": header.model_id,
        "model_sha256": header.model_hash.hex(),
        "iterations_written": header.iterations,
        "iterations_present": len(parsed.iterations),
        "complete": parsed.complete,
        "alpha": parsed.alpha is not None,
        "metadata": sorted(metadata.METADATA_KEYS[name] for name in parsed.ancillary),
        "file_bytes": len(data),
        "raw_bits_per_iteration": raw_bits,
        "chunks": [
            {
                "iteration": chunk.index,
                "offset": chunk.offset,
                "size": chunk.size,
                "coding": chunk.coding,
                "payload_bytes": len(chunk.payload),
                "raw_bits": raw_bits,
            }
            for chunk in parsed.iterations
        ],
    }


def truncate(data: bytes, iterations: int | None = None, max_bytes: int | None = None) -> bytes:
    """A valid smaller file holding the first iterations of ``data``, without re-encoding."""
    return container.truncate(data, iterations=iterations, max_bytes=max_bytes)
