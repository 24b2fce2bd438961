"""CloudFormation on the embedded target: real `cdk synth` output deployed with the real AWS CLI.

The templates are the seed articles' CDK code synthesized by aws-cdk-lib
(fixtures/cdk/templates, see fixtures/cdk/README.md), unchanged: the CDK's
BootstrapVersion SSM parameter, the CheckBootstrapVersion rule, AWS::CDK::Metadata
and every resource's Metadata included. Each is deployed with
`aws cloudformation deploy` against a running emulator, then read back with
boto3 the way an operator (or the suite's discovery) would: ListStackResources
for physical ids, then the services themselves. Sign-in and
GetCredentialsForIdentity prove the deployed mappings hand out the roles the
seeds expect, and STS says which role the credentials are.
"""

from __future__ import annotations

import copy
import json
import logging
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import botocore.exceptions
import pytest

from rolecall.emulator import Emulator
from tests.emulator.stack import PASSWORD, REGION, client
from tests.emulator.test_aws_cli import AwsCli, aws_cli

TEMPLATES = Path(__file__).resolve().parents[2] / "fixtures" / "cdk" / "templates"


def template(name: str) -> dict[str, Any]:
    return dict(json.loads((TEMPLATES / f"{name}.template.json").read_text()))


@dataclass
class Deployed:
    """A deployed stack as the API shows it: outputs and logical id -> physical id."""

    name: str
    outputs: dict[str, str]
    physical: dict[str, str]
    types: dict[str, str]

    def of_type(self, resource_type: str) -> list[str]:
        return [self.physical[k] for k, t in self.types.items() if t == resource_type]


def deploy(cli: AwsCli, body: dict[str, Any], stack: str, directory: Path) -> Any:
    """`aws cloudformation deploy` of a template file, as a user runs it after `cdk synth`."""
    path = directory / f"{stack}.template.json"
    path.write_text(json.dumps(body, indent=1))
    return cli.run("cloudformation", "deploy", "--template-file", str(path), "--stack-name", stack,
                   "--tags", "rolecall:run=cfn-test")


def read_stack(emulator: Emulator, stack: str) -> Deployed:
    cfn = client(emulator.endpoint, "cloudformation")
    description = cfn.describe_stacks(StackName=stack)["Stacks"][0]
    assert description["StackStatus"] == "CREATE_COMPLETE"
    outputs = {o["OutputKey"]: o["OutputValue"] for o in description.get("Outputs", [])}
    summaries = cfn.list_stack_resources(StackName=stack)["StackResourceSummaries"]
    return Deployed(stack, outputs,
                    {s["LogicalResourceId"]: s["PhysicalResourceId"] for s in summaries},
                    {s["LogicalResourceId"]: s["ResourceType"] for s in summaries})


@pytest.fixture(scope="module")
def cli(emulator: Emulator, tmp_path_factory: pytest.TempPathFactory) -> AwsCli:
    return AwsCli(aws_cli(), emulator.endpoint, tmp_path_factory.mktemp("aws-home"), [])


def deployed(emulator: Emulator, cli: AwsCli, name: str, directory: Path) -> Iterator[Deployed]:
    result = deploy(cli, template(name), name, directory)
    assert result.returncode == 0, result.stderr[-1500:]
    assert f"Successfully created/updated stack - {name}" in result.stdout
    yield read_stack(emulator, name)
    client(emulator.endpoint, "cloudformation").delete_stack(StackName=name)


@pytest.fixture(scope="module")
def seed000(emulator: Emulator, cli: AwsCli,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployed]:
    yield from deployed(emulator, cli, "Seed000Stack", tmp_path_factory.mktemp("seed000"))


@pytest.fixture(scope="module")
def seed004(emulator: Emulator, cli: AwsCli,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployed]:
    yield from deployed(emulator, cli, "Seed004Stack", tmp_path_factory.mktemp("seed004"))


def add_user(emulator: Emulator, pool_id: str, groups: tuple[str, ...] = (),
             **attributes: str) -> str:
    idp = client(emulator.endpoint, "cognito-idp")
    username = f"user-{uuid.uuid4().hex[:8]}"
    idp.admin_create_user(UserPoolId=pool_id, Username=username, MessageAction="SUPPRESS",
                          UserAttributes=[{"Name": k, "Value": v} for k, v in attributes.items()])
    idp.admin_set_user_password(UserPoolId=pool_id, Username=username, Password=PASSWORD,
                                Permanent=True)
    for group in groups:
        idp.admin_add_user_to_group(UserPoolId=pool_id, Username=username, GroupName=group)
    return username


