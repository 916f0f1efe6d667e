"""A batch conversion with a thread pool against one thread doing the photos in turn (issue "Pillow-native").

Usage:
    python benchmarks/threads.py [--photos DIR] [--count 40] [--workers 4] [--max-side 384]
                                 [--quality 0.9] [--model ID] [--ort-threads N] [--json OUT]

One conversion is what a worker of a batch converter does: open the source
photo, save it as ``.rgc`` with ``quality=0.9`` to a BytesIO, open that and
load it. --count conversions (default 40) cycle through the photos of --photos
(default ``../shared/data/val``, sorted by name). To keep the run to a few
minutes, each photo is first shrunk with ``Image.thumbnail((S, S))`` to fit in
--max-side S pixels (default 384, about a quarter of the pixels of a 768x512
photo; 0 keeps the full size); the shrinking is part of the timed conversion.

Before timing, every distinct photo is converted once (untimed): the model's
onnxruntime sessions are loaded then and shared by every thread afterwards,
and first-run allocations for each image size are out of the way. Then, timed
with time.perf_counter (wall) and time.process_time (CPU of all threads):

1. one thread converts the --count photos one after the other;
2. a ``concurrent.futures.ThreadPoolExecutor`` of --workers threads (default 4)
   converts the same list (``pool.map``; creating the pool is timed).

The bytes of every file and the pixels of every loaded image must be the
same in both runs (and as in the warm-up). Printed: wall and CPU seconds of
each run, seconds per conversion, the pool's wall time over the single
thread's (below 1: the pool is faster), and whether the outputs were
identical. --ort-threads sets ``pillow_rgc.models.THREADS`` (onnxruntime
intra-op threads per session; default: the package's own, min(2, cores))
before the model loads, to see whether the pool and onnxruntime's own threads
oversubscribe the cores.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
import rd  # noqa: E402  (benchmarks/ is not a package)

import pillow_rgc  # noqa: E402
from pillow_rgc import models  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DEFAULT_PHOTOS = REPO.parent / "shared" / "data" / "val"


def convert(path: Path, max_side: int, quality: float, model: str | None) -> dict:
    """Open a photo, save it as .rgc in memory, open and load that: the file's bytes and the pixels."""
    with Image.open(path) as source:
        source.load()
        image = source
        if max_side:
            image = source.copy()
            image.thumbnail((max_side, max_side))
    buffer = io.BytesIO()
    image.save(buffer, "RGC", quality=quality, model=model)
    data = buffer.getvalue()
    with Image.open(io.BytesIO(data)) as decoded:
        decoded.load()
        pixels = decoded.tobytes()
        return {
            "size": decoded.size,
            "mode": decoded.mode,
            "bytes": len(data),
            "iterations": decoded.info.get("iterations_decoded"),
            "data_sha256": hashlib.sha256(data).hexdigest(),
            "pixels_sha256": hashlib.sha256(pixels).hexdigest(),
        }


def timed_run(jobs: list[Path], workers: int, work) -> tuple[list[dict], float, float]:
    """Outputs, wall seconds and CPU seconds (all threads of the process) of converting ``jobs``."""
    wall, cpu = time.perf_counter(), time.process_time()
    if workers == 1:
        outputs = [work(path) for path in jobs]
    else:
        with ThreadPoolExecutor(workers) as pool:
            outputs = list(pool.map(work, jobs))
    return outputs, time.perf_counter() - wall, time.process_time() - cpu


