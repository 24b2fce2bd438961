"""DynamoDB calls with emulator-issued credentials, end to end over HTTP (SPEC D1-D5, E13).

Each test provisions its own role and table through the admin client (moto's
state is process-global, so names are unique), mints a session straight from
the emulator's state and calls DynamoDB with boto3, asserting ALLOWED or the
exact AccessDeniedException text.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.config import Config

from rolecall.emulator import ACCOUNT_ID, Clock, Emulator
from rolecall.emulator.dynamodb import batches
from rolecall.emulator.state import Session
from tests.emulator.stack import error_of, unique

from .conftest import REGION, ClientFactory

SUB = "cognito-identity.amazonaws.com:sub"
IDENTITY = "eu-west-1:0f0f0f0f-1111-2222-3333-444444444444"
OTHER_IDENTITY = "eu-west-1:99999999-1111-2222-3333-444444444444"
TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Federated": "cognito-identity.amazonaws.com"},
                   "Action": "sts:AssumeRoleWithWebIdentity"}],
}
NO_RETRIES = Config(retries={"total_max_attempts": 1, "mode": "standard"})


def table_arn(table: str) -> str:
    return f"arn:aws:dynamodb:{REGION}:{ACCOUNT_ID}:table/{table}"


def policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(action: Any, resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action: Any, resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


def make_role(admin: ClientFactory, *statements: dict[str, Any]) -> str:
    """A role with one inline policy made of `statements`; returns its ARN."""
    iam = admin("iam")
    name = unique("role")
    arn: str = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST))["Role"][
        "Arn"]
    iam.put_role_policy(RoleName=name, PolicyName="inline", PolicyDocument=json.dumps(
        policy(*statements)))
    return arn


def make_table(admin: ClientFactory, *, seed: dict[str, str] | None = None) -> str:
    """Table keyed (pk, sk) with a GSI `ByOwner` on `owner`; optionally one seeded item."""
    name = unique("tbl")
    dynamodb = admin("dynamodb")
    dynamodb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                   {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                              {"AttributeName": "sk", "AttributeType": "S"},
                              {"AttributeName": "owner", "AttributeType": "S"}],
        GlobalSecondaryIndexes=[{"IndexName": "ByOwner",
                                 "KeySchema": [{"AttributeName": "owner", "KeyType": "HASH"}],
                                 "Projection": {"ProjectionType": "ALL"}}],
        BillingMode="PAY_PER_REQUEST",
    )
    if seed is not None:
        dynamodb.put_item(TableName=name, Item={k: {"S": v} for k, v in seed.items()})
    return name


def client(emulator: Emulator, session: Session, **overrides: str) -> Any:
    keys = {"aws_access_key_id": session.access_key_id,
            "aws_secret_access_key": session.secret_access_key,
            "aws_session_token": session.session_token, **overrides}
    return boto3.client("dynamodb", endpoint_url=emulator.endpoint, region_name=REGION,
                        config=NO_RETRIES, **keys)


def session_for(emulator: Emulator, role_arn: str, *,
                session_policies: list[dict[str, Any]] | None = None,
                identity: str = IDENTITY) -> Session:
    return emulator.state.issue_session(role_arn, "CognitoIdentityCredentials",
                                        session_policies=session_policies,
                                        context={SUB: [identity]})


def denied(role_arn: str, action: str, resource: str, why: str = "implicit",
           kind: str = "identity-based") -> tuple[str, str]:
    """The exact AccessDeniedException AWS returns (SPEC D4, seed 002)."""
    user = (f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/{role_arn.rsplit('/', 1)[-1]}"
            "/CognitoIdentityCredentials")
    head = f"User: {user} is not authorized to perform: {action} on resource: {resource}"
    if why == "explicit":
        article = "an" if kind[0] in "aeiou" else "a"
        return "AccessDeniedException", f"{head} with an explicit deny in {article} {kind} policy"
    return "AccessDeniedException", f"{head} because no {kind} policy allows the {action} action"


def key(pk: str, sk: str = "s") -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


# --------------------------------------------------------------------------- D5: one permission per action

# operation -> (the IAM action checked, a call of it on `table`)
Operation = Callable[[Any, str], Any]
OPERATIONS: dict[str, tuple[str, Operation]] = {
    "GetItem": ("dynamodb:GetItem", lambda c, t: c.get_item(TableName=t, Key=key(IDENTITY))),
    "PutItem": ("dynamodb:PutItem",
                lambda c, t: c.put_item(TableName=t, Item={**key(IDENTITY, "new")})),
    "UpdateItem": ("dynamodb:UpdateItem", lambda c, t: c.update_item(
        TableName=t, Key=key(IDENTITY), UpdateExpression="SET title = :v",
        ExpressionAttributeValues={":v": {"S": "x"}})),
    "DeleteItem": ("dynamodb:DeleteItem",
                   lambda c, t: c.delete_item(TableName=t, Key=key(IDENTITY, "gone"))),
    "Query": ("dynamodb:Query", lambda c, t: c.query(
        TableName=t, KeyConditionExpression="pk = :p",
        ExpressionAttributeValues={":p": {"S": IDENTITY}})),
    "Scan": ("dynamodb:Scan", lambda c, t: c.scan(TableName=t)),
    "DescribeTable": ("dynamodb:DescribeTable", lambda c, t: c.describe_table(TableName=t)),
    "BatchGetItem": ("dynamodb:BatchGetItem", lambda c, t: c.batch_get_item(
        RequestItems={t: {"Keys": [key(IDENTITY)]}})),
    "BatchWriteItem": ("dynamodb:BatchWriteItem", lambda c, t: c.batch_write_item(
        RequestItems={t: [{"PutRequest": {"Item": key(IDENTITY, "batch")}}]})),
    "TransactGetItems-Get": ("dynamodb:GetItem", lambda c, t: c.transact_get_items(
        TransactItems=[{"Get": {"TableName": t, "Key": key(IDENTITY)}}])),
    "TransactWriteItems-Put": ("dynamodb:PutItem", lambda c, t: c.transact_write_items(
        TransactItems=[{"Put": {"TableName": t, "Item": key(IDENTITY, "tx")}}])),
    "TransactWriteItems-Update": ("dynamodb:UpdateItem", lambda c, t: c.transact_write_items(
        TransactItems=[{"Update": {"TableName": t, "Key": key(IDENTITY),
                                   "UpdateExpression": "SET title = :v",
                                   "ExpressionAttributeValues": {":v": {"S": "y"}}}}])),
    "TransactWriteItems-Delete": ("dynamodb:DeleteItem", lambda c, t: c.transact_write_items(
        TransactItems=[{"Delete": {"TableName": t, "Key": key(IDENTITY, "gone")}}])),
    "TransactWriteItems-ConditionCheck": ("dynamodb:ConditionCheckItem",
                                          lambda c, t: c.transact_write_items(TransactItems=[
                                              {"ConditionCheck": {
                                                  "TableName": t, "Key": key(IDENTITY),
                                                  "ConditionExpression": "attribute_exists(pk)"}}])),
}


@pytest.mark.parametrize("operation", list(OPERATIONS), ids=[f"D5-{o}" for o in OPERATIONS])
def test_each_action_is_its_own_permission(emulator: Emulator, admin: ClientFactory,
                                           operation: str) -> None:
    """Granting exactly the action allows the call; granting everything else does not."""
    action, call = OPERATIONS[operation]
    table = make_table(admin, seed={"pk": IDENTITY, "sk": "s", "owner": IDENTITY})
    only = make_role(admin, allow(action, table_arn(table)))
    all_but = make_role(admin, {"Effect": "Allow", "NotAction": action, "Resource": "*"})

    call(client(emulator, session_for(emulator, only)), table)  # ALLOWED
    assert error_of(lambda: call(client(emulator, session_for(emulator, all_but)), table)) == (
        denied(all_but, action, table_arn(table)))


def test_seed_002_read_only_role_cannot_put(emulator: Emulator, admin: ClientFactory) -> None:
    """The BooksReadAccess setup of seed 002: reads work, PutItem gets AWS's exact text."""
    table = make_table(admin, seed={"pk": IDENTITY, "sk": "s"})
    role = make_role(admin, allow(["dynamodb:GetItem", "dynamodb:Query", "dynamodb:Scan",
                                   "dynamodb:BatchGetItem", "dynamodb:DescribeTable"],
                                  table_arn(table)))
    books = client(emulator, session_for(emulator, role))
    assert books.get_item(TableName=table, Key=key(IDENTITY))["Item"]["pk"] == {"S": IDENTITY}
    assert error_of(lambda: books.put_item(TableName=table, Item=key(IDENTITY, "x"))) == denied(
        role, "dynamodb:PutItem", table_arn(table))


