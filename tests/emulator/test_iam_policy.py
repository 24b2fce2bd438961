"""IAM policy evaluation, table-driven (SPEC D1, D2, T1-T3), plus the IAM faults.

Pure: no emulator, no moto. Each case id names the SPEC rule it pins.
"""

from __future__ import annotations

from typing import Any

import pytest

from rolecall.emulator.faults import Faults
from rolecall.emulator.iam.evaluation import Verdict, authorize, explain
from rolecall.emulator.iam.policy import Decision, evaluate, trust_allows

ALLOW, IMPLICIT, EXPLICIT = Decision.ALLOW, Decision.IMPLICIT_DENY, Decision.EXPLICIT_DENY
GET = "dynamodb:GetItem"
TABLE = "arn:aws:dynamodb:eu-west-1:123456789012:table/Books"
SUB = "cognito-identity.amazonaws.com:sub"
IDENTITY = "eu-west-1:11111111-2222-3333-4444-555555555555"
NO_FAULTS = Faults()


def statement(effect: str = "Allow", action: Any = GET, resource: Any = TABLE,
              **extra: Any) -> dict[str, Any]:
    result: dict[str, Any] = {"Effect": effect, **extra}
    if action is not None:
        result["Action"] = action
    if resource is not None:
        result["Resource"] = resource
    return result


def doc(*statements: dict[str, Any], version: str = "2012-10-17") -> dict[str, Any]:
    return {"Version": version, "Statement": list(statements)}


def when(condition: dict[str, Any], effect: str = "Allow") -> dict[str, Any]:
    """A policy allowing (or denying) GetItem on TABLE under `condition`."""
    return doc(statement(effect, Condition=condition))


# --------------------------------------------------------------------------- statement matching

