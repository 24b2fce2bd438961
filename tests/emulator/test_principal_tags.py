"""Attributes for access control (SPEC A1-A4) through real boto3 clients and the AWS CLI.

A pool maps ID-token claims to principal tags per provider (Set/GetPrincipalTagAttributeMap);
the enhanced flow's credentials carry them as aws:PrincipalTag/<tag>, usable in conditions
and as ${aws:PrincipalTag/<tag>} in dynamodb:LeadingKeys: a tenant reads and writes its own
partition and is refused on another's. The role's trust policy must allow sts:TagSession;
the classic flow carries no tags.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

from rolecall.emulator import ACCOUNT_ID, Emulator
from tests.emulator.stack import (
    REGION,
    UserPool,
    admin_clients,
    client,
    create_identity_pool,
    create_user_pool,
    error_of,
    unique,
)
from tests.emulator.test_aws_cli import AwsCli, aws_cli

from .test_dynamodb_auth import NO_RETRIES, allow, deny, policy, table_arn

TENANT = "tenant"
CLAIM = "custom:tenant"


def trust(pool_id: str, tag_session: bool = True) -> dict[str, Any]:
    actions = ["sts:AssumeRoleWithWebIdentity"] + (["sts:TagSession"] if tag_session else [])
    return {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Federated": "cognito-identity.amazonaws.com"},
        "Action": actions,
        "Condition": {"StringEquals": {"cognito-identity.amazonaws.com:aud": pool_id}}}]}


def tenant_only(table: str) -> dict[str, Any]:
    """The multi-tenant policy: items whose partition key is the caller's tenant tag."""
    return allow(["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"], table_arn(table),
                 Condition={"ForAllValues:StringEquals": {
                     "dynamodb:LeadingKeys": ["${aws:PrincipalTag/tenant}"]}})


@dataclass
class Tenancy:
    """A user pool (with a custom:tenant attribute), an identity pool, a role, a table."""

    endpoint: str
    up: UserPool
    pool_id: str
    role_arn: str
    table: str

    @property
    def provider(self) -> str:
        return self.up.provider_name

    def user(self, tenant: str | None) -> str:
        return self.up.add_user(**({CLAIM: tenant} if tenant else {}))

    def enhanced(self, username: str, endpoint: str | None = None) -> dict[str, Any]:
        """GetId + GetCredentialsForIdentity against `endpoint` (a faulty emulator's, say)."""
        ci = client(endpoint or self.endpoint, "cognito-identity")
        logins = {self.provider: self.up.id_token(username)}
        identity = ci.get_id(IdentityPoolId=self.pool_id, Logins=logins)["IdentityId"]
        return dict(ci.get_credentials_for_identity(IdentityId=identity, Logins=logins)[
            "Credentials"])

    def classic(self, username: str, endpoint: str | None = None) -> dict[str, Any]:
        """GetId + GetOpenIdToken + AssumeRoleWithWebIdentity."""
        target = endpoint or self.endpoint
        ci = client(target, "cognito-identity")
        logins = {self.provider: self.up.id_token(username)}
        identity = ci.get_id(IdentityPoolId=self.pool_id, Logins=logins)["IdentityId"]
        token = ci.get_open_id_token(IdentityId=identity, Logins=logins)["Token"]
        sts = client(target, "sts")
        assumed = sts.assume_role_with_web_identity(RoleArn=self.role_arn, WebIdentityToken=token,
                                                    RoleSessionName="classic")
        credentials = dict(assumed["Credentials"])
        credentials["SecretKey"] = credentials["SecretAccessKey"]
        return credentials

    def dynamodb(self, credentials: dict[str, Any], endpoint: str | None = None) -> Any:
        return boto3.client("dynamodb", endpoint_url=endpoint or self.endpoint,
                            region_name=REGION, config=NO_RETRIES,
                            aws_access_key_id=credentials["AccessKeyId"],
                            aws_secret_access_key=credentials["SecretKey"],
                            aws_session_token=credentials["SessionToken"])


