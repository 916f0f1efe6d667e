"""Encode and decode speed of the installed models, against AVIF and the machine's arithmetic peak.

Usage:
    python benchmarks/speed.py [--models ID ...] [--photos DIR] [--repeat 3] [--json OUT]

Photos: the 768x512 and 512x768 photos of --photos (default ``../shared/data/val``,
the four Kodak-sized palapeli-data photos; DESIGN.md section 5). Models: --models,
or every model ``pillow_rgc.installed_models()`` lists except the frozen test
models (``rgc-tiny-test*``).

For each model and photo, side by side in one run (the machine is shared and
noisy, so the ratios are the result, not the seconds):

- rgc: ``pillow_rgc.encode(quality=0.95)``, and decode as a user does
  (``Image.open`` + ``load``, ``rd.decode_timed``);
- AVIF: Pillow at speed 6 and the lowest integer quality whose MS-SSIM reaches
  the rgc file's (``rd.avif_lowest_quality``, bisection over 0..100), encode
  and decode timed the same way.

Each of the four is run --repeat times (default 3), interleaved (rgc encode,
rgc decode, AVIF encode, AVIF decode, then again), after an untimed
one-iteration encode and decode of the photo (model loading, first-run
allocations for that image size). Times are medians of the repeats.

The machine's achieved multiply-accumulate rate is measured in the same run,
before and after the codecs: a 2048x2048 @ 2048x2048 float32 MatMul built with
``onnx.helper`` and run by onnxruntime with the same intra-op thread count as
the codec's sessions (``pillow_rgc.models.THREADS``), 10 runs after 2 warm-up
runs, MACs = M*N*K / seconds. "Peak" is the best run of both measurements.
A model's decoder rate is decoder MACs per pixel per iteration (``model.json``,
per padded pixel) x padded pixels x iterations / seconds spent in the decoder
graph's ``run`` during the decode. A one-shot model's synthesis graph runs once
per decode: its MACs and ``run`` seconds count once (the table shows them as
"+ N once").

Printed: a per-photo table; a per-model summary (MACs per pixel per iteration,
parameters, size of the ONNX graphs, mean iterations, mean of the per-photo
median times, geometric mean of the per-photo rgc/AVIF ratios, decoder
GMAC/s and its share of the peak); then, for the first model, where the time
of a decode goes:

- phases, from wrappers around the functions that do the work, added up over
  every timed decode of that model (4 photos x --repeat) and shown per decode:
  ``container.scan`` (``Image.open``), ``container.read`` (chunk framing and
  CRCs), ``api.load_model_for`` (model lookup and hash check of the file's
  record), ``entropy.decode_bitplane`` (entropy decoding), the decoder graph's
  ``run`` (onnxruntime), the rest of ``codec.Reconstruction.add`` (bits to
  +-1 floats, adding the increment), ``codec.to_pixels`` (float to 8-bit:
  crop, round, clip, transpose), and the remainder (Pillow and glue);
- the same for encoding (encoder and decoder graphs, entropy coding, the
  MS-SSIM of rate control: the source's half once, then a score per
  iteration; ``to_pixels``, writing the container);
- the top functions of one decode of the first photo by cProfile's own time;
- onnxruntime's own profiler (``SessionOptions.enable_profiling``) on one
  decode of the first photo (after one warm-up decode on the same session):
  time per operator type and the slowest nodes. ReorderInput / ReorderOutput
  are the layout conversions onnxruntime inserts around its blocked (NCHWc)
  convolutions.

--json OUT also writes every number.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import copy
import cProfile
import functools
import json
import math
import pstats
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime
from PIL import Image, features

sys.path.insert(0, str(Path(__file__).resolve().parent))
import rd  # noqa: E402  (benchmarks/ is not a package)

import pillow_rgc  # noqa: E402
from pillow_rgc import api, codec, container, entropy, models, quality  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DEFAULT_PHOTOS = REPO.parent / "shared" / "data" / "val"
SIZES = {(768, 512), (512, 768)}
TEST_MODEL_PREFIX = "rgc-tiny-test"
QUALITY = 0.95
MATMUL_SIZE = 2048
MATMUL_RUNS = 10

DECODE_PHASES = {
    "open (container.scan)": (container, "scan"),
    "container.read": (container, "read"),
    "model lookup": (api, "load_model_for"),
    "entropy decoding": (entropy, "decode_bitplane"),
    "bits to floats, accumulate": (codec.Reconstruction, "add"),
    "to_pixels": (codec, "to_pixels"),
}
GRAPH_PHASES = {
    "encoder_run": "onnxruntime run (encoder)",
    "decoder_run": "onnxruntime run (decoder)",
    "synthesis_run": "onnxruntime run (synthesis, one-shot models)",
}
ENCODE_PHASES = {
    "entropy coding": (entropy, "bitplane_candidates"),
    "encoder with confidence (effort > 0)": (models.LoadedModel, "encode_step_with_confidence"),
    "MS-SSIM (rate control)": (quality.MsSsimReference, "score"),
    "MS-SSIM of the source (once)": (quality.MsSsimReference, "__init__"),
    "to_pixels": (codec, "to_pixels"),
    "container.write": (container, "write"),
}


# ---------------------------------------------------------------- stopwatches


class Stopwatches:
    """Adds up the wall time spent in callables, patched in place of the attributes that hold them.

    ``targets`` maps a label to ``(owner, attribute)``: a module function, a
    class's method or an object's bound method (an onnxruntime session's
    ``run``). Used as a context manager; the originals are put back on exit.
    """

    def __init__(self, targets: dict[str, tuple[object, str]]):
        self.targets = targets
        self.seconds = dict.fromkeys(targets, 0.0)
        self.calls = dict.fromkeys(targets, 0)
        self._saved: list[tuple[object, str, object]] = []

    def reset(self) -> None:
        self.seconds = dict.fromkeys(self.targets, 0.0)
        self.calls = dict.fromkeys(self.targets, 0)

    def _wrap(self, label: str, function):
        @functools.wraps(function)
        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.seconds[label] += time.perf_counter() - start
                self.calls[label] += 1

        return timed

    def __enter__(self) -> Stopwatches:
        for label, (owner, name) in self.targets.items():
            own = vars(owner).get(name, _MISSING)  # a class's function, not a bound method
            function = own if own is not _MISSING else getattr(owner, name)
            self._saved.append((owner, name, own))
            setattr(owner, name, self._wrap(label, function))
        return self

    def __exit__(self, *exc) -> None:
        for owner, name, own in reversed(self._saved):
            if own is _MISSING:
                delattr(owner, name)
            else:
                setattr(owner, name, own)
        self._saved.clear()


_MISSING = object()


# ---------------------------------------------------------------- machine peak


def matmul_rate(size: int = MATMUL_SIZE, runs: int = MATMUL_RUNS, threads: int | None = None) -> dict:
    """Achieved MACs/s of a float32 size x size @ size x size MatMul in onnxruntime."""
    from onnx import TensorProto, helper, numpy_helper

    threads = threads or models.THREADS
    rng = np.random.default_rng(0)
    weights = numpy_helper.from_array(rng.standard_normal((size, size), dtype=np.float32), "B")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["A", "B"], ["Y"])],
        "matmul",
        [helper.make_tensor_value_info("A", TensorProto.FLOAT, [size, size])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [size, size])],
        initializer=[weights],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8  # any onnxruntime of the last years reads it
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = onnxruntime.InferenceSession(
        model.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )
    a = rng.standard_normal((size, size), dtype=np.float32)
    for _ in range(2):
        session.run(None, {"A": a})
    seconds = []
    for _ in range(runs):
        start = time.perf_counter()
        session.run(None, {"A": a})
        seconds.append(time.perf_counter() - start)
    macs = float(size) ** 3
    return {
        "size": size,
        "threads": threads,
        "seconds": seconds,
        "best_gmacs": macs / min(seconds) / 1e9,
        "median_gmacs": macs / statistics.median(seconds) / 1e9,
    }


# ---------------------------------------------------------------- models and photos


def default_models() -> list[str]:
    return [m for m in sorted(pillow_rgc.installed_models()) if not m.startswith(TEST_MODEL_PREFIX)]


def int8(facts: dict, graph: str) -> str:
    """A mark for MACs that a quantized graph does in int8: its share of the float32 MatMul peak then
    mixes int8 and float32 work."""
    return " (int8)" if graph in facts.get("int8_graphs", ()) else ""


def model_facts(model_id: str) -> dict:
    info = models.find_model(model_id)
    macs = info.card.get("macs_per_pixel", {})
    graphs = [*models.GRAPH_FILES, *([models.SYNTHESIS_FILE] if info.one_shot else [])]
    sizes = {name: (info.folder / name).stat().st_size for name in graphs}
    return {
        "id": model_id,
        "folder": str(info.folder),
        "code_stride": info.code_stride,
        "iterations": info.iterations,
        "encoder_macs_per_pixel": macs.get("encoder"),
        "decoder_macs_per_pixel": macs.get("decoder"),
        "synthesis_macs_per_pixel": macs.get("synthesis", 0),  # one-shot models: once per decode
        "parameters": info.card.get("parameters"),
        "int8_graphs": info.card.get("quantized", {}).get("graphs", []),  # training/quantize.py
        "graph_bytes": sizes,
        "weights_mb": sum(sizes.values()) / 1e6,
    }


def select_photos(directory: Path) -> list[tuple[Path, Image.Image, np.ndarray]]:
    chosen = []
    for path in rd.list_photos(directory):
        with Image.open(path) as f:
            if f.size not in SIZES:
                continue
            im = f.convert("RGB")
        chosen.append((path, im, np.asarray(im)))
    return chosen


# ---------------------------------------------------------------- measuring


def median(values: list[float]) -> float:
    return statistics.median(values)


def geomean(values: list[float]) -> float:
    return math.exp(statistics.fmean(math.log(v) for v in values))


def measure_photo(model_id, facts, path, im, ref, score, repeat, dec_watch, enc_watch, options) -> dict:
    """rgc and AVIF on one photo, interleaved; phase times added up in the stopwatches.

    ``options``: more of ``pillow_rgc.encode``'s arguments (``effort``)."""
    warm = pillow_rgc.encode(im, iterations=1, model=model_id, **options)  # untimed: sessions, allocations
    rd.decode_timed(warm)
    data = pillow_rgc.encode(im, quality=QUALITY, model=model_id, **options)
    rgc_score = score(ref, data)
    iterations = int(pillow_rgc.info(data)["iterations_present"])
    avif_q, avif_data, avif_score, reached = rd.avif_lowest_quality(im, ref, rgc_score["ms_ssim"], score)
    rd.decode_timed(avif_data)

    times = collections.defaultdict(list)
    for _ in range(repeat):
        with enc_watch.timing(times, "encode"):
            again = pillow_rgc.encode(im, quality=QUALITY, model=model_id, **options)
        if again != data:
            raise RuntimeError(f"{path.name}: encoding twice gave different bytes")
        with dec_watch.timing(times, "decode"):
            times["decode_s"].append(rd.decode_timed(data))
        start = time.perf_counter()
        rd.encode_pillow("avif", im, avif_q)
        times["avif_encode_s"].append(time.perf_counter() - start)
        times["avif_decode_s"].append(rd.decode_timed(avif_data))
    times["encode_s"] = times.pop("encode_wall")

    padded = codec.padded_size(im.height, im.width, facts["code_stride"])
    decoder_macs = (facts["decoder_macs_per_pixel"] * iterations + facts["synthesis_macs_per_pixel"]) * (
        padded[0] * padded[1]
    )
    row = {
        "photo": path.name,
        "size": list(im.size),
        "padded": [padded[1], padded[0]],
        "iterations": iterations,
        "rgc_bytes": rgc_score["bytes"],
        "rgc_bpp": rgc_score["bpp"],
        "rgc_ms_ssim": rgc_score["ms_ssim"],
        "avif_quality": avif_q,
        "avif_reached": reached,
        "avif_bytes": avif_score["bytes"],
        "avif_ms_ssim": avif_score["ms_ssim"],
        "decoder_macs": decoder_macs,
        "runs": dict(times),
    }
    for key in ("encode_s", "decode_s", "avif_encode_s", "avif_decode_s"):
        row[key] = median(times[key])
    row["decoder_run_s"] = median(times["decode_decoder_run_s"])
    if "decode_synthesis_run_s" in times:  # one-shot models: the synthesis graph is the decoder's too
        row["decoder_run_s"] += median(times["decode_synthesis_run_s"])
    row["encode_ratio"] = row["encode_s"] / row["avif_encode_s"]
    row["decode_ratio"] = row["decode_s"] / row["avif_decode_s"]
    row["decoder_gmacs"] = decoder_macs / row["decoder_run_s"] / 1e9
    return row


