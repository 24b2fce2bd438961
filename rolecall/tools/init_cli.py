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

from rolecall.cells.audit import audit_scenario
from rolecall.model import entitlements as ent
from rolecall.model import oracle
from rolecall.model.scenario import IAM_ACTIONS, Scenario, User
from rolecall.target import own_stack
from rolecall.target.clients import Target
from rolecall.target.discovery import Discovery

HEADER = """\
# OBSERVED, NOT REVIEWED: written by `rolecall init` on {date}, {source}.
# Roles are what the spec (the oracle) gives each persona on the discovered
# configuration; actions are read from the roles' policies (statements with a
# Condition are not counted). Review every line and edit it down to what each
# persona SHOULD do, then keep this file in your repository. accepted_findings
# lists what the audit found: accept a finding only with your own reason.
"""


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
    out.write_text(text)
    own_stack.bind(discovery, str(out))  # what init writes must load (and agree with the spec)
    personas = yaml.safe_load(text)["personas"]
    print(f"wrote {out}: {len(personas)} persona(s) ({', '.join(personas)}); review it before use")
    return 0


def draft(discovery: Discovery) -> str:
    """The YAML text of a first entitlements file for the discovered stack."""
    skeleton, aliases = discovery.scenario, discovery.aliases
    personas: dict[str, dict[str, Any]] = {}
    for name, groups in _group_sets(skeleton):
        personas.update(_personas(skeleton, aliases, name, groups, discovery.stack.table_arn))
    personas["guest"] = _guest(skeleton, aliases)
    body: dict[str, Any] = {"stack": (skeleton.discovered.stack if skeleton.discovered else None)
                            or skeleton.name, "personas": personas}
    findings = _findings(discovery)
    if findings:
        body["accepted_findings"] = findings
    source = skeleton.source
    return HEADER.format(date=datetime.now(UTC).strftime("%Y-%m-%d"), source=source) + yaml.safe_dump(
        body, sort_keys=False, width=100, default_flow_style=None)


def _group_sets(skeleton: Scenario) -> list[tuple[str, list[str]]]:
    groups = sorted(skeleton.groups)
    sets = [(_slug(g), [g]) for g in groups]
    sets += [(f"{_slug(a)}-{_slug(b)}", [a, b]) for a, b in itertools.combinations(groups, 2)]
    return [*sets, ("no-group", [])]


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:18] or "group"


def _personas(skeleton: Scenario, aliases: ent.Aliases, name: str, groups: list[str],
              table_arn: str) -> dict[str, dict[str, Any]]:
    """One persona, or one per app client when the clients give it different outcomes."""
    scenario = skeleton.model_copy(update={"users": {name: User(groups=groups)}})
    outcomes = {v: oracle.enhanced(scenario, v, name) for v in skeleton.variants}
    distinct = {str(o) for o in outcomes.values()}
    if len(distinct) == 1:
        return {name: _persona(skeleton, aliases, groups, next(iter(outcomes.values())), table_arn)}
    return {f"{name}-{_slug(v)}"[:40]: {**_persona(skeleton, aliases, groups, o, table_arn),
                                        "client": v}
            for v, o in outcomes.items()}


def _persona(skeleton: Scenario, aliases: ent.Aliases, groups: list[str],
             outcome: oracle.Outcome, table_arn: str) -> dict[str, Any]:
    if not outcome.issued or outcome.role is None:
        return {"groups": groups, "role": ent.REFUSED, "allow": {}}
    return {"groups": groups, "role": aliases.display.get(outcome.role, outcome.role),
            "allow": _allow(skeleton, aliases, outcome.role, table_arn)}


def _guest(skeleton: Scenario, aliases: ent.Aliases) -> dict[str, Any]:
    outcomes = {str(oracle.guest(skeleton, v)) for v in skeleton.variants}
    first = oracle.guest(skeleton, next(iter(skeleton.variants)))
    persona: dict[str, Any] = {"guest": True}
    if len(outcomes) == 1:
        persona["role"] = (aliases.display.get(first.role, first.role) if first.issued and first.role
                           else ent.REFUSED)
    persona["allow"] = {}  # SPEC E5: the enhanced flow's guest scope-down names no DynamoDB action
    return persona


def _allow(skeleton: Scenario, aliases: ent.Aliases, role: str, table_arn: str
           ) -> dict[str, list[str]]:
    table = skeleton.table
    if table is None:
        return {}
    actions = granted(skeleton.roles[role].policy, table_arn)
    if not actions:
        return {}
    return {aliases.display.get(table.name, table.name):
            ["*"] if actions == list(IAM_ACTIONS) else actions}


def _findings(discovery: Discovery) -> list[dict[str, str]]:
    """Audit findings of the stack, listed for the team to accept or fix (never silently)."""
    found = audit_scenario(discovery.scenario).findings
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    return [{"check": f.check, "subject": f.subject,
             "reason": f"NOT REVIEWED: found by rolecall init on {today} ({f.severity}, SPEC "
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
