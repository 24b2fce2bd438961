"""The trust policies rolecall writes for a scenario's roles (SPEC T1-T3).

A role's `trust:` (model.scenario.Trust) says which identities it should admit
and how its conditions are written; the near-miss forms (wildcards, case,
another principal or action) tell a faithful evaluator from a loose one.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = ["FOREIGN_POOL", "trust_policy"]

FOREIGN_POOL = "us-east-1:00000000-0000-0000-0000-000000000000"  # Trust(aud="other")


def trust_policy(trust: Any, pool_ids: Iterable[str]) -> dict[str, Any]:
    """The trust policy a scenario's `trust:` stands for (SPEC T1, T2), for a stack whose
    identity pools are `pool_ids` (`aud: pool` names them)."""
    conditions: dict[str, dict[str, Any]] = {}
    if trust.aud == "pool":
        pools = sorted(pool_ids)
        form = getattr(trust, "aud_form", "exact")
        operator = "StringEqualsIgnoreCase" if form == "ignore-case" else "StringEquals"
        values = [p.upper() for p in pools] if form != "exact" else pools
        conditions[operator] = {"cognito-identity.amazonaws.com:aud": values}
    elif trust.aud == "other":
        conditions["StringEquals"] = {"cognito-identity.amazonaws.com:aud": FOREIGN_POOL}
    amr = {"authenticated": ["authenticated"], "unauthenticated": ["unauthenticated"],
           "any": ["authenticated", "unauthenticated"]}.get(trust.amr)
    if amr:
        operator, values = _amr_condition(getattr(trust, "amr_form", "exact"), amr)
        conditions.setdefault(operator, {})["cognito-identity.amazonaws.com:amr"] = \
            values[0] if len(values) == 1 else values
    other = getattr(trust, "principal", "cognito") == "other"
    assume_role = getattr(trust, "action", "web-identity") == "assume-role"
    action: str | list[str] = "sts:AssumeRole" if assume_role else "sts:AssumeRoleWithWebIdentity"
    if getattr(trust, "tag_session", False):  # SPEC A3: principal tags need sts:TagSession
        action = [str(action), "sts:TagSession"]
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"Federated": "accounts.google.com" if other
                      else "cognito-identity.amazonaws.com"},
        "Action": action}
    if conditions:
        statement["Condition"] = conditions
    return {"Version": "2012-10-17", "Statement": [statement]}


def _amr_condition(form: str, amr: list[str]) -> tuple[str, list[str]]:
    """The amr condition as a scenario's `amr_form` writes it (see model.scenario.Trust)."""
    if form == "wildcard":
        return "ForAnyValue:StringLike", [value.removesuffix("enticated") + "*" for value in amr]
    if form == "equals-wildcard":
        return "ForAnyValue:StringEquals", [value.removesuffix("enticated") + "*" for value in amr]
    if form == "wrong-case":
        return "ForAnyValue:StringLike", [value.capitalize() for value in amr]
    return "ForAnyValue:StringLike", amr