def id_token(emulator: Emulator, pool_id: str, client_id: str, username: str) -> str:
    result = client(emulator.endpoint, "cognito-idp").admin_initiate_auth(
        UserPoolId=pool_id, ClientId=client_id, AuthFlow="ADMIN_USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": username, "PASSWORD": PASSWORD})
    return str(result["AuthenticationResult"]["IdToken"])


def credentials(emulator: Emulator, identity_pool_id: str, pool_id: str,
                token: str | None) -> dict[str, str]:
    """The enhanced flow: GetId, then GetCredentialsForIdentity (a guest when token is None)."""
    ci = client(emulator.endpoint, "cognito-identity")
    logins = {f"cognito-idp.{REGION}.amazonaws.com/{pool_id}": token} if token else {}
    identity = ci.get_id(IdentityPoolId=identity_pool_id, Logins=logins)["IdentityId"]
    issued = ci.get_credentials_for_identity(IdentityId=identity, Logins=logins)["Credentials"]
    return {"aws_access_key_id": issued["AccessKeyId"],
            "aws_secret_access_key": issued["SecretKey"],
            "aws_session_token": issued["SessionToken"]}


def role_name_of(emulator: Emulator, keys: dict[str, str]) -> str:
    """The role STS says these credentials are (assumed-role/<role>/<session>)."""
    arn = client(emulator.endpoint, "sts", **keys).get_caller_identity()["Arn"]
    return str(arn.split("/")[1])


# ---------------------------------------------------------------------------
# Seed 000: L1 constructs, a Rules mapping on cognito:groups
# ---------------------------------------------------------------------------


def test_seed000_resources_are_configured_as_the_template_says(
        emulator: Emulator, seed000: Deployed) -> None:
    pool_id, client_id = seed000.outputs["UserPoolId"], seed000.outputs["UserPoolClientId"]
    identity_pool_id = seed000.outputs["IdentityPoolId"]
    assert seed000.physical["UserPool6BA7E5F2"] == pool_id
    assert seed000.physical["IdentityPool"] == identity_pool_id
    assert seed000.physical["RoleAttachment"] == identity_pool_id
    assert seed000.physical["AdminGroup"] == "admin-users"
    assert seed000.types["CDKMetadata"] == "AWS::CDK::Metadata"

    idp = client(emulator.endpoint, "cognito-idp")
    admin = idp.get_group(UserPoolId=pool_id, GroupName="admin-users")["Group"]
    assert admin["RoleArn"].endswith(":role/default-role") and admin["Precedence"] == 0
    normal = idp.get_group(UserPoolId=pool_id, GroupName="normal-users")["Group"]
    assert "RoleArn" not in normal and normal["Precedence"] == 1

    ci = client(emulator.endpoint, "cognito-identity")
    pool = ci.describe_identity_pool(IdentityPoolId=identity_pool_id)
    provider = f"cognito-idp.{REGION}.amazonaws.com/{pool_id}"
    assert pool["IdentityPoolName"] == "test-identity-pool"
    assert pool["AllowUnauthenticatedIdentities"] is False
    assert pool["CognitoIdentityProviders"] == [
        {"ProviderName": provider, "ClientId": client_id, "ServerSideTokenCheck": False}]
    assert pool["IdentityPoolTags"] == {"rolecall:run": "cfn-test"}  # the stack's tags
    roles = ci.get_identity_pool_roles(IdentityPoolId=identity_pool_id)
    assert roles["Roles"]["authenticated"].endswith(":role/default-role")
    mapping = roles["RoleMappings"][f"{provider}:{client_id}"]  # the API keys it by provider
    assert mapping["Type"] == "Rules" and mapping["AmbiguousRoleResolution"] == "AuthenticatedRole"
    assert [(r["Value"], r["RoleARN"].rsplit("/", 1)[1])
            for r in mapping["RulesConfiguration"]["Rules"]] == [
        ("admin-users", "admin-role"), ("normal-users", "normal-role")]

    trust = client(emulator.endpoint, "iam").get_role(RoleName="admin-role")["Role"][
        "AssumeRolePolicyDocument"]
    condition = trust["Statement"][0]["Condition"]
    assert condition["StringEquals"] == {"cognito-identity.amazonaws.com:aud": identity_pool_id}


