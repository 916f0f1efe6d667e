"""Writes the fuzzer's seed corpus, ``tests/fuzz/seeds/``: small valid ``.rgc`` files of the test models.

    python3 tests/fuzz/make_seeds.py [folder]
    python3 tests/fuzz/make_seeds.py --regressions   # the hand-made files of tests/fuzz_regressions

A file names the model that decodes it (``HEAD.model_id`` and its hash), so
every seed is written with ``rgc-tiny-test``, whose decoder costs about a
millisecond per iteration at these sizes. The seeds cover what the readers
tell apart: modes L, LA, RGB and RGBA; coding 0, coding 1 and both mixed;
coding 3, whole, cut and in tiles (written with ``rgc-tiny-test-prior``, the same
graphs with a context prior);
Exif, ICC and XMP chunks and an unknown ancillary chunk; a version 1.1 HEAD
with extra bytes; a 1x1 picture; files cut inside and between chunks; tiled
files (format 3.0), with coding-1 tiles and with a tile that ends early. Each is
a few hundred bytes. The encoder runs float networks, so another machine may
write other bits: the committed seeds, not this script, are the corpus.
"""

from __future__ import annotations

import struct
import sys
import zlib
from pathlib import Path

import numpy as np
from PIL import Image, ImageCms, ImageDraw

import pillow_rgc
from pillow_rgc import alpha, api, codec, container, entropy, modes
from pillow_rgc.models import load_model

MODEL = "rgc-tiny-test"
PRIOR_MODEL = "rgc-tiny-test-prior"
SEEDS = Path(__file__).resolve().parent / "seeds"
REGRESSIONS = Path(__file__).resolve().parent.parent / "fuzz_regressions"


def picture(width: int, height: int, mode: str = "RGB", seed: int = 0) -> Image.Image:
    """Gradients, an edge and a disc; with alpha, a soft-edged mask."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    rgb = np.stack([x * 255 / max(width - 1, 1), y * 255 / max(height - 1, 1), (x + y + 40 * seed) % 256], 2)
    image = Image.fromarray(rgb.astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(image)
    draw.ellipse((width // 4, height // 4, 3 * width // 4, 3 * height // 4), fill=(220, 60, 30))
    if mode in ("RGBA", "LA"):
        mask = np.clip(255 - 12 * np.hypot(x - width / 2, y - height / 2), 0, 255).astype(np.uint8)
        image.putalpha(Image.fromarray(mask, "L"))
    return image.convert(mode)


def exif() -> bytes:
    block = Image.Exif()
    block[0x010E] = "pillow-rgc fuzz seed"  # ImageDescription
    block[0x0112] = 6  # Orientation
    return block.tobytes()


def icc_profile() -> bytes:
    """Little CMS's sRGB profile with a fixed creation date (header bytes 24-35), so the seed is stable."""
    profile = bytearray(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())
    profile[24:36] = struct.pack(">6H", 2024, 1, 1, 0, 0, 0)
    return bytes(profile)


XMP = '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF/></x:xmpmeta>'


def forced(image: Image.Image, codings: list[int]) -> bytes:
    """``image`` encoded with ``codings[t]`` for iteration t, coding 1 even where coding 0 is smaller."""
    loaded = load_model(MODEL)
    image = modes.storable(image)
    planes = codec.encode_pixels(loaded, modes.network_pixels(image), len(codings))
    payloads = []
    for t, coding in enumerate(codings):
        if coding == entropy.CONTEXT:
            payloads.append((coding, entropy.encode_context(planes[t], planes[:t])))
        else:
            payloads.append((coding, np.packbits(planes[t].ravel()).tobytes()))
    header = container.Header(
        width=image.width,
        height=image.height,
        mode=image.mode,
        model_id=loaded.info.id,
        model_hash=bytes.fromhex(loaded.info.sha256),
        code_channels=loaded.info.code_channels,
        code_stride=loaded.info.code_stride,
        iterations=len(codings),
        version=container.version_for(image.mode, codings),
    )
    alpha_data = alpha.encode(np.asarray(image.getchannel("A"))) if image.mode.endswith("A") else None
    return container.write(header, payloads, alpha=alpha_data)


