"""Entitlements: what each persona of a team's own stack should be able to do.

The file is the team's, reviewed in its repository, and kept apart from the stack:

    stack: Seed004Stack            # informational; the command line names the stack
    personas:
      readers: {groups: [Readers], role: ReaderRole, allow: {Books: [GetItem, Query]}}
      no-group: {groups: [], role: refused}
      guest: {guest: true, allow: {}}

`allow` names each table of the stack the persona may use (its logical id or physical
name; `<table>/index/<index>` an index of the main table): a stack with an Orders and a
Customers table says `allow: {Orders: ["*"], Customers: [GetItem]}`, and a table it does
not name allows nothing.

`bind` joins it to a discovered stack (a Scenario without users, see
rolecall/account/discovery.py) and returns the Scenario the cells run on: each
persona becomes a user with exactly its groups, its `allow` becomes the access
expected of the role it receives (and the entitlement the escalation check holds
every credential path to), and a stated `role` is checked against the oracle
before anything is created. Every problem is a ScenarioError naming the file,
the YAML path and the fix.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from difflib import get_close_matches
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, ValidationError, model_validator

from rolecall.model import oracle
from rolecall.model.actions import IAM_ACTIONS, INDEX_ACTIONS, Actions
from rolecall.model.base import Model
from rolecall.model.errors import ScenarioError, as_scenario_error, read_yaml
from rolecall.model.scenario import AcceptedFinding, ExpectedRole, Scenario, User
from rolecall.model.tables import PARTITIONED

REFUSED = "refused"
PersonaName = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,39}$")]


class Persona(Model):
    """One kind of user: a user in exactly `groups` (`[]`: signed in, no group), or a guest."""

    groups: list[str] | None = None
    guest: bool = False
    role: str | None = None  # a logical id, physical name or ARN, or `refused`
    allow: dict[str, Actions] = {}  # table or `table/index/name` -> actions (`*`: all)
    # A partitioned table (per-tenant, per-identity): what the persona may do on a partition
    # that is not its own (`allow` is about its own). Unset: nothing keyed (SPEC D3, A2).
    allow_other_partition: dict[str, Actions] | None = None
    # The persona's user attributes, e.g. {custom:tenant: acme}: its tenant, its claims
    attributes: dict[str, str] = {}
    flow: Literal["enhanced", "classic"] = "enhanced"
    custom_role_arn: str | None = None  # enhanced: CustomRoleArn; classic: the role asked for
    user: str | None = None  # a supplied test user (password in ROLECALL_PASSWORD_<PERSONA>)
    client: str | None = None  # pools with several app clients: this one only
    # An identity pool with several user pools as providers (staff, customers): the pool the
    # persona signs in to (its name, logical id or id). Unset: the pool of its groups or
    # client, or the only pool.
    user_pool: str | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> Persona:
        if self.guest == (self.groups is not None):
            raise ValueError("state either groups: [...] (a signed-in user; [] for no group) "
                             "or guest: true")
        if self.flow == "classic" and self.custom_role_arn is None:
            raise ValueError("flow: classic needs custom_role_arn: the role the persona asks "
                             "STS for (AssumeRoleWithWebIdentity)")
        if self.guest and (self.user or self.custom_role_arn or self.attributes):
            raise ValueError("a guest has no user, no attributes and no CustomRoleArn")
        return self


class Entitlements(Model):
    stack: str | None = None
    personas: dict[PersonaName, Persona] = Field(min_length=1)
    # Findings of the audit or the escalation check the team accepts, with its reason.
    accepted_findings: list[AcceptedFinding] = []
    file: str = ""


@dataclass
class Aliases:
    """The names a team may use for each part of its stack, mapped to the scenario's keys."""

    roles: dict[str, str] = field(default_factory=dict)  # logical id / name / ARN -> key
    tables: dict[str, str] = field(default_factory=dict)  # logical id / name -> key
    indexes: dict[str, list[str]] = field(default_factory=dict)  # table key -> index names
    groups: dict[str, str] = field(default_factory=dict)  # group name / logical id -> name
    clients: dict[str, str] = field(default_factory=dict)  # client logical id / name / id -> variant
    pools: dict[str, str] = field(default_factory=dict)  # user pool logical id / id / name -> name
    display: dict[str, str] = field(default_factory=dict)  # role or table key -> name to write


