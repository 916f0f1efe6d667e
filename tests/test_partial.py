"""ITER coding 4 and partial last iterations: round trips, the rules, the writer's rate control, tiles."""

from __future__ import annotations

import io

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

import pillow_rgc
from pillow_rgc import api, codec, container, entropy, models, prior_coding
from pillow_rgc.quality import ms_ssim

from .conftest import TEST_MODEL, synthetic_photo
from .test_prior_coding import PRIOR_MODEL, random_prior, related_planes

FAST = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def whole_iterations_only(bits, reconstruction, reached, room, whole, prefixes):
    """The writer's rate control before coding 4: the last iteration whole, or not at all."""
    return whole if len(whole[1]) <= room else None


# --- the payload -------------------------------------------------------------------


@FAST
@given(
    shape=st.tuples(st.integers(1, 7), st.integers(1, 6), st.integers(1, 6)),
    segment_channels=st.integers(1, 7),
    seed=st.integers(0, 2**16),
    data=st.data(),
)
def test_coding_4_decodes_the_channels_of_the_segments_it_holds(shape, segment_channels, seed, data):
    channels = shape[0]
    segment_channels = min(segment_channels, channels)
    segments = data.draw(st.integers(1, prior_coding.segment_count(channels, segment_channels)))
    prior = random_prior(seed, channels)
    planes = related_planes(seed, shape, iterations=3)
    payload = prior_coding.encode_segmented(planes[2], planes[:2], prior, segment_channels)[segments - 1]
    known = min(segments * segment_channels, channels)
    assert entropy.payload_problem(entropy.SEGMENTED, payload, shape, 2) is None
    assert entropy.known_channels(entropy.SEGMENTED, payload, channels) == known
    decoded = entropy.decode_bitplane(entropy.SEGMENTED, payload, shape, planes[:2], prior)
    assert np.array_equal(decoded, planes[2][:known])


def test_a_whole_coding_4_payload_holds_coding_3s_bits_at_a_few_bytes_a_segment():
    prior = random_prior(1, 8)
    planes = related_planes(1, (8, 12, 16), iterations=2)
    coding3 = prior_coding.encode_prior(planes[1], planes[:1], prior)
    coding4 = prior_coding.encode_segmented(planes[1], planes[:1], prior, 2)[3]
    assert np.array_equal(
        entropy.decode_bitplane(entropy.SEGMENTED, coding4, (8, 12, 16), planes[:1], prior), planes[1]
    )
    assert len(coding3) < len(coding4) <= len(coding3) + 1 + 4 * (4 + 8)


def test_damaged_coding_4_payloads_are_refused_with_the_reason():
    prior = random_prior(2, 4)
    planes = related_planes(2, (4, 6, 6), iterations=2)
    payload = prior_coding.encode_segmented(planes[1], planes[:1], prior, 2)[1]
    first_length = int.from_bytes(payload[1:5], "big")
    problems = {
        b"": "empty",
        b"\0" + payload[1:]: "channels per segment",
        b"\5" + payload[1:]: "channels per segment",
        payload[:3]: "inside a segment length",
        payload[:-1]: "beyond the payload",
        payload + b"\0\0\0\0": "after the last",
        payload[:1] + (first_length + 1).to_bytes(4, "big") + payload[5 : 6 + first_length]: "multiple of 4",
    }
    for damaged, reason in problems.items():
        assert reason in entropy.payload_problem(entropy.SEGMENTED, damaged, (4, 6, 6), 1)
    words_too_many = payload[:1] + (first_length + 4).to_bytes(4, "big") + b"\0\0\0\1" + payload[5:]
    assert entropy.payload_problem(entropy.SEGMENTED, words_too_many, (4, 6, 6), 1) is None
    with pytest.raises(entropy.PayloadError, match="left over"):
        entropy.decode_bitplane(entropy.SEGMENTED, words_too_many, (4, 6, 6), planes[:1], prior)


# --- the file rules --------------------------------------------------------------------


