"""The Rules section of a template, checked before a stack or change set is created.

moto ignores `Rules`; the CDK puts one in every template (CheckBootstrapVersion:
the BootstrapVersion parameter must not be 1-5), so a target that ignored rules
would accept what AWS refuses. Parameters are resolved by moto's own ResourceMap
(SSM-typed ones included) and each function argument by moto's `clean_json`
(Ref, Fn::Join, ...); only the rule functions themselves are evaluated here,
by hand, because moto has none: Fn::And, Fn::Or, Fn::Not, Fn::Equals,
Fn::Contains, Fn::EachMemberEquals, Fn::EachMemberIn. Others (Fn::RefAll,
Fn::ValueOf, ...: lookups of EC2 parameter types the target does not serve) skip
their rule with a warning.

A failed assertion is a ValidationError whose message is the AssertDescription
(assumed: no public source quotes CloudFormation's exact text).
"""

from __future__ import annotations

import logging
from typing import Any

from moto.cloudformation.exceptions import ValidationError
from moto.cloudformation.parsing import ResourceMap, clean_json

log = logging.getLogger("rolecall.emulator.cloudformation")


class Unsupported(Exception):
    """A rule function this module does not evaluate."""


def check(template: dict[str, Any], parameters: dict[str, Any], stack_name: str,
          account_id: str, region: str) -> None:
    """Raise ValidationError for the first assertion that does not hold."""
    rules = template.get("Rules") or {}
    if not rules:
        return
    resolved = ResourceMap("", stack_name, parameters, {}, region_name=region,
                           account_id=account_id, template=template, cross_stack_resources={})
    resolved.load()  # moto resolves the parameters (SSM too) exactly as the deploy will
    for name, rule in rules.items():
        try:
            if "RuleCondition" in rule and not _truth(rule["RuleCondition"], resolved):
                continue
            for assertion in rule.get("Assertions") or []:
                if not _truth(assertion.get("Assert"), resolved):
                    raise ValidationError(message=assertion.get(
                        "AssertDescription", f"Template rule {name} failed its assertion."))
        except Unsupported as unsupported:
            log.warning("CloudFormation: rule %s is not checked: %s", name, unsupported)


def _truth(expression: Any, resolved: ResourceMap) -> bool:
    if isinstance(expression, bool):
        return expression
    if not isinstance(expression, dict) or len(expression) != 1:
        raise Unsupported(f"not a rule function: {expression!r}")
    (function, arguments), = expression.items()
    if function == "Fn::Not":
        return not _truth(arguments[0], resolved)
    if function == "Fn::And":
        return all(_truth(argument, resolved) for argument in arguments)
    if function == "Fn::Or":
        return any(_truth(argument, resolved) for argument in arguments)
    if function == "Fn::Equals":
        left, right = (_value(argument, resolved) for argument in arguments)
        return str(left) == str(right)
    if function == "Fn::Contains":
        return str(_value(arguments[1], resolved)) in _strings(arguments[0], resolved)
    if function == "Fn::EachMemberEquals":
        return all(item == str(_value(arguments[1], resolved))
                   for item in _strings(arguments[0], resolved))
    if function == "Fn::EachMemberIn":
        allowed = _strings(arguments[1], resolved)
        return all(item in allowed for item in _strings(arguments[0], resolved))
    raise Unsupported(f"{function} is not evaluated by the embedded target")


def _value(argument: Any, resolved: ResourceMap) -> Any:
    return clean_json(argument, resolved)


def _strings(argument: Any, resolved: ResourceMap) -> list[str]:
    value = _value(argument, resolved)
    items = value if isinstance(value, list) else str(value).split(",")
    return [str(item) for item in items]
