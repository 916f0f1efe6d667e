"""Write ``pillow_rgc/ssim_scale.onnx``, one MS-SSIM scale as an onnxruntime graph.

The writer's rate control scores a reconstruction after every iteration; in
numpy the finest scale's filtering and arithmetic take ~40 ms on a 768x512
photo, in onnxruntime ~15 ms (two threads, fused passes). The graph repeats
``quality._ssim_cs`` operation for operation, in float32 as it does, and leaves
the means to the caller: it returns per-row sums, which the caller adds in
float64, so scores agree with numpy's within 1e-7.

Built with ``onnx.helper`` (the runtime needs only onnxruntime), so the file is
reproducible: ``python -m pillow_rgc.training.export_ssim`` rewrites it byte for
byte, which a test checks.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import onnx
from onnx import TensorProto, helper

from ..quality import _C1, _C2, _SHIFT
from ..ssim_onnx import GRAPH_FILE

OPSET = 18
"""Split with ``num_outputs`` needs 18; onnxruntime runs it from 1.14."""


def _constant(name: str, value: float) -> onnx.TensorProto:
    return helper.make_tensor(name, TensorProto.FLOAT, [], [value])


def build() -> onnx.ModelProto:
    """The graph: inputs and outputs as documented in :mod:`pillow_rgc.ssim_onnx`."""
    level = ["channels", 1, "height", "width"]
    valid = ["channels", 1, "valid_height", "valid_width"]
    inputs = [
        helper.make_tensor_value_info("y", TensorProto.FLOAT, level),
        helper.make_tensor_value_info("x_shifted", TensorProto.FLOAT, level),
        helper.make_tensor_value_info("x_mean", TensorProto.FLOAT, valid),
        helper.make_tensor_value_info("x_mean_square", TensorProto.FLOAT, valid),
        helper.make_tensor_value_info("window_rows", TensorProto.FLOAT, [1, 1, "window", 1]),
        helper.make_tensor_value_info("window_columns", TensorProto.FLOAT, [1, 1, 1, "window"]),
    ]
    rows = ["channels", 1, "valid_height"]
    outputs = [
        helper.make_tensor_value_info("ssim_row_sums", TensorProto.FLOAT, rows),
        helper.make_tensor_value_info("cs_row_sums", TensorProto.FLOAT, rows),
    ]
    initializers = [
        _constant("shift", _SHIFT),
        _constant("two", 2.0),
        _constant("c1", _C1),
        _constant("c2", _C2),
        helper.make_tensor("last_axis", TensorProto.INT64, [1], [3]),
    ]
    node = helper.make_node
    nodes = [
        # The three planes to filter, as numpy stacks them: y, y^2, x*y (shifted values).
        node("Sub", ["y", "shift"], ["ys"]),
        node("Mul", ["ys", "ys"], ["yy"]),
        node("Mul", ["x_shifted", "ys"], ["xy"]),
        node("Concat", ["ys", "yy", "xy"], ["planes"], axis=0),
        node("Conv", ["planes", "window_rows"], ["filtered_rows"]),
        node("Conv", ["filtered_rows", "window_columns"], ["filtered"]),
        node("Split", ["filtered"], ["my", "myy", "mxy"], axis=0, num_outputs=3),
        # sigma_x^2 + sigma_y^2 + C2, in numpy's order.
        node("Add", ["x_mean_square", "myy"], ["v1"]),
        node("Mul", ["x_mean", "x_mean"], ["mx2"]),
        node("Sub", ["v1", "mx2"], ["v2"]),
        node("Mul", ["my", "my"], ["my2"]),
        node("Sub", ["v2", "my2"], ["v3"]),
        node("Add", ["v3", "c2"], ["variances"]),
        # 2 sigma_xy + C2, then contrast-structure.
        node("Mul", ["x_mean", "my"], ["mxmy"]),
        node("Sub", ["mxy", "mxmy"], ["s1"]),
        node("Mul", ["s1", "two"], ["s2"]),
        node("Add", ["s2", "c2"], ["covariance"]),
        node("Div", ["covariance", "variances"], ["cs"]),
        # Luminance on the unshifted means.
        node("Add", ["x_mean", "shift"], ["mean_x"]),
        node("Add", ["my", "shift"], ["mean_y"]),
        node("Mul", ["mean_x", "mean_y"], ["l1"]),
        node("Mul", ["l1", "two"], ["l2"]),
        node("Add", ["l2", "c1"], ["l3"]),
        node("Mul", ["mean_x", "mean_x"], ["sx"]),
        node("Mul", ["mean_y", "mean_y"], ["sy"]),
        node("Add", ["sx", "sy"], ["sxy"]),
        node("Add", ["sxy", "c1"], ["l4"]),
        node("Div", ["l3", "l4"], ["luminance"]),
        node("Mul", ["luminance", "cs"], ["ssim"]),
        node("ReduceSum", ["ssim", "last_axis"], ["ssim_row_sums"], keepdims=0),
        node("ReduceSum", ["cs", "last_axis"], ["cs_row_sums"], keepdims=0),
    ]
    graph = helper.make_graph(nodes, "ssim_scale", inputs, outputs, initializers)
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="pillow_rgc"
    )
    model.ir_version = 8  # onnxruntime 1.14 reads up to 8
    onnx.checker.check_model(model, full_check=True)
    return model


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=GRAPH_FILE, help=f"default: {GRAPH_FILE}")
    args = parser.parse_args(argv)
    args.out.write_bytes(build().SerializeToString())
    print(f"wrote {args.out} ({args.out.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
