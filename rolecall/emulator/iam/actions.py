"""Which IAM action, on which resource, each API operation the emulator serves needs.

One table, `RULES`, keyed (service, operation), for every operation of
botocore's models of the five services the emulator serves. It is built from
data, not code branches:

- botocore's service model: the operations, which of them are public
  (`"authtype": "none"`, e.g. cognito-idp InitiateAuth, cognito-identity GetId,
  STS AssumeRoleWithWebIdentity: these are never IAM-authorized), and each
  operation's input members;
- per service, the request parameters that name a resource, in priority order,
  each with its ARN builder (`RESOURCES`): an operation's resource is the first
  of them its input has, else "*";
- per operation, the exceptions (`OVERRIDES`) and the DynamoDB operations whose
  checks look inside the request (items, batches, transactions, PartiQL).

The action is `<service prefix>:<Operation>` unless overridden. Resource types
and ARN formats follow the Service Authorization Reference:
https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazondynamodb.html,
.../list_awsidentityandaccessmanagementiam.html, .../list_amazoncognitouserpools.html,
.../list_amazoncognitoidentity.html, .../list_awssecuritytokenservice.html.
Where AWS names a resource differently in its refusals, the field reports are
cited at the rule.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import botocore.session
from moto.iam.models import iam_backends

from rolecall.emulator.checks import Check
from rolecall.emulator.dynamodb import authorize as dynamodb_checks
from rolecall.emulator.dynamodb import partiql
from rolecall.emulator.faults import Faults

__all__ = ["RULES", "SERVICES", "Request", "Rule", "Service", "checks_for", "rule_for"]


@dataclass(frozen=True)
class Request:
    """What a rule reads: the call's parameters and whose account and region it is in."""

    service: str
    operation: str
    params: Mapping[str, Any]
    account: str
    region: str
    faults: Faults


@dataclass(frozen=True)
class Resource:
    arn: str
    shown: str | None = None  # how the service's AccessDenied text names it, when not the ARN


Builder = Callable[[Request], Resource | None]  # None: the request does not name it
Expander = Callable[[Request], list[Check]]


@dataclass(frozen=True)
class Rule:
    """How one operation is authorized.

    `action` None: the operation needs no permission (STS GetCallerIdentity).
    `expand`: the operation's checks come from its content (DynamoDB items,
    batches, transactions, PartiQL statements) instead of one action on one resource.
    `plane`: "data" or "control" for DynamoDB (fault authz-control-plane-unchecked).
    """

    action: str | None
    resources: tuple[Builder, ...] = ()
    expand: Expander | None = None
    plane: str | None = None
    public: bool = False


@dataclass(frozen=True)
class Service:
    """A service the emulator serves, and how it refuses (its own code, status, protocol)."""

    name: str  # botocore's name, also the IAM action prefix
    denied_code: str
    denied_status: int


SERVICES: dict[str, Service] = {
    "dynamodb": Service("dynamodb", "AccessDeniedException", 400),
    "cognito-idp": Service("cognito-idp", "AccessDeniedException", 400),
    "cognito-identity": Service("cognito-identity", "AccessDeniedException", 400),
    "iam": Service("iam", "AccessDenied", 403),
    "sts": Service("sts", "AccessDenied", 403),
}


# --------------------------------------------------------------------------- ARN builders


def _text(request: Request, name: str) -> str | None:
    value = request.params.get(name)
    return value if isinstance(value, str) and value else None


def arn_parameter(name: str) -> Builder:
    """A parameter that already is the resource's ARN (ResourceArn, PolicyArn, RoleArn...)."""
    def build(request: Request) -> Resource | None:
        value = _text(request, name)
        return Resource(value) if value else None
    return build


def fixed(template: str) -> Builder:
    """A resource every call of the operation is checked on, e.g. ListTables' `table/*`."""
    def build(request: Request) -> Resource:
        return Resource(template.format(account=request.account, region=request.region))
    return build


def dynamodb_table(name: str) -> Builder:
    """`arn:aws:dynamodb:<region>:<account>:table/<name>` (a table ARN is accepted as the name)."""
    def build(request: Request) -> Resource | None:
        table = _text(request, name)
        if table is None:
            return None
        target = dynamodb_checks.Target(request.account, request.region)
        return Resource(target.table_arn(table))
    return build


def dynamodb_global_table(request: Request) -> Resource | None:
    name = _text(request, "GlobalTableName")
    return Resource(f"arn:aws:dynamodb::{request.account}:global-table/{name}") if name else None


def _pool_region(pool_id: str, request: Request, separator: str) -> str:
    """Pool ids start with their region (`eu-west-1_abc`, `eu-west-1:uuid`)."""
    region = pool_id.split(separator, 1)[0]
    return region if separator in pool_id and region else request.region


def user_pool(request: Request) -> Resource | None:
    pool = _text(request, "UserPoolId")
    if pool is None:
        return None
    region = _pool_region(pool, request, "_")
    return Resource(f"arn:aws:cognito-idp:{region}:{request.account}:userpool/{pool}")


