"""Read a team's deployed stack into the model the suite runs on (issue 11.2).

One code path for AWS and the embedded target: `--stack NAME` (CloudFormation
ListStackResources gives the identity pool and the logical ids) or
`--identity-pool-id ID` (Terraform, the console, anything). From the identity
pool it reads the providers (ServerSideTokenCheck per provider), the classic
flow and guest settings, GetIdentityPoolRoles, the user pool with its groups
(RoleArn, Precedence), custom attributes and app clients, every role's trust
policy and permissions (inline, attached customer- and AWS-managed), and every
DynamoDB table those policies name, the main one first (rolecall/account/discovery_tables.py
says which is main, and why).

The result is a Scenario without users (the personas of an entitlements file
become its users, rolecall/model/entitlements.py) and the Stack of physical
ids, so cells, oracle, escalation and audit run unchanged. Nothing here creates,
changes or deletes anything.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from botocore.exceptions import ClientError

from rolecall.account import discovery_pools as pool_reads
from rolecall.account.clients import Target
from rolecall.account.discovery_tables import CDK_HASH, read_tables
from rolecall.account.provision import Stack
from rolecall.model.entitlements import Aliases
from rolecall.model.errors import ScenarioError
from rolecall.model.scenario import (
    Discovered,
    Group,
    IdentityPool,
    Mapping,
    Role,
    Rule,
    Scenario,
    Variant,
)
from rolecall.model.trust import PrincipalTags, Trust

COGNITO = "cognito-identity.amazonaws.com"


@dataclass
class Discovery:
    """A deployed stack as the suite sees it: the model, the physical ids, the names."""

    scenario: Scenario  # no users yet: bind an entitlements file
    stack: Stack  # no users yet: rolecall/account/testusers.py adds them
    aliases: Aliases
    clients: dict[str, dict[str, Any]] = field(default_factory=dict)  # variant -> app client


class _Reader:
    """The calls of one discovery, on one target, with the stack's logical ids when known."""

    def __init__(self, target: Target, logical: dict[str, str], where: str,
                 stack_roles: tuple[str, ...] = ()) -> None:
        self.target = target
        self.logical = logical  # physical id -> logical id (CloudFormation), else empty
        self.stack_roles = stack_roles  # the stack's AWS::IAM::Role names (CloudFormation)
        self.where = where  # the command-line option errors are about
        self.idp = target.client("cognito-idp")
        self.identity = target.client("cognito-identity")
        self.iam = target.client("iam")
        self.dynamodb = target.client("dynamodb")


def discover(target: Target, *, stack: str | None = None, identity_pool_id: str | None = None,
             runid: str = "discovered") -> Discovery:
    """Read the stack named by exactly one of `stack` / `identity_pool_id`."""
    logical: dict[str, str] = {}
    stack_roles: tuple[str, ...] = ()
    if stack is not None:
        identity_pool_id, logical, stack_roles = _from_cloudformation(target, stack)
    if identity_pool_id is None:
        raise ScenarioError("command line", "--stack / --identity-pool-id", "no stack named",
                            "name the stack with --stack NAME or --identity-pool-id ID")
    where = "--stack" if stack else "--identity-pool-id"
    reader = _Reader(target, logical, where, stack_roles)
    return _read_pool(reader, identity_pool_id, stack, runid)


def _from_cloudformation(target: Target, name: str) -> tuple[str, dict[str, str], tuple[str, ...]]:
    """The stack's identity pool, a physical -> logical id map and its IAM roles' names
    (ListStackResources; a role's physical id is its name)."""
    cfn = target.client("cloudformation")
    try:
        resources = [r for page in cfn.get_paginator("list_stack_resources").paginate(StackName=name)
                     for r in page["StackResourceSummaries"]]
    except ClientError as exc:
        raise ScenarioError("command line", "--stack", f"no CloudFormation stack {name!r} in "
                            f"{target.region} ({exc.response['Error'].get('Message', '')})",
                            "check the name (`aws cloudformation list-stacks`), the region "
                            "(--region) and the endpoint") from None
    pools = [r for r in resources if r["ResourceType"] == "AWS::Cognito::IdentityPool"]
    if len(pools) != 1:
        raise ScenarioError("command line", "--stack", f"stack {name} has {len(pools)} identity "
                            "pools; rolecall tests one", "name the pool with --identity-pool-id")
    logical = {r["PhysicalResourceId"]: r["LogicalResourceId"] for r in resources
               if r.get("PhysicalResourceId")}
    roles = tuple(r["PhysicalResourceId"] for r in resources
                  if r["ResourceType"] == "AWS::IAM::Role" and r.get("PhysicalResourceId"))
    return pools[0]["PhysicalResourceId"], logical, roles


