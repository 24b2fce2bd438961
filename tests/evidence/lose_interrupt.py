"""A pytest plugin for the interruption tests: Ctrl-C arrives inside a finalizer and is lost.

Python runs a signal handler between bytecodes, also inside a garbage collector's
finalizer, where the handler's KeyboardInterrupt is printed ("Exception ignored in")
and dropped. CI once saw exactly that: the run went on and exited 0. With
`-p tests.evidence.lose_interrupt`, the 20th cell of a run without workers sends the
process SIGINT from inside a `weakref.finalize` callback, and so loses it the same way.
"""

from __future__ import annotations

import gc
import os
import signal
import time
import weakref
from collections.abc import Iterator

import pytest

AT_CELL = 20
_seen = 0


class _Garbage:
    """Something for the collector to finalize."""


def _interrupt_inside_finalizer() -> None:
    os.kill(os.getpid(), signal.SIGINT)
    time.sleep(0.5)  # the handler runs here, inside the finalizer, and its exception is dropped


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    global _seen  # one counter for the run, in a test-only plugin
    _seen += 1
    if _seen == AT_CELL:
        garbage = _Garbage()
        weakref.finalize(garbage, _interrupt_inside_finalizer)
        del garbage
        gc.collect()
    yield