class PhaseWatch:
    """Stopwatches over the phases of an encode or a decode, kept per run and added up over runs."""

    def __init__(self, phases: dict[str, tuple[object, str]], network: dict[str, tuple[object, str]]):
        self.watches = Stopwatches({**network, **phases})
        self.network = list(network)
        self.totals = collections.Counter()
        self.runs = 0

    @contextlib.contextmanager
    def timing(self, times: dict, kind: str):
        self.watches.reset()
        start = time.perf_counter()
        with self.watches:
            yield
        wall = time.perf_counter() - start
        seconds = dict(self.watches.seconds)
        if kind == "encode":
            times["encode_wall"].append(wall)
        else:  # the decode's own total (rd.decode_timed) was appended inside the block
            wall = times["decode_s"][-1]
        for name in self.network:
            times[f"{kind}_{name}_s"].append(seconds[name])
        self.totals.update(seconds)
        self.totals["total"] += wall
        self.runs += 1

    def per_run(self) -> dict[str, float]:
        return {k: v / self.runs for k, v in self.totals.items()} if self.runs else {}


def exclusive_phases(
    per_run: dict[str, float], nested: dict[str, list[str]], beside: tuple[str, ...] = ()
) -> list[tuple[str, float]]:
    """Phase seconds with inner phases taken out of the outer ones, and the remainder as 'other'.

    Phases ``beside`` run in another thread, beside the others (a decode's entropy decoding, see
    ``pillow_rgc/prefetch.py``): they are listed, marked, but not taken out of the remainder, which
    then includes the time the decode waited for them.
    """
    seconds = {k: v for k, v in per_run.items() if k != "total" and k not in beside}
    for outer, inner in nested.items():
        seconds[outer] -= sum(seconds[i] for i in inner)
    seconds["other (Pillow, glue" + (", waiting for bits)" if beside else ")")] = per_run["total"] - sum(
        seconds.values()
    )
    apart = [(f"{name} (in its own thread, beside the rest)", per_run[name]) for name in beside]
    return sorted(seconds.items(), key=lambda kv: -kv[1]) + apart


