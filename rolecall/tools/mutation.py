"""`rolecall mutation`: prove the conformance suite goes red when the target lies.

The suite is run once against the faithful embedded target (it must pass: a
failure there would be a false alarm and make every "kill" meaningless), then
once per named fault of `rolecall.emulator.faults`, each as its own pytest
subprocess with `--emulator-fault NAME --junitxml ...`. A fault is KILLED when
at least one cell fails its verdict (an assertion of the suite); it SURVIVED
when the whole suite passes with the fault switched on, which names a blind
spot; a run that crashed, errored or collected nothing is BROKEN and counts as
not killed, because a suite that falls over has not *detected* anything.

Runs go in parallel (`--jobs`), each at `-n 0`: the embedded target lives in
the pytest controller process and is CPU-bound, so on a 2-core machine two
single-process runs side by side beat one run with two xdist workers.

The emulator never imports this module (the import contract in pyproject.toml);
it only reads the catalogue.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rolecall.emulator.faults import BY_NAME, CATALOGUE, Fault
from rolecall.tools.mutation_quick import QUICK, QUICK_SCENARIOS, QUICK_TESTS
from rolecall.tools.mutation_verdict import (
    BROKEN,
    CANCELLED,
    DEFAULT_MIN_KILL_RATE,
    KILLED,
    PASSED,
    SURVIVED,
    JunitResult,
    RunOutcome,
    Verdict,
    classify_baseline,
    classify_fault,
    judge,
    parse_junit,
)

SHOWN_CELLS = 3


# --------------------------------------------------------------------------- running


@dataclass(frozen=True)
class Settings:
    """How each pytest subprocess is started.

    `scenarios` narrows a fault's run to the scenarios named for it (the quick
    subset); `baseline_scenarios` is then their union, so the faithful run still
    covers every cell a fault run judges. Empty means the whole suite.
    """

    suites: Path
    work_dir: Path
    pytest_args: tuple[str, ...] = ()
    xdist_workers: int = 0
    maxfail: int | None = None
    timeout_s: float = 900.0
    scenarios: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    baseline_scenarios: tuple[str, ...] = ()
    tests: Mapping[str, str] = field(default_factory=dict)  # fault -> pytest -k expression
    faithful_junit: Path | None = None  # a passing run of the same tree, used as the baseline

    @property
    def baseline_tests(self) -> str:
        """The baseline's -k: every fault run's tests (empty: all) so it judges what they judge."""
        if not self.tests or not self.scenarios or set(self.tests) != set(self.scenarios):
            return ""
        return " or ".join(f"({expression})" for expression in sorted(set(self.tests.values())))


def scoped(faults: Sequence[str], scenarios: Mapping[str, tuple[str, ...]]
           ) -> tuple[dict[str, tuple[str, ...]], tuple[str, ...]]:
    """Per-fault scenarios and the baseline's: their union, or the whole suite if any fault has none."""
    per_fault = {name: scenarios[name] for name in faults if scenarios.get(name)}
    if not faults or len(per_fault) < len(faults):
        return per_fault, ()
    return per_fault, tuple(sorted({s for names in per_fault.values() for s in names}))


def pytest_command(settings: Settings, fault: str | None, junit: Path) -> list[str]:
    """The pytest command line of one run (the baseline gets no --maxfail: it must run whole)."""
    label = fault or "faithful"
    # -p no:randomly: `--cheapest-first` orders the cells; a random-order plugin where the
    # user has one installed would undo that (a plugin that is absent is no error).
    command = [sys.executable, "-m", "pytest", str(settings.suites), "-q", "-p", "no:cacheprovider",
               "-p", "no:randomly", "-n", str(settings.xdist_workers), f"--junitxml={junit}",
               "--evidence-dir", str(settings.work_dir / f"evidence-{label}")]
    scenarios = settings.scenarios.get(fault, ()) if fault else settings.baseline_scenarios
    for name in scenarios:
        command += ["--scenario", name]
    tests = settings.tests.get(fault, "") if fault else settings.baseline_tests
    if tests:
        command += ["-k", tests]
    if fault:
        command += ["--emulator-fault", fault]
        if settings.maxfail:  # the first failed cell ends the run: reach it soonest
            command += [f"--maxfail={settings.maxfail}", "--cheapest-first"]
    return command + list(settings.pytest_args)