@pytest.fixture(scope="module")
def partial_file() -> bytes:
    """A file whose last iteration is partial: 3 whole iterations and the first 3 segments of the 4th."""
    parsed = container.read(pillow_rgc.encode(synthetic_photo(96, 80), iterations=4, model=PRIOR_MODEL))
    planes = api.read_bitplanes(parsed)
    prior = models.load_model(PRIOR_MODEL).prior
    payloads = [(chunk.coding, chunk.payload) for chunk in parsed.iterations[:3]]
    payloads.append(
        (
            entropy.SEGMENTED,
            entropy.encode_segmented(planes[3], planes[:3], prior, entropy.PARTIAL_SEGMENTS)[2],
        )
    )
    header = container.Header(**{**parsed.header.__dict__, "version": (2, 2)})
    return container.write(header, payloads)


def test_a_partial_last_iteration_reads_as_its_first_channels(partial_file):
    parsed = container.read(partial_file)
    planes = api.read_bitplanes(parsed)
    assert [len(bits) for bits in planes] == [8, 8, 8, 3]
    whole = pillow_rgc.encode(synthetic_photo(96, 80), iterations=4, model=PRIOR_MODEL)
    assert np.array_equal(planes[3], api.read_bitplanes(container.read(whole))[3][:3])
    raw_bits = [chunk["raw_bits"] for chunk in pillow_rgc.info(partial_file)["chunks"]]
    assert raw_bits == [8 * 5 * 6] * 3 + [3 * 5 * 6]


def test_the_decoder_network_reads_the_missing_channels_as_zero(partial_file):
    parsed = container.read(partial_file)
    loaded = models.load_model(PRIOR_MODEL)
    planes = api.read_bitplanes(parsed)
    states = loaded.zero_decoder_states(80, 96)
    total = 0
    for bits in planes:
        signs = np.zeros((1, 8, *bits.shape[1:]), np.float32)
        signs[0, : len(bits)] = np.where(bits, 1.0, -1.0)
        delta, states = loaded.decode_step(signs, states)
        total = total + delta
    expected = codec.to_pixels(total, 80, 96)
    assert np.array_equal(np.asarray(pillow_rgc.decode(partial_file)), expected)
    assert not np.array_equal(expected, np.asarray(pillow_rgc.decode(partial_file, iterations=3)))


def test_a_partial_iteration_before_the_last_is_refused_by_the_writer_and_the_reader(partial_file):
    parsed = container.read(partial_file)
    payloads = [(chunk.coding, chunk.payload) for chunk in parsed.iterations]
    early = [payloads[0], payloads[3], payloads[2]]
    header = container.Header(**{**parsed.header.__dict__, "iterations": 3})
    with pytest.raises(ValueError, match="partial iteration"):
        container.write(header, early)
    assert "partial iteration" in container._payload_problem(header, *payloads[3], 1, set())[0]


def test_coding_4_is_refused_in_the_first_iteration_and_before_version_2_2(partial_file):
    parsed = container.read(partial_file)
    payloads = [(chunk.coding, chunk.payload) for chunk in parsed.iterations]
    header = container.Header(**{**parsed.header.__dict__, "iterations": 1})
    with pytest.raises(ValueError, match="first iteration"):
        container.write(header, [payloads[3]])
    older = container.Header(**{**parsed.header.__dict__, "version": (2, 1)})
    with pytest.raises(ValueError, match="version"):
        container.write(older, payloads)
    assert "needs 2.2" in container._coding_problem((2, 1), entropy.SEGMENTED)


def test_a_reader_without_coding_4_keeps_the_whole_iterations(partial_file, monkeypatch):
    monkeypatch.delitem(container.CODING_VERSION, container.CODING_SEGMENTED)
    with pytest.raises(container.CorruptChunkError, match="unsupported coding 4"):
        container.read(partial_file)
    assert len(container.read(partial_file, on_corrupt="stop").iterations) == 3