def cprofile_decode(data: bytes, top: int = 10) -> list[dict]:
    profile = cProfile.Profile()
    profile.enable()
    rd.decode_timed(data)
    profile.disable()
    stats = pstats.Stats(profile).stats
    total = sum(v[2] for v in stats.values())
    rows = []
    for (filename, line, function), (_, calls, own, cumulative, _) in stats.items():
        where = f"{Path(filename).name}:{line}" if line else "built-in"
        rows.append(
            {"function": f"{function} ({where})", "calls": calls, "own_s": own, "cumulative_s": cumulative}
        )
    rows.sort(key=lambda r: -r["own_s"])
    for r in rows:
        r["share"] = r["own_s"] / total
    return rows[:top]


def ort_profile_decode(model_id: str, data: bytes) -> dict:
    """onnxruntime's profiler over one decode, after a warm-up decode on the same session."""
    parsed = container.read(data)
    header = parsed.header
    bitplanes = api.read_bitplanes(parsed)
    loaded = models.load_model(model_id)
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = models.THREADS
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    options.enable_profiling = True
    with tempfile.TemporaryDirectory() as tmp:
        options.profile_file_prefix = str(Path(tmp) / "decoder")
        session = onnxruntime.InferenceSession(
            str(loaded.info.folder / "decoder.onnx"), options, providers=["CPUExecutionProvider"]
        )
        profiled = copy.copy(loaded)
        profiled.decoder = session
        codec.decode_pixels(profiled, bitplanes, header.height, header.width)  # warm-up
        start = time.perf_counter()
        codec.decode_pixels(profiled, bitplanes, header.height, header.width)
        wall = time.perf_counter() - start
        events = json.loads(Path(session.end_profiling()).read_text())
    runs = sorted((e for e in events if e.get("name") == "model_run"), key=lambda e: e["ts"])
    kept = runs[len(bitplanes) :]  # the second decode
    windows = [(e["ts"], e["ts"] + e["dur"]) for e in kept]
    by_op: collections.Counter = collections.Counter()
    calls: collections.Counter = collections.Counter()
    by_node: collections.Counter = collections.Counter()
    node_info = {}
    for e in events:
        if e.get("cat") != "Node" or not e["name"].endswith("_kernel_time"):
            continue
        if not any(lo <= e["ts"] <= hi for lo, hi in windows):
            continue
        op = e["args"].get("op_name", "?")
        by_op[op] += e["dur"]
        calls[op] += 1
        name = e["name"].removesuffix("_kernel_time")
        by_node[name] += e["dur"]
        shapes = e["args"].get("input_type_shape", [])
        out = e["args"].get("output_type_shape", [])
        node_info[name] = {
            "op": op,
            "inputs": [next(iter(s.values())) for s in shapes],
            "output": [next(iter(s.values())) for s in out],
        }
    node_total = sum(by_op.values())
    return {
        "iterations": len(kept),
        "wall_s": wall,
        "model_run_s": sum(e["dur"] for e in kept) / 1e6,
        "nodes_s": node_total / 1e6,
        "ops": [
            {"op": op, "calls": calls[op], "seconds": us / 1e6, "share": us / node_total}
            for op, us in by_op.most_common()
        ],
        "nodes": [
            {"node": name, **node_info[name], "seconds": us / 1e6, "share": us / node_total}
            for name, us in by_node.most_common(10)
        ],
    }


