"""Silent cells (ITER codings 5 and 6): the bitplanes, the stop map, round trips, the rules, the writer."""

from __future__ import annotations

import io

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

import pillow_rgc
from pillow_rgc import api, codec, container, entropy, prior_coding, rans, silence
from pillow_rgc.quality import ms_ssim

from .conftest import synthetic_photo, writers_last_picture
from .test_prior_coding import PRIOR_MODEL, random_prior, related_planes

FAST = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def growing_silence(seed: int, shape, iterations: int) -> list[np.ndarray]:
    """``related_planes`` whose cells fall silent at random from the second iteration on, for good."""
    rng = np.random.default_rng(seed)
    silent = np.zeros(shape[1:], bool)
    planes = []
    for index, bits in enumerate(related_planes(seed, shape, iterations)):
        if index:
            silent |= rng.random(shape[1:]) < 0.3
        planes.append(silence.silenced(bits, silent))
    return planes


# --- the bitplanes -------------------------------------------------------------------


def test_a_silenced_bitplane_reads_as_zero_signs_and_false_bits_at_its_silent_cells():
    bits = np.ones((3, 2, 2), bool)
    silent = np.array([[True, False], [False, False]])
    quiet = silence.silenced(bits, silent)
    assert silence.is_silenced(quiet) and np.array_equal(silence.silent_cells(quiet), silent)
    assert not np.asarray(quiet)[:, 0, 0].any() and np.asarray(quiet)[:, 1].all()
    assert np.array_equal(silence.signs_of(quiet)[:, 0, 0], [0, 0, 0])
    assert np.array_equal(silence.signs_of(quiet)[:, 1, 1], [1, 1, 1])
    assert np.array_equal(silence.silent_cells(quiet[:1]), silent)  # a partial iteration keeps them
    assert bits.all(), "the bits given are not changed"


def test_bits_without_silent_cells_stay_a_plain_array():
    bits = np.ones((2, 3, 3), bool)
    assert silence.silenced(bits, np.zeros((3, 3), bool)) is bits
    assert not silence.is_silenced(bits) and not silence.silent_cells(bits).any()


def test_the_decoder_network_reads_silent_cells_as_zero():
    quiet = silence.silenced(
        np.ones((2, 2, 3), bool), np.array([[False, True, False], [False, False, False]])
    )
    signs = codec._as_signs(quiet[:1], 2)  # a partial iteration too: the missing channel is 0
    assert signs[0, 0, 0, 1] == 0 and signs[0, 0, 0, 0] == 1 and not signs[0, 1].any()


# --- the stop map --------------------------------------------------------------------


def test_the_stop_map_is_ordered_by_context_then_row_major_over_the_cells_sending_before():
    before = np.array([[True, False, False], [False, False, False]])
    assert np.array_equal(silence.stop_contexts(before), [[0, 1, 0], [1, 0, 0]])
    order = silence.stop_order(before)
    assert [list(cells) for cells in order] == [[2, 4, 5], [1, 3], [], [], []]


@FAST
@given(seed=st.integers(0, 2**16), rows=st.integers(1, 9), columns=st.integers(1, 9))
def test_the_stop_logits_are_those_that_code_the_map_in_the_fewest_bits(seed, rows, columns):
    rng = np.random.default_rng(seed)
    before = rng.random((rows, columns)) < 0.3
    stops = (rng.random((rows, columns)) < rng.random()) & ~before
    logits = silence.best_logits(stops, before)
    symbols, symbol_logits = silence.map_symbols(stops, before, logits)
    assert len(symbols) == (~before).sum() and symbols.sum() == stops.sum()

    def cost(per_context: list[int]) -> float:
        order = silence.stop_order(before)
        logit_of = np.concatenate([np.full(len(cells), v) for cells, v in zip(order, per_context)])
        p_one = rans.P_ONE_ALL[logit_of.astype(int) + rans.LOGIT_LIMIT] / rans.ONE
        return -np.log2(np.where(symbols, p_one, 1 - p_one)).sum()

    for k in range(silence.STOP_CONTEXTS):
        for step in (-1, 1):
            moved = [min(max(v + step * (i == k), -96), 96) for i, v in enumerate(logits)]
            assert cost(logits) <= cost(moved) + 1e-9
    coder = rans.decoder(rans.coded_words(rans.encode_words(symbols, symbol_logits)))
    assert np.array_equal(silence.decode_map(coder, before, logits), stops)
    assert coder.is_empty()