def test_unknown_table_is_moto_business_after_authorization(emulator: Emulator,
                                                            admin: ClientFactory) -> None:
    missing = unique("missing")
    allowed = client(emulator, session_for(emulator, make_role(admin, allow("dynamodb:*"))))
    assert error_of(lambda: allowed.describe_table(TableName=missing))[0] == (
        "ResourceNotFoundException")
    role = make_role(admin, allow("dynamodb:PutItem"))
    refused = client(emulator, session_for(emulator, role))
    assert error_of(lambda: refused.describe_table(TableName=missing)) == denied(
        role, "dynamodb:DescribeTable", table_arn(missing))


# --------------------------------------------------------------------------- D5: batches and transactions


def test_transact_write_checks_every_contained_action(emulator: Emulator,
                                                      admin: ClientFactory) -> None:
    first, second = make_table(admin), make_table(admin, seed={"pk": IDENTITY, "sk": "s"})
    role = make_role(admin, allow("dynamodb:PutItem", [table_arn(first), table_arn(second)]))
    dynamodb = client(emulator, session_for(emulator, role))
    transaction = [{"Put": {"TableName": first, "Item": key(IDENTITY)}},
                   {"Update": {"TableName": second, "Key": key(IDENTITY),
                               "UpdateExpression": "SET title = :v",
                               "ExpressionAttributeValues": {":v": {"S": "x"}}}}]
    assert error_of(lambda: dynamodb.transact_write_items(TransactItems=transaction)) == denied(
        role, "dynamodb:UpdateItem", table_arn(second))
    dynamodb.transact_write_items(TransactItems=transaction[:1])  # the Put alone: ALLOWED