def test_a_cut_inside_a_coding_4_chunk_decodes_its_complete_segments(partial_file):
    parsed = container.read(partial_file)
    last = parsed.iterations[-1]
    prior = models.load_model(PRIOR_MODEL).prior
    whole = pillow_rgc.encode(synthetic_photo(96, 80), iterations=4, model=PRIOR_MODEL)
    planes = api.read_bitplanes(container.read(whole))
    payloads = [(chunk.coding, chunk.payload) for chunk in parsed.iterations[:3]]
    ends = {}  # bytes of the chunk's data -> segments complete there
    for segments in (1, 2, 3):
        payload = entropy.encode_segmented(planes[3], planes[:3], prior, entropy.PARTIAL_SEGMENTS)[
            segments - 1
        ]
        ends[container._ITER_FIXED + len(payload)] = (segments, payload)
    for data_bytes in range(1, last.size - 8):  # every cut inside the chunk, its CRC included
        cut = partial_file[: last.offset + 8 + data_bytes]
        held = [(n, p) for end, (n, p) in ends.items() if end <= data_bytes]
        scanned = container.scan(io.BytesIO(cut))
        parsed_cut = container.read(cut)
        assert not parsed_cut.complete and scanned.iterations == len(parsed_cut.iterations) == 3 + bool(held)
        if held:
            segments, payload = held[-1]
            assert parsed_cut.iterations[-1].cut and len(api.read_bitplanes(parsed_cut)[-1]) == segments
            header = container.Header(**{**parsed.header.__dict__, "version": (2, 2)})
            made = container.write(header, [*payloads, (entropy.SEGMENTED, payload)])
            assert np.array_equal(np.asarray(pillow_rgc.decode(cut)), np.asarray(pillow_rgc.decode(made)))


def test_a_cut_inside_a_coding_3_chunk_still_ends_at_the_chunk_before():
    data = pillow_rgc.encode(synthetic_photo(96, 80), iterations=3, model=PRIOR_MODEL)
    last = container.read(data).iterations[-1]
    assert last.coding == entropy.PRIOR
    assert len(container.read(data[: last.offset + last.size - 2]).iterations) == 2


def test_a_stream_decoder_redoes_a_cut_iteration_when_the_rest_arrives(partial_file):
    last = container.read(partial_file).iterations[-1]
    cut = partial_file[: last.offset + last.size - 5]  # a byte short of the last segment, and no CRC
    decoder = api.Decoder(container.read(cut).header)
    decoder.pixels(container.read(cut))
    assert decoder.reconstruction.last_channels < 3
    more = decoder.pixels(container.read(partial_file))
    assert np.array_equal(more, np.asarray(pillow_rgc.decode(partial_file)))


# --- the writer's rate control ------------------------------------------------------------


@pytest.fixture(scope="module")
def photo():
    """Big enough that a segment's bits outweigh its few bytes of framing, with the tiny model."""
    return synthetic_photo(512, 384, seed=3)


def test_a_quality_target_ends_with_the_fewest_segments_that_reach_it(photo, monkeypatch):
    target = 0.5  # the tiny test model's iteration 4 crosses it
    data = pillow_rgc.encode(photo, quality=target, model=PRIOR_MODEL)
    parsed = container.read(data)
    assert parsed.header.version == (2, 2) and parsed.iterations[-1].coding == entropy.SEGMENTED
    reached = ms_ssim(np.asarray(photo), np.asarray(pillow_rgc.decode(data)))
    assert reached >= target
    planes = api.read_bitplanes(parsed)
    fewer = [*planes[:-1], planes[-1][:-1]]  # one channel (one segment of this model) less
    short = codec.decode_pixels(models.load_model(PRIOR_MODEL), fewer, photo.height, photo.width)
    assert ms_ssim(np.asarray(photo), short) < target
    monkeypatch.setattr(api, "_last_iteration", whole_iterations_only)
    assert len(pillow_rgc.encode(photo, quality=target, model=PRIOR_MODEL)) > len(data)


