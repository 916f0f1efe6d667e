"""ITER coding 3 (``pillow_rgc.prior_coding``): round trips, the spec, the writer's choice, damage, tiles.

The spec's own decoder (``spec/make_vectors.py``: ``spec_coding3_bits``, plain
integers, bit by bit, no numpy arithmetic and no constriction) must decode
what the library writes, so the format is what spec/rgc.md says it is.
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pillow_rgc
from pillow_rgc import api, container, entropy, models, prior_coding, rans

from .conftest import TEST_MODEL, photo_folder, synthetic_photo

PRIOR_MODEL = "rgc-tiny-test-prior"
ROOT = Path(__file__).resolve().parent.parent
FAST = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module")
def make_vectors():
    spec = importlib.util.spec_from_file_location("make_vectors_for_prior", ROOT / "spec" / "make_vectors.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    yield module
    del sys.modules[spec.name]


@pytest.fixture(scope="module")
def prior() -> prior_coding.ContextPrior:
    return models.load_model(PRIOR_MODEL).prior


def random_prior(seed: int, channels: int, iterations: int = 3, scale: int = 40) -> prior_coding.ContextPrior:
    rng = np.random.default_rng(seed)
    shape = (iterations, channels, prior_coding.feature_count(channels))
    return prior_coding.ContextPrior(rng.integers(-scale, scale + 1, shape).astype(np.int8))


def related_planes(seed: int, shape: tuple[int, int, int], iterations: int) -> list[np.ndarray]:
    """Bitplanes whose channels, cells and iterations depend on each other, as a codec's do."""
    rng = np.random.default_rng(seed)
    field = rng.normal(size=shape)
    planes = []
    for _ in range(iterations):
        field = 0.7 * field + 0.5 * rng.normal(size=shape)
        mixed = field + 0.8 * np.roll(field, 1, axis=0) + 0.3 * np.roll(field, 1, axis=2)
        planes.append(mixed > 0.2)
    return planes


def encode_all(planes, prior) -> list[bytes]:
    return [prior_coding.encode_prior(bits, planes[:t], prior) for t, bits in enumerate(planes)]


# --- round trips -------------------------------------------------------------------


@FAST
@given(
    shape=st.tuples(st.integers(1, 6), st.integers(1, 9), st.integers(1, 9)),
    iterations=st.integers(1, 5),
    seed=st.integers(0, 2**16),
)
def test_coding_3_decodes_to_exactly_the_bits_it_coded(shape, iterations, seed):
    """Also for iterations beyond the prior's (it has 3 here) and grids of one row or column."""
    prior = random_prior(seed, shape[0])
    planes = [np.random.default_rng(seed + t).random(shape) < 0.3 for t in range(iterations)]
    for t, payload in enumerate(encode_all(planes, prior)):
        assert np.array_equal(prior_coding.decode_prior(payload, shape, planes[:t], prior), planes[t])


def test_iterations_beyond_the_prior_use_its_last_block():
    prior = random_prior(3, 4, iterations=2)
    assert prior.weights_for(7) is prior.weights_for(1) is not prior.weights_for(0)


def test_a_prior_that_fits_the_bits_codes_them_in_fewer_bytes_than_raw(prior):
    planes = api.read_bitplanes(
        container.read(pillow_rgc.encode(synthetic_photo(256, 192), quality=1, model=TEST_MODEL))
    )
    for t, payload in enumerate(encode_all(planes, prior)):
        assert len(payload) < planes[t].size // 8


# --- the spec: its bit-by-bit decoder decodes the library's payloads -----------------------


@pytest.mark.parametrize("seed", range(3))
def test_the_spec_decoder_decodes_the_payloads(seed, make_vectors):
    shape = [(5, 6, 7), (3, 4, 9), (2, 7, 3)][seed]
    prior = random_prior(seed, shape[0], iterations=2, scale=127)
    weights = [int(value) for value in prior.weights.ravel()]
    planes = related_planes(seed, shape, iterations=4)
    for t, payload in enumerate(encode_all(planes, prior)):
        assert np.array_equal(make_vectors.spec_coding3_bits(payload, shape, planes[:t], weights), planes[t])


def test_the_spec_decoder_decodes_a_file_of_the_writer(make_vectors):
    data = pillow_rgc.encode(synthetic_photo(96, 80), iterations=3, model=PRIOR_MODEL)
    parsed = container.read(data)
    weights = make_vectors.spec_context_prior(PRIOR_MODEL)
    planes = api.read_bitplanes(parsed)
    for t, chunk in enumerate(parsed.iterations):
        assert chunk.coding == entropy.PRIOR
        expected = make_vectors.spec_coding3_bits(
            chunk.payload, parsed.header.code_shape(), planes[:t], weights
        )
        assert np.array_equal(expected, planes[t])


def test_the_features_the_prior_is_fitted_on_are_those_the_coder_uses():
    training = pytest.importorskip("pillow_rgc.training.context_prior")
    prior = random_prior(5, 6, iterations=4)
    planes = related_planes(5, (6, 5, 7), iterations=6)
    scales = training.feature_scales(6)
    for t in range(6):
        logits = prior_coding.cell_logits(planes[t], planes[:t], prior)
        for c in range(6):
            z = (training.features(planes, t, c) * scales) @ prior.weights[min(t, 3), c].astype(np.float64)
            assert np.array_equal(prior_coding.to_logits(z).reshape(5, 7), logits[c])