# ---------------------------------------------------------------- output


def fmt(v, spec: str = ".3f", suffix: str = "") -> str:
    return rd.fmt(v, spec, suffix)


def print_photo_table(results: dict) -> None:
    print(f"rgc at quality={QUALITY} vs AVIF (speed 6, lowest quality with MS-SSIM >= rgc's), per photo")
    rows = []
    for model_id, result in results.items():
        for r in result["photos"]:
            rows.append(
                [
                    model_id,
                    r["photo"],
                    str(r["iterations"]),
                    str(r["rgc_bytes"]),
                    fmt(r["rgc_ms_ssim"], ".4f"),
                    str(r["avif_quality"]) + ("" if r["avif_reached"] else " (max)"),
                    str(r["avif_bytes"]),
                    fmt(r["encode_s"], ".3f"),
                    fmt(r["decode_s"], ".3f"),
                    fmt(r["avif_encode_s"], ".4f"),
                    fmt(r["avif_decode_s"], ".4f"),
                    fmt(r["encode_ratio"], ".0f"),
                    fmt(r["decode_ratio"], ".0f"),
                    fmt(r["decoder_run_s"], ".3f"),
                    fmt(r["decoder_gmacs"], ".1f"),
                ]
            )
    rd.print_table(
        [
            "model",
            "photo",
            "iter",
            "rgc bytes",
            "MS-SSIM",
            "AVIF q",
            "AVIF bytes",
            "enc s",
            "dec s",
            "AVIF enc s",
            "AVIF dec s",
            "enc/AVIF",
            "dec/AVIF",
            "dec graph s",
            "GMAC/s",
        ],
        rows,
    )
    print()