def test_transact_get_checks_every_table(emulator: Emulator, admin: ClientFactory) -> None:
    first, second = make_table(admin), make_table(admin)
    role = make_role(admin, allow("dynamodb:GetItem", table_arn(first)))
    dynamodb = client(emulator, session_for(emulator, role))
    assert error_of(lambda: dynamodb.transact_get_items(TransactItems=[
        {"Get": {"TableName": first, "Key": key(IDENTITY)}},
        {"Get": {"TableName": second, "Key": key(IDENTITY)}},
    ])) == denied(role, "dynamodb:GetItem", table_arn(second))


def test_batch_get_checks_every_table(emulator: Emulator, admin: ClientFactory) -> None:
    first, second = make_table(admin), make_table(admin)
    role = make_role(admin, allow("dynamodb:BatchGetItem", table_arn(first)))
    dynamodb = client(emulator, session_for(emulator, role))
    dynamodb.batch_get_item(RequestItems={first: {"Keys": [key(IDENTITY)]}})
    assert error_of(lambda: dynamodb.batch_get_item(RequestItems={
        first: {"Keys": [key(IDENTITY)]}, second: {"Keys": [key(IDENTITY)]},
    })) == denied(role, "dynamodb:BatchGetItem", table_arn(second))


def test_batch_write_checks_every_table(emulator: Emulator, admin: ClientFactory) -> None:
    first, second = make_table(admin), make_table(admin)
    role = make_role(admin, allow("dynamodb:BatchWriteItem", table_arn(first)))
    dynamodb = client(emulator, session_for(emulator, role))
    assert error_of(lambda: dynamodb.batch_write_item(RequestItems={
        first: [{"PutRequest": {"Item": key(IDENTITY)}}],
        second: [{"DeleteRequest": {"Key": key(IDENTITY)}}],
    })) == denied(role, "dynamodb:BatchWriteItem", table_arn(second))


