"""`rolecall init`: a first entitlements file for a team's deployed stack (issue 11.3).

    rolecall init --stack NAME --out entitlements.yaml [--endpoint-url URL]
    rolecall init --identity-pool-id ID --out entitlements.yaml [--target aws ...]

The file is COMPUTED, not observed: the oracle works out each persona's role
from the discovered groups, precedences and role mappings (the spec), and each
role's DynamoDB actions are read from its discovered policies (Allow/Deny
statements without conditions, resource-matched). Why not run the flows: init
must be safe for anyone to point at staging (it creates no user and writes no
item), and a copy of observed behaviour would record a hole as if it were
intended. The first `pytest suites --entitlements FILE` checks every line against
the live stack; whatever the computation got wrong is a red cell naming the line.

Personas come from the discovered groups: each group alone, each pair of groups
(ties on precedence and different precedences alike), no group, and guest. A
pool with several app clients whose outcomes differ gets one persona per client.
"""

from __future__ import annotations

import argparse
import itertools
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from rolecall.account import own_stack
from rolecall.account.clients import Target
from rolecall.account.discovery import Discovery
from rolecall.cells.audit import audit_scenario, scenario_writable_claims
from rolecall.model import access as policy_reading
from rolecall.model import entitlements as ent
from rolecall.model import oracle
from rolecall.model.access import Partition, Session
from rolecall.model.actions import IAM_ACTIONS, INDEX_ACTIONS
from rolecall.model.scenario import Scenario, User
from rolecall.model.shapes import BY_NAME, Shape, index_shapes
from rolecall.model.tables import PARTITIONED

HEADER = """\
# OBSERVED, NOT REVIEWED: written by `rolecall init` on {date}, {source}.
# Roles are what the spec (the oracle) gives each persona on the discovered
# configuration; actions are what every policy that weighs on the persona's session
# gives it (the role's policies and permissions boundary, the table's policy, the
# principal tags its attributes carry), conditions evaluated. Review every line and
# edit it down to what each persona SHOULD do, then keep this file in your
# repository. accepted_findings lists what the audit found: accept a finding only
# with your own reason.
"""
SAMPLE_TENANT = "tenant-a"  # a persona's tenant on a per-tenant table (init's sample)


def add_parser(commands: Any, target_options: Any) -> None:
    init = commands.add_parser("init", help="write a first entitlements file for a deployed stack",
                               description=__doc__,
                               formatter_class=argparse.RawDescriptionHelpFormatter)
    init.add_argument("--stack", default=None, help="a CloudFormation stack name")
    init.add_argument("--identity-pool-id", default=None, help="or an identity pool id")
    init.add_argument("--stack-template", default=None,
                      help="deploy this template into the embedded target at --endpoint-url first")
    init.add_argument("--out", required=True, help="the entitlements file to write")
    target_options(init)
    init.set_defaults(handler=None)


def run_init(args: argparse.Namespace, target: Target) -> int:
    options = own_stack.OwnStack(args.stack, args.identity_pool_id, None, args.stack_template)
    options.check(needs_entitlements=False)
    if not options.wanted:
        raise ValueError("name the stack: --stack NAME or --identity-pool-id ID")
    discovery = own_stack.read(target, options, "init")
    text = draft(discovery)
    out = Path(args.out)
    trial = out.with_name(f".{out.name}.rolecall-init")
    trial.write_text(text)
    try:  # what init writes must load and agree with the spec, or nothing is written
        own_stack.bind(discovery, str(trial))
    except Exception:
        trial.unlink(missing_ok=True)
        raise
    trial.replace(out)
    personas = yaml.safe_load(text)["personas"]
    print(f"wrote {out}: {len(personas)} persona(s) ({', '.join(personas)}); review it before use")
    return 0


def draft(discovery: Discovery) -> str:
    """The YAML text of a first entitlements file for the discovered stack."""
    skeleton = discovery.scenario
    reading = _Reading(discovery)
    personas = {name: reading.persona(groups, pool) for name, groups, pool in _group_sets(skeleton)}
    personas["guest"] = reading.guest()
    notes = {name: p.pop("note") for name, p in personas.items() if "note" in p}
    body: dict[str, Any] = {"stack": (skeleton.discovered.stack if skeleton.discovered else None)
                            or skeleton.name, "personas": personas}
    findings = _findings(discovery) + reading.escalations(personas)
    if findings:
        body["accepted_findings"] = findings
    text = yaml.dump(body, Dumper=_PlainDumper, sort_keys=False, width=100,
                     default_flow_style=None)
    for name, note in notes.items():  # what the oracle gives where no one role can be stated
        text = text.replace(f"\n  {name}:\n", f"\n  {name}:\n    # {note}\n", 1)
    unread = "".join(f"# {reading.aliases.display.get(r, r)}: a condition reads a key only the "
                     "live stack knows; its statement was counted as if it held. Check it.\n"
                     for r in sorted(reading.unread))
    return HEADER.format(date=_today(), source=skeleton.source) + unread + text


