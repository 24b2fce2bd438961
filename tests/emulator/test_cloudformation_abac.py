"""Issue 22's stack with `aws cloudformation deploy`: a boundary, a table policy, principal tags.

The template is what a CDK app with a landing-zone boundary, a table resource policy
and an AWS::Cognito::IdentityPoolPrincipalTag synthesizes (written out by hand here,
in the CDK's shapes): every part must be configured as written, and the deployed
stack must decide as AWS would (the boundary's Deny, the table policy's Deny, the
tenant confined to its partition). Invalid parts fail the deploy and roll it back.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from rolecall.emulator import ACCOUNT_ID, Emulator
from tests.emulator.stack import REGION, client, error_of
from tests.emulator.test_aws_cli import AwsCli, aws_cli
from tests.emulator.test_cloudformation import Deployed, add_user, deploy, id_token, read_stack

from .test_dynamodb_auth import NO_RETRIES

STACK = "AbacStack"


def template() -> dict[str, Any]:
    table_arn = {"Fn::GetAtt": ["Orders", "Arn"]}
    return {"Resources": {
        "Boundary": {"Type": "AWS::IAM::ManagedPolicy", "Properties": {"PolicyDocument": {
            "Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": "dynamodb:*", "Resource": "*"},
                {"Effect": "Deny", "Action": "dynamodb:DeleteItem", "Resource": "*"}]}}},
        "UserPool": {"Type": "AWS::Cognito::UserPool", "Properties": {"Schema": [
            {"Name": "tenant", "AttributeDataType": "String", "Mutable": True}]}},
        "Client": {"Type": "AWS::Cognito::UserPoolClient", "Properties": {
            "UserPoolId": {"Ref": "UserPool"},
            "ExplicitAuthFlows": ["ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]}},
        "Pool": {"Type": "AWS::Cognito::IdentityPool", "Properties": {
            "AllowUnauthenticatedIdentities": False,
            "CognitoIdentityProviders": [{"ClientId": {"Ref": "Client"},
                                          "ProviderName": {"Fn::GetAtt": ["UserPool",
                                                                          "ProviderName"]}}]}},
        "Staff": {"Type": "AWS::IAM::Role", "Properties": {
            "PermissionsBoundary": {"Ref": "Boundary"},
            "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": {"Federated": "cognito-identity.amazonaws.com"},
                "Action": ["sts:AssumeRoleWithWebIdentity", "sts:TagSession"],
                "Condition": {"StringEquals": {
                    "cognito-identity.amazonaws.com:aud": {"Ref": "Pool"}}}}]},
            "Policies": [{"PolicyName": "tenant", "PolicyDocument": {
                "Version": "2012-10-17", "Statement": [{
                    "Effect": "Allow", "Resource": table_arn,
                    "Action": ["dynamodb:GetItem", "dynamodb:DeleteItem", "dynamodb:Scan"],
                    "Condition": {"ForAllValues:StringEquals": {
                        "dynamodb:LeadingKeys": ["${aws:PrincipalTag/tenant}"]}}}]}}]}},
        "Orders": {"Type": "AWS::DynamoDB::Table", "Properties": {
            "BillingMode": "PAY_PER_REQUEST",
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
            "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
            "ResourcePolicy": {"PolicyDocument": {"Version": "2012-10-17", "Statement": [{
                "Effect": "Deny", "Principal": "*", "Action": "dynamodb:Scan",
                "Resource": "*"}]}}}},
        "Attachment": {"Type": "AWS::Cognito::IdentityPoolRoleAttachment", "Properties": {
            "IdentityPoolId": {"Ref": "Pool"},
            "Roles": {"authenticated": {"Fn::GetAtt": ["Staff", "Arn"]}}}},
        "Tags": {"Type": "AWS::Cognito::IdentityPoolPrincipalTag", "Properties": {
            "IdentityPoolId": {"Ref": "Pool"},
            "IdentityProviderName": {"Fn::GetAtt": ["UserPool", "ProviderName"]},
            "UseDefaults": False, "PrincipalTags": {"tenant": "custom:tenant"}}},
    }}


@pytest.fixture(scope="module")
def cli(emulator: Emulator, tmp_path_factory: pytest.TempPathFactory) -> AwsCli:
    return AwsCli(aws_cli(), emulator.endpoint, tmp_path_factory.mktemp("abac-home"), [])


@pytest.fixture(scope="module")
def stack(emulator: Emulator, cli: AwsCli,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployed]:
    result = deploy(cli, template(), STACK, tmp_path_factory.mktemp("abac"))
    assert result.returncode == 0, result.stderr[-1500:]
    yield read_stack(emulator, STACK)
    client(emulator.endpoint, "cloudformation").delete_stack(StackName=STACK)


def test_every_part_is_configured_as_the_template_says(emulator: Emulator,
                                                       stack: Deployed) -> None:
    iam, dynamodb = client(emulator.endpoint, "iam"), client(emulator.endpoint, "dynamodb")
    role = iam.get_role(RoleName=stack.physical["Staff"])["Role"]
    assert role["PermissionsBoundary"]["PermissionsBoundaryArn"] == stack.physical["Boundary"]
    table_arn = f"arn:aws:dynamodb:{REGION}:{ACCOUNT_ID}:table/{stack.physical['Orders']}"
    policy = json.loads(dynamodb.get_resource_policy(ResourceArn=table_arn)["Policy"])
    assert policy["Statement"][0]["Action"] == "dynamodb:Scan"
    pool_id, provider = stack.physical["Tags"].split("|", 1)
    assert pool_id == stack.physical["Pool"]
    mapped = client(emulator.endpoint, "cognito-identity").get_principal_tag_attribute_map(
        IdentityPoolId=pool_id, IdentityProviderName=provider)
    assert (mapped["UseDefaults"], mapped["PrincipalTags"]) == (False, {"tenant": "custom:tenant"})


def _tenant_client(emulator: Emulator, stack: Deployed, tenant: str) -> Any:
    pool, client_id = stack.physical["UserPool"], stack.physical["Client"]
    token = id_token(emulator, pool, client_id, add_user(emulator, pool, **{
        "custom:tenant": tenant}))
    ci = client(emulator.endpoint, "cognito-identity")
    logins = {f"cognito-idp.{REGION}.amazonaws.com/{pool}": token}
    identity = ci.get_id(IdentityPoolId=stack.physical["Pool"], Logins=logins)["IdentityId"]
    keys = ci.get_credentials_for_identity(IdentityId=identity, Logins=logins)["Credentials"]
    return boto3.client("dynamodb", endpoint_url=emulator.endpoint, region_name=REGION,
                        config=NO_RETRIES, aws_access_key_id=keys["AccessKeyId"],
                        aws_secret_access_key=keys["SecretKey"],
                        aws_session_token=keys["SessionToken"])


def test_the_deployed_stack_decides_as_aws_would(emulator: Emulator, stack: Deployed) -> None:
    table = stack.physical["Orders"]
    admin = client(emulator.endpoint, "dynamodb")
    for tenant in ("t1", "t2"):
        admin.put_item(TableName=table, Item={"pk": {"S": tenant}})
    staff = _tenant_client(emulator, stack, "t1")
    assert staff.get_item(TableName=table, Key={"pk": {"S": "t1"}})["Item"]
    reasons = {
        "own-delete": error_of(lambda: staff.delete_item(TableName=table,
                                                         Key={"pk": {"S": "t1"}}))[1],
        "other-tenant": error_of(lambda: staff.get_item(TableName=table,
                                                        Key={"pk": {"S": "t2"}}))[1],
        "scan": error_of(lambda: staff.scan(TableName=table))[1],
    }
    assert reasons["own-delete"].endswith("with an explicit deny in a permissions boundary")
    assert reasons["other-tenant"].endswith(
        "because no identity-based policy allows the dynamodb:GetItem action")
    assert reasons["scan"].endswith("with an explicit deny in a resource-based policy")


@pytest.mark.parametrize(("part", "change", "reason"), [
    ("Staff", {"PermissionsBoundary": f"arn:aws:iam::{ACCOUNT_ID}:policy/no-such-boundary"},
     "does not exist or is not attachable."),
    ("Orders", {"ResourcePolicy": {"PolicyDocument": {"Version": "2012-10-17", "Statement": [{
        "Effect": "Deny", "Action": "dynamodb:Scan", "Resource": "*"}]}}},
     "Each statement needs a Principal or NotPrincipal"),
], ids=["missing-boundary", "table-policy-without-principal"])
def test_an_invalid_part_rolls_the_stack_back(emulator: Emulator, cli: AwsCli, tmp_path: Path,
                                              part: str, change: dict[str, Any],
                                              reason: str) -> None:
    body = copy.deepcopy(template())
    body["Resources"][part]["Properties"].update(change)
    name = f"AbacBroken{part}"
    result = deploy(cli, body, name, tmp_path)
    assert result.returncode != 0
    cfn = client(emulator.endpoint, "cloudformation")
    assert cfn.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"] == "ROLLBACK_COMPLETE"
    failed = [e for e in cfn.describe_stack_events(StackName=name)["StackEvents"]
              if e.get("ResourceStatus") == "CREATE_FAILED"]
    assert failed and failed[0]["LogicalResourceId"] == part
    assert reason in failed[0]["ResourceStatusReason"]
    cfn.delete_stack(StackName=name)


def test_a_redeploy_replaces_the_table_policy(emulator: Emulator, cli: AwsCli,
                                              tmp_path: Path) -> None:
    name = "AbacRedeploy"
    body = copy.deepcopy(template())
    first = deploy(cli, body, name, tmp_path)
    assert first.returncode == 0, first.stderr[-1500:]
    table = read_stack(emulator, name).physical["Orders"]
    statement = body["Resources"]["Orders"]["Properties"]["ResourcePolicy"]["PolicyDocument"][
        "Statement"][0]
    statement["Action"] = "dynamodb:Query"
    again = deploy(cli, body, name, tmp_path)
    assert again.returncode == 0, again.stderr[-1500:]
    table_arn = f"arn:aws:dynamodb:{REGION}:{ACCOUNT_ID}:table/{table}"
    policy = json.loads(client(emulator.endpoint, "dynamodb").get_resource_policy(
        ResourceArn=table_arn)["Policy"])
    assert policy["Statement"][0]["Action"] == "dynamodb:Query"
    cfn = client(emulator.endpoint, "cloudformation")
    resources = cfn.list_stack_resources(StackName=name)["StackResourceSummaries"]
    assert {r["LogicalResourceId"]: r["PhysicalResourceId"] for r in resources}["Orders"] == table
    cfn.delete_stack(StackName=name)
    assert table not in client(emulator.endpoint, "dynamodb").list_tables()["TableNames"]
    assert error_of(lambda: client(emulator.endpoint, "dynamodb").get_resource_policy(
        ResourceArn=table_arn))[0] == "ResourceNotFoundException"
