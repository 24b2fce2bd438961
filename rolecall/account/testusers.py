"""Test users in a team's existing user pool: one per persona, gone at the end (issue 11.4).

Each persona gets `rc-<runid>-<persona>` (MessageAction SUPPRESS, a password
derived from the run's in-memory secret, never written), added to exactly its
groups. Every user is journaled (kind `test_user`, id `<user pool id>/<name>`)
the moment it exists, so the run's teardown deletes it even after an interrupt,
and `sweep_users` finds leftovers by prefix and age. Nothing else in the pool
is touched: only users whose name starts with `rc-` and whose creation time is
old enough are deleted, never a group, client or another user.

Kept in one small module so the cleanup table of resource kinds
(rolecall/account/cleanup.py, branch `cleanup`) can register `test_user` by
importing `delete_user` and `find_users`.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from rolecall.account.cleanup import Journal, Leftover, ResourceKind, register
from rolecall.account.clients import Target
from rolecall.account.flows import password_variable, supplied_password
from rolecall.account.provision import RunSecrets, Stack
from rolecall.model.errors import ScenarioError
from rolecall.model.scenario import Scenario

log = logging.getLogger("rolecall.account.testusers")



class TestUsers(ResourceKind):
    """rolecall's ephemeral users in a team's user pool: `<user pool id>/<username>`.

    Found by name prefix and age with `rolecall sweep --user-pool-id` (find_users), not by
    tag: users carry none, and only the team's own pools hold them.
    """

    name, service = "test_user", "cognito-idp"

    def delete(self, client: Any, ident: str) -> None:
        pool_id, user = ident.split("/", 1)
        client.admin_delete_user(UserPoolId=pool_id, Username=user)

    def list_ours(self, client: Any) -> Iterator[Leftover]:
        return iter(())  # swept per user pool by find_users, which knows the pool


class ProbeItems(ResourceKind):
    """The seed and probe items a run writes into a team's table: `<table> <key JSON>`."""

    name, service = "probe_item", "dynamodb"

    def delete(self, client: Any, ident: str) -> None:
        table, key = ident.split(" ", 1)
        client.delete_item(TableName=table, Key=json.loads(key))

    def list_ours(self, client: Any) -> Iterator[Leftover]:
        return iter(())  # they live in the team's table, keyed by the run: nothing to list


KIND = register(TestUsers())
ITEM_KIND = register(ProbeItems())
ADMIN_FLOW = "ALLOW_ADMIN_USER_PASSWORD_AUTH"
SIGN_IN_FLOWS = {"ALLOW_USER_PASSWORD_AUTH", "ALLOW_ADMIN_USER_PASSWORD_AUTH",
                 "ADMIN_NO_SRP_AUTH", "USER_PASSWORD_AUTH"}
PREFIX = re.compile(r"^rc-[0-9a-f]{8}-")


def username(runid: str, persona: str) -> str:
    return f"rc-{runid}-{persona}"


def admin_sign_in(clients: dict[str, dict[str, Any]]) -> bool:
    """Every app client allows ADMIN_USER_PASSWORD_AUTH: rolecall signs in with admin rights."""
    return all({ADMIN_FLOW, "ADMIN_NO_SRP_AUTH"} & set(c.get("ExplicitAuthFlows", []))
               for c in clients.values())


def check_clients(clients: dict[str, dict[str, Any]], entitlements_file: str,
                  supplied: bool) -> None:
    """Refuse before creating anything when an app client does not allow admin password sign-in.

    rolecall signs the users it creates in with AdminInitiateAuth, which needs
    ALLOW_ADMIN_USER_PASSWORD_AUTH in the client's ExplicitAuthFlows; supplied users
    may instead sign in with ALLOW_USER_PASSWORD_AUTH.
    """
    for variant, client in clients.items():
        flows = set(client.get("ExplicitAuthFlows", []))
        admin = bool({ADMIN_FLOW, "ADMIN_NO_SRP_AUTH"} & flows)
        if not flows & SIGN_IN_FLOWS or (not supplied and not admin):
            raise ScenarioError(
                "app client", f"{client.get('ClientName') or client['ClientId']} ({variant}): "
                "ExplicitAuthFlows",
                f"does not allow {ADMIN_FLOW} (it allows {sorted(flows) or 'nothing'}), so "
                "rolecall cannot sign its test users in",
                f"add {ADMIN_FLOW} to the client's ExplicitAuthFlows, or give each persona a "
                f"test user of your own in {entitlements_file} (`user: alice`) with its password "
                "in the environment (ROLECALL_PASSWORD_<PERSONA>)")


