"""Where an -n 2 run of the default matrix loses its time (printed, not asserted).

    python bench/parallel_bench.py [--rounds 2] [--scenario NAME ...]

Runs the default matrix on the embedded target at -n 0 and at -n 2, interleaved
(`--rounds` times each: this machine's wall times vary from run to run), and prints
for each run pytest's own time, the speedup, and each process's CPU seconds
(bench/cpu_per_process.py). At -n 2 the embedded target serves both workers from
threads of the controller process, so its CPU is the controller's: the sum of all
processes' CPU over two cores is the fastest the run could be; how far the run is
from it is time the workers spent waiting.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(workers: int, scenarios: list[str]) -> tuple[float, list[dict[str, float]]]:
    """pytest's own seconds for the run and each process's CPU record."""
    with tempfile.TemporaryDirectory() as folder:
        env = {**os.environ, "ROLECALL_BENCH_CPU_DIR": folder,
               "PYTHONPATH": os.pathsep.join([str(ROOT / "bench"), os.environ.get("PYTHONPATH", "")])}
        args = [sys.executable, "-m", "pytest", "suites", "-q", "-n", str(workers),
                "-p", "no:cacheprovider", "-p", "no:randomly", "-p", "cpu_per_process",
                "--evidence-dir", str(Path(folder) / "reports")]
        for name in scenarios:
            args += ["--scenario", name]
        done = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
        found = re.search(r"(\d[\d,]*) passed.* in ([\d.]+)s", done.stdout)
        if done.returncode != 0 or found is None:
            sys.exit(f"-n {workers} failed (exit {done.returncode}):\n{done.stdout[-2000:]}")
        records = [json.loads(p.read_text()) for p in sorted(Path(folder).glob("*.json"))]
        print(f"  -n {workers}: {found.group(1)} passed in {float(found.group(2)):.2f} s")
        return float(found.group(2)), records


def describe(records: list[dict[str, float]]) -> str:
    return "; ".join(
        f"{r['process']} {r['user'] + r['system']:.1f} s CPU (gc {r['gc']:.1f}) of "
        f"{r['wall']:.1f} s, {r['involuntary_switches']:,} preempted" for r in records)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--scenario", action="append", default=[])
    options = parser.parse_args()
    for round_ in range(1, options.rounds + 1):
        print(f"round {round_}")
        serial, serial_cpu = run(0, options.scenario)
        parallel, parallel_cpu = run(2, options.scenario)
        total = sum(r["user"] + r["system"] for r in parallel_cpu)
        print(f"  speedup {serial / parallel:.2f}x; -n 0: {describe(serial_cpu)}")
        print(f"  -n 2: {describe(parallel_cpu)}")
        print(f"  -n 2 CPU in all {total:.1f} s: two cores need at least {total / 2:.1f} s; "
              f"the run took {parallel:.1f} s, so {parallel - total / 2:.1f} s went to waiting")


if __name__ == "__main__":
    main()
