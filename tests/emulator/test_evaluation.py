"""The one evaluator, table-driven (SPEC D1, B1, B2, R1, R2): every policy type of one account.

Pure: no emulator, no moto. Each case id names the rule it pins; the faults that bend
the combination are shown to change exactly the verdict they are about.
"""

from __future__ import annotations

from typing import Any

import pytest

from rolecall.emulator.faults import Faults
from rolecall.emulator.iam.evaluation import Policies, Principal, Verdict, decide
from rolecall.emulator.iam.policy import Decision

ALLOW, IMPLICIT, EXPLICIT = Decision.ALLOW, Decision.IMPLICIT_DENY, Decision.EXPLICIT_DENY
ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/app/Staff"
SESSION = f"arn:aws:sts::{ACCOUNT}:assumed-role/Staff/CognitoIdentityCredentials"
OTHER_ROLE = f"arn:aws:iam::{ACCOUNT}:role/Other"
TABLE = f"arn:aws:dynamodb:eu-west-1:{ACCOUNT}:table/Orders"
INDEX = f"{TABLE}/index/ByCustomer"
DELETE = "dynamodb:DeleteItem"
ME = Principal(SESSION, ACCOUNT, ROLE)
NO_FAULTS = Faults()


def doc(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(action: str = DELETE, resource: Any = TABLE, **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action: str = DELETE, resource: Any = TABLE, **extra: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


def table_policy(effect: str, principal: Any, resource: Any = TABLE,
                 action: str = DELETE) -> dict[str, Any]:
    return doc({"Effect": effect, "Principal": principal, "Action": action, "Resource": resource})


GRANTS = doc(allow())
NOTHING = doc(allow("dynamodb:GetItem"))
EVERYTHING = doc(allow("dynamodb:*", "*"))
DENIES = doc(allow("dynamodb:*", "*"), deny())

CASES: list[tuple[str, Policies, Verdict]] = [
    # B1: the boundary caps the identity policies
    ("B1-no-boundary", Policies([GRANTS]), Verdict(ALLOW)),
    ("B1-both-allow", Policies([GRANTS], EVERYTHING), Verdict(ALLOW)),
    ("B1-boundary-takes-away", Policies([GRANTS], NOTHING), Verdict(IMPLICIT, "permissions boundary")),
    ("B1-boundary-grants-nothing-alone", Policies([NOTHING], EVERYTHING),
     Verdict(IMPLICIT, "identity-based")),
    ("B2-neither-names-identity-first", Policies([NOTHING], NOTHING),
     Verdict(IMPLICIT, "identity-based")),
    ("B1-boundary-deny-wins", Policies([GRANTS], DENIES), Verdict(EXPLICIT, "permissions boundary")),
    ("B1-boundary-and-session", Policies([GRANTS], EVERYTHING, [NOTHING]),
     Verdict(IMPLICIT, "session")),
    ("B2-boundary-named-before-session", Policies([GRANTS], NOTHING, [NOTHING]),
     Verdict(IMPLICIT, "permissions boundary")),
    # R1: a Deny in the table's policy wins over every Allow, and is named first
    ("R1-table-deny-wins", Policies([EVERYTHING], resource=table_policy("Deny", "*")),
     Verdict(EXPLICIT, "resource-based")),
    ("R1-table-deny-on-account", Policies([EVERYTHING], resource=table_policy("Deny", {"AWS": ACCOUNT})),
     Verdict(EXPLICIT, "resource-based")),
    ("R1-deny-for-another-role-only",
     Policies([EVERYTHING], resource=table_policy("Deny", {"AWS": OTHER_ROLE})), Verdict(ALLOW)),
    ("R1-table-deny-named-before-identity-deny",
     Policies([DENIES], resource=table_policy("Deny", "*")), Verdict(EXPLICIT, "resource-based")),
    ("R1-index-statement-decides-on-index",
     Policies([EVERYTHING], resource=table_policy("Deny", "*", INDEX)), Verdict(ALLOW)),
    # R2: same-account grants by the principal they name
    ("R2-session-arn-grants-alone", Policies([NOTHING], resource=table_policy("Allow", {"AWS": SESSION})),
     Verdict(ALLOW)),
    ("R2-star-grants-alone", Policies([NOTHING], resource=table_policy("Allow", "*")), Verdict(ALLOW)),
    ("R2-role-arn-grants-alone", Policies([NOTHING], resource=table_policy("Allow", {"AWS": ROLE})),
     Verdict(ALLOW)),
    ("R2-account-delegates", Policies([NOTHING], resource=table_policy("Allow", {"AWS": ACCOUNT})),
     Verdict(IMPLICIT, "identity-based")),
    ("R2-account-root-arn-delegates",
     Policies([NOTHING], resource=table_policy("Allow", {"AWS": f"arn:aws:iam::{ACCOUNT}:root"})),
     Verdict(IMPLICIT, "identity-based")),
    ("R2-role-arn-limited-by-boundary",
     Policies([NOTHING], NOTHING, resource=table_policy("Allow", {"AWS": [OTHER_ROLE, ROLE]})),
     Verdict(IMPLICIT, "permissions boundary")),
    ("R2-role-arn-limited-by-session",
     Policies([NOTHING], session=[NOTHING], resource=table_policy("Allow", {"AWS": ROLE})),
     Verdict(IMPLICIT, "session")),
    ("R2-session-arn-not-limited-by-boundary",
     Policies([NOTHING], NOTHING, [NOTHING], table_policy("Allow", {"AWS": SESSION})), Verdict(ALLOW)),
    ("R2-explicit-deny-still-wins-over-session-grant",
     Policies([DENIES], resource=table_policy("Allow", {"AWS": SESSION})),
     Verdict(EXPLICIT, "identity-based")),
    ("R2-other-role-grants-nothing",
     Policies([NOTHING], resource=table_policy("Allow", {"AWS": OTHER_ROLE})),
     Verdict(IMPLICIT, "identity-based")),
    ("R2-not-principal-deny-with-boundary-denies-everyone",
     Policies([EVERYTHING], EVERYTHING, resource=doc(
         {"Effect": "Deny", "NotPrincipal": {"AWS": [ROLE, SESSION]}, "Action": "*",
          "Resource": TABLE})), Verdict(EXPLICIT, "resource-based")),
    ("R2-not-principal-deny-spares-the-named",
     Policies([EVERYTHING], resource=doc(
         {"Effect": "Deny", "NotPrincipal": {"AWS": [ROLE, SESSION]}, "Action": "*",
          "Resource": TABLE})), Verdict(ALLOW)),
]


@pytest.mark.parametrize(("policies", "expected"), [case[1:] for case in CASES],
                         ids=[case[0] for case in CASES])
def test_every_policy_type_decides(policies: Policies, expected: Verdict) -> None:
    assert decide(DELETE, TABLE, {}, ME, policies, NO_FAULTS) == expected


def test_a_table_statement_naming_an_index_decides_calls_on_that_index() -> None:
    policies = Policies([doc(allow("dynamodb:Query", INDEX))],
                        resource=table_policy("Deny", "*", INDEX, "dynamodb:Query"))
    assert decide("dynamodb:Query", INDEX, {}, ME, policies, NO_FAULTS) == Verdict(
        EXPLICIT, "resource-based")
    assert decide("dynamodb:Query", TABLE, {}, ME, Policies(
        [doc(allow("dynamodb:Query"))], resource=policies.resource), NO_FAULTS) == Verdict(ALLOW)


def test_resource_policy_conditions_see_the_request_context() -> None:
    tenant_only = doc({"Effect": "Allow", "Principal": {"AWS": SESSION}, "Action": DELETE,
                       "Resource": TABLE, "Condition": {"ForAllValues:StringEquals": {
                           "dynamodb:LeadingKeys": ["${aws:PrincipalTag/tenant}"]}}})
    policies = Policies([NOTHING], resource=tenant_only)
    mine = {"aws:PrincipalTag/tenant": ["t1"], "dynamodb:LeadingKeys": ["t1"]}
    theirs = {"aws:PrincipalTag/tenant": ["t1"], "dynamodb:LeadingKeys": ["t2"]}
    assert decide(DELETE, TABLE, mine, ME, policies, NO_FAULTS).decision is ALLOW
    assert decide(DELETE, TABLE, theirs, ME, policies, NO_FAULTS) == Verdict(
        IMPLICIT, "identity-based")


def test_an_iam_user_named_by_a_resource_policy_is_granted_directly() -> None:
    user = Principal(f"arn:aws:iam::{ACCOUNT}:user/runner", ACCOUNT)
    policies = Policies([NOTHING], NOTHING, resource=table_policy("Allow", {"AWS": user.arn}))
    assert decide(DELETE, TABLE, {}, user, policies, NO_FAULTS) == Verdict(ALLOW)


FAULT_CASES = [
    ("boundary-as-union", Policies([NOTHING], EVERYTHING), Verdict(IMPLICIT, "identity-based"),
     Verdict(ALLOW)),
    ("boundary-as-union", Policies([GRANTS], NOTHING), Verdict(IMPLICIT, "permissions boundary"),
     Verdict(ALLOW)),
    ("resource-deny-ignored", Policies([EVERYTHING], resource=table_policy("Deny", "*")),
     Verdict(EXPLICIT, "resource-based"), Verdict(ALLOW)),
    ("resource-role-arn-as-session",
     Policies([NOTHING], NOTHING, resource=table_policy("Allow", {"AWS": ROLE})),
     Verdict(IMPLICIT, "permissions boundary"), Verdict(ALLOW)),
    ("resource-allow-needs-identity",
     Policies([NOTHING], resource=table_policy("Allow", {"AWS": SESSION})), Verdict(ALLOW),
     Verdict(IMPLICIT, "identity-based")),
]


@pytest.mark.parametrize(("fault", "policies", "faithful", "faulty"), FAULT_CASES,
                         ids=[f"{case[0]}-{n}" for n, case in enumerate(FAULT_CASES)])
def test_each_combination_fault_bends_exactly_its_case(fault: str, policies: Policies,
                                                       faithful: Verdict, faulty: Verdict) -> None:
    assert decide(DELETE, TABLE, {}, ME, policies, NO_FAULTS) == faithful
    assert decide(DELETE, TABLE, {}, ME, policies, Faults([fault])) == faulty


def test_verdict_nouns_are_the_phrases_aws_prints() -> None:
    assert Verdict(IMPLICIT, "permissions boundary").noun == "permissions boundary"
    assert Verdict(IMPLICIT, "identity-based").noun == "identity-based policy"
    assert Verdict(EXPLICIT, "resource-based").noun == "resource-based policy"
    assert Verdict(IMPLICIT, "session").noun == "session policy"
