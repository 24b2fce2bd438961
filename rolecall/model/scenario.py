"""Scenario files: the stack, its users, and what each of them should get.

A scenario (scenarios/*.yaml) describes one stack: a DynamoDB table, IAM roles
with their policies, user pool groups with precedence and role, users, and an
identity pool with one or more role-mapping *variants*. Expectations are data:
each role carries the DynamoDB actions it should allow (everything else must be
denied), and explicitly stated roles per user and variant carry a `source:`.

Loading validates everything before anything is provisioned. A bad file raises
`ScenarioError` naming the file, the YAML path and the fix.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from difflib import get_close_matches
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from rolecall.model import yamlsource
from rolecall.model.actions import FLOWS, Actions, Flow
from rolecall.model.base import Model, Name
from rolecall.model.errors import ScenarioError, as_scenario_error, read_yaml, refuse
from rolecall.model.shapes import BY_NAME, index_shapes
from rolecall.model.tables import Table
from rolecall.model.trust import PrincipalTags, Trust
from rolecall.model.userpools import DEFAULT_POOL as DEFAULT_POOL
from rolecall.model.userpools import MAX_PRECEDENCE as MAX_PRECEDENCE
from rolecall.model.userpools import Group as Group
from rolecall.model.userpools import User as User
from rolecall.model.userpools import UserPool as UserPool
from rolecall.model.userpools import check_members, check_pool_name, pool_choice


class Role(Model):
    policy: dict[str, Any]
    # None: nobody stated what the role may do (a discovered role no persona receives);
    # such a role's credentials get credential cells but no access cells.
    allowed: Actions | None
    source: str
    trust: Trust = Trust()
    # A discovered role's trust policy as AWS holds it (the audit reads it verbatim);
    # `trust` is then the oracle's reading of it.
    trust_policy: dict[str, Any] | None = None
    # per-identity tables: what the role may do on a partition that is not the caller's own
    # (default: the same as `allowed`, i.e. no per-identity restriction).
    allowed_foreign: Actions | None = None
    # A discovered table's secondary indexes: index name -> what the role may do on it
    # (Query, Scan). None: not stated, no index cells.
    allowed_indexes: dict[str, Actions] | None = None
    # The stack's other tables (`other_tables:`): table name -> what the role may do there
    # (unlisted: nothing). `allowed` is about the main table.
    allowed_on: dict[str, Actions] = {}
    # Verdicts stated per request shape (rolecall/model/shapes.py) where more than the action
    # decides, e.g. an attribute condition: {UpdateItem-secret: DENIED}
    shapes: dict[str, Literal["ALLOWED", "DENIED"]] = {}
    # actions an explicit Deny of this role refuses: AccessDenied must say "with an explicit
    # deny in an identity-based policy" for them (SPEC D4), not "no ... policy allows".
    denied_explicitly: Actions = []
    # The role's permissions boundary: a managed policy document (SPEC B1) that caps what
    # `policy` grants.
    boundary: dict[str, Any] | None = None
    # Another version of the boundary's policy that is not the default: provisioning puts it
    # before and after the default one (versions 1 and 3), so that reading the first or the
    # newest version instead of the default is wrong either way (B1).
    boundary_other_version: dict[str, Any] | None = None
    arn: str | None = None  # a discovered role's ARN (its stack's policies name it)
    # The role's MaxSessionDuration in seconds (CreateRole: 3600..43200; None: never set, so
    # AWS's default 3600): the longest session AssumeRoleWithWebIdentity gives (SPEC C7).
    max_session_duration: Annotated[int, Field(ge=3600, le=43200)] | None = None
    # How test ids name the role when its key is noisy (a discovered CDK role: its logical
    # id without the CDK's hash, rolecall/account/discovery.py); None: by its key.
    label: Name | None = None

    @field_validator("policy", "boundary", "boundary_other_version")
    @classmethod
    def _is_policy(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is not None and "Statement" not in value:
            raise ValueError("an IAM policy document needs a Statement list")
        return value


class AcceptedFinding(Model):
    """A finding the stack's owners know about and accept, with their reason (audit trail).

    An accepted finding that is no longer found fails too: the acceptance is stale.
    """

    check: str  # e.g. trust-without-aud, escalation
    subject: str  # the role, variant or user it is about
    reason: str


class Rule(Model):
    claim: str
    match: Literal["Equals", "Contains", "StartsWith", "NotEqual"]
    value: str
    role: str


class Mapping(Model):
    type: Literal["Token", "Rules"]
    ambiguous: Literal["AuthenticatedRole", "Deny"]
    rules: list[Rule] = []

    @model_validator(mode="after")
    def _rules_fit_type(self) -> Mapping:
        if self.type == "Rules" and not 1 <= len(self.rules) <= 25:
            raise ValueError("a Rules mapping needs 1 to 25 rules (SPEC P3)")
        if self.type == "Token" and self.rules:
            raise ValueError("a Token mapping takes no rules; use type: Rules")
        return self


class IdentityPool(Model):
    allow_unauthenticated: bool = False
    allow_classic_flow: bool | None = None  # None: never given to AWS (SPEC C2)
    server_side_token_check: bool = False
    authenticated_role: str | None = None
    unauthenticated_role: str | None = None
    guest_entitlement: Actions | None = None  # what guests may ever do (escalation check)
    principal_tags: PrincipalTags | None = None  # SPEC A1: set for every user pool provider


class Variant(Model):
    """One identity pool of the stack: its role mappings plus optional pool overrides.

    One user pool: `mapping:` is its provider's. Several: `mappings:` keys each pool's
    provider by the pool's name (a pool left out has none: its users get the default
    authenticated role, E6). A discovered variant is one app client of one user pool
    (`user_pool:`): only that pool's users sign in through it, and `mapping:` is its own.
    """

    mapping: Mapping | None = None
    mappings: dict[Name, Mapping] = {}
    user_pool: Name | None = None
    allow_classic_flow: bool | None = None
    allow_unauthenticated: bool | None = None
    server_side_token_check: bool | None = None
    principal_tags: PrincipalTags | None = None  # this variant's own map (else the pool's)
    # CustomRoleArn values to request in the enhanced flow (Token: among cognito:roles,
    # E7a; Rules: among the matching rules' roles, overriding their order, E9c)
    custom_roles: list[str] = []
    source: str = ""
    # A discovered stack: the identity pool and app client this variant is (physical ids).
    identity_pool_id: str | None = None
    client_id: str | None = None


class ExpectedRole(Model):
    """A stated expectation: `user` in `variant` gets `role` (or is refused) through `flow`.

    The classic flow (C1-C6) is checked against the oracle's classic answer and by the
    `classic=<custom_role>` credential cell, never as if it were the enhanced flow.
    """

    user: str
    variant: str
    role: str | None = None
    refused: str | None = None  # error code when no credentials are expected
    # enhanced: the CustomRoleArn asked for (None: none); classic: the role the user asks
    # STS for (AssumeRoleWithWebIdentity), required
    custom_role: str | None = None
    flow: Literal["enhanced", "classic"] = "enhanced"
    source: str
    pins: str | None = None  # the 'assumed' SPEC rule this expectation pins

    @model_validator(mode="after")
    def _one_outcome(self) -> ExpectedRole:
        if (self.role is None) == (self.refused is None):
            raise ValueError("state exactly one of role: <role> or refused: <error code>")
        if self.flow == "classic" and self.custom_role is None:
            raise ValueError("flow: classic needs custom_role: the role the user asks STS for "
                             "(AssumeRoleWithWebIdentity)")
        return self


class Negatives(Model):
    """Who the token-negative tests use (suites/test_tokens_negative.py).

    `user`'s valid tokens are tampered with, re-signed, swapped for access tokens or
    taken from another app client or pool. The others are sacrificed once per run:
    signed out globally, disabled, deleted (their stale tokens must stop working with
    ServerSideTokenCheck and keep working without it, SPEC E3). None of them should
    take part in the matrix (`matrix: false`).
    """

    user: str
    signed_out: str | None = None
    disabled: str | None = None
    deleted: str | None = None
    # Which broken-token cases to run. `expired` ages every ID token of the scenario's
    # user pool, and `session-expired` every session of its identity pool, so both
    # belong in a scenario of their own.
    # alg-none, hs256 and embedded-jwk are signatures a careless verifier accepts (issue 13);
    # refresh-token: a client that sends its refresh token, which is not an ID token.
    # swapped-provider (several user pools): the user's token under the OTHER pool's Logins key.
    cases: list[Literal["tampered", "resigned", "other-client", "other-pool",
                        "other-provider", "access-token", "refresh-token", "expired",
                        "session-expired", "alg-none", "hs256", "embedded-jwk",
                        "swapped-provider"]] = [
        "tampered", "resigned", "other-client", "other-pool", "other-provider", "access-token",
        "refresh-token"]


class Discovered(Model):
    """Where a discovered stack lives: rolecall reads it, never provisions or deletes it."""

    stack: str | None = None  # CloudFormation stack name (None: --identity-pool-id)
    identity_pool_id: str
    region: str


class Scenario(Model):
    name: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,23}$")]
    description: str
    source: str
    table: Table | None  # None: a discovered stack without a DynamoDB table (no access cells)
    # More tables of the same stack (issue 23): probed like the main one, and reached together
    # with it by batches and transactions that span two tables. Shared partitions only.
    other_tables: list[Table] = []
    roles: dict[Name, Role]
    groups: dict[Name, Group] = {}
    users: dict[Name, User]
    # One user pool (`user_pool:`), or several providers of the identity pool (`user_pools:`,
    # rolecall/model/userpools.py); `pools()` is either as one mapping.
    user_pool: UserPool | None = None
    user_pools: dict[Name, UserPool] = {}
    identity_pool: IdentityPool = IdentityPool()
    variants: dict[Name, Variant] = Field(min_length=1)
    flows: list[Flow] = list(FLOWS)
    expect: list[ExpectedRole] = []
    accepted_findings: list[AcceptedFinding] = []
    negatives: Negatives | None = None
    discovered: Discovered | None = None
    # Which DynamoDB probes the access cells run (None: the twelve default shapes; `all`:
    # every shape rolecall/model/shapes.py knows, index shapes included). A scenario about
    # WHICH role a user gets (its credential cells read the role from STS) needs one probe
    # to show the credentials work, not twelve: cells that discriminate, not the cross product.
    probes: list[str] | Literal["all"] | None = None
    file: str = ""
    _lines: yamlsource.Located = PrivateAttr(default_factory=lambda: yamlsource.Located(None))

    @model_validator(mode="after")
    def _references_resolve(self) -> Scenario:
        if self.discovered is None and (self.table is None or not self.table.items):
            raise ValueError("table: a scenario needs a table with at least one seed item "
                             "under table.items (the read probes use it)")
        for path, role in self._role_references():
            if role not in self.roles:
                raise refuse(path, f"names role {role!r}, which is not under roles: "
                                    f"(known: {', '.join(self.roles)})")
        if self.user_pool is not None and self.user_pools:
            raise refuse(("user_pools",), "give either user_pool: (one pool) or user_pools: "
                                          "(several, by name), not both")
        check_members(self.pools(), self.groups, self.users)
        self._mappings_resolve()
        for variant_name, variant in self.variants.items():
            if variant.custom_roles and not self.mapped(variant_name):
                raise refuse(("variants", variant_name, "custom_roles"),
                              "needs a Token or Rules mapping (CustomRoleArn picks among "
                              "cognito:roles, SPEC E7a, or among the matching rules' roles, E9c)")
        self._tenants_resolve()
        self._other_tables_resolve()
        self._probes_resolve()
        if self.negatives is not None and "swapped-provider" in self.negatives.cases \
                and len(self.pools()) < 2:
            raise refuse(("negatives", "cases"), "swapped-provider presents a token under another "
                         "user pool's Logins key: it needs several pools under user_pools:")
        if self.negatives is not None:
            for part in ("user", "signed_out", "disabled", "deleted"):
                user_name = getattr(self.negatives, part)
                if user_name is not None and user_name not in self.users:
                    raise refuse(("negatives", part), f"names {user_name!r}, which is not under "
                                                       "users:")
        for n, expected in enumerate(self.expect):
            if expected.user not in self.users:
                raise refuse(("expect", n, "user"), f"{expected.user!r} is not under users:")
            if expected.variant not in self.variants:
                raise refuse(("expect", n, "variant"), f"{expected.variant!r} is not under "
                                                        "variants:")
            if expected.flow not in self.flows:
                raise refuse(("expect", n, "flow"), f"states a {expected.flow}-flow "
                                                     "expectation, but flows: leaves that flow out")
            if not self.serves(expected.variant, expected.user):
                raise refuse(("expect", n), f"{expected.user} is a user of pool "
                             f"{self.pool_of(expected.user)}, and variant {expected.variant} is "
                             f"an app client of pool {self.variants[expected.variant].user_pool}")
        return self

    def _mappings_resolve(self) -> None:
        """`mapping:` with one pool (or a variant of one pool), `mappings:` by pool name with
        several: one way to write each."""
        pools = self.pools()
        for name, variant in self.variants.items():
            if variant.user_pool is not None:
                check_pool_name(pools, variant.user_pool, ("variants", name, "user_pool"))
            single = len(pools) == 1 or variant.user_pool is not None
            if single and variant.mappings:
                raise refuse(("variants", name, "mappings"), "one user pool: write its mapping "
                             "as mapping: (mappings: keys several pools by name)")
            if not single and variant.mapping is not None:
                raise refuse(("variants", name, "mapping"), f"the scenario has {len(pools)} "
                             f"user pools ({', '.join(pools)}): key each pool's mapping by its "
                             f"name under mappings: (e.g. mappings: {{{next(iter(pools))}: ...}})")
            for pool in variant.mappings:
                check_pool_name(pools, pool, ("variants", name, "mappings", pool))

    def _other_tables_resolve(self) -> None:
        """Other tables have names of their own, shared partitions, and profiles name them."""
        main = self.table.name if self.table else None
        names = [t.name for t in self.other_tables]
        for n, table in enumerate(self.other_tables):
            if table.name == main or names.count(table.name) > 1:
                raise refuse(("other_tables", n, "name"), f"{table.name!r} is the name of "
                             "another table of the stack; give each table its own")
            if table.partition != "shared" or table.policy is not None:
                raise refuse(("other_tables", n), "an other table is shared and has no policy "
                             "of its own (partitions and table policies: the main table)")
        for role_name, role in self.roles.items():
            for table_name in role.allowed_on:
                if table_name not in names:
                    raise refuse(("roles", role_name, "allowed_on", table_name),
                                 f"names table {table_name!r}, which is not under other_tables: "
                                 f"(known: {', '.join(names) or 'none'})")

    def _probes_resolve(self) -> None:
        """Every `probes:` name is a request shape (rolecall/model/shapes.py)."""
        known = {*BY_NAME, *(s.name.split("@", 1)[0] for s in index_shapes("index"))}
        for n, name in enumerate(self.probes if isinstance(self.probes, list) else []):
            if name.split("@", 1)[0] not in known:
                near = get_close_matches(name, sorted(known), n=1)
                raise refuse(("probes", n), f"names unknown request shape {name!r}"
                             + (f" (did you mean {near[0]}?)" if near else "")
                             + "; the shapes are listed in rolecall/model/shapes.py")

    def other_table(self, name: str) -> Table:
        return next(t for t in self.other_tables if t.name == name)

    def _tenants_resolve(self) -> None:
        """Per-tenant tables: each matrix user names a tenant; table policies name known roles."""
        table = self.table
        if table is not None and table.tenant_claim is not None:
            for user_name in self.matrix_users():
                if table.tenant_claim not in self.users[user_name].attributes:
                    raise refuse(("users", user_name, "attributes"),
                                 f"names no {table.tenant_claim!r}: on a per-tenant table every "
                                 "user of the matrix belongs to a tenant")
        policy = json.dumps(table.policy) if table is not None and table.policy else ""
        for role in re.findall(r"\{\{(?:role|session)_arn:([^}]*)\}\}", policy):
            if role not in self.roles:
                raise refuse(("table", "policy"), f"names role {role!r}, which is not under "
                                                  f"roles: (known: {', '.join(self.roles)})")

    def _role_references(self) -> Iterable[tuple[tuple[str | int, ...], str]]:
        for name, group in self.groups.items():
            if group.role:
                yield ("groups", name, "role"), group.role
        pool = self.identity_pool
        for field_name in ("authenticated_role", "unauthenticated_role"):
            if getattr(pool, field_name):
                yield ("identity_pool", field_name), getattr(pool, field_name)
        for variant_name, variant in self.variants.items():
            for n, rule in enumerate(variant.mapping.rules if variant.mapping else []):
                yield ("variants", variant_name, "mapping", "rules", n, "role"), rule.role
            for pool_name, mapping in variant.mappings.items():
                for n, rule in enumerate(mapping.rules):
                    yield (("variants", variant_name, "mappings", pool_name, "rules", n, "role"),
                           rule.role)
            for n, role in enumerate(variant.custom_roles):
                yield ("variants", variant_name, "custom_roles", n), role
        for n, expected in enumerate(self.expect):
            for key, stated in (("role", expected.role), ("custom_role", expected.custom_role)):
                if stated:
                    yield ("expect", n, key), stated

    # -- derived views -------------------------------------------------------------
    def line_of(self, *path: str | int) -> int | None:
        """The line of the scenario file this YAML path (or its nearest parent) is on."""
        return self._lines.line_of(path)

    def role_label(self, role: str) -> str:
        """The role as test ids and path labels name it: its label, else its key."""
        return self.roles[role].label or role

    def matrix_users(self) -> list[str]:
        """The users that take part in the matrix (claims, credential and access cells)."""
        return [name for name, user in self.users.items() if user.matrix]

    # -- user pools (rolecall/model/userpools.py) ---------------------------------------
    def pools(self) -> dict[str, UserPool]:
        """Every user pool by name: `user_pools:`, or the one `user_pool:` as DEFAULT_POOL."""
        return dict(self.user_pools) or {DEFAULT_POOL: self.user_pool or UserPool()}

    def pool_of(self, user: str) -> str:
        """The user pool a user signs in to."""
        return pool_choice(self.pools(), self.users[user].pool)

    def group_pool(self, group: str) -> str:
        return pool_choice(self.pools(), self.groups[group].pool)

    def mapping_of(self, variant: str, pool: str) -> Mapping | None:
        """The role mapping of `pool`'s provider in a variant's identity pool (None: none)."""
        chosen = self.variants[variant]
        if chosen.user_pool is not None and chosen.user_pool != pool:
            return None  # a discovered variant is one app client of another pool
        return chosen.mappings.get(pool) if chosen.mappings else chosen.mapping

    def mapped(self, variant: str) -> bool:
        """Does the variant's identity pool have RoleMappings (for any provider)?"""
        chosen = self.variants[variant]
        return chosen.mapping is not None or bool(chosen.mappings)

    def serves(self, variant: str, user: str) -> bool:
        """Can `user` sign in through the variant (a discovered variant: one pool's client)?"""
        bound = self.variants[variant].user_pool
        return bound is None or bound == self.pool_of(user)

    def variants_for(self, user: str) -> list[str]:
        """The variants a user signs in through (every one, but for discovered app clients)."""
        return [variant for variant in self.variants if self.serves(variant, user)]

    def variant_users(self, variant: str) -> list[str]:
        """The matrix users that sign in through this variant."""
        return [user for user in self.matrix_users() if self.serves(variant, user)]

    def pool_setting(self, variant: str, name: Literal[
            "allow_classic_flow", "allow_unauthenticated", "server_side_token_check"]
            ) -> bool | None:
        """A variant's pool setting: its own when it states one, else the pool's."""
        chosen = self.variants[variant]
        if name in chosen.model_fields_set:
            return getattr(chosen, name)
        return getattr(self.identity_pool, name)

    def principal_tags(self, variant: str) -> dict[str, str]:
        """The tags a variant's pool sets from its user pool's tokens: tag -> claim (A1)."""
        chosen = self.variants[variant].principal_tags or self.identity_pool.principal_tags
        return chosen.mapped() if chosen is not None else {}

    def tenant_of(self, user: str) -> str | None:
        """A user's tenant on a per-tenant table: the value of the table's tenant claim."""
        if self.table is None or self.table.tenant_claim is None:
            return None
        return self.users[user].attributes.get(self.table.tenant_claim)


