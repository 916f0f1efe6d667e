"""One MS-SSIM scale in onnxruntime: the rate control's scores, ~2.7x faster than in numpy.

``ssim_scale.onnx`` (written by ``python -m pillow_rgc.training.export_ssim``)
repeats ``quality._ssim_cs`` in float32 and returns per-row sums of the SSIM
and contrast-structure maps; the means are taken here in float64, so a score
differs from numpy's by less than 1e-7. Inputs, all float32, for C channels:

* ``y``: (C, 1, H, W) the image scored, 0..255 (pooled at coarser scales);
* ``x_shifted``: (C, 1, H, W) the reference minus 127.5;
* ``x_mean``, ``x_mean_square``: (C, 1, H', W') the reference's filtered
  statistics (``quality._filtered_statistics``), H' = H - window + 1;
* ``window_rows``, ``window_columns``: the 1-D Gaussian as (1, 1, k, 1) and (1, 1, 1, k).
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import onnxruntime

from .models import graph_session

GRAPH_FILE = Path(__file__).with_name("ssim_scale.onnx")


@functools.cache
def _session() -> onnxruntime.InferenceSession:
    return graph_session(GRAPH_FILE)


class ScaleWindow:
    """A Gaussian window in the two shapes the graph takes."""

    def __init__(self, window: np.ndarray):
        taps = np.asarray(window, dtype=np.float32)
        self.rows = taps.reshape(1, 1, -1, 1)
        self.columns = taps.reshape(1, 1, 1, -1)


def ssim_cs(
    x_shifted: np.ndarray, x_statistics: np.ndarray, y: np.ndarray, window: ScaleWindow
) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel SSIM and contrast-structure means of one scale, float64, as ``quality._ssim_cs``.

    ``x_shifted`` is (C, 1, H, W) float32; ``x_statistics`` (2, C, H', W') float32;
    ``y`` (C, H, W), any float dtype.
    """
    channels, height, width = y.shape
    valid = x_statistics.shape[2] * x_statistics.shape[3]
    feed = {
        "y": np.ascontiguousarray(y, dtype=np.float32).reshape(channels, 1, height, width),
        "x_shifted": x_shifted,
        "x_mean": x_statistics[0][:, None],
        "x_mean_square": x_statistics[1][:, None],
        "window_rows": window.rows,
        "window_columns": window.columns,
    }
    ssim_rows, cs_rows = _session().run(None, feed)
    return (
        ssim_rows.sum(axis=(1, 2), dtype=np.float64) / valid,
        cs_rows.sum(axis=(1, 2), dtype=np.float64) / valid,
    )
