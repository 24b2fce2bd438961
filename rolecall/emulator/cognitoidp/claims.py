"""Which role claims a user pool puts in an ID token (SPEC G2-G7).

Pure functions over the user's groups, kept apart from the moto glue in
`patch.py` so every precedence rule can be read, and tested, in one place:

- G3  `cognito:roles`: the role ARNs of the user's groups that have a role.
- G4  `cognito:preferred_role`: the role of the group with the lowest
      Precedence; a number beats null.
- G5  equal best precedence: same role -> that role; different roles -> no
      claim. Two null precedences are equal (assumed).
- G6  only one role among the groups -> it, whatever the precedences.
- G7  a group without a role takes no part in the choice (assumed).

G6 needs no code of its own: when role-less groups do not take part, every
group left carries that one role, so the best group always carries it too.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from rolecall.emulator.faults import Faults

# (role_arn or None, precedence or None): all the choice needs to know about a group.
RolePrecedence = tuple[str | None, int | None]


@dataclass(frozen=True)
class GroupInfo:
    """One group of the user, as the token claims see it (SPEC G1)."""

    name: str
    role_arn: str | None = None
    precedence: int | None = None


def preferred_role(groups: Iterable[RolePrecedence], faults: Faults | None = None) -> str | None:
    """The `cognito:preferred_role` for groups given as (role_arn, precedence) pairs, in order.

    None means the claim is not set (no role at all, or a tie between different roles).
    """
    faults = faults or Faults()
    candidates = list(groups)
    if candidates and not candidates[0][0] and faults.on("precedence-roleless-first-unset"):
        return None
    if faults.on("precedence-first-two-groups"):
        candidates = candidates[:2]
    if faults.on("precedence-zero-as-null"):
        candidates = [(role, precedence or None) for role, precedence in candidates]
    if not faults.on("precedence-roleless-counts"):  # G7
        candidates = [group for group in candidates if group[0]]
    if not any(role for role, _ in candidates):
        return None
    best = min(_rank(precedence, faults) for _, precedence in candidates)
    tied = [role for role, precedence in candidates if _rank(precedence, faults) == best]
    distinct = list(dict.fromkeys(tied))
    if len(distinct) == 1:  # G5 same role, G6
        if best[0] == _rank(None, faults)[0] and faults.on("precedence-single-null-unset"):
            return None
        return distinct[0]
    if faults.on("precedence-ties-pick-first"):
        return tied[0]
    if faults.on("precedence-ties-pick-last"):
        return tied[-1]
    if faults.on("precedence-nulls-not-tied") and best[0] == _rank(None, faults)[0]:
        return tied[0]
    return None  # G5: different roles at the best precedence leave the claim unset


def _rank(precedence: int | None, faults: Faults) -> tuple[int, int | str]:
    """Sort key: lower is better. A number beats null (G4); nulls are equal to each other (G5)."""
    null_rank = 0 if faults.on("precedence-null-wins") else 1
    if precedence is None:
        return (null_rank, "" if faults.on("precedence-as-text") else 0)
    number = -precedence if faults.on("precedence-highest-wins") else precedence
    if faults.on("precedence-as-text"):
        return (1 - null_rank, str(number))
    return (1 - null_rank, number)


def roles(groups: Iterable[RolePrecedence], faults: Faults | None = None) -> list[str]:
    """`cognito:roles` (G3): each role ARN of the user's groups once, in group order."""
    found = list(dict.fromkeys(role for role, _ in groups if role))
    if faults is not None and faults.on("claims-roles-first-only"):
        return found[:1]
    return found


def id_token_claims(groups: Sequence[GroupInfo], faults: Faults | None = None) -> dict[str, Any]:
    """The group-derived claims of an ID token: cognito:groups, cognito:roles, preferred_role.

    Claims with nothing to say are absent, as in tokens AWS issues (G3).
    """
    faults = faults or Faults()
    pairs = [(group.role_arn, group.precedence) for group in groups]
    claims: dict[str, Any] = {}
    if groups and not faults.on("claims-groups-dropped"):
        lower = faults.on("claims-groups-lowercased")
        claims["cognito:groups"] = [group.name.lower() if lower else group.name
                                    for group in groups]  # G2
    role_arns = roles(pairs, faults)
    if role_arns:
        claims["cognito:roles"] = (
            ",".join(role_arns) if faults.on("claims-roles-as-string") else role_arns
        )
    chosen = preferred_role(pairs, faults)
    if chosen and not faults.on("claims-preferred-role-dropped"):
        claims["cognito:preferred_role"] = chosen
    return claims
