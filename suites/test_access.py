"""What each credential may do on DynamoDB: every action of SPEC D5, ALLOWED or DENIED.

The expected verdict comes from the role's permission profile in the scenario
(`allowed:`); every action not listed there must be denied with AWS's
AccessDeniedException (D4). An ERROR is never taken for DENIED.
"""

from __future__ import annotations

from rolecall.account import probes
from rolecall.account.run import Run
from rolecall.cells import refusals
from rolecall.cells.matrix import (
    AccessCell,
    credential_observation,
    deciding_statement,
    issued_to_probe_with,
    mismatch,
)
from rolecall.reporting.records import Observer


def test_access(run: Run, access_cell: AccessCell, observe: Observer) -> None:
    cell = access_cell
    scenario = cell.credential.scenario
    stack, flows = run.stack(scenario), run.flows(scenario)
    credential = issued_to_probe_with(flows, stack, cell.credential, cell.id)
    assert scenario.table is not None  # access cells exist only for stacks with a table
    target = run.aim(scenario, cell.partition, credential, cell.credential.user, cell.on)
    probed = probes.run(cell.probe, flows.dynamodb(credential), target, stack.iam_settled_by)
    role = stack.role_of(credential.role_arn)
    attachments = credential_observation(credential, stack, flows, None).attachments
    observe(observed=probed.verdict, observed_role=role, code=probed.code,
            request_ids=[r for r in [probed.request_id] if r], attachments=attachments)

    assert probed.verdict == cell.expected, mismatch(
        cell.id, cell.expected, probed.verdict, cell.rule, cell.source,
        f"{probed.code or ''} {probed.message or ''}".strip(), role=role,
        statement=deciding_statement(scenario, role, cell.probe.needs))
    if probed.verdict == "DENIED" and cell.refusal is not None:
        # D4, B2: AWS's whole text, naming the first refused check and the policy type
        seconds = list(stack.other_table_arns.values())[:1]
        wanted = cell.refusal.text(credential.session_arn,
                                   stack.other_table_arns[cell.on] if cell.on else stack.table_arn,
                                   *seconds)
        assert probed.message == wanted, mismatch(cell.id, repr(wanted), repr(probed.message),
                                                  "B2" if "boundary" in wanted else "D4", "spec")
    elif probed.verdict == "DENIED":  # D4: AWS names the session, an action it refused, the ARN
        named = [check.permission for check in cell.probe.shape.checks]
        tables = ([stack.other_tables[cell.on]] if cell.on
                  else [stack.table_name, *list(stack.other_tables.values())[:1]])
        problem = refusals.denial_problem(probed.message or "", credential.session_arn,
                                          tables, named)
        assert problem is None, mismatch(cell.id, problem, probed.message, "D4", "spec")
        explicit = set(cell.probe.needs) & set(scenario.roles[role].denied_explicitly) \
            if role in scenario.roles else set()
        assert not explicit or "with an explicit deny in an identity-based policy" in (
            probed.message or ""), mismatch(cell.id, "an explicit-deny AccessDeniedException",
                                            probed.message, "D4", "spec")
