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
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rolecall.emulator.faults import BY_NAME, CATALOGUE, Fault

KILLED, SURVIVED, BROKEN, CANCELLED = "KILLED", "SURVIVED", "BROKEN", "CANCELLED"
PASSED, FAILED = "PASSED", "FAILED"
DEFAULT_MIN_KILL_RATE = 0.95
SHOWN_CELLS = 3

# The CI subset (`--quick`): every critical fault, plus the credentials area
# (which has none), each mapped to the cheapest scenario whose cells killed it in
# the full run (`tox -e mutation`; scenario cost measured on the faithful run).
# Each fault runs only on its scenario, so the subset costs seconds per fault
# instead of a whole suite, and CI still fails when a change blinds exactly the
# cells that catch a fault. When a scenario is renamed or stops killing its
# fault, the fault shows here as BROKEN or SURVIVED (and
# tests/suite/test_mutation.py checks the names): rerun the full mutation and
# update the map from its killing cells.
QUICK: dict[str, tuple[str, ...]] = {
    "precedence-highest-wins": ("seed-admin-editor",),
    "precedence-null-wins": ("precedence",),
    "precedence-ties-pick-first": ("precedence",),
    "token-access-token-accepted": ("tokens",),
    "token-custom-role-unchecked": ("precedence",),
    "token-deny-falls-back": ("books",),
    "rules-last-match-wins": ("seed-rules",),
    "rules-equals-as-contains": ("escalation-shut",),
    "rules-notequal-matches-missing": ("rules",),
    "classic-gate-ignored": ("escalation-shut",),
    "classic-allowed-with-mappings": ("flows",),
    "guest-allowed-when-disabled": ("books",),
    "unauth-role-for-authenticated": ("tokens",),
    "token-expired-accepted": ("token-expiry",),
    "token-wrong-aud-accepted": ("tokens",),
    "token-wrong-issuer-accepted": ("tokens",),
    "token-signout-accepted": ("tokens",),
    "token-signature-unchecked": ("tokens",),
    "trust-aud-ignored": ("flows",),
    "trust-amr-ignored": ("flows",),
    "trust-skipped-enhanced": ("flows",),
    "iam-explicit-deny-ignored": ("seed-admin-editor",),
    "iam-notaction-inverted": ("precedence",),
    "iam-resource-wildcard-overmatch": ("precedence",),
    "iam-conditions-ignored": ("per-identity",),
    "iam-session-policy-ignored": ("escalation-shut",),
    "iam-transact-unchecked": ("books",),
    "session-never-expires": ("session-expiry",),
    "caller-identity-wrong-arn": ("seed-admin-editor",),
}


# --------------------------------------------------------------------------- junit


@dataclass(frozen=True)
class Cell:
    """One failed or errored pytest item, as junit names it."""

    classname: str
    name: str
    message: str = ""

    @property
    def id(self) -> str:
        """The readable cell id (`books-editor`), or the test name for unparametrized tests."""
        if self.name.endswith("]") and "[" in self.name:
            return self.name[self.name.index("[") + 1:-1]
        return self.name


@dataclass(frozen=True)
class JunitResult:
    """What one pytest run reported, sorted by what it means for a kill.

    `verdicts` are cells whose assertion failed (AssertionError, or `pytest.fail`
    which the suite uses for "no credentials to probe with"): the suite saw the
    target misbehave. `crashed` are cells whose body raised anything else (a
    provisioning crash, a botocore exception): the suite fell over, it did not
    judge. `errors` are setup/teardown errors; `collection_errors` modules that
    did not import. Only `verdicts` can kill a fault.
    """

    tests: int = 0
    verdicts: tuple[Cell, ...] = ()
    crashed: tuple[Cell, ...] = ()
    errors: tuple[Cell, ...] = ()
    collection_errors: tuple[Cell, ...] = ()


VERDICT_PREFIXES = ("AssertionError", "Failed:")


def parse_junit(path: Path) -> JunitResult:
    """Read a pytest junit file into verdict failures, crashed cells and errors."""
    root = ET.parse(path).getroot()
    tests = 0
    verdicts: list[Cell] = []
    crashed: list[Cell] = []
    errors: list[Cell] = []
    collection: list[Cell] = []
    for case in root.iter("testcase"):
        cell = Cell(case.get("classname", ""), case.get("name", ""))
        failure, error = case.find("failure"), case.find("error")
        if error is not None and error.get("message") in ("collection failure", "internal error"):
            collection.append(_with_message(cell, error))
            continue
        tests += 1
        if failure is not None:
            message = failure.get("message", "")
            (verdicts if message.startswith(VERDICT_PREFIXES) else crashed).append(
                _with_message(cell, failure))
        if error is not None:
            errors.append(_with_message(cell, error))
    return JunitResult(tests, tuple(verdicts), tuple(crashed), tuple(errors), tuple(collection))


