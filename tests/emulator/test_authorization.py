"""Issue 12 with boto3: IAM on every API the emulator serves, unsigned and near-miss calls.

Each escalation the issue found (a GetItem/Query role calling IAM, cognito-idp
and cognito-identity admin APIs and DynamoDB's control plane; unsigned callers
rewiring identity pools; a lower-cased X-Amz-Target) is refused with the
service's own error code and text; a role that allows the action gets it.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError

from rolecall.emulator import ACCOUNT_ID, Emulator
from rolecall.emulator.state import Session
from tests.emulator.stack import (
    admin_signed_headers,
    create_identity_pool,
    create_user_pool,
    error_of,
    unique,
)

from .conftest import REGION, ClientFactory
from .test_dynamodb_auth import (
    IDENTITY,
    NO_RETRIES,
    allow,
    key,
    make_role,
    make_table,
    session_for,
    table_arn,
)

READER = ("dynamodb:GetItem", "dynamodb:Query")  # the role


def as_session(emulator: Emulator, session: Session, service: str) -> Any:
    return boto3.client(service, endpoint_url=emulator.endpoint, region_name=REGION,
                        config=NO_RETRIES, aws_access_key_id=session.access_key_id,
                        aws_secret_access_key=session.secret_access_key,
                        aws_session_token=session.session_token)


def unsigned(emulator: Emulator, service: str) -> Any:
    return boto3.client(service, endpoint_url=emulator.endpoint, region_name=REGION,
                        config=NO_RETRIES.merge(Config(signature_version=UNSIGNED)))


def refusal(session: Session, action: str, resource: str) -> str:
    return (f"User: arn:aws:sts::{ACCOUNT_ID}:assumed-role/{session.role_name}/"
            f"{session.session_name} is not authorized to perform: {action} on resource: "
            f"{resource} because no identity-based policy allows the {action} action")


def status_of(call: Callable[[], Any]) -> int:
    with pytest.raises(ClientError) as caught:
        call()
    return int(caught.value.response["ResponseMetadata"]["HTTPStatusCode"])


class Stack:
    """A table, a user pool with a group and user, an identity pool, and the issue's reader."""

    def __init__(self, emulator: Emulator, admin: ClientFactory) -> None:
        self.table = make_table(admin, seed={"pk": IDENTITY, "sk": "s", "owner": IDENTITY})
        self.up = create_user_pool(admin("cognito-idp"))
        self.group = self.up.add_group("admins")
        self.user = self.up.add_user()
        self.pool = create_identity_pool(admin("cognito-identity"), [self.up.provider()])
        self.role = make_role(admin, allow(list(READER), table_arn(self.table)))
        self.session = session_for(emulator, self.role)

    @property
    def role_name(self) -> str:
        return self.role.rsplit("/", 1)[-1]

    @property
    def pool_arn(self) -> str:
        return f"arn:aws:cognito-identity:{REGION}:{ACCOUNT_ID}:identitypool/{self.pool}"

    @property
    def user_pool_arn(self) -> str:
        return f"arn:aws:cognito-idp:{REGION}:{ACCOUNT_ID}:userpool/{self.up.pool_id}"


@pytest.fixture(scope="module")
def stack(emulator: Emulator, admin: ClientFactory) -> Stack:
    return Stack(emulator, admin)


WRITE_POLICY = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "dynamodb:*", "Resource": "*"}]})


# --------------------------------------------------------------------------- the escalations


def test_put_role_policy_on_its_own_role_is_refused(emulator: Emulator, stack: Stack,
                                                   admin: ClientFactory) -> None:
    iam = as_session(emulator, stack.session, "iam")
    code, message = error_of(lambda: iam.put_role_policy(
        RoleName=stack.role_name, PolicyName="escalate", PolicyDocument=WRITE_POLICY))
    assert (code, message) == ("AccessDenied", refusal(
        stack.session, "iam:PutRolePolicy", f"role {stack.role_name}"))
    assert status_of(lambda: iam.put_role_policy(
        RoleName=stack.role_name, PolicyName="escalate", PolicyDocument=WRITE_POLICY)) == 403
    assert "escalate" not in admin("iam").list_role_policies(RoleName=stack.role_name)[
        "PolicyNames"]
    dynamodb = as_session(emulator, stack.session, "dynamodb")
    assert error_of(lambda: dynamodb.put_item(TableName=stack.table, Item=key(IDENTITY, "w")))[
        0] == "AccessDeniedException"


