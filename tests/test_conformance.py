"""Conformance vectors: every file in ``spec/vectors`` gives the outcome its manifest records.

``manifest.json`` lists the vectors bound to the frozen ``rgc-tiny-test``,
``manifest-prior.json`` the coding-3 vectors, bound to ``rgc-tiny-test-prior``
(the same graphs with a frozen context prior), ``manifest-segmented.json``
the coding-4 vectors (versions 2.2 and 3.2), bound to ``rgc-tiny-test-prior`` too,
``manifest-one-shot.json`` files of the frozen one-shot ``rgc-tiny-test-one-shot``
(whole, cut and tiled pictures made by its synthesis graph), and ``manifest-silent.json``
the vectors of codings 5 and 6 (silent cells, version 2.3), bound to ``rgc-tiny-test-prior``.

See spec/rgc.md, "Conformance vectors".  Decoded bits are compared exactly
(SHA-256 of the bitplanes, packed as coding 0 packs them, whatever coding the
file uses), alpha planes exactly, pixels within the manifest's tolerance (float
networks round differently between machines), and errors by kind, by when a
reader finds them (``stage``) and by what their message must name.  The vectors
are read through ``pillow_rgc.container`` and through ``PIL.Image.open``, the
two ways users reach them.
"""

import hashlib
import importlib.util
import json
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, UnidentifiedImageError

import pillow_rgc
from pillow_rgc import alpha, api, container
from pillow_rgc.models import find_model, installed_models, model_hash

ROOT = Path(__file__).resolve().parent.parent
VECTORS = ROOT / "spec" / "vectors"
MANIFEST = json.loads((VECTORS / "manifest.json").read_text())
PRIOR_MANIFEST = json.loads((VECTORS / "manifest-prior.json").read_text())
SEGMENTED_MANIFEST = json.loads((VECTORS / "manifest-segmented.json").read_text())
ONE_SHOT_MANIFEST = json.loads((VECTORS / "manifest-one-shot.json").read_text())
SILENT_MANIFEST = json.loads((VECTORS / "manifest-silent.json").read_text())
MANIFEST_FILES = (
    "manifest.json",
    "manifest-prior.json",
    "manifest-segmented.json",
    "manifest-one-shot.json",
    "manifest-silent.json",
)
ENTRIES = [
    entry
    for manifest in (MANIFEST, PRIOR_MANIFEST, SEGMENTED_MANIFEST, ONE_SHOT_MANIFEST, SILENT_MANIFEST)
    for entry in manifest["vectors"]
]
TEST_MODEL = "rgc-tiny-test"
PRIOR_MODEL = "rgc-tiny-test-prior"
ONE_SHOT_MODEL = "rgc-tiny-test-one-shot"

FORMAT_ERRORS = {
    "not-rgc": container.NotRGCError,
    "truncated": container.TruncatedFileError,
    "corrupt": container.CorruptChunkError,
    "unsupported-version": container.UnsupportedVersionError,
}
MODEL_ERRORS = ("unknown-model", "model-mismatch")
ALPHA_MODES = ("LA", "RGBA")


def entries(**match) -> list:
    """Manifest entries whose fields have the given values (a tuple value: any of them)."""

    def matches(entry: dict) -> bool:
        wanted = {key: value if isinstance(value, tuple) else (value,) for key, value in match.items()}
        return all(entry.get(key) in values for key, values in wanted.items())

    return [pytest.param(entry, id=entry["file"]) for entry in ENTRIES if matches(entry)]


def data_of(entry: dict) -> bytes:
    return (VECTORS / entry["file"]).read_bytes()


def bitplanes_sha256(bitplanes: list[np.ndarray]) -> str:
    """The manifest's hash: each decoded bitplane packed as coding 0 stores it, concatenated."""
    packed = (np.packbits(np.asarray(bits).ravel()).tobytes() for bits in bitplanes)
    return hashlib.sha256(b"".join(packed)).hexdigest()