def tenancy(endpoint: str, *statements: dict[str, Any], tag_session: bool = True,
            tags: dict[str, str] | None = None, use_defaults: bool = False,
            role_tags: dict[str, str] | None = None) -> Tenancy:
    idp, iam, ci = admin_clients(endpoint)
    up = create_user_pool(idp, Schema=[{"Name": TENANT, "AttributeDataType": "String",
                                        "Mutable": True}])
    pool_id = create_identity_pool(ci, [up.provider()], AllowClassicFlow=True)
    name = unique("tenant-role")
    kwargs: dict[str, Any] = {"RoleName": name,
                              "AssumeRolePolicyDocument": json.dumps(trust(pool_id, tag_session))}
    if role_tags:
        kwargs["Tags"] = [{"Key": k, "Value": v} for k, v in role_tags.items()]
    role_arn = str(iam.create_role(**kwargs)["Role"]["Arn"])
    table = unique("tenants")
    client(endpoint, "dynamodb").create_table(
        TableName=table, BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}])
    for tenant in ("t1", "t2"):
        client(endpoint, "dynamodb").put_item(TableName=table, Item={"pk": {"S": tenant}})
    iam.put_role_policy(RoleName=name, PolicyName="abac", PolicyDocument=json.dumps(
        policy(*(statements or (tenant_only(table),)))))
    ci.set_identity_pool_roles(IdentityPoolId=pool_id, Roles={"authenticated": role_arn})
    ci.set_principal_tag_attribute_map(IdentityPoolId=pool_id, IdentityProviderName=up.provider_name,
                                       UseDefaults=use_defaults,
                                       PrincipalTags={TENANT: CLAIM} if tags is None else tags)
    return Tenancy(endpoint, up, pool_id, role_arn, table)


def item(tenant: str) -> dict[str, Any]:
    return {"pk": {"S": tenant}}


# --------------------------------------------------------------------------- the API (A1)


def test_set_and_get_the_map(emulator: Emulator) -> None:
    idp, _, ci = admin_clients(emulator.endpoint)
    up = create_user_pool(idp)
    pool_id = create_identity_pool(ci, [up.provider()])
    answer = ci.set_principal_tag_attribute_map(
        IdentityPoolId=pool_id, IdentityProviderName=up.provider_name, UseDefaults=False,
        PrincipalTags={TENANT: CLAIM, "dept": "custom:dept"})
    expected = {"IdentityPoolId": pool_id, "IdentityProviderName": up.provider_name,
                "UseDefaults": False, "PrincipalTags": {TENANT: CLAIM, "dept": "custom:dept"}}
    assert {k: answer[k] for k in expected} == expected
    got = ci.get_principal_tag_attribute_map(IdentityPoolId=pool_id,
                                             IdentityProviderName=up.provider_name)
    assert {k: got[k] for k in expected} == expected
    ci.set_principal_tag_attribute_map(IdentityPoolId=pool_id,
                                       IdentityProviderName=up.provider_name, UseDefaults=True)
    got = ci.get_principal_tag_attribute_map(IdentityPoolId=pool_id,
                                             IdentityProviderName=up.provider_name)
    assert (got["UseDefaults"], got["PrincipalTags"]) == (True, {})  # replaced, not merged


def test_refusals_of_the_map_api(emulator: Emulator) -> None:
    idp, _, ci = admin_clients(emulator.endpoint)
    up = create_user_pool(idp)
    pool_id = create_identity_pool(ci, [up.provider()])
    missing_pool = f"{REGION}:00000000-0000-0000-0000-000000000000"
    assert error_of(lambda: ci.set_principal_tag_attribute_map(
        IdentityPoolId=missing_pool, IdentityProviderName=up.provider_name))[0] == (
        "ResourceNotFoundException")
    other = create_user_pool(idp).provider_name
    code, message = error_of(lambda: ci.set_principal_tag_attribute_map(
        IdentityPoolId=pool_id, IdentityProviderName=other, PrincipalTags={TENANT: CLAIM}))
    assert (code, message) == ("InvalidParameterException", f"{other} is not a configured "
                               f"identity provider of identity pool {pool_id}.")
    assert error_of(lambda: ci.get_principal_tag_attribute_map(
        IdentityPoolId=pool_id, IdentityProviderName=up.provider_name))[0] == (
        "ResourceNotFoundException")  # never set
    too_many = {f"t{n}": "sub" for n in range(51)}
    assert error_of(lambda: ci.set_principal_tag_attribute_map(
        IdentityPoolId=pool_id, IdentityProviderName=up.provider_name,
        PrincipalTags=too_many))[0] == "InvalidParameterException"


# --------------------------------------------------------------------------- the enhanced flow (A2)


