"""The pytest plugin where a cell's description, observations and outcome meet.

Before a cell runs, its `Description` labels it in Allure; the test body hands
what it saw to the `observe` fixture (an `Observer` kept on the test item); when
the call ends, the observations become Allure parameters and attachments, and
after pytest has decided the outcome the cell's records are written, once, to
the run's `RecordStore`. Failure reports are redacted here before JUnit, Allure
or the terminal read them. suites/conftest.py registers `CellReporting`.
"""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

from rolecall.reporting import allure_labels
from rolecall.reporting.records import Description, Observer, RecordStore, now, records_of
from rolecall.reporting.redact import redact_text

OBSERVER = pytest.StashKey[Observer]()
STARTED = pytest.StashKey[str]()


def description_of(item: pytest.Item) -> Description | None:
    """The Description of the matrix cell an item was parametrized with (`*_cell`), if any."""
    params = getattr(getattr(item, "callspec", None), "params", {})
    for name, value in params.items():
        if name.endswith("_cell") and hasattr(value, "describe"):
            described: Description = value.describe()
            return described
    return None


def observer_for(item: pytest.Item) -> Observer:
    """The Observer of this test's cell (the `observe` fixture hands it to the body)."""
    if OBSERVER not in item.stash:
        description = description_of(item)
        if description is None:
            raise pytest.UsageError(f"{item.nodeid}: `observe` is for matrix cells only "
                                    "(a test parametrized with a *_cell)")
        item.stash[OBSERVER] = Observer(description)
    return item.stash[OBSERVER]


class CellReporting:
    """pytest plugin: labels before, observations at the end of the call, records after."""

    def __init__(self, state_dir: Path | None, worker: str) -> None:
        self.store = RecordStore(state_dir, worker) if state_dir is not None else None
        self.failed_cells: list[tuple[str, str]] = []

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        allure_labels.use_redacting_writer()

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        item.stash[STARTED] = now()

    @pytest.fixture(autouse=True)
    def _label_cell(self, request: pytest.FixtureRequest) -> None:
        if isinstance(request.node, pytest.Item):
            description = description_of(request.node)
            if description is not None:
                allure_labels.label(description)

    @pytest.hookimpl(wrapper=True, trylast=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]
                                  ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        # Innermost wrapper: the report is redacted before allure-pytest and JUnit read it.
        if call.when == "call" and OBSERVER in item.stash:
            allure_labels.show_observations(item.stash[OBSERVER].observations)
        report = yield
        if report.when == "call" and report.failed and description_of(item) is not None:
            verdict_first(report, call)
        redact_report(report)
        if report.when == "call" or (report.when == "setup" and not report.passed):
            self._write(item, report)
        return report

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        verdict = getattr(report, VERDICT_ATTR, None)
        if verdict and report.failed:
            self.failed_cells.append((report.nodeid, str(verdict)))

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_terminal_summary(self, terminalreporter: Any) -> Generator[None, None, None]:
        # Outermost: after pytest's short summary, which trims each line to the terminal.
        yield
        if self.failed_cells:
            terminalreporter.write_sep("=", f"rolecall: {len(self.failed_cells)} cell(s) failed")
            for nodeid, verdict in self.failed_cells:
                terminalreporter.write_line(f"{nodeid.rsplit('[', 1)[-1].rstrip(']')}: {verdict}")

    def _write(self, item: pytest.Item, report: pytest.TestReport) -> None:
        description = description_of(item)
        if self.store is None or description is None:
            return
        observer = item.stash.get(OBSERVER, None)
        observations = observer.observations if observer else []
        records = records_of(description, observations, report.outcome, item.nodeid,
                             item.stash.get(STARTED, now()))
        if not observations and report.longrepr:
            records[0]["code"] = _first_line(report)
        self.store.write(records)


VERDICT_ATTR = "rolecall_verdict"  # travels with the report from xdist workers (plain JSON)


