"""The trust and configuration audit as test cells: `<scenario>-audit-<check>`.

Each cell runs one check of rolecall/cells/audit.py on the scenario, statically (no
AWS call, nothing provisioned), and asserts that what it finds is exactly what
the scenario's `accepted_findings` accept for that check: an unaccepted finding
fails (a hole nobody signed off), and so does a stale acceptance (accepted, but
no longer found: the list must say what is true).
"""

from __future__ import annotations

import pytest

from rolecall.cells.audit import CHECKS, AuditCell, audit_scenario
from rolecall.reporting.records import Observer


def test_audit(audit_cell: AuditCell, observe: Observer) -> None:
    cell = audit_cell
    scenario, check = cell.scenario, CHECKS[cell.check]
    findings = audit_scenario(scenario).of_check(check.id)
    accepted = {a.subject: a.reason for a in scenario.accepted_findings if a.check == check.id}
    unaccepted = [f for f in findings if f.accepted is None]
    stale = sorted(set(accepted) - {f.subject for f in findings})
    observe(details={"findings": [f.as_dict() for f in findings], "stale": stale})

    problems = [f"{f.severity.upper()} {f.subject}: {f.message}. Fix: {f.fix}" for f in unaccepted]
    problems += [f"stale acceptance of {subject!r}: accepted ({accepted[subject]}) but no longer "
                 "found; remove it from accepted_findings" for subject in stale]
    if problems:
        pytest.fail(f"{cell.id}: {check.title} [SPEC {check.rule}; scenario {scenario.file}]\n  "
                    + "\n  ".join(problems) + "\n  (a hole kept on purpose goes under "
                    "accepted_findings: {check, subject, reason})", pytrace=False)