def identity_pool(request: Request) -> Resource | None:
    pool = _text(request, "IdentityPoolId")
    if pool is None:
        return None
    region = _pool_region(pool, request, ":")
    return Resource(f"arn:aws:cognito-identity:{region}:{request.account}:identitypool/{pool}")


def iam_entity(kind: str, parameter: str) -> Builder:
    """A role, user, group or instance profile by name, with its path.

    IAM names an existing entity "<kind> <name>" in its refusals ("... iam:PutRolePolicy
    on resource: role R", field: ministryofjustice/modernisation-platform#7939,
    aws-samples/eks-security-compromised-cluster-remediation#8) but the ARN when
    the call creates it ("iam:CreateRole on resource: arn:aws:iam::...:role/...",
    field: aws/aws-parallelcluster#918).
    """
    def build(request: Request) -> Resource | None:
        name = _text(request, parameter)
        if name is None:
            return None
        creating = request.operation == f"Create{kind.title().replace('-', '')}"
        path = _text(request, "Path") if creating else _existing_path(kind, name, request)
        arn = f"arn:aws:iam::{request.account}:{kind}{path or '/'}{name}"
        return Resource(arn, None if creating else f"{kind} {name}")
    return build


def _existing_path(kind: str, name: str, request: Request) -> str | None:
    """The path of an existing role (moto knows it); other kinds and unknown names: '/'."""
    if kind != "role":
        return None
    try:
        role = iam_backends[request.account]["aws"].get_role(name)
    except Exception:  # no such role: IAM answers NoSuchEntity once authorized
        return None
    return str(role.path or "/")


def iam_new_policy(request: Request) -> Resource | None:
    """CreatePolicy: "... iam:CreatePolicy on resource: policy <name>" (field:
    aws-samples/eks-security-compromised-cluster-remediation#8)."""
    name = _text(request, "PolicyName")
    if name is None:
        return None
    path = _text(request, "Path") or "/"
    return Resource(f"arn:aws:iam::{request.account}:policy{path}{name}", f"policy {name}")


# --------------------------------------------------------------------------- the data


# Request parameters that name a resource, in priority order, per service.
RESOURCES: dict[str, tuple[tuple[str, Builder], ...]] = {
    "dynamodb": (
        ("TableName", dynamodb_table("TableName")),
        ("TableArn", arn_parameter("TableArn")),
        ("SourceTableArn", arn_parameter("SourceTableArn")),
        ("SourceTableName", dynamodb_table("SourceTableName")),
        ("ResourceArn", arn_parameter("ResourceArn")),
        ("BackupArn", arn_parameter("BackupArn")),
        ("ExportArn", arn_parameter("ExportArn")),
        ("ImportArn", arn_parameter("ImportArn")),
        ("GlobalTableName", dynamodb_global_table),
    ),
    "iam": (
        ("RoleName", iam_entity("role", "RoleName")),
        ("UserName", iam_entity("user", "UserName")),
        ("GroupName", iam_entity("group", "GroupName")),
        ("InstanceProfileName", iam_entity("instance-profile", "InstanceProfileName")),
        ("PolicyArn", arn_parameter("PolicyArn")),
        ("OpenIDConnectProviderArn", arn_parameter("OpenIDConnectProviderArn")),
        ("SAMLProviderArn", arn_parameter("SAMLProviderArn")),
    ),
    "sts": (("RoleArn", arn_parameter("RoleArn")),),
    "cognito-idp": (("UserPoolId", user_pool), ("ResourceArn", arn_parameter("ResourceArn"))),
    "cognito-identity": (("IdentityPoolId", identity_pool),
                         ("ResourceArn", arn_parameter("ResourceArn"))),
}


def _dynamodb_items(request: Request) -> list[Check]:
    """Item, batch and transaction checks with their condition keys (dynamodb/authorize.py)."""
    target = dynamodb_checks.Target(request.account, request.region, request.faults.on)
    return dynamodb_checks.checks_for(request.operation, request.params, target)


def _partiql(request: Request) -> list[Check]:
    target = dynamodb_checks.Target(request.account, request.region, request.faults.on)
    return partiql.checks(request.operation, request.params, target.table_arn,
                          partition_key=target.partition_key, fault=request.faults.on)


_EVERYWHERE = fixed("*")
_ITEM_OPERATIONS = ("GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "Scan",
                    "BatchGetItem", "BatchWriteItem", "TransactGetItems", "TransactWriteItems")
_PARTIQL_OPERATIONS = ("ExecuteStatement", "BatchExecuteStatement", "ExecuteTransaction")

