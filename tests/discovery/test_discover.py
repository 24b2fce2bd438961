"""Discovery reads a deployed stack into the suite's model, and creates nothing."""

from __future__ import annotations

import json

import pytest

from rolecall.account import clients
from rolecall.account.discovery import discover
from rolecall.emulator.cloudformation import engine
from rolecall.model.errors import ScenarioError
from tests.discovery.conftest import Running, TeamStack, variant_of


def test_identity_pool_id_gives_groups_roles_mapping_and_table(team: TeamStack) -> None:
    before = team.users()
    found = discover(team.target, identity_pool_id=team.pool_id)
    scenario, stack = found.scenario, found.stack
    admin, editor = team.role("rbac-users-admin-role"), team.role("rbac-users-editor-role")
    assert {g: (s.role, s.precedence) for g, s in scenario.groups.items()} == {
        "rbac-admins": (admin, 1), "rbac-editors": (editor, 2)}
    assert scenario.identity_pool.authenticated_role == editor
    (variant, spec), = scenario.variants.items()
    assert variant == variant_of(team)
    assert spec.mapping is not None and (spec.mapping.type, spec.mapping.ambiguous) == ("Token", "Deny")
    assert scenario.roles[admin].trust.model_dump() == {  # the plain form: exact operators
        "aud": "pool", "amr": "authenticated", "aud_form": "exact", "amr_form": "exact",
        "principal": "cognito", "action": "web-identity", "tag_session": False}
    assert scenario.roles[admin].allowed is None  # nobody stated it yet: not made up
    assert scenario.table is not None and scenario.table.name == team.stack.table_name
    assert scenario.table.partition_key.name == "id"
    assert stack.roles == {admin: team.stack.roles["rbac-users-admin-role"],
                           editor: team.stack.roles["rbac-users-editor-role"]}
    assert stack.variant_clients == {variant: team.stack.client_id}
    assert found.aliases.roles[team.stack.roles["rbac-users-admin-role"]] == admin
    assert team.users() == before  # discovery touches nothing


def test_policies_inline_and_attached_are_read(team: TeamStack) -> None:
    iam = team.target.client("iam")
    policy = iam.create_policy(PolicyName=f"rc-{team.stack.runid}-extra", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "dynamodb:Scan",
                                                 "Resource": team.stack.table_arn}]}))
    role = team.role("rbac-users-admin-role")
    iam.attach_role_policy(RoleName=role, PolicyArn=policy["Policy"]["Arn"])
    try:
        statements = discover(team.target, identity_pool_id=team.pool_id).scenario.roles[
            role].policy["Statement"]
    finally:
        iam.detach_role_policy(RoleName=role, PolicyArn=policy["Policy"]["Arn"])
    assert {"Effect": "Allow", "Action": "dynamodb:Scan", "Resource": team.stack.table_arn} in statements
    assert any(s.get("Action") == "dynamodb:*" for s in statements)  # the inline one


def test_identity_pool_of_another_region_is_refused(team: TeamStack) -> None:
    other = "us-east-2:" + team.pool_id.split(":", 1)[1]
    with pytest.raises(ScenarioError) as error:
        discover(team.target, identity_pool_id=other)
    assert error.value.where == "--identity-pool-id" and "--region us-east-2" in error.value.fix


def test_unknown_identity_pool_is_refused(team: TeamStack) -> None:
    with pytest.raises(ScenarioError) as error:
        discover(team.target, identity_pool_id="eu-west-1:00000000-0000-0000-0000-000000000000")
    assert "cannot read identity pool" in error.value.problem


def test_unknown_stack_name_is_refused(team: TeamStack) -> None:
    with pytest.raises(ScenarioError) as error:
        discover(team.target, stack="NoSuchStack")
    assert error.value.where == "--stack" and "NoSuchStack" in error.value.problem
    assert "list-stacks" in error.value.fix


def test_stack_without_identity_pool_says_so(emulator: Running) -> None:
    """--stack reads ListStackResources (moto's engine deploys roles and tables)."""
    target = clients.emulated(emulator.endpoint)
    template = {"Resources": {"Books": {"Type": "AWS::DynamoDB::Table", "Properties": {
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
        "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}]}}}}
    target.client("cloudformation").create_stack(StackName="NoPoolStack",
                                                 TemplateBody=json.dumps(template))
    with pytest.raises(ScenarioError) as error:
        discover(target, stack="NoPoolStack")
    assert "0 identity pools" in error.value.problem and "--identity-pool-id" in error.value.fix


def test_generated_role_names_keep_to_iam_limit() -> None:
    """CDK logical ids make moto's generated role names longer than IAM allows (64)."""
    long = engine._iam_sized(lambda kind, stack, logical: f"{stack}-{logical}-0PKG000OJ7D6")
    name = long("AWS::IAM::Role", "Seed004Stack", "myidentitypoolAuthenticatedRole219EBD45")
    assert len(name) == 64 and name.startswith("Seed004Stack-myidentitypool")
    assert name.endswith("-0PKG000OJ7D6")
    assert long("AWS::DynamoDB::Table", "S" * 60, "T" * 20).startswith("S" * 60)  # others untouched
