"""Damaged or hostile input through Pillow: only clear exceptions, never a crash or a hang."""

from __future__ import annotations

import io
import tracemalloc
import warnings

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, UnidentifiedImageError

import pillow_rgc
from pillow_rgc import container

from .conftest import TEST_MODEL, synthetic_photo

VALID = pillow_rgc.encode(synthetic_photo(40, 33), iterations=3, model=TEST_MODEL)
SEGMENTED = pillow_rgc.encode(
    synthetic_photo(64, 48), iterations=3, model="rgc-tiny-test-prior", segmented=True
)
"""Coding-4 chunks: a cut one is read without its CRC, so damage there reaches the segment parser."""


def open_and_load(data: bytes) -> None:
    """Open then load, as a user would; the exceptions Pillow users handle are allowed.

    Only this plugin is asked (``formats``), so the errors are its own, not those of
    another plugin that claims the mutated bytes (BMP raises OSError for a bad depth).
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(data), formats=["RGC"])
    except (UnidentifiedImageError, pillow_rgc.RGCFormatError, Image.DecompressionBombError):
        return
    with im, warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            im.load()
        except (OSError, ValueError, Image.DecompressionBombError):
            return


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300))
def test_arbitrary_bytes(data):
    open_and_load(data)
    open_and_load(container.SIGNATURE + data)


@st.composite
def mutated(draw, source=VALID):
    data = bytearray(source)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "cut", "splice", "set"]))
        position = draw(st.integers(0, len(data) - 1))
        if kind == "flip":
            data[position] ^= 1 << draw(st.integers(0, 7))
        elif kind == "cut":
            del data[position:]
        elif kind == "splice":
            start = draw(st.integers(0, len(data) - 1))
            data[position:position] = data[start : start + draw(st.integers(1, 64))]
        else:
            data[position : position + 4] = draw(st.binary(min_size=4, max_size=4))
        if not data:
            break
    return bytes(data)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutated_valid_files(data):
    open_and_load(data)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated(SEGMENTED))
def test_mutated_segmented_files(data):
    open_and_load(data)


@pytest.mark.parametrize("size", [(65536, 65536), (1 << 24, 12000)])
def test_absurd_size_is_refused_before_allocation(size):
    header = container.Header(
        **{
            **container.read(VALID).header.__dict__,
            "width": size[0],
            "height": size[1],
            "code_channels": 1,
            "code_stride": 255,  # keeps the one ITER chunk this file needs small
            "iterations": 1,
        }
    )
    data = container.write(header, [(0, b"\0" * header.raw_payload_size())])
    tracemalloc.start()
    with pytest.raises(Image.DecompressionBombError):
        Image.open(io.BytesIO(data))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 4 * len(data) + (1 << 20)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_damage_inside_a_cut_coding_4_chunk_gives_a_picture_or_a_clear_error(data):
    """A cut chunk has no CRC to check: its segments reach the parser and the rANS decoder as they are."""
    last = container.read(SEGMENTED).iterations[-1]
    start = last.offset + 8 + 3  # the chunk's payload: segment_channels, then lengths and words
    end = data.draw(st.integers(start + 1, last.offset + last.size - 4))
    damaged = bytearray(SEGMENTED[:end])
    position = data.draw(st.integers(start, end - 1))
    damaged[position] ^= 1 << data.draw(st.integers(0, 7))
    open_and_load(bytes(damaged))
