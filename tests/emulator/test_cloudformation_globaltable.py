"""The CDK's TableV2 (AWS::DynamoDB::GlobalTable) with `aws cloudformation deploy`.

fixtures/cdk/templates/GlobalTableStack.template.json is real `cdk synth` output
(fixtures/cdk/app/globaltable.js): a TableV2 with a sort key, a GSI and a resource policy
on its one replica, a staff role granted read-write through the CDK. The stack's region
replica must be a real table, its policy attached, GetAtt Arn the table's ARN (the
role's grant names it), and DeleteStack must remove it.
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
from tests.emulator.test_cloudformation import (
    Deployed,
    add_user,
    credentials,
    deploy,
    deployed,
    id_token,
    read_stack,
    template,
)

from .test_dynamodb_auth import NO_RETRIES

STACK = "GlobalTableStack"
TABLE = "OrdersA9B65338"


@pytest.fixture(scope="module")
def cli(emulator: Emulator, tmp_path_factory: pytest.TempPathFactory) -> AwsCli:
    return AwsCli(aws_cli(), emulator.endpoint, tmp_path_factory.mktemp("gt-home"), [])


@pytest.fixture(scope="module")
def stack(emulator: Emulator, cli: AwsCli,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployed]:
    yield from deployed(emulator, cli, STACK, tmp_path_factory.mktemp("globaltable"))


def test_the_replica_is_a_table_as_the_template_says(emulator: Emulator, stack: Deployed) -> None:
    name = stack.physical[TABLE]
    dynamodb = client(emulator.endpoint, "dynamodb")
    table = dynamodb.describe_table(TableName=name)["Table"]
    assert [k["AttributeName"] for k in table["KeySchema"]] == ["tenant", "order"]
    assert [i["IndexName"] for i in table["GlobalSecondaryIndexes"]] == ["byStatus"]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    arn = f"arn:aws:dynamodb:{REGION}:{ACCOUNT_ID}:table/{name}"
    assert stack.outputs == {"TableName": name, "TableArn": arn}
    policy = json.loads(dynamodb.get_resource_policy(ResourceArn=arn)["Policy"])
    assert policy["Statement"][0]["Effect"] == "Deny"
    assert policy["Statement"][0]["Action"] == "dynamodb:DeleteItem"


def _staff(emulator: Emulator, stack: Deployed) -> Any:
    pool = stack.of_type("AWS::Cognito::UserPool")[0]
    app = stack.of_type("AWS::Cognito::UserPoolClient")[0]
    token = id_token(emulator, pool, app, add_user(emulator, pool, groups=("staff",)))
    keys = credentials(emulator, stack.of_type("AWS::Cognito::IdentityPool")[0], pool, token)
    return boto3.client("dynamodb", endpoint_url=emulator.endpoint, region_name=REGION,
                        config=NO_RETRIES, **keys)


def test_the_grant_and_the_replica_policy_decide(emulator: Emulator, stack: Deployed) -> None:
    name = stack.physical[TABLE]
    staff = _staff(emulator, stack)
    item = {"tenant": {"S": "t1"}, "order": {"S": "o1"}, "status": {"S": "open"}}
    staff.put_item(TableName=name, Item=item)
    found = staff.query(TableName=name, IndexName="byStatus",
                        KeyConditionExpression="#s = :s", ExpressionAttributeNames={"#s": "status"},
                        ExpressionAttributeValues={":s": {"S": "open"}})
    assert found["Count"] == 1
    code, reason = error_of(lambda: staff.delete_item(
        TableName=name, Key={"tenant": {"S": "t1"}, "order": {"S": "o1"}}))
    assert code == "AccessDeniedException"
    assert reason.endswith("with an explicit deny in a resource-based policy")


def test_a_global_table_without_the_stacks_region_rolls_back(
        emulator: Emulator, cli: AwsCli, tmp_path: Path) -> None:
    body = copy.deepcopy(template(STACK))
    for replica in body["Resources"][TABLE]["Properties"]["Replicas"]:
        replica["Region"] = "ap-southeast-2" if REGION != "ap-southeast-2" else "eu-west-1"
    name = "GlobalTableElsewhere"
    before = client(emulator.endpoint, "dynamodb").list_tables()["TableNames"]
    result = deploy(cli, body, name, tmp_path)
    assert result.returncode != 0
    cfn = client(emulator.endpoint, "cloudformation")
    assert cfn.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"] == "ROLLBACK_COMPLETE"
    failed = [e for e in cfn.describe_stack_events(StackName=name)["StackEvents"]
              if e.get("ResourceStatus") == "CREATE_FAILED"]
    assert failed and failed[0]["LogicalResourceId"] == TABLE
    assert "The Replicas section must contain an entry for the current region" in failed[0][
        "ResourceStatusReason"]
    cfn.delete_stack(StackName=name)
    assert client(emulator.endpoint, "dynamodb").list_tables()["TableNames"] == before


def test_delete_stack_removes_the_table(emulator: Emulator, cli: AwsCli, tmp_path: Path) -> None:
    name = "GlobalTableGone"
    result = deploy(cli, template(STACK), name, tmp_path)
    assert result.returncode == 0, result.stderr[-1500:]
    table = read_stack(emulator, name).physical[TABLE]
    dynamodb = client(emulator.endpoint, "dynamodb")
    assert table in dynamodb.list_tables()["TableNames"]
    client(emulator.endpoint, "cloudformation").delete_stack(StackName=name)
    assert table not in dynamodb.list_tables()["TableNames"]


def test_a_redeploy_changes_the_replica_policy_in_place(emulator: Emulator, cli: AwsCli,
                                                        tmp_path: Path) -> None:
    name = "GlobalTableRedeploy"
    body = copy.deepcopy(template(STACK))
    first = deploy(cli, body, name, tmp_path)
    assert first.returncode == 0, first.stderr[-1500:]
    table = read_stack(emulator, name).physical[TABLE]
    [replica] = body["Resources"][TABLE]["Properties"]["Replicas"]
    replica["ResourcePolicy"]["PolicyDocument"]["Statement"][0]["Action"] = "dynamodb:Scan"
    again = deploy(cli, body, name, tmp_path)
    assert again.returncode == 0, again.stderr[-1500:]
    arn = f"arn:aws:dynamodb:{REGION}:{ACCOUNT_ID}:table/{table}"
    policy = json.loads(client(emulator.endpoint, "dynamodb").get_resource_policy(
        ResourceArn=arn)["Policy"])
    assert policy["Statement"][0]["Action"] == "dynamodb:Scan"
    assert client(emulator.endpoint, "cloudformation").describe_stacks(StackName=name)[
        "Stacks"][0]["StackStatus"] == "UPDATE_COMPLETE"
    client(emulator.endpoint, "cloudformation").delete_stack(StackName=name)