# --------------------------------------------------------------------------- D1: deny, session policies


def test_explicit_deny_wins(emulator: Emulator, admin: ClientFactory) -> None:
    table = make_table(admin, seed={"pk": IDENTITY, "sk": "s"})
    role = make_role(admin, allow("dynamodb:*"), deny("dynamodb:DeleteItem", table_arn(table)))
    dynamodb = client(emulator, session_for(emulator, role))
    dynamodb.get_item(TableName=table, Key=key(IDENTITY))
    assert error_of(lambda: dynamodb.delete_item(TableName=table, Key=key(IDENTITY))) == denied(
        role, "dynamodb:DeleteItem", table_arn(table), "explicit")


def test_session_policy_intersects(emulator: Emulator, admin: ClientFactory) -> None:
    table = make_table(admin, seed={"pk": IDENTITY, "sk": "s"})
    role = make_role(admin, allow("dynamodb:*"))
    narrowed = session_for(emulator, role, session_policies=[
        policy(allow(["dynamodb:GetItem", "dynamodb:PutItem"], "*"),
               deny("dynamodb:PutItem", table_arn(table)))])
    dynamodb = client(emulator, narrowed)
    dynamodb.get_item(TableName=table, Key=key(IDENTITY))
    assert error_of(lambda: dynamodb.scan(TableName=table)) == denied(
        role, "dynamodb:Scan", table_arn(table), kind="session")
    assert error_of(lambda: dynamodb.put_item(TableName=table, Item=key(IDENTITY))) == denied(
        role, "dynamodb:PutItem", table_arn(table), "explicit", kind="session")


def test_session_policy_cannot_widen(emulator: Emulator, admin: ClientFactory) -> None:
    table = make_table(admin)
    role = make_role(admin, allow("dynamodb:GetItem"))
    dynamodb = client(emulator, session_for(emulator, role, session_policies=[
        policy(allow("dynamodb:*"))]))
    assert error_of(lambda: dynamodb.scan(TableName=table)) == denied(
        role, "dynamodb:Scan", table_arn(table))


def test_managed_policy_counts(emulator: Emulator, admin: ClientFactory) -> None:
    """Attached customer-managed policies grant like inline ones (SPEC D1)."""
    table = make_table(admin)
    iam = admin("iam")
    name = unique("role")
    role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST))["Role"][
        "Arn"]
    managed = iam.create_policy(PolicyName=unique("pol"), PolicyDocument=json.dumps(
        policy(allow("dynamodb:Scan", table_arn(table)))))["Policy"]["Arn"]
    iam.attach_role_policy(RoleName=name, PolicyArn=managed)
    dynamodb = client(emulator, session_for(emulator, role))
    dynamodb.scan(TableName=table)
    assert error_of(lambda: dynamodb.query(
        TableName=table, KeyConditionExpression="pk = :p",
        ExpressionAttributeValues={":p": {"S": IDENTITY}})) == denied(
        role, "dynamodb:Query", table_arn(table))


def test_deleted_role_is_denied(emulator: Emulator, admin: ClientFactory) -> None:
    table = make_table(admin)
    role = make_role(admin, allow("dynamodb:*"))
    dynamodb = client(emulator, session_for(emulator, role))
    dynamodb.scan(TableName=table)
    iam = admin("iam")
    name = role.rsplit("/", 1)[-1]
    iam.delete_role_policy(RoleName=name, PolicyName="inline")
    iam.delete_role(RoleName=name)
    assert error_of(lambda: dynamodb.scan(TableName=table)) == denied(
        role, "dynamodb:Scan", table_arn(table))