# --- codings 5 and 6 -----------------------------------------------------------------


@FAST
@given(shape=st.tuples(st.integers(1, 6), st.integers(1, 7), st.integers(1, 7)), seed=st.integers(0, 2**16))
def test_coding_5_gives_back_the_bits_of_the_cells_that_send_and_which_cells_are_silent(shape, seed):
    prior = random_prior(seed, shape[0])
    planes = growing_silence(seed, shape, iterations=4)
    for t in range(1, 4):
        coding, payload = entropy.encode_bitplane(planes[t], planes[:t], prior)
        assert (coding == entropy.SILENT) == silence.is_silenced(planes[t])
        assert entropy.payload_problem(coding, payload, shape, t) is None
        decoded = entropy.decode_bitplane(coding, payload, shape, planes[:t], prior)
        assert np.array_equal(np.asarray(decoded), np.asarray(planes[t]))
        assert np.array_equal(silence.silent_cells(decoded), silence.silent_cells(planes[t]))


@FAST
@given(
    shape=st.tuples(st.integers(1, 7), st.integers(1, 6), st.integers(1, 6)),
    segment_channels=st.integers(1, 7),
    seed=st.integers(0, 2**16),
    data=st.data(),
)
def test_coding_6_decodes_the_channels_of_the_segments_it_holds_with_the_stop_map(
    shape, segment_channels, seed, data
):
    channels = shape[0]
    segment_channels = min(segment_channels, channels)
    segments = data.draw(st.integers(1, prior_coding.segment_count(channels, segment_channels)))
    prior = random_prior(seed, channels)
    planes = growing_silence(seed, shape, iterations=3)
    planes[2] = silence.silenced(planes[2], np.ones(shape[1:], bool))  # every cell silent
    for t in (1, 2):
        if not silence.is_silenced(planes[t]):
            continue
        payload = prior_coding.encode_segmented(planes[t], planes[:t], prior, segment_channels)[segments - 1]
        known = min(segments * segment_channels, channels)
        coding = entropy.SILENT_SEGMENTED
        assert entropy.payload_problem(coding, payload, shape, t) is None
        assert entropy.known_channels(coding, payload, channels) == known
        decoded = entropy.decode_bitplane(coding, payload, shape, planes[:t], prior)
        assert np.array_equal(np.asarray(decoded), np.asarray(planes[t])[:known])
        assert np.array_equal(silence.silent_cells(decoded), silence.silent_cells(planes[t]))
        complete = segments == prior_coding.segment_count(channels, segment_channels)
        # two more bytes: data after the last segment of a whole payload, or a cut length in a partial one
        assert entropy.whole_segments(coding, payload + b"\0\0", channels) == (b"" if complete else payload)


def test_a_coding_5_payload_costs_the_information_of_its_map_and_its_sending_bits():
    prior = random_prior(3, 8, scale=6)
    planes = related_planes(3, (8, 16, 16), iterations=2)
    silent = np.zeros((16, 16), bool)
    silent[:, :8] = True
    quiet = silence.silenced(planes[1], silent)
    payload = prior_coding.encode_prior(quiet, planes[:1], prior)
    p_one = (
        rans.P_ONE_ALL[np.clip(prior_coding.cell_logits(quiet, planes[:1], prior), -96, 96) + 96] / rans.ONE
    )
    bits = np.asarray(quiet)[:, ~silent]
    information = -np.log2(np.where(bits, p_one[:, ~silent], 1 - p_one[:, ~silent])).sum()
    none = np.zeros_like(silent)
    symbols, logits = silence.map_symbols(silent, none, silence.best_logits(silent, none))
    p_stop = rans.P_ONE_ALL[logits + 96] / rans.ONE
    information -= np.log2(np.where(symbols, p_stop, 1 - p_stop)).sum()
    words = 8 * (len(payload) - silence.STOP_LOGITS.sizeof())
    assert information <= words <= information + 64  # within the coder's flush