def load(path: str | Path) -> Entitlements:
    """Read and validate an entitlements file (shape only; `bind` checks it against a stack)."""
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ScenarioError(path, "--entitlements", "no such file",
                            "give the path of an entitlements YAML file, or write a first one "
                            "with `rolecall init --out FILE`") from None
    located = read_yaml(path, text)
    if not isinstance(located.data, dict):
        raise ScenarioError(path, "top level", "an entitlements file is a YAML mapping",
                            "start the file with `personas:`", line=1)
    try:
        return Entitlements.model_validate({**located.data, "file": str(path)})
    except ValidationError as exc:
        raise as_scenario_error(path, exc, located, Entitlements) from None


# --- binding to a discovered stack --------------------------------------------------------

def _resolve(names: dict[str, str], value: str, file: str, where: str, what: str,
             stack: str) -> str:
    if value in names:
        return names[value]
    known = sorted(set(names))
    near = get_close_matches(value, known, n=1)
    raise ScenarioError(file, where, f"names {what} {value!r}, which stack {stack} does not have"
                        + (f" (did you mean {near[0]}?)" if near else ""),
                        f"use one of: {', '.join(known) or 'none'}")


ON = "@on:"  # the key of another table of the stack in a persona's access: @on:<table key>


def _access(persona: Persona, pname: str, file: str, aliases: Aliases,
            skeleton: Scenario, other_partition: bool = False) -> dict[str, list[str]]:
    """The persona's actions: "" -> on the main table, <index> -> on that index of it (every
    index listed; an index the file does not name allows nothing), `@on:<table>` -> on
    another table of the stack (every one listed; unnamed: nothing). Every key must name one
    of the stack's tables; indexes are probed on the main table only.
    `other_partition`: what `allow_other_partition` says (another's partition of the
    main table, the one table that can be partitioned)."""
    stack = skeleton.name
    indexes = [i.name for i in skeleton.table.indexes] if skeleton.table else []
    access: dict[str, list[str]] = {"": [], **{i: [] for i in indexes}}
    if not other_partition:
        access.update({f"{ON}{t.name}": [] for t in skeleton.other_tables})
    main = skeleton.table.name if skeleton.table else ""
    field_name = "allow_other_partition" if other_partition else "allow"
    for key, listed in (getattr(persona, field_name) or {}).items():
        where = f"personas.{pname}.{field_name}.{key}"
        table_part, _, index = key.partition("/index/")
        table = _resolve(aliases.tables, table_part, file, where, "table", stack)
        if table != main:
            _check_other(table, index, other_partition, file, where, aliases.display.get(main, main))
            access[f"{ON}{table}"] = list(listed)
            continue
        if index and index not in aliases.indexes.get(table, []):
            raise ScenarioError(file, where, f"table {table_part} has no index {index!r}",
                                f"use one of: {', '.join(aliases.indexes.get(table, [])) or 'none'}")
        if index and list(listed) != list(IAM_ACTIONS) and set(listed) - set(INDEX_ACTIONS):
            raise ScenarioError(file, where, f"{sorted(set(listed) - set(INDEX_ACTIONS))} do not "
                                "apply to an index", f"list only {', '.join(INDEX_ACTIONS)} (or '*')")
        access[index] = [a for a in listed if not index or a in INDEX_ACTIONS]
    return access


def _check_other(table: str, index: str, other_partition: bool, file: str, where: str,
                 main: str) -> None:
    """Another table than the main one: shared (no partitions), its indexes not probed."""
    if other_partition:
        raise ScenarioError(file, where, f"table {table} is shared: only the main table "
                            f"{main} is partitioned", f"state {table}'s actions under allow:")
    if index:
        raise ScenarioError(file, where, f"rolecall probes the indexes of the stack's main "
                            f"table ({main}) only, not those of {table}",
                            f"remove this line; {table}'s own actions go under its table key")


