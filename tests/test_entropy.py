"""ITER coding 1 (``pillow_rgc.entropy``): round trips, cuts, fallback, the spec, versions, determinism.

The decoder here that follows spec/rgc.md ("Context-coded payload") line by
line, with plain integers and no constriction, must decode what the library
writes: that pins the format to its description, including the way
constriction is made to code with exactly the spec's probabilities.
"""

from __future__ import annotations

import hashlib
import io
import math
import zlib

import numpy as np
import onnxruntime
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

import pillow_rgc
from pillow_rgc import api, container, entropy, models, rans

from .conftest import TEST_MODEL, synthetic_photo

FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def decode_all(chunks, shape: tuple[int, int, int]) -> list[np.ndarray]:
    """Bitplanes of ``(coding, payload)`` pairs, each decoded knowing the ones before it, as a reader does."""
    bitplanes: list[np.ndarray] = []
    for coding, payload in chunks:
        bitplanes.append(entropy.decode_bitplane(coding, payload, shape, bitplanes))
    return bitplanes


def structured(seed: int, shape: tuple[int, int, int], iterations: int = 1, noise: float = 0.1) -> list:
    """Bitplanes like a codec's: smooth in space, channels and iterations related, some channels biased."""
    rng = np.random.default_rng(seed)
    channels, rows, columns = shape
    planes = []
    field = rng.normal(size=(3, rows, columns))
    for _ in range(iterations):
        field = 0.6 * field + 0.8 * rng.normal(size=field.shape)
        smooth = (field + np.roll(field, 1, 1) + np.roll(field, 1, 2) + np.roll(field, (1, 1), (1, 2))) / 4
        mix = rng.normal(size=(channels, 3))
        bias = rng.normal(scale=0.8, size=(channels, 1, 1))
        value = np.einsum("cj,jyx->cyx", mix, smooth) + bias + rng.normal(scale=noise, size=shape)
        planes.append(value > 0)
    return planes


shapes = st.tuples(st.integers(1, 9), st.integers(1, 11), st.integers(1, 11))


def round_trip(bitplanes: list) -> list[tuple[int, bytes]]:
    chunks = []
    for t, bits in enumerate(bitplanes):
        chunks.append(entropy.encode_bitplane(bits, bitplanes[:t]))
    decoded = decode_all(chunks, bitplanes[0].shape)
    assert all(np.array_equal(a, b) for a, b in zip(decoded, bitplanes))
    return chunks


# --- round trips --------------------------------------------------------------


@FAST
@given(shape=shapes, seed=st.integers(0, 2**32 - 1), iterations=st.integers(1, 3))
def test_coding_1_round_trips_random_bits(shape, seed, iterations):
    rng = np.random.default_rng(seed)
    planes = [rng.random(shape) < rng.random() for _ in range(iterations)]
    for t, bits in enumerate(planes):
        payload = entropy.encode_context(bits, planes[:t])
        assert np.array_equal(entropy.decode_bitplane(entropy.CONTEXT, payload, shape, planes[:t]), bits)
    round_trip(planes)


@FAST
@given(shape=shapes, seed=st.integers(0, 2**32 - 1), iterations=st.integers(1, 3))
def test_coding_1_round_trips_structured_bits(shape, seed, iterations):
    planes = structured(seed, shape, iterations)
    for t, bits in enumerate(planes):
        payload = entropy.encode_context(bits, planes[:t])
        assert np.array_equal(entropy.decode_bitplane(entropy.CONTEXT, payload, shape, planes[:t]), bits)