def silent_cells_sha256(bitplanes: list[np.ndarray]) -> str | None:
    """The manifest's hash of the silent cells: each iteration's rows x columns map packed as coding 0
    packs bits (1 = silent), concatenated; None when no cell is silent."""
    maps = [np.ma.getmaskarray(bits)[0] for bits in bitplanes]
    if not any(silent.any() for silent in maps):
        return None
    return hashlib.sha256(b"".join(np.packbits(silent.ravel()).tobytes() for silent in maps)).hexdigest()


def decoded_bitplanes(parsed: container.Container, iterations: int | None = None) -> list[np.ndarray]:
    """The bitplanes in the manifest's order: by iteration, then by tile (tiles without bits left out)."""
    tiles = api.read_tile_bitplanes(parsed, iterations)
    return [tile[index] for index in range(max(map(len, tiles))) for tile in tiles if index < len(tile)]


def iterations_read(parsed: container.Container, iterations: int | None = None) -> int:
    return max(map(len, api.read_tile_bitplanes(parsed, iterations)))


def assert_names(message: str, parts: list[str]) -> None:
    missing = [part for part in parts if part not in message]
    assert not missing, f"{message!r} does not name {missing}"


def alpha_sha256(plane: np.ndarray) -> str:
    """The manifest's hash of an alpha plane: its height x width bytes, row by row."""
    return hashlib.sha256(np.ascontiguousarray(plane, np.uint8).tobytes()).hexdigest()


def read_fully(data: bytes) -> container.Container:
    """``container.read``, then the bits of every ITER and the alpha plane: every check short of the model.

    Damage that the spec lets a reader find only when it decodes (``decode_only``)
    shows here at the latest.
    """
    parsed = container.read(data)
    api.read_tile_bitplanes(parsed)
    if parsed.alpha is not None:
        alpha.decode(parsed.alpha, parsed.header.width, parsed.header.height)
    return parsed


# --- files that decode -------------------------------------------------------


@pytest.mark.parametrize("entry", entries(outcome="decodes"))
def test_container_reads_the_exact_bitplanes(entry):
    parsed = container.read(data_of(entry))
    header = parsed.header
    assert (header.width, header.height, header.mode) == (entry["width"], entry["height"], entry["mode"])
    assert len(parsed.iterations) == entry["iterations"]
    assert parsed.complete == entry["complete"]
    assert parsed.corrupt is None
    assert "{}.{}".format(*header.version) == entry["version"]
    assert [item.coding for item in parsed.iterations] == entry["codings"]
    bitplanes = decoded_bitplanes(parsed)
    assert bitplanes_sha256(bitplanes) == entry["bitplanes_sha256"]
    if not header.tiled:  # a partial last iteration gives only its first channels
        assert silent_cells_sha256(bitplanes) == entry.get("silent_cells_sha256")
        assert len(bitplanes[-1]) == entry.get("last_channels", header.code_channels)


@pytest.mark.parametrize("entry", entries(outcome="decodes"))
def test_info_reports_the_version_and_the_coding_of_every_iteration(entry):
    info = pillow_rgc.info(data_of(entry))
    assert info["format_version"] == entry["version"]
    assert [item["coding"] for item in info["chunks"]] == entry["codings"]
    assert info["alpha"] == (entry["mode"] in ALPHA_MODES)


@pytest.mark.parametrize("entry", entries(outcome="decodes", mode=ALPHA_MODES))
def test_container_reads_the_exact_alpha_plane(entry):
    parsed = container.read(data_of(entry))
    plane = alpha.decode(parsed.alpha, parsed.header.width, parsed.header.height)
    assert plane.shape == (entry["height"], entry["width"])
    assert alpha_sha256(plane) == entry["alpha_sha256"]


@pytest.mark.parametrize("entry", [p for p in entries(outcome="decodes") if "ancillary" in p.values[0]])
def test_container_keeps_known_ancillary_chunks_and_skips_unknown_ones(entry):
    ancillary = container.read(data_of(entry)).ancillary
    assert {name: hashlib.sha256(data).hexdigest() for name, data in ancillary.items()} == entry["ancillary"]