@pytest.mark.parametrize(("groups", "role"), [
    (("admin-users",), "admin-role"),
    (("normal-users",), "normal-role"),
    ((), "default-role"),  # no rule matches: AmbiguousRoleResolution AuthenticatedRole
])
def test_seed000_rules_mapping_gives_the_seeds_roles(
        emulator: Emulator, seed000: Deployed, groups: tuple[str, ...], role: str) -> None:
    pool_id, client_id = seed000.outputs["UserPoolId"], seed000.outputs["UserPoolClientId"]
    token = id_token(emulator, pool_id, client_id, add_user(emulator, pool_id, groups))
    keys = credentials(emulator, seed000.outputs["IdentityPoolId"], pool_id, token)
    assert role_name_of(emulator, keys) == role


# ---------------------------------------------------------------------------
# Seed 004: the L2 IdentityPool, token and rules mappings, table grants
# ---------------------------------------------------------------------------


def test_seed004_table_has_its_indexes_and_the_pool_both_mappings(
        emulator: Emulator, seed004: Deployed) -> None:
    table = client(emulator.endpoint, "dynamodb").describe_table(
        TableName=seed004.outputs["TableName"])["Table"]
    assert [i["IndexName"] for i in table["GlobalSecondaryIndexes"]] == ["byOwner"]
    assert [i["IndexName"] for i in table["LocalSecondaryIndexes"]] == ["byCreated"]

    pool_id, identity_pool_id = seed004.outputs["UserPoolId"], seed004.outputs["IdentityPoolId"]
    provider = f"cognito-idp.{REGION}.amazonaws.com/{pool_id}"
    web, admin = seed004.outputs["WebClientId"], seed004.outputs["AdminClientId"]
    ci = client(emulator.endpoint, "cognito-identity")
    pool = ci.describe_identity_pool(IdentityPoolId=identity_pool_id)
    assert {p["ClientId"] for p in pool["CognitoIdentityProviders"]} == {web, admin}
    mappings = ci.get_identity_pool_roles(IdentityPoolId=identity_pool_id)["RoleMappings"]
    assert mappings[f"{provider}:{web}"]["Type"] == "Token"
    assert mappings[f"{provider}:{admin}"]["Type"] == "Rules"
    assert mappings[f"{provider}:{admin}"]["AmbiguousRoleResolution"] == "Deny"

    idp = client(emulator.endpoint, "cognito-idp")
    editors = idp.get_group(UserPoolId=pool_id, GroupName="editors")["Group"]
    assert editors["Precedence"] == 1
    assert editors["RoleArn"].endswith(f":role/{seed004.physical['EditorRole70630EB3']}")


def _logical_role(seed004: Deployed, emulator: Emulator, keys: dict[str, str]) -> str:
    """The logical id of the stack role the credentials are, e.g. EditorRole70630EB3."""
    name = role_name_of(emulator, keys)
    return next(k for k, v in seed004.physical.items() if v == name)


@pytest.mark.parametrize(("client_output", "groups", "attributes", "role"), [
    ("WebClientId", ("editors", "readers"), {}, "EditorRole70630EB3"),  # precedence 1 beats 2
    ("WebClientId", ("readers",), {}, "ReaderRole6150FC74"),
    ("WebClientId", (), {}, "myidentitypoolAuthenticatedRole219EBD45"),  # resolveAmbiguousRoles
    ("AdminClientId", (), {"custom:admin": "admin"}, "AdminRole38563C57"),
    ("AdminClientId", ("editors",), {"custom:admin": "user"}, "NonAdminRole6BB808EE"),
])
def test_seed004_mappings_give_the_seeds_roles(
        emulator: Emulator, seed004: Deployed, client_output: str, groups: tuple[str, ...],
        attributes: dict[str, str], role: str) -> None:
    pool_id = seed004.outputs["UserPoolId"]
    username = add_user(emulator, pool_id, groups, **attributes)
    token = id_token(emulator, pool_id, seed004.outputs[client_output], username)
    keys = credentials(emulator, seed004.outputs["IdentityPoolId"], pool_id, token)
    assert _logical_role(seed004, emulator, keys) == role


def test_seed004_rules_without_a_match_deny(emulator: Emulator, seed004: Deployed) -> None:
    pool_id = seed004.outputs["UserPoolId"]
    token = id_token(emulator, pool_id, seed004.outputs["AdminClientId"],
                     add_user(emulator, pool_id))  # no custom:admin: NotEqual does not match
    with pytest.raises(botocore.exceptions.ClientError) as refused:
        credentials(emulator, seed004.outputs["IdentityPoolId"], pool_id, token)
    assert refused.value.response["Error"]["Code"] == "NotAuthorizedException"


