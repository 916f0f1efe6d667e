"""Replays the fuzzer's seeds and every saved fuzz finding through the fuzz harness (no atheris needed).

``tests/fuzz/harness.py`` feeds the bytes to ``Image.open`` + ``load`` (and
verify, a draft decode, ``ImageFile.Parser``) and to ``pillow_rgc.api.info``
and ``decode``; only the exceptions Pillow users handle may come out, and no
call may take (or, by the work and memory guards, be about to take) more than
10 s or allocate past Pillow's decompression-bomb limit. ``tests/fuzz/README.md``
says how to run the fuzzer and how a finding becomes a file here.

The ``bomb-*`` files are ~100-byte files claiming huge pictures (a coding-1
payload of parameters alone is a whole bitplane): they must be refused with
``DecompressionBombError`` before the decoder allocates anything
(``api.check_decode_limits``).
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image, ImageFile

from pillow_rgc import api, codec, container, entropy

from .fuzz import harness

HERE = Path(__file__).resolve().parent
SEEDS = sorted((HERE / "fuzz" / "seeds").glob("*.rgc"))
REGRESSIONS = sorted((HERE / "fuzz_regressions").glob("*.rgc"))


@pytest.mark.parametrize("path", SEEDS, ids=[path.name for path in SEEDS])
def test_seed_decodes(path):
    assert harness.exercise(path.read_bytes()), f"{path.name} no longer loads through Image.open"


@pytest.mark.parametrize("path", REGRESSIONS, ids=[path.name for path in REGRESSIONS])
def test_fuzz_regression_raises_only_allowed_errors(path):
    harness.exercise(path.read_bytes())


def test_there_are_seeds_and_regressions():
    assert len(SEEDS) >= 10 and REGRESSIONS


BOMBS = [path for path in REGRESSIONS if path.name.startswith("bomb-")]


@pytest.mark.parametrize("path", BOMBS, ids=[path.name for path in BOMBS])
def test_bombs_are_refused_at_open_and_by_the_api_before_decoding(path, monkeypatch):
    data = path.read_bytes()
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)  # keeps damaged ones open up to the damage
    with pytest.raises(Image.DecompressionBombError):
        Image.open(io.BytesIO(data))
    with pytest.raises((Image.DecompressionBombError, container.RGCFormatError)):  # some are damaged too
        api.decode(data)


def test_harness_reports_an_exception_outside_the_allowed_ones(monkeypatch):
    def broken(data):
        raise KeyError("a reader bug")

    monkeypatch.setattr(api, "info", broken)
    with pytest.raises(KeyError):
        harness.exercise(SEEDS[0].read_bytes())


def test_harness_reports_work_beyond_its_limit_as_a_hang(monkeypatch):
    monkeypatch.setattr(harness, "WORK_LIMIT", 100)
    with pytest.raises(harness.Hang):
        harness.exercise(SEEDS[0].read_bytes())


def test_harness_reports_an_input_taking_too_long_as_a_hang(monkeypatch):
    monkeypatch.setattr(harness, "TIME_LIMIT", 0.0)
    with pytest.raises(harness.Hang):
        harness.exercise(SEEDS[0].read_bytes())


def test_harness_guards_are_removed_after_each_input():
    def patched():
        return codec.Reconstruction.__init__, codec.Reconstruction.add, entropy.decode_bitplane

    before = patched()
    harness.exercise(SEEDS[0].read_bytes())
    assert patched() == before
