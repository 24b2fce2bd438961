"""The shipped runner policy (policies/runner-matrix.json) is sufficient and minimal.

- sufficient: `tox -e aws-realism` runs the whole matrix through `--target aws` on an
  embedded endpoint that binds the runner's keys to the policy; any action missing
  from it fails the run, naming the action.
- the run needed all of it: that run records every action the policy allowed
  (reports/aws-realism/runner-actions.json); `test_the_run_needed_every_action`
  (marker `realism`, run by the same tox env) checks the policy holds nothing else.
- without any one action, the run fails naming it: `exercise` makes the runner's
  calls of a run (provisioning, a self-service copy of a user, the control-plane
  probes' admin reads and undos, the identity-binding cells' DescribeIdentity,
  revocations, teardown) through the same code, on
  the smallest stack that needs every action;
  with the whole policy it is clean and needs every action, and with each action
  removed in turn (one embedded endpoint for all of them, ~0.3 s each) it fails with an
  error that names the missing action: provisioning stops (retry.explain_stop), a
  cell's admin call raises AWS's AccessDenied, teardown reports the resource and
  AWS's words (and the run's exit status is then non-zero, suites/conftest.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from rolecall.account import clients, control_probes
from rolecall.account.cleanup import Journal, teardown
from rolecall.account.flows import REVOCATIONS, Flows
from rolecall.account.provision import Provisioner, RunSecrets
from rolecall.account.results import Issued
from rolecall.account.retry import StopError
from rolecall.cells import control
from rolecall.cells.identity import linked_providers
from rolecall.cells.matrix import obtain
from rolecall.emulator import ACCOUNT_ID, Emulator
from rolecall.model import scenario as scenarios

ROOT = Path(__file__).resolve().parents[2]
POLICY = ROOT / "policies" / "runner-matrix.json"
USED = ROOT / "reports" / "aws-realism" / "runner-actions.json"
# The smallest stack whose run needs every runner action: a table with an item and its own
# policy, a role with a revised permissions boundary and a group, a user, a writable
# attribute a rule keys on (self-service) and the pool maps to a principal tag.
RUNNER_SCENARIO = """
name: runner
description: The smallest stack whose run needs every action of the runner policy.
source: tests/suite/test_runner_policy.py
table:
  name: t
  partition_key: {name: pk, type: S}
  items: [{pk: a}]
  policy:
    Version: "2012-10-17"
    Statement: [{Effect: Deny, Principal: "*", Action: dynamodb:Scan, Resource: "{{table_arn}}"}]
roles:
  Member:
    policy:
      Version: "2012-10-17"
      Statement:
        - {Effect: Allow, Action: dynamodb:GetItem, Resource: "{{table_arn}}"}
        # an allowed backup is deleted at once with the runner's keys (control-plane probe)
        - {Effect: Allow, Action: dynamodb:CreateBackup, Resource: "{{table_arn}}"}
    boundary: {Version: "2012-10-17", Statement: [{Effect: Allow, Action: "dynamodb:*", Resource: "*"}]}
    boundary_other_version:
      {Version: "2012-10-17", Statement: [{Effect: Allow, Action: "dynamodb:GetItem", Resource: "*"}]}
    trust: {tag_session: true}
    allowed: [GetItem, "dynamodb:CreateBackup"]
    source: test
groups:
  members: {role: Member, entitlement: [GetItem]}
user_pool: {custom_attributes: [team]}
users:
  ann: {groups: [members]}
identity_pool: {authenticated_role: Member, principal_tags: {tags: {team: "custom:team"}}}
flows: [enhanced]
variants:
  attribute:
    mapping:
      type: Rules
      ambiguous: AuthenticatedRole
      rules: [{claim: "custom:team", match: Equals, value: x, role: Member}]