def test_a_tenant_reads_and_writes_its_own_partition_only(emulator: Emulator) -> None:
    world = tenancy(emulator.endpoint)
    dynamodb = world.dynamodb(world.enhanced(world.user("t1")))
    assert dynamodb.get_item(TableName=world.table, Key=item("t1"))["Item"] == item("t1")
    dynamodb.put_item(TableName=world.table, Item={**item("t1"), "note": {"S": "mine"}})
    dynamodb.query(TableName=world.table, KeyConditionExpression="pk = :p",
                   ExpressionAttributeValues={":p": {"S": "t1"}})
    session = (f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/{world.role_arn.rsplit('/', 1)[-1]}"
               "/CognitoIdentityCredentials")
    for call, action in ((lambda: dynamodb.get_item(TableName=world.table, Key=item("t2")),
                          "dynamodb:GetItem"),
                         (lambda: dynamodb.put_item(TableName=world.table, Item=item("t2")),
                          "dynamodb:PutItem")):
        assert error_of(call) == ("AccessDeniedException", (
            f"User: {session} is not authorized to perform: {action} on resource: "
            f"{table_arn(world.table)} because no identity-based policy allows the {action} "
            "action"))


def test_a_claim_missing_from_the_token_sets_no_tag(emulator: Emulator,
                                                    faulty_emulator: Callable[..., Emulator]
                                                    ) -> None:
    """The Null condition tells "no tag" from "an empty tag" (fault tags-missing-claim-empty)."""
    world = tenancy(emulator.endpoint, allow("dynamodb:GetItem"), deny(
        "dynamodb:GetItem", Condition={"Null": {"aws:PrincipalTag/tenant": "true"}}))
    nobody = world.user(None)
    code, message = error_of(lambda: world.dynamodb(world.enhanced(nobody)).get_item(
        TableName=world.table, Key=item("t1")))
    assert code == "AccessDeniedException" and message.endswith(
        "with an explicit deny in an identity-based policy")
    world.dynamodb(world.enhanced(world.user("t1"))).get_item(TableName=world.table,
                                                              Key=item("t1"))
    faulty = faulty_emulator("tags-missing-claim-empty")
    world.dynamodb(world.enhanced(nobody, faulty.endpoint), faulty.endpoint).get_item(
        TableName=world.table, Key=item("t1"))  # ALLOWED by the fault


def test_default_mappings_tag_username_with_sub_and_client_with_aud(
        emulator: Emulator, faulty_emulator: Callable[..., Emulator]) -> None:
    world = tenancy(emulator.endpoint, tags={}, use_defaults=True)
    user = world.user(None)
    attributes = world.up.idp.admin_get_user(UserPoolId=world.up.pool_id, Username=user)
    sub = next(a["Value"] for a in attributes["UserAttributes"] if a["Name"] == "sub")
    # the app client and the user are known only now: allow GetItem to exactly their tags
    _, iam, _ = admin_clients(emulator.endpoint)
    iam.put_role_policy(RoleName=world.role_arn.rsplit("/", 1)[-1], PolicyName="abac",
                        PolicyDocument=json.dumps(policy(allow("dynamodb:GetItem", Condition={
                            "StringEquals": {"aws:PrincipalTag/client": world.up.client_id,
                                             "aws:PrincipalTag/username": sub}}))))
    world.dynamodb(world.enhanced(user)).get_item(TableName=world.table, Key=item("t1"))
    faulty = faulty_emulator("tags-default-mapping-swapped")
    swapped = world.dynamodb(world.enhanced(user, faulty.endpoint), faulty.endpoint)
    assert error_of(lambda: swapped.get_item(TableName=world.table, Key=item("t1")))[0] == (
        "AccessDeniedException")


def test_role_tags_are_principal_tags_and_session_tags_override_them(emulator: Emulator) -> None:
    world = tenancy(emulator.endpoint, allow("dynamodb:GetItem", Condition={
        "StringEquals": {"aws:PrincipalTag/team": "blue", "aws:PrincipalTag/tenant": "t1"}}),
        role_tags={"team": "blue", "Tenant": "from-role"})
    dynamodb = world.dynamodb(world.enhanced(world.user("t1")))
    dynamodb.get_item(TableName=world.table, Key=item("t1"))  # team from the role, tenant t1


# --------------------------------------------------------------------------- sts:TagSession (A3)


