"""Permissions a call needs beyond its own action, because of what it carries.

The Service Authorization Reference lists them as "dependent actions":

- cognito-identity SetIdentityPoolRoles and cognito-idp CreateGroup/UpdateGroup with
  a RoleArn hand a role to the service: iam:PassRole on each role
  (https://docs.aws.amazon.com/cognito/latest/developerguide/iam-roles.html: "you
  must have iam:PassRole permission");
- dynamodb:CreateTable with a ResourcePolicy needs dynamodb:PutResourcePolicy on the new
  table ("You need to specify the CreateTable and PutResourcePolicy IAM actions for
  authorizing a user to create a table with a resource-based policy", API reference,
  CreateTable ResourcePolicy);
- a create call that carries tags needs the service's tagging action: iam:CreateRole
  with Tags needs iam:TagRole (IAM User Guide, id_tags_roles.html), iam:CreatePolicy
  with Tags needs iam:TagPolicy (id_tags_customer-managed-policies.html), dynamodb:CreateTable
  with Tags needs dynamodb:TagResource, cognito-idp CreateUserPool with UserPoolTags and
  cognito-identity CreateIdentityPool with IdentityPoolTags need their TagResource
  (list_amazoncognitouserpools.html, list_amazoncognitoidentity.html).

These are evaluated like the call's own checks, so a runner policy without
iam:PassRole fails SetIdentityPoolRoles with an AccessDenied that names iam:PassRole,
as AWS does.
"""

from __future__ import annotations

from typing import Any

from rolecall.emulator.checks import Check
from rolecall.emulator.iam.actions import Request


def checks_for(request: Request) -> list[Check]:
    params = request.params
    checks = [Check("iam:PassRole", arn) for arn in _passed_roles(request.service,
                                                                   request.operation, params)]
    tag = _tagging(request)
    if tag is not None:
        checks.append(tag)
    if (request.service, request.operation) == ("dynamodb", "CreateTable") \
            and params.get("ResourcePolicy") is not None:
        checks.append(Check("dynamodb:PutResourcePolicy", f"arn:aws:dynamodb:{request.region}:"
                            f"{request.account}:table/{params.get('TableName', '')}"))
    return checks


def _passed_roles(service: str, operation: str, params: Any) -> list[str]:
    if service == "cognito-identity" and operation == "SetIdentityPoolRoles":
        roles = [str(arn) for arn in (params.get("Roles") or {}).values()]
        for mapping in (params.get("RoleMappings") or {}).values():
            rules = ((mapping or {}).get("RulesConfiguration") or {}).get("Rules") or []
            roles += [str(rule.get("RoleARN")) for rule in rules if rule.get("RoleARN")]
        return sorted(set(roles))
    if service == "cognito-idp" and operation in {"CreateGroup", "UpdateGroup"}:
        return [str(params["RoleArn"])] if params.get("RoleArn") else []
    return []


def _tagging(request: Request) -> Check | None:
    params, account, region = request.params, request.account, request.region
    key = (request.service, request.operation)
    if key == ("iam", "CreateRole") and _has_form_list(params, "Tags"):
        name = params.get("RoleName", "")
        return Check("iam:TagRole", f"arn:aws:iam::{account}:role{params.get('Path') or '/'}{name}")
    if key == ("iam", "CreatePolicy") and _has_form_list(params, "Tags"):
        name = params.get("PolicyName", "")
        return Check("iam:TagPolicy",
                     f"arn:aws:iam::{account}:policy{params.get('Path') or '/'}{name}")
    if key == ("dynamodb", "CreateTable") and params.get("Tags"):
        return Check("dynamodb:TagResource",
                     f"arn:aws:dynamodb:{region}:{account}:table/{params.get('TableName', '')}")
    if key == ("cognito-idp", "CreateUserPool") and params.get("UserPoolTags"):
        return Check("cognito-idp:TagResource", "*")
    if key == ("cognito-identity", "CreateIdentityPool") and params.get("IdentityPoolTags"):
        return Check("cognito-identity:TagResource", "*")
    return None


def _has_form_list(params: Any, name: str) -> bool:
    """awsQuery lists arrive flattened: Tags.member.1.Key=..."""
    return any(str(key).startswith(f"{name}.") for key in params)