def print_model_table(results: dict, peak: dict) -> None:
    print(
        f"Per model: means over {len(next(iter(results.values()))['photos'])} photos of median times; "
        "ratios to AVIF are geometric means of per-photo ratios"
    )
    print(
        f"Peak: {peak['best_gmacs']:.1f} GMAC/s ({peak['size']}^3 float32 MatMul, onnxruntime, "
        f"{peak['threads']} threads; best of both measurements)"
    )
    rows = []
    for model_id, result in results.items():
        f, s = result["facts"], result["summary"]
        rows.append(
            [
                model_id,
                fmt(f["encoder_macs_per_pixel"], ",.0f") + int8(f, "encoder.onnx"),
                fmt(f["decoder_macs_per_pixel"], ",.0f")
                + int8(f, "decoder.onnx")
                + (f" + {f['synthesis_macs_per_pixel']:,.0f} once" if f["synthesis_macs_per_pixel"] else "")
                + int8(f, models.SYNTHESIS_FILE),
                fmt(f["parameters"], ",d"),
                fmt(f["weights_mb"], ".2f"),
                fmt(s["iterations"], ".2f"),
                fmt(s["encode_s"], ".3f"),
                fmt(s["decode_s"], ".3f"),
                fmt(s["avif_encode_s"], ".4f"),
                fmt(s["avif_decode_s"], ".4f"),
                fmt(s["encode_ratio"], ".0f"),
                fmt(s["decode_ratio"], ".0f"),
                fmt(s["decoder_gmacs"], ".1f"),
                fmt(s["peak_share"] * 100, ".1f", " %"),
            ]
        )
    rd.print_table(
        [
            "model",
            "enc MAC/px/it",
            "dec MAC/px/it",
            "params",
            "ONNX MB",
            "iters",
            "enc s",
            "dec s",
            "AVIF enc s",
            "AVIF dec s",
            "enc/AVIF",
            "dec/AVIF",
            "dec GMAC/s",
            "of peak",
        ],
        rows,
    )
    print()