# --------------------------------------------------------------------------- D2/D3: keys and indexes

OWN_ITEMS = allow(["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query",
                   "dynamodb:BatchWriteItem", "dynamodb:TransactWriteItems"], "*",
                  Condition={"ForAllValues:StringEquals": {
                      "dynamodb:LeadingKeys": ["${cognito-identity.amazonaws.com:sub}"]}})


def test_leading_keys_bound_to_identity(emulator: Emulator, admin: ClientFactory) -> None:
    """The classic per-identity partition: `dynamodb:LeadingKeys` = `${...:sub}`."""
    table = make_table(admin, seed={"pk": IDENTITY, "sk": "s"})
    role = make_role(admin, OWN_ITEMS)
    dynamodb = client(emulator, session_for(emulator, role))
    resource = table_arn(table)

    assert dynamodb.get_item(TableName=table, Key=key(IDENTITY))["Item"]["sk"] == {"S": "s"}
    dynamodb.put_item(TableName=table, Item=key(IDENTITY, "mine"))
    assert dynamodb.query(TableName=table, KeyConditionExpression="#p = :p AND sk > :s",
                          ExpressionAttributeNames={"#p": "pk"},
                          ExpressionAttributeValues={":p": {"S": IDENTITY},
                                                     ":s": {"S": "a"}})["Count"] == 2
    assert error_of(lambda: dynamodb.get_item(TableName=table, Key=key(OTHER_IDENTITY))) == (
        denied(role, "dynamodb:GetItem", resource))
    assert error_of(lambda: dynamodb.query(
        TableName=table, KeyConditionExpression="pk = :p",
        ExpressionAttributeValues={":p": {"S": OTHER_IDENTITY}})) == denied(
        role, "dynamodb:Query", resource)
    assert error_of(lambda: dynamodb.batch_write_item(RequestItems={table: [
        {"PutRequest": {"Item": key(IDENTITY, "b1")}},
        {"PutRequest": {"Item": key(OTHER_IDENTITY, "b2")}},
    ]})) == denied(role, "dynamodb:BatchWriteItem", resource)
    assert error_of(lambda: dynamodb.transact_write_items(TransactItems=[
        {"Put": {"TableName": table, "Item": key(OTHER_IDENTITY)}}])) == denied(
        role, "dynamodb:PutItem", resource)


def test_leading_keys_other_identity_session(emulator: Emulator, admin: ClientFactory) -> None:
    """The same role, another identity: the variable follows the session, not the role."""
    table = make_table(admin, seed={"pk": IDENTITY, "sk": "s"})
    role = make_role(admin, OWN_ITEMS)
    other = client(emulator, session_for(emulator, role, identity=OTHER_IDENTITY))
    other.get_item(TableName=table, Key=key(OTHER_IDENTITY))
    assert error_of(lambda: other.get_item(TableName=table, Key=key(IDENTITY))) == denied(
        role, "dynamodb:GetItem", table_arn(table))


def test_attributes_condition(emulator: Emulator, admin: ClientFactory) -> None:
    table = make_table(admin, seed={"pk": IDENTITY, "sk": "s", "title": "t", "secret": "x"})
    role = make_role(admin, allow("dynamodb:GetItem", table_arn(table), Condition={
        "ForAllValues:StringEquals": {"dynamodb:Attributes": ["pk", "sk", "title"]}}))
    dynamodb = client(emulator, session_for(emulator, role))
    item = dynamodb.get_item(TableName=table, Key=key(IDENTITY), ProjectionExpression="#t",
                             ExpressionAttributeNames={"#t": "title"})["Item"]
    assert item == {"title": {"S": "t"}}
    assert error_of(lambda: dynamodb.get_item(TableName=table, Key=key(IDENTITY),
                                              ProjectionExpression="title, secret")) == denied(
        role, "dynamodb:GetItem", table_arn(table))


