"""Issue 12 as the new user tried it: the real AWS CLI against the emulator.

Credentials issued for a role that allows only dynamodb:GetItem and dynamodb:Query
try each escalation the issue lists; every one is refused with the service's
own error code and AWS's text, and the stack is unchanged. An unsigned
`--no-sign-request` caller cannot create or rewire identity pools. A role whose
policy allows an action gets it (PartiQL included, per statement).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rolecall.emulator import ACCOUNT_ID, Emulator
from rolecall.emulator.state import Session

from .conftest import ClientFactory
from .test_authorization import Stack, refusal
from .test_aws_cli import AwsCli, SessionKeys, aws_cli
from .test_dynamodb_auth import IDENTITY, allow, make_role, make_table, session_for, table_arn

WIDE_OPEN = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "*", "Resource": "*"}]})


@pytest.fixture(scope="module")
def stack(emulator: Emulator, admin: ClientFactory) -> Stack:
    return Stack(emulator, admin)


@pytest.fixture
def cli(emulator: Emulator, tmp_path: Path) -> AwsCli:
    return AwsCli(aws_cli(), emulator.endpoint, tmp_path, [])


def keys_of(cli: AwsCli, session: Session) -> SessionKeys:
    keys = SessionKeys({"AWS_ACCESS_KEY_ID": session.access_key_id,
                        "AWS_SECRET_ACCESS_KEY": session.secret_access_key,
                        "AWS_SESSION_TOKEN": session.session_token})
    cli.remember(*keys.values())
    return keys


def refused(cli: AwsCli, keys: dict[str, str] | None, code: str, message: str,
            *args: str) -> None:
    """The command fails with `An error occurred (<code>) ...: <message>`."""
    __tracebackhide__ = True
    result = cli.run(*args, keys=keys)
    assert result.returncode != 0, f"`aws {' '.join(args[:2])}` must be refused"
    assert f"An error occurred ({code})" in result.stderr, result.stderr[-600:]
    assert message in result.stderr, result.stderr[-600:]


def test_every_escalation_of_the_issue_is_refused(cli: AwsCli, stack: Stack,
                                                  admin: ClientFactory) -> None:
    keys = keys_of(cli, stack.session)
    refused(cli, keys, "AccessDenied",
            refusal(stack.session, "iam:PutRolePolicy", f"role {stack.role_name}"),
            "iam", "put-role-policy", "--role-name", stack.role_name, "--policy-name", "up",
            "--policy-document", WIDE_OPEN)
    refused(cli, keys, "AccessDeniedException",
            refusal(stack.session, "dynamodb:PutItem", table_arn(stack.table)),
            "dynamodb", "put-item", "--table-name", stack.table,
            "--item", json.dumps({"pk": {"S": "w"}, "sk": {"S": "w"}}))
    refused(cli, keys, "AccessDenied",
            refusal(stack.session, "iam:CreateRole", f"arn:aws:iam::{ACCOUNT_ID}:role/rc-admin"),
            "iam", "create-role", "--role-name", "rc-admin",
            "--assume-role-policy-document", WIDE_OPEN)
    refused(cli, keys, "AccessDeniedException",
            refusal(stack.session, "cognito-idp:AdminAddUserToGroup", stack.user_pool_arn),
            "cognito-idp", "admin-add-user-to-group", "--user-pool-id", stack.up.pool_id,
            "--username", stack.user, "--group-name", stack.group)
    refused(cli, keys, "AccessDeniedException",
            refusal(stack.session, "cognito-identity:UpdateIdentityPool", stack.pool_arn),
            "cognito-identity", "update-identity-pool", "--identity-pool-id", stack.pool,
            "--identity-pool-name", "rewired", "--allow-unauthenticated-identities")
    refused(cli, keys, "AccessDeniedException",
            refusal(stack.session, "dynamodb:DeleteTable", table_arn(stack.table)),
            "dynamodb", "delete-table", "--table-name", stack.table)

    assert admin("iam").list_role_policies(RoleName=stack.role_name)["PolicyNames"] == ["inline"]
    assert admin("dynamodb").describe_table(TableName=stack.table)["Table"]["TableName"]
    groups = admin("cognito-idp").admin_list_groups_for_user(UserPoolId=stack.up.pool_id,
                                                            Username=stack.user)["Groups"]
    assert groups == []


def test_unsigned_callers_cannot_create_or_rewire_pools(cli: AwsCli, stack: Stack) -> None:
    no_keys: dict[str, str] = {}
    refused(cli, no_keys, "MissingAuthenticationTokenException",
            "Request is missing Authentication Token",
            "cognito-identity", "create-identity-pool", "--identity-pool-name", "rogue",
            "--allow-unauthenticated-identities", "--no-sign-request")
    refused(cli, no_keys, "MissingAuthenticationTokenException",
            "Request is missing Authentication Token",
            "cognito-identity", "set-identity-pool-roles", "--identity-pool-id", stack.pool,
            "--roles", f"authenticated={stack.role}", "--no-sign-request")


def test_a_role_that_allows_it_gets_it(cli: AwsCli, emulator: Emulator,
                                       admin: ClientFactory) -> None:
    table = make_table(admin, seed={"pk": IDENTITY, "sk": "s"})
    role = make_role(admin, allow(["dynamodb:PartiQLSelect", "dynamodb:DeleteTable"],
                                  table_arn(table)))
    session = session_for(emulator, role)
    keys = keys_of(cli, session)
    selected = cli.ok("dynamodb", "execute-statement", "--statement",
                      f"SELECT * FROM \"{table}\" WHERE pk = '{IDENTITY}'", keys=keys)
    assert [item["pk"] for item in selected["Items"]] == [{"S": IDENTITY}]
    refused(cli, keys, "AccessDeniedException",
            refusal(session, "dynamodb:PartiQLInsert", table_arn(table)),
            "dynamodb", "execute-statement", "--statement",
            f"INSERT INTO \"{table}\" VALUE {{'pk': 'n', 'sk': 's'}}")
    cli.ok("dynamodb", "delete-table", "--table-name", table, keys=keys)
    assert table not in admin("dynamodb").list_tables()["TableNames"]
