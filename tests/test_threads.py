"""Threads: encoding and decoding at once gives what one at a time gives; models load once per process."""

from __future__ import annotations

import io
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from PIL import Image, ImageFile

import pillow_rgc
from pillow_rgc import models

from .conftest import TEST_MODEL, synthetic_photo

THREADS = 4


def convert(image: Image.Image) -> tuple[bytes, np.ndarray]:
    """What a worker in a batch converter does: save as .rgc, open, load."""
    buffer = io.BytesIO()
    image.save(buffer, "RGC", model=TEST_MODEL, iterations=3)
    with Image.open(io.BytesIO(buffer.getvalue())) as im:
        return buffer.getvalue(), np.asarray(im)


def test_four_threads_give_the_same_bytes_and_pixels_as_one_at_a_time():
    images = [synthetic_photo(48 + 16 * i, 40 + 8 * i, seed=i) for i in range(2 * THREADS)]
    images[1] = images[1].convert("L")
    images[2] = images[2].convert("RGBA")
    one_at_a_time = [convert(image) for image in images]
    start = threading.Barrier(THREADS)

    def together(image: Image.Image) -> tuple[bytes, np.ndarray]:
        try:
            start.wait(timeout=30)  # the first four begin at the same moment
        except threading.BrokenBarrierError:
            pass
        return convert(image)

    with ThreadPoolExecutor(THREADS) as pool:
        at_once = list(pool.map(together, images))
    for (data, pixels), (data_at_once, pixels_at_once) in zip(one_at_a_time, at_once):
        assert data == data_at_once
        np.testing.assert_array_equal(pixels, pixels_at_once)


def test_a_model_is_loaded_once_however_many_threads_ask(monkeypatch):
    monkeypatch.setattr(models, "_loaded", {})
    created = []
    original_init = models.LoadedModel.__init__

    def counting_init(self, info):
        created.append(info.id)
        original_init(self, info)

    monkeypatch.setattr(models.LoadedModel, "__init__", counting_init)
    start = threading.Barrier(THREADS)

    def load(_):
        start.wait(timeout=30)
        return models.load_model(TEST_MODEL)

    with ThreadPoolExecutor(THREADS) as pool:
        loaded = list(pool.map(load, range(THREADS)))
    assert created == [TEST_MODEL]
    assert all(model is loaded[0] for model in loaded)


def test_parsers_in_threads_do_not_mix_their_streams():
    """Each Parser's image decodes its own bytes, though all share the decoder registration."""
    datas = [
        pillow_rgc.encode(synthetic_photo(32, 32, seed=10 + i), iterations=2, model=TEST_MODEL)
        for i in range(THREADS)
    ]
    expected = [np.asarray(pillow_rgc.decode(data)) for data in datas]

    def stream(data: bytes) -> np.ndarray:
        parser = ImageFile.Parser()
        for start in range(0, len(data), 17):
            parser.feed(data[start : start + 17])
        return np.asarray(parser.close())

    with ThreadPoolExecutor(THREADS) as pool:
        for got, want in zip(pool.map(stream, datas), expected):
            np.testing.assert_array_equal(got, want)