STATEMENT_CASES = [
    # D1: the decision
    ("D1-nothing-allows", GET, TABLE, {}, [doc()], IMPLICIT),
    ("D1-allow", GET, TABLE, {}, [doc(statement())], ALLOW),
    ("D1-deny-wins-same-policy", GET, TABLE, {},
     [doc(statement(), statement("Deny"))], EXPLICIT),
    ("D1-deny-wins-other-policy", GET, TABLE, {},
     [doc(statement()), doc(statement("Deny", action="dynamodb:*", resource="*"))], EXPLICIT),
    ("D1-deny-other-action-irrelevant", GET, TABLE, {},
     [doc(statement(), statement("Deny", action="dynamodb:PutItem"))], ALLOW),
    ("D1-unknown-effect-ignored", GET, TABLE, {}, [doc(statement("allow"))], IMPLICIT),
    # D2: Statement shape
    ("D2-statement-as-object", GET, TABLE, {},
     [{"Version": "2012-10-17", "Statement": statement()}], ALLOW),
    ("D2-statement-without-resource-invalid", GET, TABLE, {},
     [doc(statement(resource=None))], IMPLICIT),
    # D2: Action / NotAction
    ("D2-action-list", GET, TABLE, {},
     [doc(statement(action=["dynamodb:PutItem", GET]))], ALLOW),
    ("D2-action-case-insensitive", GET, TABLE, {},
     [doc(statement(action="DynamoDB:getitem"))], ALLOW),
    ("D2-action-star-wildcard", GET, TABLE, {}, [doc(statement(action="dynamodb:Get*"))], ALLOW),
    ("D2-action-question-wildcard", GET, TABLE, {},
     [doc(statement(action="dynamodb:?etItem"))], ALLOW),
    ("D2-action-wildcard-other", GET, TABLE, {}, [doc(statement(action="dynamodb:Put*"))],
     IMPLICIT),
    ("D2-action-other-service", GET, TABLE, {}, [doc(statement(action="s3:GetItem"))], IMPLICIT),
    ("D2-action-all", GET, TABLE, {}, [doc(statement(action="*"))], ALLOW),
    ("D2-notaction-allows-the-rest", GET, TABLE, {},
     [doc(statement(action=None, NotAction="dynamodb:PutItem"))], ALLOW),
    ("D2-notaction-excludes-listed", GET, TABLE, {},
     [doc(statement(action=None, NotAction=["dynamodb:Get*"]))], IMPLICIT),
    ("D2-notaction-deny", GET, TABLE, {},
     [doc(statement(), statement("Deny", action=None, NotAction="dynamodb:PutItem"))], EXPLICIT),
    # D2: Resource / NotResource
    ("D2-resource-case-sensitive", GET, TABLE, {},
     [doc(statement(resource=TABLE.replace("Books", "books")))], IMPLICIT),
    ("D2-resource-star", GET, TABLE, {}, [doc(statement(resource="*"))], ALLOW),
    ("D2-resource-star-wildcard", GET, TABLE, {},
     [doc(statement(resource="arn:aws:dynamodb:*:*:table/B*"))], ALLOW),
    ("D2-resource-question-wildcard", GET, TABLE, {},
     [doc(statement(resource="arn:aws:dynamodb:eu-west-1:123456789012:table/Book?"))], ALLOW),
    ("D2-resource-table-is-not-index", GET, f"{TABLE}/index/ByAuthor", {},
     [doc(statement())], IMPLICIT),
    ("D2-resource-index-wildcard", GET, f"{TABLE}/index/ByAuthor", {},
     [doc(statement(resource=f"{TABLE}/index/*"))], ALLOW),
    ("D2-resource-list", GET, TABLE, {},
     [doc(statement(resource=["arn:aws:dynamodb:*:*:table/Other", TABLE]))], ALLOW),
    ("D2-notresource-excluded", GET, TABLE, {},
     [doc(statement(resource=None, NotResource=TABLE))], IMPLICIT),
    ("D2-notresource-others", GET, TABLE, {},
     [doc(statement(resource=None, NotResource="arn:aws:dynamodb:*:*:table/Other"))], ALLOW),
    # D2: policy variables
    ("D2-variable-in-resource", GET, f"{TABLE}-{IDENTITY}", {SUB: [IDENTITY]},
     [doc(statement(resource=f"{TABLE}-${{{SUB}}}"))], ALLOW),
    ("D2-variable-other-identity", GET, f"{TABLE}-eu-west-1:other", {SUB: [IDENTITY]},
     [doc(statement(resource=f"{TABLE}-${{{SUB}}}"))], IMPLICIT),
    ("D2-variable-key-case-insensitive", GET, f"{TABLE}-{IDENTITY}", {SUB: [IDENTITY]},
     [doc(statement(resource=f"{TABLE}-${{COGNITO-IDENTITY.amazonaws.com:SUB}}"))], ALLOW),
    ("D2-variable-missing-invalidates-allow", GET, TABLE, {},
     [doc(statement(resource=["*"], Condition={"StringEquals": {"aws:username": "${aws:x}"}}))],
     IMPLICIT),
    ("D2-variable-missing-invalidates-deny", GET, TABLE, {},
     [doc(statement(), statement("Deny", Condition={"StringNotEquals": {SUB: "${aws:nope}"}}))],
     ALLOW),
    ("D2-variable-multivalued-unresolvable", GET, f"{TABLE}-a", {"k:multi": ["a", "b"]},
     [doc(statement(resource=f"{TABLE}-${{k:multi}}"))], IMPLICIT),
    ("D2-variable-default", GET, f"{TABLE}-guest", {},
     [doc(statement(resource=f"{TABLE}-${{{SUB}, 'guest'}}"))], ALLOW),
    ("D2-variable-star-escape-literal", GET, f"{TABLE}*", {},
     [doc(statement(resource=f"{TABLE}${{*}}"))], ALLOW),
    ("D2-variable-star-escape-not-wildcard", GET, f"{TABLE}x", {},
     [doc(statement(resource=f"{TABLE}${{*}}"))], IMPLICIT),
    ("D2-variable-question-escape", GET, f"{TABLE}?", {},
     [doc(statement(resource=f"{TABLE}${{?}}"))], ALLOW),
    ("D2-variable-dollar-escape", GET, f"{TABLE}$", {},
     [doc(statement(resource=f"{TABLE}${{$}}"))], ALLOW),
    ("D2-variable-substituted-value-is-literal", GET, f"{TABLE}-x", {SUB: ["*"]},
     [doc(statement(resource=f"{TABLE}-${{{SUB}}}"))], IMPLICIT),
    ("D2-variable-old-version-literal", GET, f"{TABLE}-{IDENTITY}", {SUB: [IDENTITY]},
     [doc(statement(resource=f"{TABLE}-${{{SUB}}}"), version="2008-10-17")], IMPLICIT),
]


