"""What a credential may do on the table, read from the policies themselves (SPEC D1-D4, B1-B2,
R1-R2, A2).

A role's stated profile (`allowed:`) says what it should be allowed; this module works
out what its policies give, with everything AWS weighs (identity policies, permissions
boundary, session policy, the table's resource policy, principal tags), for one
session and one request shape (rolecall/model/shapes.py). The oracle uses it three
ways: to cross-check a stated profile where the policies can be read, to say which
policy type a refusal names and for which action (the first refused check, in AWS's
order), and to decide where no profile was stated for that session (a classic-flow
session carries no principal tags, A2).

The names are made up but shaped like the real ones (account 111122223333, the
session `assumed-role/<role>/CognitoIdentityCredentials`); the cells compare the
refusal text against the stack's real names (`Refusal.text`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Literal

from rolecall.model import templates
from rolecall.model.evaluation import Decision, Policies, Request, decide
from rolecall.model.scenario import Scenario
from rolecall.model.shapes import (
    FOREIGN_NUMBER,
    FOREIGN_PARTITION,
    PROBE_VALUE,
    SEED_NUMBER,
    SEED_VALUE,
    STATED,
    Check,
    Shape,
)

ACCOUNT = "111122223333"
RUNID = "00000000"  # a run id of the real ones' shape: names are `rc-<runid>-...`
REGION = "eu-west-1"
IDENTITY_ID = f"{REGION}:00000000-0000-4000-8000-000000000001"  # the caller's identity id
POOL_ID = f"{REGION}:00000000-0000-4000-8000-00000000000a"
USER_POOL = f"cognito-idp.{REGION}.amazonaws.com/{REGION}_rolecall"
CLASSIC_SESSION_NAME = "rolecall-classic"  # the RoleSessionName the classic flow asks for
COGNITO = "cognito-identity.amazonaws.com"
RUN_TAGS = ("rolecall:run", "rolecall:created")  # the tags provisioning puts on every role
# Claims whose values only the live stack knows (the user's sub, the app client id).
UNKNOWN_CLAIMS = frozenset({"sub", "aud", "email", "cognito:username"})

Flow = Literal["enhanced", "classic"]
Partition = Literal["own", "other"] | None


@dataclass(frozen=True)
class Session:
    """One credential as IAM sees it: its role, the path that issued it, whose it is."""

    role: str
    flow: Flow
    variant: str
    user: str | None


@dataclass(frozen=True)
class Refusal:
    """The first check a request fails, and how AWS words it (SPEC D4, B2)."""

    action: str  # "dynamodb:PutItem"
    index: str | None
    decision: Decision
    second: bool = False  # refused on the request's second table

    def text(self, session_arn: str, table_arn: str, second_arn: str = "") -> str:
        """AWS's whole AccessDenied message, with the stack's real names."""
        table_arn = second_arn if self.second else table_arn
        resource = f"{table_arn}/index/{self.index}" if self.index else table_arn
        head = f"User: {session_arn} is not authorized to perform: {self.action} on resource: " \
               f"{resource} {self.decision.phrase}"
        return head if self.decision.explicit else f"{head} the {self.action} action"


def table_arn(scenario: Scenario, on: str | None = None) -> str:
    """A table's ARN (the main one, or the other table `on`): a discovered table's own,
    else named as provisioning names it (`rc-<runid>-<scenario>-<table>`)."""
    table = scenario.other_table(on) if on else scenario.table
    if table is not None and table.arn:
        return table.arn
    name = templates.physical_name(RUNID, scenario.name, table.name, 255) if table else "no-table"
    return f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{name}"


def aimed_at(scenario: Scenario, on: str | None, check: Check) -> str | None:
    """The table a check is on: the cell's (`on`; None: the main one), or for a request that
    spans two, the stack's second table (the first of `other_tables`)."""
    if check.second:
        return scenario.other_tables[0].name if on is None else None
    return on


