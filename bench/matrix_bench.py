"""Benchmark of the conformance matrix: cells, wall time at -n 0 and -n 2, API calls per cell.

Prints numbers; asserts nothing. The suite runs through its real-account path
(`--target aws --endpoint-url`) against an embedded endpoint this script starts,
so every AWS API call the suite makes is counted by the endpoint. The lower
bound is the issue's: one sign-in per user, two calls per credential, one call
per probe. Provisioning calls are reported apart, since they do not grow with
the number of cells.

    python bench/matrix_bench.py [--scenario NAME ...]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rolecall.cells import matrix  # noqa: E402
from rolecall.emulator import ACCOUNT_ID, Emulator  # noqa: E402
from rolecall.model import scenario  # noqa: E402

PROVISIONING = {"CreateUserPool", "CreateUserPoolClient", "CreateTable", "DescribeTable",
                "PutItem", "CreateIdentityPool", "CreateRole", "PutRolePolicy", "CreateGroup",
                "AdminCreateUser", "AdminSetUserPassword", "AdminAddUserToGroup",
                "SetIdentityPoolRoles", "DeleteIdentityPool", "DeleteRole", "DeleteRolePolicy",
                "ListRolePolicies", "ListAttachedRolePolicies", "DeleteTable", "DeleteUserPool"}


def stats(endpoint: str) -> dict[str, int]:
    with urllib.request.urlopen(f"{endpoint}/_rolecall/stats") as response:
        return dict(json.loads(response.read())["requests"])


def run_suite(endpoint: str, workers: str, only: list[str], extra: tuple[str, ...] = (),
              propagation: float = 0.0) -> tuple[float, int]:
    """The aws path against `endpoint`; `propagation`: the endpoint's own IAM window (a
    plain emulator has none; the default, AWS's 30 s, would poll every refusal for 30 s)."""
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "AKIABENCHBENCHBENCH0",
           "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "eu-west-1"}
    args = [sys.executable, "-m", "pytest", "suites", "-q", "-p", "no:cacheprovider",
            "-n", workers, "--target", "aws", "--endpoint-url", endpoint,
            "--aws-account-id", ACCOUNT_ID, "--region", "eu-west-1",
            "--propagation-seconds", f"{propagation:g}", *extra]
    for name in only:
        args += ["--scenario", name]
    start = time.perf_counter()
    done = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    print(f"  -n {workers}: exit {done.returncode}, {done.stdout.strip().splitlines()[-1]}")
    return elapsed, done.returncode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scenario", action="append", default=[])
    only = parser.parse_args().scenario
    scenarios = scenario.load_all(ROOT / "scenarios", only)
    claims = len(matrix.claims_cells(scenarios))
    credentials = len(matrix.credential_cells(scenarios))
    access = len(matrix.access_cells(scenarios))
    users = sum(len(s.users) for s in scenarios)
    cells = claims + credentials + access
    print(f"cells: {cells} (claims {claims}, credentials {credentials}, access {access})")

    timings = {}
    calls: dict[str, int] = {}
    for workers in ("0", "2"):
        with Emulator(port=0) as emulator:
            timings[workers], _ = run_suite(emulator.endpoint, workers, only)
            calls = stats(emulator.endpoint) if workers == "0" else calls
    print(f"wall time: -n 0 {timings['0']:.1f}s, -n 2 {timings['2']:.1f}s, "
          f"speedup {timings['0'] / timings['2']:.2f}x")

    provisioning = sum(n for op, n in calls.items() if op.split(".")[-1] in PROVISIONING)
    total = sum(calls.values())
    lower = users + 2 * credentials + access
    print(f"AWS API calls (-n 0): {total} in all, {provisioning} provisioning/teardown, "
          f"{total - provisioning} for the cells")
    print(f"lower bound for the cells: {lower} (sign-ins {users} + 2 x {credentials} credentials "
          f"+ {access} probes); calls per cell {(total - provisioning) / cells:.2f}, "
          f"ratio to lower bound {(total - provisioning) / lower:.2f}")
    top = sorted(calls.items(), key=lambda kv: -kv[1])[:12]
    print("busiest operations: " + ", ".join(f"{op} {n}" for op, n in top))


if __name__ == "__main__":
    main()