def create_users(target: Target, scenario: Scenario, stack: Stack, secrets: RunSecrets,
                 journal: Journal, supplied: dict[str, str]) -> dict[str, str]:
    """Create (or take, when supplied) one user per persona; returns persona -> username."""
    idp = target.client("cognito-idp")
    users: dict[str, str] = {}
    for persona, spec in scenario.users.items():
        if persona in supplied:
            supplied_password(persona)  # fails now, naming the variable, when it is not set
            users[persona] = supplied[persona]
            continue
        name = username(stack.runid, persona)
        pool_id = stack.user_pool_of(persona)  # the persona's own user pool
        # the persona's attributes (its tenant): the claims its tokens carry (SPEC A2)
        idp.admin_create_user(UserPoolId=pool_id, Username=name, MessageAction="SUPPRESS",
                              UserAttributes=[{"Name": k, "Value": v}
                                              for k, v in spec.attributes.items()])
        journal.record(KIND, f"{pool_id}/{name}")
        idp.admin_set_user_password(UserPoolId=pool_id, Username=name,
                                    Password=secrets.password(stack.scenario, persona),
                                    Permanent=True)
        for group in spec.groups:
            idp.admin_add_user_to_group(UserPoolId=pool_id, Username=name, GroupName=group)
        users[persona] = name
    return users


def check_supplied(target: Target, scenario: Scenario, stack: Stack, supplied: dict[str, str],
                   file: str) -> None:
    """A supplied user must be in exactly the persona's groups, or the cells would lie."""
    idp = target.client("cognito-idp")
    for persona, name in supplied.items():
        if not supplied_password_set(persona):
            raise ScenarioError(file, f"personas.{persona}.user", f"user {name} has no password",
                                f"export {password_variable(persona)}=<its password>")
        groups = sorted(g["GroupName"] for g in idp.admin_list_groups_for_user(
            UserPoolId=stack.user_pool_of(persona), Username=name)["Groups"])
        wanted = sorted(scenario.users[persona].groups)
        if groups != wanted:
            raise ScenarioError(file, f"personas.{persona}.groups", f"user {name} is in "
                                f"{groups}, the persona in {wanted}",
                                "put the user in exactly the persona's groups, or fix the groups")


def supplied_password_set(persona: str) -> bool:
    try:
        supplied_password(persona)
    except KeyError:
        return False
    return True


def delete_user(target: Target, ident: str) -> None:
    """Delete one test user, `<user pool id>/<username>` (the journal's id)."""
    pool_id, name = ident.split("/", 1)
    target.client("cognito-idp").admin_delete_user(UserPoolId=pool_id, Username=name)


@dataclass(frozen=True)
class LeftoverUser:
    ident: str  # <user pool id>/<username>
    created: str

    def as_dict(self) -> dict[str, str]:
        return {"kind": KIND.name, "ident": self.ident, "created": self.created}


def find_users(target: Target, user_pool_id: str, older_than: timedelta) -> list[LeftoverUser]:
    """rolecall's test users (`rc-<runid>-...`) in one pool, created more than `older_than` ago."""
    idp = target.client("cognito-idp")
    cutoff = datetime.now(UTC) - older_than
    found = []
    for page in idp.get_paginator("list_users").paginate(UserPoolId=user_pool_id):
        for user in page["Users"]:
            created = user.get("UserCreateDate")
            if PREFIX.match(user["Username"]) and isinstance(created, datetime) and \
                    created.astimezone(UTC) <= cutoff:
                found.append(LeftoverUser(f"{user_pool_id}/{user['Username']}",
                                          created.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")))
    return found


def sweep_users(target: Target, user_pool_id: str, older_than: timedelta,
                delete: bool = False) -> list[LeftoverUser]:
    """List (or delete) leftover test users of one pool; other users are never touched."""
    leftovers = find_users(target, user_pool_id, older_than)
    for left in leftovers if delete else []:
        try:
            delete_user(target, left.ident)
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "UserNotFoundException":
                raise
    return leftovers


def delete_item(target: Target, ident: str) -> None:
    """Delete one item rolecall wrote into a team's table: `<table>` + the key in JSON."""
    table, key = ident.split(" ", 1)
    target.client("dynamodb").delete_item(TableName=table, Key=json.loads(key))


def teardown_users(target: Target, journal: Journal) -> list[str]:
    """Delete the journal's test users and items, newest first; returns what is left."""
    failures = []
    deleters = {KIND.name: delete_user, ITEM_KIND.name: delete_item}
    for entry in reversed(journal.entries()):
        try:
            deleters[entry["kind"]](target, entry["id"])
        except ClientError as exc:
            if exc.response["Error"]["Code"] not in ("UserNotFoundException",
                                                      "ResourceNotFoundException"):
                failures.append(f"{entry['kind']} {entry['id']}: {exc.response['Error']['Code']}")
    if not failures:
        journal.path.unlink(missing_ok=True)
    return failures