def test_create_role_is_refused_on_the_new_role_arn(emulator: Emulator, stack: Stack) -> None:
    name = unique("new")
    iam = as_session(emulator, stack.session, "iam")
    assert error_of(lambda: iam.create_role(RoleName=name, AssumeRolePolicyDocument="{}")) == (
        "AccessDenied", refusal(stack.session, "iam:CreateRole",
                                f"arn:aws:iam::{ACCOUNT_ID}:role/{name}"))


def test_admin_add_user_to_group_is_refused(emulator: Emulator, stack: Stack) -> None:
    idp = as_session(emulator, stack.session, "cognito-idp")
    call = lambda: idp.admin_add_user_to_group(  # noqa: E731
        UserPoolId=stack.up.pool_id, Username=stack.user, GroupName=stack.group)
    assert error_of(call) == ("AccessDeniedException", refusal(
        stack.session, "cognito-idp:AdminAddUserToGroup", stack.user_pool_arn))
    assert status_of(call) == 400


def test_update_identity_pool_is_refused(emulator: Emulator, stack: Stack,
                                         admin: ClientFactory) -> None:
    ci = as_session(emulator, stack.session, "cognito-identity")
    assert error_of(lambda: ci.update_identity_pool(
        IdentityPoolId=stack.pool, IdentityPoolName="rewired",
        AllowUnauthenticatedIdentities=True)) == ("AccessDeniedException", refusal(
            stack.session, "cognito-identity:UpdateIdentityPool", stack.pool_arn))
    described = admin("cognito-identity").describe_identity_pool(IdentityPoolId=stack.pool)
    assert described["AllowUnauthenticatedIdentities"] is False


def test_delete_table_is_refused(emulator: Emulator, stack: Stack, admin: ClientFactory) -> None:
    dynamodb = as_session(emulator, stack.session, "dynamodb")
    assert error_of(lambda: dynamodb.delete_table(TableName=stack.table)) == (
        "AccessDeniedException", refusal(stack.session, "dynamodb:DeleteTable",
                                         table_arn(stack.table)))
    assert admin("dynamodb").describe_table(TableName=stack.table)["Table"]["TableName"]


@pytest.mark.parametrize(("service", "call", "action"), [
    ("dynamodb", lambda c, s: c.list_tables(), "dynamodb:ListTables"),
    ("dynamodb", lambda c, s: c.update_time_to_live(TableName=s.table, TimeToLiveSpecification={
        "Enabled": True, "AttributeName": "ttl"}), "dynamodb:UpdateTimeToLive"),
    ("dynamodb", lambda c, s: c.create_backup(TableName=s.table, BackupName="backup"),
     "dynamodb:CreateBackup"),
    ("dynamodb", lambda c, s: c.describe_table(TableName=s.table), "dynamodb:DescribeTable"),
    ("iam", lambda c, s: c.list_roles(), "iam:ListRoles"),
    ("sts", lambda c, s: c.assume_role(RoleArn=s.role, RoleSessionName="xx"), "sts:AssumeRole"),
    ("cognito-idp", lambda c, s: c.list_users(UserPoolId=s.up.pool_id), "cognito-idp:ListUsers"),
    ("cognito-identity", lambda c, s: c.set_identity_pool_roles(
        IdentityPoolId=s.pool, Roles={"authenticated": s.role}),
     "cognito-identity:SetIdentityPoolRoles"),
], ids=["ListTables", "UpdateTimeToLive", "CreateBackup", "DescribeTable", "ListRoles",
        "AssumeRole", "ListUsers", "SetIdentityPoolRoles"])
def test_every_service_checks_sessions(emulator: Emulator, stack: Stack, service: str,
                                       call: Callable[[Any, Stack], Any], action: str) -> None:
    code, message = error_of(lambda: call(as_session(emulator, stack.session, service), stack))
    assert code in ("AccessDenied", "AccessDeniedException")
    assert f"is not authorized to perform: {action} on resource: " in message