@pytest.mark.parametrize("entry", [p for p in entries(outcome="decodes") if p.values[0].get("ancillary")])
def test_pillow_exposes_known_ancillary_chunks_in_info(entry):
    keys = {"exif": "exif", "iccp": "icc_profile", "xmpd": "xmp"}
    with Image.open(VECTORS / entry["file"]) as im:
        info = dict(im.info)
    if "exif" in info:  # Pillow's PNG and JPEG plugins keep the "Exif\0\0" prefix; both forms are fine
        info["exif"] = info["exif"].removeprefix(b"Exif\x00\x00")
    found = {name: hashlib.sha256(info[key]).hexdigest() for name, key in keys.items() if key in info}
    assert found == entry["ancillary"]


@pytest.mark.parametrize("entry", entries(outcome="decodes"))
def test_pillow_decodes_the_expected_pixels(entry):
    with Image.open(VECTORS / entry["file"]) as im:
        assert im.format == "RGC"
        assert (im.size, im.mode) == ((entry["width"], entry["height"]), entry["mode"])
        assert im.info["iterations"] == entry["iterations"]
        im.load()
        assert im.info["iterations_decoded"] == entry["iterations"]
        actual = np.asarray(im, np.int16)
    with Image.open(VECTORS / entry["pixels"]) as reference:
        assert (reference.size, reference.mode) == (im.size, im.mode)
        expected = np.asarray(reference, np.int16)
    difference = np.abs(actual - expected)
    tolerance = MANIFEST["pixel_tolerance"]
    assert difference.max() <= tolerance["max_abs"], f"max abs difference {difference.max()}"
    assert difference.mean() <= tolerance["mean_abs"], f"mean abs difference {difference.mean():.4f}"
    if entry["mode"] in ALPHA_MODES:  # alpha is lossless: exact, in the PNG and by the manifest's hash
        assert np.array_equal(actual[..., -1], expected[..., -1])
        assert alpha_sha256(actual[..., -1]) == entry["alpha_sha256"]


# --- files a reader refuses ----------------------------------------------------


@pytest.mark.parametrize("entry", entries(error=tuple(FORMAT_ERRORS)))
def test_container_refuses_with_the_expected_error(entry):
    """``decode_only`` damage may pass ``container.read``: it must show when the bits or alpha are decoded."""
    with pytest.raises(FORMAT_ERRORS[entry["error"]]) as caught:
        (read_fully if entry.get("decode_only") else container.read)(data_of(entry))
    assert_names(str(caught.value), entry["message_contains"])
    if entry["error"] == "corrupt":
        assert (caught.value.chunk_type, caught.value.offset) == (entry["chunk"], entry["offset"])


@pytest.mark.parametrize("entry", entries(error="corrupt"))
def test_container_keeps_the_iterations_before_the_damage_on_request(entry):
    if entry.get("decode_only"):
        try:
            parsed = container.read(data_of(entry), on_corrupt="stop")
        except container.CorruptChunkError:
            assert not entry["good_prefix"]
            return
        if parsed.corrupt is None:  # not seen by the container: the good prefix must still decode
            assert len(parsed.iterations) > entry["good_prefix"]
            if entry["good_prefix"]:
                assert iterations_read(parsed, entry["good_prefix"]) == entry["good_prefix"]
            return
    if not entry["good_prefix"]:
        with pytest.raises(container.CorruptChunkError):
            container.read(data_of(entry), on_corrupt="stop")
        return
    parsed = container.read(data_of(entry), on_corrupt="stop")
    assert len(parsed.iterations) == entry["good_prefix"]
    assert not parsed.complete
    assert_names(parsed.corrupt, [entry["chunk"], str(entry["offset"])])


