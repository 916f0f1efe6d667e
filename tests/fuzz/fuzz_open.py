"""atheris harness: arbitrary bytes through ``Image.open`` + ``load`` and ``pillow_rgc.api``'s readers.

    python3 tests/fuzz/fuzz_open.py [corpus folder ...] [libFuzzer flags] -atheris_runs=100000

See ``tests/fuzz/README.md``. What one input goes through and what counts as a
finding is in ``harness.py`` (the test suite replays findings through the
same code). This file adds libFuzzer: coverage of ``pillow_rgc`` (the only
package instrumented), the structure-aware mutator of ``mutator.py``, and
``-timeout=10`` unless a ``-timeout`` is given.

By default the first finding stops the run, as libFuzzer does (it writes the
input to ``crash-<sha1>``, or ``timeout-<sha1>`` for a call that never
returns). With ``RGC_FUZZ_FINDINGS=folder`` the run goes on instead: each
finding is written to that folder (up to ``RGC_FUZZ_KEEP`` inputs, default 3,
per distinct exception type and place) with its traceback, and listed in
``folder/findings.txt``.
"""

from __future__ import annotations

import hashlib
import os
import sys
import traceback
from pathlib import Path

import atheris

HERE = Path(__file__).resolve().parent
sys.path.insert(1, str(HERE.parent.parent))  # the checkout this file belongs to, before an installed copy

with atheris.instrument_imports(include=["pillow_rgc"]):
    import pillow_rgc

import harness  # noqa: E402  (after the instrumented import of pillow_rgc)
import mutator  # noqa: E402

FINDINGS = os.environ.get("RGC_FUZZ_FINDINGS")
KEEP = int(os.environ.get("RGC_FUZZ_KEEP", "3"))
_seen: dict[str, int] = {}


def _signature(error: BaseException) -> str:
    """Exception type, the innermost frame in pillow_rgc (else the innermost of all) and the harness step."""
    frames = traceback.extract_tb(error.__traceback__)
    ours = [f for f in frames if f"{os.sep}pillow_rgc{os.sep}" in f.filename]
    steps = [f.name for f in frames if f.filename.endswith("harness.py") and f.name.startswith("_")]
    where = (ours or frames)[-1]
    step = steps[0] if steps else "?"
    return f"{type(error).__name__} at {Path(where.filename).name}:{where.lineno} ({where.name}) in {step}"


def _record(data: bytes, error: BaseException) -> None:
    signature = _signature(error)
    count = _seen.get(signature, 0)
    _seen[signature] = count + 1
    if count >= KEEP:
        return
    folder = Path(FINDINGS)
    folder.mkdir(parents=True, exist_ok=True)
    name = f"finding-{type(error).__name__}-{hashlib.sha1(data).hexdigest()[:16]}"
    if (folder / f"{name}.rgc").exists():  # libFuzzer runs an input again now and then
        return
    (folder / f"{name}.rgc").write_bytes(data)
    text = "".join(traceback.format_exception(error))
    (folder / f"{name}.txt").write_text(f"{signature}\n\n{text}")
    with open(folder / "findings.txt", "a") as listing:
        listing.write(f"{name}.rgc\t{signature}\n")
    print(f"\n=== FINDING {name}: {signature}\n{text}", file=sys.stderr, flush=True)


def test_one_input(data: bytes) -> None:
    try:
        harness.exercise(data)
    except Exception as error:  # noqa: BLE001  (every exception that escapes the harness is a finding)
        if not FINDINGS:
            raise
        _record(data, error)


def custom_mutator(data: bytes, max_size: int, seed: int) -> bytes:
    return mutator.mutate(data, max_size, seed, generic=atheris.Mutate)


def custom_crossover(data1: bytes, data2: bytes, max_out_size: int, seed: int) -> bytes:
    return mutator.crossover(data1, data2, max_out_size, seed)


def main() -> None:
    argv = list(sys.argv)
    if not any(arg.startswith("-timeout=") for arg in argv):
        argv.append(f"-timeout={int(harness.TIME_LIMIT)}")
    print(f"fuzzing {pillow_rgc.__file__}", file=sys.stderr)
    atheris.Setup(argv, test_one_input, custom_mutator=custom_mutator, custom_crossover=custom_crossover)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