def _variants_of(persona: Persona, pname: str, file: str, aliases: Aliases,
                 skeleton: Scenario) -> list[str]:
    """The app clients (variants) the persona signs in through: its `client`, else every
    client of its user pool (a guest: every client)."""
    if persona.client is not None:
        return [_resolve(aliases.clients, persona.client, file, f"personas.{pname}.client",
                         "app client", skeleton.name)]
    if persona.guest:
        return list(skeleton.variants)
    pool = _pool_of(persona, pname, file, aliases, skeleton)
    return [v for v, spec in skeleton.variants.items() if spec.user_pool in (None, pool)]


def _pool_of(persona: Persona, pname: str, file: str, aliases: Aliases,
             skeleton: Scenario) -> str | None:
    """The user pool a persona signs in to, on a stack with several (None: one pool).

    Its `user_pool`, else its client's pool, else its groups' pool (Cognito groups belong
    to one pool); a persona none of these place is an error naming the pools."""
    pools = list(skeleton.pools())
    where = f"personas.{pname}.user_pool"
    if len(pools) == 1:
        if persona.user_pool is not None:
            _resolve(aliases.pools, persona.user_pool, file, where, "user pool", skeleton.name)
        return None
    if persona.user_pool is not None:
        return _resolve(aliases.pools, persona.user_pool, file, where, "user pool", skeleton.name)
    if persona.client is not None:
        variant = _resolve(aliases.clients, persona.client, file, f"personas.{pname}.client",
                           "app client", skeleton.name)
        return skeleton.variants[variant].user_pool
    found = {skeleton.group_pool(_resolve(aliases.groups, g, file, f"personas.{pname}.groups",
                                          "group", skeleton.name))
             for g in persona.groups or []}
    if len(found) == 1:
        return found.pop()
    problem = (f"names groups of user pools {', '.join(sorted(found))}: a user is in one pool"
               if found else f"stack {skeleton.name} has user pools {', '.join(pools)} and the "
               "persona names no group or client")
    raise ScenarioError(file, where, problem,
                        f"say which pool the persona signs in to: user_pool: {pools[0]}")


def bind(entitlements: Entitlements, skeleton: Scenario, aliases: Aliases) -> Scenario:
    """The Scenario the cells run on: the discovered stack with the personas as its users."""
    file = entitlements.file
    # exclude_unset: a variant's pool settings fall back to the pool's only when unset
    data = skeleton.model_dump(exclude_unset=True)
    data.update(file=file, accepted_findings=[a.model_dump() for a in entitlements.accepted_findings])
    users: dict[str, dict[str, object]] = {}
    for pname, persona in entitlements.personas.items():
        allowed = _access(persona, pname, file, aliases, skeleton)[""]
        entitled = allowed if skeleton.table is not None else None
        if persona.guest:
            data["identity_pool"]["guest_entitlement"] = entitled
            continue
        groups = [_resolve(aliases.groups, g, file, f"personas.{pname}.groups[{n}]", "group",
                           skeleton.name) for n, g in enumerate(persona.groups or [])]
        _check_partition(persona, pname, file, skeleton)
        users[pname] = User(groups=groups, entitlement=entitled,
                            attributes=dict(persona.attributes),
                            pool=_pool_of(persona, pname, file, aliases, skeleton)
                            ).model_dump(exclude_none=True)
        if persona.custom_role_arn and persona.flow == "enhanced":
            custom = _resolve(aliases.roles, persona.custom_role_arn, file,
                              f"personas.{pname}.custom_role_arn", "role", skeleton.name)
            for variant in _variants_of(persona, pname, file, aliases, skeleton):
                listed = data["variants"][variant].setdefault("custom_roles", [])
                listed.extend([custom] if custom not in listed else [])
    data["users"] = users
    draft = Scenario.model_validate(data)
    expect, role_access = _expectations(entitlements, draft, aliases)
    for role, (access, _) in role_access.items():
        data["roles"][role]["allowed"] = access[""]
        indexes = {i: a for i, a in access.items() if i and not i.startswith("@")}
        data["roles"][role]["allowed_indexes"] = indexes or None
        data["roles"][role]["allowed_on"] = {k.removeprefix(ON): a for k, a in access.items()
                                             if k.startswith(ON)}
        if OTHER in access:
            data["roles"][role]["allowed_foreign"] = access[OTHER]
        data["roles"][role]["source"] = (f"{file}: {', '.join(role_access[role][1])} "
                                         f"(role {aliases.display.get(role, role)})")
    data["expect"] = [e.model_dump() for e in expect]
    scenario = Scenario.model_validate(data)
    oracle.check(scenario)
    return scenario


