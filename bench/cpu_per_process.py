"""A pytest plugin for bench/parallel_bench.py: each process's CPU time, written at its end.

    pytest suites -n 2 -p cpu_per_process      (with bench/ on PYTHONPATH and
                                                ROLECALL_BENCH_CPU_DIR set to a folder)

Each pytest process (the controller, which also serves the embedded target in its
threads, and every xdist worker) writes one JSON line: user and system CPU seconds,
the garbage collector's seconds, context switches and its wall time. Prints nothing.
"""

from __future__ import annotations

import gc
import json
import os
import resource
import time
from pathlib import Path
from typing import Any

import pytest

_started: dict[str, float] = {"wall": 0.0, "gc": 0.0, "gc_since": 0.0}


def _time_collections(phase: str, _info: dict[str, Any]) -> None:
    if phase == "start":
        _started["gc_since"] = time.perf_counter()
    else:
        _started["gc"] += time.perf_counter() - _started["gc_since"]


def pytest_configure() -> None:
    _started["wall"] = time.perf_counter()
    gc.callbacks.append(_time_collections)


def pytest_unconfigure(config: pytest.Config) -> None:
    folder = os.environ.get("ROLECALL_BENCH_CPU_DIR")
    if not folder:
        return
    usage = resource.getrusage(resource.RUSAGE_SELF)
    worker = getattr(config, "workerinput", {}).get("workerid", "controller")
    Path(folder, f"{worker}.json").write_text(json.dumps({
        "process": worker, "user": usage.ru_utime, "system": usage.ru_stime,
        "gc": _started["gc"], "wall": time.perf_counter() - _started["wall"],
        "voluntary_switches": usage.ru_nvcsw, "involuntary_switches": usage.ru_nivcsw}))
