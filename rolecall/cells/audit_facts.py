"""What the audit reads a stack as (roles, pools and mappings as plain facts, IAM JSON) and
what it says about one (a Finding, with its severity).

Both of the audit's sources (a scenario, statically; a live identity pool, via
boto3, rolecall/cells/audit_live.py) produce these facts, and every check in
rolecall/cells/audit.py reads only them. The IAM JSON helpers are a reviewer's
reading, not IAM's evaluation (the simplifications are listed in audit.py).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from functools import cache
from typing import Any, Literal
from urllib.parse import unquote

COGNITO = "cognito-identity.amazonaws.com"
AUD = f"{COGNITO}:aud"
AMR = f"{COGNITO}:amr"
# Data-plane permissions that change a table. PartiQL's write statements are their own
# permissions, so they count too (a policy of dynamodb:PartiQL* writes).
WRITE_ACTIONS = ("PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem",
                 "PartiQLInsert", "PartiQLUpdate", "PartiQLDelete")
# Standard attributes a user may change about themselves when the app client lets them
# (Cognito's default WriteAttributes: all mutable attributes). A Rules mapping keyed on
# one of these is keyed on the user's own say-so, like a custom attribute.
STANDARD_WRITABLE = frozenset({
    "address", "birthdate", "email", "family_name", "gender", "given_name", "locale",
    "middle_name", "name", "nickname", "phone_number", "picture", "preferred_username",
    "profile", "updated_at", "website", "zoneinfo"})

# --- the normalized model ---------------------------------------------------------------

@dataclass(frozen=True)
class RoleFacts:
    """An IAM role as the audit reads it: its trust policy and identity policies (JSON)."""

    name: str
    trust: Mapping[str, Any]
    policies: tuple[Mapping[str, Any], ...]


@dataclass(frozen=True)
class RuleFacts:
    claim: str
    match: str  # Equals | Contains | StartsWith | NotEqual
    value: str
    role: str  # role name


@dataclass(frozen=True)
class MappingFacts:
    """A provider's role mapping, with what the audit needs to know about that provider."""

    provider: str  # `<ProviderName>:<ClientId>`
    type: str  # Token | Rules
    rules: tuple[RuleFacts, ...] = ()
    writable_claims: frozenset[str] = frozenset()  # claims users of this client can set
    groups: tuple[str, ...] = ()  # group names of the provider's user pool


@dataclass(frozen=True)
class PoolFacts:
    """An identity pool: its flow settings, default roles, mappings and group roles."""

    name: str  # scenario: the variant; live: the identity pool's name
    pool_id: str
    allow_classic_flow: bool | None  # None: never set, behaves as enabled (C2)
    allow_unauthenticated: bool
    authenticated_role: str | None
    unauthenticated_role: str | None
    mappings: tuple[MappingFacts, ...] = ()
    group_roles: tuple[str, ...] = ()  # roles of the user pool groups (cognito:roles)
    # Attributes for access control (SPEC A1): tag -> the claim it copies (defaults included),
    # and the claims users of the pool's app clients can set themselves.
    principal_tags: Mapping[str, str] = field(default_factory=dict)
    writable_claims: frozenset[str] = frozenset()


@dataclass(frozen=True)
class StackFacts:
    name: str
    source: str
    pools: tuple[PoolFacts, ...]
    roles: Mapping[str, RoleFacts]
    notes: tuple[str, ...] = ()
    table_policies: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # table -> policy


# --- reading IAM JSON -------------------------------------------------------------------

def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


@cache
def _pattern(wildcard: str) -> re.Pattern[str]:
    """An IAM wildcard (`*` any run, `?` one character) as a case-insensitive regex."""
    parts = (".*" if c == "*" else "." if c == "?" else re.escape(c) for c in wildcard)
    return re.compile("".join(parts), re.IGNORECASE | re.DOTALL)


def wildcard_match(wildcard: str, text: str) -> bool:
    return _pattern(str(wildcard)).fullmatch(text) is not None


def _names_action(statement: Mapping[str, Any], action: str) -> bool:
    """Does the statement apply to `action` (Action, or NotAction not naming it)?"""
    if "NotAction" in statement:
        return not any(wildcard_match(p, action) for p in _as_list(statement["NotAction"]))
    return any(wildcard_match(p, action) for p in _as_list(statement.get("Action")))


