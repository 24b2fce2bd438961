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

from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from rolecall.model import yamlsource
from rolecall.model.actions import FLOWS, Actions, Flow
from rolecall.model.errors import ScenarioError, as_scenario_error, read_yaml, refuse

# Up to 64 characters: a discovered stack's roles and groups keep their AWS names.
Name = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.+=,@-]{0,63}$")]
MAX_PRECEDENCE = 2**31 - 1


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class KeyAttribute(Model):
    name: str
    type: Literal["S", "N", "B"] = "S"


class Index(Model):
    name: Name
    partition_key: KeyAttribute


class Table(Model):
    name: Name
    # per-identity: each identity owns the partition keyed by its identity id (fine-grained
    # access with dynamodb:LeadingKeys); probes then run on the caller's own partition and
    # on another's.
    partition: Literal["shared", "per-identity"] = "shared"
    partition_key: KeyAttribute
    sort_key: KeyAttribute | None = None
    indexes: list[Index] = []
    # Seed data the read probes use. A discovered table has none of ours: its probes read
    # and write only the probe key (`rolecall-probe`), which an allowed read finds absent.
    items: list[dict[str, str | int]] = []

    @model_validator(mode="after")
    def _items_have_keys(self) -> Table:
        if self.partition == "per-identity" and self.sort_key is None:
            raise ValueError("a per-identity table needs a sort_key, so each partition can hold "
                             "the probes' seed item and their written item apart")
        keys = [self.partition_key.name] + ([self.sort_key.name] if self.sort_key else [])
        for n, item in enumerate(self.items):
            missing = [k for k in keys if k not in item]
            if missing:
                raise ValueError(f"items[{n}] lacks key attribute(s) {missing}; "
                                 f"every seed item needs {keys}")
        return self


class Trust(Model):
    """The trust policy rolecall writes for a role (SPEC T1-T3).

    aud: `pool` = StringEquals aud on this stack's identity pools; `none` = no aud
    condition (T3, any pool in any account); `other` = an identity pool that is not ours.
    amr: which identities it admits: ForAnyValue:StringLike amr `authenticated` or
    `unauthenticated`, `any` (both), `none` (no amr condition).
    """

    aud: Literal["pool", "none", "other"] = "pool"
    amr: Literal["authenticated", "unauthenticated", "any", "none"] = "authenticated"
    # How the conditions are written (near-miss scenarios, issue 13): `wildcard` = amr as
    # StringLike "auth*" (admits like the exact value); `equals-wildcard` = ForAnyValue:
    # StringEquals "auth*" (the * is literal: admits nobody); `wrong-case` = StringLike
    # "Authenticated" (case-sensitive: admits nobody); aud `wrong-case` = StringEquals on
    # the upper-cased pool id (admits nobody), `ignore-case` = StringEqualsIgnoreCase on it.
    amr_form: Literal["exact", "wildcard", "equals-wildcard", "wrong-case"] = "exact"
    aud_form: Literal["exact", "wrong-case", "ignore-case"] = "exact"
    # `other`: the statement names another federated provider; `assume-role`: its Action
    # is sts:AssumeRole. Either way Cognito identities are not admitted (T1).
    principal: Literal["cognito", "other"] = "cognito"
    action: Literal["web-identity", "assume-role"] = "web-identity"

    def admits(self, amr: str) -> bool:
        """Does this trust policy admit an identity of this stack's pools with `amr` (T1, T2)?"""
        if self.aud == "other" or self.principal == "other" or self.action == "assume-role":
            return False
        if self.aud == "pool" and self.aud_form == "wrong-case":
            return False
        if self.amr == "none":
            return True
        if self.amr_form in ("equals-wildcard", "wrong-case"):
            return False
        return self.amr in ("any", amr)


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
    # actions an explicit Deny of this role refuses: AccessDenied must say "with an explicit
    # deny in an identity-based policy" for them (SPEC D4), not "no ... policy allows".
    denied_explicitly: Actions = []
    # How test ids name the role when its key is noisy (a discovered CDK role: its logical
    # id without the CDK's hash, rolecall/account/discovery.py); None: by its key.
    label: Name | None = None

    @field_validator("policy")
    @classmethod
    def _is_policy(cls, value: dict[str, Any]) -> dict[str, Any]:
        if "Statement" not in value:
            raise ValueError("an IAM policy document needs a Statement list")
        return value