def role_arn(scenario: Scenario, role: str) -> str:
    """A role's ARN: a discovered role's own, else named as provisioning names it."""
    known = scenario.roles[role].arn if role in scenario.roles else None
    return known or f"arn:aws:iam::{ACCOUNT}:role/{templates.physical_name(RUNID, scenario.name, role)}"


def _render(scenario: Scenario, document: Any) -> Any:
    return templates.render(document, table_arn=table_arn(scenario), region=REGION,
                            account=ACCOUNT,
                            roles={r: role_arn(scenario, r) for r in scenario.roles},
                            tables={t.name: table_arn(scenario, t.name)
                                    for t in scenario.other_tables})


def policies_of(scenario: Scenario, role: str, on: str | None = None) -> Policies:
    """Everything that weighs on the role's sessions on a table (the main one, or the other
    table `on`, which has no policy of its own), as provisioned (SPEC D1, B1, R1)."""
    spec = scenario.roles[role]
    table = scenario.table if on is None else None
    return Policies(
        identity=(_render(scenario, spec.policy),),
        boundary=_render(scenario, spec.boundary) if spec.boundary is not None else None,
        resource=_render(scenario, table.policy) if table is not None and table.policy else None)


def session_tags(scenario: Scenario, session: Session) -> tuple[dict[str, str], set[str]]:
    """The session's principal tags (A2): (known values, tags set with a value only the
    live stack knows). The enhanced flow copies each mapped claim the token has; the
    classic flow sets none (assumed: pinned)."""
    if session.flow != "enhanced" or session.user is None:
        return {}, set()
    claims: dict[str, str] = dict(scenario.users[session.user].attributes)
    claims["cognito:username"] = session.user
    known: dict[str, str] = {}
    unknown: set[str] = set()
    for tag, claim in scenario.principal_tags(session.variant).items():
        if claim in UNKNOWN_CLAIMS:
            unknown.add(tag)
        elif claim in claims:
            known[tag] = claims[claim]
    return known, unknown


def _session_context(scenario: Scenario, session: Session) -> tuple[dict[str, list[str]],
                                                                    set[str]]:
    """The keys every request of the session carries, and the tags whose value is unknown."""
    tags, unknown = session_tags(scenario, session)
    signed_in = session.user is not None
    context: dict[str, list[str]] = {
        "aws:PrincipalArn": [role_arn(scenario, session.role)],
        "aws:PrincipalAccount": [role_arn(scenario, session.role).split(":")[4]],
        "aws:RequestedRegion": [REGION],
        "aws:EpochTime": [str(int(time.time()))],
        "aws:ViaAWSService": ["false"],
        "aws:PrincipalType": ["AssumedRole"],
        f"{COGNITO}:aud": [POOL_ID],
        f"{COGNITO}:sub": [IDENTITY_ID],
        f"{COGNITO}:amr": ["authenticated", USER_POOL] if signed_in else ["unauthenticated"],
    }
    context.update({f"aws:PrincipalTag/{tag}": [value] for tag, value in tags.items()})
    return context, {f"aws:PrincipalTag/{tag}" for tag in unknown}


def partition_value(scenario: Scenario, session: Session, partition: Partition,
                    check: Check, item: str, on: str | None = None) -> str:
    """The partition key value of one item a check names: the seed or a probe item, on the
    caller's own partition or another's, or an item of someone else's (`foreign`);
    rolecall/account/probes.py aims at the same."""
    table = scenario.other_table(on) if on else scenario.table
    assert table is not None
    if check.index is not None:
        index = next(i for i in table.indexes if i.name == check.index)
        return SEED_NUMBER if index.partition_key.type == "N" else SEED_VALUE
    if partition == "other" or item == "foreign":
        return FOREIGN_NUMBER if table.partition_key.type == "N" else FOREIGN_PARTITION
    if partition == "own":
        if table.partition == "per-identity":
            return IDENTITY_ID
        return scenario.tenant_of(session.user or "") or ""
    if item == "probe":
        return f"{PROBE_VALUE}-1"  # each worker writes its own item; any one stands for all
    if item == "probe2":
        return f"{PROBE_VALUE}-1-2"
    if table.items:
        return str(table.items[0][table.partition_key.name])
    return SEED_NUMBER if table.partition_key.type == "N" else SEED_VALUE


