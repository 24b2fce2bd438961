"""AWS's operating conditions (`--realism`): propagation, throttling, table states, runner policy.

Each test starts its own emulator with short delays (scale) so the windows are
observable and brief; moto state is process-global, so names are unique.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rolecall.emulator import ACCOUNT_ID, Emulator
from rolecall.emulator.errors import AwsError
from rolecall.emulator.realism import parse
from rolecall.emulator.realism.quotas import QUOTAS
from rolecall.emulator.realism.throttle import Throttle
from tests.emulator.stack import (
    REGION,
    client,
    cognito_trust,
    create_identity_pool,
    create_role,
    create_user_pool,
    error_of,
    unique,
)

SCALE = 0.5  # propagation 5 s, table windows 4 s: observable on a loaded machine


@pytest.fixture
def realistic() -> Iterator[Emulator]:
    with Emulator(port=0, realism="aws", realism_scale=SCALE) as running:
        yield running


def test_parse_presets_and_parts() -> None:
    assert parse("aws") == {"propagation", "throttling", "tables"}
    assert parse("aws,latency") == {"propagation", "throttling", "tables", "latency"}
    assert parse("none") == frozenset()
    with pytest.raises(ValueError, match="unknown realism"):
        parse("weather")


def test_every_quota_names_its_source() -> None:
    for service, quotas in QUOTAS.items():
        for operation, quota in quotas.items():
            assert quota.rps > 0 and quota.source in {"doc", "assumed"}, (service, operation)


def test_table_is_creating_then_active_and_deleting_then_gone(realistic: Emulator) -> None:
    db = client(realistic.endpoint, "dynamodb")
    name = unique("realism-table")
    db.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                    AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
                    KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}])
    assert db.describe_table(TableName=name)["Table"]["TableStatus"] == "CREATING"
    assert error_of(lambda: db.put_item(TableName=name, Item={"k": {"S": "x"}}))[0] == \
        "ResourceNotFoundException"
    assert error_of(lambda: db.delete_table(TableName=name))[0] == "ResourceInUseException"
    time.sleep(8 * SCALE + 0.1)
    assert db.describe_table(TableName=name)["Table"]["TableStatus"] == "ACTIVE"
    db.put_item(TableName=name, Item={"k": {"S": "x"}})
    assert db.delete_table(TableName=name)["TableDescription"]["TableStatus"] == "DELETING"
    assert db.describe_table(TableName=name)["Table"]["TableStatus"] == "DELETING"
    time.sleep(8 * SCALE + 0.1)
    assert error_of(lambda: db.describe_table(TableName=name))[0] == "ResourceNotFoundException"


def test_refused_table_operations_open_no_window(realistic: Emulator) -> None:
    """CreateTable of a name that exists and DeleteTable of a deletion-protected table are
    refused by AWS (ResourceInUseException, ValidationException): the table stays ACTIVE
    and keeps serving. The control-plane probes rely on both refusals."""
    db = client(realistic.endpoint, "dynamodb")
    name = unique("realism-protected")
    schema: dict[str, Any] = {
        "TableName": name, "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [{"AttributeName": "k", "AttributeType": "S"}],
        "KeySchema": [{"AttributeName": "k", "KeyType": "HASH"}]}
    db.create_table(DeletionProtectionEnabled=True, **schema)
    time.sleep(8 * SCALE + 0.1)
    assert error_of(lambda: db.create_table(**schema))[0] == "ResourceInUseException"
    assert error_of(lambda: db.delete_table(TableName=name))[0] == "ValidationException"
    assert db.describe_table(TableName=name)["Table"]["TableStatus"] == "ACTIVE"
    db.put_item(TableName=name, Item={"k": {"S": "x"}})
    db.update_table(TableName=name, DeletionProtectionEnabled=False)
    assert db.delete_table(TableName=name)["TableDescription"]["TableStatus"] == "DELETING"


def test_new_role_is_not_assumable_until_propagated(realistic: Emulator) -> None:
    idp, iam = client(realistic.endpoint, "cognito-idp"), client(realistic.endpoint, "iam")
    identity = client(realistic.endpoint, "cognito-identity")
    pool = create_user_pool(idp)
    user = pool.add_user()
    pool_id = create_identity_pool(identity, [pool.provider()])
    role = create_role(iam, unique("realism-role"), cognito_trust(aud=pool_id))
    identity.set_identity_pool_roles(IdentityPoolId=pool_id, Roles={"authenticated": role})
    logins = {pool.provider_name: pool.id_token(user)}
    identity_id = identity.get_id(IdentityPoolId=pool_id, Logins=logins)["IdentityId"]
    code, message = error_of(lambda: identity.get_credentials_for_identity(
        IdentityId=identity_id, Logins=logins))
    assert code == "InvalidIdentityPoolConfigurationException", message
    time.sleep(10 * SCALE + 0.1)
    issued = identity.get_credentials_for_identity(IdentityId=identity_id, Logins=logins)
    assert issued["Credentials"]["AccessKeyId"].startswith("ASIA")


def test_bucket_refills_at_the_quota_rate() -> None:
    now = [0.0]
    throttle = Throttle(clock=lambda: now[0])
    for _ in range(5):  # UserPoolCreate: 5 requests per second, one second of burst
        throttle.admit("cognito-idp", "CreateUserPool")
    with pytest.raises(AwsError) as caught:
        throttle.admit("cognito-idp", "CreateUserPool")
    assert caught.value.code == "TooManyRequestsException"
    now[0] += 0.2  # one token back
    throttle.admit("cognito-idp", "CreateUserPool")
    throttle.admit("cognito-idp", "InitiateAuth")  # another category: its own bucket


@pytest.mark.parametrize(("service", "operation", "code"), [
    ("cognito-idp", "CreateUserPool", "TooManyRequestsException"),
    ("iam", "CreateRole", "Throttling"),
    ("dynamodb", "ListTables", "ThrottlingException"),
])
def test_throttling_answers_in_each_services_words(service: str, operation: str, code: str) -> None:
    with Emulator(port=0, realism="throttling") as running:
        throttle = running.state.realism.throttle
        frozen = throttle.clock()
        throttle.clock = lambda: frozen  # no refill while the client connects
        with contextlib.suppress(AwsError):  # drain the bucket from inside
            for _ in range(3000):
                throttle.admit(service, operation)
        api = client(running.endpoint, service, config=_no_retries())
        method = {"CreateUserPool": lambda: api.create_user_pool(PoolName=unique("throttled")),
                  "CreateRole": lambda: api.create_role(RoleName=unique("throttled"),
                                                        AssumeRolePolicyDocument="{}"),
                  "ListTables": lambda: api.list_tables()}[operation]
        assert error_of(method)[0] == code


def test_runner_policy_binds_long_term_keys_and_names_the_missing_action(tmp_path: Path) -> None:
    policy = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["iam:CreateRole", "cognito-identity:*"], "Resource": "*"}]}
    path = tmp_path / "runner.json"
    path.write_text(json.dumps(policy))
    with Emulator(port=0, runner_policy=str(path)) as running:
        iam, identity = client(running.endpoint, "iam"), client(running.endpoint, "cognito-identity")
        role = create_role(iam, unique("runner-role"), cognito_trust())
        pool_id = create_identity_pool(identity)
        code, message = error_of(lambda: identity.set_identity_pool_roles(
            IdentityPoolId=pool_id, Roles={"authenticated": role}))
        assert code == "AccessDeniedException" and "iam:PassRole" in message
        code, message = error_of(lambda: iam.delete_role(RoleName="whatever"))
        assert code == "AccessDenied" and "iam:DeleteRole" in message


def test_runner_policy_covers_issue_22s_operations(tmp_path: Path) -> None:
    """Boundaries, table policies and principal-tag maps are checked for long-term keys
    bound by a runner policy like every other call, and what was used is recorded."""
    policy = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Resource": "*", "Action": [
            "iam:CreateRole", "iam:CreatePolicy", "dynamodb:CreateTable",
            "cognito-identity:CreateIdentityPool"]}]}
    path = tmp_path / "runner.json"
    path.write_text(json.dumps(policy))
    with Emulator(port=0, runner_policy=str(path)) as running:
        iam, dynamodb = client(running.endpoint, "iam"), client(running.endpoint, "dynamodb")
        identity = client(running.endpoint, "cognito-identity")
        boundary = iam.create_policy(PolicyName=unique("b"), PolicyDocument=json.dumps(
            policy))["Policy"]["Arn"]
        role = unique("runner-bounded")
        create_role(iam, role, cognito_trust())
        table = unique("runner-table")
        dynamodb.create_table(TableName=table, BillingMode="PAY_PER_REQUEST",
                              KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                              AttributeDefinitions=[{"AttributeName": "pk",
                                                     "AttributeType": "S"}])
        pool_id = create_identity_pool(identity)
        refused = {
            "iam:PutRolePermissionsBoundary": lambda: iam.put_role_permissions_boundary(
                RoleName=role, PermissionsBoundary=boundary),
            "dynamodb:PutResourcePolicy": lambda: dynamodb.put_resource_policy(
                ResourceArn=f"arn:aws:dynamodb:{REGION}:{ACCOUNT_ID}:table/{table}",
                Policy="{}"),
            "cognito-identity:SetPrincipalTagAttributeMap":
                lambda: identity.set_principal_tag_attribute_map(
                    IdentityPoolId=pool_id, IdentityProviderName="accounts.google.com"),
        }
        for action, call in refused.items():
            code, message = error_of(call)
            assert code in ("AccessDenied", "AccessDeniedException") and action in message
        assert "iam:createrole" in running.state.runner_actions
        assert "iam:putrolepermissionsboundary" not in running.state.runner_actions


def _no_retries() -> Any:
    from botocore.config import Config
    return Config(retries={"mode": "standard", "max_attempts": 1})
