"""What AWS should do, by the spec: expected roles, credential outcomes and access.

The oracle is the suite's reading of ../shared/SPEC.md. It works on a scenario's
logical names (roles by their scenario key, not ARNs) and returns every answer
with the SPEC rule that decided it, so a failing cell can say *why* it expected
what it expected. It never talks to AWS.

It also cross-checks the expectations a scenario states: a stated role that
contradicts the spec fails the scenario at load time (`check`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Literal

from rolecall.model import access as policy_reading
from rolecall.model.errors import ScenarioError
from rolecall.model.scenario import ExpectedRole, Rule, Scenario

Verdict = Literal["ALLOWED", "DENIED", "ERROR"]

# SPEC E5 as corrected in docs/semantics.md: the guest scope-down policy
# (AmazonCognitoUnAuthedIdentitiesSessionPolicy v3) names no DynamoDB action.
GUEST_SCOPE_DOWN_SERVICES: tuple[str, ...] = ()


@dataclass(frozen=True)
class Outcome:
    """A credential outcome: ISSUED(role) or REFUSED(error code), with the deciding rule."""

    issued: bool
    role: str | None  # logical role name when issued
    code: str | None  # AWS error code when refused
    rule: str

    def __str__(self) -> str:
        return f"ISSUED({self.role})" if self.issued else f"REFUSED({self.code})"

    def same_as(self, other: Outcome) -> bool:
        return (self.issued, self.role, self.code) == (other.issued, other.role, other.code)


def issued(role: str, rule: str) -> Outcome:
    return Outcome(True, role, None, rule)


def refused(code: str, rule: str) -> Outcome:
    return Outcome(False, None, code, rule)


# --- ID token claims (SPEC G2-G7) -------------------------------------------------------

def token_roles(scenario: Scenario, user: str) -> list[str]:
    """Logical roles in `cognito:roles` (G3): roles of the user's groups that have one."""
    roles: list[str] = []
    for group in scenario.users[user].groups:
        role = scenario.groups[group].role
        if role and role not in roles:
            roles.append(role)
    return roles


def preferred_role(scenario: Scenario, user: str) -> tuple[str | None, str]:
    """`cognito:preferred_role` (G4-G7) and the rule that decides it."""
    candidates = [scenario.groups[g] for g in scenario.users[user].groups]
    candidates = [g for g in candidates if g.role]  # G7: role-less groups take no part
    distinct = {g.role for g in candidates}
    if not distinct:
        return None, "G3"
    if len(distinct) == 1:
        return distinct.pop(), "G6"
    numbered = [g.precedence for g in candidates if g.precedence is not None]
    best = min(numbered) if numbered else None  # G4: a number beats null
    tied = [g for g in candidates if g.precedence == best]
    tied_roles = {g.role for g in tied}
    if len(tied) > 1:
        rule = "G5" if best is not None else "G5 (null = null)"
        return (tied_roles.pop(), rule) if len(tied_roles) == 1 else (None, rule)
    return tied[0].role, "G7" if _hidden_by_roleless(scenario, user, best) else "G4"


def _hidden_by_roleless(scenario: Scenario, user: str, best: int | None) -> bool:
    """Would a role-less group have won on precedence had it counted? (G7 decides then.)"""
    roleless = [scenario.groups[g].precedence for g in scenario.users[user].groups
                if not scenario.groups[g].role and scenario.groups[g].precedence is not None]
    return any(best is None or p <= best for p in roleless if p is not None)


def claims(scenario: Scenario, user: str) -> dict[str, object]:
    """The ID-token claims a rule can look at, as the user pool would issue them."""
    found: dict[str, object] = {"cognito:username": user}
    groups = scenario.users[user].groups
    if groups:
        found["cognito:groups"] = list(groups)
    found.update(scenario.users[user].attributes)
    return found


# --- enhanced flow (SPEC E4-E12) --------------------------------------------------------

def enhanced(scenario: Scenario, variant: str, user: str, custom_role: str | None = None) -> Outcome:
    """GetCredentialsForIdentity for an authenticated user: the mapping of the provider the
    user's login is of, its own user pool's (P2: RoleMappings are keyed per provider)."""
    mapping = scenario.mapping_of(variant, scenario.pool_of(user))
    authenticated = scenario.identity_pool.authenticated_role
    if mapping is None:  # E6
        choice = (issued(authenticated, "E6") if authenticated
                  else refused("InvalidIdentityPoolConfigurationException", "E6"))
    elif mapping.type == "Token":
        choice = _token_mapping(scenario, user, custom_role, mapping.ambiguous)
    else:
        choice = _rules_mapping(scenario, user, mapping.rules, mapping.ambiguous, custom_role)
    return _tagged(scenario, variant, user, _trusted(scenario, choice, "authenticated"))