class _PlainDumper(yaml.SafeDumper):
    """No anchors and aliases: a team edits each persona on its own."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _today() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d")


def _group_sets(skeleton: Scenario) -> list[tuple[str, list[str], str | None]]:
    """Personas by groups, per user pool (a user is in groups of its own pool only): each
    group, each pair, and no group (`no-group-<pool>` when there are several pools; then each
    persona names its pool, None: the one pool)."""
    pools = list(skeleton.pools())
    several = len(pools) > 1
    sets: list[tuple[str, list[str], str | None]] = []
    for pool in pools:
        named = pool if several else None
        groups = sorted(g for g in skeleton.groups if skeleton.group_pool(g) == pool)
        sets += [(_slug(g), [g], named) for g in groups]
        sets += [(f"{_slug(a)}-{_slug(b)}", [a, b], named)
                 for a, b in itertools.combinations(groups, 2)]
    return [*sets, *((f"no-group-{_slug(pool)}" if several else "no-group", [],
                      pool if several else None) for pool in pools)]


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:18] or "group"


class _Reading:
    """The oracle's roles and what each persona's sessions may do, for one discovered stack.

    What a session may do is the oracle's own reading of every policy that weighs on it
    (rolecall/model/access.py: the role's policies, its permissions boundary, the table's
    policy, the principal tags the pool copies from the persona's attributes). A
    statement whose condition reads a key only the live stack knows is counted as the
    policy's plain reading (`granted`: Allow minus unconditional Deny) and noted."""

    def __init__(self, discovery: Discovery) -> None:
        self.skeleton = discovery.scenario
        self.aliases = discovery.aliases
        self.table_arn = discovery.stack.table_arn
        self.other_arns = discovery.stack.other_table_arns
        self.unread: set[str] = set()  # roles with a statement the oracle could not read

    @property
    def partitioned(self) -> bool:
        table = self.skeleton.table
        return table is not None and table.partition in PARTITIONED

    def sample_attributes(self, pool: str | None) -> dict[str, str]:
        """A value for each custom attribute a principal tag is mapped from (A1), e.g. the
        tenant: the persona's session then carries the tag, as a real user's would (only the
        custom attributes of the persona's own user pool)."""
        claims = {c for v in self.skeleton.variants for c in self.skeleton.principal_tags(v).values()}
        table = self.skeleton.table
        if table is not None and table.tenant_claim:
            claims.add(table.tenant_claim)
        pools = self.skeleton.pools()
        schema = pools[pool or next(iter(pools))].custom_attributes
        return {c: SAMPLE_TENANT if table is not None and c == table.tenant_claim
                else f"sample-{c.removeprefix('custom:')}"
                for c in sorted(claims) if c.startswith("custom:")
                and c.removeprefix("custom:") in schema}

    def actions(self, scenario: Scenario, session: Session, shapes: tuple[Shape, ...],
                partition: Partition = None, on: str | None = None) -> list[str]:
        """The shapes a session may call (on its own partition, or another's; `on`: on
        another table of the stack)."""
        found: list[str] = []
        if scenario.table is None:  # a stack without a table: nothing to call
            return found
        table_arn = self.other_arns[on] if on else self.table_arn
        for shape in shapes:
            read = policy_reading.first_refusal(scenario, session, shape, partition, on)
            if read is None:  # a condition on a key only the live stack knows
                self.unread.add(session.role)
                arn = table_arn + "".join(f"/index/{c.index}" for c in shape.checks[:1]
                                          if c.index)
                if all(a in granted(scenario.roles[session.role].policy, arn)
                       for a in shape.needs):
                    found.append(shape.name)
            elif read is False:
                found.append(shape.name)
        return found

    def allow(self, scenario: Scenario, sessions: list[Session],
              partition: Partition = None) -> dict[str, list[str]]:
        """What any of these sessions may do, on the main table and each of its indexes,
        and on every other table of the stack, as `allow:` says it (`partition`: on the
        persona's own partition of the main table, or another's; other tables are shared)."""
        table = scenario.table
        if table is None:
            return {}
        name = self.aliases.display.get(table.name, table.name)
        table_shapes = tuple(BY_NAME[a] for a in IAM_ACTIONS)
        allow = {name: {a for s in sessions for a in self.actions(scenario, s, table_shapes,
                                                                  partition)}}
        for index in table.indexes if partition != "other" else []:
            found = {a.split("@", 1)[0] for s in sessions
                     for a in self.actions(scenario, s, index_shapes(index.name))}
            allow[f"{name}/index/{index.name}"] = found
        tables = {name} | {self.aliases.display.get(o.name, o.name) for o in scenario.other_tables}
        for other in scenario.other_tables if partition != "other" else []:
            allow[self.aliases.display.get(other.name, other.name)] = {
                a for s in sessions for a in self.actions(scenario, s, table_shapes, on=other.name)}
        # Every table is written for a persona that gets credentials, `[]` where it may do
        # nothing: the reviewer sees each table and what the persona may do there.
        return {key: _listed(actions, IAM_ACTIONS if key in tables else INDEX_ACTIONS)
                for key, actions in allow.items()
                if actions or (key == name and partition) or (key in tables and sessions)}

    def with_user(self, name: str, groups: list[str], pool: str | None = None,
                  **attributes: str) -> Scenario:
        return self.skeleton.model_copy(update={"users": {name: User(
            groups=groups, attributes=attributes, pool=pool)}})

    def persona(self, groups: list[str], pool: str | None = None) -> dict[str, Any]:
        """Its role when every app client of its pool gives the same one; what its
        credentials can do."""
        attributes = self.sample_attributes(pool)
        scenario = self.with_user("persona", groups, pool, **attributes)
        variants = scenario.variants_for("persona")
        outcomes = [oracle.enhanced(scenario, v, "persona") for v in variants]
        sessions = [Session(o.role, "enhanced", v, "persona")
                    for v, o in zip(variants, outcomes, strict=True) if o.issued and o.role]
        persona: dict[str, Any] = {"groups": groups}
        if pool is not None:
            persona["user_pool"] = pool
        if attributes:
            persona["attributes"] = attributes
        persona.update(self._role_or_note(variants, outcomes))
        own: Partition = "own" if self.partitioned else None
        persona["allow"] = self.allow(scenario, sessions, own)
        if self.partitioned:
            persona["allow_other_partition"] = self.allow(scenario, sessions, "other")
        return persona

    def _role_or_note(self, variants: list[str], outcomes: list[oracle.Outcome]
                      ) -> dict[str, str]:
        """`role` when every app client gives the same outcome, else a `note` naming each."""
        if len({str(o) for o in outcomes}) == 1:
            return {"role": self._role(outcomes[0])}
        return {"note": "role by app client: " + ", ".join(
            f"{v} -> {self._role(o)}" for v, o in zip(variants, outcomes, strict=True))}

    def _role(self, outcome: oracle.Outcome) -> str:
        if outcome.issued and outcome.role:
            return self.aliases.display.get(outcome.role, outcome.role)
        return ent.REFUSED

    def guest(self) -> dict[str, Any]:
        outcomes = [oracle.guest(self.skeleton, v) for v in self.skeleton.variants]
        persona: dict[str, Any] = {"guest": True}
        persona.update(self._role_or_note(list(self.skeleton.variants), outcomes))
        persona["allow"] = {}  # SPEC E5: the guest scope-down names no DynamoDB action
        return persona

    def escalations(self, personas: dict[str, dict[str, Any]]) -> list[dict[str, str]]:
        """What the escalation check will find: paths that grant more than `allow` (predicted)."""
        found = []
        table = self.skeleton.table
        shown = self.aliases.display.get(table.name, table.name) if table else ""
        for name, persona in personas.items():
            acts = persona["allow"].get(shown, [])
            allowed = set(IAM_ACTIONS if acts == ["*"] else acts)
            for variant, spec in self.skeleton.variants.items():
                if spec.user_pool not in (None, persona.get("user_pool")):
                    continue  # another pool's app client: the persona never signs in there
                beyond = self._reach(name, persona, variant) - allowed
                if beyond and self.skeleton.table is not None:
                    found.append({"check": "escalation", "subject": f"{variant}/{name}",
                                  "reason": f"NOT REVIEWED: predicted by rolecall init on "
                                            f"{_today()}: another credential path grants "
                                            f"{', '.join(a for a in IAM_ACTIONS if a in beyond)}"})
        return found

    def _reach(self, name: str, persona: dict[str, Any], variant: str) -> set[str]:
        """The union of actions over every credential path (as rolecall/cells/escalation.py)."""
        roles = list(self.skeleton.roles)
        table_shapes = tuple(BY_NAME[a] for a in IAM_ACTIONS)
        own: Partition = "own" if self.partitioned else None
        if persona.get("guest"):
            gate = oracle.classic_gate(self.skeleton, variant)
            return {a for r in roles
                    if gate is None and oracle.trusts(self.skeleton, r, "unauthenticated")
                    for a in self.actions(self.skeleton, Session(r, "classic", variant, None),
                                          table_shapes)}
        attributes, pool = persona.get("attributes", {}), persona.get("user_pool")
        scenario = self.with_user(name, persona["groups"], pool, **attributes)
        reached: list[tuple[Scenario, Session]] = []
        outcomes = [oracle.enhanced(scenario, variant, name)]
        mapping = scenario.mapping_of(variant, scenario.pool_of(name))  # its provider's
        writable = scenario_writable_claims(self.skeleton, scenario.pool_of(name))
        if mapping is not None and mapping.type == "Token":
            outcomes += [oracle.enhanced(scenario, variant, name, r) for r in roles]
        reached += [(scenario, Session(o.role, "enhanced", variant, name))
                    for o in outcomes if o.issued and o.role]
        reached += [(scenario, Session(r, "classic", variant, name)) for r in roles
                    if oracle.classic(scenario, variant, r).issued]
        for rule in mapping.rules if mapping is not None else []:
            if rule.claim in writable and rule.match != "NotEqual":
                changed = self.with_user(name, persona["groups"], pool,
                                         **{**attributes, rule.claim: rule.value})
                outcome = oracle.enhanced(changed, variant, name)
                if outcome.issued and outcome.role:
                    reached.append((changed, Session(outcome.role, "enhanced", variant, name)))
        return {a for sc, session in reached
                for a in self.actions(sc, session, table_shapes, own)}


def _listed(actions: set[str], every: tuple[str, ...]) -> list[str]:
    """In the probes' order; `*` when it is every action that applies."""
    ordered = [a for a in every if a in actions]
    return ["*"] if ordered == list(IAM_ACTIONS) else ordered  # an index says Query, Scan


def _findings(discovery: Discovery) -> list[dict[str, str]]:
    """Audit findings of the stack, listed for the team to accept or fix (never silently)."""
    found = audit_scenario(discovery.scenario).findings
    return [{"check": f.check, "subject": f.subject,
             "reason": f"NOT REVIEWED: found by rolecall init on {_today()} ({f.severity}, SPEC "
                       f"{f.rule}): {f.message}"} for f in found]


# --- reading a role's policy (no conditions, resource-matched) ---------------------------

def _matches(patterns: Any, text: str) -> bool:
    values = patterns if isinstance(patterns, list) else [patterns]
    return any(re.fullmatch(re.escape(str(p)).replace(r"\*", ".*").replace(r"\?", "."), text,
                            re.IGNORECASE) for p in values)


def _applies(statement: dict[str, Any], action: str, resource: str) -> bool:
    if "Condition" in statement:
        return False
    acts = (not _matches(statement["NotAction"], action) if "NotAction" in statement
            else _matches(statement.get("Action", []), action))
    res = (not _matches(statement["NotResource"], resource) if "NotResource" in statement
           else _matches(statement.get("Resource", []), resource))
    return acts and res


def granted(policy: dict[str, Any], table_arn: str) -> list[str]:
    """The probed actions some Allow grants on the table and no Deny takes away."""
    statements = policy.get("Statement", [])
    statements = statements if isinstance(statements, list) else [statements]
    result = []
    for action in IAM_ACTIONS:
        name = f"dynamodb:{action}"
        allowed = any(s.get("Effect") == "Allow" and _applies(s, name, table_arn) for s in statements)
        denied = any(s.get("Effect") == "Deny" and _applies(s, name, table_arn) for s in statements)
        if allowed and not denied:
            result.append(action)
    return result