def print_phases(title: str, phases: list[tuple[str, float]], total: float) -> None:
    print(title)
    rows = [[name, fmt(s * 1e3, ".1f"), fmt(100 * s / total, ".1f", " %")] for name, s in phases]
    rows.append(["total", fmt(total * 1e3, ".1f"), "100.0 %"])
    rd.print_table(["phase", "ms", "share"], rows)
    print()


def print_profile(profile: dict) -> None:
    model_id = profile["model"]
    print_phases(
        f"Where a decode goes: {model_id}, Image.open + load, per decode "
        f"(mean over {profile['decode_runs']} timed decodes, {profile['mean_iterations']:.2f} iterations)",
        profile["decode_phases"],
        profile["decode_total_s"],
    )
    print_phases(
        f"Where an encode goes: {model_id}, pillow_rgc.encode(quality={QUALITY}), per encode "
        f"(mean over {profile['encode_runs']} timed encodes)",
        profile["encode_phases"],
        profile["encode_total_s"],
    )
    print(f"cProfile of one decode of {profile['photo']}: top functions by own time")
    rd.print_table(
        ["function", "calls", "own ms", "share", "cumul ms"],
        [
            [
                r["function"],
                str(r["calls"]),
                fmt(r["own_s"] * 1e3, ".1f"),
                fmt(100 * r["share"], ".1f", " %"),
                fmt(r["cumulative_s"] * 1e3, ".1f"),
            ]
            for r in profile["cprofile"]
        ],
    )
    print()
    ort = profile["onnxruntime"]
    print(
        f"onnxruntime profiler, decoder graph, one decode of {profile['photo']} ({ort['iterations']} runs): "
        f"model_run {ort['model_run_s'] * 1e3:.0f} ms, nodes {ort['nodes_s'] * 1e3:.0f} ms"
    )
    rd.print_table(
        ["operator", "calls", "ms", "share"],
        [
            [r["op"], str(r["calls"]), fmt(r["seconds"] * 1e3, ".1f"), fmt(100 * r["share"], ".1f", " %")]
            for r in ort["ops"]
        ],
    )
    print()
    print("Slowest nodes (all runs of the decode)")
    rd.print_table(
        ["node", "op", "input", "output", "ms", "share"],
        [
            [
                r["node"],
                r["op"],
                "x".join(map(str, r["inputs"][0])) if r["inputs"] else "",
                "x".join(map(str, r["output"][0])) if r["output"] else "",
                fmt(r["seconds"] * 1e3, ".1f"),
                fmt(100 * r["share"], ".1f", " %"),
            ]
            for r in ort["nodes"]
        ],
    )
    print()