def test_seed004_grants_hold_on_the_deployed_table(emulator: Emulator, seed004: Deployed) -> None:
    pool_id, table = seed004.outputs["UserPoolId"], seed004.outputs["TableName"]
    item = {"pk": {"S": "a"}, "sk": {"S": "1"}, "owner": {"S": "x"}, "createdAt": {"S": "t"}}
    reader = credentials(emulator, seed004.outputs["IdentityPoolId"], pool_id, id_token(
        emulator, pool_id, seed004.outputs["WebClientId"], add_user(emulator, pool_id, ("readers",))))
    editor = credentials(emulator, seed004.outputs["IdentityPoolId"], pool_id, id_token(
        emulator, pool_id, seed004.outputs["WebClientId"], add_user(emulator, pool_id, ("editors",))))
    client(emulator.endpoint, "dynamodb", **editor).put_item(TableName=table, Item=item)
    as_reader = client(emulator.endpoint, "dynamodb", **reader)
    found = as_reader.query(TableName=table, IndexName="byOwner",
                            KeyConditionExpression="#o = :o",
                            ExpressionAttributeNames={"#o": "owner"},
                            ExpressionAttributeValues={":o": {"S": "x"}})
    assert found["Count"] == 1
    with pytest.raises(botocore.exceptions.ClientError) as denied:
        as_reader.put_item(TableName=table, Item=item)
    assert denied.value.response["Error"]["Code"] == "AccessDeniedException"
    guest = credentials(emulator, seed004.outputs["IdentityPoolId"], pool_id, None)
    assert _logical_role(seed004, emulator, guest) == "myidentitypoolUnauthenticatedRoleC5DDAE06"


# ---------------------------------------------------------------------------
# Failures, unserved types, DeleteStack
# ---------------------------------------------------------------------------


def test_mapping_key_that_is_not_a_provider_fails_the_deploy_and_rolls_back(
        emulator: Emulator, cli: AwsCli, tmp_path: Path) -> None:
    """Seed 000 with the mapping's IdentityProvider naming a client the pool does not have (P2)."""
    body = template("Seed000Stack")
    for resource in body["Resources"].values():
        resource.get("Properties", {}).pop("RoleName", None)  # seed000 is deployed too
    mapping = body["Resources"]["RoleAttachment"]["Properties"]["RoleMappings"]["cognito"]
    mapping["IdentityProvider"] = {"Fn::Join": ["", [
        {"Fn::GetAtt": ["UserPool6BA7E5F2", "ProviderName"]}, ":not-a-client"]]}
    idp, iam = client(emulator.endpoint, "cognito-idp"), client(emulator.endpoint, "iam")
    pools_before = len(idp.list_user_pools(MaxResults=60)["UserPools"])
    roles_before = len(iam.list_roles(MaxItems=1000)["Roles"])

    result = deploy(cli, body, "BadMapping", tmp_path)

    assert result.returncode != 0
    assert "Failed to create/update the stack" in result.stderr
    cfn = client(emulator.endpoint, "cloudformation")
    assert cfn.describe_stacks(StackName="BadMapping")["Stacks"][0]["StackStatus"] \
        == "ROLLBACK_COMPLETE"
    failed = [e for e in cfn.describe_stack_events(StackName="BadMapping")["StackEvents"]
              if e["ResourceStatus"] == "CREATE_FAILED"]
    assert [e["LogicalResourceId"] for e in failed] == ["RoleAttachment"]
    reason = failed[0]["ResourceStatusReason"]
    assert ":not-a-client is not a valid RoleMapping ProviderName or is not a configured " \
           "provider. (Service: AmazonCognitoIdentity; Status Code: 400; " \
           "Error Code: InvalidParameterException" in reason
    assert len(idp.list_user_pools(MaxResults=60)["UserPools"]) == pools_before  # rolled back
    assert len(iam.list_roles(MaxItems=1000)["Roles"]) == roles_before
    cfn.delete_stack(StackName="BadMapping")


