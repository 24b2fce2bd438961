"""A run cut short says INCOMPLETE wherever a person or CI reads it; a -k run says SELECTION.

Real runs of the suite (pytest subprocesses, embedded target, scenario `books`, 190
cells) are sent SIGINT (to the process group, as Ctrl-C does) or SIGTERM (to the
controller, as a CI runner cancelling a job does) at five moments, found by watching
the run's state folder rather than by sleeping: while the stack is being provisioned
and mid-matrix (each with and without xdist workers) and near the end (the last
cell of each process waits for the signal: tests/evidence/hold_last.py). Each leaves one
bundle whose summary.md, matrix.html, evidence.json, manifest, Allure
environment.properties, JUnit properties and terminal output all say INCOMPLETE,
which `rolecall verify` refuses.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.evidence.test_bundle import evidence_cli_main
from tests.evidence.test_full_run import ROOT, RunOutputs, outputs_of, suite_command

BOOKS_CELLS = 194  # the scenario's cells: 130, its 60 control-plane cells and 4 audit cells of issue 22


def _recorded(root: Path) -> int:
    return sum(len(p.read_text().splitlines()) for p in root.rglob("cells-*.jsonl"))


def _provisioning(root: Path) -> bool:
    """The stack's journal exists (resources are being made) and no cell has a record yet."""
    return any(root.rglob("*.journal.jsonl")) and _recorded(root) == 0


@dataclass(frozen=True)
class Moment:
    name: str
    signal: signal.Signals
    workers: int
    ready: Callable[[Path], bool]
    hold_last: bool = False  # the last cell of each process waits (tests/evidence/hold_last.py)


def _held(root: Path) -> bool:
    """A last cell is waiting: the run cannot finish before the signal arrives."""
    return any((root / "held").glob("held-*"))


MOMENTS = [
    Moment("provisioning", signal.SIGINT, 2, _provisioning),
    Moment("mid-matrix", signal.SIGTERM, 2, lambda root: _recorded(root) >= 50),
    Moment("mid-matrix", signal.SIGINT, 0, lambda root: _recorded(root) >= 20),
    Moment("near-the-end", signal.SIGINT, 2, _held, hold_last=True),
    Moment("provisioning", signal.SIGTERM, 0, _provisioning),
]


def interrupted_run(tmp: Path, moment: Moment) -> tuple[RunOutputs, int]:
    """Start the suite, wait for the moment, send the signal; what it left and its exit code."""
    tmp.mkdir(parents=True)
    state = tmp / "tmp"  # the run's state folder goes here (TMPDIR), where we can watch it
    state.mkdir()
    out = tmp / "pytest-output.raw"
    env = {**os.environ, "TMPDIR": str(state)}
    extra: list[str] = []
    if moment.hold_last:
        (tmp / "held").mkdir()
        env["ROLECALL_TEST_HOLD_DIR"] = str(tmp / "held")
        extra = ["-p", "tests.evidence.hold_last"]
    with out.open("w") as said:
        proc = subprocess.Popen(suite_command(tmp, workers=moment.workers, extra=extra),
                                cwd=ROOT, stdout=said, stderr=subprocess.STDOUT,
                                start_new_session=True, env=env)
        try:
            _wait_for(proc, tmp, moment.ready, out)
            if moment.signal == signal.SIGINT:
                os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C: the whole process group
            else:
                os.kill(proc.pid, signal.SIGTERM)  # CI cancelling the job: the controller
            code = proc.wait(timeout=180)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
    return outputs_of(tmp, out.read_text()), code


def _wait_for(proc: subprocess.Popen[bytes], root: Path, ready: Callable[[Path], bool],
              out: Path) -> None:
    deadline = time.monotonic() + 300
    while not ready(root):
        assert proc.poll() is None, f"the run ended before the moment came:\n{out.read_text()[-3000:]}"
        assert time.monotonic() < deadline, "the moment never came"
        time.sleep(0.05)


