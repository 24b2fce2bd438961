"""What each credential may do on DynamoDB: every action of SPEC D5, ALLOWED or DENIED.

The expected verdict comes from the role's permission profile in the scenario
(`allowed:`); every action not listed there must be denied with AWS's
AccessDeniedException (D4). An ERROR is never taken for DENIED.
"""

from __future__ import annotations

import pytest

from rolecall.cells.matrix import AccessCell, mismatch, observed_outcome, obtain
from rolecall.target import probes
from rolecall.target.flows import Issued
from rolecall.target.run import Run


def test_access(run: Run, access_cell: AccessCell, worker_id_label: str) -> None:
    cell = access_cell
    scenario = cell.credential.scenario
    stack = run.stack(scenario)
    flows = run.flows(scenario)
    credential = obtain(flows, cell.credential)
    if not isinstance(credential, Issued):
        pytest.fail(mismatch(cell.id, f"credentials {cell.credential.expected} to probe with",
                             observed_outcome(credential, stack), cell.credential.expected.rule,
                             cell.credential.source))
    target = probes.ProbeTarget.of(stack.table_name, scenario.table,
                                   run.partition_of(scenario, cell.partition, credential))
    observation = probes.run(cell.probe, flows.dynamodb(credential), target)
    run.record(worker_id_label, {
        "kind": "access", "id": cell.id, "scenario": scenario.name,
        "variant": cell.credential.variant, "flow": cell.credential.flow_label,
        "user": cell.credential.user or "guest",
        "groups": sorted(scenario.users[cell.credential.user].groups)
        if cell.credential.user else [],
        "expected_role": cell.credential.expected.role,
        "observed_role": stack.role_of(credential.role_arn), "action": cell.id.rsplit("-", 1)[-1],
        "expected": cell.expected, "observed": observation.verdict, "code": observation.code,
        "request_ids": [r for r in [observation.request_id] if r], "rule": cell.rule,
        "source": cell.source, "passed": observation.verdict == cell.expected})

    assert observation.verdict == cell.expected, mismatch(
        cell.id, cell.expected, observation.verdict, cell.rule, cell.source,
        f"role {stack.role_of(credential.role_arn)}; {observation.code or ''} "
        f"{observation.message or ''}".strip())
    if observation.verdict == "DENIED":  # D4: AWS names the session and an action it refused
        named = [f"dynamodb:{need}" for need in cell.probe.needs]
        assert any(action in (observation.message or "") for action in named), mismatch(
            cell.id, f"AccessDeniedException naming one of {named}", observation.message, "D4",
            "spec")
