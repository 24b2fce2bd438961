"""The audit's second source: a live identity pool, read with boto3.

DescribeIdentityPool, GetIdentityPoolRoles, the IAM roles it leans on (trust,
inline and attached policies, plus every role whose trust admits the pool), the
app client's WriteAttributes and the user pool's groups and schema, read into
the same facts (rolecall/cells/audit_facts.py) a scenario gives statically, so a
stack provisioned from a scenario gives the same findings live.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from rolecall.account.discovery_tables import TABLE_ARN
from rolecall.cells.audit import Audit, accept, run_checks
from rolecall.cells.audit_facts import (
    STANDARD_WRITABLE,
    MappingFacts,
    PoolFacts,
    RoleFacts,
    RuleFacts,
    StackFacts,
    parse_document,
    statements_of,
    trusts,
)
from rolecall.model.scenario import AcceptedFinding


def role_name(arn: str) -> str:
    return arn.rsplit("/", 1)[-1]


def facts_live(target: Any, identity_pool_id: str, role_prefix: str | None = None) -> StackFacts:
    """Read one identity pool and everything it leans on. `role_prefix` limits the scan.

    Roles are those the pool names (default roles, mapping rules, group roles of its
    user pools) plus every role of the account whose trust admits this pool; with
    `role_prefix`, only roles whose name starts with it are scanned for the latter.
    """
    identity, iam = target.client("cognito-identity"), target.client("iam")
    described = identity.describe_identity_pool(IdentityPoolId=identity_pool_id)
    configured = identity.get_identity_pool_roles(IdentityPoolId=identity_pool_id)
    notes: list[str] = []
    providers = {f"{p['ProviderName']}:{p['ClientId']}": p
                 for p in described.get("CognitoIdentityProviders", [])}
    user_pools = {key: _user_pool_facts(target, p, notes) for key, p in providers.items()}
    mappings = tuple(_mapping_facts(key, m, user_pools.get(key))
                     for key, m in sorted(configured.get("RoleMappings", {}).items()))
    defaults = configured.get("Roles", {})
    arns = {a for a in (defaults.get("authenticated"), defaults.get("unauthenticated")) if a}
    arns |= {r["RoleARN"] for m in configured.get("RoleMappings", {}).values()
             for r in m.get("RulesConfiguration", {}).get("Rules", [])}
    group_arns = {arn for up in user_pools.values() for arn in up.group_roles}
    roles = _live_roles(iam, arns | group_arns, identity_pool_id, role_prefix, notes)
    pool = PoolFacts(
        described["IdentityPoolName"], identity_pool_id, described.get("AllowClassicFlow"),
        bool(described.get("AllowUnauthenticatedIdentities")),
        role_name(defaults["authenticated"]) if defaults.get("authenticated") else None,
        role_name(defaults["unauthenticated"]) if defaults.get("unauthenticated") else None,
        mappings, tuple(sorted({role_name(a) for a in group_arns})),
        _principal_tags(identity, identity_pool_id, providers.values(), notes),
        frozenset(c for up in user_pools.values() for c in up.writable))
    return StackFacts(described["IdentityPoolName"],
                      f"live {target.region} identity pool {identity_pool_id}", (pool,), roles,
                      tuple(notes), _table_policies(target, roles.values(), notes))


def _principal_tags(identity: Any, pool_id: str, providers: Iterable[Mapping[str, Any]],
                    notes: list[str]) -> dict[str, str]:
    """tag -> claim for the pool's user pool providers (SPEC A1: UseDefaults adds username
    <- sub and client <- aud)."""
    tags: dict[str, str] = {}
    for name in sorted({str(p["ProviderName"]) for p in providers}):
        try:
            found = identity.get_principal_tag_attribute_map(IdentityPoolId=pool_id,
                                                            IdentityProviderName=name)
        except ClientError as exc:
            if exc.response["Error"].get("Code") != "ResourceNotFoundException":
                notes.append(f"could not read the principal tags of {name}: "
                             f"{exc.response['Error'].get('Code')}")
            continue
        if found.get("UseDefaults"):
            tags.update({"username": "sub", "client": "aud"})
        tags.update(found.get("PrincipalTags") or {})
    return tags


def _table_policies(target: Any, roles: Iterable[RoleFacts], notes: list[str]
                    ) -> dict[str, Mapping[str, Any]]:
    """The resource-based policies of the tables the roles' policies name (SPEC R1)."""
    names = sorted({m.group(1) for role in roles for doc in role.policies
                    for statement in statements_of(doc)
                    for resource in _listed(statement.get("Resource"))
                    if (m := TABLE_ARN.match(str(resource)))})
    dynamodb = target.client("dynamodb")
    policies: dict[str, Mapping[str, Any]] = {}
    for name in names:
        try:
            arn = dynamodb.describe_table(TableName=name)["Table"]["TableArn"]
            policies[name] = parse_document(dynamodb.get_resource_policy(ResourceArn=arn)["Policy"])
        except ClientError as exc:
            if exc.response["Error"].get("Code") not in ("PolicyNotFoundException",
                                                         "ResourceNotFoundException"):
                notes.append(f"could not read table {name}'s policy: "
                             f"{exc.response['Error'].get('Code')}")
    return policies