def _with_message(cell: Cell, node: ET.Element) -> Cell:
    return Cell(cell.classname, cell.name, node.get("message", "").splitlines()[0]
                if node.get("message") else "")


# --------------------------------------------------------------------------- classification


@dataclass(frozen=True)
class RunOutcome:
    """One pytest subprocess: the faithful baseline (fault None) or one fault."""

    fault: str | None
    status: str
    reason: str = ""
    returncode: int | None = None
    duration_s: float = 0.0
    junit: JunitResult = field(default_factory=JunitResult)
    log_tail: str = ""

    @property
    def killed(self) -> bool:
        return self.status == KILLED

    @property
    def killing_cells(self) -> list[Cell]:
        """Verdict failures, the direct ones first.

        A claims or credential cell says *why* the fault shows (wrong role,
        refused); the access cells downstream of a wrong credential only repeat
        it twelve times, so they come last in the "first few" shown.
        """
        if not self.killed:
            return []
        return sorted(self.junit.verdicts, key=lambda c: c.name.startswith("test_access"))


def classify_fault(returncode: int | None, junit: JunitResult | None,
                   timed_out: bool = False) -> tuple[str, str]:
    """KILLED / SURVIVED / BROKEN for a fault run, with the reason when not plainly so.

    pytest exit codes: 0 all passed, 1 some failed, 2 interrupted (also
    collection errors), 3 internal error, 4 usage error, 5 nothing collected.
    Anything but 0/1, or a junit that contradicts the exit code, is BROKEN:
    such a run cannot tell us whether the suite would have noticed.
    """
    if timed_out:
        return BROKEN, "timed out"
    if junit is None:
        return BROKEN, f"no junit report (pytest exit code {returncode})"
    if junit.collection_errors:
        names = ", ".join(c.name for c in junit.collection_errors[:3])
        return BROKEN, f"collection error in {names}"
    if returncode not in (0, 1):
        return BROKEN, f"pytest exit code {returncode}"
    if junit.tests == 0:
        return BROKEN, "no tests ran"
    if returncode == 1 and junit.verdicts:
        return KILLED, _side_note(junit)
    if returncode == 0 and not (junit.verdicts or junit.crashed or junit.errors):
        return SURVIVED, ""
    if returncode == 1 and (junit.crashed or junit.errors):
        return BROKEN, "no verdict failed; " + _side_note(junit)
    return BROKEN, f"pytest exit code {returncode} contradicts its junit report"


def classify_baseline(returncode: int | None, junit: JunitResult | None,
                      timed_out: bool = False) -> tuple[str, str]:
    """PASSED only for a clean, complete run; FAILED (false alarms) or BROKEN otherwise."""
    status, reason = classify_fault(returncode, junit, timed_out)
    if status == SURVIVED:
        return PASSED, ""
    if status == KILLED:
        assert junit is not None
        crashed = f" ({reason})" if reason else ""
        return FAILED, f"{len(junit.verdicts)} cell(s) fail on the faithful target{crashed}"
    return BROKEN, reason


def _side_note(junit: JunitResult) -> str:
    parts = []
    if junit.crashed:
        parts.append(f"{len(junit.crashed)} cell(s) crashed")
    if junit.errors:
        parts.append(f"{len(junit.errors)} setup/teardown error(s)")
    return ", ".join(parts)


# --------------------------------------------------------------------------- the gate


@dataclass(frozen=True)
class Verdict:
    """The mutation run's verdict: the numbers and every reason it fails."""

    total: int
    killed: int
    kill_rate: float
    survivors: list[str]
    broken: list[str]
    critical_not_killed: list[str]
    failures: list[str]

    @property
    def ok(self) -> bool:
        return not self.failures