def _read_pool(reader: _Reader, pool_id: str, stack_name: str | None, runid: str) -> Discovery:
    region = pool_id.split(":", 1)[0]
    if region != reader.target.region:
        raise ScenarioError("command line", reader.where, f"identity pool {pool_id} is in "
                            f"{region}, the run is in {reader.target.region}",
                            f"add --region {region}")
    try:
        described = reader.identity.describe_identity_pool(IdentityPoolId=pool_id)
        configured = reader.identity.get_identity_pool_roles(IdentityPoolId=pool_id)
    except ClientError as exc:
        raise ScenarioError("command line", reader.where, f"cannot read identity pool {pool_id} "
                            f"({exc.response['Error'].get('Code')})",
                            "check the id (`aws cognito-identity list-identity-pools`)") from None
    providers = described.get("CognitoIdentityProviders", [])
    user_pools = list(dict.fromkeys(pool_reads.user_pool_id(p) for p in providers))
    if not user_pools:
        raise ScenarioError("command line", reader.where, f"identity pool {pool_id} has no "
                            "Cognito user pool as a provider; rolecall signs users in to one",
                            "test a pool with a user pool provider (CognitoIdentityProviders)")
    name = _scenario_name(stack_name or described["IdentityPoolName"])
    aliases = Aliases()
    pool_names = pool_reads.pool_names(reader, user_pools, aliases)  # user pool id -> its name
    several = len(user_pools) > 1
    groups, group_pools = pool_reads.all_groups(reader, pool_names, aliases)
    clients = {p["ClientId"]: reader.idp.describe_user_pool_client(
        UserPoolId=pool_reads.user_pool_id(p), ClientId=p["ClientId"])["UserPoolClient"] for p in providers}
    variant_of = _variant_names(reader, clients, aliases)
    role_arns = _role_arns(configured, groups)
    role_arns |= _askable_roles(reader, role_arns)
    roles = {arn: _role(reader, arn, pool_id, aliases) for arn in sorted(role_arns)}
    key = {arn: aliases.roles[arn] for arn in roles}
    _label_roles(roles, key)
    identity_pool = _identity_pool(described, configured, key)
    provider_tags = {n: pool_reads.principal_tags(reader, pool_id, n)
                     for n in dict.fromkeys(p["ProviderName"] for p in providers)}
    tags = provider_tags[providers[0]["ProviderName"]]
    if tags is not None:
        identity_pool = identity_pool.model_copy(update={"principal_tags": tags})
    tables = read_tables(reader.dynamodb, reader.logical, reader.where,
                         [r for _, r, _ in roles.values()], aliases, tags)
    table = tables.main
    scenario = Scenario(
        name=name, description=f"discovered {stack_name or pool_id}",
        source=f"discovered from {reader.where} {stack_name or pool_id} in {reader.target.region}",
        table=table, other_tables=tables.others,
        roles={key[arn]: role for arn, (role, _, _) in roles.items()},
        groups={g: Group(role=key.get(arn or ""), precedence=p,
                         pool=group_pools[g] if several else None)
                for g, (arn, p) in groups.items()},
        users={}, user_pool=None if several else pool_reads.user_pool(reader, user_pools[0], clients),
        user_pools={pool_names[u]: pool_reads.user_pool(reader, u, clients) for u in user_pools}
        if several else {},
        identity_pool=identity_pool,
        variants={variant_of[p["ClientId"]]: _variant(
            p, configured, pool_id, key, pool_names[pool_reads.user_pool_id(p)] if several else None,
            pool_reads.own_tags(provider_tags[p["ProviderName"]], tags)) for p in providers},
        discovered=Discovered(stack=stack_name, identity_pool_id=pool_id, region=region),
        file=f"{reader.where} {stack_name or pool_id}")
    first = providers[0]
    clients_of = {pool_names[pool_reads.user_pool_id(p)]: p["ClientId"] for p in reversed(providers)}
    physical = Stack(name, runid, reader.target.region, reader.target.account_id,
                     table.name if table else "", tables.main_arn, pool_reads.user_pool_id(first),
                     first["ClientId"], first["ProviderName"],
                     roles={key[arn]: arn for arn in roles},
                     identity_pools={v: pool_id for v in scenario.variants},
                     variant_clients={variant_of[c]: c for c in clients},
                     other_tables=tables.physical, other_table_arns=tables.arns,
                     pool_ids={n: u for u, n in pool_names.items()}, pool_clients=clients_of)
    return Discovery(scenario, physical, aliases, {variant_of[c]: spec for c, spec in clients.items()})