def request_of(scenario: Scenario, session: Session, check: Check,
               partition: Partition, on: str | None = None) -> Request:
    """One check of a probe's request, as IAM would see it (`on`: the cell's table)."""
    context, unknown_tags = _session_context(scenario, session)
    aimed = aimed_at(scenario, on, check)
    if check.keyed:
        partition = partition if aimed is None else None  # other tables are shared
        context["dynamodb:LeadingKeys"] = list(dict.fromkeys(
            partition_value(scenario, session, partition, check, item, aimed)
            for item in check.keys))
    arn = table_arn(scenario, aimed) + (f"/index/{check.index}" if check.index else "")
    absent = {"aws:username", "aws:SourceIdentity"} | {
        f"{COGNITO}:{key}" for key in ("aud", "sub", "amr") if f"{COGNITO}:{key}" not in context}
    if not check.keyed:
        absent.add("dynamodb:LeadingKeys")
    absent.update(STATED)  # unless the check names them, below
    table = scenario.other_table(aimed) if aimed else scenario.table
    names = {"pk": table.partition_key.name if table else "",
             "sk": table.sort_key.name if table and table.sort_key else ""}
    for key, values in check.context:
        filled = [v.format(**names) for v in values]
        if any(filled):
            context[key] = list(dict.fromkeys(v for v in filled if v))
            absent.discard(key)
        else:
            absent.add(key)
    name = templates.COGNITO_SESSION_NAME if session.flow == "enhanced" else CLASSIC_SESSION_NAME
    # The session's tags are the role's own tags too (rolecall's run tags, whose values only
    # the run knows; a discovered role's, which the oracle does not read) and the session's.
    closed = () if scenario.discovered is not None else ("aws:PrincipalTag/",)
    unknown = set(unknown_tags) | {f"aws:PrincipalTag/{tag}" for tag in RUN_TAGS}
    return Request(check.permission, arn, role_arn(scenario, session.role),
                   templates.session_arn(role_arn(scenario, session.role), name), context,
                   frozenset(absent), closed=closed, unknown=frozenset(unknown))


def first_refusal(scenario: Scenario, session: Session, shape: Shape,
                  partition: Partition, on: str | None = None) -> Refusal | bool | None:
    """The request's fate by its policies: False when every check is allowed, the first
    refused check when one is, None when the oracle cannot read some policy it needs.
    `on`: the table the cell aims at (None: the main one)."""
    for check in shape.checks:
        aimed = aimed_at(scenario, on, check)
        policies = policies_of(scenario, session.role, aimed)
        decision = decide(policies, request_of(scenario, session, check, partition, on))
        if decision is None:
            return None
        if not decision.allowed:
            return Refusal(check.permission, check.index, decision, check.second)
    return False


def rule_of(scenario: Scenario, session: Session, shape: Shape, partition: Partition,
            refusal: Refusal | bool, on: str | None = None) -> str:
    """The SPEC rule that decides a verdict read from the policies: B1 for a boundary's
    refusal, R1 for a table policy's, R2 when only the table policy allows."""
    if isinstance(refusal, Refusal):
        kind = refusal.decision.policy_type
        if kind == "permissions boundary":
            return "B1"
        if kind == "resource-based":
            return "R1"
    elif on is None and scenario.table is not None and scenario.table.policy is not None:
        without = Policies(policies_of(scenario, session.role).identity,
                           policies_of(scenario, session.role).boundary)
        if any(decide(without, request_of(scenario, session, check, partition)) != Decision(True)
               for check in shape.checks):
            return "R2"
    if scenario.table is not None and scenario.table.partition == "per-tenant":
        return "A2"
    return "D3" if partition is not None else "D1"