@pytest.mark.parametrize(("action", "resource", "context", "policies", "expected"),
                         [case[1:] for case in STATEMENT_CASES],
                         ids=[case[0] for case in STATEMENT_CASES])
def test_statement_matching(action: str, resource: str, context: dict[str, list[str]],
                            policies: list[dict[str, Any]], expected: Decision) -> None:
    assert evaluate(action, resource, context, policies, NO_FAULTS) is expected


# --------------------------------------------------------------------------- conditions

LK = "dynamodb:LeadingKeys"
ATTRS = "dynamodb:Attributes"

CONDITION_CASES = [
    ("D2-stringequals", {"StringEquals": {SUB: IDENTITY}}, {SUB: [IDENTITY]}, True),
    ("D2-stringequals-mismatch", {"StringEquals": {SUB: IDENTITY}}, {SUB: ["other"]}, False),
    ("D2-stringequals-case-sensitive-value", {"StringEquals": {SUB: "ABC"}}, {SUB: ["abc"]},
     False),
    ("D2-condition-key-case-insensitive", {"StringEquals": {"Cognito-Identity.AmazonAWS.com:SUB":
                                                            IDENTITY}}, {SUB: [IDENTITY]}, True),
    ("D2-values-or", {"StringEquals": {SUB: ["a", IDENTITY]}}, {SUB: [IDENTITY]}, True),
    ("D2-missing-key-false", {"StringEquals": {SUB: IDENTITY}}, {}, False),
    ("D2-negated-missing-key-true", {"StringNotEquals": {SUB: IDENTITY}}, {}, True),
    ("D2-stringnotequals", {"StringNotEquals": {SUB: "a"}}, {SUB: ["b"]}, True),
    ("D2-stringnotequals-values-nor", {"StringNotEquals": {SUB: ["a", "b"]}}, {SUB: ["b"]},
     False),
    ("D2-stringequalsignorecase", {"StringEqualsIgnoreCase": {SUB: "ABC"}}, {SUB: ["abc"]}, True),
    ("D2-stringnotequalsignorecase", {"StringNotEqualsIgnoreCase": {SUB: "ABC"}},
     {SUB: ["abc"]}, False),
    ("D2-stringlike", {"StringLike": {SUB: "eu-west-1:*"}}, {SUB: [IDENTITY]}, True),
    ("D2-stringlike-question", {"StringLike": {SUB: "a?c"}}, {SUB: ["abc"]}, True),
    ("D2-stringlike-no-match", {"StringLike": {SUB: "us-*"}}, {SUB: [IDENTITY]}, False),
    ("D2-stringnotlike", {"StringNotLike": {SUB: "us-*"}}, {SUB: [IDENTITY]}, True),
    ("D2-stringequals-no-wildcards", {"StringEquals": {SUB: "eu-*"}}, {SUB: [IDENTITY]}, False),
    ("D2-ifexists-missing-true", {"StringEqualsIfExists": {"dynamodb:Select": "COUNT"}}, {},
     True),
    ("D2-ifexists-present-checked", {"StringEqualsIfExists": {"dynamodb:Select": "COUNT"}},
     {"dynamodb:Select": ["ALL_ATTRIBUTES"]}, False),
    ("D2-null-true-when-absent", {"Null": {LK: "true"}}, {}, True),
    ("D2-null-true-when-present", {"Null": {LK: "true"}}, {LK: ["x"]}, False),
    ("D2-null-false-when-present", {"Null": {LK: "false"}}, {LK: ["x"]}, True),
    ("D2-null-false-when-absent", {"Null": {LK: False}}, {}, False),
    ("D2-bool", {"Bool": {"aws:SecureTransport": True}}, {"aws:SecureTransport": ["true"]},
     True),
    ("D2-bool-mismatch", {"Bool": {"aws:SecureTransport": "true"}},
     {"aws:SecureTransport": ["false"]}, False),
    ("D2-numericequals", {"NumericEquals": {"n": "10"}}, {"n": ["10.0"]}, True),
    ("D2-numericnotequals", {"NumericNotEquals": {"n": 10}}, {"n": ["11"]}, True),
    ("D2-numericlessthan", {"NumericLessThan": {"n": 10}}, {"n": ["10"]}, False),
    ("D2-numericlessthanequals", {"NumericLessThanEquals": {"n": 10}}, {"n": ["10"]}, True),
    ("D2-numericgreaterthan", {"NumericGreaterThan": {"n": 10}}, {"n": ["10.5"]}, True),
    ("D2-numericgreaterthanequals", {"NumericGreaterThanEquals": {"n": 10}}, {"n": ["9"]},
     False),
    ("D2-numeric-not-a-number", {"NumericEquals": {"n": 10}}, {"n": ["ten"]}, False),
    ("D2-arnlike", {"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/Books*"}},
     {"aws:PrincipalArn": ["arn:aws:iam::123456789012:role/BooksRead"]}, True),
    ("D2-arnlike-star-stays-in-its-part",
     {"ArnLike": {"aws:SourceArn": "arn:aws:someservice:*:111122223333:finance/*"}},
     {"aws:SourceArn": ["arn:aws:someservice:us-east-2:999999999999:store/abc:111122223333:"
                        "finance/document.txt"]}, False),
    ("D2-stringlike-star-spans-colons",
     {"StringLike": {"aws:SourceArn": "arn:aws:someservice:*:111122223333:finance/*"}},
     {"aws:SourceArn": ["arn:aws:someservice:us-east-2:999999999999:store/abc:111122223333:"
                        "finance/document.txt"]}, True),
    ("D2-arnequals", {"ArnEquals": {"aws:PrincipalArn": "arn:aws:iam::123456789012:role/R"}},
     {"aws:PrincipalArn": ["arn:aws:iam::123456789012:role/R"]}, True),
    ("D2-arnnotequals", {"ArnNotEquals": {"aws:PrincipalArn": "arn:aws:iam::123456789012:role/R"}},
     {"aws:PrincipalArn": ["arn:aws:iam::123456789012:role/R"]}, False),
    ("D2-arnnotlike", {"ArnNotLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/X*"}},
     {"aws:PrincipalArn": ["arn:aws:iam::123456789012:role/R"]}, True),
    ("D2-foranyvalue", {"ForAnyValue:StringLike": {"amr": "authenticated"}},
     {"amr": ["authenticated", "cognito-idp.eu-west-1.amazonaws.com/pool"]}, True),
    ("D2-foranyvalue-none", {"ForAnyValue:StringEquals": {"amr": "authenticated"}},
     {"amr": ["unauthenticated"]}, False),
    ("D2-foranyvalue-missing-false", {"ForAnyValue:StringEquals": {"amr": "x"}}, {}, False),
    ("D2-forallvalues-subset", {"ForAllValues:StringEquals": {ATTRS: ["id", "title", "year"]}},
     {ATTRS: ["id", "title"]}, True),
    ("D2-forallvalues-not-subset", {"ForAllValues:StringEquals": {ATTRS: ["id", "title"]}},
     {ATTRS: ["id", "secret"]}, False),
    ("D2-forallvalues-missing-true", {"ForAllValues:StringEquals": {ATTRS: ["id"]}}, {}, True),
    ("D2-forallvalues-negated", {"ForAllValues:StringNotLike": {"aws:TagKeys": "key1*"}},
     {"aws:TagKeys": ["key2:audit"]}, True),
    ("D2-forallvalues-negated-one-hits", {"ForAllValues:StringNotLike": {"aws:TagKeys": "key1*"}},
     {"aws:TagKeys": ["key1:legal", "key2:audit"]}, False),
    ("D2-foranyvalue-ifexists-missing", {"ForAnyValue:StringEqualsIfExists": {"amr": "x"}}, {},
     True),
    ("D2-keys-and", {"StringEquals": {SUB: IDENTITY, "aws:PrincipalAccount": "123456789012"}},
     {SUB: [IDENTITY]}, False),
    ("D2-operators-and", {"StringEquals": {SUB: IDENTITY}, "StringLike": {LK: "x*"}},
     {SUB: [IDENTITY], LK: ["y"]}, False),
    ("D2-operators-and-all-hold", {"StringEquals": {SUB: IDENTITY}, "StringLike": {LK: "x*"}},
     {SUB: [IDENTITY], LK: ["xy"]}, True),
    ("D2-leadingkeys-variable", {"ForAllValues:StringEquals": {LK: ["${" + SUB + "}"]}},
     {SUB: [IDENTITY], LK: [IDENTITY]}, True),
    ("D2-leadingkeys-variable-other", {"ForAllValues:StringEquals": {LK: ["${" + SUB + "}"]}},
     {SUB: [IDENTITY], LK: [IDENTITY, "eu-west-1:someone-else"]}, False),
    ("D2-stringlike-variable-prefix", {"StringLike": {LK: "${" + SUB + "}#*"}},
     {SUB: [IDENTITY], LK: [f"{IDENTITY}#book"]}, True),
    ("D2-numeric-no-variables", {"NumericEquals": {"n": "${n}"}}, {"n": ["1"]}, False),
    ("D2-unknown-operator-false", {"DateLessThanMaybe": {"n": "1"}}, {"n": ["1"]}, False),
]


