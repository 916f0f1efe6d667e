"""Entropy coding of the bitplanes (ITER codings 1 and 3): bytes saved and time spent.

Usage:
    python benchmarks/entropy.py DIR [--model ID] [--quality 0.95] [--limit N] [--repeat R] [--threads T]

Every photo of DIR (sorted by name; --limit keeps the first N) is encoded with
``pillow_rgc.encode(quality=0.95)`` and decoded with ``pillow_rgc.decode``,
while the calls into ``pillow_rgc.entropy`` are timed, so that both times come
from the same run (the machine may be busy: compare the ratios, not the
seconds). Decoding is timed --repeat times (default 3) and the fastest run kept.
--threads sets onnxruntime's threads (``pillow_rgc.models.THREADS``); on a
machine whose cores are busy, 1 thread keeps the networks from spinning
against the other work, which would make entropy coding look cheaper than it is.

Printed:

- per photo: iterations, raw bits per iteration, coded/raw, the time spent in
  entropy coding against the whole encode and decode (and against the rest,
  i.e. what entropy coding adds), and the entropy decoder's throughput in raw
  bits per second;
- per iteration over all photos: raw bits, coded bytes, coded/raw and how many
  chunks the writer stored with codings 0, 1, 3 and 4; beside it, coded/raw had
  every chunk been stored with coding 1 alone and (for a model with a context
  prior) coding 3 alone, each falling back to raw bits where those are smaller;
- the totals: coded/raw over every bit, the same alternatives, the time shares,
  and the entropy decoder's throughput for each coding.

The photos are encoded without silent cells (``stop_psnr=None``): their codings 5
and 6 have no coding-1 counterpart to compare with, and their savings are
``benchmarks/rd.py --stop-psnr``'s to measure.

"Raw" is the bitplane as coding 0 stores it (one bit per code bit; a partial
last iteration has fewer); "coded" is the ITER payload actually written (the
smallest of codings 0, 1 and, for a model with a context prior, 3; coding 4
for a partial last iteration).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

import pillow_rgc
from pillow_rgc import api, container, entropy, models, prior_coding

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".ppm", ".bmp", ".tif", ".tiff", ".webp"}


class Timed:
    """Wraps a function of ``pillow_rgc.entropy`` and adds up the time spent in it."""

    def __init__(self, name: str):
        self.name = name
        self.function = getattr(entropy, name)
        self.seconds = 0.0
        self.by_coding: dict[int, float] = {}  # decode_bitplane: seconds per payload coding

    def __call__(self, *args, **kwargs):
        start = time.perf_counter()
        try:
            return self.function(*args, **kwargs)
        finally:
            elapsed = time.perf_counter() - start
            self.seconds += elapsed
            if self.name == "decode_bitplane":
                self.by_coding[args[0]] = self.by_coding.get(args[0], 0.0) + elapsed

    def __enter__(self):
        setattr(entropy, self.name, self)
        return self

    def __exit__(self, *exc):
        setattr(entropy, self.name, self.function)


def measure(path: Path, quality: float, model: str | None, repeat: int) -> dict:
    image = Image.open(path)
    image.load()
    with Timed("encode_bitplane") as whole, Timed("encode_segmented") as partial:
        start = time.perf_counter()
        data = pillow_rgc.encode(image, quality=quality, model=model, stop_psnr=None)
        encode_total = time.perf_counter() - start
    encode_entropy = whole.seconds + partial.seconds
    parsed = container.read(data)
    shape = parsed.header.code_shape()
    raw_bits = int(np.prod(shape))
    bitplanes = api.read_bitplanes(parsed)
    decodes = []
    for _ in range(repeat):
        with Timed("decode_bitplane") as timed:
            start = time.perf_counter()
            pillow_rgc.decode(data)
            decodes.append((time.perf_counter() - start, timed.seconds, timed.by_coding))
    decode_total, decode_entropy, by_coding = min(decodes, key=lambda run: run[:2])
    return {
        "name": path.name,
        "size": image.size,
        "version": "{}.{}".format(*parsed.header.version),
        "raw_bits": raw_bits,
        "chunk_bits": [bits.size for bits in bitplanes],  # fewer in a partial last iteration
        "chunks": [(chunk.coding, len(chunk.payload)) for chunk in parsed.iterations],
        "encode": (encode_total, encode_entropy),
        "decode": (decode_total, decode_entropy),
        "decode_by_coding": by_coding,
        "alone": sizes_alone(parsed, bitplanes, model),
    }


def sizes_alone(
    parsed: container.Container, bitplanes: list[np.ndarray], model: str | None
) -> list[tuple[int, int | None]]:
    """Per iteration, the payload bytes of coding 1 alone and of coding 3 alone (None without a prior),
    each replaced by the raw bytes where those are fewer, as a writer with only that coding would do.

    A partial last iteration counts as written (coding 4 is coding 3 in segments) for coding 3, and
    its channels coded with coding 1 (against the same channels of the iteration before) for coding 1.
    """
    prior = models.load_model(model or models.DEFAULT_MODEL).prior
    sizes = []
    for t, (bits, chunk) in enumerate(zip(bitplanes, parsed.iterations)):
        raw = -(-bits.size // 8)
        earlier = [plane[: len(bits)] for plane in bitplanes[:t]]
        context = len(entropy.encode_bitplane(bits, earlier)[1])
        if prior is None:
            coded = None
        elif chunk.coding == entropy.SEGMENTED:
            coded = len(chunk.payload)
        else:
            coded = len(prior_coding.encode_prior(bits, bitplanes[:t], prior))
        sizes.append((context, None if coded is None else min(raw, coded)))
    return sizes


WRITTEN = (entropy.RAW, entropy.CONTEXT, entropy.PRIOR, entropy.SEGMENTED)
"""The codings of files without silent cells, as this benchmark writes them."""


def share(part: float, total: float) -> str:
    """Part of the total, and what it adds to the rest, in percent."""
    rest = total - part
    return f"{100 * part / total:5.1f} % ({100 * part / rest:+5.1f} %)" if rest > 0 else "  —"


def report(results: list[dict]) -> None:
    head = f"{'photo':44s} {'size':>9s} ver  it  raw bits/it  coded/raw  entropy encode"
    print(f"{head}    entropy decode  Mbit/s")
    for r in results:
        iterations = len(r["chunks"])
        coded = sum(size for _, size in r["chunks"])
        bits = sum(r["chunk_bits"])
        throughput = bits / r["decode"][1] / 1e6 if r["decode"][1] else float("inf")
        size = "{}x{}".format(*r["size"])
        print(
            f"{r['name'][:44]:44s} {size:>9s} {r['version']} {iterations:3d} {r['raw_bits']:12d}"
            f"  {8 * coded / bits:9.3f}  {share(r['encode'][1], r['encode'][0])}"
            f"  {share(r['decode'][1], r['decode'][0])}  {throughput:6.1f}"
        )
    print("\n(entropy encode / decode: share of the whole encode / decode, and in brackets what it adds")
    print(" to the rest of it; Mbit/s: raw bits decoded per second of entropy decoding)\n")

    most = max(len(r["chunks"]) for r in results)
    print(
        f"{'iteration':>9s} {'photos':>6s} {'raw bits':>12s} {'coded bytes':>12s} coded/raw"
        "  codings 0/1/3/4  coding 1 alone  coding 3 alone"
    )
    for t in range(most):
        rows = [(r["chunk_bits"][t], r["chunks"][t], r["alone"][t]) for r in results if len(r["chunks"]) > t]
        raw = sum(bits for bits, _, _ in rows)
        coded = sum(size for _, (_, size), _ in rows)
        chosen = "/".join(str(sum(coding == c for _, (coding, _), _ in rows)) for c in WRITTEN)
        alone = [ratio([size[i] for _, _, size in rows], raw) for i in (0, 1)]
        print(
            f"{t:9d} {len(rows):6d} {raw:12d} {coded:12d} {8 * coded / raw:9.3f}  {chosen:>15s}"
            f"  {alone[0]:>14s}  {alone[1]:>14s}"
        )

    raw = sum(sum(r["chunk_bits"]) for r in results)
    coded = sum(size for r in results for _, size in r["chunks"])
    encode = [sum(r["encode"][i] for r in results) for i in (0, 1)]
    decode = [sum(r["decode"][i] for r in results) for i in (0, 1)]
    alone = [ratio([size[i] for r in results for size in r["alone"]], raw) for i in (0, 1)]
    print(f"\ntotal: {raw} raw bits -> {coded} coded bytes, coded/raw = {8 * coded / raw:.4f}")
    print(f"had every chunk used coding 1 alone: {alone[0]}, coding 3 alone: {alone[1]}")
    print(f"entropy encode {encode[1]:.2f} s of {encode[0]:.2f} s encoding: {share(encode[1], encode[0])}")
    print(f"entropy decode {decode[1]:.3f} s of {decode[0]:.2f} s decoding: {share(decode[1], decode[0])}")
    print(f"entropy decode throughput: {raw / decode[1] / 1e6:.1f} million raw bits per second")
    for coding in entropy.CODINGS:
        seconds = sum(r["decode_by_coding"].get(coding, 0.0) for r in results)
        bits = sum(
            n for r in results for n, (chosen, _) in zip(r["chunk_bits"], r["chunks"]) if chosen == coding
        )
        if bits:
            print(f"  coding {coding}: {bits} raw bits in {seconds:.3f} s, {bits / seconds / 1e6:.1f} Mbit/s")


def ratio(sizes: list[int | None], raw_bits: int) -> str:
    """coded/raw of payload sizes in bytes, or a dash when a coding was not tried."""
    return "—" if None in sizes else f"{8 * sum(sizes) / raw_bits:.3f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--model", default=None, help="model id (default: pillow_rgc's default model)")
    parser.add_argument("--quality", type=float, default=0.95)
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--repeat", type=int, default=3, help="decodes per photo, the fastest is kept")
    parser.add_argument("--threads", type=int, default=None, help="onnxruntime threads per session")
    args = parser.parse_args(argv)
    if args.threads:
        models.THREADS = args.threads
    photos = sorted(p for p in args.folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)[: args.limit]
    if not photos:
        print(f"no photos in {args.folder}", file=sys.stderr)
        return 1
    measure(photos[0], args.quality, args.model, 1)  # warm-up: loads the model and onnxruntime
    results = []
    for path in photos:
        results.append(measure(path, args.quality, args.model, args.repeat))
        print(f"  {path.name}: {len(results[-1]['chunks'])} iterations", file=sys.stderr, flush=True)
    report(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
