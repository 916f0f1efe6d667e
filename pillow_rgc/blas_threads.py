"""One BLAS thread while pillow_rgc codes a picture: OpenBLAS's idle threads take onnxruntime's cores.

The context prior's few small matrix products go through numpy's BLAS. OpenBLAS
runs each on every core, and its threads then spin a while waiting for more work,
on the cores that onnxruntime's next graph run needs. A decode of a 768x512 photo
took 15-23 % longer for it on 2 cores (the same decodes with
``OPENBLAS_NUM_THREADS=1``: 83-104 ms against 106-125 ms for ``rgc-fast-2``),
while the products themselves hardly gain from a second thread. So BLAS gets one
thread while an encode or decode runs, and the caller's setting comes back when
the last one running ends.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Iterator

from threadpoolctl import ThreadpoolController

_lock = threading.Lock()
_running = 0
_limits = None


@functools.cache
def _controller() -> ThreadpoolController:
    return ThreadpoolController()  # finds the loaded BLAS libraries once (2 ms)


@contextlib.contextmanager
def single_threaded_blas() -> Iterator[None]:
    """BLAS on one thread inside; also a decorator. Nests, and threads may enter it concurrently."""
    global _running, _limits
    with _lock:
        if not _running:
            _limits = _controller().limit(limits=1, user_api="blas")
        _running += 1
    try:
        yield
    finally:
        with _lock:
            _running -= 1
            if not _running:
                _limits.restore_original_limits()
                _limits = None