def load(path: str | Path) -> Scenario:
    """Read and validate one scenario file; ScenarioError says file, line, path and fix."""
    path = Path(path)
    located = read_yaml(path, path.read_text())
    data = located.data
    if not isinstance(data, dict):
        raise ScenarioError(path, "the whole file", "a scenario must be a YAML mapping",
                            "start the file with `name:`, `description:`, `table:` ...", line=1)
    # Top-level `x-...` keys hold YAML anchors shared by the file (as in docker-compose).
    data = {k: v for k, v in data.items() if not str(k).startswith("x-")}
    try:
        loaded = Scenario.model_validate({**data, "file": str(path)})
    except ValidationError as exc:
        raise as_scenario_error(path, exc, located, Scenario) from None
    loaded._lines = located
    return loaded


def load_all(directory: str | Path, only: Iterable[str] = ()) -> list[Scenario]:
    """Every scenarios/*.yaml, sorted by name; `only` keeps the named scenarios."""
    wanted = set(only)
    paths = sorted(Path(directory).glob("*.yaml"))
    by_stem = [path for path in paths if path.stem in wanted]
    if wanted and len(by_stem) == len(wanted):  # <name>.yaml: read only those (a mutation
        found = [load(path) for path in by_stem]  # run names one; parsing all costs ~1 s)
        if {s.name for s in found} == wanted:
            return found
    scenarios = [load(path) for path in paths]
    if wanted:
        unknown = wanted - {s.name for s in scenarios}
        if unknown:
            named = ", ".join(repr(name) for name in sorted(unknown))
            raise ScenarioError(directory, "--scenario", f"no scenario named {named}",
                                f"choose from {', '.join(s.name for s in scenarios)}")
        scenarios = [s for s in scenarios if s.name in wanted]
    names = [s.name for s in scenarios]
    duplicates = {n for n in names if names.count(n) > 1}
    if duplicates:
        raise ScenarioError(directory, "name", f"scenario name(s) {sorted(duplicates)} used twice",
                            "give every scenario file its own name:")
    return scenarios