def test_structured_bits_are_coded_smaller_and_round_trip():
    planes = structured(1, (32, 24, 32), iterations=4)
    chunks = round_trip(planes)
    raw = -(-planes[0].size // 8)
    assert [coding for coding, _ in chunks] == [entropy.CONTEXT] * 4
    assert sum(len(payload) for _, payload in chunks) < 0.8 * 4 * raw


def test_constant_and_degenerate_planes_round_trip():
    for shape in [(1, 1, 1), (1, 1, 70), (1, 70, 1), (3, 2, 40), (40, 1, 2)]:
        for fill in (False, True):
            round_trip([np.full(shape, fill), np.full(shape, not fill), np.full(shape, fill)])
    many = structured(3, (255, 3, 2), iterations=2)  # the most channels a header allows
    round_trip(many)


# --- cuts: every iteration decodes from the earlier ones ----------------------


def test_every_iteration_decodes_given_only_the_earlier_ones():
    planes = structured(7, (16, 10, 14), iterations=6)
    chunks = round_trip(planes)
    assert entropy.CONTEXT in [coding for coding, _ in chunks]
    for t, (coding, payload) in enumerate(chunks):
        alone = entropy.decode_bitplane(coding, payload, planes[0].shape, planes[:t])
        assert np.array_equal(alone, planes[t])
    for cut in range(1, len(chunks) + 1):  # a cut file: its first complete iterations
        decoded = decode_all(chunks[:cut], planes[0].shape)
        assert all(np.array_equal(a, b) for a, b in zip(decoded, planes[:cut]))


def test_cut_files_with_coding_1_decode_their_complete_iterations():
    data = pillow_rgc.encode(synthetic_photo(256, 192), iterations=4, model=TEST_MODEL)
    parsed = container.read(data)
    assert entropy.CONTEXT in [chunk.coding for chunk in parsed.iterations]
    full = api.read_bitplanes(parsed)
    for index, chunk in enumerate(parsed.iterations):
        cuts = {chunk.offset + chunk.size: index + 1}
        if index:
            cuts[chunk.offset + chunk.size // 2] = index
        for end, complete in cuts.items():
            decoded = api.read_bitplanes(container.read(data[:end]))
            assert len(decoded) == complete
            assert all(np.array_equal(a, b) for a, b in zip(decoded, full))


# --- fallback to raw ------------------------------------------------------------


def test_incompressible_bits_fall_back_to_raw():
    bits = np.random.default_rng(0).random((32, 24, 32)) < 0.5
    coding, payload = entropy.encode_bitplane(bits, [])
    assert coding == entropy.RAW and payload == np.packbits(bits.ravel()).tobytes()
    other = np.random.default_rng(1).random(bits.shape) < 0.5
    assert entropy.encode_bitplane(bits, [other])[0] == entropy.RAW
    # bits that are a previous iteration's, scrambled across channels, are not incompressible
    assert entropy.encode_bitplane(bits, [~bits[::-1]])[0] == entropy.CONTEXT


@FAST
@given(shape=shapes, seed=st.integers(0, 2**32 - 1))
def test_a_payload_is_never_larger_than_the_raw_bits(shape, seed):
    rng = np.random.default_rng(seed)
    bits = rng.random(shape) < rng.random()
    coding, payload = entropy.encode_bitplane(bits, [])
    assert len(payload) <= -(-bits.size // 8)
    assert coding == entropy.RAW or len(payload) < -(-bits.size // 8)


def test_tiny_planes_are_stored_raw():
    bits = np.ones((2, 3, 4), bool)
    assert entropy.encode_bitplane(bits, []) == (entropy.RAW, np.packbits(bits.ravel()).tobytes())


# --- the spec: an independent decoder with plain integers -------------------------


def p_one(logit: int) -> int:
    logit = max(-96, min(96, logit))
    return rans.P_ONE[logit] if logit >= 0 else (1 << 24) - rans.P_ONE[-logit]


def spec_decode(payload: bytes, shape: tuple[int, int, int], previous) -> np.ndarray:
    """spec/rgc.md, "Context-coded payload", as written: parameters, order, model, rANS."""
    channels, rows, columns = shape
    first = previous is None
    bits = "".join(format(byte, "08b") for byte in payload)
    position = 0

    def u(width):
        nonlocal position
        position += width
        return int(bits[position - width : position], 2) if width else 0

    def ue():
        nonlocal position
        zeros = bits.index("1", position) - position
        position += zeros
        return u(zeros + 1) - 1

    def se():
        code = ue()
        return (code + 1) // 2 if code % 2 else -(code // 2)

    contexts = 20 if first else 40
    sources = channels if first else 2 * channels
    table = [se() for _ in range(contexts)]
    bias, parents = [], []
    for _ in range(channels):
        bias.append(se())
        parents.append([(u((sources - 1).bit_length()), se()) for _ in range(ue())])
    words = [int.from_bytes(payload[i : i + 4], "big") for i in range(-(-position // 8), len(payload), 4)]

    level = [None] * channels
    while None in level:
        for c in range(channels):
            inside = [level[j] for j, _ in parents[c] if j < channels]
            if level[c] is None and None not in inside:
                level[c] = 1 + max(inside, default=-1)

    state = 0
    if words:
        state = words.pop()
        if words:
            state = state << 32 | words.pop()
    sign = np.zeros(shape, int)  # 0: not decoded yet

    def value(plane, y, x):
        return sign[plane, y, x] if plane < channels else (1 if previous[plane - channels, y, x] else -1)

    for phase in range(4):
        for depth in range(max(level) + 1):
            for c in [c for c in range(channels) if level[c] == depth]:
                for y in range(phase >> 1, rows, 2):
                    for x in range(phase & 1, columns, 2):
                        near = 0
                        for ny, nx in ((y - 1, x), (y + 1, x), (y, x - 1), (y, x + 1)):
                            if 0 <= ny < rows and 0 <= nx < columns and 2 * (ny % 2) + nx % 2 < phase:
                                near += sign[c, ny, nx]
                        k = (0, 3, 8, 15)[phase] + near + (20 if not first and previous[c, y, x] else 0)
                        logit = table[k] + bias[c] + sum(w * value(j, y, x) for j, w in parents[c])
                        zero = (1 << 24) - p_one(logit)
                        q = state % (1 << 24)
                        start, size, bit = (0, zero, -1) if q < zero else (zero, (1 << 24) - zero, 1)
                        state = size * (state >> 24) + q - start
                        if state < 1 << 32 and words:
                            state = state << 32 | words.pop()
                        sign[c, y, x] = bit
    assert state == 0 and not words, "the payload must end exactly after the last bit"
    return sign > 0


def test_the_probability_table_is_the_spec_formula():
    assert len(rans.P_ONE) == 97
    for logit, value in enumerate(rans.P_ONE):
        assert value == round(2**24 / (1 + math.exp(-logit / 8)))


@pytest.mark.parametrize("seed", range(6))
def test_a_decoder_written_from_the_spec_decodes_the_payloads(seed):
    shape = [(6, 5, 7), (3, 8, 4), (9, 3, 3), (1, 6, 6), (4, 1, 9), (5, 7, 2)][seed]
    planes = structured(seed, shape, iterations=3, noise=0.5)
    for t, bits in enumerate(planes):
        payload = entropy.encode_context(bits, planes[:t])
        assert np.array_equal(spec_decode(payload, shape, planes[t - 1] if t else None), bits)


def test_constriction_codes_with_exactly_the_spec_probabilities():
    """Every 24-bit probability the model can give, coded by constriction and by the spec's rANS."""
    logits = np.arange(-100, 101)
    rng = np.random.default_rng(5)
    symbols = (rng.random(logits.size) < np.array([p_one(int(v)) for v in logits]) / 2**24).astype(np.int32)
    coder = rans.constriction.stream.stack.AnsCoder()
    coder.encode_reverse(symbols, rans.BERNOULLI, rans.probabilities(logits))
    state, words = 0, []
    for bit, logit in zip(symbols[::-1], logits[::-1]):  # the spec's encoder (informative part)
        zero = (1 << 24) - p_one(int(logit))
        start, size = (0, zero) if bit == 0 else (zero, (1 << 24) - zero)
        if state >> 40 >= size:
            words.append(state & 0xFFFFFFFF)
            state >>= 32
        state = (state // size) << 24 | (state % size + start)
    words += [word for word in (state & 0xFFFFFFFF, state >> 32) if word or state >> 32]
    assert coder.get_compressed().tolist() == words


# --- damaged payloads --------------------------------------------------------------


@FAST
@given(data=st.binary(max_size=80), first=st.booleans())
def test_any_payload_decodes_or_raises_a_payload_error(data, first):
    shape = (3, 4, 5)
    earlier = [] if first else [np.ones(shape, bool)]
    try:
        bits = entropy.decode_bitplane(entropy.CONTEXT, data, shape, earlier)
    except entropy.PayloadError:
        return
    assert bits.shape == shape and bits.dtype == bool


def test_damaged_payloads_are_refused():
    planes = structured(2, (8, 12, 12), iterations=2)
    payload = entropy.encode_context(planes[1], planes[:1])
    model, start = entropy._read_model(payload, 8, first=False)
    with pytest.raises(entropy.PayloadError, match="multiple of 4"):
        entropy.decode_bitplane(entropy.CONTEXT, payload[:-1], (8, 12, 12), planes[:1])
    with pytest.raises(entropy.PayloadError, match="left over"):
        entropy.decode_bitplane(entropy.CONTEXT, payload + b"\0\0\0\1", (8, 12, 12), planes[:1])
    cycle = entropy._Model(model.table, model.bias, [[1], [0]] + [[]] * 6, [[1], [1]] + [[]] * 6)
    forged = entropy._write_model(cycle, 16) + payload[start:]
    with pytest.raises(entropy.PayloadError, match="cycle"):
        entropy.decode_bitplane(entropy.CONTEXT, forged, (8, 12, 12), planes[:1])
    assert "cycle" in entropy.payload_problem(entropy.CONTEXT, forged, (8, 12, 12), 1)
    assert entropy.payload_problem(entropy.CONTEXT, payload, (8, 12, 12), 1) is None


# --- the container: versions -----------------------------------------------------------


@pytest.fixture(scope="module")
def coded_file() -> bytes:
    return pillow_rgc.encode(synthetic_photo(256, 192), iterations=3, model=TEST_MODEL)


def test_files_with_coding_1_are_version_2_and_others_stay_1(coded_file):
    parsed = container.read(coded_file)
    assert parsed.header.version == (2, 0)
    assert entropy.CONTEXT in [chunk.coding for chunk in parsed.iterations]
    assert api.info(coded_file)["format_version"] == "2.0"
    small = pillow_rgc.encode(synthetic_photo(40, 33), iterations=2, model=TEST_MODEL)
    assert container.read(small).header.version == (1, 0)  # too few bits to code: raw, 1.0
    assert [chunk.coding for chunk in container.read(small).iterations] == [entropy.RAW] * 2


def test_info_reports_raw_bits_and_coded_bytes_of_every_iteration(coded_file):
    info = api.info(coded_file)
    raw_bits = 8 * 12 * 16  # 8 channels, 12 x 16 code cells
    for chunk in info["chunks"]:
        assert chunk["raw_bits"] == raw_bits
        if chunk["coding"] == entropy.CONTEXT:
            assert chunk["payload_bytes"] < raw_bits // 8
        else:
            assert chunk["payload_bytes"] == raw_bits // 8


def test_a_1x_reader_refuses_a_coding_1_file_naming_its_version(coded_file, monkeypatch):
    monkeypatch.setattr(container, "READ_MAJORS", (1,))
    with pytest.raises(container.UnsupportedVersionError, match="2.0"):
        container.read(coded_file)


def test_coding_1_in_a_version_1_file_is_corrupt(coded_file):
    parsed = container.read(coded_file)
    header = parsed.header
    one = container.Header(**{**header.__dict__, "version": (1, 0)})
    payloads = [(chunk.coding, chunk.payload) for chunk in parsed.iterations]
    with pytest.raises(ValueError, match="coding"):
        container.write(one, payloads)
    forged = bytearray(coded_file)
    head_data = 8 + 8  # the version bytes of HEAD
    forged[head_data] = 1
    crc_at = 8 + 8 + int.from_bytes(coded_file[8:12], "big")
    forged[crc_at : crc_at + 4] = zlib.crc32(bytes(forged[12:crc_at])).to_bytes(4, "big")
    with pytest.raises(container.CorruptChunkError, match="coding 1 in a version 1.0 file"):
        container.read(bytes(forged))


def test_write_refuses_a_malformed_coding_1_payload(coded_file):
    parsed = container.read(coded_file)
    payloads = [(chunk.coding, chunk.payload) for chunk in parsed.iterations]
    index = next(i for i, (coding, _) in enumerate(payloads) if coding == entropy.CONTEXT)
    payloads[index] = (entropy.CONTEXT, payloads[index][1][:-2])
    with pytest.raises(ValueError, match="coding 1 payload"):
        container.write(parsed.header, payloads)


def test_files_of_version_1_with_raw_chunks_still_decode():
    bits = structured(4, (8, 5, 6), iterations=2)
    payloads = [(entropy.RAW, np.packbits(b.ravel()).tobytes()) for b in bits]
    info = models.find_model(TEST_MODEL)
    header = container.Header(
        width=90, height=70, mode="RGB", model_id=info.id, model_hash=bytes.fromhex(info.sha256),
        code_channels=8, code_stride=16, iterations=2,
    )  # fmt: skip
    data = container.write(header, payloads)
    assert container.read(data).header.version == (1, 0)
    decoded = api.read_bitplanes(container.read(data))
    assert all(np.array_equal(a, b) for a, b in zip(decoded, bits))
    assert pillow_rgc.decode(data).size == (90, 70)


# --- determinism: the bits do not depend on the networks' arithmetic -----------------


def bitplanes_sha256(bitplanes) -> str:
    return hashlib.sha256(b"".join(np.packbits(b.ravel()).tobytes() for b in bitplanes)).hexdigest()


def model_with(threads: int, level, monkeypatch, model: str = TEST_MODEL) -> models.LoadedModel:
    """A test model with sessions of the given thread count and graph optimisation level."""
    monkeypatch.setattr(models, "THREADS", threads)
    info = models.find_model(model)
    loaded = models.LoadedModel(info)
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = level
    options.log_severity_level = 3
    for name in ("encoder", "decoder"):
        session = onnxruntime.InferenceSession(
            str(info.folder / f"{name}.onnx"), options, providers=["CPUExecutionProvider"]
        )
        setattr(loaded, name, session)
    return loaded


LEVELS = (
    onnxruntime.GraphOptimizationLevel.ORT_DISABLE_ALL,
    onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL,
)
SETTINGS = [(threads, level) for threads in (1, 2) for level in LEVELS]


class Recorder:
    """Stands in for ``api.bitplanes_by_iteration`` and keeps the one-tile bitplanes it gave."""

    def __init__(self):
        self.decode = api.bitplanes_by_iteration
        self.results = []

    def __call__(self, *args):
        self.results.append([])
        for new in self.decode(*args):
            self.results[-1].append(new[0])
            yield new


@pytest.mark.parametrize("model", [TEST_MODEL, "rgc-tiny-test-prior"])  # codings 0 and 1; 0, 1 and 3
def test_decoded_bits_and_coded_bytes_do_not_depend_on_threads_or_graph_optimisation(model, monkeypatch):
    coded_file = pillow_rgc.encode(synthetic_photo(256, 192), iterations=3, model=model)
    parsed = container.read(coded_file)
    payloads = [(chunk.coding, chunk.payload) for chunk in parsed.iterations]
    hashes, pixels = set(), []
    for threads, level in SETTINGS:
        loaded = model_with(threads, level, monkeypatch, model)
        monkeypatch.setattr(api, "load_model_for", lambda header, loaded=loaded: loaded)
        monkeypatch.setattr(api, "load_model", lambda model_id, loaded=loaded: loaded)
        recorder = Recorder()
        monkeypatch.setattr(api, "bitplanes_by_iteration", recorder)
        pixels.append(np.asarray(pillow_rgc.decode(coded_file), np.int16))
        monkeypatch.setattr(api, "bitplanes_by_iteration", recorder.decode)
        bitplanes = recorder.results[-1]
        hashes.add(bitplanes_sha256(bitplanes))
        # the same bits code to the same bytes in every setting: the coder runs no network
        recoded = [
            entropy.encode_bitplane(bits, bitplanes[:t], loaded.prior) for t, bits in enumerate(bitplanes)
        ]
        assert recoded == payloads
        # and a file encoded with these sessions decodes to exactly the bits its encoder had
        data = pillow_rgc.encode(synthetic_photo(256, 192), iterations=3, model=model)
        written = container.read(data)
        encoded = api.read_bitplanes(written)
        recoded = [entropy.encode_bitplane(bits, encoded[:t], loaded.prior) for t, bits in enumerate(encoded)]
        assert recoded == [(chunk.coding, chunk.payload) for chunk in written.iterations]
    assert len(hashes) == 1
    for other in pixels[1:]:  # the pixels may differ by a rounding step between settings, the bits may not
        assert np.abs(other - pixels[0]).max() <= 2


def test_decoding_twice_gives_the_same_bits(coded_file):
    parsed = container.read(coded_file)
    first = bitplanes_sha256(api.read_bitplanes(parsed))
    assert bitplanes_sha256(api.read_bitplanes(container.read(io.BytesIO(coded_file).getvalue()))) == first


def test_a_picture_stops_trying_coding_1_once_the_prior_is_clearly_smaller(monkeypatch):
    asked = []
    sizes = iter([(100, 99), (100, 96), (100, 50), (100, 10)])  # coding 1, coding 3 bytes, in turn

    def candidates(bits, earlier, prior=None, context=True):
        asked.append(context)
        context_size, prior_size = next(sizes)
        found = {entropy.RAW: bytes(200), entropy.PRIOR: bytes(prior_size)}
        if context:
            found[entropy.CONTEXT] = bytes(context_size)
        return found

    monkeypatch.setattr(entropy, "bitplane_candidates", candidates)
    choice = entropy.CodingChoice(prior=None)
    chosen = [choice.encode(np.zeros(1), [])[0] for _ in range(4)]
    # 99 is within 3 % of 100: coding 1 is tried again; 96 is not: no more coding 1 for this picture
    assert asked == [True, True, False, False]
    assert chosen == [entropy.PRIOR] * 4


def test_a_coding_choice_asked_twice_for_the_same_bits_codes_them_once(monkeypatch):
    coded = []
    monkeypatch.setattr(entropy, "bitplane_candidates", lambda bits, *_: coded.append(bits) or {0: b"x"})
    choice = entropy.CodingChoice(prior=None)
    bits, other = np.zeros(1), np.zeros(1)
    assert choice.encode(bits, []) == choice.encode(bits, []) == (0, b"x")
    choice.encode(other, [])
    assert coded == [bits, other]


@pytest.mark.parametrize("picture", ["flat", "photo"])
def test_skipping_coding_1_loses_nothing_on_a_flat_picture_or_a_photo(picture, monkeypatch):
    size = (384, 256)  # big enough for coding 1 to pay for its parameters
    image = Image.new("RGB", size, (90, 140, 200)) if picture == "flat" else synthetic_photo(*size)
    chosen = []
    encode = entropy.CodingChoice.encode

    def recording(self, bits, earlier):
        coding, payload = encode(self, bits, earlier)
        chosen.append(coding)
        return coding, payload

    monkeypatch.setattr(entropy.CodingChoice, "encode", recording)
    data = pillow_rgc.encode(image, iterations=6, model="rgc-fast-2")
    monkeypatch.setattr(entropy.CodingChoice, "CONTEXT_MARGIN", 0.0)  # always tries coding 1
    assert pillow_rgc.encode(image, iterations=6, model="rgc-fast-2") == data
    assert entropy.CONTEXT in chosen if picture == "flat" else entropy.PRIOR in chosen