@pytest.mark.parametrize(("condition", "context", "applies"),
                         [case[1:] for case in CONDITION_CASES],
                         ids=[case[0] for case in CONDITION_CASES])
def test_conditions(condition: dict[str, Any], context: dict[str, list[str]],
                    applies: bool) -> None:
    """The same condition on an Allow and on a Deny: applies <=> allowed / explicitly denied."""
    assert evaluate(GET, TABLE, context, [when(condition)], NO_FAULTS) is (
        ALLOW if applies else IMPLICIT)
    assert evaluate(GET, TABLE, context, [doc(statement()), when(condition, "Deny")],
                    NO_FAULTS) is (EXPLICIT if applies else ALLOW)


# --------------------------------------------------------------------------- D1 session policies

READ_ALL = doc(statement(action="dynamodb:*", resource="*"))
GET_ONLY = doc(statement())
PUT_ONLY = doc(statement(action="dynamodb:PutItem"))
DENY_GET = doc(statement("Deny"))

SESSION_CASES = [
    ("D1-no-session-policy", [READ_ALL], [], Verdict(ALLOW)),
    ("D1-session-allows-too", [READ_ALL], [GET_ONLY], Verdict(ALLOW)),
    ("D1-session-narrows", [READ_ALL], [PUT_ONLY], Verdict(IMPLICIT, "session")),
    ("D1-session-cannot-widen", [PUT_ONLY], [READ_ALL], Verdict(IMPLICIT, "identity-based")),
    ("D1-neither-allows-identity-reported", [PUT_ONLY], [PUT_ONLY],
     Verdict(IMPLICIT, "identity-based")),
    ("D1-session-explicit-deny", [READ_ALL], [READ_ALL, DENY_GET], Verdict(EXPLICIT, "session")),
    ("D1-identity-explicit-deny-first", [READ_ALL, DENY_GET], [DENY_GET],
     Verdict(EXPLICIT, "identity-based")),
    ("D1-explicit-beats-implicit", [PUT_ONLY], [DENY_GET], Verdict(EXPLICIT, "session")),
]


