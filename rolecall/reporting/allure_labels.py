"""Allure labels, links and attachments for every conformance cell, and the redacting writers.

A cell reads in Allure as the spec does: epic = scenario, feature = mapping
variant, story = flow, and parameters for who (user, groups), which role was
expected and observed, which action, and which outcome. Escalation cells (the
classic flow issuing a role) and trust failures (E11, C6) are critical. Each
cell links its SPEC rule and the source of its expectation, and carries the
user's decoded token claims, the role ARN obtained and the AWS request ids.

Everything Allure writes goes through `rolecall.reporting.redact` (the file logger of
allure-pytest is swapped for a redacting one), and failure reports are redacted
before JUnit, Allure or the terminal see them. The suites use this module
through `CellReporting` (registered by suites/conftest.py), `cell_labels` (an
autouse fixture there) and `observe` (called by `Run.record`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import allure
import allure_commons
import pytest
from allure_commons.logger import AllureFileLogger

from rolecall.reporting import evidence
from rolecall.reporting.redact import redact, redact_bytes, redact_text

SPEC_URL = os.environ.get("ROLECALL_SPEC_URL", "../shared/SPEC.md")
CRITICAL_RULES = ("E11", "C6")
# The test currently running in this process -> the records it wrote (for attachments).
_observed: dict[str, list[dict[str, Any]]] = {}


# --- what a cell is, whatever its kind ----------------------------------------------------

def cell_of(item: pytest.Item) -> tuple[str, Any] | None:
    """The matrix cell an item was parametrized with, and its kind (`access_cell` -> access)."""
    params = getattr(getattr(item, "callspec", None), "params", {})
    for name, value in params.items():
        if name.endswith("_cell") and hasattr(value, "id"):
            return name.removesuffix("_cell"), value
    return None


def describe(kind: str, cell: Any) -> dict[str, Any]:
    """What is known of a cell before it runs: who, where, and what is expected and why."""
    credential = getattr(cell, "credential", None)  # an access cell probes its credential cell
    base = credential or cell
    scenario = getattr(base, "scenario", None)
    user = getattr(base, "user", None) or getattr(cell, "subject", None)
    users = getattr(scenario, "users", {}) or {}
    expected = getattr(cell, "expected", getattr(cell, "preferred", None))
    outcome = getattr(base, "expected", None)
    probe = getattr(cell, "probe", None)
    return redact({
        "kind": kind, "id": cell.id, "scenario": getattr(scenario, "name", None),
        "variant": getattr(base, "variant", None),
        "flow": getattr(base, "flow_label", None) or getattr(base, "flow", None),
        "user": user or ("guest" if credential or kind == "credential" else None),
        "groups": sorted(users[user].groups) if user in users else [],
        "expected_role": getattr(outcome, "role", None) if kind in ("credential", "access")
        else (expected if kind == "claims" else None),
        "action": getattr(probe, "action", None),
        "expected": None if expected is None else str(expected),
        "rule": getattr(cell, "rule", None) or getattr(outcome, "rule", None),
        "source": getattr(cell, "source", None),
        "scenario_file": getattr(scenario, "file", None),
    })


def severity(described: dict[str, Any], observed: str | None = None) -> str:
    """Critical: a path that escalates (classic flow issuing a role) or a broken trust rule."""
    rule = str(described.get("rule") or "")
    flow = str(described.get("flow") or "")
    issues_role = any(str(v or "").startswith("ISSUED") for v in (described.get("expected"),
                                                                   observed))
    if described.get("kind") == "escalation" or rule.split(" ")[0] in CRITICAL_RULES:
        return allure.severity_level.CRITICAL.value
    if flow.startswith("classic") and (issues_role or described.get("kind") == "access"):
        return allure.severity_level.CRITICAL.value
    return allure.severity_level.NORMAL.value


def _spec_link(rule: str) -> str:
    return f"{SPEC_URL}#{rule.split(' ')[0].split('/')[0].lower()}"


def _source_link(described: dict[str, Any]) -> tuple[str, str] | None:
    source = str(described.get("source") or "")
    if source.startswith(("http://", "https://")):
        return source, "expectation source"
    where = described.get("scenario_file")
    if not where or not source or source.startswith("SPEC "):  # the spec link says it all
        return None
    path = Path(where).resolve()
    if path.is_relative_to(Path.cwd()):
        path = path.relative_to(Path.cwd())
    return path.as_posix(), f"expectation source: {source}"[:160]


# --- the autouse fixture -----------------------------------------------------------------

def cell_labels(request: pytest.FixtureRequest) -> Iterator[None]:
    """Label the cell before it runs: epic/feature/story, severity, links, parameters."""
    found = cell_of(request.node) if isinstance(request.node, pytest.Item) else None
    if found is None:
        yield
        return
    kind, cell = found
    described = describe(kind, cell)
    allure.dynamic.parameter(f"{kind}_cell", cell.id)  # instead of the cell object's repr
    allure.dynamic.epic(described["scenario"] or "-")
    allure.dynamic.feature(described["variant"] or kind)
    allure.dynamic.story(described["flow"] or kind)
    allure.dynamic.severity(allure.severity_level(severity(described)))
    allure.dynamic.label("cell_kind", kind)
    for name in ("user", "groups", "expected_role", "action", "expected"):
        if described.get(name) not in (None, []):
            allure.dynamic.parameter(name.replace("_", " "), _text(described[name]))
    if described["rule"]:
        for rule in str(described["rule"]).split("/"):
            allure.dynamic.link(_spec_link(rule), link_type="spec", name=f"SPEC {rule}")
    source = _source_link(described)
    if source:
        allure.dynamic.link(source[0], link_type="source", name=source[1])
    yield


def _text(value: Any) -> str:
    return ", ".join(str(v) for v in value) if isinstance(value, list) else str(value)


def observe(record: dict[str, Any]) -> None:
    """Called by Run.record: the observed side of the cell, as parameters (already redacted)."""
    test = record.get("test") or ""
    _observed.setdefault(test, []).append(record)
    cell = evidence.normalise(record)
    suffix = f" [{cell['variant']}]" if test and len(_observed[test]) > 1 else ""
    if cell["observed_role"] is not None:
        allure.dynamic.parameter(f"observed role{suffix}", _text(cell["observed_role"]))
    if cell["observed"] is not None:
        allure.dynamic.parameter(f"observed{suffix}", _text(cell["observed"]))


# --- attachments, at the end of the test's call ---------------------------------------------

def _attach_json(value: Any, name: str) -> None:
    allure.attach(json.dumps(redact(value), indent=2, sort_keys=True, default=str), name=name,
                  attachment_type=allure.attachment_type.JSON)


def attach_observations(item: pytest.Item) -> None:
    """Token claims, role ARN and request ids of the cell that just ran (all redacted)."""
    found = cell_of(item)
    records = _observed.pop(item.nodeid, [])
    if found is None or not records:
        return
    kind, cell = found
    run = item.funcargs.get("run") if hasattr(item, "funcargs") else None
    request_ids = [rid for r in records for rid in (r.get("request_ids") or [])]
    _attach_json({"request_ids": request_ids}, "AWS request ids")
    _attach_json(records, "observed record")
    if run is None:
        return
    credential = getattr(cell, "credential", None) or (cell if kind == "credential" else None)
    user = getattr(credential or cell, "user", None)
    scenario = getattr(credential or cell, "scenario", None)
    if kind in ("claims", "credential") and user and scenario is not None:
        _attach_claims(run, scenario, user)
    if credential is not None and scenario is not None:
        _attach_role(run, scenario, credential)


def _attach_claims(run: Any, scenario: Any, user: str) -> None:
    try:  # the tokens are cached by Flows: this decodes, it does not sign in again
        claims = run.flows(scenario).verified_claims(user)
    except Exception as exc:  # attachments must never fail a cell
        claims = {"error": f"{type(exc).__name__}: {exc}"}
    _attach_json(claims, "ID token claims (decoded, redacted)")


def _attach_role(run: Any, scenario: Any, credential: Any) -> None:
    from rolecall.cells.matrix import obtain  # cached per process: the result the cell saw

    try:
        result = obtain(run.flows(scenario), credential)
    except Exception as exc:
        _attach_json({"error": f"{type(exc).__name__}: {exc}"}, "role obtained")
        return
    _attach_json({"role_arn": getattr(result, "role_arn", None),
                  "session_arn": getattr(result, "session_arn", None),
                  "refused": getattr(result, "code", None),
                  "request_ids": getattr(result, "request_ids", [])}, "role obtained")


# --- the plugin: redacting writers and the outcome of every cell -------------------------------

class RedactingFileLogger(AllureFileLogger):
    """allure-pytest's writer, with every result, container and attachment redacted."""

    def _report_item(self, item: Any) -> None:
        for name in ("name", "description", "fullName"):
            if isinstance(getattr(item, name, None), str):
                setattr(item, name, redact_text(getattr(item, name)))
        details = getattr(item, "statusDetails", None)
        if details is not None:
            details.message = redact_text(details.message) if details.message else details.message
            details.trace = redact_text(details.trace) if details.trace else details.trace
        for parameter in getattr(item, "parameters", []) or []:
            parameter.value = redact_text(str(parameter.value))
        for step in getattr(item, "steps", []) or []:
            self._scrub_step(step)
        super()._report_item(item)

    def _scrub_step(self, step: Any) -> None:
        if step.statusDetails is not None and step.statusDetails.message:
            step.statusDetails.message = redact_text(step.statusDetails.message)
        if step.statusDetails is not None and step.statusDetails.trace:
            step.statusDetails.trace = redact_text(step.statusDetails.trace)
        for inner in step.steps or []:
            self._scrub_step(inner)

    @allure_commons.hookimpl
    def report_attached_data(self, body: Any, file_name: str) -> None:
        data = body.encode("utf-8") if isinstance(body, str) else bytes(body)
        super().report_attached_data(redact_bytes(data), file_name)

    @allure_commons.hookimpl
    def report_attached_file(self, source: Any, file_name: str) -> None:
        super().report_attached_data(redact_bytes(Path(source).read_bytes()), file_name)


