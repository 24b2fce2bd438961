"""The preferred-role choice and the group claims of an ID token (SPEC G2-G7), as pure functions."""

from __future__ import annotations

import pytest

from rolecall.emulator.cognitoidp.claims import (
    GroupInfo,
    RolePrecedence,
    id_token_claims,
    preferred_role,
    roles,
)
from rolecall.emulator.faults import Faults

A = "arn:aws:iam::123456789012:role/A"
B = "arn:aws:iam::123456789012:role/B"
C = "arn:aws:iam::123456789012:role/C"

# (groups as (role, precedence) pairs, expected cognito:preferred_role)
PREFERRED = [
    pytest.param([(A, 5), (B, 1)], B, id="G4-lowest-precedence-wins"),
    pytest.param([(A, 0), (B, 2**31 - 1)], A, id="G4-zero-beats-max"),
    pytest.param([(A, None), (B, 7)], B, id="G4-number-beats-null"),
    pytest.param([(A, 3), (B, 3)], None, id="G5-tie-different-roles-unset"),
    pytest.param([(A, 3), (A, 3), (B, 9)], A, id="G5-tie-same-role"),
    pytest.param([(A, None), (B, None)], None, id="G5-two-nulls"),
    pytest.param([(A, None), (A, None)], A, id="G5-two-nulls-same-role"),
    pytest.param([(A, 2), (B, 2), (C, 1)], C, id="G5-tie-below-best-irrelevant"),
    pytest.param([(A, 9)], A, id="G6-single-role"),
    pytest.param([(A, 9), (A, 1), (None, 0)], A, id="G6-one-role-many-groups"),
    pytest.param([(A, None), (None, 0)], A, id="G6-one-role-null-precedence"),
    pytest.param([(None, 0), (A, 5)], A, id="G7-roleless-group-does-not-hide"),
    pytest.param([(None, 0), (A, 5), (B, 5)], None, id="G7-roleless-ignored-tie-stays"),
    pytest.param([(None, 0), (None, 1)], None, id="G3-no-roles"),
    pytest.param([], None, id="G3-no-groups"),
]


@pytest.mark.parametrize(("groups", "expected"), PREFERRED)
def test_preferred_role(groups: list[RolePrecedence], expected: str | None) -> None:
    assert preferred_role(groups) == expected


# (fault, groups, faithful answer, faulty answer): each fault changes the outcome
FAULTY = [
    pytest.param("precedence-highest-wins", [(A, 1), (B, 5)], A, B, id="G4-highest-wins"),
    pytest.param("precedence-null-wins", [(A, None), (B, 5)], B, A, id="G4-null-wins"),
    pytest.param("precedence-ties-pick-first", [(A, 2), (B, 2)], None, A, id="G5-ties-pick-first"),
    pytest.param("precedence-roleless-counts", [(None, 0), (A, 5)], A, None,
                 id="G7-roleless-counts"),
]


@pytest.mark.parametrize(("fault", "groups", "faithful", "faulty"), FAULTY)
def test_precedence_faults(fault: str, groups: list[RolePrecedence], faithful: str | None,
                           faulty: str | None) -> None:
    assert preferred_role(groups) == faithful
    assert preferred_role(groups, Faults([fault])) == faulty


def test_roles_are_each_role_once_in_group_order() -> None:
    assert roles([(B, 1), (None, 0), (A, 2), (B, 3)]) == [B, A]


CLAIMS = [
    pytest.param([GroupInfo("readers", A, 1)],
                 {"cognito:groups": ["readers"], "cognito:roles": [A], "cognito:preferred_role": A},
                 id="G2-G3-G4-one-group"),
    pytest.param([GroupInfo("plain")], {"cognito:groups": ["plain"]}, id="G3-absent-without-roles"),
    pytest.param([GroupInfo("x", A, 1), GroupInfo("y", B, 1)],
                 {"cognito:groups": ["x", "y"], "cognito:roles": [A, B]},
                 id="G5-roles-without-preferred"),
    pytest.param([], {}, id="G2-no-groups-no-claims"),
]


@pytest.mark.parametrize(("groups", "expected"), CLAIMS)
def test_id_token_claims(groups: list[GroupInfo], expected: dict[str, object]) -> None:
    assert id_token_claims(groups) == expected


@pytest.mark.parametrize(("fault", "check"), [
    pytest.param("claims-roles-as-string", lambda c: c["cognito:roles"] == f"{A},{B}",
                 id="G3-roles-as-string"),
    pytest.param("claims-preferred-role-dropped", lambda c: "cognito:preferred_role" not in c,
                 id="G4-preferred-dropped"),
    pytest.param("claims-groups-dropped", lambda c: "cognito:groups" not in c,
                 id="G2-groups-dropped"),
])
def test_claim_faults(fault: str, check: object) -> None:
    groups = [GroupInfo("x", A, 1), GroupInfo("y", B, 2)]
    faithful = id_token_claims(groups)
    assert faithful == {"cognito:groups": ["x", "y"], "cognito:roles": [A, B],
                        "cognito:preferred_role": A}
    assert callable(check)
    assert check(id_token_claims(groups, Faults([fault])))