def test_select_and_return_values_conditions(emulator: Emulator, admin: ClientFactory) -> None:
    table = make_table(admin, seed={"pk": IDENTITY, "sk": "s"})
    role = make_role(
        admin,
        allow("dynamodb:Scan", table_arn(table),
              Condition={"StringEquals": {"dynamodb:Select": "COUNT"}}),
        allow("dynamodb:PutItem", table_arn(table),
              Condition={"StringEqualsIfExists": {"dynamodb:ReturnValues": "NONE"}}),
    )
    dynamodb = client(emulator, session_for(emulator, role))
    assert dynamodb.scan(TableName=table, Select="COUNT")["Count"] == 1
    assert error_of(lambda: dynamodb.scan(TableName=table)) == denied(
        role, "dynamodb:Scan", table_arn(table))
    dynamodb.put_item(TableName=table, Item=key(IDENTITY, "p"))
    assert error_of(lambda: dynamodb.put_item(TableName=table, Item=key(IDENTITY, "p"),
                                              ReturnValues="ALL_OLD")) == denied(
        role, "dynamodb:PutItem", table_arn(table))


def test_select_and_return_values_have_defaults(emulator: Emulator, admin: ClientFactory) -> None:
    """'The Select parameter always has a value (ALL_ATTRIBUTES, unless otherwise specified)';
    ReturnValues is NONE unless asked: a strict StringEquals matches a plain request."""
    table = make_table(admin, seed={"pk": IDENTITY, "sk": "s"})
    role = make_role(
        admin,
        allow("dynamodb:GetItem", table_arn(table),
              Condition={"StringEquals": {"dynamodb:Select": "ALL_ATTRIBUTES"}}),
        allow("dynamodb:PutItem", table_arn(table),
              Condition={"StringEquals": {"dynamodb:ReturnValues": "NONE"}}),
    )
    dynamodb = client(emulator, session_for(emulator, role))
    dynamodb.put_item(TableName=table, Item=key(IDENTITY, "p"))  # ALLOWED: NONE by default
    assert "Item" in dynamodb.get_item(TableName=table, Key=key(IDENTITY))


def test_a_condition_names_its_attributes(emulator: Emulator, admin: ClientFactory) -> None:
    """dynamodb:Attributes lists what a request conditions on, not only what it writes."""
    table = make_table(admin, seed={"pk": IDENTITY, "sk": "s", "title": "t", "secret": "x"})
    role = make_role(admin, allow("dynamodb:UpdateItem", table_arn(table), Condition={
        "ForAllValues:StringEquals": {"dynamodb:Attributes": ["title"]}}))
    dynamodb = client(emulator, session_for(emulator, role))
    dynamodb.update_item(TableName=table, Key=key(IDENTITY), UpdateExpression="SET title = :v",
                         ExpressionAttributeValues={":v": {"S": "u"}})  # ALLOWED
    dynamodb.update_item(TableName=table, Key=key(IDENTITY), UpdateExpression="SET title = :v",
                         ConditionExpression="attribute_exists(title)",  # a function is no name
                         ExpressionAttributeValues={":v": {"S": "u"}})  # ALLOWED
    assert error_of(lambda: dynamodb.update_item(
        TableName=table, Key=key(IDENTITY), UpdateExpression="SET title = :v",
        ConditionExpression="attribute_exists(secret)",
        ExpressionAttributeValues={":v": {"S": "u"}})) == denied(
        role, "dynamodb:UpdateItem", table_arn(table))