class Runner:
    """Runs pytest subprocesses, several at a time, and can stop them all on a bad baseline."""

    def __init__(self, settings: Settings, progress: Progress) -> None:
        self.settings = settings
        self.progress = progress
        self.cancelled = threading.Event()
        self._procs: dict[str, subprocess.Popen[bytes]] = {}
        self._lock = threading.Lock()

    def run(self, fault: str | None) -> RunOutcome:
        label = fault or "faithful"
        if self.cancelled.is_set():
            return RunOutcome(fault, CANCELLED, "the faithful run failed first")
        if fault is None and self.settings.faithful_junit is not None:
            self.progress.started(label, f"reused: {self.settings.faithful_junit}")
            outcome = reused_baseline(self.settings.faithful_junit, self.settings.baseline_scenarios)
            self.progress.finished(outcome)
            return outcome
        junit_path = self.settings.work_dir / f"junit-{label}.xml"
        log_path = self.settings.work_dir / f"log-{label}.txt"
        scenarios = self.settings.scenarios.get(fault, ()) if fault else \
            self.settings.baseline_scenarios
        self.progress.started(label, f"scenarios: {', '.join(scenarios)}" if scenarios else "")
        start = time.monotonic()
        returncode, timed_out = self._spawn(label, pytest_command(self.settings, fault, junit_path),
                                            log_path)
        duration = time.monotonic() - start
        junit = parse_junit(junit_path) if junit_path.exists() else None
        if self.cancelled.is_set() and fault is not None:
            outcome = RunOutcome(fault, CANCELLED, "the faithful run failed", returncode, duration)
        else:
            classify = classify_fault if fault else classify_baseline
            status, reason = classify(returncode, junit, timed_out)
            tail = "" if status in (KILLED, SURVIVED, PASSED) else _tail(log_path)
            outcome = RunOutcome(fault, status, reason, returncode, duration,
                                 junit or JunitResult(), tail)
        self.progress.finished(outcome)
        return outcome

    def _spawn(self, label: str, command: list[str], log_path: Path) -> tuple[int | None, bool]:
        with log_path.open("wb") as log:
            proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                    start_new_session=True)
            with self._lock:
                self._procs[label] = proc
            try:
                return proc.wait(timeout=self.settings.timeout_s), False
            except subprocess.TimeoutExpired:
                self._stop(proc)
                return None, True
            finally:
                with self._lock:
                    self._procs.pop(label, None)

    def cancel(self) -> None:
        """Stop every run in flight (SIGTERM: the suite's conftest still tears its stacks down)."""
        self.cancelled.set()
        with self._lock:
            running = list(self._procs.values())
        for proc in running:
            self._stop(proc)

    @staticmethod
    def _stop(proc: subprocess.Popen[bytes]) -> None:
        if proc.poll() is not None:
            return
        os.killpg(proc.pid, signal.SIGTERM)  # its own session: the run and only the run
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def reused_baseline(junit_path: Path, scenarios: Sequence[str]) -> RunOutcome:
    """The faithful run read from a junit report instead of run again.

    CI's conformance step has just run the whole matrix on the faithful target from
    the same tree; its report says whether every cell passes. It must hold cells of
    every scenario the fault runs use, or it is not the run it claims to be.
    """
    if not junit_path.exists():
        return RunOutcome(None, BROKEN, f"no faithful junit report {junit_path}")
    junit = parse_junit(junit_path)
    failed = bool(junit.verdicts or junit.crashed or junit.errors or junit.collection_errors)
    status, reason = classify_baseline(1 if failed else 0, junit)
    names = [case.name for case in junit.verdicts] if failed else []
    missing = [s for s in scenarios if not junit_has_scenario(junit_path, s)]
    if status == PASSED and missing:
        status, reason = BROKEN, f"{junit_path} has no cells of {', '.join(missing)}"
    return RunOutcome(None, status, reason or ("; ".join(names[:3]) if names else ""), 0, 0.0,
                      junit)