def same(a: list[dict], b: list[dict]) -> bool:
    keys = ("size", "mode", "data_sha256", "pixels_sha256")
    return all(all(x[k] == y[k] for k in keys) for x, y in zip(a, b, strict=True))


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=Path, default=DEFAULT_PHOTOS, help="folder with the photos")
    parser.add_argument("--count", type=int, default=40, help="conversions per run (cycling the photos)")
    parser.add_argument("--workers", type=int, default=4, help="threads of the pool")
    parser.add_argument(
        "--max-side", type=int, default=384, help="shrink photos to fit in this many pixels (0: full size)"
    )
    parser.add_argument("--quality", type=float, default=0.9, help="quality= of the save")
    parser.add_argument("--model", default=None, help="model id (default: pillow_rgc's default)")
    parser.add_argument(
        "--ort-threads", type=int, default=None, help="onnxruntime threads per session (models.THREADS)"
    )
    parser.add_argument("--json", type=Path, default=None, help="also write every number to this file")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.ort_threads is not None:
        models.THREADS = args.ort_threads  # a module-level default, read when the model loads
    photos = rd.list_photos(args.photos)
    if not photos:
        raise SystemExit(f"no photos in {args.photos}")
    jobs = [photos[i % len(photos)] for i in range(args.count)]
    model = args.model or pillow_rgc.DEFAULT_MODEL

    def work(path: Path) -> dict:
        return convert(path, args.max_side, args.quality, model)

    started = time.perf_counter()
    rd.log(f"warm-up: {len(photos)} photos")
    reference = {path: work(path) for path in photos}
    warm_outputs = [reference[path] for path in jobs]
    rd.log(f"one thread: {len(jobs)} conversions")
    one, one_wall, one_cpu = timed_run(jobs, 1, work)
    rd.log(f"pool of {args.workers}: {len(jobs)} conversions")
    pool, pool_wall, pool_cpu = timed_run(jobs, args.workers, work)
    identical = same(one, pool)
    as_warm_up = same(one, warm_outputs)
    ratio = pool_wall / one_wall

    pixels = [o["size"][0] * o["size"][1] for o in one]
    smallest, largest = (one[pixels.index(f(pixels))]["size"] for f in (min, max))
    shrunk = f"shrunk to fit {args.max_side} px" if args.max_side else "full size"
    print(
        f"{len(jobs)} conversions (open, save .rgc quality={args.quality} to BytesIO, open, load) "
        f"cycling the {len(photos)} photos of {args.photos}, {shrunk} "
        f"({smallest[0]}x{smallest[1]} to {largest[0]}x{largest[1]})"
    )
    print(
        f"model {model}, {models.THREADS} onnxruntime threads per session, {os.cpu_count()} CPUs; "
        f"per file: {np.mean([o['iterations'] for o in one]):.2f} iterations, "
        f"{np.mean([o['bytes'] for o in one]):.0f} bytes (means)\n"
    )
    rd.print_table(
        ["run", "threads", "wall s", "CPU s", "CPU/wall", "s per photo", "wall / one thread"],
        [
            [
                "one after the other",
                "1",
                f"{one_wall:.2f}",
                f"{one_cpu:.2f}",
                f"{one_cpu / one_wall:.2f}",
                f"{one_wall / len(jobs):.3f}",
                "1.00",
            ],
            [
                "ThreadPoolExecutor",
                str(args.workers),
                f"{pool_wall:.2f}",
                f"{pool_cpu:.2f}",
                f"{pool_cpu / pool_wall:.2f}",
                f"{pool_wall / len(jobs):.3f}",
                f"{ratio:.2f}",
            ],
        ],
    )
    print()
    print(
        f"bytes and pixels identical between the two runs: {'yes' if identical else 'NO'} "
        f"(and as in the warm-up: {'yes' if as_warm_up else 'NO'})"
    )
    verdict = "not slower" if ratio <= 1 else "SLOWER"
    print(f"the pool of {args.workers} is {verdict} than one thread: {ratio:.2f} x its wall time")

    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        out = {
            "meta": {
                "photos": [str(p) for p in photos],
                "count": len(jobs),
                "workers": args.workers,
                "max_side": args.max_side,
                "quality": args.quality,
                "model": model,
                "ort_threads": models.THREADS,
                "cpus": os.cpu_count(),
                **rd.run_facts(started),
            },
            "one_thread": {"wall_s": one_wall, "cpu_s": one_cpu},
            "pool": {"wall_s": pool_wall, "cpu_s": pool_cpu},
            "ratio": ratio,
            "identical": identical,
            "identical_to_warm_up": as_warm_up,
            "outputs": [{"photo": p.name, **o} for p, o in zip(jobs, one)],
        }
        args.json.write_text(json.dumps(rd.jsonable(out), indent=1) + "\n")
        print(f"wrote {args.json}")
    return 0 if identical else 1


if __name__ == "__main__":
    sys.exit(main())