@pytest.mark.parametrize("entry", entries(outcome="error", stage="open"))
def test_pillow_refuses_to_open(entry, monkeypatch):
    """UnidentifiedImageError; the plugin's reason is reported when the signature let it try."""
    monkeypatch.setattr(Image, "WARN_POSSIBLE_FORMATS", True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(UnidentifiedImageError):
            Image.open(VECTORS / entry["file"])
    reasons = [str(w.message) for w in caught if str(w.message).startswith("RGC opening failed")]
    if not data_of(entry).startswith(container.SIGNATURE):
        assert not reasons
        return
    assert len(reasons) == 1
    # A reader that walks the chunk frames may meet another broken rule than the
    # full reader first (the duplicated ITER): only the chunk type is compared then.
    assert_names(reasons[0], [entry["chunk"]] if entry["error"] == "corrupt" else entry["message_contains"])


@pytest.mark.parametrize("entry", entries(error=tuple(FORMAT_ERRORS), stage="decode"))
def test_pillow_opens_then_refuses_to_load_a_damaged_iteration(entry):
    with Image.open(VECTORS / entry["file"]) as im:
        with pytest.raises(OSError) as caught:
            im.load()
    assert isinstance(caught.value, FORMAT_ERRORS[entry["error"]])
    assert_names(str(caught.value), entry["message_contains"])


@pytest.mark.parametrize("entry", entries(error=MODEL_ERRORS))
def test_model_errors_name_the_model_and_what_is_installed(entry):
    parsed = container.read(data_of(entry))
    assert parsed.complete and parsed.header.model_id == entry["model"]
    with Image.open(VECTORS / entry["file"]) as im:
        with pytest.raises(pillow_rgc.ModelError) as caught:
            im.load()
    with pytest.raises(pillow_rgc.ModelError):
        pillow_rgc.decode(data_of(entry))
    message = str(caught.value)
    assert_names(message, entry["message_contains"])
    if entry["error"] == "unknown-model":
        assert_names(message, sorted(installed_models()))
    else:
        assert_names(message, [installed_models()[entry["model"]].sha256[:8]])


# --- the manifest and the folder -------------------------------------------


def test_manifest_lists_every_file_in_the_folder_and_nothing_else():
    files = [entry["file"] for entry in ENTRIES]
    assert len(files) == len(set(files))
    listed = set(files) | {entry["pixels"] for entry in ENTRIES if "pixels" in entry}
    on_disk = {path.name for path in VECTORS.iterdir()} - set(MANIFEST_FILES)
    assert listed == on_disk


def test_manifest_entries_have_the_fields_of_their_outcome():
    for entry in ENTRIES:
        assert entry["file"].endswith(".rgc") and entry["description"]
        if entry["outcome"] == "decodes":
            assert entry["iterations"] >= 1 and entry["mode"] in ("L", "LA", "RGB", "RGBA")
            assert entry["version"] in ("1.0", "1.1", "2.0", "2.1", "2.2", "2.3", "3.0", "3.1", "3.2"), entry
            assert len(entry["codings"]) == entry["iterations"], entry
            allowed = {
                "1.0": {0},
                "1.1": {0},
                "2.0": {0, 1},
                "2.1": {0, 1, 3},
                "2.2": {0, 1, 3, 4},
                "2.3": {0, 1, 3, 4, 5, 6},
            }
            assert set(entry["codings"]) <= allowed.get(entry["version"], {2}), entry
            assert entry["codings"][0] not in (4, 5, 6), entry
            if "last_channels" in entry:  # a partial last iteration: coding 4 or 6 without all its segments
                assert entry["codings"][-1] in (4, 6) and entry["last_channels"] >= 1, entry
            if "silent_cells_sha256" in entry:
                assert len(bytes.fromhex(entry["silent_cells_sha256"])) == 32 and entry["version"] == "2.3"
            assert len(bytes.fromhex(entry["bitplanes_sha256"])) == 32
            assert ("alpha_sha256" in entry) == (entry["mode"] in ALPHA_MODES), entry
            if "alpha_sha256" in entry:
                assert len(bytes.fromhex(entry["alpha_sha256"])) == 32
            assert entry["pixels"].endswith(".png")
        else:
            assert entry["outcome"] == "error", entry
            assert entry["error"] in (*FORMAT_ERRORS, *MODEL_ERRORS), entry
            assert entry["stage"] in ("open", "decode") and entry["message_contains"], entry
            if entry.get("decode_only"):
                assert entry["error"] == "corrupt" and entry["stage"] == "decode", entry


def test_vectors_cover_format_2_0():
    """Coding-1 files, files with alpha (RGBA and LA) and the 2.0 rules are all in the manifest."""
    decoded = entries(outcome="decodes")
    coding1 = [p.values[0] for p in decoded if 1 in p.values[0]["codings"]]
    assert any(set(entry["codings"]) == {1} and entry["complete"] for entry in coding1)
    assert any(not entry["complete"] for entry in coding1)  # a cut file decodes its coding-1 chunks
    assert {p.values[0]["mode"] for p in decoded} == {"L", "LA", "RGB", "RGBA"}
    assert {"1.0", "1.1", "2.0"} <= {p.values[0]["version"] for p in decoded}
    corrupt = {(p.values[0]["chunk"], p.values[0]["stage"]) for p in entries(error="corrupt")}
    assert {("ALPH", "open"), ("ALPH", "decode"), ("ITER", "decode")} <= corrupt


def test_vectors_cover_coding_3():
    """Coding 3 whole, cut, tiled (beside coding 0), and its rules, in their own manifest."""
    decoded = [entry for entry in PRIOR_MANIFEST["vectors"] if entry["outcome"] == "decodes"]
    assert any(set(entry["codings"]) == {3} and entry["complete"] for entry in decoded)
    assert any(not entry["complete"] and entry["version"] == "2.1" for entry in decoded)
    assert {entry["version"] for entry in decoded} == {"2.1", "3.1"}
    damaged = [entry for entry in PRIOR_MANIFEST["vectors"] if entry.get("error") == "corrupt"]
    assert any("context prior" in entry["message_contains"] for entry in damaged)
    assert any(entry.get("decode_only") and entry["good_prefix"] for entry in damaged)


def test_vectors_cover_coding_4():
    """Coding 4 whole, ending in a partial iteration, cut inside its chunks, truncated, in tiles, and its
    rules, in their own manifest."""
    vectors = SEGMENTED_MANIFEST["vectors"]
    decoded = [entry for entry in vectors if entry["outcome"] == "decodes"]
    assert {entry["version"] for entry in decoded} == {"2.2", "3.2"}
    assert any(entry["codings"] == [3, 4, 4, 4] and entry["complete"] for entry in decoded)
    assert any("last_channels" in entry and entry["complete"] for entry in decoded)  # written so
    cut = [entry for entry in decoded if not entry["complete"] and entry["version"] == "2.2"]
    assert any("last_channels" in entry for entry in cut)  # cut after some of a chunk's segments
    assert any("last_channels" not in entry for entry in cut)  # before its first, or in its CRC
    damaged = [entry for entry in vectors if entry.get("error") == "corrupt"]
    assert any(entry["good_prefix"] == 0 and "coding 4" in entry["message_contains"] for entry in damaged)
    assert any(entry.get("decode_only") and entry["good_prefix"] for entry in damaged)


def test_vectors_cover_one_shot_models():
    """A one-shot model's picture after whole iterations, after a partial one, and in tiles."""
    assert find_model(ONE_SHOT_MODEL).one_shot
    decoded = ONE_SHOT_MANIFEST["vectors"]
    assert all(entry["outcome"] == "decodes" for entry in decoded)
    assert any(entry["complete"] and entry["version"] == "2.2" for entry in decoded)
    assert any("last_channels" in entry for entry in decoded)
    assert any(not entry["complete"] and "last_channels" not in entry for entry in decoded)
    assert any(entry["version"].startswith("3.") for entry in decoded)


def test_vectors_cover_codings_5_and_6():
    """Silent cells: coding 5 whole and cut, coding 6 whole, cut inside its segments and truncated, and their
    rules, in their own manifest."""
    vectors = SILENT_MANIFEST["vectors"]
    decoded = [entry for entry in vectors if entry["outcome"] == "decodes"]
    assert {entry["version"] for entry in decoded} == {"2.3"}
    assert all("silent_cells_sha256" in entry for entry in decoded if {5, 6} & set(entry["codings"]))
    assert any(entry["codings"][-2:] == [5, 5] and entry["complete"] for entry in decoded)
    assert any(
        entry["codings"][-1] == 6 and "last_channels" in entry and not entry["complete"] for entry in decoded
    )
    assert any(
        entry["codings"][-1] == 6 and "last_channels" in entry and entry["complete"] for entry in decoded
    )
    damaged = [entry for entry in vectors if entry.get("error") == "corrupt"]
    assert any(entry["good_prefix"] == 0 and "coding 5" in entry["message_contains"] for entry in damaged)
    assert any(entry.get("decode_only") and entry["good_prefix"] for entry in damaged)


@pytest.mark.parametrize(
    "manifest, model, version",
    [
        (MANIFEST, TEST_MODEL, "3.0"),
        (PRIOR_MANIFEST, PRIOR_MODEL, "3.1"),
        (SEGMENTED_MANIFEST, PRIOR_MODEL, "3.2"),
        (ONE_SHOT_MANIFEST, ONE_SHOT_MODEL, "3.2"),
        (SILENT_MANIFEST, PRIOR_MODEL, "2.3"),
    ],
)
def test_vectors_are_bound_to_the_frozen_test_model(manifest, model, version):
    info = find_model(model)
    assert model_hash(info.folder) == info.sha256, f"weights/{model} changed: it must never change"
    assert manifest["model"] == {"id": model, "sha256": info.sha256}
    assert manifest["format_version"] == version
    assert int(manifest["format_version"].split(".")[0]) in container.READ_MAJORS
    for entry in manifest["vectors"]:
        if entry["outcome"] == "decodes":
            header = container.read((VECTORS / entry["file"]).read_bytes()).header
            assert (header.model_id, header.model_hash.hex()) == (model, info.sha256)


def test_the_prior_test_model_is_the_frozen_test_model_with_a_prior():
    plain, prior = find_model(TEST_MODEL).folder, find_model(PRIOR_MODEL).folder
    for name in ("encoder.onnx", "decoder.onnx"):
        assert (plain / name).read_bytes() == (prior / name).read_bytes()
    assert not (plain / "context_prior.bin").exists() and (prior / "context_prior.bin").is_file()


def test_derived_vectors_are_exactly_what_make_vectors_makes_from_the_base_vectors(monkeypatch):
    """Cut and damaged files involve no float arithmetic, so they are checked byte for byte."""
    spec = importlib.util.spec_from_file_location("make_vectors", ROOT / "spec" / "make_vectors.py")
    make_vectors = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, make_vectors)  # dataclasses look their module up
    spec.loader.exec_module(make_vectors)
    by_file = {entry["file"]: entry for entry in ENTRIES}
    sources = {
        **make_vectors.SOURCES,
        **make_vectors.PRIOR_SOURCES,
        **make_vectors.SEGMENTED_SOURCES,
        **make_vectors.ONE_SHOT_SOURCES,
        **make_vectors.SILENT_SOURCES,
    }
    bases = {name: (VECTORS / name).read_bytes() for name in sources}
    derived = [
        *make_vectors.derive(bases),
        *make_vectors.derive_prior(bases),
        *make_vectors.derive_segmented(bases),
        *make_vectors.derive_one_shot(bases),
        *make_vectors.derive_silent(bases),
    ]
    assert {vector.name for vector in derived} | set(bases) == set(by_file)
    for vector in derived:
        assert (VECTORS / vector.name).read_bytes() == vector.data, vector.name
        entry = by_file[vector.name]
        assert entry["description"] == vector.description
        assert {key: entry[key] for key in vector.expect} == vector.expect