def test_a_cell_silent_before_cannot_send_again_in_codings_5_and_6():
    prior = random_prior(4, 2)
    planes = related_planes(4, (2, 4, 4), iterations=3)
    first, second = np.zeros((4, 4), bool), np.zeros((4, 4), bool)
    first[0, 0], second[1, 1] = True, True
    earlier = [planes[0], silence.silenced(planes[1], first)]
    with pytest.raises(ValueError, match="sends again"):
        prior_coding.encode_prior(silence.silenced(planes[2], second), earlier, prior)
    payload = prior_coding.encode_prior(planes[2], earlier, prior)  # coding 3: every cell sends again
    decoded = entropy.decode_bitplane(entropy.PRIOR, payload, (2, 4, 4), earlier, prior)
    assert np.array_equal(decoded, planes[2]) and not silence.is_silenced(decoded)


def test_damaged_coding_5_and_6_payloads_are_refused_with_the_reason():
    prior = random_prior(2, 4)
    planes = growing_silence(2, (4, 6, 6), iterations=2)
    assert silence.is_silenced(planes[1])
    silent5 = prior_coding.encode_prior(planes[1], planes[:1], prior)
    silent6 = prior_coding.encode_segmented(planes[1], planes[:1], prior, 2)[1]
    problems = {
        (entropy.SILENT, silent5[:4]): "shorter than the stop logits",
        (entropy.SILENT, silent5 + b"\0"): "multiple of 4",
        (entropy.SILENT_SEGMENTED, b""): "empty",
        (entropy.SILENT_SEGMENTED, silent6[:5]): "shorter than the stop logits",
        (entropy.SILENT_SEGMENTED, b"\0" + silent6[1:]): "channels per segment",
        (entropy.SILENT_SEGMENTED, silent6 + bytes(4)): "after the last",
    }
    for (coding, damaged), reason in problems.items():
        assert reason in entropy.payload_problem(coding, damaged, (4, 6, 6), 1)
    with pytest.raises(rans.PayloadError, match="left over"):  # one word too many: found when decoding
        entropy.decode_bitplane(
            entropy.SILENT, silent5[:5] + b"\0\0\0\1" + silent5[5:], (4, 6, 6), planes[:1], prior
        )


@FAST
@given(
    data=st.binary(max_size=80),
    coding=st.sampled_from(entropy.SILENT_CODINGS),
    before=st.integers(0, 2**12 - 1),
)
def test_any_coding_5_or_6_payload_decodes_or_raises_a_payload_error(data, coding, before):
    shape = (4, 3, 4)
    prior = random_prior(9, 4)
    silent = np.array([(before >> i) & 1 for i in range(12)], bool).reshape(3, 4)
    earlier = [silence.silenced(np.ones(shape, bool), silent)]
    try:
        bits = entropy.decode_bitplane(coding, data, shape, earlier, prior)
    except entropy.PayloadError:
        return
    assert bits.shape[1:] == shape[1:] and 1 <= len(bits) <= shape[0] and bits.dtype == bool
    assert not (silent & ~silence.silent_cells(bits)).any(), "a silent cell stays silent"


def test_silent_codings_need_a_context_prior():
    planes = growing_silence(5, (2, 4, 4), iterations=2)
    with pytest.raises(ValueError, match="context prior"):
        entropy.encode_bitplane(planes[1], planes[:1], None)


# --- the writer and the reader ---------------------------------------------------------


@pytest.fixture(scope="module")
def flat_and_busy():
    """A picture half flat, half busy: the flat half reaches the writer's PSNR early."""
    pixels = np.asarray(synthetic_photo(192, 128)).copy()
    pixels[:, :96] = (120, 150, 180)
    return Image.fromarray(pixels)


@pytest.fixture(scope="module")
def silent_file(flat_and_busy) -> bytes:
    return pillow_rgc.encode(flat_and_busy, iterations=5, model=PRIOR_MODEL, stop_psnr=30)


def test_the_writer_silences_the_cells_that_reach_its_psnr_and_marks_the_file_2_3(silent_file):
    info = pillow_rgc.info(silent_file)
    codings = [chunk["coding"] for chunk in info["chunks"]]
    assert codings[0] in (entropy.RAW, entropy.CONTEXT, entropy.PRIOR)  # never coding 5 first
    assert entropy.SILENT in codings and info["format_version"] == "2.3"
    parsed = container.read(silent_file)
    planes = api.read_bitplanes(parsed)
    counts = [int(silence.silent_cells(plane).sum()) for plane in planes]
    assert counts == sorted(counts) and counts[-1] > 0  # silent cells stay silent
    silent = silence.silent_cells(planes[-1])
    assert silent[:, :6].any() and not silent[:, 6:].any(), "only cells of the flat half fall silent"