# ---------------------------------------------------------------- main


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--models", nargs="+", default=None, help="model ids (default: all but the test model)"
    )
    parser.add_argument("--photos", type=Path, default=DEFAULT_PHOTOS, help="folder with the photos")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per photo (median kept)")
    parser.add_argument("--json", type=Path, default=None, help="also write every number to this file")
    parser.add_argument("--effort", type=int, default=None, help="the writer's effort (default: its own)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not features.check("avif"):
        raise SystemExit("the comparison needs Pillow with AVIF")
    model_ids = args.models or default_models()
    options = {"effort": api.EFFORT if args.effort is None else args.effort}
    if not model_ids:
        raise SystemExit("no model to measure")
    photos = select_photos(args.photos)
    if not photos:
        raise SystemExit(f"no 768x512 or 512x768 photo in {args.photos}")
    quality_module, _ = rd.load_quality_module()
    score = rd.Scorer(quality_module)
    rd.log(f"{len(photos)} photos, models: {', '.join(model_ids)}")
    started = time.perf_counter()

    rd.log("peak: MatMul")
    peaks = [matmul_rate()]
    results: dict[str, dict] = {}
    profile: dict = {}
    for model_id in model_ids:
        facts = model_facts(model_id)
        loaded = models.load_model(model_id)
        decoder_graphs = {"decoder_run": (loaded.decoder, "run")}
        if loaded.synthesis is not None:
            decoder_graphs["synthesis_run"] = (loaded.synthesis, "run")
        dec_watch = PhaseWatch(DECODE_PHASES, decoder_graphs)
        enc_watch = PhaseWatch(ENCODE_PHASES, {"encoder_run": (loaded.encoder, "run"), **decoder_graphs})
        rows = []
        for path, im, ref in photos:
            start = time.perf_counter()
            rows.append(
                measure_photo(
                    model_id, facts, path, im, ref, score, args.repeat, dec_watch, enc_watch, options
                )
            )
            rd.log(f"  {model_id} {path.name}: {time.perf_counter() - start:.0f} s")
        summary = {
            key: statistics.fmean(r[key] for r in rows)
            for key in ("iterations", "encode_s", "decode_s", "avif_encode_s", "avif_decode_s")
        }
        summary["encode_ratio"] = geomean([r["encode_ratio"] for r in rows])
        summary["decode_ratio"] = geomean([r["decode_ratio"] for r in rows])
        summary["decoder_gmacs"] = (
            sum(r["decoder_macs"] for r in rows) / sum(r["decoder_run_s"] for r in rows) / 1e9
        )
        results[model_id] = {"facts": facts, "summary": summary, "photos": rows}

        if not profile:  # where the time goes, for the first model
            rd.log(f"  {model_id}: profiles")
            dec = dec_watch.per_run()
            enc = enc_watch.per_run()
            path, im, _ = photos[0]
            data = pillow_rgc.encode(im, quality=QUALITY, model=model_id, **options)
            profile = {
                "model": model_id,
                "photo": path.name,
                "mean_iterations": summary["iterations"],
                "decode_runs": dec_watch.runs,
                "decode_total_s": dec["total"],
                "decode_phases": exclusive_phases(
                    {GRAPH_PHASES.get(k, k): v for k, v in dec.items()},
                    {"bits to floats, accumulate": [GRAPH_PHASES["decoder_run"]]},
                    beside=("entropy decoding",),
                ),
                "encode_runs": enc_watch.runs,
                "encode_total_s": enc["total"],
                "encode_phases": exclusive_phases({GRAPH_PHASES.get(k, k): v for k, v in enc.items()}, {}),
                "cprofile": cprofile_decode(data),
                "onnxruntime": ort_profile_decode(model_id, data),
            }

    rd.log("peak: MatMul again")
    peaks.append(matmul_rate())
    peak = {
        "size": MATMUL_SIZE,
        "threads": peaks[0]["threads"],
        "best_gmacs": max(p["best_gmacs"] for p in peaks),
        "measurements": peaks,
    }
    for result in results.values():
        result["summary"]["peak_share"] = result["summary"]["decoder_gmacs"] / peak["best_gmacs"]

    print(
        f"Speed on {len(photos)} photos of {args.photos} ({', '.join(p.name for p, _, _ in photos)}); "
        f"onnxruntime {onnxruntime.__version__}, {models.THREADS} threads per session\n"
    )
    print(
        "MatMul peak: "
        + ", then ".join(f"best {p['best_gmacs']:.1f} / median {p['median_gmacs']:.1f} GMAC/s" for p in peaks)
        + "\n"
    )
    print_photo_table(results)
    print_model_table(results, peak)
    print_profile(profile)

    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        out = {
            "meta": {
                "photos": [str(p) for p, _, _ in photos],
                "models": model_ids,
                "quality": QUALITY,
                "effort": options["effort"],
                "repeat": args.repeat,
                "threads": models.THREADS,
                **rd.run_facts(started),
            },
            "peak": peak,
            "models": results,
            "profile": profile,
        }
        args.json.write_text(json.dumps(rd.jsonable(out), indent=1, ensure_ascii=False) + "\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