def tiled(image: Image.Image, side: int, iterations: int, context: bool = False, end_early: bool = False):
    """A tiled file (format 3.0) with tiles of at most ``side`` px; ``context`` recodes every tile with
    coding 1, ``end_early`` ends tile 0 after its first iteration (the empty entries of a tile that reached
    its target early)."""
    data = pillow_rgc.encode(image, iterations=iterations, model=MODEL, tile_side=side)
    if not (context or end_early):
        return data
    parsed = container.read(data)
    planes = api.read_tile_bitplanes(parsed)
    payloads = []
    for t in range(iterations):
        entries = []
        for j, tile in enumerate(planes):
            if end_early and j == 0 and t > 0:
                entries.append(None)
            elif context:
                entries.append((entropy.CONTEXT, entropy.encode_context(tile[t], tile[:t])))
            else:
                entries.append((entropy.RAW, np.packbits(tile[t].ravel()).tobytes()))
        payloads.append((container.CODING_TILED, container.tiled_payload(entries)))
    alpha_data = alpha.encode(np.asarray(image.getchannel("A"))) if image.mode.endswith("A") else None
    return container.write(parsed.header, payloads, alpha=alpha_data)


def chunk_ends(data: bytes) -> list[tuple[bytes, int, int]]:
    """(type, offset, end) of every complete chunk after the signature."""
    chunks, offset = [], len(container.SIGNATURE)
    while offset + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[offset : offset + 8])
        end = offset + 12 + length
        chunks.append((kind, offset, end))
        offset = end
    return chunks


def minor_version_1(data: bytes) -> bytes:
    """The file as version x.1 with two bytes of later HEAD fields (which a reader must ignore)."""
    _, offset, end = chunk_ends(data)[0]
    head = bytearray(data[offset + 8 : end - 4])
    head[1] = 1
    head += b"\x07\x2a"
    chunk = struct.pack(">I", len(head)) + b"HEAD" + head + struct.pack(">I", zlib.crc32(b"HEAD" + head))
    return data[:offset] + chunk + data[end:]


def with_unknown_ancillary(data: bytes) -> bytes:
    """An unknown ancillary chunk ``zzAz`` before IEND (a reader skips it, wherever it is)."""
    body = b"unknown ancillary chunk"
    chunk = struct.pack(">I", len(body)) + b"zzAz" + body + struct.pack(">I", zlib.crc32(b"zzAz" + body))
    return data[:-12] + chunk + data[-12:]


