"""`rolecall emulator` as a user runs it: a separate process, a real port, real signals.

The in-process fixture covers the services; this covers the standalone promise
of issue 2: the command prints its endpoint, answers any AWS client, stops
cleanly on Ctrl-C (SIGINT) and on SIGTERM (what `docker stop`, systemd and CI
runners send), and turns bad start-up input into a one-line error instead of a
traceback.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from rolecall.emulator.faults import CATALOGUE

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 60.0  # a cold interpreter importing moto can take a while on a loaded CI box


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _default_sigint() -> None:
    """Undo an inherited SIG_IGN (CI runners start background jobs that way), so the child
    gets Python's KeyboardInterrupt on SIGINT like a terminal's Ctrl-C."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def rolecall(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "rolecall.tools.cli", *args], cwd=ROOT, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=_default_sigint,
    )


def run_rolecall(*args: str) -> subprocess.CompletedProcess[str]:
    """A command that is expected to finish by itself."""
    return subprocess.run([sys.executable, "-m", "rolecall.tools.cli", *args], cwd=ROOT, text=True,
                          capture_output=True, timeout=START_TIMEOUT, check=False)


def wait_until_up(process: subprocess.Popen[str], endpoint: str) -> None:
    """Poll the health endpoint; fail with the process's output if it dies or never answers."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            out, err = process.communicate()
            pytest.fail(f"`rolecall emulator` exited {process.returncode} before answering:\n"
                        f"{out}\n{err[-2000:]}")
        try:
            with urllib.request.urlopen(f"{endpoint}/_rolecall/health", timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    pytest.fail(f"`rolecall emulator` did not answer at {endpoint} within {START_TIMEOUT}s")


@pytest.fixture
def standalone() -> Iterator[tuple[subprocess.Popen[str], str]]:
    """A running `rolecall emulator --port <free>` and its endpoint; killed if a test leaves it."""
    port = free_port()
    process = rolecall("emulator", "--port", str(port))
    endpoint = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(process, endpoint)
        yield process, endpoint
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_serves_then_stops_cleanly(standalone: tuple[subprocess.Popen[str], str],
                                   signum: signal.Signals) -> None:
    process, endpoint = standalone
    dynamodb = boto3.client("dynamodb", endpoint_url=endpoint, region_name="eu-west-1",
                            aws_access_key_id="AKIAADMINADMINADMIN0",
                            aws_secret_access_key="admin-secret")
    assert "TableNames" in dynamodb.list_tables()

    process.send_signal(signum)
    out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err[-2000:]
    assert f"rolecall emulator listening on {endpoint}" in out
    assert "rolecall emulator stopped" in out
    assert "Traceback" not in err, err[-2000:]


def test_list_faults_prints_the_catalogue() -> None:
    done = run_rolecall("emulator", "--list-faults")
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    assert len(lines) == len(CATALOGUE)
    for fault, line in zip(CATALOGUE, lines, strict=True):
        assert line.split()[:2] == [fault.name, fault.rule]


def test_unknown_fault_is_a_usage_error() -> None:
    done = run_rolecall("emulator", "--port", str(free_port()), "--fault", "no-such-fault")
    assert done.returncode == 2
    assert "unknown fault(s) no-such-fault" in done.stderr
    assert "--list-faults" in done.stderr
    assert "Traceback" not in done.stderr
    assert "listening" not in done.stdout


def test_port_in_use_is_a_clear_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = int(taken.getsockname()[1])
        done = run_rolecall("emulator", "--port", str(port))
    assert done.returncode != 0
    assert "in use" in done.stderr.lower() and str(port) in done.stderr, done.stderr[-2000:]
    assert "Traceback" not in done.stderr, done.stderr[-2000:]
    assert "listening" not in done.stdout
