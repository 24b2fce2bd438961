"""A pytest plugin for the interruption tests: the run's last cell waits for the signal.

`test_interrupted_run.py` interrupts a run "near the end". Sending the signal after a
number of records raced the run: on an idle machine the last cells finished first and
the run rightly said COMPLETE. With `-p tests.evidence.hold_last` and
ROLECALL_TEST_HOLD_DIR set, each process's last cell (pytest's `nextitem` is None:
nothing follows it in this process) leaves a `held-<pid>` file there and waits, at most
HOLD_SECONDS, before it runs. The test sends its signal once a file appears, so at
least one cell is certain not to have run.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

HOLD_SECONDS = 120.0  # the test signals within seconds; this only bounds a lost signal


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    folder = os.environ.get("ROLECALL_TEST_HOLD_DIR")
    if folder and nextitem is None:
        Path(folder, f"held-{os.getpid()}").touch()
        deadline = time.monotonic() + HOLD_SECONDS
        while time.monotonic() < deadline:
            time.sleep(0.05)  # the signal interrupts this sleep
    yield