@pytest.mark.parametrize(("identity", "session", "expected"),
                         [case[1:] for case in SESSION_CASES],
                         ids=[case[0] for case in SESSION_CASES])
def test_session_policies(identity: list[dict[str, Any]], session: list[dict[str, Any]],
                          expected: Verdict) -> None:
    assert explain(GET, TABLE, {}, identity, session, NO_FAULTS) == expected
    assert authorize(GET, TABLE, {}, identity, session, NO_FAULTS) is expected.decision


# --------------------------------------------------------------------------- trust policies (T1-T3)

ASSUME = "sts:AssumeRoleWithWebIdentity"
COGNITO = "cognito-identity.amazonaws.com"
POOL = "eu-west-1:aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
AUD = "cognito-identity.amazonaws.com:aud"
AMR = "cognito-identity.amazonaws.com:amr"
WEB_IDENTITY = {AUD: [POOL], AMR: ["authenticated", "cognito-idp.eu-west-1.amazonaws.com/p"],
                SUB: [IDENTITY]}
AUD_AND_AMR = {"StringEquals": {AUD: POOL}, "ForAnyValue:StringLike": {AMR: "authenticated"}}


def trust(*statements: dict[str, Any]) -> dict[str, Any]:
    return doc(*statements)


def trusts(principal: Any = None, action: Any = ASSUME, effect: str = "Allow",
           condition: dict[str, Any] | None = None) -> dict[str, Any]:
    result: dict[str, Any] = {"Effect": effect,
                              "Principal": {"Federated": COGNITO} if principal is None
                              else principal,
                              "Action": action}
    if condition is not None:
        result["Condition"] = condition
    return result


