"""The aws path under AWS's conditions, and what a real-account run would take.

Prints (asserts nothing):

1. API calls per cell against the issue's lower bound (one sign-in per user, two
   calls per credential, one per probe), through `--target aws` on a plain endpoint;
2. wall time of the aws path on a plain endpoint against `--realism aws`
   (delays x0.05, polling through the endpoint's 0.5 s propagation window) at -n 0 and -n 4;
3. a projected real-account time from the measured calls and the latency model of
   rolecall/emulator/realism/latency.py, plus AWS-sized waits: IAM propagation
   (clients.AWS_PROPAGATION_SECONDS, once per scenario, overlapping across workers),
   a table becoming ACTIVE (~8 s per scenario) and the expiry cells (5-minute ID
   token, 15-minute STS session: STS's minimum), which start first and overlap.

    python bench/realism_bench.py [--scenario NAME ...] [--workers 4]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from matrix_bench import PROVISIONING, run_suite, stats  # noqa: E402

from rolecall.account.clients import AWS_PROPAGATION_SECONDS  # noqa: E402
from rolecall.cells import matrix  # noqa: E402
from rolecall.emulator import Emulator  # noqa: E402
from rolecall.emulator.realism import TABLE_SECONDS, latency  # noqa: E402
from rolecall.model import scenario  # noqa: E402

SCALE = 0.05
SESSION_EXPIRY_SECONDS = 900 + 5  # STS's shortest session, then one probe


def projected_seconds(calls: dict[str, int], scenarios: int, workers: int,
                      has_expiry: bool) -> tuple[float, float]:
    """(projected wall time, serial API time) of a real-account run from measured calls."""
    serial = sum(n * latency.seconds_for(*_split(op)) for op, n in calls.items())
    provisioning = sum(n * latency.seconds_for(*_split(op)) for op, n in calls.items()
                       if op.split(".")[-1] in PROVISIONING)
    cells = serial - provisioning
    per_scenario_wait = AWS_PROPAGATION_SECONDS + TABLE_SECONDS
    # scenarios are provisioned by whichever worker needs them first: spread over workers
    setup = (provisioning + scenarios * per_scenario_wait) / min(workers, scenarios)
    matrix_time = setup + cells / workers
    expiry = SESSION_EXPIRY_SECONDS + per_scenario_wait if has_expiry else 0.0
    return max(matrix_time, expiry), serial


def _split(op: str) -> tuple[str, str]:
    service, _, operation = op.partition(".")
    return service, operation


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scenario", action="append", default=[])
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args()
    only: list[str] = args.scenario
    scenarios = scenario.load_all(ROOT / "scenarios", only)
    credentials = len(matrix.credential_cells(scenarios))
    access = len(matrix.access_cells(scenarios))
    cells = len(matrix.claims_cells(scenarios)) + credentials + access
    users = sum(len(s.users) for s in scenarios)
    print(f"scenarios: {', '.join(s.name for s in scenarios)}; matrix cells {cells}")

    with Emulator(port=0) as plain:
        plain_0, _ = run_suite(plain.endpoint, "0", only)
        calls = stats(plain.endpoint)
    total = sum(calls.values())
    provisioning = sum(n for op, n in calls.items() if op.split(".")[-1] in PROVISIONING)
    lower = users + 2 * credentials + access
    print(f"API calls: {total} in all, {provisioning} provisioning/teardown, {total - provisioning} "
          f"for the cells; lower bound {lower}; ratio {(total - provisioning) / lower:.2f}x")

    timings = {"plain -n 0": plain_0}
    for workers in ("0", str(args.workers)):
        with Emulator(port=0, realism="aws", realism_scale=SCALE) as real:
            timings[f"realism -n {workers}"], _ = run_suite(
                real.endpoint, workers, only, propagation=real.state.realism.propagation_bound())
            throttled = real.state.realism.throttle.throttled
        print(f"  realism -n {workers}: {throttled} call(s) throttled and retried")
    print("wall time: " + ", ".join(f"{k} {v:.1f}s" for k, v in timings.items()))

    has_expiry = any(cell.case in {"expired", "session-expired"}
                     for cell in matrix.negative_cells(scenarios))
    projected, serial = projected_seconds(calls, len(scenarios), args.workers, has_expiry)
    print(f"projected real-account run (-n {args.workers}): {projected / 60:.1f} min "
          f"(serial API time {serial / 60:.1f} min; propagation bound {AWS_PROPAGATION_SECONDS:g}s "
          f"and table ~{TABLE_SECONDS:g}s per scenario; expiry cells overlap: "
          f"{'yes' if has_expiry else 'none selected'})")


if __name__ == "__main__":
    main()