def test_the_last_iteration_has_its_own_finer_segments(photo, monkeypatch):
    """Whole iterations of a segmented file use PARTIAL_SEGMENTS, the cut last one LAST_SEGMENTS."""
    monkeypatch.setattr(entropy, "PARTIAL_SEGMENTS", 2)  # 4 channels a segment for the 8-channel model
    monkeypatch.setattr(entropy, "LAST_SEGMENTS", 4)  # 2 channels a segment
    three, four = (pillow_rgc.encode(photo, iterations=n, model=PRIOR_MODEL, segmented=True) for n in (3, 4))
    budget = (len(three) + len(four)) // 2
    parsed = container.read(pillow_rgc.encode(photo, max_bytes=budget, model=PRIOR_MODEL, segmented=True))
    *whole, last = parsed.iterations[1:]
    assert whole and {chunk.payload[0] for chunk in whole} == {4}
    assert last.coding == entropy.SEGMENTED and last.payload[0] == 2


def test_max_bytes_fills_the_budget_with_segments(photo, monkeypatch):
    two, three = (len(pillow_rgc.encode(photo, iterations=n, model=PRIOR_MODEL)) for n in (2, 3))
    budget = (two + three) // 2
    data = pillow_rgc.encode(photo, max_bytes=budget, model=PRIOR_MODEL)
    assert len(data) <= budget
    parsed = container.read(data)
    assert len(parsed.iterations) == 3 and parsed.iterations[-1].coding == entropy.SEGMENTED
    segments = prior_coding.segments_of(parsed.iterations[-1].payload, 8)
    whole_third = container.read(pillow_rgc.encode(photo, iterations=3, model=PRIOR_MODEL, segmented=True))
    following = prior_coding.segments_of(whole_third.iterations[-1].payload, 8)[len(segments)]
    assert len(data) + 4 + 4 * len(following[1]) > budget  # one more segment would not have fitted
    monkeypatch.setattr(api, "_last_iteration", whole_iterations_only)
    assert len(pillow_rgc.encode(photo, max_bytes=budget, model=PRIOR_MODEL)) < len(data)


def test_models_without_a_prior_and_first_iterations_stay_whole(photo):
    without_prior = container.read(pillow_rgc.encode(photo, quality=0.5, model=TEST_MODEL))
    assert entropy.SEGMENTED not in [chunk.coding for chunk in without_prior.iterations]
    first = container.read(pillow_rgc.encode(photo, quality=0.15, model=PRIOR_MODEL))
    assert [chunk.coding for chunk in first.iterations] != [entropy.SEGMENTED]


def test_tiles_end_with_partial_entries_where_that_pays():
    photo = synthetic_photo(512, 256, seed=4)
    data = pillow_rgc.encode(photo, quality=0.5, model=PRIOR_MODEL, tile_side=256)
    parsed = container.read(data)
    assert parsed.header.version == (3, 2)
    ends = {}
    for chunk in parsed.iterations:
        for tile, entry in enumerate(chunk.tiles):
            if entry is not None:
                assert tile not in ends  # nothing after a tile's partial entry
                if entry[0] == entropy.SEGMENTED:
                    ends[tile] = chunk.index
    assert ends
    assert ms_ssim(np.asarray(photo), np.asarray(pillow_rgc.decode(data))) >= 0.5


# --- segmented files: cut anywhere ------------------------------------------------------


@pytest.fixture(scope="module")
def segmented(photo) -> bytes:
    return pillow_rgc.encode(photo, iterations=4, model=PRIOR_MODEL, segmented=True)


def test_segmented_files_hold_the_same_bits_in_coding_4_for_a_few_percent(photo, segmented):
    plain = pillow_rgc.encode(photo, iterations=4, model=PRIOR_MODEL)
    parsed = container.read(segmented)
    assert [chunk.coding for chunk in parsed.iterations][1:] == [entropy.SEGMENTED] * 3
    assert parsed.iterations[0].coding != entropy.SEGMENTED
    planes, plain_planes = (api.read_bitplanes(container.read(data)) for data in (segmented, plain))
    assert all(np.array_equal(a, b) for a, b in zip(planes, plain_planes))
    segment_framing = 4 + 8  # its length, and at most two words more to end its own rANS stream
    assert len(plain) < len(segmented) <= len(plain) + 3 * (1 + 8 * segment_framing)