def _tagged(scenario: Scenario, variant: str, user: str, choice: Outcome) -> Outcome:
    """A3: a session the pool tags needs a role whose trust policy allows sts:TagSession
    (the refusal's code is assumed: pinned by scenarios/tenants.yaml)."""
    if not choice.issued or choice.role is None or scenario.roles[choice.role].trust.tag_session:
        return choice
    session = policy_reading.Session(choice.role, "enhanced", variant, user)
    known, unknown = policy_reading.session_tags(scenario, session)
    if known or unknown:
        return refused("InvalidIdentityPoolConfigurationException", "A3")
    return choice


def _token_mapping(scenario: Scenario, user: str, custom_role: str | None,
                   ambiguous: str) -> Outcome:
    roles = token_roles(scenario, user)
    if custom_role is not None:  # E7a
        return (issued(custom_role, "E7a") if custom_role in roles
                else refused("NotAuthorizedException", "E7a"))
    preferred, _ = preferred_role(scenario, user)
    if preferred:  # E7b
        return issued(preferred, "E7b")
    return _ambiguous(scenario, ambiguous, "E8" if not roles else "E7c")


def _ambiguous(scenario: Scenario, resolution: str, rule: str) -> Outcome:
    if resolution == "Deny":  # E12
        return refused("NotAuthorizedException", rule)
    role = scenario.identity_pool.authenticated_role
    return issued(role, rule) if role else refused("InvalidIdentityPoolConfigurationException", rule)


def rule_matches(rule: Rule, claims_: dict[str, object]) -> bool:
    """One role-mapping rule against the token's claims (E9, E10)."""
    if rule.claim not in claims_:
        return False  # E9: a missing claim never matches, not even NotEqual
    value = claims_[rule.claim]
    values = [str(v) for v in value] if isinstance(value, list) else [str(value)]
    if rule.match == "Equals":
        return rule.value in values
    if rule.match == "NotEqual":
        return rule.value not in values
    if rule.match == "Contains":
        return any(rule.value in v for v in values)
    return any(v.startswith(rule.value) for v in values)


def _rules_mapping(scenario: Scenario, user: str, rules: list[Rule], ambiguous: str,
                   custom_role: str | None = None) -> Outcome:
    user_claims = claims(scenario, user)
    matching = [rule for rule in rules if rule_matches(rule, user_claims)]
    if custom_role is not None:  # E9c: CustomRoleArn overrides the order (docs/semantics.md)
        return (issued(custom_role, "E9c") if any(r.role == custom_role for r in matching)
                else refused("NotAuthorizedException", "E9c"))
    for rule in matching:  # E9: first match wins
        return issued(rule.role, "E10" if isinstance(user_claims.get(rule.claim), list)
                      else "E9")
    return _ambiguous(scenario, ambiguous, "E9")


def guest(scenario: Scenario, variant: str) -> Outcome:
    """GetId + GetCredentialsForIdentity with no Logins (E4, E5)."""
    if not scenario.pool_setting(variant, "allow_unauthenticated"):
        return refused("NotAuthorizedException", "E4")
    role = scenario.identity_pool.unauthenticated_role
    if role is None:
        return refused("InvalidIdentityPoolConfigurationException", "E5")
    return _trusted(scenario, issued(role, "E5"), "unauthenticated")


def _trusted(scenario: Scenario, choice: Outcome, amr: str) -> Outcome:
    """E11: the chosen role must trust the pool, or the pool's configuration is invalid."""
    if choice.issued and choice.role and not trusts(scenario, choice.role, amr):
        return refused("InvalidIdentityPoolConfigurationException", "E11")
    return choice


def trusts(scenario: Scenario, role: str, amr: str) -> bool:
    """Does the role's trust policy admit an identity of this stack's pools (T1, T2)?"""
    return scenario.roles[role].trust.admits(amr)


# --- classic flow (SPEC C1-C6) ----------------------------------------------------------

def classic_gate(scenario: Scenario, variant: str) -> Outcome | None:
    """GetOpenIdToken: None when it succeeds, else the refusal (C1-C3)."""
    allow = scenario.pool_setting(variant, "allow_classic_flow")
    if allow is False:
        return refused("InvalidParameterException", "C1")
    if scenario.mapped(variant):  # any provider's mapping: the pool has RoleMappings
        return refused("InvalidParameterException", "C3")
    return None


