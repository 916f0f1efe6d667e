"""Exif, ICC profile and XMP: kept through save and open, in the ancillary chunks exif, iccp and xmpd."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import ExifTags, Image, ImageOps

import pillow_rgc
from pillow_rgc import container

from .conftest import TEST_MODEL, synthetic_photo

ORIENTATION = ExifTags.Base.Orientation
ICC = bytes(range(256)) * 3  # opaque to the codec: any bytes do
XMP = '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF/></x:xmpmeta>'


def exif_with(**tags) -> Image.Exif:
    exif = Image.Exif()
    for name, value in tags.items():
        exif[ExifTags.Base[name]] = value
    return exif


def saved(image: Image.Image, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "RGC", **{"model": TEST_MODEL, "iterations": 1, **options})
    return buffer.getvalue()


def opened(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data))


@pytest.fixture(scope="module")
def small() -> Image.Image:
    return synthetic_photo(40, 24)


def test_exif_icc_and_xmp_come_back_in_info(small):
    exif = exif_with(Make="Maker", Model="Camera", Orientation=3)
    with opened(saved(small, exif=exif, icc_profile=ICC, xmp=XMP)) as im:
        assert im.info["icc_profile"] == ICC
        assert im.info["xmp"] == XMP.encode()
        assert im.info["exif"].startswith(b"Exif\x00\x00")  # as Pillow's PNG and JPEG plugins give it
        found = im.getexif()
        assert (found[ExifTags.Base.Make], found[ExifTags.Base.Model], found[ORIENTATION]) == (
            "Maker",
            "Camera",
            3,
        )


@pytest.mark.parametrize("form", ["Exif object", "bytes", "bytes with Exif prefix"])
def test_exif_is_accepted_as_an_object_or_bytes_and_stored_without_the_prefix(small, form):
    exif = exif_with(Software="pillow-rgc")
    block = exif.tobytes().removeprefix(b"Exif\x00\x00")
    given = {"Exif object": exif, "bytes": block, "bytes with Exif prefix": b"Exif\x00\x00" + block}[form]
    data = saved(small, exif=given)
    assert container.read(data).ancillary["exif"] == block
    with opened(data) as im:
        assert im.getexif()[ExifTags.Base.Software] == "pillow-rgc"


def test_xmp_as_bytes_is_stored_as_given(small):
    packet = XMP.encode() + b"\n"
    assert container.read(saved(small, xmp=packet)).ancillary["xmpd"] == packet


def test_exif_orientation_lets_exif_transpose_turn_the_picture(small):
    """Orientation 6: the camera was turned; exif_transpose rotates by 270 degrees."""
    with opened(saved(small, exif=exif_with(Orientation=6), iterations=3)) as im:
        upright = ImageOps.exif_transpose(im)
        decoded = np.asarray(im)
    assert upright.size == (small.height, small.width)
    np.testing.assert_array_equal(np.asarray(upright), np.rot90(decoded, k=-1))
    assert ORIENTATION not in upright.getexif()


def test_icc_profile_is_kept_from_info_by_default_but_exif_and_xmp_are_not(small):
    """As Pillow's PNG, TIFF and AVIF writers: the profile says what pixels mean; the rest may be stale."""
    tagged = small.copy()
    tagged.info.update(icc_profile=ICC, exif=exif_with(Make="Old").tobytes(), xmp=XMP.encode())
    assert container.read(saved(tagged)).ancillary == {"iccp": ICC}
    assert container.read(saved(tagged, icc_profile=None)).ancillary == {}
    assert container.read(saved(tagged, icc_profile=b"other")).ancillary == {"iccp": b"other"}


def test_metadata_of_an_rgc_file_can_be_saved_again(small):
    first = saved(small, exif=exif_with(Make="Maker"), icc_profile=ICC, xmp=XMP)
    with opened(first) as im:
        again = saved(im, exif=im.info["exif"], xmp=im.info["xmp"])
    assert container.read(again).ancillary == container.read(first).ancillary


def test_no_metadata_no_chunks(small):
    data = saved(small)
    assert container.read(data).ancillary == {}
    with opened(data) as im:
        assert not {"exif", "icc_profile", "xmp"} & set(im.info)


def test_metadata_is_read_at_open_without_decoding(small, monkeypatch):
    data = saved(small, exif=exif_with(Make="Maker"), icc_profile=ICC)
    monkeypatch.setattr(pillow_rgc.api, "load_model", lambda *a, **k: pytest.fail("model loaded in open"))
    with opened(data) as im:
        assert im.info["icc_profile"] == ICC and im.getexif()[ExifTags.Base.Make] == "Maker"


def test_metadata_survives_cuts_and_truncation(small):
    data = pillow_rgc.encode(small, iterations=3, model=TEST_MODEL, icc_profile=ICC, xmp=XMP)
    first = container.read(data).iterations[0]
    for cut in (first.offset + first.size, len(data) - 5, len(pillow_rgc.truncate(data, iterations=2))):
        with opened(data[:cut]) as im:
            assert (im.info["icc_profile"], im.info["xmp"]) == (ICC, XMP.encode())
    with opened(pillow_rgc.truncate(data, iterations=1)) as im:
        assert im.info["icc_profile"] == ICC


def test_python_api_takes_and_gives_metadata(small):
    data = pillow_rgc.encode(small, iterations=1, model=TEST_MODEL, exif=exif_with(Make="M"), icc_profile=ICC)
    decoded = pillow_rgc.decode(data)
    assert decoded.info["icc_profile"] == ICC and decoded.getexif()[ExifTags.Base.Make] == "M"
    assert pillow_rgc.info(data)["metadata"] == ["exif", "icc_profile"]


def test_exif_that_is_not_a_tiff_block_is_refused_and_nothing_written(small, tmp_path):
    path = tmp_path / "bad.rgc"
    with pytest.raises(ValueError, match="exif"):
        small.save(path, model=TEST_MODEL, exif=b"not exif at all")
    assert not path.exists()


def test_a_damaged_metadata_chunk_is_corrupt_at_open(small):
    data = bytearray(saved(small, icc_profile=ICC))
    iccp = data.index(b"iccp")
    data[iccp + 10] ^= 0xFF  # inside the profile: the CRC no longer matches
    with pytest.raises(Image.UnidentifiedImageError):
        opened(bytes(data))
