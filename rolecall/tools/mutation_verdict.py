"""What one mutation run means: its JUnit read into cells, classified, and judged.

`rolecall mutation` (rolecall/tools/mutation.py) runs the suite once against the
faithful target and once per fault; this module turns each run's exit code and
JUnit into an outcome (KILLED, SURVIVED, BROKEN; PASSED or FAILED for the
baseline) and the whole into a verdict against the kill-rate gate. Kept apart
from the runner so the rules of judgement read on their own and are unit-tested
without running anything.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rolecall.emulator.faults import BY_NAME, Fault

KILLED, SURVIVED, BROKEN, CANCELLED = "KILLED", "SURVIVED", "BROKEN", "CANCELLED"
PASSED, FAILED = "PASSED", "FAILED"
DEFAULT_MIN_KILL_RATE = 0.95


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


# A cell's own verdict reads "expected X, observed Y [SPEC rule] ..." (the reporting plugin
# makes it the crash line); other assertions keep pytest's "AssertionError ..." / "Failed:".
VERDICT_PREFIXES = ("AssertionError", "Failed:", "expected ")


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