def seeds() -> dict[str, bytes]:
    def encode(image: Image.Image, iterations: int, **options) -> bytes:
        return pillow_rgc.encode(image, iterations=iterations, model=MODEL, **options)

    rgb = encode(picture(32, 24), 3)
    coding1 = forced(picture(48, 40, seed=1), [1, 1, 1])
    files = {
        "rgb-32x24-3it.rgc": rgb,
        "gray-32x24-2it.rgc": encode(picture(32, 24, "L"), 2),
        "rgba-32x24-2it.rgc": encode(picture(32, 24, "RGBA"), 2),
        "la-20x12-2it.rgc": encode(picture(20, 12, "LA", seed=2), 2),
        "rgb-1x1-2it.rgc": encode(picture(1, 1), 2),
        "rgb-33x17-1it.rgc": encode(picture(33, 17, seed=3), 1),
        "rgb-32x24-2it-metadata.rgc": with_unknown_ancillary(
            encode(picture(32, 24, seed=4), 2, exif=exif(), icc_profile=icc_profile(), xmp=XMP)
        ),
        "rgb-32x24-3it-v1.1.rgc": minor_version_1(rgb),
        "rgb-48x40-coding1-3it.rgc": coding1,
        "rgb-48x40-mixed-3it.rgc": forced(picture(48, 40, seed=5), [1, 0, 1]),
        "rgba-48x40-coding1-2it.rgc": forced(picture(48, 40, "RGBA", seed=6), [1, 1]),
    }
    if hasattr(container, "CODING_TILED"):  # format 3.0
        files["tiled-rgb-64x48-2it.rgc"] = tiled(picture(64, 48, seed=7), 32, 2)
        rgba, gray = picture(64, 48, "RGBA", seed=8), picture(80, 40, "L", seed=9)
        files["tiled-rgba-64x48-coding1-2it.rgc"] = tiled(rgba, 32, 2, context=True)
        files["tiled-gray-80x40-tile0-ends-early-2it.rgc"] = tiled(gray, 32, 2, end_early=True)
    iters = [(offset, end) for kind, offset, end in chunk_ends(rgb) if kind == b"ITER"]
    files["cut-rgb-32x24-in-iter2.rgc"] = rgb[: iters[2][0] + 11]
    iters = [(offset, end) for kind, offset, end in chunk_ends(coding1) if kind == b"ITER"]
    files["cut-coding1-48x40-after-iter1.rgc"] = coding1[: iters[1][1] + 5]
    if hasattr(container, "CODING_PRIOR"):  # format 2.1 / 3.1
        coding3 = pillow_rgc.encode(picture(128, 96, seed=10), iterations=3, model=PRIOR_MODEL)
        files["rgb-128x96-coding3-3it.rgc"] = coding3
        iters = [(offset, end) for kind, offset, end in chunk_ends(coding3) if kind == b"ITER"]
        files["cut-coding3-128x96-in-iter2.rgc"] = coding3[: iters[2][0] + 15]
        tiles = picture(96, 64, seed=11)
        files["tiled-rgb-96x64-coding3-2it.rgc"] = pillow_rgc.encode(
            tiles, iterations=2, model=PRIOR_MODEL, tile_side=48
        )
    return files


def params_only(channels: int, first: bool) -> bytes:
    """A coding-1 payload of zero parameters and no coded words: every bit -1, whatever the plane's size."""
    bits = "1" * (entropy.PLANE_CONTEXTS if first else 2 * entropy.PLANE_CONTEXTS)  # se(0) = "1"
    bits += "11" * channels  # bias se(0), no parents ue(0)
    bits += "0" * (-len(bits) % 8)
    return int(bits, 2).to_bytes(len(bits) // 8, "big")


def bomb(width: int, height: int, iterations: int = 1) -> bytes:
    """A ~100-byte valid file that claims a ``width`` x ``height`` picture (the "bomb" regressions)."""
    info = load_model(MODEL).info
    header = container.Header(
        width=width,
        height=height,
        mode="RGB",
        model_id=info.id,
        model_hash=bytes.fromhex(info.sha256),
        code_channels=info.code_channels,
        code_stride=info.code_stride,
        iterations=iterations,
        version=container.version_for("RGB", [entropy.CONTEXT]),
    )
    payloads = [(entropy.CONTEXT, params_only(info.code_channels, t == 0)) for t in range(iterations)]
    return container.write(header, payloads)


def regressions() -> dict[str, bytes]:
    """The hand-made files of ``tests/fuzz_regressions`` (the fuzzer's own findings are copied there)."""
    return {
        "bomb-pillow-8192x8192-coding1-params-only.rgc": bomb(8192, 8192),
        "bomb-pillow-thin-16777216x1-coding1-params-only.rgc": bomb(1 << 24, 1),
        "bomb-api-decode-16777216x2048-coding1-params-only.rgc": bomb(1 << 24, 2048),
    }


def main() -> None:
    """Writes the seeds (to the folder given, else ``seeds/``), or the hand-made regressions."""
    if sys.argv[1:] == ["--regressions"]:
        for name, data in regressions().items():
            (REGRESSIONS / name).write_bytes(data)
            print(f"{name}: {len(data)} bytes")
        return
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else SEEDS
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in seeds().items():
        parsed = container.read(data)  # every seed reads (a cut one with complete=False)
        assert parsed.header.model_id in (MODEL, PRIOR_MODEL)
        (folder / name).write_bytes(data)
        print(f"{name}: {len(data)} bytes, {len(parsed.iterations)} iterations, complete={parsed.complete}")


if __name__ == "__main__":
    main()
