"""DynamoDB resource-based policies (SPEC R1, R2) through real boto3 clients and the AWS CLI.

The API (Put/Get/DeleteResourcePolicy, CreateTable's ResourcePolicy) with AWS's
validation and revision rules, then the policy taking part in every call on its table
and the table's indexes: a Deny there wins; an Allow grants by the principal it names
(session ARN alone, role ARN limited by a boundary, account delegating).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from rolecall.emulator import ACCOUNT_ID, Emulator
from rolecall.emulator.state import Session
from tests.emulator.stack import error_of, unique
from tests.emulator.test_aws_cli import AwsCli, aws_cli

from .conftest import ClientFactory
from .test_authorization import as_session
from .test_boundaries import bounded_role, managed_policy
from .test_dynamodb_auth import (
    IDENTITY,
    allow,
    client,
    key,
    make_role,
    make_table,
    session_for,
    table_arn,
)

GET, DELETE, QUERY = "dynamodb:GetItem", "dynamodb:DeleteItem", "dynamodb:Query"
INVALID = "One or more parameter values were invalid: Invalid policy document: "


def session_arn(role_arn: str) -> str:
    return (f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/{role_arn.rsplit('/', 1)[-1]}/"
            "CognitoIdentityCredentials")


def table_policy(table: str, effect: str, principal: Any, action: Any = "dynamodb:*",
                 resource: Any = None, **extra: Any) -> str:
    statement = {"Effect": effect, "Principal": principal, "Action": action,
                 "Resource": resource or table_arn(table), **extra}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def attach(admin: ClientFactory, table: str, text: str) -> str:
    return str(admin("dynamodb").put_resource_policy(ResourceArn=table_arn(table),
                                                     Policy=text)["RevisionId"])


# --------------------------------------------------------------------------- the API


def test_put_get_delete_with_revisions(admin: ClientFactory) -> None:
    dynamodb = admin("dynamodb")
    table = make_table(admin)
    arn = table_arn(table)
    text = table_policy(table, "Deny", "*", DELETE)
    revision = attach(admin, table, text)
    assert dynamodb.get_resource_policy(ResourceArn=arn) | {"ResponseMetadata": None} == {
        "Policy": text, "RevisionId": revision, "ResponseMetadata": None}
    assert attach(admin, table, text) == revision  # idempotent: the same revision
    deleted = dynamodb.delete_resource_policy(ResourceArn=arn)
    assert deleted["RevisionId"] == revision
    assert error_of(lambda: dynamodb.get_resource_policy(ResourceArn=arn))[0] == (
        "PolicyNotFoundException")
    assert "RevisionId" not in dynamodb.delete_resource_policy(ResourceArn=arn)  # idempotent


def test_unknown_tables_and_missing_policies(admin: ClientFactory) -> None:
    dynamodb = admin("dynamodb")
    table = make_table(admin)
    code, message = error_of(lambda: dynamodb.get_resource_policy(ResourceArn=table_arn(table)))
    assert (code, message) == ("PolicyNotFoundException", "Resource-based policy not found for "
                               f"the provided ResourceArn: {table_arn(table)}")
    missing = table_arn(unique("missing"))
    for call in (lambda: dynamodb.get_resource_policy(ResourceArn=missing),
                 lambda: dynamodb.delete_resource_policy(ResourceArn=missing),
                 lambda: dynamodb.put_resource_policy(ResourceArn=missing, Policy=table_policy(
                     "x", "Deny", "*"))):
        assert error_of(call)[0] == "ResourceNotFoundException"


def test_expected_revision_ids(admin: ClientFactory) -> None:
    dynamodb = admin("dynamodb")
    table = make_table(admin)
    arn, text = table_arn(table), table_policy(table, "Deny", "*", DELETE)
    assert error_of(lambda: dynamodb.put_resource_policy(ResourceArn=arn, Policy=text,
                                                         ExpectedRevisionId="123"))[0] == (
        "PolicyNotFoundException")  # a revision expected where there is no policy
    first = dynamodb.put_resource_policy(ResourceArn=arn, Policy=text,
                                         ExpectedRevisionId="NO_POLICY")["RevisionId"]
    other = table_policy(table, "Deny", "*", GET)
    for wrong in ("NO_POLICY", first + "0"):
        assert error_of(lambda w=wrong: dynamodb.put_resource_policy(
            ResourceArn=arn, Policy=other, ExpectedRevisionId=w))[0] == "PolicyNotFoundException"
    second = dynamodb.put_resource_policy(ResourceArn=arn, Policy=other,
                                          ExpectedRevisionId=first)["RevisionId"]
    assert second != first
    assert error_of(lambda: dynamodb.delete_resource_policy(
        ResourceArn=arn, ExpectedRevisionId=first))[0] == "PolicyNotFoundException"
    assert dynamodb.get_resource_policy(ResourceArn=arn)["Policy"] == other  # not deleted
    dynamodb.delete_resource_policy(ResourceArn=arn, ExpectedRevisionId=second)


def _statement(**fields: Any) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [fields]})


@pytest.mark.parametrize(("make", "detail"), [
    (lambda t: "{not json", "The policy is not valid JSON"),
    (lambda t: json.dumps({"Version": "2012-10-17"}), "The policy must be a JSON object with a "
                                                        "Statement"),
    (lambda t: _statement(Effect="Allow", Action="dynamodb:*", Resource=table_arn(t)),
     "Each statement needs a Principal or NotPrincipal"),
    (lambda t: _statement(Effect="Permit", Principal="*", Action="dynamodb:*",
                          Resource=table_arn(t)), "Each statement needs an Effect of Allow or Deny"),
    (lambda t: _statement(Effect="Allow", Principal={"Service": "lambda.amazonaws.com"},
                          Action="dynamodb:*", Resource=table_arn(t)),
     "Policy contains invalid service principal"),
    (lambda t: _statement(Effect="Allow", Principal="*", Action=["s3:GetObject",
                                                                 "dynamodb:GetRecords"],
                          Resource=table_arn(t)),
     'The following action names are invalid: "s3:GetObject", "dynamodb:GetRecords"'),
    (lambda t: _statement(Effect="Allow", Principal="*", Action="dynamodb:GetItem"),
     "Each statement needs a Resource or NotResource"),
    (lambda t: _statement(Effect="Allow", Principal="*", Action="dynamodb:GetItem",
                          Resource=table_arn("other-table")),
     "The policy's resources must be "),
], ids=["not-json", "no-statement", "no-principal", "bad-effect", "service-principal",
        "actions", "no-resource", "other-table"])
def test_invalid_policies_are_refused(admin: ClientFactory, make: Callable[[str], str],
                                      detail: str) -> None:
    dynamodb = admin("dynamodb")
    table = make_table(admin)
    code, message = error_of(lambda: dynamodb.put_resource_policy(ResourceArn=table_arn(table),
                                                                  Policy=make(table)))
    assert code == "ValidationException"
    assert message.startswith(INVALID + detail), message
    assert error_of(lambda: dynamodb.get_resource_policy(ResourceArn=table_arn(table)))[0] == (
        "PolicyNotFoundException")  # nothing stored


def test_indexes_streams_and_the_size_limit(admin: ClientFactory) -> None:
    dynamodb = admin("dynamodb")
    table = make_table(admin)
    index_arn = f"{table_arn(table)}/index/ByOwner"
    ok = _statement(Effect="Deny", Principal="*", Action="dynamodb:Query",
                    Resource=[table_arn(table), index_arn, f"{table_arn(table)}/stream/*"])
    attach(admin, table, ok)  # a table's policy may name its indexes and streams
    code, _ = error_of(lambda: dynamodb.put_resource_policy(ResourceArn=index_arn, Policy=ok))
    assert code == "ValidationException"  # policies attach to tables and streams, not indexes
    big = _statement(Effect="Deny", Principal="*", Action="dynamodb:Query",
                     Resource=table_arn(table), Sid="x" * (20 * 1024))
    code, message = error_of(lambda: dynamodb.put_resource_policy(
        ResourceArn=table_arn(table), Policy=big))
    assert code == "ValidationException" and "20 KB" in message


def test_create_table_attaches_its_policy_and_delete_table_drops_it(admin: ClientFactory) -> None:
    dynamodb = admin("dynamodb")
    name = unique("withpolicy")

    def create(text: str) -> Any:
        return dynamodb.create_table(
            TableName=name, BillingMode="PAY_PER_REQUEST", ResourcePolicy=text,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}])

    assert error_of(lambda: create(table_policy(name, "Deny", {"Service": "x.amazonaws.com"})))[
        0] == "ValidationException"
    assert name not in dynamodb.list_tables()["TableNames"]  # refused before creating
    text = table_policy(name, "Deny", "*", DELETE)
    create(text)
    assert dynamodb.get_resource_policy(ResourceArn=table_arn(name))["Policy"] == text
    dynamodb.delete_table(TableName=name)
    # the same name again, without a policy: none is inherited
    dynamodb.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                          KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                          AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}])
    assert error_of(lambda: dynamodb.get_resource_policy(ResourceArn=table_arn(name)))[0] == (
        "PolicyNotFoundException")
    dynamodb.delete_table(TableName=name)


# --------------------------------------------------------------------------- evaluation (R1, R2)


def refusal(role: str, action: str, resource: str, because: str) -> tuple[str, str]:
    return ("AccessDeniedException", f"User: {session_arn(role)} is not authorized to perform: "
            f"{action} on resource: {resource} {because}")


def test_a_table_deny_overrides_the_roles_allow(emulator: Emulator, admin: ClientFactory) -> None:
    table = make_table(admin, seed={"pk": IDENTITY, "sk": "s"})
    role = make_role(admin, allow("dynamodb:*"))
    attach(admin, table, table_policy(table, "Deny", {"AWS": session_arn(role)}, DELETE))
    dynamodb = client(emulator, session_for(emulator, role))
    assert dynamodb.get_item(TableName=table, Key=key(IDENTITY, "s"))["Item"]
    assert error_of(lambda: dynamodb.delete_item(TableName=table, Key=key(IDENTITY))) == refusal(
        role, DELETE, table_arn(table), "with an explicit deny in a resource-based policy")


def test_the_table_deny_reaches_every_request_shape(emulator: Emulator,
                                                    admin: ClientFactory) -> None:
    table = make_table(admin, seed={"pk": IDENTITY, "sk": "s"})
    role = make_role(admin, allow("dynamodb:*"))
    attach(admin, table, table_policy(table, "Deny", "*", "dynamodb:*",
                                      [table_arn(table), f"{table_arn(table)}/index/*"]))
    dynamodb = client(emulator, session_for(emulator, role))
    calls: list[Callable[[], Any]] = [
        lambda: dynamodb.batch_get_item(RequestItems={table: {"Keys": [key(IDENTITY)]}}),
        lambda: dynamodb.batch_write_item(RequestItems={table: [
            {"DeleteRequest": {"Key": key(IDENTITY)}}]}),
        lambda: dynamodb.transact_write_items(TransactItems=[
            {"Put": {"TableName": table, "Item": key(IDENTITY, "t")}}]),
        lambda: dynamodb.transact_get_items(TransactItems=[
            {"Get": {"TableName": table, "Key": key(IDENTITY)}}]),
        lambda: dynamodb.execute_statement(Statement=f'SELECT * FROM "{table}"'),
        lambda: dynamodb.query(TableName=table, IndexName="ByOwner",
                               KeyConditionExpression="#o = :o",
                               ExpressionAttributeNames={"#o": "owner"},
                               ExpressionAttributeValues={":o": {"S": IDENTITY}}),
        lambda: dynamodb.describe_table(TableName=table),
        lambda: dynamodb.delete_table(TableName=table),
    ]
    for call in calls:
        code, message = error_of(call)
        assert code == "AccessDeniedException"
        assert message.endswith("with an explicit deny in a resource-based policy"), message
    assert table in admin("dynamodb").list_tables()["TableNames"]


def test_a_table_statement_on_an_index_decides_calls_on_the_index(emulator: Emulator,
                                                                  admin: ClientFactory) -> None:
    table = make_table(admin, seed={"pk": IDENTITY, "sk": "s", "owner": IDENTITY})
    role = make_role(admin, allow(QUERY))
    index_arn = f"{table_arn(table)}/index/ByOwner"
    attach(admin, table, table_policy(table, "Deny", "*", QUERY, index_arn))
    dynamodb = client(emulator, session_for(emulator, role))
    dynamodb.query(TableName=table, KeyConditionExpression="pk = :p",
                   ExpressionAttributeValues={":p": {"S": IDENTITY}})  # the table: ALLOWED

    def on_index(db: Any) -> Any:
        return db.query(TableName=table, IndexName="ByOwner", KeyConditionExpression="#o = :o",
                        ExpressionAttributeNames={"#o": "owner"},
                        ExpressionAttributeValues={":o": {"S": IDENTITY}})

    assert error_of(lambda: on_index(dynamodb)) == refusal(
        role, QUERY, index_arn, "with an explicit deny in a resource-based policy")


@pytest.mark.parametrize(("principal", "boundary_allows", "allowed", "because"), [
    ("session", False, True, None),
    ("role", True, True, None),
    ("role", False, False, "because no permissions boundary allows the dynamodb:DeleteItem action"),
    ("account", True, False, "because no identity-based policy allows the dynamodb:DeleteItem "
                             "action"),
    ("star", False, True, None),
], ids=["R2-session-arn-alone", "R2-role-arn-within-boundary", "R2-role-arn-limited-by-boundary",
        "R2-account-delegates", "R2-star-alone"])
def test_a_table_allow_grants_by_the_principal_it_names(
        emulator: Emulator, admin: ClientFactory, principal: str, boundary_allows: bool,
        allowed: bool, because: str | None) -> None:
    table = make_table(admin, seed={"pk": IDENTITY, "sk": "s"})
    boundary = managed_policy(admin, allow(DELETE if boundary_allows else GET))
    role = bounded_role(admin, boundary, allow(GET))  # no identity Allow for DeleteItem
    named = {"session": {"AWS": session_arn(role)}, "role": {"AWS": role},
             "account": {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:root"}, "star": "*"}[principal]
    attach(admin, table, table_policy(table, "Allow", named, DELETE))
    dynamodb = client(emulator, session_for(emulator, role))
    if allowed:
        dynamodb.delete_item(TableName=table, Key=key(IDENTITY, "s"))
    else:
        assert error_of(lambda: dynamodb.delete_item(TableName=table, Key=key(IDENTITY))) == (
            refusal(role, DELETE, table_arn(table), str(because)))


def test_resource_policy_conditions_read_the_request_context(emulator: Emulator,
                                                             admin: ClientFactory) -> None:
    table = make_table(admin, seed={"pk": IDENTITY, "sk": "s"})
    role = make_role(admin, allow("dynamodb:DescribeTable"))
    attach(admin, table, table_policy(
        table, "Allow", "*", GET, Condition={
            "ArnEquals": {"aws:PrincipalArn": role},
            "ForAllValues:StringEquals": {"dynamodb:LeadingKeys": [IDENTITY]}}))
    dynamodb = client(emulator, session_for(emulator, role))
    assert dynamodb.get_item(TableName=table, Key=key(IDENTITY, "s"))["Item"]
    other = "eu-west-1:99999999-0000-0000-0000-000000000000"
    assert error_of(lambda: dynamodb.get_item(TableName=table, Key=key(other)))[1].endswith(
        f"because no identity-based policy allows the {GET} action")


def test_creating_a_table_with_a_policy_needs_put_resource_policy(emulator: Emulator,
                                                                  admin: ClientFactory) -> None:
    role = make_role(admin, allow("dynamodb:CreateTable"))
    dynamodb = client(emulator, session_for(emulator, role))
    name = unique("rbpcreate")
    code, message = error_of(lambda: dynamodb.create_table(
        TableName=name, BillingMode="PAY_PER_REQUEST",
        ResourcePolicy=table_policy(name, "Deny", "*", DELETE),
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}]))
    assert code == "AccessDeniedException"
    assert "dynamodb:PutResourcePolicy on resource: " + table_arn(name) in message


def test_sessions_need_permission_for_the_policy_api(emulator: Emulator,
                                                     admin: ClientFactory) -> None:
    table = make_table(admin)
    role = make_role(admin, allow(GET))
    session: Session = session_for(emulator, role)
    dynamodb = as_session(emulator, session, "dynamodb")
    code, message = error_of(lambda: dynamodb.put_resource_policy(
        ResourceArn=table_arn(table), Policy=table_policy(table, "Allow", "*")))
    assert code == "AccessDeniedException"
    assert message.endswith(f"dynamodb:PutResourcePolicy on resource: {table_arn(table)} because "
                            "no identity-based policy allows the dynamodb:PutResourcePolicy action")


# --------------------------------------------------------------------------- faults


@pytest.mark.parametrize("fault", ["resource-deny-ignored", "resource-policy-index-own"])
def test_deny_faults_answer_differently(emulator: Emulator, admin: ClientFactory,
                                        faulty_emulator: Callable[..., Emulator],
                                        fault: str) -> None:
    table = make_table(admin, seed={"pk": IDENTITY, "sk": "s", "owner": IDENTITY})
    role = make_role(admin, allow(QUERY))
    attach(admin, table, table_policy(table, "Deny", "*", QUERY, f"{table_arn(table)}/index/*"))

    def on_index(db: Any) -> Any:
        return db.query(TableName=table, IndexName="ByOwner", KeyConditionExpression="#o = :o",
                        ExpressionAttributeNames={"#o": "owner"},
                        ExpressionAttributeValues={":o": {"S": IDENTITY}})

    assert error_of(lambda: on_index(client(emulator, session_for(emulator, role))))[0] == (
        "AccessDeniedException")
    faulty = faulty_emulator(fault)
    on_index(client(faulty, session_for(faulty, role)))  # ALLOWED by the fault


@pytest.mark.parametrize(("fault", "principal", "faithful_allows"), [
    ("resource-role-arn-as-session", "role", False),
    ("resource-allow-needs-identity", "session", True),
])
def test_grant_faults_answer_differently(emulator: Emulator, admin: ClientFactory,
                                         faulty_emulator: Callable[..., Emulator], fault: str,
                                         principal: str, faithful_allows: bool) -> None:
    table = make_table(admin, seed={"pk": IDENTITY, "sk": "s"})
    role = bounded_role(admin, managed_policy(admin, allow(GET)), allow(GET))
    attach(admin, table, table_policy(
        table, "Allow", {"AWS": role if principal == "role" else session_arn(role)}, DELETE))
    faulty = faulty_emulator(fault)
    results = []
    for target in (emulator, faulty):
        dynamodb = client(target, session_for(target, role))
        try:
            dynamodb.delete_item(TableName=table, Key=key(IDENTITY, "s"))
            results.append(True)
        except Exception as error:
            assert "AccessDeniedException" in str(error)
            results.append(False)
    assert results == [faithful_allows, not faithful_allows]


# --------------------------------------------------------------------------- the AWS CLI


def test_table_policies_with_the_aws_cli(emulator: Emulator, admin: ClientFactory,
                                         tmp_path: Path) -> None:
    cli = AwsCli(aws_cli(), emulator.endpoint, tmp_path, [])
    table = make_table(admin)
    text = table_policy(table, "Deny", "*", DELETE)
    put = cli.ok("dynamodb", "put-resource-policy", "--resource-arn", table_arn(table),
                 "--policy", text)
    got = cli.ok("dynamodb", "get-resource-policy", "--resource-arn", table_arn(table))
    assert got == {"Policy": text, "RevisionId": put["RevisionId"]}
    deleted = cli.ok("dynamodb", "delete-resource-policy", "--resource-arn", table_arn(table))
    assert deleted["RevisionId"] == put["RevisionId"]
    missing = cli.run("dynamodb", "get-resource-policy", "--resource-arn", table_arn(table))
    assert missing.returncode != 0 and "PolicyNotFoundException" in missing.stderr
