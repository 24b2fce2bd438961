"""The suite's own reading of IAM policy evaluation within one account (SPEC D1, D2, B1, R1, R2).

The oracle states what AWS should do; for most cells it reads a role's stated
profile (`allowed:`), but three questions need the policies themselves: which
policy type a refusal names (B2, D4), what `rolecall init` should predict for a
team's conditional statements (ABAC), and whether a scenario's stated profile is
what its policies give (a cross-check at load). This module answers them. It is
written from the IAM User Guide, apart from the embedded target's evaluator
(rolecall/emulator/iam/), so that a green run means two readings agree:

- evaluation: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic_policy-eval-denyallow.html
  an explicit Deny in any policy type wins; otherwise the identity-based policies AND
  the permissions boundary AND the session policies must allow, OR the resource-based
  policy allows. A resource policy that names the role ARN is still limited by an
  implicit deny in the boundary or a session policy; one that names the role
  session ARN is not (access_policies_boundaries.html, "Resource-based policies for
  IAM roles").
- statements: Action / NotAction (case-insensitive), Resource / NotResource
  (case-sensitive), Principal (resource policies), `*` and `?` wildcards,
  policy variables `${key}` (Version 2012-10-17 only) with `${key, 'default'}`,
  and the condition operators of reference_policies_elements_condition_operators.html.

A question the oracle cannot answer from what it knows of a request (a condition
on a key it does not model, an operator it does not read) is None, never a
guess: callers then fall back to what the scenario states.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Decision", "Policies", "Request", "decide", "statements"]

Tri = bool | None  # True, False, or "cannot tell from what the oracle knows"

# The phrase AWS prints for each policy type ("no <type> policy allows", "an explicit deny
# in a <type> policy"; IAM User Guide, troubleshoot_access-denied.html).
IDENTITY, BOUNDARY, SESSION, RESOURCE = (
    "identity-based", "permissions boundary", "session", "resource-based")
# Several types deny: which one a refusal names is not documented (pinned in
# docs/semantics.md); the oracle and the embedded target both follow this order.
EXPLICIT_ORDER = (RESOURCE, IDENTITY, BOUNDARY, SESSION)
NOUNS = {IDENTITY: "identity-based policy", BOUNDARY: "permissions boundary",
         SESSION: "session policy", RESOURCE: "resource-based policy"}


@dataclass(frozen=True)
class Request:
    """What IAM sees of one check: the caller, the action, the resource, the context.

    `context` holds the keys the request carries. A key the oracle knows the request
    lacks is in `absent`, or starts with one of `closed` (e.g. `aws:PrincipalTag/`: a
    session has exactly the tags in `context`). Any other key is one the oracle does not
    model, so a condition on it cannot be decided. Key names compare case-insensitively,
    as IAM's do.
    """

    action: str  # "dynamodb:GetItem"
    resource: str  # an ARN
    role_arn: str
    session_arn: str
    context: Mapping[str, Sequence[str]] = field(default_factory=dict)
    absent: frozenset[str] = frozenset()
    closed: tuple[str, ...] = ()
    unknown: frozenset[str] = frozenset()  # present or not, its value only the stack knows

    def value(self, key: str) -> tuple[str, ...] | None:
        """The values of a context key, None when the request lacks it."""
        wanted = key.lower()
        for name, values in self.context.items():
            if name.lower() == wanted:
                return tuple(values)
        return None

    def knows(self, key: str) -> bool:
        wanted = key.lower()
        if wanted in {k.lower() for k in self.unknown}:
            return False
        return (self.value(key) is not None or wanted in {k.lower() for k in self.absent}
                or wanted.startswith(tuple(c.lower() for c in self.closed)))

    @property
    def account(self) -> str:
        return self.role_arn.split(":")[4]


@dataclass(frozen=True)
class Policies:
    """Every policy that takes part in one decision (SPEC D1, B1, R1)."""

    identity: tuple[Mapping[str, Any], ...] = ()
    boundary: Mapping[str, Any] | None = None
    session: tuple[Mapping[str, Any], ...] = ()
    resource: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class Decision:
    """ALLOWED or DENIED, and for a denial the policy type AWS names and whether it was a Deny."""

    allowed: bool
    policy_type: str | None = None
    explicit: bool = False

    @property
    def phrase(self) -> str:
        """How AWS's AccessDenied text ends (SPEC D4, B2): "because no <type> allows" or
        "with an explicit deny in <type>"; empty when allowed."""
        if self.allowed:
            return ""
        noun = NOUNS[self.policy_type or IDENTITY]
        article = "an" if noun[0] in "aeiou" else "a"
        return f"with an explicit deny in {article} {noun}" if self.explicit \
            else f"because no {noun} allows"


def decide(policies: Policies, request: Request) -> Decision | None:
    """AWS's decision for one check, or None when the oracle cannot tell."""
    explicit = {kind: _effect(docs, request, "Deny", kind == RESOURCE)
                for kind, docs in _by_type(policies)}
    if any(found is None for found in explicit.values()):
        return None
    for kind in EXPLICIT_ORDER:
        if explicit.get(kind):
            return Decision(False, kind, explicit=True)
    identity = _effect(policies.identity, request, "Allow")
    boundary = (True if policies.boundary is None
                else _effect((policies.boundary,), request, "Allow"))
    session = True if not policies.session else _effect(policies.session, request, "Allow")
    resource_session, resource_role = _resource_grants(policies.resource, request)
    if None in (identity, boundary, session, resource_session, resource_role):
        return None
    if resource_session:  # granted to the session itself: nothing limits it (R2)
        return Decision(True)
    if resource_role and boundary and session:  # granted to the role: boundary, session limit
        return Decision(True)
    if identity and boundary and session:
        return Decision(True)
    if not identity and not resource_role:
        return Decision(False, IDENTITY)
    return Decision(False, BOUNDARY if not boundary else SESSION)