TRUST_CASES = [
    ("T1-federated-cognito", trust(trusts(condition=AUD_AND_AMR)), WEB_IDENTITY, True),
    ("T1-federated-list", trust(trusts({"Federated": ["accounts.google.com", COGNITO]})),
     WEB_IDENTITY, True),
    ("T1-principal-star", trust(trusts("*")), WEB_IDENTITY, True),
    ("T1-principal-aws-star", trust(trusts({"AWS": "*"})), WEB_IDENTITY, True),
    ("T1-other-provider", trust(trusts({"Federated": "accounts.google.com"})), WEB_IDENTITY,
     False),
    ("T1-aws-account-principal", trust(trusts({"AWS": "arn:aws:iam::123456789012:root"})),
     WEB_IDENTITY, False),
    ("T1-other-action", trust(trusts(action="sts:AssumeRole")), WEB_IDENTITY, False),
    ("T1-action-wildcard", trust(trusts(action="sts:AssumeRole*")), WEB_IDENTITY, True),
    ("T1-no-statement", trust(), WEB_IDENTITY, False),
    ("T1-deny-wins", trust(trusts(), trusts(effect="Deny", condition={"StringEquals": {SUB:
                                                                                      IDENTITY}})),
     WEB_IDENTITY, False),
    ("T2-aud-other-pool", trust(trusts(condition=AUD_AND_AMR)),
     {**WEB_IDENTITY, AUD: ["eu-west-1:other"]}, False),
    ("T2-amr-unauthenticated", trust(trusts(condition=AUD_AND_AMR)),
     {**WEB_IDENTITY, AMR: ["unauthenticated"]}, False),
    ("T3-no-aud-any-pool", trust(trusts()), {**WEB_IDENTITY, AUD: ["us-east-1:elsewhere"]}, True),
]


@pytest.mark.parametrize(("policy", "context", "expected"), [c[1:] for c in TRUST_CASES],
                         ids=[c[0] for c in TRUST_CASES])