def test_index_is_its_own_resource(emulator: Emulator, admin: ClientFactory) -> None:
    table = make_table(admin, seed={"pk": IDENTITY, "sk": "s", "owner": IDENTITY})
    index_arn = f"{table_arn(table)}/index/ByOwner"
    by_owner = {"TableName": table, "IndexName": "ByOwner",
                "KeyConditionExpression": "#o = :o", "ExpressionAttributeNames": {"#o": "owner"},
                "ExpressionAttributeValues": {":o": {"S": IDENTITY}}}
    table_only = make_role(admin, allow(["dynamodb:Query", "dynamodb:Scan"], table_arn(table)))
    dynamodb = client(emulator, session_for(emulator, table_only))
    assert error_of(lambda: dynamodb.query(**by_owner)) == denied(
        table_only, "dynamodb:Query", index_arn)
    assert error_of(lambda: dynamodb.scan(TableName=table, IndexName="ByOwner")) == denied(
        table_only, "dynamodb:Scan", index_arn)

    indexes = make_role(admin, allow("dynamodb:Query", f"{table_arn(table)}/index/*",
                                     Condition={"ForAllValues:StringEquals": {
                                         "dynamodb:LeadingKeys": ["${" + SUB + "}"]}}))
    dynamodb = client(emulator, session_for(emulator, indexes))
    assert dynamodb.query(**by_owner)["Count"] == 1
    other_owner = {**by_owner, "ExpressionAttributeValues": {":o": {"S": OTHER_IDENTITY}}}
    assert error_of(lambda: dynamodb.query(**other_owner)) == denied(
        indexes, "dynamodb:Query", index_arn)


# --------------------------------------------------------------------------- signature and expiry


def test_wrong_secret_is_a_signature_mismatch(emulator: Emulator, admin: ClientFactory) -> None:
    table = make_table(admin)
    session = session_for(emulator, make_role(admin, allow("dynamodb:*")))
    forged = client(emulator, session, aws_secret_access_key="not-the-secret")
    code, message = error_of(lambda: forged.scan(TableName=table))
    assert code == "InvalidSignatureException"
    assert message.startswith("The request signature we calculated does not match")
    assert session.secret_access_key not in message


def test_wrong_token_is_unrecognized(emulator: Emulator, admin: ClientFactory) -> None:
    table = make_table(admin)
    session = session_for(emulator, make_role(admin, allow("dynamodb:*")))
    other = session_for(emulator, make_role(admin, allow("dynamodb:*")))
    mixed = client(emulator, session, aws_session_token=other.session_token)
    assert error_of(lambda: mixed.scan(TableName=table)) == (
        "UnrecognizedClientException", "The security token included in the request is invalid.")


def test_expired_session(faulty_emulator: Callable[..., Emulator], admin: ClientFactory) -> None:
    """SPEC E13: credentials last one hour; the emulator's clock, not the wall clock, decides."""
    clock = Clock()
    running = faulty_emulator(clock=clock)
    table = make_table(admin)
    dynamodb = client(running, session_for(running, make_role(admin, allow("dynamodb:*"))))
    dynamodb.scan(TableName=table)
    clock.advance(3601)
    assert error_of(lambda: dynamodb.scan(TableName=table)) == (
        "ExpiredTokenException", "The security token included in the request is expired")


# --------------------------------------------------------------------------- faults


def test_fault_explicit_deny_ignored(emulator: Emulator, faulty_emulator: Callable[..., Emulator],
                                     admin: ClientFactory) -> None:
    table = make_table(admin)
    role = make_role(admin, allow("dynamodb:*"), deny("dynamodb:Scan", table_arn(table)))
    assert error_of(lambda: client(emulator, session_for(emulator, role)).scan(
        TableName=table)) == denied(role, "dynamodb:Scan", table_arn(table), "explicit")
    faulty = faulty_emulator("iam-explicit-deny-ignored")
    client(faulty, session_for(faulty, role)).scan(TableName=table)  # ALLOWED


def test_fault_notaction_inverted(emulator: Emulator, faulty_emulator: Callable[..., Emulator],
                                  admin: ClientFactory) -> None:
    table = make_table(admin)
    role = make_role(admin, {"Effect": "Allow", "NotAction": "dynamodb:Delete*", "Resource": "*"})
    client(emulator, session_for(emulator, role)).scan(TableName=table)
    faulty = faulty_emulator("iam-notaction-inverted")
    assert error_of(lambda: client(faulty, session_for(faulty, role)).scan(
        TableName=table)) == denied(role, "dynamodb:Scan", table_arn(table))


