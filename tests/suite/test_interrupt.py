"""A run through `--target aws` that CI cancels, or that is killed, leaves nothing behind.

GitHub Actions cancels a job with SIGINT, then SIGTERM 7.5 s later (then SIGKILL
2.5 s after that). The run is started on an embedded endpoint with AWS's
conditions on (tables DELETING before gone, throttling), interrupted once its
stack stands, and the endpoint is then asked for everything it holds:

- SIGINT, then SIGTERM 7.5 s later: teardown finishes (the second signal does not
  abandon it) and the endpoint holds nothing;
- SIGKILL: no teardown at all; what is left is exactly what
  `rolecall sweep --delete` removes, and after it the endpoint holds nothing.

With AWS's conditions a deleted table stays DELETING for a while, as on AWS, so the
endpoint's holdings are compared once they settle (`settled`), never at a guessed moment.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from rolecall.account import clients
from rolecall.emulator import ACCOUNT_ID, Emulator
from rolecall.tools import cli
from tests.suite.test_provision import listed

ROOT = Path(__file__).resolve().parents[2]
KEYS = {"AWS_ACCESS_KEY_ID": "AKIAROLECALLRUNNER00", "AWS_SECRET_ACCESS_KEY": "x",
        "AWS_DEFAULT_REGION": "eu-west-1"}
CANCEL_GRACE = 7.5  # GitHub Actions: SIGINT, then SIGTERM this much later


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    with Emulator(port=0, realism="aws", realism_scale=0.05) as running:
        yield running.endpoint


def everything(endpoint: str) -> list[str]:
    """Every user pool, identity pool, role and table the endpoint holds (moto keeps them per
    process, so a test compares with what it found before its run)."""
    target = clients.emulated(endpoint)
    return sorted(
        [f"user pool {p['Name']}"
         for p in listed(target, "cognito-idp", "list_user_pools", "UserPools", MaxResults=60)]
        + [f"identity pool {p['IdentityPoolName']}"
           for p in listed(target, "cognito-identity", "list_identity_pools", "IdentityPools",
                           MaxResults=60)]
        + [f"role {r['RoleName']}" for r in listed(target, "iam", "list_roles", "Roles")]
        + [f"table {t}" for t in listed(target, "dynamodb", "list_tables", "TableNames")])


def settled(endpoint: str, expected: list[str], seconds: float = 60.0) -> list[str]:
    """What the endpoint holds once it equals `expected`, or after `seconds` (then the test
    fails showing it): tables being deleted leave the listing only when DELETING ends."""
    deadline = time.monotonic() + seconds
    while (held := everything(endpoint)) != expected and time.monotonic() < deadline:
        time.sleep(0.2)
    return held


def start_run(endpoint: str, evidence: Path) -> subprocess.Popen[bytes]:
    """`pytest suites --target aws` on one scenario; returns once its stack stands."""
    run = subprocess.Popen(
        [sys.executable, "-m", "pytest", "suites", "-q", "-p", "no:cacheprovider", "--target",
         "aws", "--endpoint-url", endpoint, "--aws-account-id", ACCOUNT_ID,
         "--propagation-seconds", "0.5", "--scenario", "books", "--evidence-dir", str(evidence)],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT), **KEYS},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 180
    while not list(evidence.glob("*/state/books.stack.json")):
        assert run.poll() is None, f"the run ended before it was interrupted: {run.stdout}"
        assert time.monotonic() < deadline, "the run did not provision books within 180 s"
        time.sleep(0.1)
    return run


def test_cancelled_like_ci_it_leaves_nothing_behind(endpoint: str, tmp_path: Path) -> None:
    before = everything(endpoint)  # moto's state is per process: other tests' resources
    run = start_run(endpoint, tmp_path)
    assert everything(endpoint) != before, "the stack stands before the cancel"
    run.send_signal(signal.SIGINT)
    try:
        run.wait(timeout=CANCEL_GRACE)
    except subprocess.TimeoutExpired:
        run.send_signal(signal.SIGTERM)  # CI's second signal: must not abandon the teardown
        run.wait(timeout=120)
    output = run.stdout.read().decode() if run.stdout else ""
    assert settled(endpoint, before) == before, output
    assert not list(tmp_path.glob("*/state/*.journal.jsonl")), "no journal of a leftover"


def test_killed_it_leaves_only_what_sweep_removes(endpoint: str, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    before = everything(endpoint)
    run = start_run(endpoint, tmp_path)
    run.send_signal(signal.SIGKILL)  # no teardown at all
    run.wait(timeout=30)
    assert everything(endpoint) != before, "the run was killed before its stack stood"
    for key, value in KEYS.items():
        monkeypatch.setenv(key, value)
    runid = next(tmp_path.glob("*/state")).parent.name  # only this run's: others share moto
    assert cli.main(["sweep", "--aws-account-id", ACCOUNT_ID, "--endpoint-url", endpoint,
                     "--older-than", "0s", "--run", runid, "--delete"]) == 0, capsys.readouterr()
    assert settled(endpoint, before) == before, capsys.readouterr()