def test_unserved_types_are_placeholders_with_one_warning_per_type(
        emulator: Emulator, cli: AwsCli, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    custom = f"Custom::Probe{uuid.uuid4().hex[:8]}"
    body = copy.deepcopy(template("Seed000Stack"))
    body["Resources"] = {
        "Fn1": {"Type": "AWS::Lambda::Function", "Properties": {"Runtime": "nodejs20.x"}},
        "Probe1": {"Type": custom, "Properties": {"ServiceToken": {"Fn::GetAtt": ["Fn1", "Arn"]}}},
        "Probe2": {"Type": custom, "Properties": {"ServiceToken": {"Fn::GetAtt": ["Fn1", "Arn"]}}},
        "Pool": {"Type": "AWS::Cognito::UserPool",
                 "Properties": {"LambdaConfig": {"PreSignUp": {"Fn::GetAtt": ["Fn1", "Arn"]}}}},
    }
    body["Outputs"] = {"PoolId": {"Value": {"Ref": "Pool"}}}
    with caplog.at_level(logging.WARNING, logger="rolecall.emulator.cloudformation"):
        result = deploy(cli, body, "Unserved", tmp_path)
    assert result.returncode == 0, result.stderr[-1500:]
    warnings = [r.getMessage() for r in caplog.records if custom in r.getMessage()]
    assert len(warnings) == 1 and "not served by the embedded target" in warnings[0]
    deployed = read_stack(emulator, "Unserved")
    assert deployed.types["Probe2"] == custom
    assert deployed.physical["Probe2"].startswith("rolecall-placeholder-")
    assert deployed.physical["Pool"] == deployed.outputs["PoolId"]
    client(emulator.endpoint, "cloudformation").delete_stack(StackName="Unserved")


def test_redeploy_updates_in_place_and_delete_stack_removes_everything(
        emulator: Emulator, cli: AwsCli, tmp_path: Path) -> None:
    body = template("Seed004Stack")
    result = deploy(cli, body, "Seed004Delete", tmp_path)
    assert result.returncode == 0, result.stderr[-1500:]
    deployed = read_stack(emulator, "Seed004Delete")

    unchanged = deploy(cli, body, "Seed004Delete", tmp_path)  # the CLI's default: exit 255
    assert "No changes to deploy. Stack Seed004Delete is up to date" in unchanged.stderr
    body["Resources"]["ReadersGroup"]["Properties"]["Precedence"] = 7
    changed = deploy(cli, body, "Seed004Delete", tmp_path)
    assert changed.returncode == 0, changed.stderr[-1500:]
    readers = client(emulator.endpoint, "cognito-idp").get_group(
        UserPoolId=deployed.outputs["UserPoolId"], GroupName="readers")["Group"]
    assert readers["Precedence"] == 7  # updated in place: same user pool, same group
    client(emulator.endpoint, "cloudformation").delete_stack(StackName="Seed004Delete")

    idp, ci = client(emulator.endpoint, "cognito-idp"), client(emulator.endpoint, "cognito-identity")
    iam, ddb = client(emulator.endpoint, "iam"), client(emulator.endpoint, "dynamodb")
    gone = [
        lambda: idp.describe_user_pool(UserPoolId=deployed.outputs["UserPoolId"]),
        lambda: ci.describe_identity_pool(IdentityPoolId=deployed.outputs["IdentityPoolId"]),
        lambda: ddb.describe_table(TableName=deployed.outputs["TableName"]),
        *[lambda name=name: iam.get_role(RoleName=name)
          for name in deployed.of_type("AWS::IAM::Role")],
    ]
    for call in gone:
        with pytest.raises(botocore.exceptions.ClientError):
            call()
    stacks = client(emulator.endpoint, "cloudformation").list_stacks()["StackSummaries"]
    assert {s["StackStatus"] for s in stacks if s["StackName"] == "Seed004Delete"} \
        == {"DELETE_COMPLETE"}


@pytest.mark.parametrize(("parameter", "version", "error"), [
    # the CDK's own CheckBootstrapVersion rule, against an account bootstrapped long ago
    ("/cdk-bootstrap/oldboot/version", "5", "CDK bootstrap stack version 6 required"),
    # an SSM parameter nobody created (only /cdk-bootstrap/<qualifier>/version is seeded)
    ("/rolecall/not-there", None, "Unable to fetch parameters [/rolecall/not-there]"),
])
def test_parameters_and_rules_are_checked_before_anything_is_created(
        emulator: Emulator, parameter: str, version: str | None, error: str) -> None:
    if version is not None:
        client(emulator.endpoint, "ssm").put_parameter(Name=parameter, Value=version,
                                                      Type="String", Overwrite=True)
    body = template("Seed000Stack")
    body["Parameters"]["BootstrapVersion"]["Default"] = parameter
    stack = f"Checked{uuid.uuid4().hex[:6]}"
    cfn = client(emulator.endpoint, "cloudformation")

    with pytest.raises(botocore.exceptions.ClientError) as refused:  # what `deploy` calls first
        cfn.create_change_set(StackName=stack, ChangeSetName="deploy", ChangeSetType="CREATE",
                              TemplateBody=json.dumps(body))

    assert refused.value.response["Error"]["Code"] == "ValidationError"
    assert error in refused.value.response["Error"]["Message"]
    stacks = cfn.list_stacks()["StackSummaries"]
    assert stack not in {s["StackName"] for s in stacks}  # refused before anything existed
