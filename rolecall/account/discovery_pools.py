"""The user pools of a discovered identity pool: one provider, or several (issue 23).

Read by rolecall/account/discovery.py. Each Cognito user pool provider of the identity
pool (CognitoIdentityProviders, SPEC P1) is read the same way: its groups (RoleArn,
Precedence), custom attributes, what its app clients let users write, and the principal
tags the identity pool maps for it (A1). With several pools each gets a readable name
(its CDK logical id without the hash) that scenarios, entitlements (`user_pool:`) and the
stack's physical ids share; one pool is DEFAULT_POOL, as in a scenario's `user_pool:`.
Nothing here creates, changes or deletes anything.
"""

from __future__ import annotations

import re
from typing import Any, Protocol

from botocore.exceptions import ClientError

from rolecall.account.discovery_tables import CDK_HASH
from rolecall.model.entitlements import Aliases
from rolecall.model.errors import ScenarioError
from rolecall.model.scenario import DEFAULT_POOL, UserPool
from rolecall.model.trust import PrincipalTags


class PoolReader(Protocol):
    """What these reads need of discovery's reader (its clients, the stack's logical ids)."""

    idp: Any
    identity: Any
    logical: dict[str, str]  # physical id -> logical id (CloudFormation), else empty
    where: str  # the command-line option errors are about


def readable(logical_or_name: str) -> str:
    """A lower-case variant name from a client's logical id or name (cdk hash dropped)."""
    text = CDK_HASH.sub("", logical_or_name) or logical_or_name
    return re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")[:40] or "client"


def user_pool_id(provider: dict[str, Any]) -> str:
    """`cognito-idp.<region>.amazonaws.com/<user pool id>` -> the user pool id (P1)."""
    return str(provider["ProviderName"]).rsplit("/", 1)[-1]


def pool_names(reader: PoolReader, user_pools: list[str], aliases: Aliases) -> dict[str, str]:
    """A name per user pool provider: DEFAULT_POOL for one; for several, the pool's logical id
    without the CDK's hash (`StaffPool1A2B3C4D` -> `staffpool`), else its name."""
    if len(user_pools) == 1:
        names = {user_pools[0]: DEFAULT_POOL}
    else:
        names = {}
        for pool_id in user_pools:
            label = reader.logical.get(pool_id) or reader.idp.describe_user_pool(
                UserPoolId=pool_id)["UserPool"].get("Name") or pool_id
            named = readable(label)
            while named in names.values():
                named += "-2"
            names[pool_id] = named
    for pool_id, named in names.items():
        for alias in (pool_id, reader.logical.get(pool_id), named):
            if alias:
                aliases.pools[alias] = named
    return names


def all_groups(reader: PoolReader, pool_names: dict[str, str], aliases: Aliases
                ) -> tuple[dict[str, tuple[str | None, int | None]], dict[str, str]]:
    """Every provider's groups (name -> RoleArn, Precedence) and the pool each is in. Two
    pools with a group of the same name cannot be told apart by the scenario's group keys."""
    groups: dict[str, tuple[str | None, int | None]] = {}
    pools: dict[str, str] = {}
    for pool_id, named in pool_names.items():
        for group, spec in groups_of(reader, pool_id, aliases).items():
            if group in groups:
                raise ScenarioError("command line", reader.where, f"user pools {pools[group]} "
                                    f"and {named} both have a group {group!r}; rolecall keys "
                                    "groups by name", "rename one of the two groups")
            groups[group], pools[group] = spec, named
    return groups, pools


def own_tags(own: PrincipalTags | None, pool_wide: PrincipalTags | None) -> PrincipalTags | None:
    """A provider's principal-tag map where it differs from the first provider's (the
    scenario's pool-wide one): A1 maps are per provider. None: the same."""
    if own == pool_wide:
        return None
    return own if own is not None else PrincipalTags()


def groups_of(reader: PoolReader, pool_id: str, aliases: Aliases
            ) -> dict[str, tuple[str | None, int | None]]:
    groups = {}
    for page in reader.idp.get_paginator("list_groups").paginate(UserPoolId=pool_id):
        for group in page["Groups"]:
            groups[group["GroupName"]] = (group.get("RoleArn"), group.get("Precedence"))
            aliases.groups[group["GroupName"]] = group["GroupName"]
    for physical, logical in reader.logical.items():
        if physical in groups:  # AWS::Cognito::UserPoolGroup: physical id = group name
            aliases.groups[logical] = physical
    return groups


def principal_tags(reader: PoolReader, pool_id: str, provider: str) -> PrincipalTags | None:
    """Attributes for access control (SPEC A1): the claims the pool copies into session tags.
    None when the pool maps none (or the map names no tag and no defaults)."""
    try:
        found = reader.identity.get_principal_tag_attribute_map(
            IdentityPoolId=pool_id, IdentityProviderName=provider)
    except ClientError as exc:
        if exc.response["Error"].get("Code") in ("ResourceNotFoundException",):
            return None
        raise
    tags = dict(found.get("PrincipalTags") or {})
    use_defaults = bool(found.get("UseDefaults"))
    return PrincipalTags(tags=tags, use_defaults=use_defaults) if tags or use_defaults else None


def user_pool(reader: PoolReader, pool_id: str, clients: dict[str, dict[str, Any]]
               ) -> UserPool:
    """Custom attributes, and what users may write themselves through any of the pool's
    clients that are providers of the identity pool."""
    schema = reader.idp.describe_user_pool(UserPoolId=pool_id)["UserPool"].get(
        "SchemaAttributes", [])
    writes = [c.get("WriteAttributes") for c in clients.values()
              if c.get("UserPoolId") == pool_id]
    writable = None if any(w is None for w in writes) else sorted({a for w in writes for a in w or []})
    return UserPool(custom_attributes=[a["Name"].removeprefix("custom:") for a in schema
                                       if a["Name"].startswith("custom:")],
                    writable_attributes=writable)