class Group(Model):
    role: str | None = None
    precedence: int | None = Field(default=None, ge=0, le=MAX_PRECEDENCE)
    # The DynamoDB permissions members of this group may EVER hold, over every credential
    # path (enhanced, CustomRoleArn, classic, guest). More is an escalation finding.
    entitlement: Actions | None = None



class User(Model):
    groups: list[str] = []
    attributes: dict[str, str] = {}
    entitlement: Actions | None = None  # overrides the groups' entitlements for this user
    # False: the user takes no part in the matrix (a user the negative tests sign out,
    # disable or delete, or whose attributes the escalation checks change).
    matrix: bool = True



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


class Variant(Model):
    """One identity pool of the stack: a role mapping plus optional pool overrides."""

    mapping: Mapping | None = None
    allow_classic_flow: bool | None = None
    allow_unauthenticated: bool | None = None
    server_side_token_check: bool | None = None
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


class UserPool(Model):
    custom_attributes: list[str] = []
    id_token_minutes: int | None = Field(default=None, ge=5, le=1440)  # app client validity
    # Attributes the app client lets users write themselves (None: AWS's default, all of
    # them). A rule keyed on a user-writable attribute is an escalation path.
    writable_attributes: list[str] | None = None


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
    cases: list[Literal["tampered", "resigned", "other-client", "other-pool",
                        "other-provider", "access-token", "refresh-token", "expired",
                        "session-expired", "alg-none", "hs256", "embedded-jwk"]] = [
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
    roles: dict[Name, Role]
    groups: dict[Name, Group] = {}
    users: dict[Name, User]
    user_pool: UserPool = UserPool()
    identity_pool: IdentityPool = IdentityPool()
    variants: dict[Name, Variant] = Field(min_length=1)
    flows: list[Flow] = list(FLOWS)
    expect: list[ExpectedRole] = []
    accepted_findings: list[AcceptedFinding] = []
    negatives: Negatives | None = None
    discovered: Discovered | None = None
    # Which DynamoDB probes the access cells run (None: every one). A scenario about WHICH
    # role a user gets (its credential cells read the role from STS) needs one probe to show
    # the credentials work, not twelve: cells that discriminate, not the cross product.
    probes: list[str] | None = None
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
        for user_name, user in self.users.items():
            for n, group in enumerate(user.groups):
                if group not in self.groups:
                    raise refuse(("users", user_name, "groups", n),
                                  f"names group {group!r}, which is not under groups: "
                                  f"(known: {', '.join(self.groups) or 'none'})")
            for attribute in user.attributes:
                custom = attribute.removeprefix("custom:")
                if attribute.startswith("custom:") and custom not in self.user_pool.custom_attributes:
                    raise refuse(("users", user_name, "attributes", attribute),
                                  f"uses {attribute!r}; declare {custom!r} under "
                                  "user_pool.custom_attributes")
        for variant_name, variant in self.variants.items():
            if variant.custom_roles and variant.mapping is None:
                raise refuse(("variants", variant_name, "custom_roles"),
                              "needs a Token or Rules mapping (CustomRoleArn picks among "
                              "cognito:roles, SPEC E7a, or among the matching rules' roles, E9c)")
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
        return self

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

    def pool_setting(self, variant: str, name: Literal[
            "allow_classic_flow", "allow_unauthenticated", "server_side_token_check"]
            ) -> bool | None:
        """A variant's pool setting: its own when it states one, else the pool's."""
        chosen = self.variants[variant]
        if name in chosen.model_fields_set:
            return getattr(chosen, name)
        return getattr(self.identity_pool, name)


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