def classic_flow_setting(allow: bool | None, mapped: bool) -> str:
    """A pool's classic-flow setting in the words every report uses (matrix.html, the audit):
    one truth for AllowClassicFlow never set, which behaves as enabled (C2), never "off"."""
    said = ("AllowClassicFlow unset: enabled (C2)" if allow is None
            else "AllowClassicFlow true: enabled" if allow
            else "AllowClassicFlow false: disabled (C1)")
    if mapped and allow is not False:
        said += ", but the pool's RoleMappings refuse it (C3)"
    return said


def classic_setting(scenario: Scenario, variant: str) -> str:
    """`classic_flow_setting` of one variant's identity pool."""
    return classic_flow_setting(scenario.pool_setting(variant, "allow_classic_flow"),
                                scenario.mapped(variant))


def classic(scenario: Scenario, variant: str, role: str) -> Outcome:
    """AssumeRoleWithWebIdentity on `role` with an authenticated OIDC token (C5, C6)."""
    gate = classic_gate(scenario, variant)
    if gate is not None:
        return gate
    if not trusts(scenario, role, "authenticated"):
        return refused("AccessDenied", "C6")
    return issued(role, "C5")


# --- identity binding (E14) and the classic flow's lifetimes and bounds (C4, C7, C8) ------

OIDC_TOKEN_SECONDS = 600  # C4: "The OpenID token is valid for 10 minutes." (GetOpenIdToken)
DEFAULT_MAX_SESSION = 3600  # C7: a role's MaxSessionDuration when CreateRole never set one
STS_DURATIONS = (900, 43200)  # C8: DurationSeconds' own range (AssumeRoleWithWebIdentity)


def foreign_login(scenario: Scenario, variant: str, flow: str) -> Outcome:
    """Another user's valid ID token on an identity (E14): refused on both flows; the classic
    flow's gate (C1, C3) answers first, as it does for every GetOpenIdToken."""
    gate = classic_gate(scenario, variant) if flow == "classic" else None
    return gate or refused("NotAuthorizedException", "E14")


def session_duration(scenario: Scenario, variant: str, role: str, seconds: int) -> Outcome:
    """The classic flow asking STS for a session of `seconds`: STS's own range (C8), then
    the role's MaxSessionDuration (C7), then what the classic flow gives anyway (C5, C6)."""
    gate = classic_gate(scenario, variant)
    if gate is not None:
        return gate
    if not STS_DURATIONS[0] <= seconds <= STS_DURATIONS[1]:
        return refused("ValidationError", "C8")
    if seconds > (scenario.roles[role].max_session_duration or DEFAULT_MAX_SESSION):
        return refused("ValidationError", "C7")
    return classic(scenario, variant, role)


# --- access (SPEC D1-D5, E5) ------------------------------------------------------------


def deciding_statements(scenario: Scenario, role: str | None, needs: tuple[str, ...]
                        ) -> list[dict[str, object]]:
    """The statements of a role's scenario policy that speak of these DynamoDB actions.

    The oracle decides from the role's `allowed:` profile, not from its policy; when a
    cell fails, the statements whose Action or NotAction covers the probed action are
    what the reader compares that profile with (a wildcard that grants too much, a
    Deny that was meant to win). Empty when the role is not the scenario's.
    """
    if role not in scenario.roles:
        return []
    statements = scenario.roles[role].policy.get("Statement", [])
    wanted = [f"dynamodb:{need}".lower() for need in needs]
    found = []
    for statement in statements if isinstance(statements, list) else [statements]:
        for key, negated in (("Action", False), ("NotAction", True)):
            patterns = statement.get(key, [])
            patterns = [patterns] if isinstance(patterns, str) else list(patterns)
            if patterns and any(
                    any(fnmatchcase(want, p.lower()) for p in patterns) != negated
                    for want in wanted):
                found.append(statement)
                break
    return found


def permits(profile: Iterable[str], action: str) -> bool:
    """Does a permission profile name `service:Action`? IAM's matching (SPEC D2): the
    service prefix and the action name compare case-insensitively, `*` and `?` are
    wildcards. A bare data-plane action in the profile is `dynamodb:<it>`."""
    wanted = action.lower()
    for entry in profile:
        pattern = (entry if ":" in entry else f"dynamodb:{entry}").lower()
        if fnmatchcase(wanted, pattern):
            return True
    return False