def test_a_file_with_silent_cells_decodes_to_the_writers_own_reconstruction(flat_and_busy, silent_file):
    _, picture = writers_last_picture(PRIOR_MODEL, np.asarray(flat_and_busy), 5, stop_psnr=30)
    decoded = np.asarray(Image.open(io.BytesIO(silent_file)).convert("RGB"))
    assert np.array_equal(decoded, picture)


def test_a_quality_target_is_met_with_silent_cells_and_none_are_made_without_a_stop_psnr(flat_and_busy):
    every = pillow_rgc.encode(flat_and_busy, quality=0.59, model=PRIOR_MODEL, stop_psnr=None)
    quiet = pillow_rgc.encode(flat_and_busy, quality=0.59, model=PRIOR_MODEL, stop_psnr=30)
    assert pillow_rgc.info(every)["format_version"] != "2.3"
    assert pillow_rgc.info(quiet)["format_version"] == "2.3"
    reference = np.asarray(flat_and_busy)
    assert ms_ssim(reference, np.asarray(Image.open(io.BytesIO(quiet)).convert("RGB"))) >= 0.59


def test_models_without_a_prior_send_every_cell(flat_and_busy):
    data = pillow_rgc.encode(flat_and_busy, iterations=4, model="rgc-tiny-test", stop_psnr=30)
    assert not {entropy.SILENT, entropy.SILENT_SEGMENTED} & {
        c["coding"] for c in pillow_rgc.info(data)["chunks"]
    }