def use_redacting_writer() -> None:
    """Make allure-pytest's file logger (one per process) the redacting one.

    The same object is re-registered with the redacting class: allure-pytest
    unregisters it by identity at exit, and its folder is already set up.
    """
    for plugin in list(allure_commons.plugin_manager.get_plugins()):
        if type(plugin) is AllureFileLogger:
            allure_commons.plugin_manager.unregister(plugin)
            plugin.__class__ = RedactingFileLogger
            allure_commons.plugin_manager.register(plugin)


class _RedactedRepr:
    """A failure text of unknown shape, redacted; prints like the original."""

    def __init__(self, text: str) -> None:
        self.text = text

    def toterminal(self, out: Any) -> None:
        out.line(self.text)

    def __str__(self) -> str:
        return self.text


class CellReporting:
    """pytest plugin: redacted failure reports, the outcome of each cell, its attachments."""

    def __init__(self, state_dir: Path | None, worker: str) -> None:
        self.state_dir = state_dir
        self.worker = worker

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        use_redacting_writer()

    @pytest.hookimpl(wrapper=True, trylast=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]
                                  ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        # Innermost wrapper: the report is redacted before allure-pytest and JUnit read it.
        if call.when == "call":
            attach_observations(item)
        report = yield
        redact_report(report)
        if report.when == "call" or (report.when == "setup" and not report.passed):
            self._note_outcome(item, report)
        return report

    def _note_outcome(self, item: pytest.Item, report: pytest.TestReport) -> None:
        found = cell_of(item)
        if self.state_dir is None or found is None:
            return
        crash = getattr(report.longrepr, "reprcrash", None)
        error = getattr(crash, "message", None) or (str(report.longrepr) if report.longrepr
                                                    else None)
        evidence.append_outcome(self.state_dir, self.worker, {
            "test": item.nodeid, "outcome": report.outcome, "when": report.when,
            "error": error.splitlines()[0][:300] if error else None,
            "cell": describe(*found)})


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