def _expectations(entitlements: Entitlements, draft: Scenario, aliases: Aliases
                  ) -> tuple[list[ExpectedRole], dict[str, tuple[dict[str, list[str]], list[str]]]]:
    """Check each persona's stated role against the oracle; what each role must allow."""
    file = entitlements.file
    expect: list[ExpectedRole] = []
    role_access: dict[str, tuple[dict[str, list[str]], list[str]]] = {}  # role -> (access, who)
    for pname, persona in entitlements.personas.items():
        if persona.guest:
            _check_guest(persona, pname, file, draft, aliases)
            continue
        allowed = _access(persona, pname, file, aliases, draft)
        if draft.table is not None and draft.table.partition in PARTITIONED:
            allowed[OTHER] = _access(persona, pname, file, aliases, draft, other_partition=True)[""]
        issued: set[str] = set()
        for variant in _variants_of(persona, pname, file, aliases, draft):
            outcome = _outcome(persona, pname, file, draft, aliases, variant)
            where = f"personas.{pname}.role"
            if persona.role is not None:
                _compare(persona.role, outcome, file, where, draft, aliases, variant)
                expect.append(_stated(persona, pname, file, variant, outcome, aliases, draft))
            if outcome.issued and outcome.role:
                issued.add(outcome.role)
        # `allow` is what the persona's credentials may do wherever it gets some. A persona
        # that gets different roles through different app clients states their union: it
        # then says nothing about either role alone (the escalation check still holds it).
        if len(issued) == 1 and draft.table is not None:
            _record_access(role_access, issued.pop(), allowed, f"personas.{pname}", file)
    return expect, role_access


def _outcome(persona: Persona, pname: str, file: str, draft: Scenario, aliases: Aliases,
             variant: str) -> oracle.Outcome:
    custom = (_resolve(aliases.roles, persona.custom_role_arn, file,
                       f"personas.{pname}.custom_role_arn", "role", draft.name)
              if persona.custom_role_arn else None)
    if persona.flow == "classic":
        assert custom is not None
        return oracle.classic(draft, variant, custom)
    return oracle.enhanced(draft, variant, pname, custom)


def _compare(stated: str, outcome: oracle.Outcome, file: str, where: str, draft: Scenario,
             aliases: Aliases, variant: str) -> None:
    if stated == REFUSED:
        if outcome.issued:
            raise ScenarioError(file, where, f"states refused, but on app client {variant} SPEC "
                                f"rule {outcome.rule} gives {_shown(outcome, aliases)}",
                                "correct the role, or the groups it depends on")
        return
    role = _resolve(aliases.roles, stated, file, where, "role", draft.name)
    if not outcome.issued or outcome.role != role:
        raise ScenarioError(file, where, f"states role {stated}, but on app client {variant} "
                            f"SPEC rule {outcome.rule} gives {_shown(outcome, aliases)}",
                            "correct the role (or `refused`), or the groups it depends on; if "
                            "you believe the spec is wrong, say so in the spec")


