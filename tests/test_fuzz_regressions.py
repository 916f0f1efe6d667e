"""Replays the fuzzer's seeds and every saved fuzz finding through the fuzz harness (no atheris needed).

``tests/fuzz/harness.py`` feeds the bytes to ``Image.open`` + ``load`` (and
verify, a draft decode, ``ImageFile.Parser``) and to ``pillow_rgc.api.info``
and ``decode``; only the exceptions Pillow users handle may come out, and no
call may take (or, by the work and memory guards, be about to take) more than
10 s or allocate past Pillow's decompression-bomb limit. ``tests/fuzz/README.md``
says how to run the fuzzer and how a finding becomes a file here.

Files of ``tests/fuzz_regressions`` that reproduce a bug not fixed yet are
named with a prefix of ``KNOWN_BUGS`` and expected to fail (strictly: once
the bug is fixed, their tests say so, and the entry goes).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pillow_rgc import api, codec, entropy

from .fuzz import harness

HERE = Path(__file__).resolve().parent
SEEDS = sorted((HERE / "fuzz" / "seeds").glob("*.rgc"))
REGRESSIONS = sorted((HERE / "fuzz_regressions").glob("*.rgc"))

_BOMB = (
    "a coding-1 ITER payload of parameters and no coded words is a valid all -1 bitplane of any size, so "
    "a file of about 100 bytes can claim a huge picture: "
)
KNOWN_BUGS = {
    "bomb-pillow-": _BOMB
    + "Image.open accepts it (8192x8192, 768x65536 or 1536x65536 px: within MAX_IMAGE_PIXELS) and load() "
    "would run the decoder network over all of it, ~240 bytes of decoder memory per pixel (16 GB for "
    "8192x8192) and about a minute of CPU per iteration; decode work (padded pixels x iterations) has no "
    "limit and no relation to the file size",
    "bomb-pillow-thin-": _BOMB
    + "16777216x1 passes Pillow's pixel check (16.7 Mpx) but the decoder pads the height to the code "
    "stride: 16777216x16 = 268 Mpx of decoder buffers, 16 times what the check allowed (MemoryError)",
    "bomb-api-decode-": _BOMB
    + "Image.open refuses it (DecompressionBombError) but pillow_rgc.api.decode has no pixel limit and "
    "allocates decoder buffers for it (numpy MemoryError, or the OOM killer, instead of a clean error)",
}
"""File name prefix -> the bug its files reproduce (the longest matching prefix applies)."""


def known_bug(name: str) -> str | None:
    prefixes = [prefix for prefix in KNOWN_BUGS if name.startswith(prefix)]
    return KNOWN_BUGS[max(prefixes, key=len)] if prefixes else None


def _params(paths: list[Path]) -> list:
    def marks(path: Path) -> list:
        known = known_bug(path.name)
        return [pytest.mark.xfail(strict=True, raises=harness.Finding, reason=known)] if known else []

    return [pytest.param(path, id=path.name, marks=marks(path)) for path in paths]


@pytest.mark.parametrize("path", _params(SEEDS))
def test_seed_decodes(path):
    assert harness.exercise(path.read_bytes()), f"{path.name} no longer loads through Image.open"


@pytest.mark.parametrize("path", _params(REGRESSIONS))
def test_fuzz_regression_raises_only_allowed_errors(path):
    harness.exercise(path.read_bytes())


def test_there_are_seeds_and_regressions_and_every_known_bug_has_its_files():
    assert len(SEEDS) >= 10 and REGRESSIONS
    for prefix in KNOWN_BUGS:
        assert any(known_bug(path.name) == KNOWN_BUGS[prefix] for path in REGRESSIONS), prefix


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