def junit_has_scenario(junit_path: Path, scenario: str) -> bool:
    """Whether the report holds a cell of this scenario (cell ids start with its name)."""
    return f"[{scenario}-" in junit_path.read_text(errors="replace")


def _tail(path: Path, lines: int = 15) -> str:
    if not path.exists():
        return ""
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def run_all(runner: Runner, faults: Sequence[str], jobs: int) -> tuple[RunOutcome, list[RunOutcome]]:
    """The baseline first, then every fault, `jobs` at a time; a failed baseline cancels the rest."""
    def baseline_then_check() -> RunOutcome:
        outcome = runner.run(None)
        if outcome.status != PASSED:
            runner.cancel()
        return outcome

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        baseline = pool.submit(baseline_then_check)
        futures = [pool.submit(runner.run, name) for name in faults]
        return baseline.result(), [f.result() for f in futures]


class Progress:
    """Progress lines on stderr: each run's start and end, and a heartbeat on long waits."""

    def __init__(self, total: int, heartbeat_s: float = 60.0,
                 write: Callable[[str], None] | None = None) -> None:
        self.total = total
        self.done = 0
        self.start = time.monotonic()
        self.running: dict[str, float] = {}
        self._write = write or (lambda line: print(line, file=sys.stderr, flush=True))
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._heartbeat_s = heartbeat_s

    def __enter__(self) -> Progress:
        threading.Thread(target=self._beat, daemon=True).start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()

    def started(self, label: str, detail: str = "") -> None:
        with self._lock:
            self.running[label] = time.monotonic()
            self._write(f"[{_clock(self._elapsed())}] start  {label}"
                        + (f" ({detail})" if detail else ""))

    def finished(self, outcome: RunOutcome) -> None:
        label = outcome.fault or "faithful"
        with self._lock:
            self.running.pop(label, None)
            self.done += 1
            detail = f"by {len(outcome.junit.verdicts)} cell(s)" if outcome.killed else outcome.reason
            self._write(f"[{_clock(self._elapsed())}] {self.done:>2}/{self.total} {label}: "
                        f"{' '.join(filter(None, [outcome.status, detail]))} "
                        f"({outcome.duration_s:.0f}s)")

    def _beat(self) -> None:
        while not self._stop.wait(self._heartbeat_s):
            with self._lock:
                now = time.monotonic()
                running = ", ".join(f"{label} {now - since:.0f}s"
                                    for label, since in self.running.items())
                self._write(f"[{_clock(self._elapsed())}] {self.done}/{self.total} done; "
                            f"running: {running or '-'}")

    def _elapsed(self) -> float:
        return time.monotonic() - self.start


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes:02d}:{secs:02d}"


# --------------------------------------------------------------------------- reporting


def table(outcomes: Sequence[RunOutcome], maxfail: int | None = None,
          catalogue: dict[str, Fault] = BY_NAME) -> str:
    """One line per fault: area, rule, critical mark, result, time, and who killed it."""
    header = f"{'fault':34} {'area':13} {'rule':4} {'crit':4} {'result':8} {'time':>5}  killed by"
    lines = [header, "-" * len(header)]
    for outcome in outcomes:
        fault = catalogue[outcome.fault or ""]
        lines.append(f"{fault.name:34} {fault.area:13} {fault.rule:4} "
                     f"{'*' if fault.critical else '':4} {outcome.status:8} "
                     f"{outcome.duration_s:4.0f}s  {_killed_by(outcome, maxfail)}")
    return "\n".join(lines)


def _killed_by(outcome: RunOutcome, maxfail: int | None) -> str:
    if not outcome.killed:
        return outcome.reason or "-"
    cells = outcome.killing_cells
    count = f"{'>=' if maxfail and len(cells) >= maxfail else ''}{len(cells)} cell(s)"
    shown = ", ".join(c.id for c in cells[:SHOWN_CELLS])
    more = ", ..." if len(cells) > SHOWN_CELLS else ""
    note = f" [{outcome.reason}]" if outcome.reason else ""
    return f"{count}: {shown}{more}{note}"


