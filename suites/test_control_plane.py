"""What each credential may do beyond the items: the table's control plane, PartiQL, and
the identity stack itself (issue 12; SPEC D1 as sharpened in docs/semantics.md, E5).

The expected verdict comes from the role's permission profile (`allowed:` with
prefixed actions such as `dynamodb:DeleteTable` or `cognito-identity:*`); everything
else must be denied in the called service's own words. Each probe is safe on a real
account: an ALLOWED answer changes nothing lasting (docs/control-plane-probes.md).
"""

from __future__ import annotations

import pytest

from rolecall.account import control_probes
from rolecall.account.run import Run
from rolecall.cells import control
from rolecall.cells.control import ControlCell
from rolecall.cells.matrix import credential_observation, issued_to_probe_with, mismatch
from rolecall.model import oracle
from rolecall.model.tables import PARTITIONED
from rolecall.reporting.records import Observer


def test_control_plane(run: Run, control_cell: ControlCell, observe: Observer) -> None:
    cell = control_cell
    scenario = cell.credential.scenario
    stack, flows = run.stack(scenario), run.flows(scenario)
    credential = issued_to_probe_with(flows, stack, cell.credential, cell.id)
    partitioned = scenario.table is not None and scenario.table.partition in PARTITIONED
    partition = run.partition_of(scenario, "own" if partitioned else None, credential,
                                 cell.credential.user)
    try:
        probed = control_probes.run(cell.probe, control.context(flows, stack, cell.credential,
                                                                credential, partition))
    except control_probes.NotProbed as exc:  # a team's table: no safe way to ask
        pytest.skip(f"{cell.id}: not probed: {exc}")
    role = stack.role_of(credential.role_arn)
    observe(observed=probed.verdict, observed_role=role, code=probed.code,
            request_ids=[r for r in [probed.request_id] if r],
            attachments=credential_observation(credential, stack, flows, None).attachments)

    assert probed.verdict == cell.expected, mismatch(
        cell.id, cell.expected, probed.verdict, cell.rule, cell.source,
        f"role {role}; {probed.code or ''} {probed.message or ''}".strip())
    if probed.verdict == "DENIED":  # D4 in every service: the refusal names the denied action
        named = oracle.needed_actions(cell.probe.action)  # itself, or one it depends on
        assert any(action in (probed.message or "") for action in named), mismatch(
            cell.id, f"an AccessDenied naming {' or '.join(named)}", probed.message, "D4", "spec")