def test_segmented_files_with_silent_cells_use_coding_6_and_cut_anywhere(flat_and_busy):
    data = pillow_rgc.encode(flat_and_busy, iterations=5, model=PRIOR_MODEL, stop_psnr=30, segmented=True)
    codings = [chunk["coding"] for chunk in pillow_rgc.info(data)["chunks"]]
    assert entropy.SILENT_SEGMENTED in codings
    last = container.read(data).iterations[-1]
    cut = data[: last.offset + (last.size * 2) // 3]  # inside the last chunk's segments
    parsed = container.read(cut)
    assert parsed.iterations[-1].cut and parsed.iterations[-1].coding == entropy.SILENT_SEGMENTED
    planes = api.read_bitplanes(parsed)
    assert 0 < len(planes[-1]) < parsed.header.code_channels
    Image.open(io.BytesIO(cut)).load()
    trimmed = pillow_rgc.truncate(data, max_bytes=len(cut))
    assert len(trimmed) <= len(cut)
    assert container.read(trimmed).iterations[-1].coding == entropy.SILENT_SEGMENTED


def test_coding_5_is_refused_in_the_first_iteration_and_before_version_2_3(silent_file):
    parsed = container.read(silent_file)
    payloads = [(chunk.coding, chunk.payload) for chunk in parsed.iterations]
    index = next(i for i, (coding, _) in enumerate(payloads) if coding == entropy.SILENT)
    header = container.Header(**{**parsed.header.__dict__, "iterations": 1})
    with pytest.raises(ValueError, match="first iteration"):
        container.write(header, [payloads[index]])
    older = container.Header(**{**parsed.header.__dict__, "version": (2, 2)})
    with pytest.raises(ValueError, match="version"):
        container.write(older, payloads)
    assert "needs 2.3" in container._coding_problem((2, 2), entropy.SILENT_SEGMENTED)


def test_a_reader_without_coding_5_keeps_the_iterations_before_it(silent_file, monkeypatch):
    first = [chunk.coding for chunk in container.read(silent_file).iterations].index(entropy.SILENT)
    monkeypatch.delitem(container.CODING_VERSION, container.CODING_SILENT)
    with pytest.raises(container.CorruptChunkError, match="unsupported coding 5"):
        container.read(silent_file)
    assert len(container.read(silent_file, on_corrupt="stop").iterations) == first


def test_the_writer_rule_measures_each_cell_over_its_pixels_inside_the_picture():
    source = np.zeros((20, 20, 3), np.uint8)
    picture = source.copy()
    picture[16:, 16:] = 10  # the corner cell holds 4 x 4 pixels of the picture, all off by 10
    reached = silence.cells_reaching(source, picture, 16, 28.0)  # 10 levels: 28.1 dB
    assert reached.shape == (2, 2) and reached.all()
    assert not silence.cells_reaching(source, picture, 16, 28.2)[1, 1]
    assert silence.cells_reaching(source, picture, 16, 28.2)[0, 0]


@pytest.mark.parametrize("stop_psnr, silent", [(30, True), (0, False)])
def test_the_plugin_and_the_command_line_take_a_stop_psnr(flat_and_busy, tmp_path, stop_psnr, silent):
    from pillow_rgc import cli

    flat_and_busy.save(tmp_path / "a.rgc", model=PRIOR_MODEL, iterations=5, stop_psnr=stop_psnr or None)
    flat_and_busy.save(tmp_path / "a.png")
    arguments = ["encode", str(tmp_path / "a.png"), str(tmp_path / "b.rgc"), "-n", "5"]
    cli.main([*arguments, "--model", PRIOR_MODEL, "--stop-psnr", str(stop_psnr)])
    for name in ("a.rgc", "b.rgc"):
        codings = {chunk["coding"] for chunk in pillow_rgc.info((tmp_path / name).read_bytes())["chunks"]}
        assert (entropy.SILENT in codings) == silent


def test_tiles_silence_their_own_cells_in_a_version_3_3_file(flat_and_busy):
    data = pillow_rgc.encode(flat_and_busy, iterations=5, model=PRIOR_MODEL, stop_psnr=30, tile_side=96)
    parsed = container.read(data)
    assert parsed.header.tiled and pillow_rgc.info(data)["format_version"] == "3.3"
    entries = [entry for chunk in parsed.iterations for entry in chunk.tiles if entry is not None]
    assert entropy.SILENT in {coding for coding, _ in entries}
    tiles = api.read_tile_bitplanes(parsed)
    assert silence.silent_cells(tiles[0][-1]).any() and not silence.silent_cells(tiles[-1][-1]).any()
    Image.open(io.BytesIO(data)).load()


def test_the_prior_is_fitted_on_the_features_of_silent_planes_and_not_on_silent_bits():
    training = pytest.importorskip("pillow_rgc.training.context_prior")
    prior = random_prior(6, 4, iterations=3)
    planes = growing_silence(6, (4, 6, 7), iterations=3)
    scales = training.feature_scales(4)
    for t in range(3):  # the fit's features give the coder's logits, silent cells as 0
        logits = prior_coding.cell_logits(planes[t], planes[:t], prior)
        for c in range(4):
            z = (training.features(planes, t, c) * scales) @ prior.weights[t, c].astype(np.float64)
            assert np.array_equal(prior_coding.to_logits(z).reshape(6, 7), logits[c])
    # a silent cell has no bit to predict: whatever its (hidden) bits, the fit is the same
    hidden = [
        np.ma.MaskedArray(np.ma.getdata(p) | np.ma.getmaskarray(p), np.ma.getmaskarray(p)) for p in planes
    ]
    fitted = training.fit_prior([planes], 3, log=print)
    assert np.array_equal(fitted, training.fit_prior([hidden], 3, log=print))
    assert not np.array_equal(fitted, training.fit_prior([[np.asarray(p) for p in hidden]], 3, log=print))


def test_a_stream_decoder_redoes_a_cut_coding_6_iteration_when_the_rest_arrives(flat_and_busy):
    data = pillow_rgc.encode(flat_and_busy, iterations=5, model=PRIOR_MODEL, stop_psnr=30, segmented=True)
    last = container.read(data).iterations[-1]
    assert last.coding == entropy.SILENT_SEGMENTED
    cut = data[: last.offset + last.size // 2]
    decoder = api.Decoder(container.read(cut).header)
    decoder.pixels(container.read(cut))
    assert decoder.reconstruction.last_channels < container.read(data).header.code_channels
    more = decoder.pixels(container.read(data))
    assert np.array_equal(more, np.asarray(pillow_rgc.decode(data)))