def _by_type(policies: Policies) -> list[tuple[str, tuple[Mapping[str, Any], ...]]]:
    found = [(IDENTITY, policies.identity), (SESSION, policies.session)]
    if policies.boundary is not None:
        found.append((BOUNDARY, (policies.boundary,)))
    if policies.resource is not None:
        found.append((RESOURCE, (policies.resource,)))
    return found


def _effect(documents: Iterable[Mapping[str, Any]], request: Request, effect: str,
            with_principal: bool = False) -> Tri:
    """Does a statement with this Effect apply to the request? (any of them)"""
    answers = [_applies(statement, request, bool(document.get("Version") == "2012-10-17"),
                        with_principal)
               for document in documents for statement in statements(document)
               if statement.get("Effect") == effect]
    return _any(answers)


def _resource_grants(document: Mapping[str, Any] | None, request: Request) -> tuple[Tri, Tri]:
    """(granted to the session itself, granted to the role) by an Allow of the table policy.

    Principal names (IAM User Guide, Principal element; evaluation within one account):
    the role session ARN, or `*` (anyone, so the session itself), grants to the session;
    the role ARN grants to the role. The account (`123456789012`, `...:root`) grants
    nothing by itself: it delegates to the account's own IAM policies.
    """
    if document is None:
        return False, False
    variables = document.get("Version") == "2012-10-17"
    to_session: list[Tri] = []
    to_role: list[Tri] = []
    for statement in statements(document):
        if statement.get("Effect") != "Allow":
            continue
        applies = _applies(statement, request, variables, with_principal=False)
        names = _principal_names(statement)
        if names is None:  # NotPrincipal, or a form the oracle does not read
            to_role.append(None if applies is not False else False)
            continue
        session_named = any(n == "*" or _glob(n, request.session_arn) for n in names)
        role_named = any(_glob(n, request.role_arn) for n in names)
        to_session.append(applies if session_named else False)
        to_role.append(applies if role_named and not session_named else False)
    return _any(to_session), _any(to_role)


def _principal_names(statement: Mapping[str, Any]) -> list[str] | None:
    principal = statement.get("Principal")
    if principal == "*":
        return ["*"]
    if isinstance(principal, Mapping) and set(principal) <= {"AWS"}:
        return [str(p) for p in _listed(principal.get("AWS"))]
    return None


