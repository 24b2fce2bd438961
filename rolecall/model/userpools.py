"""User pools and their members: one pool, or several providers of one identity pool.

Real apps put two user pools behind one identity pool (staff and customers). Each is a
provider of the identity pool (CognitoIdentityProviders, SPEC P1) with its own app client
and its own RoleMappings key `<ProviderName>:<ClientId>` (P2): "How users for a specific
identity provider are to mapped to roles" (SetIdentityPoolRoles, API reference). So a
user signs in to its own pool, its ID token is a login of that pool's provider, and the
role it gets is decided by that provider's mapping alone (role-based access control,
developer guide: https://docs.aws.amazon.com/cognito/latest/developerguide/role-based-access-control.html).

A scenario writes one pool as `user_pool:` (its name is DEFAULT_POOL) or several as
`user_pools: {staff: {...}, customers: {...}}`; then every user and group says which pool
it belongs to (`pool: staff`). `check_members` holds those references; the Scenario
model (scenario.py) calls it while it validates.
"""

from __future__ import annotations

from collections.abc import Mapping
from difflib import get_close_matches

from pydantic import Field

from rolecall.model.actions import Actions
from rolecall.model.base import Model, Name
from rolecall.model.errors import refuse

MAX_PRECEDENCE = 2**31 - 1
DEFAULT_POOL = "users"  # the one pool of `user_pool:` (also its physical name's part)


class UserPool(Model):
    custom_attributes: list[str] = []
    id_token_minutes: int | None = Field(default=None, ge=5, le=1440)  # app client validity
    # Attributes the app client lets users write themselves (None: AWS's default, all of
    # them). A rule keyed on a user-writable attribute is an escalation path.
    writable_attributes: list[str] | None = None


class Group(Model):
    role: str | None = None
    precedence: int | None = Field(default=None, ge=0, le=MAX_PRECEDENCE)
    # The DynamoDB permissions members of this group may EVER hold, over every credential
    # path (enhanced, CustomRoleArn, classic, guest). More is an escalation finding.
    entitlement: Actions | None = None
    pool: Name | None = None  # the user pool the group is in (required with several pools)


class User(Model):
    groups: list[str] = []
    attributes: dict[str, str] = {}
    entitlement: Actions | None = None  # overrides the groups' entitlements for this user
    # False: the user takes no part in the matrix (a user the negative tests sign out,
    # disable or delete, or whose attributes the escalation checks change).
    matrix: bool = True
    pool: Name | None = None  # the user pool the user signs in to (required with several)


def pool_choice(pools: Mapping[str, UserPool], named: str | None) -> str:
    """The pool a member names, or the only pool when it names none (checked beforehand)."""
    return named if named is not None else next(iter(pools))


def check_members(pools: Mapping[str, UserPool], groups: Mapping[str, Group],
                  users: Mapping[str, User]) -> None:
    """Each group and user is in one known pool; a user's groups and custom attributes are
    its own pool's (Cognito groups and schemas belong to one user pool)."""
    for name, group in groups.items():
        _check_named(pools, group.pool, ("groups", name, "pool"), "group")
    for name, user in users.items():
        _check_named(pools, user.pool, ("users", name, "pool"), "user")
        own = pool_choice(pools, user.pool)
        for n, group_name in enumerate(user.groups):
            if group_name not in groups:
                raise refuse(("users", name, "groups", n),
                             f"names group {group_name!r}, which is not under groups: "
                             f"(known: {', '.join(groups) or 'none'})")
            theirs = pool_choice(pools, groups[group_name].pool)
            if theirs != own:
                raise refuse(("users", name, "groups", n),
                             f"group {group_name!r} is in user pool {theirs}, the user in {own}: "
                             "a user joins groups of its own pool only")
        for attribute in user.attributes:
            custom = attribute.removeprefix("custom:")
            if attribute.startswith("custom:") and custom not in pools[own].custom_attributes:
                where = "user_pool" if len(pools) == 1 else f"user_pools.{own}"
                raise refuse(("users", name, "attributes", attribute),
                             f"uses {attribute!r}; declare {custom!r} under "
                             f"{where}.custom_attributes")


def check_pool_name(pools: Mapping[str, UserPool], named: str,
                    path: tuple[str | int, ...]) -> None:
    """`named` is one of the scenario's pools; else the nearest name."""
    if named not in pools:
        near = get_close_matches(named, list(pools), n=1)
        raise refuse(path, f"names user pool {named!r}, which is not under user_pools: "
                           f"(known: {', '.join(pools)})"
                     + (f"; did you mean {near[0]}?" if near else ""))


def _check_named(pools: Mapping[str, UserPool], named: str | None,
                 path: tuple[str | int, ...], what: str) -> None:
    if named is None:
        if len(pools) > 1:
            raise refuse(path, f"the scenario has {len(pools)} user pools "
                                    f"({', '.join(pools)}); say which one this {what} is in "
                                    f"with pool: {next(iter(pools))}")
        return
    check_pool_name(pools, named, path)
