"""The action table (rolecall/emulator/iam/actions.py): complete, exact, public per botocore."""

from __future__ import annotations

from typing import Any

import botocore.session
import pytest

from rolecall.emulator.faults import Faults
from rolecall.emulator.iam import actions

ACCOUNT = "123456789012"


def checks(service: str, operation: str, **params: Any) -> list[tuple[str, str, str | None]]:
    rule = actions.rule_for(service, operation)
    assert rule is not None
    request = actions.Request(service, operation, params, ACCOUNT, "eu-west-1", Faults())
    return [(c.action, c.resource, c.shown) for c in actions.checks_for(rule, request)]


def test_every_operation_of_every_served_service_has_a_rule() -> None:
    session = botocore.session.get_session()
    for service in actions.SERVICES:
        model = session.get_service_model(service)
        for operation in model.operation_names:
            assert actions.rule_for(service, operation) is not None, (service, operation)


def test_public_operations_are_exactly_botocores_unsigned_ones() -> None:
    public = {key for key, rule in actions.RULES.items() if rule.public}
    assert ("cognito-identity", "GetId") in public
    assert ("cognito-identity", "GetCredentialsForIdentity") in public
    assert ("cognito-idp", "InitiateAuth") in public
    assert ("cognito-idp", "GlobalSignOut") in public
    assert ("sts", "AssumeRoleWithWebIdentity") in public
    assert ("cognito-idp", "AdminInitiateAuth") not in public
    assert ("cognito-identity", "SetIdentityPoolRoles") not in public
    assert not {key for key in public if key[0] in ("iam", "dynamodb")}


def test_names_match_exactly() -> None:
    assert actions.rule_for("dynamodb", "putitem") is None
    assert actions.rule_for("iam", "putRolePolicy") is None