def _statements(document: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [s for s in _as_list(document.get("Statement")) if isinstance(s, Mapping)]


def granted(policies: Iterable[Mapping[str, Any]], actions: Iterable[str],
            service: str = "dynamodb") -> list[str]:
    """Which of `actions` some Allow grants and no blanket Deny removes (see module doc)."""
    statements = [s for doc in policies for s in _statements(doc)]
    allows = [s for s in statements if s.get("Effect") == "Allow"]
    blanket_denies = [s for s in statements if s.get("Effect") == "Deny" and "Condition" not in s
                      and "NotResource" not in s and "*" in _as_list(s.get("Resource"))]
    result = []
    for action in actions:
        qualified = f"{service}:{action}"
        if any(_names_action(s, qualified) for s in allows) and not any(
                _names_action(s, qualified) for s in blanket_denies):
            result.append(action)
    return result


def writes(role: RoleFacts) -> list[str]:
    """The DynamoDB write permissions the role's identity policies grant."""
    return granted(role.policies, WRITE_ACTIONS)


@dataclass(frozen=True)
class TrustGrant:
    """One trust statement that lets Cognito web identities in. None: no such condition."""

    aud: tuple[str, ...] | None
    amr: tuple[str, ...] | None

    def admits_pool(self, pool_id: str) -> bool:
        return self.aud is None or any(wildcard_match(v, pool_id) for v in self.aud)

    def admits(self, kind: str) -> bool:
        """kind: `authenticated` or `unauthenticated` (the amr value of the identity)."""
        return self.amr is None or any(wildcard_match(v, kind) for v in self.amr)


_POSITIVE = {"stringequals", "stringlike", "stringequalsignorecase"}


def _restricting(operator: str) -> bool:
    base = operator.lower().split(":", 1)[-1].removesuffix("ifexists")
    return base in _POSITIVE


def _condition_values(condition: Mapping[str, Any], key: str) -> tuple[str, ...] | None:
    values: list[str] = []
    found = False
    for operator, block in condition.items():
        if not isinstance(block, Mapping) or not _restricting(str(operator)):
            continue
        for name, value in block.items():
            if str(name).lower() == key:
                found = True
                values.extend(str(v) for v in _as_list(value))
    return tuple(values) if found else None


def _admits_cognito(statement: Mapping[str, Any]) -> bool:
    principal = statement.get("Principal")
    if principal == "*":
        return True
    if not isinstance(principal, Mapping):
        return False
    return any(p in (COGNITO, "*") for p in _as_list(principal.get("Federated")))


def trust_grants(trust: Mapping[str, Any]) -> list[TrustGrant]:
    """The Allow statements of a trust policy that admit Cognito web identities (T1, T2)."""
    grants = []
    for statement in _statements(trust):
        if (statement.get("Effect") != "Allow" or not _admits_cognito(statement)
                or not _names_action(statement, "sts:AssumeRoleWithWebIdentity")):
            continue
        condition = statement.get("Condition")
        condition = condition if isinstance(condition, Mapping) else {}
        grants.append(TrustGrant(_condition_values(condition, AUD), _condition_values(condition, AMR)))
    return grants


def allows_tag_session(role: RoleFacts) -> bool:
    """Does the role's trust policy let Cognito web identities tag their sessions (A3)?"""
    return any(s.get("Effect") == "Allow" and _admits_cognito(s)
               and _names_action(s, "sts:TagSession") for s in _statements(role.trust))


def statements_of(document: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """A policy document's statements (one object or a list)."""
    return _statements(document)


def trusts(role: RoleFacts, pool_id: str, kind: str) -> bool:
    """Would the role's trust policy let a `kind` identity of this pool assume it?"""
    return any(g.admits_pool(pool_id) and g.admits(kind) for g in trust_grants(role.trust))


def parse_document(document: Any) -> dict[str, Any]:
    """A policy document as IAM may return it: a dict, JSON text, or URL-encoded JSON text."""
    if isinstance(document, Mapping):
        return dict(document)
    text = str(document or "")
    if text.startswith("%7B") or text.startswith("%7b"):
        text = unquote(text)
    try:
        parsed = json.loads(text)
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


Severity = Literal["critical", "high", "medium", "low"]


SEVERITIES: tuple[Severity, ...] = ("critical", "high", "medium", "low")


# One policy for `rolecall audit --fail-on` and the suite's audit cells (`--audit-fail-on`):
# an open (unaccepted) finding at or above the threshold fails; one below it is reported,
# never hidden. The default fails on every open finding, as Checkov does ("a result is
# passing if all checks are passed or skipped", https://checkov.io/2.Basics/Hard%20and%20soft%20fail.html)
# and Prowler (exit code 3 on a failed check): a hole is either fixed or accepted with a
# reason (accepted_findings), and a higher threshold is a team's deliberate choice
# (README, "Auditing a stack").
DEFAULT_FAIL_ON: Severity = "low"


@dataclass(frozen=True)
class Finding:
    """One hole: which check found it, how bad, which SPEC rule, about what, and the fix."""

    check: str
    severity: Severity
    rule: str  # SPEC rule, e.g. T3
    subject: str  # a role name, or the identity pool (scenario: the variant)
    message: str  # what is wrong, in the stack's own names
    fix: str  # how to shut it
    accepted: str | None = None  # the owners' reason, when the scenario accepts it

    def fails(self, threshold: Severity) -> bool:
        """Open (not accepted) and at least as severe as the threshold: it fails the audit."""
        return self.accepted is None and at_least(self.severity, threshold)

    def as_dict(self, threshold: Severity = DEFAULT_FAIL_ON) -> dict[str, Any]:
        return {**asdict(self), "fails": self.fails(threshold)}


def at_least(severity: Severity, threshold: Severity) -> bool:
    """critical > high > medium > low."""
    return SEVERITIES.index(severity) <= SEVERITIES.index(threshold)


@dataclass(frozen=True)
class Check:
    """One check: its id (test cells and accepted_findings use it), SPEC rule and title."""

    id: str
    rule: str
    title: str
    run: Callable[[StackFacts, PoolFacts], Iterator[Finding]]


def relevant_roles(facts: StackFacts, pool: PoolFacts) -> list[RoleFacts]:
    """Roles the pool names (defaults, mappings, groups) plus every role that trusts it."""
    named = {pool.authenticated_role, pool.unauthenticated_role, *pool.group_roles,
             *(r.role for m in pool.mappings for r in m.rules)}
    return [role for name, role in sorted(facts.roles.items())
            if name in named or trusts(role, pool.pool_id, "authenticated")
            or trusts(role, pool.pool_id, "unauthenticated")]