def test_truncating_a_segmented_file_keeps_the_segments_that_fit(segmented):
    chunks = container.read(segmented).iterations
    full = api.read_bitplanes(container.read(segmented))
    for max_bytes in range(chunks[1].offset + 20, len(segmented), 97):
        data = pillow_rgc.truncate(segmented, max_bytes=max_bytes)
        parsed = container.read(data)
        assert len(data) <= max_bytes and parsed.complete
        planes = api.read_bitplanes(parsed)
        assert all(np.array_equal(a, b[: len(a)]) for a, b in zip(planes, full))
        last = chunks[len(planes) - 1]
        if len(planes[-1]) < 8:  # one more segment (of this model's 1 channel) would not have fit
            segments = prior_coding.segments_of(last.payload, 8)
            assert len(data) + 4 + len(segments[len(planes[-1])][1]) * 4 > max_bytes


def test_truncating_to_iterations_never_adds_a_partial_one(segmented):
    parsed = container.read(pillow_rgc.truncate(segmented, iterations=2, max_bytes=len(segmented)))
    assert [len(bits) for bits in api.read_bitplanes(parsed)] == [8, 8]


def test_the_plugin_and_the_command_line_write_segmented_files(photo, tmp_path):
    from pillow_rgc import cli

    photo.save(tmp_path / "a.rgc", model=PRIOR_MODEL, iterations=3, segmented=True)
    photo.save(tmp_path / "a.png")
    cli.main(
        [
            "encode",
            str(tmp_path / "a.png"),
            str(tmp_path / "b.rgc"),
            "-n",
            "3",
            "--model",
            PRIOR_MODEL,
            "--segmented",
        ]
    )
    for name in ("a.rgc", "b.rgc"):
        codings = [chunk["coding"] for chunk in pillow_rgc.info((tmp_path / name).read_bytes())["chunks"]]
        assert codings[1:] == [entropy.SEGMENTED] * 2


def test_truncating_a_file_cut_inside_a_coding_4_chunk_gives_a_complete_file(segmented):
    last = container.read(segmented).iterations[-1]
    cut = segmented[: last.offset + last.size - 20]
    planes = api.read_bitplanes(container.read(cut))
    for trimmed in (pillow_rgc.truncate(cut), pillow_rgc.truncate(cut, iterations=4)):
        parsed = container.read(trimmed)
        assert parsed.complete and len(trimmed) < len(cut)
        assert all(np.array_equal(a, b) for a, b in zip(api.read_bitplanes(parsed), planes))


def test_a_file_whose_first_iteration_is_raw_loads_the_prior_for_its_coding_4_chunks(segmented):
    parsed = container.read(segmented)
    planes = api.read_bitplanes(parsed)
    payloads = [(entropy.RAW, np.packbits(planes[0].ravel()).tobytes())]
    payloads += [(chunk.coding, chunk.payload) for chunk in parsed.iterations[1:]]
    data = container.write(parsed.header, payloads)
    assert all(np.array_equal(a, b) for a, b in zip(api.read_bitplanes(container.read(data)), planes))


def test_a_cut_chunk_with_data_after_its_last_segment_is_ignored():
    prior = random_prior(4, 2)
    planes = related_planes(4, (2, 4, 4), iterations=2)
    payload = prior_coding.encode_segmented(planes[1], planes[:1], prior, 1)[1]
    assert entropy.whole_segments(entropy.SEGMENTED, payload, 2) == payload
    assert entropy.whole_segments(entropy.SEGMENTED, payload + b"\0\0", 2) == b""
    assert (
        entropy.whole_segments(entropy.SEGMENTED, payload[:-1], 2)
        == payload[: 5 + int.from_bytes(payload[1:5], "big")]
    )


def test_a_coding_4_tile_entry_in_a_version_3_1_file_names_the_version_it_needs():
    assert "needs 3.2" in container._coding_problem((3, 1), entropy.SEGMENTED)