@pytest.mark.parametrize(("service", "operation", "params", "expected"), [
    ("dynamodb", "ListTables", {},
     [("dynamodb:ListTables", f"arn:aws:dynamodb:eu-west-1:{ACCOUNT}:table/*", None)]),
    ("dynamodb", "DeleteTable", {"TableName": "t"},
     [("dynamodb:DeleteTable", f"arn:aws:dynamodb:eu-west-1:{ACCOUNT}:table/t", None)]),
    ("dynamodb", "TagResource", {"ResourceArn": "arn:aws:dynamodb:eu-west-1:1:table/x"},
     [("dynamodb:TagResource", "arn:aws:dynamodb:eu-west-1:1:table/x", None)]),
    ("dynamodb", "DescribeGlobalTable", {"GlobalTableName": "g"},
     [("dynamodb:DescribeGlobalTable", f"arn:aws:dynamodb::{ACCOUNT}:global-table/g", None)]),
    ("dynamodb", "DescribeLimits", {}, [("dynamodb:DescribeLimits", "*", None)]),
    ("dynamodb", "ExecuteStatement", {"Statement": 'UPDATE "t" SET a = 1 WHERE pk = 1'},
     [("dynamodb:PartiQLUpdate", f"arn:aws:dynamodb:eu-west-1:{ACCOUNT}:table/t", None)]),
    ("iam", "PutRolePolicy", {"RoleName": "nobody-has-this-role", "PolicyName": "p"},
     [("iam:PutRolePolicy", f"arn:aws:iam::{ACCOUNT}:role/nobody-has-this-role",
       "role nobody-has-this-role")]),
    ("iam", "CreateRole", {"RoleName": "r", "Path": "/app/"},
     [("iam:CreateRole", f"arn:aws:iam::{ACCOUNT}:role/app/r", None)]),
    ("iam", "CreatePolicy", {"PolicyName": "p"},
     [("iam:CreatePolicy", f"arn:aws:iam::{ACCOUNT}:policy/p", "policy p")]),
    ("iam", "ListRoles", {}, [("iam:ListRoles", "*", None)]),
    ("sts", "AssumeRole", {"RoleArn": "arn:aws:iam::1:role/x"},
     [("sts:AssumeRole", "arn:aws:iam::1:role/x", None)]),
    ("sts", "GetCallerIdentity", {}, []),
    ("cognito-idp", "AdminAddUserToGroup", {"UserPoolId": "us-east-2_abc"},
     [("cognito-idp:AdminAddUserToGroup",
       f"arn:aws:cognito-idp:us-east-2:{ACCOUNT}:userpool/us-east-2_abc", None)]),
    ("cognito-idp", "CreateUserPool", {"PoolName": "p"}, [("cognito-idp:CreateUserPool", "*",
                                                            None)]),
    ("cognito-identity", "DeleteIdentityPool", {"IdentityPoolId": "us-east-2:1-2"},
     [("cognito-identity:DeleteIdentityPool",
       f"arn:aws:cognito-identity:us-east-2:{ACCOUNT}:identitypool/us-east-2:1-2", None)]),
    ("cognito-identity", "ListIdentityPools", {"MaxResults": 1},
     [("cognito-identity:ListIdentityPools",
       f"arn:aws:cognito-identity:eu-west-1:{ACCOUNT}:identitypool/", None)]),
    # issue 22's operations, as the Service Authorization Reference lists them
    ("iam", "PutRolePermissionsBoundary", {"RoleName": "nobody-has-this-role",
                                           "PermissionsBoundary": "arn:aws:iam::1:policy/b"},
     [("iam:PutRolePermissionsBoundary", f"arn:aws:iam::{ACCOUNT}:role/nobody-has-this-role",
       "role nobody-has-this-role")]),
    ("iam", "DeleteRolePermissionsBoundary", {"RoleName": "nobody-has-this-role"},
     [("iam:DeleteRolePermissionsBoundary", f"arn:aws:iam::{ACCOUNT}:role/nobody-has-this-role",
       "role nobody-has-this-role")]),
    ("iam", "CreatePolicyVersion", {"PolicyArn": f"arn:aws:iam::{ACCOUNT}:policy/b"},
     [("iam:CreatePolicyVersion", f"arn:aws:iam::{ACCOUNT}:policy/b", None)]),
    ("iam", "SetDefaultPolicyVersion", {"PolicyArn": f"arn:aws:iam::{ACCOUNT}:policy/b"},
     [("iam:SetDefaultPolicyVersion", f"arn:aws:iam::{ACCOUNT}:policy/b", None)]),
    ("dynamodb", "PutResourcePolicy", {"ResourceArn": f"arn:aws:dynamodb:eu-west-1:{ACCOUNT}:table/t"},
     [("dynamodb:PutResourcePolicy", f"arn:aws:dynamodb:eu-west-1:{ACCOUNT}:table/t", None)]),
    ("dynamodb", "GetResourcePolicy", {"ResourceArn": f"arn:aws:dynamodb:eu-west-1:{ACCOUNT}:table/t"},
     [("dynamodb:GetResourcePolicy", f"arn:aws:dynamodb:eu-west-1:{ACCOUNT}:table/t", None)]),
    ("dynamodb", "DeleteResourcePolicy",
     {"ResourceArn": f"arn:aws:dynamodb:eu-west-1:{ACCOUNT}:table/t"},
     [("dynamodb:DeleteResourcePolicy", f"arn:aws:dynamodb:eu-west-1:{ACCOUNT}:table/t", None)]),
    ("cognito-identity", "SetPrincipalTagAttributeMap", {"IdentityPoolId": "us-east-2:1-2"},
     [("cognito-identity:SetPrincipalTagAttributeMap",
       f"arn:aws:cognito-identity:us-east-2:{ACCOUNT}:identitypool/us-east-2:1-2", None)]),
    ("cognito-identity", "GetPrincipalTagAttributeMap", {"IdentityPoolId": "us-east-2:1-2"},
     [("cognito-identity:GetPrincipalTagAttributeMap",
       f"arn:aws:cognito-identity:us-east-2:{ACCOUNT}:identitypool/us-east-2:1-2", None)]),
])
def test_resource_of_each_kind(service: str, operation: str, params: dict[str, Any],
                               expected: list[tuple[str, str, str | None]]) -> None:
    assert checks(service, operation, **params) == expected


def test_dynamodb_planes() -> None:
    assert actions.RULES[("dynamodb", "DeleteTable")].plane == "control"
    assert actions.RULES[("dynamodb", "UpdateTimeToLive")].plane == "control"
    assert actions.RULES[("dynamodb", "PutItem")].plane == "data"
    assert actions.RULES[("dynamodb", "ExecuteStatement")].plane == "data"
