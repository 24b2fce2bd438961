"""Condition blocks of IAM policies: operators, missing keys, multi-valued keys (SPEC D2, T2).

- a missing condition key makes a condition false, EXCEPT for negated operators
  (StringNotEquals, ArnNotLike, ...), where it makes it true; `...IfExists` and
  `Null` test presence instead
  (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html)
- several values for one key are OR-ed, NOR-ed for a negated operator; several
  keys or operators are AND-ed; `ForAllValues` over a missing key is true,
  `ForAnyValue` over a missing key is false
  (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-logic-multiple-context-keys-or-values.html,
  https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition_examples-multi-valued-context-keys.html)
- `ArnLike`/`ArnEquals` match each of the six colon-separated ARN parts on its
  own, so `*` never spans a colon there (same condition-operators page).

The faults that bend conditions (iam-conditions-ignored, trust-aud-ignored,
trust-amr-ignored) are checked by their callers in `policy.py`, which pass the
result in (`ignored_keys`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from rolecall.emulator.faults import Faults
from rolecall.emulator.iam.patterns import Segments, as_list, expand, glob_regex, literal_text

Context = Mapping[str, Sequence[str]]

# operator (lower case, without IfExists / set prefix) -> (positive matcher, negated?, variables?)
Matcher = Callable[[str, Segments], bool]


def _string_equals(value: str, policy: Segments) -> bool:
    return value == literal_text(policy)


def _string_equals_ignore_case(value: str, policy: Segments) -> bool:
    return value.casefold() == literal_text(policy).casefold()


def _string_like(value: str, policy: Segments) -> bool:
    return glob_regex(policy, False).fullmatch(value) is not None


def _arn_like(value: str, policy: Segments) -> bool:
    """Each of the six colon-separated parts is matched on its own."""
    value_parts = value.split(":", 5)
    policy_parts = _split_segments(policy, 5)
    if len(value_parts) != 6 or len(policy_parts) != 6:
        return False
    return all(glob_regex(p, False).fullmatch(v) is not None
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
    return value.strip().lower() == literal_text(policy).strip().lower()


def _numeric(compare: Callable[[float, float], bool]) -> Matcher:
    def matches(value: str, policy: Segments) -> bool:
        try:
            return compare(float(value), float(literal_text(policy)))
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


_NO_FAULTS = Faults()


def _set_operator_fault(set_operator: str, faults: Faults) -> str:
    """The set operator as read: ForAnyValue and ForAllValues are not interchangeable."""
    if set_operator == "foranyvalue" and faults.on("iam-foranyvalue-as-forallvalues"):
        return "forallvalues"
    if set_operator == "forallvalues" and faults.on("iam-forallvalues-as-foranyvalue"):
        return "foranyvalue"
    return set_operator


def _string_like_literal(value: str, policy: Segments) -> bool:
    return value == literal_text(policy)


def _string_equals_wildcards(value: str, policy: Segments) -> bool:
    return glob_regex(policy, False).fullmatch(value) is not None


def _string_like_ignore_case(value: str, policy: Segments) -> bool:
    return glob_regex(policy, True).fullmatch(value) is not None


_MATCHER_FAULTS: dict[tuple[str, str], Matcher] = {
    ("stringlike", "iam-stringlike-literal"): _string_like_literal,
    ("stringnotlike", "iam-stringlike-literal"): _string_like_literal,
    ("stringequals", "iam-stringequals-wildcards"): _string_equals_wildcards,
    ("stringnotequals", "iam-stringequals-wildcards"): _string_equals_wildcards,
    ("stringequals", "iam-stringequals-ignores-case"): _string_equals_ignore_case,
    ("stringnotequals", "iam-stringequals-ignores-case"): _string_equals_ignore_case,
    ("stringequalsignorecase", "iam-stringequalsignorecase-exact"): _string_equals,
    ("stringnotequalsignorecase", "iam-stringequalsignorecase-exact"): _string_equals,
    ("stringlike", "iam-stringlike-ignores-case"): _string_like_ignore_case,
    ("stringnotlike", "iam-stringlike-ignores-case"): _string_like_ignore_case,
    ("arnequals", "iam-arnequals-exact"): _string_equals,
    ("arnnotequals", "iam-arnequals-exact"): _string_equals,
}


def _matcher_fault(name: str, matcher: Matcher, faults: Faults) -> Matcher:
    """The operator's comparison, unless a matching fault bends it (case, wildcards)."""
    for (operator, fault), bent in _MATCHER_FAULTS.items():
        if operator == name and faults.on(fault):
            return bent
    return matcher


def normalise_context(context: Context) -> dict[str, list[str]]:
    """Condition keys are case-insensitive; an empty value list counts as absent."""
    normalised: dict[str, list[str]] = {}
    for key, values in context.items():
        listed = [values] if isinstance(values, str) else [str(v) for v in values]
        if listed:
            normalised.setdefault(key.lower(), []).extend(listed)
    return normalised


def _policy_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def conditions_hold(
    condition: Any,
    ctx: dict[str, list[str]],
    variables: bool,
    ignored_keys: frozenset[str],
    faults: Faults | None = None,
) -> bool:
    """Every operator and every key under it must hold (AND)."""
    faults = faults or _NO_FAULTS
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
            policy_values = [_policy_value(v) for v in as_list(raw_values)]
            if not _condition_holds(str(operator), key.lower(), policy_values, ctx, variables,
                                    faults):
                return False
    return True


def _condition_holds(
    operator: str,
    key: str,
    policy_values: list[str],
    ctx: dict[str, list[str]],
    variables: bool,
    faults: Faults,
) -> bool:
    name = operator.lower()
    set_operator = ""
    for prefix in ("forallvalues:", "foranyvalue:"):
        if name.startswith(prefix):
            set_operator, name = prefix[:-1], name[len(prefix):]
    set_operator = _set_operator_fault(set_operator, faults)
    if_exists = name.endswith("ifexists") and not faults.on("iam-ifexists-ignored")
    if if_exists:
        name = name[: -len("ifexists")]
    values = ctx.get(key)

    if name == "null":
        # "true": the key is absent; "false": it is present. Several values: OR.
        absent = (values is None) != faults.on("iam-null-inverted")
        return any((v.strip().lower() == "true") == absent for v in policy_values)
    if name.endswith("ifexists"):  # fault iam-ifexists-ignored: read as the plain operator
        name = name[: -len("ifexists")]
    if name not in _OPERATORS:
        return False  # an operator we do not model never matches
    if name.startswith("numeric") and faults.on("iam-numeric-unsupported"):
        return False
    matcher, negated, allows_variables = _OPERATORS[name]
    matcher = _matcher_fault(name, matcher, faults)

    if values is None and if_exists:
        return True  # before variables: IfExists is AWS's advice against unresolvable ones
    # An unresolvable variable invalidates the statement even when the key is missing.
    patterns = [expand(v, ctx, variables and allows_variables) for v in policy_values]
    if values is None:
        if set_operator == "forallvalues":
            return True
        if set_operator == "foranyvalue":
            return False
        # "StringNotLike" etc. hold when the key is missing
        if not negated and faults.on("iam-missing-key-holds"):
            return True
        return negated and not faults.on("iam-negated-missing-false")

    def satisfies(value: str) -> bool:
        hit = any(matcher(value, pattern) for pattern in patterns)  # values: OR (NOR if negated)
        return not hit if negated else hit

    if set_operator == "forallvalues":
        return all(satisfies(v) for v in values)
    if set_operator == "foranyvalue":
        return any(satisfies(v) for v in values)
    hit = any(any(matcher(v, p) for p in patterns) for v in values)
    return not hit if negated else hit
