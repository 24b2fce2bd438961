"""The trust and configuration audit as test cells: `<scenario>-audit-<check>`.

Each cell runs one check of rolecall/cells/audit.py on the scenario, statically (no
AWS call, nothing provisioned), and asserts that what it finds is exactly what
the scenario's `accepted_findings` accept for that check: an unaccepted finding at
or above `--audit-fail-on` (default low: every one, as `rolecall audit --fail-on`)
fails (a hole nobody signed off), and so does a stale acceptance (accepted, but
no longer found: the list must say what is true). An unaccepted finding below the
threshold passes its cell and is reported: in the terminal, summary.md and evidence.
"""

from __future__ import annotations

import pytest

from rolecall.cells.audit import AuditCell, audit_scenario
from rolecall.cells.audit_checks import CHECKS
from rolecall.reporting.records import Observer


def test_audit(audit_cell: AuditCell, observe: Observer, request: pytest.FixtureRequest) -> None:
    cell = audit_cell
    threshold = request.config.getoption("--audit-fail-on")
    scenario, check = cell.scenario, CHECKS[cell.check]
    findings = audit_scenario(scenario).of_check(check.id)
    accepted = {a.subject: a.reason for a in scenario.accepted_findings if a.check == check.id}
    failing = [f for f in findings if f.fails(threshold)]
    below = [f for f in findings if f.accepted is None and not f.fails(threshold)]
    stale = sorted(set(accepted) - {f.subject for f in findings})
    observe(details={"findings": [f.as_dict(threshold) for f in findings], "stale": stale,
                     "fail_on": threshold,  # an open finding below it is reported, not failed
                     "below": [f"{f.severity.upper()} {f.subject}: {f.message}" for f in below]})

    problems = [f"{f.severity.upper()} {f.subject}: {f.message}. Fix: {f.fix}" for f in failing]
    problems += [f"stale acceptance of {subject!r}: accepted ({accepted[subject]}) but no longer "
                 "found; remove it from accepted_findings" for subject in stale]
    if problems:
        pytest.fail(f"{cell.id}: {check.title} [SPEC {check.rule}; scenario {scenario.file}]\n  "
                    + "\n  ".join(problems) + "\n  (a hole kept on purpose goes under "
                    "accepted_findings: {check, subject, reason}; --audit-fail-on sets the least "
                    "severe open finding that fails)", pytrace=False)
