"""Permissions boundaries (SPEC B1, B2) through real boto3 clients and the real AWS CLI.

A boundary is set by CreateRole, PutRolePermissionsBoundary (and removed by
DeleteRolePermissionsBoundary), shown by GetRole, and caps what the role's sessions
may do: the identity policies AND the boundary's DEFAULT version must allow; an
explicit Deny in the boundary wins; refusals name the boundary.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from rolecall.emulator import ACCOUNT_ID, Emulator
from tests.emulator.stack import error_of, unique
from tests.emulator.test_aws_cli import AwsCli, aws_cli

from .conftest import ClientFactory
from .test_authorization import as_session
from .test_dynamodb_auth import (
    IDENTITY,
    TRUST,
    allow,
    client,
    deny,
    key,
    make_table,
    policy,
    session_for,
    table_arn,
)

GET, DELETE = "dynamodb:GetItem", "dynamodb:DeleteItem"


def managed_policy(admin: ClientFactory, *statements: dict[str, Any]) -> str:
    """A customer-managed policy (v1, the default) made of `statements`; its ARN."""
    return str(admin("iam").create_policy(PolicyName=unique("boundary"), PolicyDocument=json.dumps(
        policy(*statements)))["Policy"]["Arn"])


def bounded_role(admin: ClientFactory, boundary: str | None, *statements: dict[str, Any]) -> str:
    """A role with `statements` inline and `boundary` as its permissions boundary; its ARN."""
    iam = admin("iam")
    kwargs: dict[str, Any] = {"RoleName": unique("bounded"),
                              "AssumeRolePolicyDocument": json.dumps(TRUST)}
    if boundary is not None:
        kwargs["PermissionsBoundary"] = boundary
    arn = str(iam.create_role(**kwargs)["Role"]["Arn"])
    if statements:
        iam.put_role_policy(RoleName=arn.rsplit("/", 1)[-1], PolicyName="inline",
                            PolicyDocument=json.dumps(policy(*statements)))
    return arn


def refused(role_arn: str, action: str, resource: str, because: str) -> tuple[str, str]:
    session = (f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/{role_arn.rsplit('/', 1)[-1]}/"
               "CognitoIdentityCredentials")
    return ("AccessDeniedException",
            f"User: {session} is not authorized to perform: {action} on resource: {resource} "
            f"{because}")


def delete_call(table: str) -> Callable[[Any], Any]:
    return lambda dynamodb: dynamodb.delete_item(TableName=table, Key=key(IDENTITY))


# --------------------------------------------------------------------------- the API


def test_create_get_put_delete_role_permissions_boundary(admin: ClientFactory) -> None:
    iam = admin("iam")
    first, second = managed_policy(admin, allow(GET)), managed_policy(admin, allow(DELETE))
    name = bounded_role(admin, first).rsplit("/", 1)[-1]
    shown = iam.get_role(RoleName=name)["Role"]["PermissionsBoundary"]
    assert shown == {"PermissionsBoundaryType": "PermissionsBoundaryPolicy",
                     "PermissionsBoundaryArn": first}
    iam.put_role_permissions_boundary(RoleName=name, PermissionsBoundary=second)
    assert iam.get_role(RoleName=name)["Role"]["PermissionsBoundary"][
        "PermissionsBoundaryArn"] == second
    iam.delete_role_permissions_boundary(RoleName=name)
    assert "PermissionsBoundary" not in iam.get_role(RoleName=name)["Role"]


@pytest.mark.parametrize(("boundary", "code", "message"), [
    (f"arn:aws:iam::{ACCOUNT_ID}:policy/no-such-boundary", "NoSuchEntity",
     f"Policy arn:aws:iam::{ACCOUNT_ID}:policy/no-such-boundary does not exist or is not "
     "attachable."),
    ("arn:aws:iam::aws:policy/NoSuchAwsManagedPolicy", "NoSuchEntity",
     "Policy arn:aws:iam::aws:policy/NoSuchAwsManagedPolicy does not exist or is not attachable."),
    (f"arn:aws:s3:::{ACCOUNT_ID}-not-a-policy", "InvalidInput",
     f"ARN arn:aws:s3:::{ACCOUNT_ID}-not-a-policy is not valid."),
])
def test_a_boundary_must_be_an_existing_managed_policy(admin: ClientFactory, boundary: str,
                                                       code: str, message: str) -> None:
    iam = admin("iam")
    name = unique("nobound")
    assert error_of(lambda: iam.create_role(RoleName=name, PermissionsBoundary=boundary,
                                            AssumeRolePolicyDocument=json.dumps(TRUST))) == (
        code, message)
    assert not [r for r in iam.list_roles()["Roles"] if r["RoleName"] == name]  # not created
    existing = bounded_role(admin, None).rsplit("/", 1)[-1]
    assert error_of(lambda: iam.put_role_permissions_boundary(
        RoleName=existing, PermissionsBoundary=boundary)) == (code, message)
    assert "PermissionsBoundary" not in iam.get_role(RoleName=existing)["Role"]


def test_an_aws_managed_policy_can_be_a_boundary(emulator: Emulator, admin: ClientFactory) -> None:
    table = make_table(admin, seed={"pk": IDENTITY, "sk": "s"})
    role = bounded_role(admin, "arn:aws:iam::aws:policy/AmazonDynamoDBReadOnlyAccess",
                        allow("dynamodb:*"))
    dynamodb = client(emulator, session_for(emulator, role))
    assert dynamodb.get_item(TableName=table, Key=key(IDENTITY, "s"))["Item"]
    assert error_of(lambda: delete_call(table)(dynamodb)) == refused(
        role, DELETE, table_arn(table), f"because no permissions boundary allows the {DELETE} action")


# --------------------------------------------------------------------------- evaluation (B1, B2)


def test_the_boundary_takes_away_what_the_identity_policy_grants(emulator: Emulator,
                                                                 admin: ClientFactory) -> None:
    table = make_table(admin, seed={"pk": IDENTITY, "sk": "s"})
    role = bounded_role(admin, managed_policy(admin, allow(GET)), allow([GET, DELETE]))
    dynamodb = client(emulator, session_for(emulator, role))
    assert dynamodb.get_item(TableName=table, Key=key(IDENTITY, "s"))["Item"]
    assert error_of(lambda: delete_call(table)(dynamodb)) == refused(
        role, DELETE, table_arn(table), f"because no permissions boundary allows the {DELETE} action")


def test_the_boundary_grants_nothing_on_its_own(emulator: Emulator, admin: ClientFactory) -> None:
    table = make_table(admin)
    role = bounded_role(admin, managed_policy(admin, allow("dynamodb:*")), allow(GET))
    dynamodb = client(emulator, session_for(emulator, role))
    assert error_of(lambda: delete_call(table)(dynamodb)) == refused(
        role, DELETE, table_arn(table), f"because no identity-based policy allows the {DELETE} action")


def test_an_explicit_deny_in_the_boundary_wins(emulator: Emulator, admin: ClientFactory) -> None:
    table = make_table(admin)
    role = bounded_role(admin, managed_policy(admin, allow("dynamodb:*"), deny(DELETE)),
                        allow("dynamodb:*"))
    dynamodb = client(emulator, session_for(emulator, role))
    assert error_of(lambda: delete_call(table)(dynamodb)) == refused(
        role, DELETE, table_arn(table), "with an explicit deny in a permissions boundary")


def test_only_the_default_version_of_the_boundary_counts(emulator: Emulator, admin: ClientFactory,
                                                         faulty_emulator: Callable[..., Emulator]
                                                         ) -> None:
    iam = admin("iam")
    table = make_table(admin, seed={"pk": IDENTITY, "sk": "s"})
    boundary = managed_policy(admin, allow(GET))
    role = bounded_role(admin, boundary, allow([GET, DELETE]))
    iam.create_policy_version(PolicyArn=boundary, PolicyDocument=json.dumps(
        policy(allow([GET, DELETE]))), SetAsDefault=False)
    faithful = client(emulator, session_for(emulator, role))
    assert error_of(lambda: delete_call(table)(faithful))[1].endswith(
        f"because no permissions boundary allows the {DELETE} action")
    faulty = faulty_emulator("boundary-non-default-version")
    delete_call(table)(client(faulty, session_for(faulty, role)))  # the fault reads v2: ALLOWED
    iam.set_default_policy_version(PolicyArn=boundary, VersionId="v2")
    delete_call(table)(faithful)  # v2 is the default now: ALLOWED


def test_boundary_as_union_fault_answers_differently(emulator: Emulator, admin: ClientFactory,
                                                     faulty_emulator: Callable[..., Emulator]
                                                     ) -> None:
    table = make_table(admin, seed={"pk": IDENTITY, "sk": "s"})
    role = bounded_role(admin, managed_policy(admin, allow(DELETE)), allow(GET))
    assert error_of(lambda: delete_call(table)(client(emulator, session_for(emulator, role))))[
        0] == "AccessDeniedException"
    faulty = faulty_emulator("boundary-as-union")
    delete_call(table)(client(faulty, session_for(faulty, role)))  # ALLOWED by the fault


def test_boundary_text_fault_names_the_identity_policies(admin: ClientFactory,
                                                        faulty_emulator: Callable[..., Emulator]
                                                        ) -> None:
    table = make_table(admin)
    role = bounded_role(admin, managed_policy(admin, allow(GET)), allow([GET, DELETE]))
    faulty = faulty_emulator("text-denial-boundary-as-identity")
    assert error_of(lambda: delete_call(table)(client(faulty, session_for(faulty, role)))) == \
        refused(role, DELETE, table_arn(table),
                f"because no identity-based policy allows the {DELETE} action")


def test_a_session_may_not_lift_its_own_boundary_without_permission(
        emulator: Emulator, admin: ClientFactory) -> None:
    role = bounded_role(admin, managed_policy(admin, allow("iam:*")), allow("iam:GetRole"))
    name = role.rsplit("/", 1)[-1]
    iam = as_session(emulator, session_for(emulator, role), "iam")
    code, message = error_of(lambda: iam.delete_role_permissions_boundary(RoleName=name))
    assert code == "AccessDenied"
    assert message.endswith(f"iam:DeleteRolePermissionsBoundary on resource: role {name} "
                            "because no identity-based policy allows the "
                            "iam:DeleteRolePermissionsBoundary action")
    lifter = bounded_role(admin, managed_policy(admin, allow("iam:*")), allow("iam:*"))
    as_session(emulator, session_for(emulator, lifter), "iam").delete_role_permissions_boundary(
        RoleName=lifter.rsplit("/", 1)[-1])
    assert "PermissionsBoundary" not in admin("iam").get_role(
        RoleName=lifter.rsplit("/", 1)[-1])["Role"]


# --------------------------------------------------------------------------- the AWS CLI


def test_boundaries_with_the_aws_cli(emulator: Emulator, admin: ClientFactory,
                                     tmp_path: Any) -> None:
    cli = AwsCli(aws_cli(), emulator.endpoint, tmp_path, [])
    boundary = managed_policy(admin, allow(GET))
    name = unique("clibound")
    created = cli.ok("iam", "create-role", "--role-name", name, "--assume-role-policy-document",
                     json.dumps(TRUST), "--permissions-boundary", boundary)
    assert created["Role"]["PermissionsBoundary"]["PermissionsBoundaryArn"] == boundary
    other = managed_policy(admin, allow(DELETE))
    put = cli.run("iam", "put-role-permissions-boundary", "--role-name", name,
                  "--permissions-boundary", other)  # no output on success
    assert put.returncode == 0, put.stderr
    shown = cli.ok("iam", "get-role", "--role-name", name)["Role"]["PermissionsBoundary"]
    assert shown["PermissionsBoundaryArn"] == other
    done = cli.run("iam", "delete-role-permissions-boundary", "--role-name", name)
    assert done.returncode == 0, done.stderr
    assert "PermissionsBoundary" not in cli.ok("iam", "get-role", "--role-name", name)["Role"]
    missing = cli.run("iam", "put-role-permissions-boundary", "--role-name", name,
                      "--permissions-boundary", f"arn:aws:iam::{ACCOUNT_ID}:policy/none-{name}")
    assert missing.returncode != 0 and "NoSuchEntity" in missing.stderr


def test_create_role_can_be_conditioned_on_the_boundary_it_sets(emulator: Emulator,
                                                               admin: ClientFactory) -> None:
    """The delegation pattern: iam:CreateRole only with the company boundary
    (iam:PermissionsBoundary in the request context)."""
    boundary = managed_policy(admin, allow(GET))
    delegate = bounded_role(admin, None, allow(["iam:CreateRole", "iam:PutRolePolicy"],
                                               Condition={"StringEquals": {
                                                   "iam:PermissionsBoundary": boundary}}))
    iam = as_session(emulator, session_for(emulator, delegate), "iam")
    unbounded = unique("nobound")
    code, message = error_of(lambda: iam.create_role(
        RoleName=unbounded, AssumeRolePolicyDocument=json.dumps(TRUST)))
    assert code == "AccessDenied" and "iam:CreateRole" in message
    bounded = unique("bound")
    iam.create_role(RoleName=bounded, AssumeRolePolicyDocument=json.dumps(TRUST),
                    PermissionsBoundary=boundary)
    iam.put_role_policy(RoleName=bounded, PolicyName="p", PolicyDocument=json.dumps(
        policy(allow(GET))))  # the role carries the boundary: allowed
    other = bounded_role(admin, None).rsplit("/", 1)[-1]
    assert error_of(lambda: iam.put_role_policy(RoleName=other, PolicyName="p",
                                                PolicyDocument=json.dumps(policy(allow(GET)))))[
        0] == "AccessDenied"
