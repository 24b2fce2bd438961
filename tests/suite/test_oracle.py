"""The oracle, rule by rule: one row per SPEC rule id it decides."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from rolecall.model import expectations, oracle
from rolecall.model.access import Session
from rolecall.model.scenario import Scenario, load
from rolecall.model.shapes import BY_NAME

POLICY = {"Version": "2012-10-17", "Statement": []}


def make(groups: dict[str, Any], users: dict[str, Any], variants: dict[str, Any] | None = None,
         roles: dict[str, Any] | None = None, **pool: Any) -> Scenario:
    role_names = roles or {name: {} for name in ("A", "B", "Auth", "Guest")}
    return Scenario.model_validate({
        "name": "t", "description": "d", "source": "s",
        "table": {"name": "t", "partition_key": {"name": "pk"}, "items": [{"pk": "x"}]},
        "roles": {n: {"policy": POLICY, "allowed": [], "source": "s", **extra}
                  for n, extra in role_names.items()},
        "groups": groups, "users": users,
        "identity_pool": {"authenticated_role": "Auth", "unauthenticated_role": "Guest", **pool},
        "variants": variants or {"v": {"mapping": {"type": "Token", "ambiguous": "Deny"}}},
    })


PRECEDENCE = [  # (rule, groups of the user, expected preferred role)
    ("G4-lowest-wins", {"a": ("A", 0), "b": ("B", 5)}, "A"),
    ("G4-number-beats-null", {"a": ("A", None), "b": ("B", 7)}, "B"),
    ("G5-tie-same-role", {"a": ("A", 3), "a2": ("A", 3), "b": ("B", 9)}, "A"),
    ("G5-tie-two-roles", {"a": ("A", 3), "b": ("B", 3)}, None),
    ("G5-two-nulls", {"a": ("A", None), "b": ("B", None)}, None),
    ("G6-single-role", {"a": ("A", None)}, "A"),
    ("G6-one-role-two-groups", {"a": ("A", 9), "a2": ("A", 1)}, "A"),
    ("G7-roleless-does-not-hide", {"x": (None, 0), "b": ("B", 5), "a": ("A", None)}, "B"),
    ("G3-no-role-at-all", {"x": (None, 0)}, None),
]


@pytest.mark.parametrize(("rule", "groups", "expected"), PRECEDENCE, ids=[r[0] for r in PRECEDENCE])
def test_preferred_role(rule: str, groups: dict[str, Any], expected: str | None) -> None:
    scenario = make({g: {"role": r, "precedence": p} for g, (r, p) in groups.items()},
                    {"u": {"groups": list(groups)}})
    preferred, decided_by = oracle.preferred_role(scenario, "u")
    assert preferred == expected
    assert decided_by.startswith(rule.split("-")[0])


TOKEN = [  # (rule, user's groups, ambiguous resolution, custom role, expected outcome)
    ("E7a-custom-in-roles", ["a", "b"], "Deny", "B", "ISSUED(B)"),
    ("E7a-custom-not-in-roles", ["a"], "Deny", "B", "REFUSED(NotAuthorizedException)"),
    ("E7b-preferred", ["a", "b"], "Deny", None, "ISSUED(A)"),
    ("E7c-ambiguous-authrole", ["a", "b2"], "AuthenticatedRole", None, "ISSUED(Auth)"),
    ("E7c-ambiguous-deny", ["a", "b2"], "Deny", None, "REFUSED(NotAuthorizedException)"),
    ("E8-no-roles-deny", [], "Deny", None, "REFUSED(NotAuthorizedException)"),
    ("E8-no-roles-authrole", [], "AuthenticatedRole", None, "ISSUED(Auth)"),
]


@pytest.mark.parametrize(("rule", "groups", "ambiguous", "custom", "expected"), TOKEN,
                         ids=[r[0] for r in TOKEN])
def test_token_mapping(rule: str, groups: list[str], ambiguous: str, custom: str | None,
                       expected: str) -> None:
    scenario = make({"a": {"role": "A", "precedence": 1}, "b": {"role": "B", "precedence": 2},
                     "b2": {"role": "B", "precedence": 1}},
                    {"u": {"groups": groups}},
                    {"v": {"mapping": {"type": "Token", "ambiguous": ambiguous},
                           "custom_roles": ["B"]}})
    outcome = oracle.enhanced(scenario, "v", "u", custom)
    assert str(outcome) == expected
    assert outcome.rule == rule.split("-")[0]


RULES = [  # (rule id, match, value, claim value, matches?)
    ("E10-equals-exact-element", "Equals", "admins", ["admins", "x"], True),
    ("E10-equals-not-substring", "Equals", "admin", ["admins"], False),
    ("E10-contains-substring", "Contains", "admin", ["admins-readonly"], True),
    ("E10-startswith-prefix", "StartsWith", "write", ["readers", "writers"], True),
    ("E10-startswith-not-infix", "StartsWith", "riter", ["writers"], False),
    ("E9-notequal-other-value", "NotEqual", "finance", "platform", True),
    ("E9-notequal-same-value", "NotEqual", "finance", "finance", False),
    ("E9-notequal-missing-claim", "NotEqual", "finance", None, False),
    ("E9-equals-scalar", "Equals", "platform", "platform", True),
]


@pytest.mark.parametrize(("rule", "match", "value", "claim", "matches"), RULES,
                         ids=[r[0] for r in RULES])
def test_rule_matching(rule: str, match: str, value: str, claim: Any, matches: bool) -> None:
    from rolecall.model.scenario import Rule

    claims = {} if claim is None else {"c": claim}
    assert oracle.rule_matches(Rule(claim="c", match=match, value=value, role="A"),  # type: ignore[arg-type]
                               claims) is matches


def test_rules_first_match_wins_E9() -> None:
    scenario = make({"a": {"role": "A"}, "b": {"role": "B"}}, {"u": {"groups": ["a", "b"]}},
                    {"v": {"mapping": {"type": "Rules", "ambiguous": "Deny", "rules": [
                        {"claim": "cognito:groups", "match": "Equals", "value": "b", "role": "B"},
                        {"claim": "cognito:groups", "match": "Equals", "value": "a", "role": "A"}]}}})
    assert str(oracle.enhanced(scenario, "v", "u")) == "ISSUED(B)"


FLOWS = [  # (rule, pool settings, mapping?, expected classic gate, expected guest)
    ("C1-classic-disabled", {"allow_classic_flow": False}, False,
     "REFUSED(InvalidParameterException)", "REFUSED(NotAuthorizedException)"),
    ("C2-classic-unset", {}, False, None, "REFUSED(NotAuthorizedException)"),
    ("C3-classic-with-mappings", {"allow_classic_flow": True}, True,
     "REFUSED(InvalidParameterException)", "REFUSED(NotAuthorizedException)"),
    ("E4-guest-allowed", {"allow_unauthenticated": True}, False, None, "ISSUED(Guest)"),
]


@pytest.mark.parametrize(("rule", "pool", "mapped", "gate", "guest"), FLOWS, ids=[r[0] for r in FLOWS])
def test_flow_gates(rule: str, pool: dict[str, Any], mapped: bool, gate: str | None,
                    guest: str) -> None:
    variant = {"mapping": {"type": "Token", "ambiguous": "Deny"}} if mapped else {}
    scenario = make({}, {"u": {}}, {"v": variant},
                    roles={"A": {}, "B": {}, "Auth": {}, "Guest": {"trust": {"amr": "unauthenticated"}}},
                    **pool)
    observed_gate = oracle.classic_gate(scenario, "v")
    assert (str(observed_gate) if observed_gate else None) == gate
    assert str(oracle.guest(scenario, "v")) == guest


def test_another_users_token_is_refused_on_both_flows_after_the_classic_gate_E14() -> None:
    scenario = make({}, {"u": {}}, {"open": {}, "off": {"allow_classic_flow": False}})
    assert str(oracle.foreign_login(scenario, "open", "enhanced")) == \
        "REFUSED(NotAuthorizedException)"
    assert oracle.foreign_login(scenario, "open", "classic").rule == "E14"
    assert oracle.foreign_login(scenario, "off", "classic").rule == "C1"  # the gate first
    assert oracle.foreign_login(scenario, "off", "enhanced").rule == "E14"


DURATIONS = [  # (rule, role's max_session_duration, DurationSeconds, expected)
    ("C7-at-the-role-maximum", 7200, 7200, "ISSUED(A)"),
    ("C7-above-the-role-maximum", 7200, 7201, "REFUSED(ValidationError)"),
    ("C7-default-maximum-3600", None, 3601, "REFUSED(ValidationError)"),
    ("C7-default-maximum-allows-3600", None, 3600, "ISSUED(A)"),
    ("C8-below-900", 7200, 899, "REFUSED(ValidationError)"),
    ("C8-minimum-900", None, 900, "ISSUED(A)"),
    ("C8-above-43200-with-the-largest-maximum", 43200, 43201, "REFUSED(ValidationError)"),
]


@pytest.mark.parametrize(("rule", "maximum", "seconds", "expected"), DURATIONS,
                         ids=[r[0] for r in DURATIONS])
def test_session_duration(rule: str, maximum: int | None, seconds: int, expected: str) -> None:
    scenario = make({}, {"u": {}}, {"v": {}}, roles={
        "A": {"max_session_duration": maximum} if maximum else {}, "B": {}, "Auth": {},
        "Guest": {}})
    outcome = oracle.session_duration(scenario, "v", "A", seconds)
    assert (str(outcome), outcome.rule) == (expected, rule.split("-")[0] if not outcome.issued
                                            else "C5")


TRUST = [  # (rule, trust, flow, expected)
    ("E11-aud-other-enhanced", {"aud": "other"}, "enhanced",
     "REFUSED(InvalidIdentityPoolConfigurationException)"),
    ("E11-unauth-only-role-for-user", {"amr": "unauthenticated"}, "enhanced",
     "REFUSED(InvalidIdentityPoolConfigurationException)"),
    ("C6-aud-other-classic", {"aud": "other"}, "classic", "REFUSED(AccessDenied)"),
    ("C5-any-trusted-role", {}, "classic", "ISSUED(A)"),
    ("T3-no-aud-still-admits", {"aud": "none", "amr": "none"}, "classic", "ISSUED(A)"),
]


@pytest.mark.parametrize(("rule", "trust", "flow", "expected"), TRUST, ids=[r[0] for r in TRUST])
def test_trust(rule: str, trust: dict[str, str], flow: str, expected: str) -> None:
    scenario = make({"a": {"role": "A"}}, {"u": {"groups": ["a"]}},
                    {"token": {"mapping": {"type": "Token", "ambiguous": "Deny"}}, "plain": {}},
                    roles={"A": {"trust": trust}, "B": {}, "Auth": {}, "Guest": {}})
    outcome = (oracle.enhanced(scenario, "token", "u") if flow == "enhanced"
               else oracle.classic(scenario, "plain", "A"))
    assert str(outcome) == expected


def test_access_follows_the_profile_D1() -> None:
    scenario = make({}, {"u": {}}, roles={"A": {"allowed": ["GetItem"]}, "B": {}, "Auth": {},
                                         "Guest": {}})
    session = Session("A", "enhanced", "v", "u")
    assert expectations.access(scenario, session, BY_NAME["GetItem"]).verdict == "ALLOWED"
    assert expectations.access(scenario, session, BY_NAME["PutItem"]).verdict == "DENIED"
    assert expectations.access(scenario, None, BY_NAME["GetItem"]) == expectations.Expected("DENIED", "E5")


RULES_CUSTOM = [  # (case, CustomRoleArn, expected): E9c, CustomRoleArn overrides the rule order
    ("first-match-without-custom", None, "ISSUED(A)"),
    ("custom-picks-a-later-match", "B", "ISSUED(B)"),
    ("custom-not-a-matching-rule", "C", "REFUSED(NotAuthorizedException)"),
]


@pytest.mark.parametrize(("case", "custom", "expected"), RULES_CUSTOM,
                         ids=[r[0] for r in RULES_CUSTOM])
def test_custom_role_overrides_the_rule_order(case: str, custom: str | None,
                                              expected: str) -> None:
    rules = [{"claim": "cognito:groups", "match": "Equals", "value": "a", "role": "A"},
             {"claim": "cognito:groups", "match": "Equals", "value": "b", "role": "B"},
             {"claim": "cognito:groups", "match": "Equals", "value": "zzz", "role": "C"}]
    scenario = make({"a": {}, "b": {}}, {"u": {"groups": ["a", "b"]}},
                    {"v": {"mapping": {"type": "Rules", "ambiguous": "Deny", "rules": rules},
                           "custom_roles": ["B", "C"]}},
                    roles={name: {} for name in ("A", "B", "C", "Auth", "Guest")})
    assert str(oracle.enhanced(scenario, "v", "u", custom)) == expected


CONTROL = [  # (profile, action, expected): the profile names it, IAM's wildcards
    ([], "iam:PutRolePolicy", "DENIED"),
    (["*"], "dynamodb:DeleteTable", "DENIED"),
    (["dynamodb:DeleteTable"], "dynamodb:deletetable", "ALLOWED"),
    (["dynamodb:PartiQL*"], "dynamodb:PartiQLDelete", "ALLOWED"),
    (["cognito-identity:*"], "cognito-identity:UpdateIdentityPool", "ALLOWED"),
    # SetIdentityPoolRoles also needs iam:PassRole on the roles (a dependent action)
    (["cognito-identity:*"], "cognito-identity:SetIdentityPoolRoles", "DENIED"),
    (["cognito-identity:*", "iam:PassRole"], "cognito-identity:SetIdentityPoolRoles", "ALLOWED"),
    (["cognito-identity:*"], "cognito-idp:CreateGroup", "DENIED"),
]


@pytest.mark.parametrize(("profile", "action", "expected"), CONTROL,
                         ids=[f"{'+'.join(r[0]) or 'none'}-{r[1]}" for r in CONTROL])
def test_control_plane_verdict_comes_from_the_profile(profile: list[str], action: str,
                                                      expected: str) -> None:
    scenario = make({"a": {}}, {"u": {"groups": ["a"]}}, {"v": {}},
                    roles={"A": {"allowed": profile}, "Auth": {}, "Guest": {}})
    assert oracle.control(scenario, "A", action)[0] == expected


def test_enhanced_guests_are_denied_every_control_action() -> None:
    scenario = make({"a": {}}, {"u": {"groups": ["a"]}}, {"v": {}},
                    roles={"A": {"allowed": ["iam:*"]}, "Auth": {}, "Guest": {}})
    assert oracle.control(scenario, "A", "iam:PutRolePolicy", guest_session=True) == (
        "DENIED", "E5")


def test_every_shipped_scenario_states_what_its_policies_give() -> None:
    """The stated profiles of scenarios/ agree with the oracle's own reading of their
    policies (boundaries, table policies and principal tags included), wherever it can read
    them: a profile that says otherwise would make a faithful run red."""
    for path in sorted((Path(__file__).resolve().parents[2] / "scenarios").glob("*.yaml")):
        assert expectations.profile_problems(load(path)) == [], path.name


def test_a_profile_its_policies_contradict_is_listed() -> None:
    grants_get = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": "{{table_arn}}"}]}
    scenario = make({}, {"u": {}}, roles={"A": {"allowed": ["GetItem", "PutItem"],
                                                "policy": grants_get},
                                          "B": {}, "Auth": {}, "Guest": {}},
                    variants={"plain": {}}, authenticated_role="A")
    assert expectations.profile_problems(scenario) == [("A", (
        "PutItem for user u (plain): the profile says ALLOWED, the policies give DENIED "
        "(because no identity-based policy allows dynamodb:PutItem)"))]