@pytest.mark.parametrize("moment", MOMENTS, ids=[f"{m.signal.name}-{m.name}" for m in MOMENTS])
def test_an_interrupted_run_says_incomplete_everywhere(tmp_path: Path, moment: Moment,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    run, code = interrupted_run(tmp_path / "run", moment)
    assert code != 0, "an interrupted run must not exit 0"
    data = json.loads((run.bundle / "evidence.json").read_text())
    verdict = data["completeness"]
    headline = verdict["headline"]
    assert verdict["status"] == "incomplete" and verdict["reason"] == (
        f"interrupted by {moment.signal.name}"), verdict
    assert headline.startswith("INCOMPLETE: ") and f"interrupted by {moment.signal.name}" in headline
    if verdict["planned"] is not None:
        assert verdict["planned"] == BOOKS_CELLS
        assert f"of {BOOKS_CELLS} cells" in headline
        assert len(verdict["missing"]) == BOOKS_CELLS - verdict["observed"] > 0
        not_run = [c for c in data["cells"] if c["observed"] == "NOT RUN"]
        assert len(not_run) == len(verdict["missing"]) and not any(c["passed"] for c in not_run)
    assert (run.bundle / "summary.md").read_text().splitlines()[2] == f"**{headline}**"
    page = (run.bundle / "matrix.html").read_text()
    assert page.index('class="banner incomplete"') < page.index("<h1>") and headline in page
    assert f"run.status={headline}" in (run.allure / "environment.properties").read_text()
    if run.junit.is_file():
        assert f'name="rolecall.run.status" value="{headline}"' in run.junit.read_text()
    assert f"rolecall: {headline}" in run.stdout  # the terminal summary and the closing lines
    # rolecall verify in this process: the CLI's exit codes, without two interpreters' start
    assert evidence_cli_main(["verify", str(run.bundle)]) == 1
    said = capsys.readouterr().out
    assert "INCOMPLETE" in said and "refused" in said
    assert evidence_cli_main(["verify", str(run.bundle), "--allow-partial"]) == 0


def test_a_k_run_says_selection(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tmp = tmp_path / "run"
    tmp.mkdir()
    command = suite_command(tmp, workers=0, extra=["-k", "testuser1 and GetItem"])
    done = subprocess.run(command, cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    run = outputs_of(tmp, done.stdout + done.stderr)
    assert done.returncode == 0, run.stdout[-3000:]
    verdict = json.loads((run.bundle / "evidence.json").read_text())["completeness"]
    assert verdict["status"] == "selection" and verdict["missing"] == []
    assert verdict["selection"] == ["--scenario books", "-k 'testuser1 and GetItem'"]
    assert verdict["deselected"] == BOOKS_CELLS - verdict["planned"] > 0
    headline = verdict["headline"]
    assert headline.startswith(f"SELECTION: all {verdict['planned']} selected cells observed; "
                               "selected by --scenario books, -k 'testuser1 and GetItem'")
    assert (run.bundle / "summary.md").read_text().splitlines()[2] == f"**{headline}**"
    assert 'class="banner selection"' in (run.bundle / "matrix.html").read_text()
    assert f"run.status={headline}" in (run.allure / "environment.properties").read_text()
    assert f"rolecall: {headline}" in run.stdout
    assert evidence_cli_main(["verify", str(run.bundle)]) == 0
    assert "SELECTION" in capsys.readouterr().out


def test_a_lost_interrupt_still_stops_the_run(tmp_path: Path) -> None:
    """Ctrl-C whose KeyboardInterrupt is dropped in a finalizer ends the run at the next cell."""
    tmp = tmp_path / "run"
    tmp.mkdir()
    done = subprocess.run(suite_command(tmp, workers=0, extra=["-p", "tests.evidence.lose_interrupt"]),
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    said = done.stdout + done.stderr
    run = outputs_of(tmp, said)
    assert "Exception ignored" in said, "the plugin did not lose the interrupt"
    verdict = json.loads((run.bundle / "evidence.json").read_text())["completeness"]
    assert done.returncode != 0 and verdict["status"] == "incomplete", said[-3000:]
    assert verdict["reason"] == "interrupted by SIGINT" and verdict["observed"] < BOOKS_CELLS


def test_collect_only_leaves_no_bundle_and_no_verdict(tmp_path: Path) -> None:
    """--collect-only plans and runs nothing: no INCOMPLETE headline, no evidence bundle."""
    done = subprocess.run(suite_command(tmp_path, workers=0, extra=["--collect-only"]),
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    said = done.stdout + done.stderr
    assert done.returncode == 0 and f"{BOOKS_CELLS}/" in said and "tests collected" in said, said[-3000:]
    assert "rolecall: INCOMPLETE" not in said and "evidence bundle" not in said
    reports = tmp_path / "reports"
    assert not reports.is_dir() or not any(p.is_dir() for p in reports.iterdir())