def test_fault_resource_wildcard_overmatch(emulator: Emulator,
                                           faulty_emulator: Callable[..., Emulator],
                                           admin: ClientFactory) -> None:
    mine, theirs = make_table(admin), make_table(admin)
    role = make_role(admin, allow("dynamodb:Scan", table_arn(mine)))
    assert error_of(lambda: client(emulator, session_for(emulator, role)).scan(
        TableName=theirs)) == denied(role, "dynamodb:Scan", table_arn(theirs))
    faulty = faulty_emulator("iam-resource-wildcard-overmatch")
    client(faulty, session_for(faulty, role)).scan(TableName=theirs)  # ALLOWED


def test_fault_conditions_ignored(emulator: Emulator, faulty_emulator: Callable[..., Emulator],
                                  admin: ClientFactory) -> None:
    table = make_table(admin)
    role = make_role(admin, OWN_ITEMS)
    assert error_of(lambda: client(emulator, session_for(emulator, role)).get_item(
        TableName=table, Key=key(OTHER_IDENTITY))) == denied(
        role, "dynamodb:GetItem", table_arn(table))
    faulty = faulty_emulator("iam-conditions-ignored")
    client(faulty, session_for(faulty, role)).get_item(TableName=table, Key=key(OTHER_IDENTITY))


def test_fault_session_policy_ignored(emulator: Emulator,
                                      faulty_emulator: Callable[..., Emulator],
                                      admin: ClientFactory) -> None:
    table = make_table(admin)
    role = make_role(admin, allow("dynamodb:*"))
    narrow = [policy(allow("dynamodb:GetItem"))]
    assert error_of(lambda: client(emulator, session_for(
        emulator, role, session_policies=narrow)).scan(TableName=table)) == denied(
        role, "dynamodb:Scan", table_arn(table), kind="session")
    faulty = faulty_emulator("iam-session-policy-ignored")
    client(faulty, session_for(faulty, role, session_policies=narrow)).scan(TableName=table)


def test_fault_transact_unchecked(emulator: Emulator, faulty_emulator: Callable[..., Emulator],
                                  admin: ClientFactory) -> None:
    mine, theirs = make_table(admin), make_table(admin)
    role = make_role(admin, allow("dynamodb:PutItem", table_arn(mine)))
    transaction = [{"Put": {"TableName": mine, "Item": key(IDENTITY)}},
                   {"Put": {"TableName": theirs, "Item": key(IDENTITY)}}]
    assert error_of(lambda: client(emulator, session_for(emulator, role)).transact_write_items(
        TransactItems=transaction)) == denied(role, "dynamodb:PutItem", table_arn(theirs))
    faulty = faulty_emulator("iam-transact-unchecked")
    client(faulty, session_for(faulty, role)).transact_write_items(TransactItems=transaction)
    item = admin("dynamodb").get_item(TableName=theirs, Key=key(IDENTITY)).get("Item")
    assert item == key(IDENTITY)  # the unchecked write really landed


def test_batch_write_duplicates_are_per_table_and_key(emulator: Emulator,
                                                      admin: ClientFactory) -> None:
    """One key in two tables is two items; a put and a delete of one key in one table is a
    duplicate (BatchWriteItem API reference), whatever the put's other attributes."""
    orders, customers = make_table(admin), make_table(admin)
    db = admin("dynamodb")
    item = key(IDENTITY, "same")
    db.batch_write_item(RequestItems={orders: [{"PutRequest": {"Item": item}}],
                                      customers: [{"PutRequest": {"Item": item}}]})
    assert [bool(db.get_item(TableName=t, Key=item).get("Item")) for t in (orders, customers)] \
        == [True, True]
    assert error_of(lambda: db.batch_write_item(RequestItems={orders: [
        {"PutRequest": {"Item": {**item, "title": {"S": "x"}}}},
        {"DeleteRequest": {"Key": item}}]})) == ("ValidationException", batches.DUPLICATES)
