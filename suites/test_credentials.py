"""Who gets which role: every user, every variant, every flow (SPEC E1-E13, C1-C6).

Each cell takes one credential path and compares ISSUED(role) / REFUSED(code)
with the oracle. The role is the one STS GetCallerIdentity reports for the
credentials, not the one the pool claims to have chosen.
"""

from __future__ import annotations

from rolecall.cells.matrix import CredentialCell, mismatch, observed_outcome, obtain
from rolecall.target.flows import Issued
from rolecall.target.run import Run


def test_credentials(run: Run, credential_cell: CredentialCell, worker_id_label: str) -> None:
    cell = credential_cell
    stack = run.stack(cell.scenario)
    result = obtain(run.flows(cell.scenario), cell)
    observed = observed_outcome(result, stack)
    expected = str(cell.expected)
    run.record(worker_id_label, {
        "kind": "credential", "id": cell.id, "scenario": cell.scenario.name,
        "variant": cell.variant, "flow": cell.flow_label, "user": cell.user or "guest",
        "groups": sorted(cell.scenario.users[cell.user].groups) if cell.user else [],
        "expected": expected, "observed": observed, "rule": cell.expected.rule,
        "source": cell.source, "request_ids": result.request_ids,
        "passed": observed == expected})

    assert observed == expected, mismatch(cell.id, expected, observed, cell.expected.rule,
                                          cell.source, getattr(result, "message", ""))
    if isinstance(result, Issued):  # E13: the session is the role's CognitoIdentityCredentials
        assert ":assumed-role/" in result.session_arn, mismatch(
            cell.id, "an assumed-role session ARN", result.session_arn, "E13", "spec")