def _scenario_name(text: str) -> str:
    """A readable lower-case id prefix: `Seed004Stack` -> `seed004stack`."""
    name = re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")[:24].strip("-")
    return name or "stack"


def _variant_names(reader: _Reader, clients: dict[str, dict[str, Any]], aliases: Aliases
                   ) -> dict[str, str]:
    names: dict[str, str] = {}
    for client_id, spec in clients.items():
        label = reader.logical.get(client_id) or spec.get("ClientName") or client_id
        variant = pool_reads.readable(label)
        while variant in names.values():
            variant += "-2"
        names[client_id] = variant
        for alias in (client_id, label, spec.get("ClientName"), variant):
            if alias:
                aliases.clients[alias] = variant
    return names


def _role_arns(configured: dict[str, Any], groups: dict[str, tuple[str | None, int | None]]
               ) -> set[str]:
    arns = {a for a in configured.get("Roles", {}).values() if a}
    for mapping in configured.get("RoleMappings", {}).values():
        arns |= {r["RoleARN"] for r in mapping.get("RulesConfiguration", {}).get("Rules", [])}
    return arns | {arn for arn, _ in groups.values() if arn}


def _askable_roles(reader: _Reader, attached: set[str]) -> set[str]:
    """The stack's roles for Cognito identities that the pool attaches nowhere (no pool
    role, rule or group names them). The basic flow still reaches them: a signed-in user
    asks STS for any role by ARN, and gets it when its trust admits the pool (SPEC C5), so
    a classic-flow persona may name one, and the escalation check must try them."""
    names = {arn.rsplit("/", 1)[-1] for arn in attached}
    found = set()
    for name in reader.stack_roles:
        if name in names:
            continue
        try:
            role = reader.iam.get_role(RoleName=name)["Role"]
        except ClientError as exc:
            raise ScenarioError("command line", reader.where, f"cannot read role {name} "
                                f"({exc.response['Error'].get('Code')})",
                                "run with credentials that may read IAM (iam:GetRole ...)") from None
        trust = _document(role["AssumeRolePolicyDocument"])
        if any(COGNITO in _values(_federated(s)) for s in _statements(trust)):
            found.add(str(role["Arn"]))
    return found


def _federated(statement: dict[str, Any]) -> Any:
    principal = statement.get("Principal", {})
    return principal.get("Federated") if isinstance(principal, dict) else principal


def _label_roles(roles: dict[str, tuple[Role, dict[str, Any], str]], key: dict[str, str]) -> None:
    """Give each CDK role a readable label for test ids: its logical id without the hash the
    CDK appends (`AdminRole38563C57` -> `AdminRole`), as variant names drop it, unless two
    roles would then read the same."""
    from_cdk = [arn for arn in roles if key[arn] != arn.rsplit("/", 1)[-1]]  # a logical id
    labels = {arn: CDK_HASH.sub("", key[arn]) for arn in from_cdk if CDK_HASH.search(key[arn])}
    for arn, label in labels.items():
        clash = [a for a in roles if a != arn and label in (key[a], labels.get(a))]
        if label and not clash:
            role, policy, name = roles[arn]
            roles[arn] = (role.model_copy(update={"label": label}), policy, name)


def _document(value: Any) -> dict[str, Any]:
    """IAM returns documents URL-encoded strings (AWS) or already parsed (boto3 does both)."""
    if isinstance(value, dict):
        return value
    return dict(json.loads(unquote(value)))


def _role(reader: _Reader, arn: str, pool_id: str, aliases: Aliases
          ) -> tuple[Role, dict[str, Any], str]:
    """One role: its policies merged into one document, its trust as the oracle reads it."""
    name = arn.rsplit("/", 1)[-1]
    try:
        role = reader.iam.get_role(RoleName=name)["Role"]
    except ClientError as exc:
        raise ScenarioError("command line", reader.where, f"cannot read role {arn} "
                            f"({exc.response['Error'].get('Code')})",
                            "run with credentials that may read IAM (iam:GetRole ...)") from None
    statements = [s for doc in _policies(reader, name) for s in _statements(doc)]
    policy = {"Version": "2012-10-17", "Statement": statements}
    trust = _document(role["AssumeRolePolicyDocument"])
    key = reader.logical.get(name) or name
    for alias in (arn, name, key):
        aliases.roles[alias] = key
    aliases.display[key] = key
    spec = Role(policy=policy, allowed=None, source=f"discovered: {arn}",
                trust=_trust(trust, pool_id), trust_policy=trust,
                boundary=_boundary(reader, role), arn=role["Arn"])
    return spec, policy, key