def verdict_first(report: pytest.TestReport, call: pytest.CallInfo[None]) -> None:
    """A failed cell reads verdict first, without the test's source.

    The cell's message (rolecall.cells.matrix.mismatch) leads with `expected X,
    observed Y [SPEC rule] role R`; pytest would print ~40 lines of the test body
    before it and its short summary would show `AssertionError: <cell id>...`. The
    report keeps pytest's own shape (xdist, JUnit and Allure read it), with one
    entry holding the message and the crash line set to the verdict. A cell's other
    assertion failures (audit, escalation) lose the source too but keep their crash
    line; exceptions that are not assertions (a bug, a target error) keep their traceback.
    """
    excinfo = call.excinfo
    if excinfo is None or not isinstance(excinfo.value, AssertionError | pytest.fail.Exception):
        return
    text = str(excinfo.value).split("\nassert ", 1)[0]  # drop pytest's rewritten comparison
    lines = text.splitlines() or [type(excinfo.value).__name__]
    longrepr = excinfo.getrepr(style="value", chain=False)
    entries = longrepr.reprtraceback.reprentries
    if not entries or not hasattr(entries[0], "lines") or longrepr.reprcrash is None:
        return
    entries[0].lines = lines
    report.longrepr = longrepr
    if lines[0].startswith("expected "):  # a verdict: it is the crash line (other failures
        longrepr.reprcrash.message = lines[0]  # keep "AssertionError: ...", mutation reads it)
        setattr(report, VERDICT_ATTR, redact_text(lines[0]))


def _first_line(report: pytest.TestReport) -> str | None:
    crash = getattr(report.longrepr, "reprcrash", None)
    error = getattr(crash, "message", None) or (str(report.longrepr) if report.longrepr else None)
    return redact_text(error.splitlines()[0][:300]) if error else None


class _RedactedRepr:
    """A failure text of unknown shape, redacted; prints like the original."""

    def __init__(self, text: str) -> None:
        self.text = text

    def toterminal(self, out: Any) -> None:
        out.line(self.text)

    def __str__(self) -> str:
        return self.text


def redact_report(report: pytest.TestReport) -> None:
    """Redact a report's failure text in place, keeping its shape (JUnit reads the crash line)."""
    report.sections = [(title, redact_text(text)) for title, text in report.sections]
    longrepr = report.longrepr
    if longrepr is None:
        return
    if isinstance(longrepr, tuple):  # skips: (path, line, reason)
        report.longrepr = (longrepr[0], longrepr[1], redact_text(str(longrepr[2])))
    elif isinstance(longrepr, str):
        report.longrepr = redact_text(longrepr)
    elif hasattr(longrepr, "chain") or hasattr(longrepr, "reprtraceback"):
        _scrub(longrepr)
    else:
        report.longrepr = _RedactedRepr(redact_text(str(longrepr)))  # type: ignore[assignment]


def _scrub(part: Any) -> None:
    """Walk pytest's failure representation (chains, tracebacks, entries) redacting its text."""
    for _traceback, crash, _description in getattr(part, "chain", None) or []:
        _scrub(_traceback)
        _scrub(crash)
    for name in ("reprtraceback", "reprcrash", "reprfuncargs", "reprlocals", "reprfileloc"):
        child = getattr(part, name, None)
        if child is not None:
            _scrub(child)
    for entry in getattr(part, "reprentries", None) or []:
        _scrub(entry)
    if isinstance(getattr(part, "lines", None), list):
        part.lines = [redact_text(line) for line in part.lines]
    if isinstance(getattr(part, "message", None), str):
        part.message = redact_text(part.message)
    if isinstance(getattr(part, "args", None), list):
        part.args = [(name, redact_text(str(value))) for name, value in part.args]
    if isinstance(getattr(part, "sections", None), list):
        part.sections = [(title, redact_text(text), sep) for title, text, sep in part.sections]