def test_list_tables_is_checked_on_every_table_of_the_region(emulator: Emulator,
                                                              stack: Stack) -> None:
    dynamodb = as_session(emulator, stack.session, "dynamodb")
    assert error_of(dynamodb.list_tables)[1] == refusal(
        stack.session, "dynamodb:ListTables", f"arn:aws:dynamodb:{REGION}:{ACCOUNT_ID}:table/*")


# --------------------------------------------------------------------------- allowed when a policy allows


def test_a_role_that_allows_the_actions_gets_them(emulator: Emulator, admin: ClientFactory,
                                                  stack: Stack) -> None:
    table = make_table(admin)
    name = unique("granted")
    role = make_role(admin, allow(["dynamodb:DeleteTable", "dynamodb:ListTables"], "*"),
                     allow("iam:PutRolePolicy", f"arn:aws:iam::{ACCOUNT_ID}:role/rc-*"),
                     allow("cognito-idp:AdminAddUserToGroup", stack.user_pool_arn),
                     allow("cognito-identity:DescribeIdentityPool", stack.pool_arn))
    session = session_for(emulator, role)
    assert table in as_session(emulator, session, "dynamodb").list_tables()["TableNames"]
    as_session(emulator, session, "dynamodb").delete_table(TableName=table)
    as_session(emulator, session, "cognito-idp").admin_add_user_to_group(
        UserPoolId=stack.up.pool_id, Username=stack.user, GroupName=stack.group)
    described = as_session(emulator, session, "cognito-identity").describe_identity_pool(
        IdentityPoolId=stack.pool)
    assert described["IdentityPoolId"] == stack.pool
    admin("iam").create_role(RoleName=f"rc-{name}", AssumeRolePolicyDocument="{}")
    as_session(emulator, session, "iam").put_role_policy(
        RoleName=f"rc-{name}", PolicyName="p", PolicyDocument=WRITE_POLICY)
    assert error_of(lambda: as_session(emulator, session, "iam").put_role_policy(
        RoleName=name, PolicyName="p", PolicyDocument=WRITE_POLICY))[0] == "AccessDenied"


def test_get_caller_identity_needs_no_permission(emulator: Emulator, stack: Stack) -> None:
    caller = as_session(emulator, stack.session, "sts").get_caller_identity()
    assert caller["Arn"].endswith(f":assumed-role/{stack.role_name}/{stack.session.session_name}")


def test_the_admin_keys_stay_all_powerful(admin: ClientFactory) -> None:
    assert "Roles" in admin("iam").list_roles()
    assert "UserPools" in admin("cognito-idp").list_user_pools(MaxResults=1)


# --------------------------------------------------------------------------- unsigned calls


@pytest.mark.parametrize(("service", "call", "code", "status"), [
    ("cognito-identity", lambda c: c.create_identity_pool(
        IdentityPoolName="rogue", AllowUnauthenticatedIdentities=True),
     "MissingAuthenticationTokenException", 400),
    ("cognito-identity", lambda c: c.list_identity_pools(MaxResults=10),
     "MissingAuthenticationTokenException", 400),
    ("cognito-idp", lambda c: c.list_user_pools(MaxResults=10),
     "MissingAuthenticationTokenException", 400),
    ("dynamodb", lambda c: c.list_tables(), "MissingAuthenticationTokenException", 400),
    ("iam", lambda c: c.list_roles(), "MissingAuthenticationToken", 403),
    ("sts", lambda c: c.get_caller_identity(), "MissingAuthenticationToken", 403),
], ids=["CreateIdentityPool", "ListIdentityPools", "ListUserPools", "ListTables", "ListRoles",
        "GetCallerIdentity"])
def test_unsigned_calls_to_signed_apis_are_refused(emulator: Emulator, service: str,
                                                    call: Callable[[Any], Any], code: str,
                                                    status: int) -> None:
    client = unsigned(emulator, service)
    assert error_of(lambda: call(client)) == (code, "Request is missing Authentication Token")
    assert status_of(lambda: call(client)) == status


def test_unsigned_pool_rewiring_is_refused(emulator: Emulator, stack: Stack,
                                           admin: ClientFactory) -> None:
    rogue = unsigned(emulator, "cognito-identity")
    assert error_of(lambda: rogue.set_identity_pool_roles(
        IdentityPoolId=stack.pool, Roles={"authenticated": stack.role}))[0] == (
        "MissingAuthenticationTokenException")
    assert "authenticated" not in admin("cognito-identity").get_identity_pool_roles(
        IdentityPoolId=stack.pool).get("Roles", {})


