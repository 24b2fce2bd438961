"""The one evaluator: every policy type of a request within one account (SPEC D1, B1, B2, R1, R2).

AWS's order, from "How AWS enforcement code logic evaluates requests to allow or
deny access" (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic_policy-eval-denyallow.html):

1. An explicit Deny in ANY applicable policy wins: resource-based, identity-based,
   permissions boundary or session policy.
2. Resource-based policy, same account: an Allow that names the caller's role
   SESSION ARN (or the IAM user, or `*`) grants directly: "Permissions granted
   directly to a session are not limited by an implicit deny in an identity-based
   policy, a permissions boundary, or session policy". An Allow that names the ROLE
   ARN "is limited by an implicit deny in a permissions boundary or session policy"
   (but not by one in the identity policies). An Allow that names the account
   delegates to the account's identity policies and grants nothing on its own
   (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html,
   "AWS account principals").
3. Otherwise the identity policies must allow, AND the permissions boundary (when
   the role has one: https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_boundaries.html),
   AND the session policies (when the session has some).

Which policy type a refusal names ("If multiple policy types deny an authorization
request, AWS includes only one of those policy types in the error message",
https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_access-denied.html)
is not documented; rolecall follows the order the enforcement code is described
in (assumed: pin it, docs/semantics.md): explicit denies resource-based, then
identity-based, then permissions boundary, then session; implicit denies the
identity-based policies first, then the boundary, then the session policy; a
role-ARN grant of a resource policy that a boundary or session policy limits
names that limiting type.

Faults that bend the combination are checked here, at the line they bend.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rolecall.emulator.faults import Faults
from rolecall.emulator.iam.conditions import Context, normalise_context
from rolecall.emulator.iam.patterns import as_list
from rolecall.emulator.iam.policy import (
    Decision,
    evaluate,
    statement_applies,
    statements_of,
    variables_enabled,
)

__all__ = ["Grant", "Policies", "Principal", "Verdict", "authorize", "decide", "explain",
           "resource_decision"]

ALLOW, IMPLICIT, EXPLICIT = Decision.ALLOW, Decision.IMPLICIT_DENY, Decision.EXPLICIT_DENY

IDENTITY = "identity-based"
BOUNDARY = "permissions boundary"
SESSION = "session"
RESOURCE = "resource-based"


@dataclass(frozen=True)
class Verdict:
    """A decision plus the policy type AWS names in its AccessDenied text.

    `policy_type` is "identity-based", "permissions boundary", "session" or
    "resource-based" for a denial, None when allowed. `noun` is how the refusal
    text says it: "... no identity-based policy allows ...", "... no permissions
    boundary allows ...", "... with an explicit deny in a resource-based policy".
    """

    decision: Decision
    policy_type: str | None = None

    @property
    def noun(self) -> str:
        kind = self.policy_type or IDENTITY
        return kind if kind == BOUNDARY else f"{kind} policy"


class Grant(enum.IntEnum):
    """What an Allow in a resource-based policy gives the caller, by the principal it names."""

    NONE = 0
    ACCOUNT = 1  # the account: delegates to the identity policies, grants nothing alone
    ROLE = 2  # the role ARN: limited by an implicit deny in a boundary or session policy
    DIRECT = 3  # the session ARN, the IAM user, or "*": no implicit deny limits it


@dataclass(frozen=True)
class Principal:
    """Who makes the request: a role session (`role_arn` set) or an IAM user."""

    arn: str  # arn:aws:sts::<account>:assumed-role/<role>/<session>, or an IAM user's ARN
    account: str
    role_arn: str | None = None


@dataclass(frozen=True)
class Policies:
    """Every policy that decides one request. None / empty: that type does not apply."""

    identity: Sequence[Mapping[str, Any]]
    boundary: Mapping[str, Any] | None = None  # the default version of the role's boundary
    session: Sequence[Mapping[str, Any]] = ()
    resource: Mapping[str, Any] | None = None  # the resource-based policy of the resource


def decide(action: str, resource: str, context: Context, principal: Principal | None,
           policies: Policies, faults: Faults) -> Verdict:
    """Allowed, or denied with the policy type AWS names (see the module docstring)."""
    identity = evaluate(action, resource, context, policies.identity, faults)
    boundary = (evaluate(action, resource, context, [policies.boundary], faults)
                if policies.boundary is not None else None)
    use_session = bool(policies.session) and not faults.on("iam-session-policy-ignored")
    session = evaluate(action, resource, context, policies.session, faults) if use_session \
        else None
    resource_based, grant = (None, Grant.NONE) if policies.resource is None or principal is None \
        else resource_decision(action, resource, context, principal, policies.resource,
                               bounded=policies.boundary is not None, faults=faults)
    for kind, decision in ((RESOURCE, resource_based), (IDENTITY, identity),
                           (BOUNDARY, boundary), (SESSION, session)):
        if decision is EXPLICIT:
            return Verdict(EXPLICIT, kind)
    if boundary is not None and faults.on("boundary-as-union"):
        # fault: the boundary adds to the identity policies instead of capping them
        identity = ALLOW if ALLOW in (identity, boundary) else identity
        boundary = None
    if faults.on("resource-allow-needs-identity"):
        grant = Grant.NONE  # fault: the cross-account rule (identity must allow too) in one account
    limiting = next((kind for kind, decision in ((BOUNDARY, boundary), (SESSION, session))
                     if decision is not None and decision is not ALLOW), None)
    if grant is Grant.ROLE and faults.on("resource-role-arn-as-session"):
        grant = Grant.DIRECT  # fault: a role-ARN grant treated like a session-ARN grant
    if grant is Grant.DIRECT or (grant is Grant.ROLE and limiting is None):
        return Verdict(ALLOW)
    if grant is Grant.ROLE:
        return Verdict(IMPLICIT, limiting)
    if identity is not ALLOW:
        return Verdict(IMPLICIT, IDENTITY)
    if limiting is not None:
        return Verdict(IMPLICIT, limiting)
    return Verdict(ALLOW)


def resource_decision(action: str, resource: str, context: Context, principal: Principal,
                      document: Mapping[str, Any], *, bounded: bool,
                      faults: Faults) -> tuple[Decision, Grant]:
    """A resource-based policy's say on a request: explicit deny, or the strongest grant.

    A statement applies when its Principal (or NotPrincipal) covers the caller and its
    Action, Resource and Condition match; Condition keys see the same request context
    as identity policies (aws:PrincipalArn, aws:PrincipalTag/..., dynamodb:LeadingKeys).
    """
    ctx = normalise_context(context)
    variables = variables_enabled(document, faults)
    grant = Grant.NONE
    for statement in statements_of(document, faults):
        named = _principal_grant(statement, principal, bounded)
        if named is Grant.NONE:
            continue
        if not statement_applies(statement, action, resource, ctx, variables, faults,
                                 faults.on("iam-conditions-ignored")):
            continue
        effect = statement.get("Effect")
        if effect == "Deny":
            if faults.on("resource-deny-ignored"):
                continue  # fault: a resource-based Deny does not win
            return EXPLICIT, Grant.NONE
        if effect == "Allow":
            grant = max(grant, named)
    return (ALLOW if grant is not Grant.NONE else IMPLICIT), grant


def _principal_grant(statement: Mapping[str, Any], principal: Principal, bounded: bool) -> Grant:
    """How the statement's Principal / NotPrincipal names the caller (Grant.NONE: it does not).

    Forms: "*", {"AWS": "*"}, {"AWS": <session ARN | role ARN | account id | account root
    ARN>} or a list of them (reference_policies_elements_principal.html). NotPrincipal
    covers everyone it does not name; with Deny it "will always deny any IAM principal
    that has a permissions boundary policy attached, regardless of the values specified"
    (access_policies_boundaries.html, the Important note).
    """
    if "Principal" in statement:
        return _named(statement["Principal"], principal)
    if "NotPrincipal" in statement:
        if statement.get("Effect") == "Deny" and bounded:
            return Grant.DIRECT
        return Grant.DIRECT if _named(statement["NotPrincipal"], principal) is Grant.NONE \
            else Grant.NONE
    return Grant.NONE


def _named(value: Any, principal: Principal) -> Grant:
    if value == "*":
        return Grant.DIRECT
    if not isinstance(value, Mapping):
        return Grant.NONE
    best = Grant.NONE
    for name in as_list(value.get("AWS")):
        best = max(best, _grant_for(str(name), principal))
    return best


def _grant_for(name: str, principal: Principal) -> Grant:
    if name in ("*", principal.arn):
        return Grant.DIRECT
    if principal.role_arn is not None and name == principal.role_arn:
        return Grant.ROLE
    if name in (principal.account, f"arn:aws:iam::{principal.account}:root"):
        return Grant.ACCOUNT
    return Grant.NONE


# --------------------------------------------------------------------------- identity + session


def explain(action: str, resource: str, context: Context,
            identity_policies: Sequence[Mapping[str, Any]],
            session_policies: Sequence[Mapping[str, Any]], faults: Faults) -> Verdict:
    """SPEC D1 for a caller with identity and session policies only (no boundary, no
    resource policy): the decision and the policy type its refusal names."""
    return decide(action, resource, context, None,
                  Policies(identity_policies, session=session_policies), faults)


def authorize(action: str, resource: str, context: Context,
              identity_policies: Sequence[Mapping[str, Any]],
              session_policies: Sequence[Mapping[str, Any]], faults: Faults) -> Decision:
    """`explain`'s decision alone. An empty `session_policies` means "no session policy",
    not "a session policy that allows nothing"."""
    return explain(action, resource, context, identity_policies, session_policies,
                   faults).decision