def summary(verdict: Verdict, baseline: RunOutcome, wall_s: float) -> str:
    lines = [f"faithful run: {baseline.status} ({baseline.junit.tests} cells, "
             f"{baseline.duration_s:.0f}s){' - ' + baseline.reason if baseline.reason else ''}",
             f"kill rate: {verdict.killed}/{verdict.total} = {verdict.kill_rate:.1%}; "
             f"survived: {', '.join(verdict.survivors) or 'none'}; "
             f"broken: {', '.join(verdict.broken) or 'none'}",
             f"wall time: {wall_s:.0f}s"]
    for cell in baseline.junit.verdicts[:10] + baseline.junit.crashed[:10]:
        lines.append(f"  faithful failure: {cell.id}: {cell.message}")
    if baseline.log_tail and baseline.status != PASSED:
        lines.append(baseline.log_tail)
    lines += [f"FAIL: {reason}" for reason in verdict.failures] or ["OK"]
    return "\n".join(lines)


def report(baseline: RunOutcome, outcomes: Sequence[RunOutcome], verdict: Verdict,
           settings: Settings, min_kill_rate: float, wall_s: float,
           catalogue: dict[str, Fault] = BY_NAME) -> dict[str, Any]:
    """The JSON document written to reports/mutation.json."""
    return {
        "generated": datetime.now(UTC).isoformat(timespec="seconds"),
        "pytest_args": list(settings.pytest_args),
        "xdist_workers": settings.xdist_workers,
        "maxfail": settings.maxfail,
        "baseline": {**_run_json(baseline), "failed_cells": [c.name for c in baseline.junit.verdicts]},
        "baseline_scenarios": list(settings.baseline_scenarios) or "all",
        "baseline_from": str(settings.faithful_junit) if settings.faithful_junit else "run",
        "faults": [{**_fault_json(o, catalogue[o.fault or ""], settings.maxfail),
                    "scenarios": list(settings.scenarios.get(o.fault or "", ())) or "all",
                    "tests": settings.tests.get(o.fault or "", "") or "all"}
                   for o in outcomes],
        "totals": {
            "faults": verdict.total, "killed": verdict.killed,
            "survived": len(verdict.survivors), "broken": len(verdict.broken),
            "kill_rate": round(verdict.kill_rate, 4), "min_kill_rate": min_kill_rate,
            "survivors": verdict.survivors, "broken_runs": verdict.broken,
            "critical_not_killed": verdict.critical_not_killed,
            "passed": verdict.ok, "failures": verdict.failures,
            "duration_s": round(wall_s, 1),
        },
    }


def _run_json(outcome: RunOutcome) -> dict[str, Any]:
    junit = outcome.junit
    return {
        "status": outcome.status, "reason": outcome.reason, "returncode": outcome.returncode,
        "duration_s": round(outcome.duration_s, 1), "tests": junit.tests,
        "crashed_cells": [c.name for c in junit.crashed],
        "errors": [c.name for c in junit.errors + junit.collection_errors],
        **({"log_tail": outcome.log_tail} if outcome.log_tail else {}),
    }


def _fault_json(outcome: RunOutcome, fault: Fault, maxfail: int | None) -> dict[str, Any]:
    cells = outcome.killing_cells
    return {
        "name": fault.name, "area": fault.area, "rule": fault.rule, "critical": fault.critical,
        "description": fault.description, "killed": outcome.killed,
        "killing_cells": [c.name for c in cells],
        "killing_count": len(cells),
        "killing_count_is_lower_bound": bool(maxfail and len(cells) >= maxfail),
        "first_message": cells[0].message if cells else "",
        **_run_json(outcome),
    }


# --------------------------------------------------------------------------- command line