# --- the writer's choice and the file version ---------------------------------------


def test_the_writer_stores_each_iteration_with_the_smallest_coding(prior):
    planes = related_planes(1, (8, 12, 16), iterations=4)
    for t, bits in enumerate(planes):
        coding, payload = entropy.encode_bitplane(bits, planes[:t], prior)
        sizes = {
            entropy.RAW: bits.size // 8,
            entropy.CONTEXT: len(entropy.encode_context(bits, planes[:t])),
            entropy.PRIOR: len(prior_coding.encode_prior(bits, planes[:t], prior)),
        }
        assert len(payload) == sizes[coding] == min(sizes.values())
    assert entropy.encode_bitplane(planes[0], [], None)[0] != entropy.PRIOR  # no prior, no coding 3


def test_files_using_coding_3_are_version_2_1_and_files_without_it_keep_their_version():
    photo = synthetic_photo(256, 192)
    with_prior = container.read(pillow_rgc.encode(photo, iterations=3, model=PRIOR_MODEL))
    assert with_prior.header.version == (2, 1)
    assert entropy.PRIOR in [chunk.coding for chunk in with_prior.iterations]
    without = container.read(pillow_rgc.encode(photo, iterations=3, model=TEST_MODEL))
    assert without.header.version == (2, 0)


def test_coding_3_in_a_version_2_0_file_is_refused_by_the_writer_and_the_reader():
    parsed = container.read(pillow_rgc.encode(synthetic_photo(256, 192), iterations=2, model=PRIOR_MODEL))
    payloads = [(chunk.coding, chunk.payload) for chunk in parsed.iterations]
    old = container.Header(**{**parsed.header.__dict__, "version": (2, 0)})
    with pytest.raises(ValueError, match="version"):
        container.write(old, payloads)
    assert "coding 3 in a version 2.0 file" in container._coding_problem((2, 0), entropy.PRIOR)


def test_a_2x_reader_without_coding_3_refuses_its_chunks_as_an_unsupported_coding(monkeypatch):
    data = pillow_rgc.encode(synthetic_photo(256, 192), iterations=2, model=PRIOR_MODEL)
    monkeypatch.delitem(container.CODING_VERSION, container.CODING_PRIOR)
    with pytest.raises(container.CorruptChunkError, match="unsupported coding 3"):
        container.read(data)


# --- damage, cuts, tiles --------------------------------------------------------------


@FAST
@given(data=st.binary(max_size=60), earlier=st.integers(0, 2))
def test_any_payload_decodes_or_raises_a_payload_error(data, earlier, prior):
    shape = (8, 3, 4)
    planes = [np.ones(shape, bool)] * earlier
    try:
        bits = entropy.decode_bitplane(entropy.PRIOR, data, shape, planes, prior)
    except entropy.PayloadError:
        return
    assert bits.shape == shape and bits.dtype == bool


def test_damaged_payloads_are_refused_with_the_reason(prior):
    planes = related_planes(2, (8, 6, 6), iterations=2)
    payload = prior_coding.encode_prior(planes[1], planes[:1], prior)
    with pytest.raises(entropy.PayloadError, match="multiple of 4"):
        entropy.decode_bitplane(entropy.PRIOR, payload[:-1], (8, 6, 6), planes[:1], prior)
    with pytest.raises(entropy.PayloadError, match="left over"):
        entropy.decode_bitplane(entropy.PRIOR, b"\0\0\0\1" + payload, (8, 6, 6), planes[:1], prior)
    with pytest.raises(entropy.PayloadError, match="context prior"):
        entropy.decode_bitplane(entropy.PRIOR, payload, (8, 6, 6), planes[:1], None)
    with pytest.raises(entropy.PayloadError, match="channels"):
        entropy.decode_bitplane(entropy.PRIOR, payload, (4, 6, 6), [p[:4] for p in planes[:1]], prior)
    assert "multiple of 4" in entropy.payload_problem(entropy.PRIOR, payload[:-1], (8, 6, 6), 1)


def test_a_file_with_a_damaged_coding_3_chunk_keeps_the_iterations_before_it():
    parsed = container.read(pillow_rgc.encode(synthetic_photo(256, 192), iterations=3, model=PRIOR_MODEL))
    payloads = [(chunk.coding, chunk.payload) for chunk in parsed.iterations]
    payloads[2] = (entropy.PRIOR, b"\0\0\0\1" + payloads[2][1])  # a word too many: only decoding finds it
    damaged = container.read(container.write(parsed.header, payloads))
    with pytest.raises(container.CorruptChunkError, match="left over") as caught:
        api.read_bitplanes(damaged)
    assert (caught.value.chunk_type, caught.value.offset) == ("ITER", damaged.iterations[2].offset)
    assert len(api.read_bitplanes(damaged, on_corrupt="stop")) == 2


