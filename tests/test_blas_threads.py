"""BLAS runs on one thread while pillow_rgc codes a picture, and the caller's setting comes back after."""

from __future__ import annotations

import threading

import pytest
from threadpoolctl import threadpool_info

import pillow_rgc
from pillow_rgc import blas_threads, entropy
from pillow_rgc.blas_threads import single_threaded_blas

from .conftest import synthetic_photo


def blas_thread_counts() -> list[int]:
    return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]


@pytest.fixture
def threaded_blas() -> int:
    """BLAS's threads as the process starts with them (more than one, or there is nothing to test)."""
    threads = set(blas_thread_counts())
    if len(threads) != 1 or threads == {1}:
        pytest.skip("numpy has no multithreaded BLAS that threadpoolctl can see")
    return threads.pop()


def test_the_prior_codes_with_one_blas_thread_and_the_setting_comes_back(threaded_blas, monkeypatch):
    seen = []
    for name in ("encode_bitplane", "decode_bitplane"):
        original = getattr(entropy, name)

        def recording(*args, _original=original, **kwargs):
            seen.extend(blas_thread_counts())
            return _original(*args, **kwargs)

        monkeypatch.setattr(entropy, name, recording)
    data = pillow_rgc.encode(synthetic_photo(48, 40), iterations=2, model="rgc-tiny-test-prior")
    pillow_rgc.decode(data)
    assert seen and set(seen) == {1}
    assert set(blas_thread_counts()) == {threaded_blas}


class RecordingController:
    """Stands in for threadpoolctl's controller: records when the limit is set and when it is lifted."""

    def __init__(self):
        self.events = []

    def limit(self, limits, user_api):
        self.events.append(("limit", limits, user_api))
        return self

    def restore_original_limits(self):
        self.events.append(("restore",))


def test_overlapping_users_limit_once_and_restore_when_the_last_one_ends(monkeypatch):
    controller = RecordingController()
    monkeypatch.setattr(blas_threads, "_controller", lambda: controller)
    first_inside, second_inside, first_left = threading.Event(), threading.Event(), threading.Event()
    seen_by_second = []

    def first():
        with single_threaded_blas():
            first_inside.set()
            second_inside.wait(10)
        first_left.set()

    def second():
        first_inside.wait(10)
        with single_threaded_blas():
            second_inside.set()
            first_left.wait(10)
            seen_by_second.extend(controller.events)  # the first has left: nothing restored yet

    threads = [threading.Thread(target=f) for f in (first, second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert seen_by_second == [("limit", 1, "blas")]
    assert controller.events == [("limit", 1, "blas"), ("restore",)]