# A call that hands a role to the service also needs iam:PassRole on that role (the
# Service Authorization Reference's "dependent actions"; the Cognito developer guide, IAM
# roles: "you must have iam:PassRole permission"; emulator/iam/implied.py). The
# SetIdentityPoolRoles probe writes the pool's own roles back, so it always passes them.
DEPENDENT_ACTIONS: dict[str, tuple[str, ...]] = {
    "cognito-identity:setidentitypoolroles": ("iam:PassRole",),
}


def needed_actions(action: str) -> tuple[str, ...]:
    """The action and the actions it depends on: a refusal names whichever was denied."""
    return (action, *DEPENDENT_ACTIONS.get(action.lower(), ()))


def control(scenario: Scenario, role: str, action: str,
            guest_session: bool = False) -> tuple[Verdict, str]:
    """Expected verdict of a control-plane or identity-stack call (`dynamodb:DeleteTable`,
    `iam:PutRolePolicy`, `cognito-identity:SetIdentityPoolRoles`...) made with `role`'s
    session on the stack's own resources: ALLOWED exactly when the role's profile names it
    and every action it depends on (D1, as sharpened in docs/semantics.md: every API call
    of issued credentials is authorized). Enhanced-flow guests are scoped down to a list
    with none of these services (E5)."""
    service = action.split(":", 1)[0]
    if guest_session and service not in GUEST_SCOPE_DOWN_SERVICES:
        return "DENIED", "E5"
    allowed = scenario.roles[role].allowed
    assert allowed is not None, f"role {role}: nobody stated what it may do (no control cells)"
    needed = needed_actions(action)
    return ("ALLOWED" if all(permits(allowed, each) for each in needed) else "DENIED"), "D1"


# --- cross-check of stated expectations -------------------------------------------------

def stated_path(scenario: Scenario, stated: ExpectedRole) -> Outcome:
    """What the spec gives on the credential path a stated expectation is about: the
    classic flow asking for `custom_role` (C1-C6), else the enhanced flow (E4-E12)."""
    if stated.flow == "classic":
        assert stated.custom_role is not None  # ExpectedRole refuses a classic one without
        return classic(scenario, stated.variant, stated.custom_role)
    return enhanced(scenario, stated.variant, stated.user, stated.custom_role)


def check(scenario: Scenario) -> None:
    """Fail the scenario when a stated role contradicts the spec (names file, user, rule).

    A stated access profile that its policies contradict is not an error here: the profile
    is what the role SHOULD do, and a policy that grants more (or less) is the hole the
    run must show as red cells. `profile_problems` lists such contradictions; the
    project's tests hold the shipped scenarios to having none."""
    for n, stated in enumerate(scenario.expect):
        expected = stated_path(scenario, stated)
        declared = (issued(stated.role, expected.rule) if stated.role
                    else refused(stated.refused or "", expected.rule))
        if not declared.same_as(expected):
            raise ScenarioError(
                scenario.file, f"expect[{n}] (user {stated.user}, variant {stated.variant}"
                f"{f', classic={stated.custom_role}' if stated.flow == 'classic' else ''})",
                f"states {declared} but SPEC rule {expected.rule} gives {expected}",
                "correct the expectation, or the groups/mapping it depends on; if you believe "
                "the spec is wrong, say so in the spec, not in the scenario",
                line=scenario.line_of("expect", n))


# --- broken and revoked tokens (SPEC E2, E3, G8) ------------------------------------------

BROKEN_TOKEN_RULES = {"tampered": "E2", "resigned": "E2", "other-client": "E2",
                      "other-pool": "E2", "other-provider": "E2", "access-token": "G8",
                      "refresh-token": "G8",
                      "expired": "E2", "alg-none": "E2", "hs256": "E2", "embedded-jwk": "E2",
                      "swapped-provider": "E2"}


def broken_token(case: str) -> Outcome:
    """Every broken login token is refused by GetId / GetCredentialsForIdentity."""
    return refused("NotAuthorizedException", BROKEN_TOKEN_RULES[case])


def revoked_token(scenario: Scenario, variant: str, user: str) -> Outcome:
    """A token issued before sign-out / disable / delete (E3): refused only with the check."""
    if scenario.pool_setting(variant, "server_side_token_check"):
        return refused("NotAuthorizedException", "E3")
    still = enhanced(scenario, variant, user)
    return Outcome(still.issued, still.role, still.code, "E3")