def test_trust(policy: dict[str, Any], context: dict[str, list[str]], expected: bool) -> None:
    assert trust_allows(policy, action=ASSUME, federated=COGNITO, context=context,
                        faults=NO_FAULTS) is expected


# --------------------------------------------------------------------------- faults

FAULT_CASES = [
    ("iam-explicit-deny-ignored", [doc(statement(), statement("Deny"))], {}, EXPLICIT, ALLOW),
    ("iam-notaction-inverted", [doc(statement(action=None, NotAction="dynamodb:PutItem"))], {},
     ALLOW, IMPLICIT),
    ("iam-resource-wildcard-overmatch",
     [doc(statement(resource="arn:aws:dynamodb:eu-west-1:123456789012:table/Other"))], {},
     IMPLICIT, ALLOW),
    ("iam-conditions-ignored", [when({"StringEquals": {SUB: IDENTITY}})], {SUB: ["other"]},
     IMPLICIT, ALLOW),
]


@pytest.mark.parametrize(("fault", "policies", "context", "faithful", "faulty"),
                         FAULT_CASES, ids=[c[0] for c in FAULT_CASES])
def test_iam_faults(fault: str, policies: list[dict[str, Any]], context: dict[str, list[str]],
                    faithful: Decision, faulty: Decision) -> None:
    assert evaluate(GET, TABLE, context, policies, NO_FAULTS) is faithful
    assert evaluate(GET, TABLE, context, policies, Faults([fault])) is faulty


def test_resource_overmatch_stays_within_the_service() -> None:
    """iam-resource-wildcard-overmatch widens to the same service only."""
    s3_only = [doc(statement(resource="arn:aws:s3:::bucket"))]
    assert evaluate(GET, TABLE, {}, s3_only, Faults(["iam-resource-wildcard-overmatch"])) is IMPLICIT


def test_session_policy_ignored_fault() -> None:
    assert authorize(GET, TABLE, {}, [READ_ALL], [PUT_ONLY], NO_FAULTS) is IMPLICIT
    assert authorize(GET, TABLE, {}, [READ_ALL], [PUT_ONLY],
                     Faults(["iam-session-policy-ignored"])) is ALLOW


TRUST_FAULT_CASES = [
    ("trust-aud-ignored", {**WEB_IDENTITY, AUD: ["eu-west-1:other"]}),
    ("trust-amr-ignored", {**WEB_IDENTITY, AMR: ["unauthenticated"]}),
]


@pytest.mark.parametrize(("fault", "context"), [c for c in TRUST_FAULT_CASES],
                         ids=[c[0] for c in TRUST_FAULT_CASES])
def test_trust_faults(fault: str, context: dict[str, list[str]]) -> None:
    policy = trust(trusts(condition=AUD_AND_AMR))
    assert trust_allows(policy, action=ASSUME, federated=COGNITO, context=context,
                        faults=NO_FAULTS) is False
    assert trust_allows(policy, action=ASSUME, federated=COGNITO, context=context,
                        faults=Faults([fault])) is True


def test_trust_aud_fault_ignores_only_aud() -> None:
    """trust-aud-ignored leaves the amr condition in force."""
    policy = trust(trusts(condition=AUD_AND_AMR))
    context = {**WEB_IDENTITY, AUD: ["eu-west-1:other"], AMR: ["unauthenticated"]}
    assert trust_allows(policy, action=ASSUME, federated=COGNITO, context=context,
                        faults=Faults(["trust-aud-ignored"])) is False


def test_conditions_ignored_fault_does_not_reach_trust() -> None:
    policy = trust(trusts(condition=AUD_AND_AMR))
    context = {**WEB_IDENTITY, AUD: ["eu-west-1:other"]}
    assert trust_allows(policy, action=ASSUME, federated=COGNITO, context=context,
                        faults=Faults(["iam-conditions-ignored"])) is False
