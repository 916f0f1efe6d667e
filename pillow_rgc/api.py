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

Code cells (16x16 pixels) whose reconstruction reaches ``stop_psnr`` dB stop
receiving bits (silent cells, ``silence.py``): every block of a photo costs an
iteration about the same bits, and a flat one that already looks right gains
nothing from them.

``effort`` > 0 refines each iteration's bits by trial decodes (``refinement.py``): slower
encodes, smaller files for the same picture, nothing different for readers.

Big pictures (more than ``TILE_ABOVE_PIXELS``) are coded in tiles of about
``TILE_SIDE`` pixels (format 3.0), each a picture of its own for the network,
so memory stays bounded whatever the size: the network's hidden states for a
24-megapixel photo would not fit in 2 GB. Each tile gets its own rate control,
so ``quality`` is met tile by tile and flat tiles stop early.

Modes are converted as Pillow's own writers convert them (:func:`modes.storable`);
an alpha channel is kept exactly, beside the coded colour (``alpha.py``).
Metadata (Exif, ICC profile, XMP) travels in the ancillary chunks ``exif``,
``iccp`` and ``xmpd``, untouched.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
from PIL import Image

from . import alpha, codec, container, entropy, metadata, modes, search, silence
from .blas_threads import single_threaded_blas
from .models import DEFAULT_MODEL, ModelError, load_model
from .prefetch import prefetched
from .quality import MsSsimReference, ms_ssim_for_jpeg_quality

DEFAULT_QUALITY = 75

STOP_PSNR = 38.0
"""A code cell whose 8-bit reconstruction reaches this PSNR (dB) stops receiving bits. On val with
``rgc-oneshot-8`` (``benchmarks/rd.py --stop-psnr``), against sending every cell, 40 / 38 / 36 / 34
saved −2.2 / −2.0 / −0.9 / +0.7 % of the bits on MS-SSIM and −3.5 / −4.3 / −5.3 / −6.4 % on PSNR,
the lower ones capping the top quality; ``rgc-oneshot-9`` is trained with 38. ``rgc-oneshot-10``,
trained with 36, is written at 38 too: with refined bits, 36 cost ``rgc-oneshot-9`` 1.3 % of the
bits on MS-SSIM for 2.1 % saved on PSNR."""
EFFORT = 3
"""How many of each cell's least sure bits the writer tries flipping (``refinement.py``); 0 takes the
encoder network's bits as they are."""
MAX_EFFORT = 8
CHUNK_OVERHEAD = 4 + 4 + 3 + 4  # length, type, ITER index and coding, CRC

TILE_ABOVE_PIXELS = 1 << 21
"""Pictures with more pixels than this (a 1920x1080 frame has fewer) are coded in tiles."""

TILE_SIDE = 1024
"""Tiles are at most this many pixels a side: the decoder's states for one take ~200 MB."""

TILE_OVERLAP = 16
"""Pixels each tile codes beyond its core where it has a neighbour, to cross-fade seams away."""

MAX_DECODE_PIXELS = 1 << 22
"""Most pixels (padded to the code stride) of one tile, or of an untiled picture, that a decode
runs the network on: the decoder needs ~500 bytes a pixel at once, so this bounds it near 2 GB.
This writer's tiles are ~1 megapixel and its untiled pictures at most 2; a file claiming more is
refused with ``PIL.Image.DecompressionBombError`` (raise the limit to decode it anyway), as a
~100-byte file may claim any size."""


def check_decode_limits(header: container.Header) -> None:
    """Refuse, before anything is allocated, a picture too big for Pillow's limit or the decoder's.

    Pillow's ``Image.MAX_IMAGE_PIXELS`` bounds the picture as Pillow bounds its own formats (on the
    size padded to whole code cells, which is what the decoder allocates); ``MAX_DECODE_PIXELS``
    bounds the largest tile, what the network runs on at once.
    """
    stride = header.code_stride
    padded = codec.padded_size(header.height, header.width, stride)
    if Image.MAX_IMAGE_PIXELS and padded[0] * padded[1] > 2 * Image.MAX_IMAGE_PIXELS:
        raise Image.DecompressionBombError(
            f"picture of {header.width}x{header.height} pixels (padded {padded[1]}x{padded[0]}) is more "
            f"than twice Image.MAX_IMAGE_PIXELS ({Image.MAX_IMAGE_PIXELS}): a decompression bomb?"
        )
    widest, tallest = header.largest_tile()
    tile_h, tile_w = codec.padded_size(tallest, widest, stride)
    if tile_h * tile_w > MAX_DECODE_PIXELS:
        raise Image.DecompressionBombError(
            f"decoding needs the network on {tile_w}x{tile_h} pixels at once, more than "
            f"pillow_rgc.api.MAX_DECODE_PIXELS ({MAX_DECODE_PIXELS}): a decompression bomb? "
            "(raise the limit to decode it anyway)"
        )