"""
RUNNER_ENV = {"AWS_ACCESS_KEY_ID": "AKIARUNNERPOLICYTEST", "AWS_SECRET_ACCESS_KEY": "x",
              "AWS_DEFAULT_REGION": "eu-west-1"}


def policy_actions(document: dict[str, Any]) -> set[str]:
    actions: set[str] = set()
    for statement in document["Statement"]:
        listed = statement["Action"]
        actions.update(a.lower() for a in ([listed] if isinstance(listed, str) else listed))
    return actions


@pytest.mark.realism
def test_the_run_needed_every_action() -> None:
    assert USED.is_file(), f"{USED} missing: run the matrix first (`tox -e aws-realism`)"
    used = set(json.loads(USED.read_text()))
    declared = policy_actions(json.loads(POLICY.read_text()))
    assert declared - used == set(), "in policies/runner-matrix.json but never needed"
    assert used - declared == set(), "needed but not in the policy (the run should have failed)"


def exercise(target: clients.Target, runner: scenarios.Scenario, journal: Journal) -> list[str]:
    """The runner's calls of one run, through the run's own code; the errors it met."""
    errors: list[str] = []
    secrets = RunSecrets(b"k" * 32)
    try:
        stack = Provisioner(target, "minimal", secrets, journal).provision(runner)
        flows = Flows(target, stack, secrets)
        flows.after_self_service("attribute", "ann", "custom:team", "x")  # escalation cells
        for cell in control.control_cells([runner]):  # admin reads and undos of the probes
            issued = obtain(flows, cell.credential)
            assert isinstance(issued, Issued), issued
            observed = control_probes.run(cell.probe, control.context(
                flows, stack, cell.credential, issued))
            if observed.verdict == "ERROR":
                errors.append(f"{cell.id}: {observed.code} {observed.message}")
        linked_providers(flows, flows.identity_id("attribute", "ann"))  # identity binding
        for event in REVOCATIONS:  # negative token cells
            flows.revoke(event, "ann")
    except (StopError, ClientError) as exc:
        errors.append(str(exc))
    return errors + teardown(target, journal)


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Emulator, Path]]:
    with pytest.MonkeyPatch.context() as patch:
        for key, value in RUNNER_ENV.items():
            patch.setenv(key, value)
        with Emulator(port=0, runner_policy=str(POLICY)) as running:
            yield running, tmp_path_factory.mktemp("runner")


def runner_scenario(folder: Path) -> scenarios.Scenario:
    (folder / "runner.yaml").write_text(RUNNER_SCENARIO)
    return scenarios.load_all(str(folder), ["runner"])[0]


def test_the_exercise_needs_every_action_and_is_clean_with_all(
        endpoint: tuple[Emulator, Path]) -> None:
    running, folder = endpoint
    running.state.runner_actions.clear()
    target = clients.aws(ACCOUNT_ID, "eu-west-1", running.endpoint, propagation_seconds=0)
    assert exercise(target, runner_scenario(folder), Journal(folder / "all.jsonl")) == []
    assert running.state.runner_actions == policy_actions(json.loads(POLICY.read_text()))


@pytest.mark.parametrize("missing", sorted(policy_actions(json.loads(POLICY.read_text()))))
def test_without_any_one_action_the_run_fails_naming_it(endpoint: tuple[Emulator, Path],
                                                        missing: str) -> None:
    running, folder = endpoint
    document = json.loads(POLICY.read_text())
    for statement in document["Statement"]:
        listed = statement["Action"]
        statement["Action"] = [a for a in ([listed] if isinstance(listed, str) else listed)
                               if a.lower() != missing] or ["sts:GetCallerIdentity"]
    target = clients.aws(ACCOUNT_ID, "eu-west-1", running.endpoint, propagation_seconds=0)
    journal = Journal(folder / f"{missing.replace(':', '-')}.jsonl")
    running.state.runner_policies = [document]
    try:
        errors = exercise(target, runner_scenario(folder), journal)
    finally:
        running.state.runner_policies = None  # the admin removes what the runner could not
        teardown(target, journal)
        running.state.runner_policies = [json.loads(POLICY.read_text())]
    assert errors, f"the run went through without {missing}"
    assert any(missing in error.lower() for error in errors), errors
