"""The oracle's own reading of IAM evaluation (rolecall/model/evaluation.py), rule by rule.

Each case cites the IAM User Guide page it follows. The embedded target has its own
reading (rolecall/emulator/iam/); the conformance matrix compares the two through the
wire, these tests pin the oracle's alone.
"""

from __future__ import annotations

from typing import Any

import pytest

from rolecall.model.evaluation import (
    BOUNDARY,
    IDENTITY,
    RESOURCE,
    SESSION,
    Decision,
    Policies,
    Request,
    decide,
)

ROLE = "arn:aws:iam::111122223333:role/R"
SESSION_ARN = "arn:aws:sts::111122223333:assumed-role/R/CognitoIdentityCredentials"
TABLE = "arn:aws:dynamodb:eu-west-1:111122223333:table/t"


def doc(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(action: str = "dynamodb:*", resource: str = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action: str, resource: str = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


def request(action: str = "dynamodb:GetItem") -> Request:
    return Request(action, TABLE, ROLE, SESSION_ARN, {}, absent=frozenset({"aws:username"}),
                   closed=("aws:PrincipalTag/",))


# -- policy types (evaluation logic; permissions boundaries page) ---------------------------

CASES = [  # (case, policies, action, expected decision)
    ("identity-allows", Policies((doc(allow()),)), "dynamodb:GetItem", Decision(True)),
    ("nothing-allows", Policies((doc(allow("dynamodb:Query")),)), "dynamodb:GetItem",
     Decision(False, IDENTITY)),
    ("identity-deny-wins", Policies((doc(allow(), deny("dynamodb:GetItem")),)),
     "dynamodb:GetItem", Decision(False, IDENTITY, explicit=True)),
    ("boundary-caps", Policies((doc(allow()),), doc(allow("dynamodb:Query"))),
     "dynamodb:GetItem", Decision(False, BOUNDARY)),
    ("boundary-does-not-grant", Policies((doc(allow("dynamodb:Query")),), doc(allow())),
     "dynamodb:GetItem", Decision(False, IDENTITY)),
    ("boundary-deny-wins", Policies((doc(allow()),), doc(allow(), deny("dynamodb:GetItem"))),
     "dynamodb:GetItem", Decision(False, BOUNDARY, explicit=True)),
    ("session-caps", Policies((doc(allow()),), None, (doc(allow("dynamodb:Query")),)),
     "dynamodb:GetItem", Decision(False, SESSION)),
    ("resource-grants-union", Policies((doc(allow("dynamodb:Query")),), None, (),
                                       doc(allow("dynamodb:GetItem", TABLE,
                                                 Principal={"AWS": ROLE}))),
     "dynamodb:GetItem", Decision(True)),
    ("resource-deny-wins", Policies((doc(allow()),), None, (),
                                    doc(deny("dynamodb:GetItem", TABLE, Principal="*"))),
     "dynamodb:GetItem", Decision(False, RESOURCE, explicit=True)),
    ("resource-to-role-limited-by-boundary",
     Policies((), doc(allow("dynamodb:Query")), (),
              doc(allow("dynamodb:GetItem", TABLE, Principal={"AWS": ROLE}))),
     "dynamodb:GetItem", Decision(False, BOUNDARY)),
    ("resource-to-session-not-limited",
     Policies((), doc(allow("dynamodb:Query")), (doc(allow("dynamodb:Query")),),
              doc(allow("dynamodb:GetItem", TABLE, Principal={"AWS": SESSION_ARN}))),
     "dynamodb:GetItem", Decision(True)),
    ("resource-to-account-delegates", Policies((), None, (), doc(allow(
        "dynamodb:GetItem", TABLE, Principal={"AWS": "arn:aws:iam::111122223333:root"}))),
     "dynamodb:GetItem", Decision(False, IDENTITY)),
    ("resource-to-anyone-is-to-the-session",
     Policies((), doc(allow("dynamodb:Query")), (), doc(allow("dynamodb:GetItem", TABLE,
                                                                Principal="*"))),
     "dynamodb:GetItem", Decision(True)),
    ("resource-to-other-principal", Policies((), None, (), doc(allow(
        "dynamodb:GetItem", TABLE, Principal={"AWS": "arn:aws:iam::111122223333:role/Other"}))),
     "dynamodb:GetItem", Decision(False, IDENTITY)),
]


@pytest.mark.parametrize(("case", "policies", "action", "expected"), CASES,
                         ids=[c[0] for c in CASES])
def test_policy_types(case: str, policies: Policies, action: str, expected: Decision) -> None:
    assert decide(policies, request(action)) == expected


def test_refusal_phrases_are_aws_words() -> None:
    """troubleshoot_access-denied.html: the phrase per policy type."""
    assert Decision(False, IDENTITY).phrase == "because no identity-based policy allows"
    assert Decision(False, BOUNDARY).phrase == "because no permissions boundary allows"
    assert Decision(False, SESSION).phrase == "because no session policy allows"
    assert Decision(False, BOUNDARY, True).phrase == "with an explicit deny in a permissions boundary"
    assert Decision(False, RESOURCE, True).phrase == "with an explicit deny in a resource-based policy"
    assert Decision(False, IDENTITY, True).phrase == "with an explicit deny in an identity-based policy"


# -- conditions and variables (condition operators page; policy variables page) -------------

TENANT = doc(allow("dynamodb:GetItem", TABLE, Condition={"ForAllValues:StringEquals": {
    "dynamodb:LeadingKeys": ["${aws:PrincipalTag/tenant}"]}}))
TAGGED = "aws:PrincipalTag/tenant"


@pytest.mark.parametrize(("context", "allowed"), [
    ({"dynamodb:LeadingKeys": ["acme"], TAGGED: ["acme"]}, True),
    ({"dynamodb:LeadingKeys": ["globex"], TAGGED: ["acme"]}, False),
    ({"dynamodb:LeadingKeys": ["acme", "globex"], TAGGED: ["acme"]}, False),
    ({"dynamodb:LeadingKeys": ["acme"]}, False),  # no tag: the variable has no value
    ({TAGGED: ["acme"]}, True),  # a request without keys (Scan): ForAllValues holds
], ids=["own-tenant", "other-tenant", "one-key-foreign", "untagged", "no-keys-vacuous"])
def test_principal_tag_in_leading_keys(context: dict[str, list[str]], allowed: bool) -> None:
    made = Request("dynamodb:GetItem", TABLE, ROLE, SESSION_ARN, context,
                   absent=frozenset({"dynamodb:LeadingKeys"}) - set(context),
                   closed=("aws:PrincipalTag/",))
    assert decide(Policies((TENANT,)), made) == (
        Decision(True) if allowed else Decision(False, IDENTITY))


@pytest.mark.parametrize(("operator", "value", "present", "holds"), [
    ("StringEquals", "a*", "a*", True),  # the * is literal
    ("StringEquals", "a*", "ab", False),
    ("StringLike", "a*", "ab", True),
    ("StringNotEquals", "a", None, True),  # a negated operator on a missing key holds
    ("StringEquals", "a", None, False),  # a positive one fails
    ("StringEqualsIfExists", "a", None, True),
    ("StringEqualsIgnoreCase", "ABC", "abc", True),
    ("NumericLessThan", "10", "9", True),
    ("NumericLessThan", "10", "11", False),
    ("Bool", "false", "false", True),
    ("ArnLike", "arn:aws:iam::*:role/R", ROLE, True),
    ("ArnLike", "arn:aws:iam::111122223333:*", ROLE, True),
    ("ArnLike", "arn:aws:iam::111122223333:ROLE/*", ROLE, False),  # case-sensitive
])
def test_operators(operator: str, value: str, present: str | None, holds: bool) -> None:
    context = {"k": [present]} if present is not None else {}
    made = Request("dynamodb:GetItem", TABLE, ROLE, SESSION_ARN, context,
                   absent=frozenset() if present is not None else frozenset({"k"}))
    policy = doc(allow("dynamodb:GetItem", TABLE, Condition={operator: {"k": value}}))
    assert decide(Policies((policy,)), made) == (
        Decision(True) if holds else Decision(False, IDENTITY))


def test_an_unknown_key_is_no_guess() -> None:
    """A condition on a key the oracle does not model cannot be decided: None, not a verdict."""
    policy = doc(allow("dynamodb:GetItem", TABLE,
                       Condition={"StringEquals": {"dynamodb:Attributes": "x"}}))
    assert decide(Policies((policy,)), request()) is None


def test_variables_need_the_2012_version_and_take_defaults() -> None:
    """Without Version 2012-10-17, ${...} is literal text; ${key, 'default'} fills a gap."""
    old = {"Statement": [allow("dynamodb:GetItem", "arn:aws:dynamodb:*:*:table/${aws:username}")]}
    assert decide(Policies((old,)), request()) == Decision(False, IDENTITY)
    with_default = doc(allow("dynamodb:GetItem", "arn:aws:dynamodb:*:*:table/${aws:username, 't'}"))
    assert decide(Policies((with_default,)), request()) == Decision(True)


def test_not_action_and_not_resource() -> None:
    policy = doc({"Effect": "Allow", "NotAction": "dynamodb:Delete*", "NotResource": "arn:x"})
    assert decide(Policies((policy,)), request()) == Decision(True)
    assert decide(Policies((policy,)), request("dynamodb:DeleteItem")) == Decision(False, IDENTITY)