def _boundary(reader: _Reader, role: dict[str, Any]) -> dict[str, Any] | None:
    """The role's permissions boundary, its default version (SPEC B1); None when it has none."""
    arn = role.get("PermissionsBoundary", {}).get("PermissionsBoundaryArn")
    if not arn:
        return None
    version = reader.iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
    return _document(reader.iam.get_policy_version(PolicyArn=arn, VersionId=version)[
        "PolicyVersion"]["Document"])




def _policies(reader: _Reader, name: str) -> list[dict[str, Any]]:
    """Inline, attached customer-managed and AWS-managed policies (default versions)."""
    iam = reader.iam
    documents = [_document(iam.get_role_policy(RoleName=name, PolicyName=p)["PolicyDocument"])
                 for page in iam.get_paginator("list_role_policies").paginate(RoleName=name)
                 for p in page["PolicyNames"]]
    for page in iam.get_paginator("list_attached_role_policies").paginate(RoleName=name):
        for attached in page["AttachedPolicies"]:
            version = iam.get_policy(PolicyArn=attached["PolicyArn"])["Policy"]["DefaultVersionId"]
            documents.append(_document(iam.get_policy_version(
                PolicyArn=attached["PolicyArn"], VersionId=version)["PolicyVersion"]["Document"]))
    return documents


def _statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    found = document.get("Statement", [])
    return [s for s in (found if isinstance(found, list) else [found]) if isinstance(s, dict)]


def _values(value: Any) -> list[str]:
    return [str(v) for v in (value if isinstance(value, list) else [value])]


def _trust(document: dict[str, Any], pool_id: str) -> Trust:
    """The oracle's reading of a trust policy (SPEC T1-T3): which pool, which identities."""
    for statement in _statements(document):
        federated = _federated(statement)
        actions = _values(statement.get("Action", ""))
        if (statement.get("Effect") != "Allow" or COGNITO not in _values(federated)
                or not any(a in ("sts:AssumeRoleWithWebIdentity", "sts:*", "*") for a in actions)):
            continue
        tag_session = any(a in ("sts:TagSession", "sts:*", "*") for a in actions)
        condition = statement.get("Condition", {})
        aud = [v for op, keys in condition.items() if op.startswith("String") and "Not" not in op
               for k, vals in keys.items() if k == f"{COGNITO}:aud" for v in _values(vals)]
        amr = [v for op, keys in condition.items() if "Not" not in op
               for k, vals in keys.items() if k == f"{COGNITO}:amr" for v in _values(vals)]
        if aud and not any(re.fullmatch(re.escape(a).replace(r"\*", ".*"), pool_id) for a in aud):
            continue
        return Trust(aud="pool" if aud else "none", amr=_amr(amr), tag_session=tag_session)
    return Trust(aud="other")


def _amr(values: list[str]) -> Any:
    kinds = {v for v in values if v in ("authenticated", "unauthenticated")}
    if not values or "*" in values:
        return "none"
    return "any" if len(kinds) == 2 else (kinds.pop() if kinds else "none")




def _identity_pool(described: dict[str, Any], configured: dict[str, Any], key: dict[str, str]
                   ) -> IdentityPool:
    roles = configured.get("Roles", {})
    return IdentityPool(
        allow_unauthenticated=bool(described.get("AllowUnauthenticatedIdentities")),
        allow_classic_flow=described.get("AllowClassicFlow"),
        authenticated_role=key.get(roles.get("authenticated", "")),
        unauthenticated_role=key.get(roles.get("unauthenticated", "")))


def _variant(provider: dict[str, Any], configured: dict[str, Any], pool_id: str,
             key: dict[str, str], user_pool: str | None, tags: PrincipalTags | None) -> Variant:
    """One provider (app client) of the identity pool: its own RoleMapping (P2), and with
    several user pools, the pool whose users sign in through it."""
    mapping = configured.get("RoleMappings", {}).get(f"{provider['ProviderName']}:{provider['ClientId']}")
    return Variant(mapping=_mapping(mapping, key) if mapping else None,
                   server_side_token_check=bool(provider.get("ServerSideTokenCheck")),
                   user_pool=user_pool, principal_tags=tags,
                   identity_pool_id=pool_id, client_id=provider["ClientId"],
                   source=f"provider {provider['ProviderName']} client {provider['ClientId']}")


def _mapping(mapping: dict[str, Any], key: dict[str, str]) -> Mapping:
    rules = [Rule(claim=r["Claim"], match=r["MatchType"], value=r["Value"], role=key[r["RoleARN"]])
             for r in mapping.get("RulesConfiguration", {}).get("Rules", [])]
    return Mapping(type=mapping["Type"], ambiguous=mapping.get("AmbiguousRoleResolution", "Deny"),
                   rules=rules)
