"""The `rgc` command: encode, decode, info, truncate, models."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
from PIL import Image

import pillow_rgc
from pillow_rgc.cli import main

from .conftest import TEST_MODEL


def test_encode_info_truncate_decode(tmp_path, photo, capsys):
    source, encoded, cut, decoded = (tmp_path / n for n in ("in.png", "x.rgc", "cut.rgc", "out.png"))
    photo.save(source)
    assert main(["encode", str(source), str(encoded), "--model", TEST_MODEL, "-n", "3"]) == 0
    assert main(["info", str(encoded), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out.split("\n", 1)[1])
    assert summary["iterations_present"] == 3 and len(summary["chunks"]) == 3
    assert main(["truncate", str(encoded), str(cut), "-n", "1"]) == 0
    assert pillow_rgc.info(cut.read_bytes())["iterations_present"] == 1
    assert main(["decode", str(cut), str(decoded)]) == 0
    with Image.open(decoded) as im:
        assert im.format == "PNG" and im.size == photo.size
        np.testing.assert_array_equal(np.asarray(im), np.asarray(pillow_rgc.decode(cut.read_bytes())))


def test_info_prints_a_readable_summary(tmp_path, photo, capsys):
    path = tmp_path / "x.rgc"
    path.write_bytes(pillow_rgc.encode(photo, iterations=2, model=TEST_MODEL))
    assert main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    assert "96x80 RGB" in out and "2 of 2 iterations (complete)" in out and "iteration  2" in out


def test_bad_input_is_a_clear_error_and_writes_nothing(tmp_path, capsys):
    junk = tmp_path / "junk.rgc"
    junk.write_bytes(b"not an rgc file at all")
    assert main(["decode", str(junk), str(tmp_path / "out.png")]) == 1
    assert "rgc: error:" in capsys.readouterr().err
    assert not (tmp_path / "out.png").exists()
    assert main(["encode", str(junk), str(tmp_path / "x.rgc")]) == 1
    assert not (tmp_path / "x.rgc").exists()


def test_models_lists_installed_models(capsys):
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert TEST_MODEL in out
    fast = next(line for line in out.splitlines() if line.startswith("rgc-fast-1:"))
    assert "decoder 4432 MACs/pixel/iteration + one-shot synthesis 3168 once" in fast


def test_python_dash_m_runs_the_cli():
    result = subprocess.run([sys.executable, "-m", "pillow_rgc", "models"], capture_output=True, text=True)
    assert result.returncode == 0 and TEST_MODEL in result.stdout


def test_encode_keeps_the_source_metadata(tmp_path):
    source, encoded = tmp_path / "in.png", tmp_path / "x.rgc"
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation
    Image.new("RGB", (20, 12), (10, 120, 200)).save(source, exif=exif, icc_profile=b"fake icc")
    assert main(["encode", str(source), str(encoded), "--model", TEST_MODEL, "-n", "1"]) == 0
    with Image.open(encoded) as im:
        assert im.info["icc_profile"] == b"fake icc"
        assert im.getexif()[0x0112] == 6


def test_encode_tile_side_writes_a_tiled_file_that_info_describes(tmp_path, photo, capsys):
    source, encoded = tmp_path / "in.png", tmp_path / "x.rgc"
    photo.save(source)
    args = ["encode", str(source), str(encoded), "--model", TEST_MODEL, "-n", "2", "--tile-side", "48"]
    assert main(args) == 0
    capsys.readouterr()
    assert main(["info", str(encoded), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["format_version"] == "3.0"
    assert (summary["tiles"], summary["tile_width"], summary["tile_height"]) == (4, 48, 48)
    assert main(["info", str(encoded)]) == 0
    assert "4 tiles of 48x48, overlapping by 16" in capsys.readouterr().out