def tile_size_for(width: int, height: int, stride: int, tile_side: int | None = None) -> tuple[int, int]:
    """(tile_width, tile_height) for a picture, or (0, 0) to code it whole.

    ``tile_side`` None chooses: tiles of at most ``TILE_SIDE`` for pictures of
    more than ``TILE_ABOVE_PIXELS``, else one tile; 0 never tiles; a number
    asks for tiles of at most that side. Tiles are balanced (the last column
    and row are no slivers, as far as whole code cells allow).
    """
    if tile_side is None:
        tile_side = TILE_SIDE if width * height > TILE_ABOVE_PIXELS else 0
    if not tile_side:
        return 0, 0
    if tile_side < stride:
        raise ValueError(f"tile_side must be at least the code stride {stride}, not {tile_side}")

    def side(length: int) -> int:
        count = math.ceil(length / tile_side)
        return math.ceil(math.ceil(length / count) / stride) * stride

    tile_width, tile_height = side(width), side(height)
    return (0, 0) if tile_width >= width and tile_height >= height else (tile_width, tile_height)


def _target_ms_ssim(quality: float) -> float:
    if not 0 < quality <= 100:
        raise ValueError(f"quality must be in (0, 1] (MS-SSIM) or (1, 100] (JPEG scale), not {quality}")
    return quality if quality <= 1 else ms_ssim_for_jpeg_quality(quality)