OVERRIDES: dict[tuple[str, str], Rule] = {
    **{("dynamodb", op): Rule(f"dynamodb:{op}", expand=_dynamodb_items, plane="data")
       for op in _ITEM_OPERATIONS},
    # the actions come from each statement's verb (PartiQLSelect...), not from the operation
    **{("dynamodb", op): Rule(None, expand=_partiql, plane="data") for op in _PARTIQL_OPERATIONS},
    # "... dynamodb:ListTables on resource: arn:aws:dynamodb:<region>:<account>:table/*"
    # (field: AntonShuvaev/intellij-dynamodb#20)
    ("dynamodb", "ListTables"): Rule("dynamodb:ListTables",
                                     (fixed("arn:aws:dynamodb:{region}:{account}:table/*"),),
                                     plane="control"),
    # listing actions with no resource type in the SAR even though a table may be named
    **{("dynamodb", op): Rule(f"dynamodb:{op}", (_EVERYWHERE,), plane="control")
       for op in ("ListBackups", "ListContributorInsights", "ListExports", "ListImports")},
    ("iam", "CreatePolicy"): Rule("iam:CreatePolicy", (iam_new_policy,)),
    ("sts", "GetCallerIdentity"): Rule(None),  # "No permissions are required" (API reference)
    # "... cognito-identity:ListIdentityPools on resource:
    # arn:aws:cognito-identity:<region>:<account>:identitypool/" (field:
    # hashicorp/terraform-provider-aws#15773)
    ("cognito-identity", "ListIdentityPools"): Rule(
        "cognito-identity:ListIdentityPools",
        (fixed("arn:aws:cognito-identity:{region}:{account}:identitypool/"),)),
}


# --------------------------------------------------------------------------- the table


@lru_cache(maxsize=1)
def _models() -> dict[str, Any]:
    session = botocore.session.get_session()
    return {name: session.get_service_model(name) for name in SERVICES}


def is_public(operation: Mapping[str, Any]) -> bool:
    """botocore's marking of an operation AWS serves unsigned (older and newer model forms)."""
    return (operation.get("authtype") == "none"
            or "smithy.api#noAuth" in (operation.get("auth") or []))


def _default_rule(service: str, operation: str, members: tuple[str, ...]) -> Rule:
    builders = tuple(build for parameter, build in RESOURCES[service] if parameter in members)
    plane = "control" if service == "dynamodb" else None
    return Rule(f"{service}:{operation}", (*builders, _EVERYWHERE), plane=plane)


def _build_table() -> dict[tuple[str, str], Rule]:
    table: dict[tuple[str, str], Rule] = {}
    for service, model in _models().items():
        described = model._service_description["operations"]  # the raw JSON keeps authtype
        for operation in model.operation_names:
            key = (service, operation)
            if is_public(described[operation]):
                table[key] = Rule(None, public=True)
            elif key in OVERRIDES:
                table[key] = OVERRIDES[key]
            else:
                shape = model.operation_model(operation).input_shape
                members = tuple(shape.members) if shape is not None else ()
                table[key] = _default_rule(service, operation, members)
    return table


RULES: dict[tuple[str, str], Rule] = _build_table()


def rule_for(service: str, operation: str) -> Rule | None:
    """The rule of an operation, matched exactly (a lower-cased name is not an operation)."""
    return RULES.get((service, operation))


@lru_cache(maxsize=1)
def target_prefixes() -> dict[str, str]:
    """awsJson `X-Amz-Target` prefix -> service, e.g. DynamoDB_20120810 -> dynamodb."""
    return {str(model.metadata["targetPrefix"]): name for name, model in _models().items()
            if model.metadata.get("targetPrefix")}


@lru_cache(maxsize=1)
def query_services() -> tuple[str, ...]:
    """The awsQuery services (form `Action=`): IAM and STS."""
    return tuple(name for name, model in _models().items() if model.metadata["protocol"] == "query")


def checks_for(rule: Rule, request: Request) -> list[Check]:
    """Every check the call needs, in the order AWS reports the first refusal."""
    if rule.expand is not None:
        return rule.expand(request)
    if rule.action is None:
        return []
    context = _boundary_context(request)
    for build in rule.resources:
        resource = build(request)
        if resource is not None:
            return [Check(rule.action, resource.arn, context, shown=resource.shown)]
    return [Check(rule.action, "*", context)]


# iam:PermissionsBoundary: the boundary a call sets (CreateRole, PutRolePermissionsBoundary)
# or the role it changes has (the role-policy calls). The IAM User Guide's delegation example
# conditions CreateUser, AttachUserPolicy, DetachUserPolicy, DeleteUserPolicy and
# PutUserPermissionsBoundary on it (access_policies_boundaries.html, "Delegating
# responsibility to others using permissions boundaries"); the role calls are assumed to
# carry it the same way (pin it).
_SETS_BOUNDARY = ("CreateRole", "PutRolePermissionsBoundary")
_ON_BOUNDED_ROLE = ("AttachRolePolicy", "DetachRolePolicy", "PutRolePolicy", "DeleteRolePolicy",
                    "DeleteRolePermissionsBoundary")


def _boundary_context(request: Request) -> dict[str, list[str]]:
    if request.service != "iam":
        return {}
    if request.operation in _SETS_BOUNDARY:
        given = _text(request, "PermissionsBoundary")
        return {"iam:PermissionsBoundary": [given]} if given else {}
    if request.operation in _ON_BOUNDED_ROLE and (name := _text(request, "RoleName")):
        try:
            role = iam_backends[request.account]["aws"].get_role(name)
        except Exception:  # no such role: IAM answers NoSuchEntity once authorized
            return {}
        current = getattr(role, "permissions_boundary_arn", None)
        return {"iam:PermissionsBoundary": [current]} if current else {}
    return {}