def test_a_cut_coding_4_chunk_whose_words_are_not_used_up_is_ignored(segmented):
    last = container.read(segmented).iterations[-1]
    cut = bytearray(segmented[: last.offset + last.size - 20])
    first_length = int.from_bytes(cut[last.offset + 12 : last.offset + 16], "big")
    cut[last.offset + 12 : last.offset + 16] = (first_length + 4).to_bytes(4, "big")  # a word too many
    cut[last.offset + 16 + first_length : last.offset + 16 + first_length] = b"\0\0\0\1"
    parsed = container.read(bytes(cut))
    assert parsed.iterations[-1].cut
    assert len(api.read_bitplanes(parsed)) == len(parsed.iterations) - 1
    assert pillow_rgc.decode(bytes(cut)).size == (512, 384)


def test_with_a_target_and_a_budget_the_writer_stops_at_the_first_reached(photo):
    alone = pillow_rgc.encode(photo, quality=0.45, model=PRIOR_MODEL)
    both = pillow_rgc.encode(photo, quality=0.45, max_bytes=len(alone) + 150, model=PRIOR_MODEL)
    assert both == alone


def test_segmented_files_of_tiny_pictures_stay_within_the_iter_length_limit():
    """Noise the prior predicts badly: 8 segments' framing and flushes pass the 64 bytes of slack."""
    noise = Image.fromarray(np.random.default_rng(3).integers(0, 256, (64, 64, 3), np.uint8))
    data = pillow_rgc.encode(noise, quality=1, iterations=6, model="rgc-lean-4", segmented=True)
    assert pillow_rgc.decode(data).size == (64, 64)


def test_the_writer_refuses_a_payload_longer_than_a_reader_accepts(partial_file):
    parsed = container.read(partial_file)
    payloads = [(chunk.coding, chunk.payload) for chunk in parsed.iterations]
    longest = parsed.header.max_iter_payload()
    payloads[1] = (entropy.CONTEXT, payloads[1][1] + bytes(longest))
    with pytest.raises(ValueError, match="longer than"):
        container.write(parsed.header, payloads)


def test_truncating_a_cut_file_keeps_the_budget_and_drops_a_cut_chunk_that_does_not_decode(segmented):
    last = container.read(segmented).iterations[-1]
    cut = segmented[: last.offset + last.size - 2]  # every segment there, the CRC cut
    for budget in range(len(cut) - 8, len(cut) + 24):
        assert len(pillow_rgc.truncate(cut, max_bytes=budget)) <= budget
    damaged = bytearray(segmented[: last.offset + last.size - 20])
    first_length = int.from_bytes(damaged[last.offset + 12 : last.offset + 16], "big")
    damaged[last.offset + 12 : last.offset + 16] = (first_length + 4).to_bytes(4, "big")  # a word too many
    damaged[last.offset + 16 + first_length : last.offset + 16 + first_length] = b"\0\0\0\1"
    trimmed = container.read(pillow_rgc.truncate(bytes(damaged)))
    assert trimmed.complete and len(api.read_bitplanes(trimmed)) == len(trimmed.iterations) == 3


def test_a_stream_decoder_forgets_a_cut_iteration_that_stops_decoding(segmented):
    last = container.read(segmented).iterations[-1]
    start = last.offset + 12  # the first segment's length field
    first_length = int.from_bytes(segmented[start : start + 4], "big")
    early = segmented[: start + 4 + first_length]  # one complete segment
    damaged = bytearray(segmented[: last.offset + last.size - 20])
    damaged[start + 4 + first_length + 4] ^= 0xFF  # the second segment's first word: it no longer decodes
    decoder = api.Decoder(container.read(early).header)
    decoder.pixels(container.read(early))
    assert decoder.decoded == 4
    later = decoder.pixels(container.read(bytes(damaged)))
    fresh = api.Decoder(container.read(bytes(damaged)).header)
    assert (
        np.array_equal(later, fresh.pixels(container.read(bytes(damaged))))
        and decoder.decoded == fresh.decoded
    )