def statements(document: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """A document's statements: `Statement` is one object or a list."""
    found = document.get("Statement", [])
    found = [found] if isinstance(found, Mapping) else found
    return [s for s in found if isinstance(s, Mapping)] if isinstance(found, list) else []


def _applies(statement: Mapping[str, Any], request: Request, variables: bool,
             with_principal: bool) -> Tri:
    if with_principal and _principal_names(statement) is not None:
        names = _principal_names(statement) or []
        if not any(_glob(n, request.session_arn) or _glob(n, request.role_arn)
                   or n in ("*", request.account, f"arn:aws:iam::{request.account}:root")
                   for n in names):
            return False
    if not _action_matches(statement, request.action):
        return False
    resource = _resource_matches(statement, request, variables)
    if resource is False:
        return False
    condition = _conditions(statement.get("Condition") or {}, request, variables)
    return _all([resource, condition])


def _action_matches(statement: Mapping[str, Any], action: str) -> bool:
    if "Action" in statement:
        return any(_glob(str(p), action, ignore_case=True)
                   for p in _listed(statement["Action"]))
    if "NotAction" in statement:
        return not any(_glob(str(p), action, ignore_case=True)
                       for p in _listed(statement["NotAction"]))
    return False


def _resource_matches(statement: Mapping[str, Any], request: Request, variables: bool) -> Tri:
    if "Resource" in statement:
        return _any([_pattern(str(p), request.resource, request, variables)
                     for p in _listed(statement["Resource"])])
    if "NotResource" in statement:
        hit = _any([_pattern(str(p), request.resource, request, variables)
                    for p in _listed(statement["NotResource"])])
        return None if hit is None else not hit
    return False


# --- wildcards and policy variables --------------------------------------------------------

_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_SPECIAL = ("*", "?", "$")  # ${*} ${?} ${$}: the literal character (policy variables page)
Segments = tuple[tuple[str, bool], ...]  # (text, literal): wildcards count only where not literal


def _substitute(pattern: str, request: Request, variables: bool) -> Segments | bool | None:
    """The pattern as segments with its variables filled in (their values literal); False
    when a variable has no value and no default (nothing can match), None when the oracle
    does not know the key. Without Version 2012-10-17, `${...}` is plain text."""
    if not variables or "${" not in pattern:
        return ((pattern, False),)
    parts: list[tuple[str, bool]] = []
    at = 0
    for match in _VARIABLE.finditer(pattern):
        parts.append((pattern[at:match.start()], False))
        at = match.end()
        inner = match.group(1)
        if inner in _SPECIAL:
            parts.append((inner, True))
            continue
        key, _, default = inner.partition(",")
        key = key.strip()
        if not request.knows(key):
            return None
        values = request.value(key)
        if values is not None and len(values) == 1:
            parts.append((values[0], True))
            continue
        fallback = re.fullmatch(r"\s*'([^']*)'\s*", default) if default else None
        if fallback is None:
            return False
        parts.append((fallback.group(1), True))
    parts.append((pattern[at:], False))
    return tuple(parts)


def _regex(segments: Segments, wildcards: bool) -> str:
    out = []
    for text, literal in segments:
        for char in text:
            if wildcards and not literal and char == "*":
                out.append(".*")
            elif wildcards and not literal and char == "?":
                out.append(".")
            else:
                out.append(re.escape(char))
    return "".join(out)


def _matches(segments: Segments, value: str, *, wildcards: bool, ignore_case: bool = False) -> bool:
    flags = re.DOTALL | (re.IGNORECASE if ignore_case else 0)
    return re.fullmatch(_regex(segments, wildcards), value, flags) is not None


def _glob(pattern: str, value: str, ignore_case: bool = False) -> bool:
    """IAM's wildcards on a pattern without variables: `*` any run of characters, `?` one."""
    return _matches(((pattern, False),), value, wildcards=True, ignore_case=ignore_case)


def _pattern(pattern: str, value: str, request: Request, variables: bool) -> Tri:
    filled = _substitute(pattern, request, variables)
    if filled is None or isinstance(filled, bool):
        return None if filled is None else False
    return _matches(filled, value, wildcards=True)


# --- conditions ------------------------------------------------------------------------------

def _conditions(block: Mapping[str, Any], request: Request, variables: bool) -> Tri:
    """Every operator of the block must hold, each for every key it names (AND of ANDs)."""
    answers: list[Tri] = []
    for operator, keys in block.items():
        if not isinstance(keys, Mapping):
            return None
        for key, expected in keys.items():
            answers.append(_condition(str(operator), str(key), _listed(expected), request,
                                      variables))
    return _all(answers)


def _condition(operator: str, key: str, expected: list[Any], request: Request,
               variables: bool) -> Tri:
    """One operator on one key (condition operators page): a missing key makes a positive
    operator false and a negated one true; ...IfExists makes it true; ForAllValues over no
    values is true, ForAnyValue false; Null tests presence."""
    qualifier, _, base = operator.rpartition(":")
    if_exists = base.endswith("IfExists") and base != "Null"
    base = base.removesuffix("IfExists")
    if not request.knows(key):
        return None
    values = request.value(key)
    if base == "Null":
        wanted = str(expected[0]).lower() == "true" if expected else True
        return (values is None) == wanted
    compare = _COMPARISONS.get(base)
    if compare is None or qualifier not in ("", "ForAllValues", "ForAnyValue"):
        return None  # an operator this reading does not have
    negated = base in _NEGATED
    if values is None:
        if qualifier:
            return qualifier == "ForAllValues"
        return True if if_exists else negated
    patterns: list[Segments] = []
    for raw in expected:
        filled = _substitute(str(raw), request, variables and base in _WITH_VARIABLES)
        if filled is None:
            return None
        if not isinstance(filled, bool):
            patterns.append(filled)
    each = [_holds(compare, value, patterns, negated) for value in values]
    if qualifier == "ForAllValues":
        return _all(each)
    if qualifier == "ForAnyValue" or len(values) == 1:
        return _any(each)
    return None  # a plain operator on several values: not read here


def _holds(compare: Any, value: str, patterns: list[Segments], negated: bool) -> Tri:
    """A positive operator holds when any pattern matches; a negated one when none does."""
    hits = [compare(value, p) for p in patterns]
    if any(h is None for h in hits):
        return None
    return not any(hits) if negated else any(hits)


def _number(segments: Segments) -> float | None:
    try:
        return float("".join(text for text, _ in segments))
    except ValueError:
        return None


def _numeric(test: Any) -> Any:
    def compare(value: str, pattern: Segments) -> Tri:
        a, b = _number(((value, True),)), _number(pattern)
        return None if a is None or b is None else bool(test(a, b))
    return compare


def _arn(value: str, pattern: Segments) -> Tri:
    """ArnEquals / ArnLike (identical): the six colon-separated parts of the ARN are matched
    each on its own, with wildcards, so `*` never spans a colon."""
    chars = [(char, literal) for text, literal in pattern for char in text]
    parts: list[list[tuple[str, bool]]] = [[]]
    for char, literal in chars:
        if char == ":" and len(parts) < 6:
            parts.append([])
        else:
            parts[-1].append((char, literal))
    got = value.split(":", 5)
    if len(parts) != 6 or len(got) != 6:
        return False
    return all(_matches(tuple(part), piece, wildcards=True) for part, piece in zip(parts, got,
                                                                                    strict=True))


def _plain(pattern: Segments) -> str:
    return "".join(text for text, _ in pattern)


_COMPARISONS: dict[str, Any] = {
    "StringEquals": lambda v, p: v == _plain(p),
    "StringNotEquals": lambda v, p: v == _plain(p),
    "StringEqualsIgnoreCase": lambda v, p: v.lower() == _plain(p).lower(),
    "StringNotEqualsIgnoreCase": lambda v, p: v.lower() == _plain(p).lower(),
    "StringLike": lambda v, p: _matches(p, v, wildcards=True),
    "StringNotLike": lambda v, p: _matches(p, v, wildcards=True),
    "NumericEquals": _numeric(lambda a, b: a == b),
    "NumericNotEquals": _numeric(lambda a, b: a == b),
    "NumericLessThan": _numeric(lambda a, b: a < b),
    "NumericLessThanEquals": _numeric(lambda a, b: a <= b),
    "NumericGreaterThan": _numeric(lambda a, b: a > b),
    "NumericGreaterThanEquals": _numeric(lambda a, b: a >= b),
    "Bool": lambda v, p: v.lower() == _plain(p).lower(),
    "ArnEquals": _arn,
    "ArnLike": _arn,
    "ArnNotEquals": _arn,
    "ArnNotLike": _arn,
}
_NEGATED = {"StringNotEquals", "StringNotEqualsIgnoreCase", "StringNotLike", "NumericNotEquals",
            "ArnNotEquals", "ArnNotLike"}
_WITH_VARIABLES = {"StringEquals", "StringNotEquals", "StringEqualsIgnoreCase",
                   "StringNotEqualsIgnoreCase", "StringLike", "StringNotLike", "ArnEquals",
                   "ArnLike", "ArnNotEquals", "ArnNotLike"}


# --- three-valued logic -----------------------------------------------------------------------

def _any(answers: Iterable[Tri]) -> Tri:
    found = list(answers)
    if any(a is True for a in found):
        return True
    return None if any(a is None for a in found) else False


def _all(answers: Iterable[Tri]) -> Tri:
    found = list(answers)
    if any(a is False for a in found):
        return False
    return None if any(a is None for a in found) else True


def _listed(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else [value]