def test_a_role_without_tag_session_gets_no_tagged_credentials(
        emulator: Emulator, faulty_emulator: Callable[..., Emulator]) -> None:
    world = tenancy(emulator.endpoint, tag_session=False)
    user = world.user("t1")
    assert error_of(lambda: world.enhanced(user)) == (
        "InvalidIdentityPoolConfigurationException",
        "Invalid identity pool configuration. Check assigned IAM roles for this pool.")
    untagged = world.user(None)  # no claim, no tag, no sts:TagSession needed
    world.enhanced(untagged)
    faulty = faulty_emulator("tagsession-unchecked")
    world.enhanced(user, faulty.endpoint)  # issued by the fault


# --------------------------------------------------------------------------- the classic flow (A2)


def test_the_classic_flow_sets_no_tags(emulator: Emulator,
                                       faulty_emulator: Callable[..., Emulator]) -> None:
    world = tenancy(emulator.endpoint)
    user = world.user("t1")
    classic = world.dynamodb(world.classic(user))
    assert error_of(lambda: classic.get_item(TableName=world.table, Key=item("t1")))[0] == (
        "AccessDeniedException")  # no tag: ${aws:PrincipalTag/tenant} cannot resolve
    faulty = faulty_emulator("tags-on-classic-flow")
    world.dynamodb(world.classic(user, faulty.endpoint), faulty.endpoint).get_item(
        TableName=world.table, Key=item("t1"))  # ALLOWED by the fault


# --------------------------------------------------------------------------- a writable attribute (A4)


def test_a_changed_attribute_changes_the_next_sessions_tag(
        emulator: Emulator, faulty_emulator: Callable[..., Emulator]) -> None:
    world = tenancy(emulator.endpoint)
    user = world.user("t1")
    world.enhanced(user)  # the identity's first sign-in, as tenant t1
    faulty = faulty_emulator("tags-from-first-login")
    world.enhanced(user, faulty.endpoint)
    world.up.idp.admin_update_user_attributes(UserPoolId=world.up.pool_id, Username=user,
                                              UserAttributes=[{"Name": CLAIM, "Value": "t2"}])
    world.dynamodb(world.enhanced(user)).get_item(TableName=world.table, Key=item("t2"))
    stale = world.dynamodb(world.enhanced(user, faulty.endpoint), faulty.endpoint)
    assert error_of(lambda: stale.get_item(TableName=world.table, Key=item("t2")))[0] == (
        "AccessDeniedException")  # the fault kept t1


# --------------------------------------------------------------------------- the AWS CLI


def test_principal_tags_with_the_aws_cli(emulator: Emulator, tmp_path: Path) -> None:
    world = tenancy(emulator.endpoint, tags={})
    cli = AwsCli(aws_cli(), emulator.endpoint, tmp_path, [])
    set_answer = cli.ok("cognito-identity", "set-principal-tag-attribute-map",
                        "--identity-pool-id", world.pool_id,
                        "--identity-provider-name", world.provider,
                        "--no-use-defaults", "--principal-tags", f"{TENANT}={CLAIM}")
    assert set_answer["PrincipalTags"] == {TENANT: CLAIM}
    got = cli.ok("cognito-identity", "get-principal-tag-attribute-map", "--identity-pool-id",
                 world.pool_id, "--identity-provider-name", world.provider)
    assert (got["UseDefaults"], got["PrincipalTags"]) == (False, {TENANT: CLAIM})
    user = world.user("t1")
    token = world.up.id_token(user)
    cli.remember(token)
    logins = f"{world.provider}={token}"
    identity = cli.ok("cognito-identity", "get-id", "--identity-pool-id", world.pool_id,
                      "--logins", logins)["IdentityId"]
    issued = cli.ok("cognito-identity", "get-credentials-for-identity", "--identity-id",
                    identity, "--logins", logins)["Credentials"]
    keys = {"AWS_ACCESS_KEY_ID": issued["AccessKeyId"],
            "AWS_SECRET_ACCESS_KEY": issued["SecretKey"],
            "AWS_SESSION_TOKEN": issued["SessionToken"]}
    cli.remember(*keys.values())
    own = cli.ok("dynamodb", "get-item", "--table-name", world.table, "--key",
                 json.dumps(item("t1")), keys=keys)
    assert own["Item"] == item("t1")
    other = cli.run("dynamodb", "get-item", "--table-name", world.table, "--key",
                    json.dumps(item("t2")), keys=keys)
    assert other.returncode != 0 and "AccessDeniedException" in other.stderr