def test_cut_files_decode_the_complete_coding_3_iterations():
    data = pillow_rgc.encode(synthetic_photo(256, 192), iterations=4, model=PRIOR_MODEL)
    whole = api.read_bitplanes(container.read(data))
    for chunk in container.read(data).iterations[:-1]:
        for cut in (chunk.offset + chunk.size, chunk.offset + chunk.size + 7):
            planes = api.read_bitplanes(container.read(data[:cut]))
            assert len(planes) == chunk.index + 1
            assert all(np.array_equal(a, b) for a, b in zip(planes, whole))
            assert pillow_rgc.decode(data[:cut]).size == (256, 192)


def test_tiled_files_use_coding_3_in_their_tile_entries():
    photo = synthetic_photo(160, 96)
    data = pillow_rgc.encode(photo, iterations=3, model=PRIOR_MODEL, tile_side=64)
    parsed = container.read(data)
    assert parsed.header.version == (3, 1)
    codings = [entry[0] for chunk in parsed.iterations for entry in chunk.tiles if entry]
    assert entropy.PRIOR in codings
    # each tile decodes as the picture it is: the same bits as that region coded on its own
    left, top, width, height = parsed.header.tiles()[0]
    alone = pillow_rgc.encode(
        photo.crop((left, top, left + width, top + height)), iterations=3, model=PRIOR_MODEL
    )
    tile_planes = api.read_tile_bitplanes(parsed)[0]
    assert all(np.array_equal(a, b) for a, b in zip(tile_planes, api.read_bitplanes(container.read(alone))))
    assert pillow_rgc.decode(data).size == (160, 96)


# --- model identity ------------------------------------------------------------------


def test_the_prior_is_part_of_the_models_identity(tmp_path):
    folder = tmp_path / PRIOR_MODEL
    shutil.copytree(models.find_model(PRIOR_MODEL).folder, folder)
    graphs_only = models.model_hash(models.find_model(TEST_MODEL).folder)
    assert models.model_hash(folder) != graphs_only
    prior_bytes = bytearray((folder / prior_coding.PRIOR_FILE).read_bytes())
    prior_bytes[0] ^= 1
    (folder / prior_coding.PRIOR_FILE).write_bytes(bytes(prior_bytes))
    with pytest.raises(models.ModelError, match="damaged or changed"):
        models.LoadedModel(models.ModelInfo.from_folder(folder))


def test_a_model_declaring_a_prior_it_lacks_is_refused(tmp_path):
    folder = tmp_path / PRIOR_MODEL
    shutil.copytree(models.find_model(PRIOR_MODEL).folder, folder)
    (folder / prior_coding.PRIOR_FILE).unlink()
    info = models.ModelInfo.from_folder(folder)
    info = models.ModelInfo(**{**info.__dict__, "sha256": models.model_hash(folder)})
    with pytest.raises(models.ModelError, match="context_prior.bin"):
        models.LoadedModel(info)


def test_every_installed_model_hashes_to_what_its_model_json_says():
    for info in models.installed_models().values():
        assert models.model_hash(info.folder) == info.sha256, info.id


# --- fitting a prior --------------------------------------------------------------------


def test_fitting_a_prior_on_crops_makes_a_model_that_writes_coding_3(tmp_path):
    training = pytest.importorskip("pillow_rgc.training.context_prior")
    photos = photo_folder(tmp_path / "photos", 96, 80)
    folder = tmp_path / "model"
    shutil.copytree(models.find_model(TEST_MODEL).folder, folder)
    graphs_only = models.model_hash(folder)
    training.main([str(folder), "--images", str(photos), "--crops", "2", "--side", "64", "--iterations", "3"])
    card = models.ModelInfo.from_folder(folder)
    assert card.has_prior and card.card["context_prior"]["iterations"] == 3
    assert card.sha256 == models.model_hash(folder) != graphs_only
    loaded = models.LoadedModel(card)
    assert loaded.prior.weights.shape == (3, 8, prior_coding.feature_count(8))
    assert np.abs(loaded.prior.weights).max() > 0
    planes = api.read_bitplanes(
        container.read(pillow_rgc.encode(synthetic_photo(96, 80, 7), iterations=4, model=TEST_MODEL))
    )
    for t, payload in enumerate(encode_all(planes, loaded.prior)):  # iteration 3 is beyond the fitted 3
        assert np.array_equal(
            prior_coding.decode_prior(payload, planes[t].shape, planes[:t], loaded.prior), planes[t]
        )


def test_the_decoders_shortcut_to_the_probabilities_is_the_spec_formula():
    """(z + 8) >> 4, clamped, through P_ONE: also for negative z, ties of the shift and far outside +-96."""
    z = np.concatenate([np.arange(-3000, 3001), [-(10**7), 10**7, -1537, -1536, -1535, 1535, 1536, 1537]])
    scaled = z.astype(np.float64) * prior_coding.INDEX_SCALE + prior_coding.INDEX_OFFSET
    expected = [rans.probabilities(np.array([max(-96, min(96, (v + 8) >> 4))]))[0] for v in z.tolist()]
    assert np.array_equal(prior_coding.group_probabilities(scaled), expected)