def _shown(outcome: oracle.Outcome, aliases: Aliases) -> str:
    if outcome.issued and outcome.role:
        return f"ISSUED({aliases.display.get(outcome.role, outcome.role)})"
    return str(outcome)


def _stated(persona: Persona, pname: str, file: str, variant: str, outcome: oracle.Outcome,
            aliases: Aliases, draft: Scenario) -> ExpectedRole:
    """The persona's role as a stated expectation about its own path: the enhanced flow
    (with its CustomRoleArn, if any), or the classic flow asking STS for `custom_role_arn`."""
    source = f"{file}: personas.{pname}.role" + (" (classic flow)" if persona.flow == "classic"
                                                 else "")
    custom = (_resolve(aliases.roles, persona.custom_role_arn, file,
                       f"personas.{pname}.custom_role_arn", "role", draft.name)
              if persona.custom_role_arn else None)
    if outcome.issued:
        return ExpectedRole(user=pname, variant=variant, role=outcome.role, custom_role=custom,
                            flow=persona.flow, source=source)
    return ExpectedRole(user=pname, variant=variant, refused=outcome.code, custom_role=custom,
                        flow=persona.flow, source=source)


def _record_access(role_access: dict[str, tuple[dict[str, list[str]], list[str]]], role: str,
                   allowed: dict[str, list[str]], who: str, file: str) -> None:
    """A role allows the same to everyone who receives it: two personas must agree."""
    if role in role_access and role_access[role][0] != allowed:
        other = role_access[role][1][0]
        raise ScenarioError(file, f"{who}.allow",
                            f"receives role {role} as {other} does, but allows "
                            f"{_shown_access(allowed)} where {other} allows "
                            f"{_shown_access(role_access[role][0])}",
                            "the same role gives the same access: make the two allow lists equal")
    role_access.setdefault(role, (allowed, []))[1].append(who)


def _shown_access(access: dict[str, list[str]]) -> str:
    shown = [f"{key.removeprefix(ON) or 'table'}: {actions}" for key, actions in access.items()
             if actions]
    return "; ".join(shown) or "nothing"


OTHER = "@other"  # the key of another's partition in a persona's access


def _check_partition(persona: Persona, pname: str, file: str, skeleton: Scenario) -> None:
    """A persona of a per-tenant table names its tenant; `allow_other_partition` needs a
    partitioned table."""
    table = skeleton.table
    claim = table.tenant_claim if table is not None else None
    if claim is not None and claim not in persona.attributes:
        raise ScenarioError(file, f"personas.{pname}.attributes",
                            f"names no {claim!r}: table {table.name if table else ''} is "
                            f"partitioned by tenant (its roles key dynamodb:LeadingKeys on the "
                            f"principal tag the pool maps from {claim})",
                            f"add attributes: {{{claim}: <the persona's tenant>}}")
    if persona.allow_other_partition is not None and (
            table is None or table.partition not in PARTITIONED):
        raise ScenarioError(file, f"personas.{pname}.allow_other_partition",
                            "the stack's table is not partitioned by tenant or identity",
                            "remove allow_other_partition; allow: is all the table")


def _check_guest(persona: Persona, pname: str, file: str, draft: Scenario, aliases: Aliases) -> None:
    for variant in _variants_of(persona, pname, file, aliases, draft):
        outcome = oracle.guest(draft, variant)
        if persona.role is not None:
            _compare(persona.role, outcome, file, f"personas.{pname}.role", draft, aliases, variant)
    if any(persona.allow.values()) and not oracle.GUEST_SCOPE_DOWN_SERVICES:
        raise ScenarioError(file, f"personas.{pname}.allow",
                            "guests of the enhanced flow can do no DynamoDB action (SPEC E5: the "
                            "scope-down session policy names none, docs/semantics.md)",
                            "write allow: {}")


def all_actions(actions: list[str]) -> list[str] | str:
    """How init writes an action list: `*` when it is every action rolecall probes."""
    return "*" if list(actions) == list(IAM_ACTIONS) else list(actions)
