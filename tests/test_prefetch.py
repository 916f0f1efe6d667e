"""An iterator run ahead of its consumer in a thread: order, errors, and no thread left behind."""

from __future__ import annotations

import threading
import time

import pytest

from pillow_rgc.prefetch import prefetched


def test_items_come_in_order_from_another_thread():
    producers = []

    def items():
        for i in range(50):
            producers.append(threading.current_thread())
            yield i

    assert list(prefetched(items())) == list(range(50))
    assert set(producers) != {threading.current_thread()}


def test_an_error_of_the_producer_is_raised_where_its_item_would_have_come():
    def items():
        yield 1
        yield 2
        raise KeyError("bad chunk")

    received = []
    with pytest.raises(KeyError, match="bad chunk"):
        for item in prefetched(items()):
            received.append(item)
    assert received == [1, 2]


def test_a_consumer_that_stops_early_stops_the_producer_and_leaves_no_thread():
    made = []

    def items():
        for i in range(1000):  # 5 s if it never stopped
            time.sleep(0.005)
            made.append(i)
            yield i

    before = threading.active_count()
    stream = prefetched(items())
    assert next(stream) == 0
    stream.close()
    assert threading.active_count() == before
    assert len(made) < 100
