"""IAM policy statements: does one set of policies allow, deny or say nothing? (SPEC D1, D2, T1-T3)

Pure functions over parsed policy documents; nothing here touches moto. How the
policy types of a request combine (identity, permissions boundary, session,
resource-based) is `evaluation.py`'s one evaluator; this module reads one set
of policies at a time. The semantics follow the IAM User Guide, and the subtle
points cite their page:

- one set: an explicit Deny wins; otherwise any Allow allows
  (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html)
- statements: Action / NotAction (case-insensitive), Resource / NotResource,
  Principal of trust policies (here); Condition blocks (`conditions.py`);
  wildcards and policy variables (`patterns.py`)

Faults that bend this module are checked at the exact spot they bend
(see rolecall/emulator/faults.py).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from rolecall.emulator.faults import Faults
from rolecall.emulator.iam.conditions import Context, conditions_hold, normalise_context
from rolecall.emulator.iam.patterns import Unresolvable, as_list, expand, glob_regex

__all__ = ["Decision", "evaluate", "statement_applies", "statements_of", "trust_allows",
           "variables_enabled"]

VARIABLES_VERSION = "2012-10-17"  # the first policy language version with variables


class Decision(enum.Enum):
    ALLOW = "allow"
    IMPLICIT_DENY = "implicit-deny"
    EXPLICIT_DENY = "explicit-deny"


# --------------------------------------------------------------------------- public API


def evaluate(
    action: str,
    resource: str,
    context: Context,
    policies: Sequence[Mapping[str, Any]],
    faults: Faults,
) -> Decision:
    """Evaluate ONE set of policies (e.g. a role's identity policies) for one request.

    Explicit Deny anywhere wins; otherwise any Allow allows; otherwise implicit deny.
    """
    ctx = normalise_context(context)
    ignore_conditions = faults.on("iam-conditions-ignored")
    allowed = False
    for document in policies:
        variables = variables_enabled(document, faults)
        for statement in statements_of(document, faults):
            effect = str(statement.get("Effect", ""))
            if effect == "Deny" and faults.on("iam-explicit-deny-ignored"):
                continue  # fault: Deny statements are skipped
            if effect == "Deny" and "Condition" in statement \
                    and faults.on("iam-deny-with-condition-skipped"):
                continue
            if not statement_applies(statement, action, resource, ctx, variables, faults,
                                      ignore_conditions or _condition_dropped(effect, faults)):
                continue
            if effect == "Deny":
                return Decision.EXPLICIT_DENY
            if effect == "Allow":
                if faults.on("iam-first-match-wins"):
                    return Decision.ALLOW
                allowed = True
    return Decision.ALLOW if allowed else Decision.IMPLICIT_DENY


def _condition_dropped(effect: str, faults: Faults) -> bool:
    """Faults that read a statement as if its Condition were absent."""
    return (effect == "Deny" and faults.on("iam-deny-condition-dropped")) or \
        (effect == "Allow" and faults.on("iam-allow-condition-dropped"))


def trust_allows(
    trust_policy: Mapping[str, Any],
    *,
    action: str,
    federated: str,
    context: Context,
    faults: Faults,
) -> bool:
    """May the federated principal `federated` perform `action` (sts:AssumeRoleWithWebIdentity)?

    A statement applies when its Principal names the provider (`{"Federated": ...}`,
    a string or a list; also `"*"` and `{"AWS": "*"}`), its Action matches and its
    conditions hold (SPEC T1, T2). An applicable Deny refuses. Trust policies have
    no Resource. `iam-conditions-ignored` deliberately does not reach here; the
    trust faults ignore only their own condition key.
    """
    ctx = normalise_context(context)
    ignored: set[str] = set()
    if faults.on("trust-aud-ignored"):
        ignored.add("cognito-identity.amazonaws.com:aud")
    if faults.on("trust-amr-ignored"):
        ignored.add("cognito-identity.amazonaws.com:amr")
    variables = variables_enabled(trust_policy, faults)
    allowed = False
    for statement in statements_of(trust_policy, faults):
        try:
            applies = (
                (_principal_matches(statement.get("Principal"), federated)
                 or faults.on("trust-principal-unchecked"))
                and (_action_matches(statement, action, faults)
                     or faults.on("trust-action-unchecked"))
                and conditions_hold(statement.get("Condition"), ctx, variables,
                                    frozenset(ignored), faults)
            )
        except Unresolvable:
            applies = False
        if applies and faults.on("trust-requires-aud") and not _names_aud(statement):
            applies = False
        if not applies:
            continue
        if statement.get("Effect") == "Deny":
            return False
        if statement.get("Effect") == "Allow":
            allowed = True
    return allowed


def _names_aud(statement: Mapping[str, Any]) -> bool:
    """Does a trust statement have a cognito-identity.amazonaws.com:aud condition? (T3)"""
    condition = statement.get("Condition")
    blocks = condition.values() if isinstance(condition, Mapping) else []
    return any(isinstance(block, Mapping) and any(
        str(key).lower() == "cognito-identity.amazonaws.com:aud" for key in block)
        for block in blocks)


# --------------------------------------------------------------------------- statements


def statements_of(document: Mapping[str, Any], faults: Faults) -> list[Mapping[str, Any]]:
    """`Statement` may be one object or a list of them; every one of them counts."""
    raw = document.get("Statement", [])
    if isinstance(raw, Mapping):
        return [raw]
    if not isinstance(raw, list):
        return []
    statements = [s for s in raw if isinstance(s, Mapping)]
    if faults.on("iam-first-statement-only"):
        return statements[:1]
    if faults.on("iam-first-three-statements"):
        return statements[:3]
    return statements


def variables_enabled(document: Mapping[str, Any], faults: Faults) -> bool:
    """Without `Version: 2012-10-17`, `${...}` is literal text (policy variables page)."""
    if faults.on("iam-variables-unsubstituted"):
        return False
    if faults.on("iam-variables-without-version"):
        return True
    return document.get("Version") == VARIABLES_VERSION


def statement_applies(
    statement: Mapping[str, Any],
    action: str,
    resource: str,
    ctx: dict[str, list[str]],
    variables: bool,
    faults: Faults,
    ignore_conditions: bool,
) -> bool:
    try:
        if not _action_matches(statement, action, faults):
            return False
        if not _resource_matches(statement, resource, ctx, variables, faults):
            return False
        if ignore_conditions:  # fault iam-conditions-ignored (or a Condition dropped)
            return True
        return conditions_hold(statement.get("Condition"), ctx, variables, frozenset(), faults)
    except Unresolvable:
        return False


def _action_matches(statement: Mapping[str, Any], action: str, faults: Faults) -> bool:
    """Action / NotAction; action names are case-insensitive (`dynamodb:getitem` matches)."""
    ignore_case = not faults.on("iam-action-case-sensitive")
    if "Action" in statement:
        granted = as_list(statement["Action"])
        return _any_glob(granted, action, ignore_case=ignore_case) or \
            _neighbour_grants(granted, action, faults)
    if "NotAction" in statement:
        hit = _any_glob(as_list(statement["NotAction"]), action, ignore_case=ignore_case)
        if faults.on("iam-notaction-inverted"):
            return hit  # fault: NotAction read as Action
        return not hit
    return False


# fault -> (action a policy grants, neighbouring action it wrongly authorizes too) (SPEC D5)
NEIGHBOUR_FAULTS: dict[str, tuple[tuple[str, ...], str]] = {
    "iam-query-grants-scan": (("dynamodb:Query",), "dynamodb:Scan"),
    "iam-scan-grants-query": (("dynamodb:Scan",), "dynamodb:Query"),
    "iam-getitem-grants-batchgetitem": (("dynamodb:GetItem",), "dynamodb:BatchGetItem"),
    "iam-putitem-grants-updateitem": (("dynamodb:PutItem",), "dynamodb:UpdateItem"),
    "iam-updateitem-grants-putitem": (("dynamodb:UpdateItem",), "dynamodb:PutItem"),
    "iam-putitem-grants-batchwriteitem": (("dynamodb:PutItem",), "dynamodb:BatchWriteItem"),
    "iam-deleteitem-grants-batchwriteitem": (("dynamodb:DeleteItem",), "dynamodb:BatchWriteItem"),
    "iam-getitem-grants-conditioncheck": (("dynamodb:GetItem",), "dynamodb:ConditionCheckItem"),
    "iam-read-grants-describetable": (("dynamodb:GetItem", "dynamodb:Query", "dynamodb:Scan"),
                                      "dynamodb:DescribeTable"),
}


def _neighbour_grants(granted: list[Any], action: str, faults: Faults) -> bool:
    """Faults where one action stands in for its neighbour; never true on a faithful target."""
    for fault, (sources, neighbour) in NEIGHBOUR_FAULTS.items():
        if action.lower() == neighbour.lower() and faults.on(fault) and any(
                _any_glob(granted, source, ignore_case=True) for source in sources):
            return True
    return False


def _any_glob(patterns: Iterable[Any], value: str, *, ignore_case: bool) -> bool:
    return any(glob_regex(((str(p), False),), ignore_case).fullmatch(value) for p in patterns)


def _resource_matches(
    statement: Mapping[str, Any],
    resource: str,
    ctx: dict[str, list[str]],
    variables: bool,
    faults: Faults,
) -> bool:
    """Resource / NotResource, case-sensitive, with wildcards and policy variables."""
    if "Resource" in statement:
        for pattern in as_list(statement["Resource"]):
            pattern = str(pattern)
            if faults.on("iam-resource-wildcard-overmatch") and _same_service(pattern, resource):
                return True  # fault: any resource of the same service matches
            if _pattern_matches(pattern, _resource_as_read(resource, faults), ctx, variables,
                                faults):
                return True
        return False
    if "NotResource" in statement:
        if faults.on("iam-notresource-ignored"):
            return True
        return not any(_pattern_matches(str(p), resource, ctx, variables, faults)
                       for p in as_list(statement["NotResource"]))
    return False  # a statement without Resource/NotResource is invalid in an identity policy


def _same_service(pattern: str, resource: str) -> bool:
    prefix = _service_prefix(pattern)
    return prefix is not None and prefix == _service_prefix(resource)


def _service_prefix(arn: str) -> str | None:
    """`arn:aws:dynamodb:` for any DynamoDB ARN; None when not an ARN with a service part."""
    parts = arn.split(":")
    if len(parts) < 4 or parts[0] != "arn" or not parts[2] or "*" in parts[2] or "?" in parts[2]:
        return None
    return ":".join(parts[:3]) + ":"


def _resource_as_read(resource: str, faults: Faults) -> str:
    """The ARN a statement is matched against: an index is its own resource (SPEC D3)."""
    if faults.on("iam-index-as-table") and "/index/" in resource:
        return resource.split("/index/", 1)[0]
    return resource


def _pattern_matches(pattern: str, value: str, ctx: dict[str, list[str]], variables: bool,
                     faults: Faults | None = None) -> bool:
    """Resource matching: case-sensitive, whole-ARN, `*` any run, `?` one character."""
    segments = expand(pattern, ctx, variables)
    if faults is not None:
        if faults.on("iam-question-as-star"):
            segments = tuple((t.replace("?", "*") if not lit else t, lit) for t, lit in segments)
        if faults.on("iam-star-literal"):
            return "".join(t for t, _ in segments) == value
        if faults.on("iam-resource-prefix") and value.startswith("".join(t for t, _ in segments)):
            return True
    ignore_case = faults is not None and faults.on("iam-resource-ignores-case")
    return glob_regex(segments, ignore_case).fullmatch(value) is not None


def _principal_matches(principal: Any, federated: str) -> bool:
    if principal == "*":
        return True
    if not isinstance(principal, Mapping):
        return False
    if "*" in as_list(principal.get("AWS")):
        return True
    return any(str(p).lower() == federated.lower() for p in as_list(principal.get("Federated")))

