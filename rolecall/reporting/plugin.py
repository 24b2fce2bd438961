"""The pytest plugin where a cell's description, observations and outcome meet.

Before a cell runs, its `Description` labels it in Allure; the test body hands
what it saw to the `observe` fixture (an `Observer` kept on the test item); when
the call ends, the observations become Allure parameters and attachments, and
after pytest has decided the outcome the cell's records are written, once, to
the run's `RecordStore`. Failure reports are redacted here before JUnit, Allure
or the terminal read them. suites/conftest.py registers `CellReporting`.

The plugin also keeps the run honest about its extent: each collecting process
records the plan (selected and deselected cells), the controller notes how the run
ended (a signal, a stop after failures, a crashed worker), and after the session it
assesses completeness (rolecall/reporting/completeness.py) for the terminal, JUnit,
Allure and, through suites/conftest.py, the evidence bundle.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from pathlib import Path
from typing import Any

import pytest

from rolecall.reporting import allure_labels, completeness
from rolecall.reporting.completeness import Completeness
from rolecall.reporting.records import Description, Observer, RecordStore, now, records_of
from rolecall.reporting.redact import redact_log_records, redact_text

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

    def __init__(self, state_dir: Path | None, worker: str, selection: Sequence[str] = ()) -> None:
        self.store = RecordStore(state_dir, worker) if state_dir is not None else None
        self.failed_cells: dict[str, str] = {}  # node id -> why, every failed or errored cell
        self.controller = worker == "main"
        self.selection = list(selection)
        self.interruption: str | None = None
        self.crashed: dict[str, str] = {}
        self.deselected: list[str] = []
        self.assessed: tuple[Completeness, list[dict[str, Any]]] | None = None
        self.started = False  # a run refused before its session (a bad stack) has no extent
        self.collect_only = False  # --collect-only plans nothing and runs nothing: no extent

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        self.started = True
        self.collect_only = bool(session.config.option.collectonly)
        allure_labels.use_redacting_writer()
        redact_log_records()

    # -- the plan and how the run ended ------------------------------------------------------
    def note_signal(self, name: str) -> None:
        """Called from the controller's signal handler before it raises KeyboardInterrupt."""
        self.interruption = self.interruption or f"interrupted by {name}"

    def pytest_deselected(self, items: Sequence[pytest.Item]) -> None:
        self.deselected += [item.nodeid for item in items if description_of(item) is not None]

    @pytest.hookimpl(trylast=True)
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        if self.store is None or session.config.option.collectonly:
            return
        planned = [(item.nodeid, described.as_dict()) for item in session.items
                   if (described := description_of(item)) is not None]
        completeness.write_plan(self.store.folder, planned, self.deselected)

    def pytest_keyboard_interrupt(self, excinfo: pytest.ExceptionInfo[BaseException]) -> None:
        message = str(excinfo.value).strip()
        self.interruption = self.interruption or (
            f"interrupted: {redact_text(message)}" if message else "interrupted (KeyboardInterrupt)")

    @pytest.hookimpl(wrapper=True, trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> Generator[None, None, None]:
        # Innermost: after xdist stopped its workers and JUnit was written, before the summary.
        result = yield
        verdict = self.assess(session)
        if verdict is not None:
            self._tell_readers(session.config, verdict)
            if verdict.status == completeness.INCOMPLETE and session.exitstatus == 0:
                session.exitstatus = pytest.ExitCode.TESTS_FAILED  # never green when partial
        if self.interruption and session.exitstatus == 0:
            # a signal after the last cell, its KeyboardInterrupt lost in a finalizer: the
            # cells are all observed, but whoever sent it asked the run to stop
            session.exitstatus = pytest.ExitCode.INTERRUPTED
        return result

    def assess(self, session: pytest.Session | None = None) -> Completeness | None:
        """The run's completeness, once, in the controller (None where there is nothing to say)."""
        if (self.assessed is None and self.controller and self.store is not None
                and not self.collect_only and (self.started or self.interruption)):
            stop = getattr(session, "shouldfail", None) or getattr(session, "shouldstop", None)
            reason = self.interruption or (f"stopped early: {stop}" if stop else None)
            self.assessed = completeness.assess(
                completeness.read_plan(self.store.folder), RecordStore.read(self.store.folder),
                reason, self.selection, self.crashed)
        return self.assessed[0] if self.assessed else None

    @property
    def cells(self) -> list[dict[str, Any]]:
        """The run's records plus a NOT RUN row for each planned cell with none."""
        return self.assessed[1] if self.assessed else []

    def _tell_readers(self, config: pytest.Config, verdict: Completeness) -> None:
        xmlpath = getattr(config.option, "xmlpath", None)
        if xmlpath:
            completeness.mark_junit(Path(xmlpath), verdict)

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
        cell = description_of(item) is not None
        if report.when == "call" and report.failed and cell:
            verdict_first(report, call)
        redact_report(report)
        if cell and report.failed:
            setattr(report, FAILURE_ATTR, failure_text(report))
        if report.when == "call" or (report.when == "setup" and not report.passed):
            self._write(item, report)
        return report

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        failure = getattr(report, FAILURE_ATTR, None)
        if failure and report.failed and report.nodeid not in self.failed_cells:
            # pytest counts a failed call as failed and a failed setup or teardown as an error
            error = "" if report.when == "call" else f"ERROR in {report.when}: "
            self.failed_cells[report.nodeid] = error + str(failure)
        if self.controller and report.failed and "crashed while running" in str(report.longrepr):
            self.crashed[report.nodeid] = redact_text(str(report.longrepr))

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_terminal_summary(self, terminalreporter: Any) -> Generator[None, None, None]:
        # Outermost: after pytest's short summary, which trims each line to the terminal.
        yield
        if self.failed_cells:
            terminalreporter.write_sep("=", f"rolecall: {len(self.failed_cells)} cell(s) failed")
            for nodeid, why in self.failed_cells.items():
                cell = nodeid.rsplit("[", 1)[-1].rstrip("]")
                first, *more = why.splitlines() or [""]
                terminalreporter.write_line(f"{cell}: {first.removeprefix(f'{cell}: ')}")
                for line in more:
                    terminalreporter.write_line(f"    {line.strip()}")
        self._report_below_threshold(terminalreporter)
        extent = self.assess()  # last: how much of the plan the verdicts above cover
        if extent is not None:
            markup = {"red": True} if extent.status == completeness.INCOMPLETE else {
                "yellow": True} if extent.status == completeness.SELECTION or extent.not_probed \
                else {"green": True}
            terminalreporter.write_sep("=", f"rolecall: {extent.headline}", bold=True, **markup)
            if self.interruption and extent.status != completeness.INCOMPLETE:
                terminalreporter.write_sep("=", f"rolecall: {self.interruption} after its "
                                                "planned cells ran", red=True)

    def _report_below_threshold(self, terminalreporter: Any) -> None:
        """Audit findings open but below --audit-fail-on passed their cells: said, not hidden."""
        below = [(str(cell["id"]), str(line), str((cell.get("details") or {}).get("fail_on")))
                 for cell in self.cells for line in (cell.get("details") or {}).get("below") or []]
        if not below:
            return
        terminalreporter.write_sep("=", f"rolecall: {len(below)} audit finding(s) open below "
                                        f"--audit-fail-on {below[0][2]} (reported, not failing)")
        for cell, line, _ in below:
            terminalreporter.write_line(f"{cell}: {line}")

    def _write(self, item: pytest.Item, report: pytest.TestReport) -> None:
        description = description_of(item)
        if self.store is None or description is None:
            return
        observer = item.stash.get(OBSERVER, None)
        observations = observer.observations if observer else []
        reason = skip_reason(report, description.id) if report.skipped else None
        records = records_of(description, observations, report.outcome, item.nodeid,
                             item.stash.get(STARTED, now()), reason)
        if not observations and report.longrepr and not report.skipped:
            for record in records:
                record["code"] = _first_line(report)
        self.store.write(records)


VERDICT_ATTR = "rolecall_verdict"  # travels with the report from xdist workers (plain JSON)
FAILURE_ATTR = "rolecall_failure"  # every failed cell's why, for the closing list (the same way)


def failure_text(report: pytest.TestReport) -> str:
    """Why a cell failed, for the closing list: its verdict, or its failure message
    (an escalation or audit cell's assertion, all its lines: the paths and findings), or
    the crash line of an exception. Never trimmed; already redacted."""
    verdict = getattr(report, VERDICT_ATTR, None)
    if verdict:
        return str(verdict)
    longrepr = report.longrepr
    entries = getattr(getattr(longrepr, "reprtraceback", None), "reprentries", None) or []
    crash = getattr(longrepr, "reprcrash", None)
    message = str(getattr(crash, "message", "") or "")
    if message.startswith(("AssertionError", "Failed")) and entries and \
            isinstance(getattr(entries[0], "lines", None), list):
        return "\n".join(entries[0].lines)  # verdict_first left the message, without source
    if isinstance(longrepr, str | _RedactedRepr) or message == "":
        return str(longrepr).strip().splitlines()[-1] if str(longrepr).strip() else "failed"
    return message


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


def skip_reason(report: pytest.TestReport, cell_id: str) -> str:
    """Why a skipped cell asked nothing: pytest.skip's message, without pytest's `Skipped: `
    and the cell id and `not probed: ` a suite puts in front of it (the record names both)."""
    longrepr = report.longrepr
    text = str(longrepr[2]) if isinstance(longrepr, tuple) else str(longrepr or "skipped")
    for prefix in ("Skipped: ", f"{cell_id}: ", "not probed: "):
        text = text.removeprefix(prefix)
    return redact_text(text.strip() or "skipped")


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