def test_public_calls_still_work_unsigned(emulator: Emulator, stack: Stack) -> None:
    tokens = unsigned(emulator, "cognito-idp").initiate_auth(
        ClientId=stack.up.client_id, AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": stack.user, "PASSWORD": "Correct-Horse-9!"})
    id_token = tokens["AuthenticationResult"]["IdToken"]
    identity = unsigned(emulator, "cognito-identity").get_id(
        IdentityPoolId=stack.pool, Logins={stack.up.provider_name: id_token})
    assert identity["IdentityId"].startswith(f"{REGION}:")


# --------------------------------------------------------------------------- near-miss operation names


def _raw(emulator: Emulator, target: str, body: dict[str, Any], session: Session,
         service: str = "dynamodb") -> tuple[int, dict[str, Any]]:
    """A hand-signed awsJson call (the issue's curl), with the session's keys."""
    data = json.dumps(body).encode()
    keys = {"aws_access_key_id": session.access_key_id,
            "aws_secret_access_key": session.secret_access_key,
            "aws_session_token": session.session_token}
    headers = admin_signed_headers(emulator.endpoint + "/", data, {
        "Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": target}, service, keys)
    request = urllib.request.Request(emulator.endpoint + "/", data, headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


@pytest.mark.parametrize("target", ["dynamodb_20120810.PutItem", "DynamoDB_20120810.putitem",
                                    "DYNAMODB_20120810.PUTITEM"])
def test_a_target_differing_in_case_is_an_unknown_operation(
        emulator: Emulator, stack: Stack, admin: ClientFactory, target: str) -> None:
    item = key(IDENTITY, unique("case"))
    status, body = _raw(emulator, target, {"TableName": stack.table, "Item": item}, stack.session)
    assert (status, body["__type"]) == (400, "UnknownOperationException")
    assert "Item" not in admin("dynamodb").get_item(TableName=stack.table, Key=item)


def test_the_exact_target_is_authorized(emulator: Emulator, stack: Stack) -> None:
    status, body = _raw(emulator, "DynamoDB_20120810.PutItem",
                        {"TableName": stack.table, "Item": key(IDENTITY, "x")}, stack.session)
    assert (status, body["__type"]) == (400, "AccessDeniedException")


def test_a_call_signed_for_another_service_is_refused(emulator: Emulator, stack: Stack) -> None:
    status, body = _raw(emulator, "DynamoDB_20120810.PutItem",
                        {"TableName": stack.table, "Item": key(IDENTITY, "x")}, stack.session,
                        service="iam")
    assert (status, body["__type"]) == (400, "InvalidSignatureException")


# --------------------------------------------------------------------------- keys on the new services


FOREIGN_TEMPORARY = {"aws_access_key_id": "ASIAFOREIGNFOREIGN00", "aws_secret_access_key": "s",
                     "aws_session_token": "t"}


@pytest.mark.parametrize(("service", "call", "code"), [
    ("iam", lambda c: c.list_roles(), "InvalidClientTokenId"),
    ("cognito-idp", lambda c: c.list_user_pools(MaxResults=1), "UnrecognizedClientException"),
    ("cognito-identity", lambda c: c.list_identity_pools(MaxResults=1),
     "UnrecognizedClientException"),
], ids=["iam", "cognito-idp", "cognito-identity"])
def test_a_temporary_key_never_issued_is_not_the_admin_anywhere(
        emulator: Emulator, service: str, call: Callable[[Any], Any], code: str) -> None:
    client = boto3.client(service, endpoint_url=emulator.endpoint, region_name=REGION,
                          config=NO_RETRIES, **FOREIGN_TEMPORARY)
    assert error_of(lambda: call(client))[0] == code


def test_a_wrong_secret_on_iam_is_a_signature_mismatch(emulator: Emulator, stack: Stack) -> None:
    iam = boto3.client("iam", endpoint_url=emulator.endpoint, region_name=REGION,
                       config=NO_RETRIES, aws_access_key_id=stack.session.access_key_id,
                       aws_secret_access_key="not-the-secret",
                       aws_session_token=stack.session.session_token)
    assert error_of(iam.list_roles)[0] == "SignatureDoesNotMatch"
    assert status_of(iam.list_roles) == 403