def add_parser(commands: Any) -> None:
    """Register `rolecall mutation` on the cli's subparsers."""
    parser = commands.add_parser(
        "mutation", help="the suite against every emulator fault: which cells catch each",
        description="Run the conformance suite against the faithful embedded target and once per "
                    "fault; exit 1 if the kill rate is too low, a critical fault survives or the "
                    "faithful run fails. Arguments after -- go to every pytest run.")
    parser.add_argument("--fault", action="append", default=[], metavar="NAME",
                        help="run only this fault (repeatable); default: the whole catalogue")
    parser.add_argument("--quick", action="store_true",
                        help="the CI subset: critical faults, each run only on the scenario "
                             "and test(s) that killed it in the full run, to its first failed "
                             "cell (see QUICK)")
    parser.add_argument("--jobs", type=int, default=2, help="pytest runs side by side (default 2)")
    parser.add_argument("--xdist-workers", type=int, default=0,
                        help="pytest -n for each run (default 0: one process per run)")
    parser.add_argument("--maxfail", type=int, default=None,
                        help="stop a fault run after N failed cells (faster; counts become "
                             "lower bounds). Default: run every cell")
    parser.add_argument("--min-kill-rate", type=float, default=DEFAULT_MIN_KILL_RATE,
                        help="fail below this kill rate (default 0.95)")
    parser.add_argument("--timeout", type=float, default=900.0,
                        help="seconds before one run counts as BROKEN (default 900)")
    parser.add_argument("--suites", type=Path, default=Path("suites"),
                        help="the conformance suite folder (default ./suites)")
    parser.add_argument("--faithful-junit", type=Path, default=None, metavar="JUNIT",
                        help="take the faithful run from this junit report of the same tree "
                             "instead of running it (CI: the conformance step's reports/junit.xml)")
    parser.add_argument("--report", type=Path, default=Path("reports/mutation.json"))
    parser.add_argument("--work-dir", type=Path, default=None,
                        help="keep every run's junit and log here (default: a temporary folder)")
    parser.add_argument("pytest_args", nargs="*", metavar="-- PYTEST_ARGS",
                        help="passed to every pytest run, e.g. -- --scenario books")
    parser.set_defaults(handler=main)


def select_faults(names: Iterable[str], quick: bool) -> list[str]:
    """The faults to run, in catalogue order; unknown names are a usage error.

    Named faults are run alone (with `quick`, each scoped as QUICK says); `quick`
    without names runs the whole CI subset.
    """
    wanted = set(names) or (set(QUICK) if quick else set())
    unknown = sorted(wanted - set(BY_NAME))
    if unknown:
        raise ValueError(f"unknown fault(s) {', '.join(unknown)}; "
                         "see `rolecall emulator --list-faults`")
    return [f.name for f in CATALOGUE if not wanted or f.name in wanted]


def main(args: argparse.Namespace) -> int:
    """Run everything, print the table and the verdict, write the report; 0 only if it passes."""
    faults = select_faults(args.fault, args.quick)
    if not args.suites.is_dir():
        raise ValueError(f"no suite folder {args.suites}: run from the repository root "
                         "or pass --suites")
    with tempfile.TemporaryDirectory(prefix="rolecall-mutation-") as tmp:
        work_dir = args.work_dir or Path(tmp)
        work_dir.mkdir(parents=True, exist_ok=True)
        per_fault, baseline_scenarios = scoped(faults, QUICK_SCENARIOS if args.quick else {})
        # quick: a fault is killed by its first failed cell, so the rest need not run
        maxfail = args.maxfail if args.maxfail is not None else (1 if args.quick else None)
        tests = {name: QUICK_TESTS[name] for name in per_fault} if args.quick else {}
        settings = Settings(args.suites.resolve(), work_dir.resolve(), tuple(args.pytest_args),
                            args.xdist_workers, maxfail, args.timeout, per_fault,
                            baseline_scenarios, tests, args.faithful_junit)
        start = time.monotonic()
        print(f"rolecall mutation: faithful run + {len(faults)} fault(s), {args.jobs} at a time",
              file=sys.stderr, flush=True)
        with Progress(len(faults) + 1) as progress:
            baseline, outcomes = run_all(Runner(settings, progress), faults, args.jobs)
        wall = time.monotonic() - start
    verdict = judge(baseline, outcomes, args.min_kill_rate)
    print(table(outcomes, settings.maxfail))
    print(summary(verdict, baseline, wall))
    if per_fault:
        print("(quick: each fault ran only on the scenario and test(s) QUICK names for it, to "
              "its first failed cell; `tox -e mutation` runs the whole suite per fault)")
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text(json.dumps(
        report(baseline, outcomes, verdict, settings, args.min_kill_rate, wall), indent=2) + "\n")
    print(f"report: {args.report}")
    return 0 if verdict.ok else 1