def _listed(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else [] if value is None else [value]


@dataclass(frozen=True)
class _UserPoolFacts:
    """What one Cognito user pool provider contributes to the pool's facts."""

    writable: frozenset[str] = frozenset()
    groups: tuple[str, ...] = ()
    group_roles: tuple[str, ...] = ()  # role ARNs


def _user_pool_facts(target: Any, provider: Mapping[str, Any], notes: list[str]) -> _UserPoolFacts:
    """What a Cognito user pool provider adds: writable claims, group names, group roles."""
    name = str(provider["ProviderName"])
    if not name.startswith("cognito-idp.") or "/" not in name:
        return _UserPoolFacts()
    pool_id = name.rsplit("/", 1)[1]
    idp = target.client("cognito-idp")
    try:
        client = idp.describe_user_pool_client(UserPoolId=pool_id, ClientId=provider["ClientId"])
        schema = idp.describe_user_pool(UserPoolId=pool_id)["UserPool"].get("SchemaAttributes", [])
        groups = [g for page in idp.get_paginator("list_groups").paginate(UserPoolId=pool_id)
                  for g in page["Groups"]]
    except Exception as exc:  # another region or account, or no permission: say so
        notes.append(f"could not read user pool {pool_id}: {type(exc).__name__}")
        return _UserPoolFacts()
    mutable = {a["Name"] for a in schema if a.get("Mutable", True)
               and (a["Name"].startswith("custom:") or a["Name"] in STANDARD_WRITABLE)}
    allowed = client["UserPoolClient"].get("WriteAttributes")
    writable = mutable & set(allowed) if allowed else mutable
    return _UserPoolFacts(frozenset(writable), tuple(sorted(g["GroupName"] for g in groups)),
                          tuple(sorted({g["RoleArn"] for g in groups if g.get("RoleArn")})))


def _mapping_facts(key: str, mapping: Mapping[str, Any], user_pool: _UserPoolFacts | None
                   ) -> MappingFacts:
    rules = tuple(RuleFacts(r["Claim"], r["MatchType"], r["Value"], role_name(r["RoleARN"]))
                  for r in mapping.get("RulesConfiguration", {}).get("Rules", []))
    user_pool = user_pool or _UserPoolFacts()
    return MappingFacts(key, mapping["Type"], rules, user_pool.writable, user_pool.groups)


def _live_roles(iam: Any, arns: set[str], pool_id: str, role_prefix: str | None,
                notes: list[str]) -> dict[str, RoleFacts]:
    names = {role_name(a) for a in arns}
    for page in iam.get_paginator("list_roles").paginate():
        for listed in page["Roles"]:
            if role_prefix and not listed["RoleName"].startswith(role_prefix):
                continue
            probe = RoleFacts(listed["RoleName"], parse_document(listed.get("AssumeRolePolicyDocument")), ())
            if trusts(probe, pool_id, "authenticated") or trusts(probe, pool_id, "unauthenticated"):
                names.add(listed["RoleName"])
    roles = {}
    for name in sorted(names):
        try:
            roles[name] = _live_role(iam, name)
        except Exception as exc:  # a role of another account, or deleted: cannot be audited
            notes.append(f"could not read role {name}: {type(exc).__name__}")
    return roles


def _live_role(iam: Any, name: str) -> RoleFacts:
    role = iam.get_role(RoleName=name)["Role"]
    documents = [parse_document(iam.get_role_policy(RoleName=name, PolicyName=p)["PolicyDocument"])
                 for page in iam.get_paginator("list_role_policies").paginate(RoleName=name)
                 for p in page["PolicyNames"]]
    for page in iam.get_paginator("list_attached_role_policies").paginate(RoleName=name):
        for attached in page["AttachedPolicies"]:
            policy = iam.get_policy(PolicyArn=attached["PolicyArn"])["Policy"]
            version = iam.get_policy_version(PolicyArn=attached["PolicyArn"],
                                              VersionId=policy["DefaultVersionId"])
            documents.append(parse_document(version["PolicyVersion"]["Document"]))
    return RoleFacts(name, parse_document(role.get("AssumeRolePolicyDocument")), tuple(documents))


def audit_live(target: Any, identity_pool_id: str, *, role_prefix: str | None = None,
               accepted: Iterable[AcceptedFinding] = ()) -> Audit:
    """The audit of a live identity pool, read with the target's admin credentials."""
    facts = facts_live(target, identity_pool_id, role_prefix)
    findings, stale = accept(run_checks(facts), accepted)
    return Audit(facts.name, facts.source, findings, stale, facts.notes)


