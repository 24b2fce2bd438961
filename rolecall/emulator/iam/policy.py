"""IAM policy evaluation: the part of AWS's authorization logic rolecall needs (SPEC D1, D2, T1-T3).

Pure functions over parsed policy documents; nothing here touches moto. The
semantics follow the IAM User Guide, and the subtle points cite their page:

- evaluation: an explicit Deny wins; otherwise an Allow is needed; a session
  policy intersects with the identity policies
  (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html)
- a missing condition key makes a condition false, EXCEPT for negated operators
  (StringNotEquals, ArnNotLike, ...), where it makes it true; `...IfExists` and
  `Null` test presence instead
  (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html)
- several values for one key are OR-ed, NOR-ed for a negated operator; several
  keys or operators are AND-ed; `ForAllValues` over a missing key is true,
  `ForAnyValue` over a missing key is false
  (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-logic-multiple-context-keys-or-values.html,
  https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition_examples-multi-valued-context-keys.html)
- policy variables (`${key}`, `${key, 'default'}`, `${*}`, `${?}`, `${$}`) exist
  only in `Version` 2012-10-17, in Resource and in string/ARN/Bool condition
  values; a variable that cannot be resolved (key missing or multi-valued)
  makes the whole statement invalid, so it neither allows nor denies
  (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html)
- `ArnLike`/`ArnEquals` match each of the six colon-separated ARN parts on its
  own, so `*` never spans a colon there (same condition-operators page).

Faults that bend this module are checked at the exact spot they bend
(see rolecall/emulator/faults.py).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from rolecall.emulator.faults import Faults

__all__ = ["Decision", "Verdict", "authorize", "evaluate", "explain", "trust_allows"]

VARIABLES_VERSION = "2012-10-17"  # the first policy language version with variables


class Decision(enum.Enum):
    ALLOW = "allow"
    IMPLICIT_DENY = "implicit-deny"
    EXPLICIT_DENY = "explicit-deny"


@dataclass(frozen=True)
class Verdict:
    """A decision plus the policy type AWS names in its AccessDenied text.

    `policy_type` is "identity-based" or "session" for a denial (the phrase AWS
    prints: "no identity-based policy allows", "an explicit deny in a session
    policy"), None when allowed.
    """

    decision: Decision
    policy_type: str | None = None


Context = Mapping[str, Sequence[str]]


class _Unresolvable(Exception):
    """A policy variable has no single value: the statement it is in is invalid."""


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
    ctx = _normalise_context(context)
    ignore_conditions = faults.on("iam-conditions-ignored")
    allowed = False
    for document in policies:
        variables = _variables_enabled(document)
        for statement in _statements(document):
            effect = str(statement.get("Effect", ""))
            if effect == "Deny" and faults.on("iam-explicit-deny-ignored"):
                continue  # fault: Deny statements are skipped
            if not _statement_applies(statement, action, resource, ctx, variables, faults,
                                      ignore_conditions):
                continue
            if effect == "Deny":
                return Decision.EXPLICIT_DENY
            if effect == "Allow":
                allowed = True
    return Decision.ALLOW if allowed else Decision.IMPLICIT_DENY


def explain(
    action: str,
    resource: str,
    context: Context,
    identity_policies: Sequence[Mapping[str, Any]],
    session_policies: Sequence[Mapping[str, Any]],
    faults: Faults,
) -> Verdict:
    """SPEC D1 with the policy type that decided, for AWS's AccessDenied wording.

    AWS names one policy type when several deny; it evaluates identity-based
    policies before session policies, so an identity-based denial is reported
    first (https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_access-denied.html).
    """
    identity = evaluate(action, resource, context, identity_policies, faults)
    use_session = bool(session_policies) and not faults.on("iam-session-policy-ignored")
    session = (evaluate(action, resource, context, session_policies, faults)
               if use_session else Decision.ALLOW)
    if identity is Decision.EXPLICIT_DENY:
        return Verdict(Decision.EXPLICIT_DENY, "identity-based")
    if session is Decision.EXPLICIT_DENY:
        return Verdict(Decision.EXPLICIT_DENY, "session")
    if identity is not Decision.ALLOW:
        return Verdict(Decision.IMPLICIT_DENY, "identity-based")
    if session is not Decision.ALLOW:
        return Verdict(Decision.IMPLICIT_DENY, "session")
    return Verdict(Decision.ALLOW)


def authorize(
    action: str,
    resource: str,
    context: Context,
    identity_policies: Sequence[Mapping[str, Any]],
    session_policies: Sequence[Mapping[str, Any]],
    faults: Faults,
) -> Decision:
    """SPEC D1: explicit deny in either set denies; otherwise both sets must allow.

    An empty `session_policies` means "no session policy", not "a session
    policy that allows nothing".
    """
    return explain(action, resource, context, identity_policies, session_policies,
                   faults).decision


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
    ctx = _normalise_context(context)
    ignored: set[str] = set()
    if faults.on("trust-aud-ignored"):
        ignored.add("cognito-identity.amazonaws.com:aud")
    if faults.on("trust-amr-ignored"):
        ignored.add("cognito-identity.amazonaws.com:amr")
    variables = _variables_enabled(trust_policy)
    allowed = False
    for statement in _statements(trust_policy):
        try:
            applies = (
                _principal_matches(statement.get("Principal"), federated)
                and _action_matches(statement, action, faults)
                and _conditions_hold(statement.get("Condition"), ctx, variables,
                                     frozenset(ignored))
            )
        except _Unresolvable:
            applies = False
        if not applies:
            continue
        if statement.get("Effect") == "Deny":
            return False
        if statement.get("Effect") == "Allow":
            allowed = True
    return allowed


# --------------------------------------------------------------------------- statements


def _statements(document: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """`Statement` may be one object or a list of them."""
    raw = document.get("Statement", [])
    if isinstance(raw, Mapping):
        return [raw]
    if isinstance(raw, list):
        return [s for s in raw if isinstance(s, Mapping)]
    return []


def _variables_enabled(document: Mapping[str, Any]) -> bool:
    """Without `Version: 2012-10-17`, `${...}` is literal text (policy variables page)."""
    return document.get("Version") == VARIABLES_VERSION


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return list(value)
    return [value]


def _statement_applies(
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
        if ignore_conditions:  # fault iam-conditions-ignored
            return True
        return _conditions_hold(statement.get("Condition"), ctx, variables, frozenset())
    except _Unresolvable:
        return False


def _action_matches(statement: Mapping[str, Any], action: str, faults: Faults) -> bool:
    """Action / NotAction; action names are case-insensitive (`dynamodb:getitem` matches)."""
    if "Action" in statement:
        return _any_glob(_as_list(statement["Action"]), action, ignore_case=True)
    if "NotAction" in statement:
        hit = _any_glob(_as_list(statement["NotAction"]), action, ignore_case=True)
        if faults.on("iam-notaction-inverted"):
            return hit  # fault: NotAction read as Action
        return not hit
    return False


def _any_glob(patterns: Iterable[Any], value: str, *, ignore_case: bool) -> bool:
    return any(_glob_regex(((str(p), False),), ignore_case).fullmatch(value) for p in patterns)


def _resource_matches(
    statement: Mapping[str, Any],
    resource: str,
    ctx: dict[str, list[str]],
    variables: bool,
    faults: Faults,
) -> bool:
    """Resource / NotResource, case-sensitive, with wildcards and policy variables."""
    if "Resource" in statement:
        for pattern in _as_list(statement["Resource"]):
            pattern = str(pattern)
            if faults.on("iam-resource-wildcard-overmatch") and _same_service(pattern, resource):
                return True  # fault: any resource of the same service matches
            if _pattern_matches(pattern, resource, ctx, variables):
                return True
        return False
    if "NotResource" in statement:
        return not any(_pattern_matches(str(p), resource, ctx, variables)
                       for p in _as_list(statement["NotResource"]))
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


def _pattern_matches(pattern: str, value: str, ctx: dict[str, list[str]], variables: bool) -> bool:
    return _glob_regex(_expand(pattern, ctx, variables), False).fullmatch(value) is not None


def _principal_matches(principal: Any, federated: str) -> bool:
    if principal == "*":
        return True
    if not isinstance(principal, Mapping):
        return False
    if "*" in _as_list(principal.get("AWS")):
        return True
    return any(str(p).lower() == federated.lower() for p in _as_list(principal.get("Federated")))


# --------------------------------------------------------------------------- variables & globs

Segments = tuple[tuple[str, bool], ...]  # (text, literal?): literal text never acts as a wildcard

_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_DEFAULT = re.compile(r"^\s*([^,\s]+)\s*,\s*'((?:[^']|'')*)'\s*$")
_SPECIAL = {"*": "*", "?": "?", "$": "$"}


def _expand(text: str, ctx: Mapping[str, Sequence[str]], variables: bool) -> Segments:
    """Split `text` into pattern text and substituted (literal) values.

    `${*}`, `${?}`, `${$}` stand for the literal characters; `${key}` for the single
    value of `key` in the request context (key names are case-insensitive);
    `${key, 'default'}` falls back to the default.
    """
    if not variables or "${" not in text:
        return ((text, False),)
    segments: list[tuple[str, bool]] = []
    position = 0
    for match in _VARIABLE.finditer(text):
        if match.start() > position:
            segments.append((text[position:match.start()], False))
        segments.append((_resolve(match.group(1), ctx), True))
        position = match.end()
    if position < len(text):
        segments.append((text[position:], False))
    return tuple(segments)


def _resolve(body: str, ctx: Mapping[str, Sequence[str]]) -> str:
    if body in _SPECIAL:
        return _SPECIAL[body]
    default: str | None = None
    key = body.strip()
    with_default = _DEFAULT.match(body)
    if with_default:
        key, default = with_default.group(1), with_default.group(2).replace("''", "'")
    values = ctx.get(key.lower())
    if values is not None and len(values) == 1:  # multi-valued keys cannot be variables
        return values[0]
    if default is not None:
        return default
    raise _Unresolvable(key)


@lru_cache(maxsize=4096)
def _glob_regex(segments: Segments, ignore_case: bool) -> re.Pattern[str]:
    """`*` = any run of characters, `?` = one character; substituted values are literal."""
    parts: list[str] = []
    for text, literal in segments:
        if literal:
            parts.append(re.escape(text))
            continue
        for char in text:
            parts.append(".*" if char == "*" else "." if char == "?" else re.escape(char))
    flags = re.DOTALL | (re.IGNORECASE if ignore_case else 0)
    return re.compile("".join(parts), flags)


def _literal(segments: Segments) -> str:
    return "".join(text for text, _ in segments)


# --------------------------------------------------------------------------- conditions

# operator (lower case, without IfExists / set prefix) -> (positive matcher, negated?, variables?)
Matcher = Callable[[str, Segments], bool]


def _string_equals(value: str, policy: Segments) -> bool:
    return value == _literal(policy)


def _string_equals_ignore_case(value: str, policy: Segments) -> bool:
    return value.casefold() == _literal(policy).casefold()


def _string_like(value: str, policy: Segments) -> bool:
    return _glob_regex(policy, False).fullmatch(value) is not None


def _arn_like(value: str, policy: Segments) -> bool:
    """Each of the six colon-separated parts is matched on its own."""
    value_parts = value.split(":", 5)
    policy_parts = _split_segments(policy, 5)
    if len(value_parts) != 6 or len(policy_parts) != 6:
        return False
    return all(_glob_regex(p, False).fullmatch(v) is not None
               for p, v in zip(policy_parts, value_parts, strict=True))


def _split_segments(segments: Segments, maxsplit: int) -> list[Segments]:
    """Split pattern text (never substituted values) on ':' at most `maxsplit` times."""
    parts: list[list[tuple[str, bool]]] = [[]]
    for text, literal in segments:
        if literal:
            parts[-1].append((text, True))
            continue
        remaining = maxsplit - (len(parts) - 1)
        pieces = text.split(":", remaining) if remaining > 0 else [text]
        parts[-1].append((pieces[0], False))
        for piece in pieces[1:]:
            parts.append([(piece, False)])
    return [tuple(p) for p in parts]


def _bool_equals(value: str, policy: Segments) -> bool:
    return value.strip().lower() == _literal(policy).strip().lower()


def _numeric(compare: Callable[[float, float], bool]) -> Matcher:
    def matches(value: str, policy: Segments) -> bool:
        try:
            return compare(float(value), float(_literal(policy)))
        except ValueError:
            return False
    return matches


_OPERATORS: dict[str, tuple[Matcher, bool, bool]] = {
    "stringequals": (_string_equals, False, True),
    "stringnotequals": (_string_equals, True, True),
    "stringequalsignorecase": (_string_equals_ignore_case, False, True),
    "stringnotequalsignorecase": (_string_equals_ignore_case, True, True),
    "stringlike": (_string_like, False, True),
    "stringnotlike": (_string_like, True, True),
    "arnequals": (_arn_like, False, True),
    "arnlike": (_arn_like, False, True),
    "arnnotequals": (_arn_like, True, True),
    "arnnotlike": (_arn_like, True, True),
    "numericequals": (_numeric(lambda a, b: a == b), False, False),
    "numericnotequals": (_numeric(lambda a, b: a == b), True, False),
    "numericlessthan": (_numeric(lambda a, b: a < b), False, False),
    "numericlessthanequals": (_numeric(lambda a, b: a <= b), False, False),
    "numericgreaterthan": (_numeric(lambda a, b: a > b), False, False),
    "numericgreaterthanequals": (_numeric(lambda a, b: a >= b), False, False),
    "bool": (_bool_equals, False, True),
}


def _normalise_context(context: Context) -> dict[str, list[str]]:
    """Condition keys are case-insensitive; an empty value list counts as absent."""
    normalised: dict[str, list[str]] = {}
    for key, values in context.items():
        as_list = [values] if isinstance(values, str) else [str(v) for v in values]
        if as_list:
            normalised.setdefault(key.lower(), []).extend(as_list)
    return normalised


def _policy_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _conditions_hold(
    condition: Any,
    ctx: dict[str, list[str]],
    variables: bool,
    ignored_keys: frozenset[str],
) -> bool:
    """Every operator and every key under it must hold (AND)."""
    if not condition:
        return True
    if not isinstance(condition, Mapping):
        return False
    for operator, block in condition.items():
        if not isinstance(block, Mapping):
            return False
        for key, raw_values in block.items():
            if key.lower() in ignored_keys:
                continue  # a trust fault: this key's condition is treated as true
            policy_values = [_policy_value(v) for v in _as_list(raw_values)]
            if not _condition_holds(str(operator), key.lower(), policy_values, ctx, variables):
                return False
    return True


def _condition_holds(
    operator: str,
    key: str,
    policy_values: list[str],
    ctx: dict[str, list[str]],
    variables: bool,
) -> bool:
    name = operator.lower()
    set_operator = ""
    for prefix in ("forallvalues:", "foranyvalue:"):
        if name.startswith(prefix):
            set_operator, name = prefix[:-1], name[len(prefix):]
    if_exists = name.endswith("ifexists")
    if if_exists:
        name = name[: -len("ifexists")]
    values = ctx.get(key)

    if name == "null":
        # "true": the key is absent; "false": it is present. Several values: OR.
        return any((v.strip().lower() == "true") == (values is None) for v in policy_values)
    if name not in _OPERATORS:
        return False  # an operator we do not model never matches
    matcher, negated, allows_variables = _OPERATORS[name]

    if values is None and if_exists:
        return True  # before variables: IfExists is AWS's advice against unresolvable ones
    # An unresolvable variable invalidates the statement even when the key is missing.
    patterns = [_expand(v, ctx, variables and allows_variables) for v in policy_values]
    if values is None:
        if set_operator == "forallvalues":
            return True
        if set_operator == "foranyvalue":
            return False
        return negated  # "StringNotLike" etc. hold when the key is missing

    def satisfies(value: str) -> bool:
        hit = any(matcher(value, pattern) for pattern in patterns)  # values: OR (NOR if negated)
        return not hit if negated else hit

    if set_operator == "forallvalues":
        return all(satisfies(v) for v in values)
    if set_operator == "foranyvalue":
        return any(satisfies(v) for v in values)
    hit = any(any(matcher(v, p) for p in patterns) for v in values)
    return not hit if negated else hit
