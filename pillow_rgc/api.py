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
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
from PIL import Image

from . import codec, container, entropy
from .models import DEFAULT_MODEL, ModelError, load_model
from .quality import ms_ssim, ms_ssim_for_jpeg_quality

DEFAULT_QUALITY = 75
CHUNK_OVERHEAD = 4 + 4 + 3 + 4  # length, type, ITER index and coding, CRC


def _target_ms_ssim(quality: float) -> float:
    if not 0 < quality <= 100:
        raise ValueError(f"quality must be in (0, 1] (MS-SSIM) or (1, 100] (JPEG scale), not {quality}")
    return quality if quality <= 1 else ms_ssim_for_jpeg_quality(quality)


def _network_pixels(image: Image.Image) -> tuple[np.ndarray, str]:
    """(H,W,3) uint8 pixels the networks see, and the mode the file records."""
    if image.mode in ("1", "L"):
        gray = np.asarray(image.convert("L"))
        return np.repeat(gray[:, :, None], 3, axis=2), "L"
    if image.mode in ("RGB", "P") and "transparency" not in image.info:
        return np.asarray(image.convert("RGB")), "RGB"
    raise ValueError(
        f"cannot encode mode {image.mode!r} as rgc: convert it to 'RGB' or 'L' first "
        "(format 1.0 stores no alpha channel)"
    )


def output_pixels(pixels: np.ndarray, mode: str) -> np.ndarray:
    """Decoded RGB pixels in the file's mode: luma by ITU-R 601-2, as Pillow's convert('L')."""
    if mode == "L":
        return np.asarray(Image.fromarray(pixels, "RGB").convert("L"))
    return pixels


def encode(
    image: Image.Image,
    quality: float | None = None,
    iterations: int | None = None,
    max_bytes: int | None = None,
    model: str | None = None,
) -> bytes:
    """Encode ``image`` as a complete ``.rgc`` file; see the module docstring for the limits."""
    if quality is None and iterations is None and max_bytes is None:
        quality = DEFAULT_QUALITY
    if iterations is not None and iterations < 1:
        raise ValueError(f"iterations must be at least 1, not {iterations}")
    if image.width < 1 or image.height < 1:
        raise ValueError("cannot encode an empty image")
    loaded = load_model(model or DEFAULT_MODEL)
    info = loaded.info
    pixels, mode = _network_pixels(image)
    target = None if quality is None or quality == 1 else _target_ms_ssim(quality)
    reference = output_pixels(pixels, mode)
    header = container.Header(
        width=image.width,
        height=image.height,
        mode=mode,
        model_id=info.id,
        model_hash=bytes.fromhex(info.sha256),
        code_channels=info.code_channels,
        code_stride=info.code_stride,
        iterations=1,
    )
    limit = min(iterations or info.iterations, info.iterations)
    budget = max_bytes if max_bytes is not None else float("inf")
    payloads: list[tuple[int, bytes]] = []
    raw_size = header.raw_payload_size()
    file_bytes = len(container.write(header, [(entropy.RAW, bytes(raw_size))])) - CHUNK_OVERHEAD - raw_size

    def keep_going(bitplanes: list[np.ndarray], reconstruction: np.ndarray) -> bool:
        nonlocal file_bytes
        coding, payload = entropy.encode_bitplane(bitplanes[-1], bitplanes[:-1])
        file_bytes += CHUNK_OVERHEAD + len(payload)
        if file_bytes > budget:
            return False
        payloads.append((coding, payload))
        return target is None or ms_ssim(reference, output_pixels(reconstruction, mode)) < target

    codec.encode_pixels(loaded, pixels, limit, keep_going)
    if not payloads:
        raise ValueError(f"max_bytes={max_bytes} is too small: one iteration needs {file_bytes} bytes")
    return container.write(dataclasses.replace(header, iterations=len(payloads)), payloads)


def read_bitplanes(parsed: container.Container, iterations: int | None = None) -> list[np.ndarray]:
    """Unpacked bitplanes of the first ``iterations`` complete iterations (all by default)."""
    chunks = parsed.iterations[:iterations] if iterations else parsed.iterations
    return entropy.decode_bitplanes(
        [(chunk.coding, chunk.payload) for chunk in chunks], parsed.header.code_shape()
    )


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


def decode_array(parsed: container.Container, iterations: int | None = None) -> np.ndarray:
    """Pixels of a parsed file: (H,W,3) for RGB, (H,W) for L."""
    header = parsed.header
    pixels = codec.decode_pixels(
        load_model_for(header), read_bitplanes(parsed, iterations), header.height, header.width
    )
    return output_pixels(pixels, header.mode)


def decode(data: bytes, iterations: int | None = None) -> Image.Image:
    """Decode ``.rgc`` bytes (complete or cut) using at most ``iterations`` iterations."""
    parsed = container.read(data)
    return Image.fromarray(decode_array(parsed, iterations), parsed.header.mode)


def info(data: bytes) -> dict[str, Any]:
    """What a file holds, without decoding it: size, mode, model and every iteration chunk."""
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