def judge(baseline: RunOutcome | None, outcomes: Sequence[RunOutcome],
          min_kill_rate: float = DEFAULT_MIN_KILL_RATE,
          catalogue: dict[str, Fault] = BY_NAME) -> Verdict:
    """Kill rate over the faults run (BROKEN and CANCELLED count as not killed) and the gate.

    A faithful run that is not clean is the only failure reported: its false
    alarms make every kill meaningless, and the fault runs were cancelled anyway.
    """
    total = len(outcomes)
    killed = sum(o.killed for o in outcomes)
    rate = killed / total if total else 0.0
    not_killed = [o.fault or "" for o in outcomes if not o.killed]
    critical = [name for name in not_killed if catalogue[name].critical]
    failures: list[str] = []
    if baseline is None or baseline.status != PASSED:
        why = baseline.reason if baseline else "did not run"
        failures.append(f"the faithful run is not clean ({why}): kills would mean nothing")
    elif total == 0:
        failures.append("no fault was run")
    else:
        if rate < min_kill_rate:
            failures.append(f"kill rate {rate:.1%} is below {min_kill_rate:.0%}")
        if critical:
            failures.append(f"critical fault(s) not killed: {', '.join(critical)}")
    return Verdict(total, killed, rate,
                   [o.fault or "" for o in outcomes if o.status == SURVIVED],
                   [o.fault or "" for o in outcomes if o.status in (BROKEN, CANCELLED)],
                   critical, failures)


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
    command = [sys.executable, "-m", "pytest", str(settings.suites), "-q", "-p", "no:cacheprovider",
               "-n", str(settings.xdist_workers), f"--junitxml={junit}",
               "--evidence-dir", str(settings.work_dir / f"evidence-{label}")]
    scenarios = settings.scenarios.get(fault, ()) if fault else settings.baseline_scenarios
    for name in scenarios:
        command += ["--scenario", name]
    if fault:
        command += ["--emulator-fault", fault]
        if settings.maxfail:
            command.append(f"--maxfail={settings.maxfail}")
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
        "faults": [{**_fault_json(o, catalogue[o.fault or ""], settings.maxfail),
                    "scenarios": list(settings.scenarios.get(o.fault or "", ())) or "all"}
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
        "mutation", help="run the suite against every emulator fault and score the kills",
        description="Run the conformance suite against the faithful embedded target and once per "
                    "fault; exit 1 if the kill rate is too low, a critical fault survives or the "
                    "faithful run fails. Arguments after -- go to every pytest run.")
    parser.add_argument("--fault", action="append", default=[], metavar="NAME",
                        help="run only this fault (repeatable); default: the whole catalogue")
    parser.add_argument("--quick", action="store_true",
                        help="the CI subset: the critical faults, each run only on the "
                             "scenario(s) that killed it in the full run (see QUICK)")
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
    parser.add_argument("--report", type=Path, default=Path("reports/mutation.json"))
    parser.add_argument("--work-dir", type=Path, default=None,
                        help="keep every run's junit and log here (default: a temporary folder)")
    parser.add_argument("pytest_args", nargs="*", metavar="-- PYTEST_ARGS",
                        help="passed to every pytest run, e.g. -- --scenario books")
    parser.set_defaults(handler=main)


def select_faults(names: Iterable[str], quick: bool) -> list[str]:
    """The faults to run, in catalogue order; unknown names are a usage error."""
    wanted = set(names) | (set(QUICK) if quick else set())
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
        per_fault, baseline_scenarios = scoped(faults, QUICK if args.quick else {})
        settings = Settings(args.suites.resolve(), work_dir.resolve(), tuple(args.pytest_args),
                            args.xdist_workers, args.maxfail, args.timeout, per_fault,
                            baseline_scenarios)
        start = time.monotonic()
        print(f"rolecall mutation: faithful run + {len(faults)} fault(s), {args.jobs} at a time",
              file=sys.stderr, flush=True)
        with Progress(len(faults) + 1) as progress:
            baseline, outcomes = run_all(Runner(settings, progress), faults, args.jobs)
        wall = time.monotonic() - start
    verdict = judge(baseline, outcomes, args.min_kill_rate)
    print(table(outcomes, args.maxfail))
    print(summary(verdict, baseline, wall))
    if per_fault:
        print("(quick: each fault ran only on the scenario(s) QUICK names for it; "
              "`tox -e mutation` runs the whole suite per fault)")
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text(json.dumps(
        report(baseline, outcomes, verdict, settings, args.min_kill_rate, wall), indent=2) + "\n")
    print(f"report: {args.report}")
    return 0 if verdict.ok else 1
