"""Time one pass of each graph of candidate architectures, before training any of them.

Usage:
    python benchmarks/architecture_speed.py [--arch NAME=JSON ...] [--size 768x512] [--runs 15]

MACs per pixel do not predict time well for narrow layers at high resolution
(layout reorders and depth-to-space move memory rather than multiply), so a
candidate for a fast model is worth timing before it is trained. Each
architecture (``Architecture()`` fields over the default, as ``train --arch``
takes them) is built with random weights, exported exactly as a release is
(``export_model``) into a temporary folder, and its encoder, decoder and, for
one-shot models, synthesis graph are each run on zero inputs of one picture
size with the runtime's session options (``pillow_rgc.models``). Printed:
MACs per pixel of each graph (the synthesis counts once per decode) and the
median milliseconds of --runs passes after 3 warm-up passes, with a decode
estimate of N iterations = N decoder passes + one synthesis pass, without
entropy decoding. Times move with the machine's load: compare rows of one run.
Needs the ``[train]`` extra (torch, onnx).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pillow_rgc import models  # noqa: E402
from pillow_rgc.training.export import export_model  # noqa: E402
from pillow_rgc.training.model import Architecture, ResidualCodec  # noqa: E402

PRESETS = {
    "default": {},
    "two-grus": {
        "decoder_hidden": [128, 128],
        "decoder_input_kernels": [3, 3],
        "decoder_hidden_spatial": [1, 1],
    },
    "two-grus-one-shot": {
        "decoder_hidden": [128, 128],
        "decoder_input_kernels": [3, 3],
        "decoder_hidden_spatial": [1, 1],
        "synthesis": [64, 32],
    },
}
"""The default's widths, and two faster decoders with its first two GRUs (``--arch`` adds more)."""


def median_ms(graph: onnxruntime.InferenceSession, feeds: dict, runs: int) -> float:
    for _ in range(3):
        graph.run(None, feeds)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        graph.run(None, feeds)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def zeros(shapes) -> list[np.ndarray]:
    return [np.zeros((1, *s), np.float32) for s in shapes]


def measure(arch: Architecture, height: int, width: int, runs: int) -> dict:
    """MACs and median ms per pass of the exported graphs of ``arch`` with random weights."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "candidate"
        card = export_model(ResidualCodec(arch), folder, "candidate", 1, "")
        dec_states = zeros(arch.decoder_state_shapes(height, width))
        bits = np.ones((1, arch.code_channels, height // arch.STRIDE, width // arch.STRIDE), np.float32)
        residual = np.zeros((1, 3, height, width), np.float32)
        enc_feeds = {"residual": residual}
        enc_feeds.update(
            {f"state{i}": s for i, s in enumerate(zeros(arch.encoder_state_shapes(height, width)))}
        )
        dec_feeds = {"bits": bits, **{f"state{i}": s for i, s in enumerate(dec_states)}}
        row = {
            "macs": card["macs_per_pixel"],
            "encoder_ms": median_ms(models.graph_session(folder / "encoder.onnx"), enc_feeds, runs),
            "decoder_ms": median_ms(models.graph_session(folder / "decoder.onnx"), dec_feeds, runs),
            "synthesis_ms": 0.0,
        }
        if arch.one_shot:
            row["synthesis_ms"] = median_ms(
                models.graph_session(folder / models.SYNTHESIS_FILE), {"state": dec_states[-1]}, runs
            )
    return row


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--arch", nargs="*", default=[], help="NAME=JSON, Architecture fields over the default")
    p.add_argument("--size", default="768x512", help="picture width x height (multiples of 16)")
    p.add_argument("--runs", type=int, default=15)
    p.add_argument("--iterations", type=int, nargs="*", default=[3, 5], help="decode estimates to print")
    args = p.parse_args(argv)
    width, height = (int(v) for v in args.size.split("x"))
    if width % 16 or height % 16:
        raise SystemExit("--size: width and height must be multiples of 16")
    candidates = dict(PRESETS)
    for item in args.arch:
        name, _, text = item.partition("=")
        candidates[name] = json.loads(text)
    print(f"one pass of each graph at {width}x{height}, {models.THREADS} threads, median of {args.runs}")
    header = ["architecture", "enc MAC/px", "enc ms", "dec MAC/px", "dec ms", "synth MAC/px", "synth ms"]
    header += [f"decode {n} it ms" for n in args.iterations]
    print(" | ".join(header))
    print(" | ".join("---" for _ in header))
    for name, fields in candidates.items():
        arch = Architecture.from_json({**Architecture().to_json(), **fields})
        row = measure(arch, height, width, args.runs)
        macs = row["macs"]
        cells = [
            name,
            f"{macs['encoder']:,.0f}",
            f"{row['encoder_ms']:.1f}",
            f"{macs['decoder']:,.0f}",
            f"{row['decoder_ms']:.1f}",
            f"{macs.get('synthesis', 0):,.0f}",
            f"{row['synthesis_ms']:.1f}",
        ]
        cells += [f"{n * row['decoder_ms'] + row['synthesis_ms']:.0f}" for n in args.iterations]
        print(" | ".join(cells), flush=True)


if __name__ == "__main__":
    main()
