"""Run an iterator ahead of its consumer in a thread: entropy decoding beside the network.

A decode alternates entropy decoding (Python and numpy, one core) with
onnxruntime's graph runs, which leave part of the two cores idle and release
the GIL. Decoding the next iteration's bits while the network runs on the
current one took a 768x512 decode from 79-82 ms to 71-76 ms (`rgc-fast-2`,
prototype timing, 3 rounds each).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import TypeVar

Item = TypeVar("Item")

_DONE = object()


def prefetched(items: Iterator[Item]) -> Iterator[Item]:
    """``items`` in order, produced by a background thread as fast as it can.

    An exception of the producer is raised here, where its item would have come.
    When the consumer stops early (or fails), the producer stops after the item
    it is making, and the thread is joined before this generator closes.
    """
    results: queue.SimpleQueue = queue.SimpleQueue()
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                results.put(item)
                if stop.is_set():
                    return
            results.put(_DONE)
        except BaseException as error:  # handed to the consumer, raised there
            results.put(_Failure(error))

    thread = threading.Thread(target=produce, name="pillow_rgc prefetch", daemon=True)
    thread.start()
    try:
        while (item := results.get()) is not _DONE:
            if isinstance(item, _Failure):
                raise item.error
            yield item
    finally:
        stop.set()
        thread.join()


class _Failure:
    def __init__(self, error: BaseException):
        self.error = error