@single_threaded_blas()
def encode(
    image: Image.Image,
    quality: float | None = None,
    iterations: int | None = None,
    max_bytes: int | None = None,
    model: str | None = None,
    exif: bytes | Image.Exif | None = None,
    icc_profile: bytes | None = None,
    xmp: bytes | str | None = None,
    tile_side: int | None = None,
    segmented: bool = False,
    stop_psnr: float | None = STOP_PSNR,
    effort: int | None = None,
) -> bytes:
    """Encode ``image`` as a complete ``.rgc`` file; see the module docstring for the limits.

    ``tile_side`` is as in :func:`tile_size_for` (None: tiles for big pictures only).

    ``segmented=True`` stores every iteration after the first in segments (coding 4)
    instead of the smallest coding, for a file about 1 % larger in which a cut
    anywhere keeps the bits before it, to at most an eighth of an iteration: a
    reader of a cut copy, or :func:`truncate` with ``max_bytes``, then gets about
    the quality of a file made for that size. It needs a model with a context
    prior, and applies to untiled pictures (big pictures are coded in tiles,
    whose iterations a cut keeps whole).

    ``stop_psnr``: code cells whose reconstruction reaches it (dB) stop receiving
    bits (codings 5 and 6, version 2.3); None sends every cell every iteration.
    Needs a model with a context prior (ignored otherwise).

    ``effort`` (0 to ``MAX_EFFORT``; None: ``EFFORT``): how many of each cell's least sure bits the
    writer tries flipping in every iteration, keeping the flips that bring the picture closer
    (``refinement.py``); each costs one decode of the iteration, and any effort one more. 0: the
    encoder network's bits as they are.

    ``exif``, ``icc_profile`` and ``xmp`` are stored as given (:func:`metadata.to_chunks`);
    nothing is taken from ``image.info`` here (the Pillow plugin decides that).
    """
    if quality is None and iterations is None and max_bytes is None:
        quality = DEFAULT_QUALITY
    effort = EFFORT if effort is None else effort
    if not (isinstance(effort, int) and 0 <= effort <= MAX_EFFORT):
        raise ValueError(f"effort must be an integer from 0 to {MAX_EFFORT}, not {effort!r}")
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
    if segmented and loaded.prior is None:
        raise ValueError(f"segmented=True needs a model with a context prior; {info.id} has none")
    pixels = modes.network_pixels(image)
    target = None if quality is None or quality == 1 else _target_ms_ssim(quality)
    reference = modes.output_pixels(pixels, mode)
    tile_width, tile_height = tile_size_for(image.width, image.height, info.code_stride, tile_side)
    overlap = min(TILE_OVERLAP, tile_width // 2, tile_height // 2)
    header = container.Header(
        width=image.width,
        height=image.height,
        mode=mode,
        model_id=info.id,
        model_hash=bytes.fromhex(info.sha256),
        code_channels=info.code_channels,
        code_stride=info.code_stride,
        iterations=1,
        version=container.TILED_VERSION if tile_width else container.version_for(mode),
        tile_width=tile_width,
        tile_height=tile_height,
        tile_overlap=overlap,
    )
    limit = min(iterations or info.iterations, info.iterations)
    stop_psnr = stop_psnr if loaded.prior is not None else None
    if header.tiled:
        data = _encode_tiles(
            header, loaded, pixels, reference, limit, target, ancillary, alpha_data, stop_psnr, effort
        )
        return data if max_bytes is None else _cut_to(data, max_bytes)
    raw_size = header.raw_payload_size()
    frame_bytes = (
        len(container.write(header, [(entropy.RAW, bytes(raw_size))], ancillary, alpha_data))
        - CHUNK_OVERHEAD
        - raw_size
    )
    room = math.inf if max_bytes is None else max_bytes - frame_bytes
    largest = header.max_entry_payload()
    payloads = _encode_tile(
        loaded, pixels, reference, mode, limit, target, largest, room, segmented, stop_psnr, effort
    )
    if not payloads:
        raise ValueError(
            f"max_bytes={max_bytes} is too small: the file needs {frame_bytes} bytes and some bits"
        )
    codings = [coding for coding, _ in payloads]  # a coding-1 chunk makes the file 2.0, coding 3 2.1
    final = dataclasses.replace(
        header, iterations=len(payloads), version=container.version_for(mode, codings)
    )
    return container.write(final, payloads, ancillary, alpha_data)


def _encode_tile(
    loaded,
    pixels,
    reference,
    mode,
    limit,
    target,
    largest: int,
    room=math.inf,
    segmented=False,
    stop_psnr=None,
    effort=0,
) -> list[tuple[int, bytes]]:
    """(coding, payload) of each iteration of one picture or tile, under its rate control.

    Iterations are added until the 8-bit reconstruction reaches the MS-SSIM
    ``target`` (None: until ``limit``) or the ITER chunks would pass ``room``
    bytes. The last iteration is then cut to the fewest of its segments that
    reach the target within the room, else to the most that fit (:func:`_last_iteration`).
    ``largest``: the longest payload an ITER chunk (or tile entry) may carry.
    ``segmented``: every iteration but the first in coding 4 (see :func:`encode`).
    ``stop_psnr``: the cells that reach it stop receiving bits (see :func:`encode`; needs the prior).
    ``effort``: how many of each cell's least sure bits to try flipping (see :func:`encode`).
    """
    payloads: list[tuple[int, bytes]] = []
    choice = entropy.CodingChoice(loaded.prior)
    goal = None
    if target is not None:
        scorer = MsSsimReference(reference, on_graph=True)  # the source's half of MS-SSIM, once
        goal = _Goal(lambda r: scorer.score(modes.output_pixels(r.pixels(), mode), at_least=target), target)

    rule = silence.writer_rule(pixels, loaded.info.code_stride, stop_psnr) if stop_psnr else None

    def silence_reached(bits: np.ndarray, earlier: list[np.ndarray], reconstruction) -> np.ndarray:
        """``bits`` silenced by the writer's rule, unless the coding-5 payload would pass ``largest``
        (tiny pictures): every cell sends then."""
        quiet = rule(bits, earlier, reconstruction)
        if quiet is not bits and len(choice.encode(quiet, earlier)[1]) > largest:
            return bits
        return quiet

    def prefixes_of(bits: np.ndarray, earlier: list[np.ndarray], segments: int) -> list[bytes]:
        """Coding-4 payloads with 1, 2 ... all of at most ``segments`` segments, as far as they fit."""
        if not earlier or loaded.prior is None:  # coding 4 needs the prior, and never comes first
            return []
        payloads = entropy.encode_segmented(bits, earlier, loaded.prior, segments)
        return [p for p in payloads if len(p) <= largest]

    def keep_going(bitplanes: list[np.ndarray], reconstruction: codec.Reconstruction) -> bool:
        nonlocal room
        bits, earlier = bitplanes[-1], bitplanes[:-1]
        prefixes = prefixes_of(bits, earlier, entropy.PARTIAL_SEGMENTS) if segmented else None
        if prefixes and len(prefixes) == entropy.segment_count(len(bits), entropy.PARTIAL_SEGMENTS):
            whole = entropy.segmented_coding(bits), prefixes[-1]
        else:
            whole = choice.encode(bits, earlier)
        fits = CHUNK_OVERHEAD + len(whole[1]) <= room
        if goal is not None:
            goal.whole = goal.score(reconstruction) if fits else None
        if fits and not (goal is not None and goal.whole >= goal.target):
            payloads.append(whole)
            room -= CHUNK_OVERHEAD + len(whole[1])
            if goal is not None:
                goal.before = goal.whole
            return True
        finer = prefixes_of(bits, earlier, entropy.LAST_SEGMENTS)
        last = _last_iteration(bits, reconstruction, goal, room - CHUNK_OVERHEAD, whole, finer)
        if last is not None:
            payloads.append(last)
        return False

    codec.encode_pixels(loaded, pixels, limit, keep_going, silence_reached if rule else None, effort)
    return payloads


@dataclasses.dataclass
class _Goal:
    """The rate control's MS-SSIM target, and the scores it knows around the iteration being added."""

    score: Callable[[codec.Reconstruction], float]
    target: float
    before: float | None = None
    """The score of the iterations kept so far (None before the first)."""
    whole: float | None = None
    """The score with the iteration being added whole (None when it does not fit)."""


def _last_iteration(bits, reconstruction, goal, room: float, whole, prefixes) -> tuple[int, bytes] | None:
    """The (coding, payload) that ends a picture: an iteration that reached the target or does not fit.

    A coding-4 payload may stop after any of its segments (``prefixes``: with 1, 2
    ... all of ``LAST_SEGMENTS`` segments), and the decoder reads the channels it lacks as 0. Of the
    prefixes that fit in ``room`` bytes, and ``whole`` when it fits, the first
    that reaches the ``goal`` (:func:`search.first_reaching`: quality grows with the
    segments), else the last; but ``whole`` instead of a prefix no smaller. None
    when nothing fits. Leaves ``reconstruction`` at the payload chosen.
    """
    coding = entropy.segmented_coding(bits)
    candidates = [(coding, p) for p in prefixes[:-1] if len(p) <= room]  # sizes grow
    if len(whole[1]) <= room:
        candidates.append(whole)
    if not candidates:
        return None
    size = entropy.segment_size(len(bits), entropy.LAST_SEGMENTS)

    def channels(index: int) -> int:
        return len(bits) if candidates[index] is whole else (index + 1) * size

    def score_at(index: int) -> float:
        reconstruction.replace_last(bits[: channels(index)])
        return goal.score(reconstruction)

    low = len(candidates) - 1  # no target: the most
    if goal is not None:
        last = goal.whole if candidates[-1] is whole else None
        low = search.first_reaching(len(candidates), score_at, goal.target, goal.before, last)
    chosen = candidates[low]
    if chosen is not whole and len(whole[1]) <= room and len(chosen[1]) >= len(whole[1]):
        chosen, low = whole, len(candidates) - 1
    reconstruction.replace_last(bits[: channels(low)])
    return chosen


def _encode_tiles(
    header, loaded, pixels, reference, limit, target, ancillary, alpha_data, stop_psnr=None, effort=0
) -> bytes:
    """A tiled file (format 3.x): each tile coded on its own, then one ITER chunk per iteration."""
    per_tile = [
        _encode_tile(
            loaded,
            pixels[y : y + h, x : x + w],
            reference[y : y + h, x : x + w],
            header.mode,
            limit,
            target,
            header.max_entry_payload(w, h),
            stop_psnr=stop_psnr,
            effort=effort,
        )
        for x, y, w, h in header.tiles()
    ]
    count = max(map(len, per_tile))
    codings = [container.CODING_TILED, *(coding for tile in per_tile for coding, _ in tile)]
    header = dataclasses.replace(
        header, iterations=count, version=container.version_for(header.mode, codings)
    )
    payloads = [
        (
            container.CODING_TILED,
            container.tiled_payload([tile[index] if index < len(tile) else None for tile in per_tile]),
        )
        for index in range(count)
    ]
    return container.write(header, payloads, ancillary, alpha_data)


def _cut_to(data: bytes, max_bytes: int) -> bytes:
    """``data`` shortened to the iterations that fit in ``max_bytes``, as ``max_bytes=`` promises."""
    try:
        return container.truncate(data, max_bytes=max_bytes)
    except ValueError as error:
        raise ValueError(f"max_bytes={max_bytes} is too small: {error}") from None


def read_bitplanes(
    parsed: container.Container, iterations: int | None = None, on_corrupt: str = "raise", model=None
) -> list[np.ndarray]:
    """Bitplanes of the first ``iterations`` complete iterations (all by default) of a one-tile picture.

    A payload whose damage only decoding finds is a corrupt ``ITER`` chunk; with
    ``on_corrupt="stop"`` the iterations before it are kept, if there are any.
    Coding-3 and coding-4 payloads need the context prior of the file's ``model``, which is
    loaded (and checked against the file) when not given.
    """
    if parsed.header.tiled:
        raise ValueError("the picture is tiled: read_tile_bitplanes gives each tile's bitplanes")
    return read_tile_bitplanes(parsed, iterations, on_corrupt, model)[0]


@single_threaded_blas()
def read_tile_bitplanes(
    parsed: container.Container, iterations: int | None = None, on_corrupt: str = "raise", model=None
) -> list[list[np.ndarray]]:
    """Each tile's bitplanes (one list per tile, raster order) of the first ``iterations`` iterations.

    As :func:`read_bitplanes`; a one-tile picture gives one list. With
    ``on_corrupt="stop"``, every tile keeps the iterations before the damaged chunk.
    """
    bitplanes: list[list[np.ndarray]] = [[] for _ in parsed.header.tiles()]
    for new in bitplanes_by_iteration(parsed, iterations, on_corrupt, model):
        for tile, bits in zip(bitplanes, new):
            if bits is not None:
                tile.append(bits)
    return bitplanes


def bitplanes_by_iteration(
    parsed: container.Container, iterations: int | None = None, on_corrupt: str = "raise", model=None
) -> Iterator[list[np.ndarray | None]]:
    """Each complete iteration's bitplane of every tile in turn (None for a tile that has ended), as
    :func:`read_tile_bitplanes` reads them; a decoder can start on an iteration before the next is read.

    Call it with BLAS held to one thread (:func:`single_threaded_blas`), as the readers here do.
    """
    header = parsed.header
    tiles = header.tiles()
    bitplanes: list[list[np.ndarray]] = [[] for _ in tiles]  # the context of the next iteration
    for index, chunk in enumerate(parsed.iterations[:iterations] if iterations else parsed.iterations):
        entries = chunk.tiles if chunk.tiles is not None else [(chunk.coding, chunk.payload)]
        if model is None and any(entry and entry[0] in entropy.PRIOR_CODINGS for entry in entries):
            model = load_model_for(header)
        prior = model.prior if model is not None else None
        try:
            new = [
                None
                if entry is None
                else entropy.decode_bitplane(*entry, header.code_shape(w, h), tile, prior)
                for tile, entry, (_, _, w, h) in zip(bitplanes, entries, tiles)
            ]
        except entropy.PayloadError as error:
            if (on_corrupt == "stop" or chunk.cut) and index:  # a cut chunk that breaks a rule is ignored
                return
            raise container.CorruptChunkError(str(error), "ITER", chunk.chunk_index, chunk.offset) from None
        for tile, bits in zip(bitplanes, new):
            if bits is not None:
                tile.append(bits)
        yield new


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
    so a picture shown after every new iteration costs one decode in all. A
    tiled picture is decoded again tile by tile instead, so that only one
    tile's states are ever held.
    """

    def __init__(self, header: container.Header):
        check_decode_limits(header)
        self.header = header
        self.model = load_model_for(header)
        self.reconstruction: codec.Reconstruction | None = None  # one-tile pictures, once decoding
        self.alpha: np.ndarray | None = None
        self.decoded = 0

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
        pixels = modes.output_pixels(self._colour(parsed, wanted, on_corrupt), header.mode)
        if parsed.alpha is None:
            return pixels
        if self.alpha is None:
            self.alpha = alpha.decode(parsed.alpha, header.width, header.height)
        return np.dstack([pixels, self.alpha])

    def _colour(self, parsed: container.Container, wanted: int, on_corrupt: str) -> np.ndarray:
        """(H,W,3) uint8 network output of the first ``wanted`` iterations."""
        header = self.header
        if header.tiled:
            tile_bitplanes = read_tile_bitplanes(parsed, wanted, on_corrupt, self.model)
            self.decoded = max(map(len, tile_bitplanes))
            return codec.decode_tiles(self.model, header, tile_bitplanes)
        if self.reconstruction is None:
            self.reconstruction = codec.Reconstruction(self.model, header.height, header.width)
        known = self.reconstruction.count  # decoded by an earlier call, on less of a stream
        planes = []
        with single_threaded_blas():  # held by this thread, so the reading thread has it too
            for (bits,) in prefetched(bitplanes_by_iteration(parsed, wanted, on_corrupt, self.model)):
                planes.append(bits)
                if len(planes) > known:
                    self.reconstruction.add(bits)
                elif len(planes) == known and len(bits) != self.reconstruction.last_channels:
                    self.reconstruction.replace_last(bits)  # more of a cut iteration has arrived
        if len(planes) < self.reconstruction.count:  # fewer than before: decode again from the start
            self.reconstruction = codec.Reconstruction(self.model, header.height, header.width)
            for bits in planes:
                self.reconstruction.add(bits)
        self.decoded = self.reconstruction.count
        return self.reconstruction.pixels()


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
    tile_bits = [math.prod(header.code_shape(w, h)) for _, _, w, h in header.tiles()]
    raw_bits = sum(tile_bits)
    return {
        "format_version": "{}.{}".format(*header.version),
        "width": header.width,
        "height": header.height,
        "tile_width": header.tile_width or header.width,
        "tile_height": header.tile_height or header.height,
        "tile_overlap": header.tile_overlap,
        "tiles": len(tile_bits),
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
                "raw_bits": _raw_bits(chunk, tile_bits, header.code_channels),
            }
            for chunk in parsed.iterations
        ],
    }


def _raw_bits(chunk: container.IterationChunk, tile_bits: list[int], channels: int) -> int:
    """Bits of the code of the tiles (or the one picture) that ``chunk`` carries, before entropy coding;
    a partial iteration carries only its first channels."""
    entries = [(chunk.coding, chunk.payload)] if chunk.tiles is None else chunk.tiles
    return sum(
        bits * entropy.known_channels(*entry, channels) // channels
        for bits, entry in zip(tile_bits, entries)
        if entry is not None
    )


def truncate(data: bytes, iterations: int | None = None, max_bytes: int | None = None) -> bytes:
    """A valid smaller file holding the first iterations of ``data``, without re-encoding.

    When ``data`` ends inside a coding-4 chunk, its complete segments become the
    last iteration only if they decode (which needs the file's model): a cut
    chunk is not covered by a CRC, and a complete file must not hold bad bits.
    """
    parsed = container.read(data)
    last = parsed.iterations[-1]
    if last.cut and not _cut_chunk_decodes(parsed):
        data = data[: last.offset]
    return container.truncate(data, iterations=iterations, max_bytes=max_bytes)


def _cut_chunk_decodes(parsed: container.Container) -> bool:
    try:
        return len(read_bitplanes(parsed)) == len(parsed.iterations)  # a bad cut chunk is dropped
    except ModelError:
        return False
