"""STS for web identities: AssumeRoleWithWebIdentity (C5-C8) and GetCallerIdentity (E13).

The basic (classic) flow ends here: the caller presents the OIDC token that
GetOpenIdToken minted and names ANY role. STS checks the token and the role's
trust policy, nothing else: role mappings and groups play no part (C5), which
is exactly the escalation path the suite must expose.

Tokens are trusted only from the emulator's own issuer
(https://cognito-identity.amazonaws.com, key in cognitoidentity.oidc). A token's
`https://aws.amazon.com/tags` claim passes session tags, as STS documents for
AssumeRoleWithWebIdentity (id_session-tags.html), and needs `sts:TagSession` in the
trust policy; Cognito's own tokens carry none (SPEC A2, assumed: pin it).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jwt

from rolecall.emulator.cognitoidentity.mapping import UNAUTH_SESSION_POLICY
from rolecall.emulator.cognitoidentity.oidc import OIDC_ISSUER, TAGS_CLAIM, oidc_public_key
from rolecall.emulator.cognitoidentity.principal_tags import tag_context
from rolecall.emulator.cognitoidentity.trust import (
    AMR_KEY,
    ASSUME_ACTION,
    AUD_KEY,
    SUB_KEY,
    tag_session_allowed,
)
from rolecall.emulator.faults import Faults
from rolecall.emulator.iam.policy import trust_allows
from rolecall.emulator.iam.roles import find_role, trust_policy
from rolecall.emulator.state import ACCOUNT_ID, EmulatorState, Session
from rolecall.emulator.sts.exceptions import (
    BAD_SIGNATURE,
    DURATION_TOO_LONG,
    NO_EXPIRATION,
    NOT_A_JWT,
    UNKNOWN_ISSUER,
    access_denied,
    expired_token,
    invalid_identity_token,
    malformed_policy,
    tag_session_denied,
    validation_error,
)

DEFAULT_DURATION = 3600
MIN_DURATION = 900
MAX_DURATION = 43200


@dataclass(frozen=True)
class WebIdentity:
    """The verified claims of an OIDC token."""

    issuer: str
    audience: str
    subject: str
    amr: list[str]
    tags: dict[str, str]

    @property
    def provider(self) -> str:
        """The issuer without its scheme: the `Federated` principal it matches (T1)."""
        return self.issuer.removeprefix("https://")

    def context(self) -> dict[str, list[str]]:
        """The request context the trust policy sees (T2)."""
        return {AUD_KEY: [self.audience], AMR_KEY: list(self.amr), SUB_KEY: [self.subject]}


def verify_web_identity_token(token: str, now: float) -> WebIdentity:
    """C6: issuer, signature (the emulator's issuer key) and expiry, per the emulator clock."""
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise invalid_identity_token(NOT_A_JWT) from None
    if claims.get("iss") != OIDC_ISSUER:
        raise invalid_identity_token(UNKNOWN_ISSUER)
    try:
        jwt.decode(token, oidc_public_key(), algorithms=["RS256"],
                   options={"verify_exp": False, "verify_aud": False, "verify_iat": False,
                            "verify_nbf": False})
    except jwt.PyJWTError:
        raise invalid_identity_token(BAD_SIGNATURE) from None
    _check_expiry(claims, now)
    return WebIdentity(OIDC_ISSUER, _text(claims.get("aud")), _text(claims.get("sub")),
                       _amr(claims.get("amr")), _session_tags(claims.get(TAGS_CLAIM)))


def _session_tags(claim: Any) -> dict[str, str]:
    """`{"principal_tags": {"key": ["value"]}}`: each tag's one value (id_session-tags.html)."""
    tags = claim.get("principal_tags") if isinstance(claim, Mapping) else None
    if not isinstance(tags, Mapping):
        return {}
    return {str(key): str(values[0] if isinstance(values, list) and values else values)
            for key, values in tags.items()}


def _check_expiry(claims: Mapping[str, Any], now: float) -> None:
    expires = claims.get("exp")
    if not isinstance(expires, int | float) or isinstance(expires, bool):
        raise invalid_identity_token(NO_EXPIRATION)
    if now >= expires:
        raise expired_token(now, expires)


def _text(value: Any) -> str:
    if isinstance(value, list):
        return str(value[0]) if value else ""
    return "" if value is None else str(value)


def _amr(value: Any) -> list[str]:
    if isinstance(value, list):
        return [str(item) for item in value]
    return [] if value is None else [str(value)]


def session_policy(text: str | None) -> list[dict[str, Any]]:
    """The optional `Policy` parameter: one JSON policy document that narrows the session (D1)."""
    if text is None:
        return []
    try:
        document = json.loads(text)
    except ValueError:
        raise malformed_policy("The policy is not valid JSON.") from None
    if not isinstance(document, dict) or "Statement" not in document:
        raise malformed_policy("The policy must be a JSON object with a Statement.")
    return [document]


def assume_role_with_web_identity(
    state: EmulatorState,
    role_arn: str,
    session_name: str,
    token: str,
    policy: str | None,
    duration: int | None,
) -> tuple[Session, WebIdentity, str]:
    """C5: any role whose trust policy admits the token; returns (session, identity, role id)."""
    policies = session_policy(policy)
    identity = verify_web_identity_token(token, state.clock.now())
    role = find_role(role_arn)
    if role is None:
        raise access_denied()
    seconds = duration if duration is not None else DEFAULT_DURATION
    _check_role_maximum(seconds, role, state.faults)
    context = identity.context()
    if not trust_allows(trust_policy(role), action=ASSUME_ACTION, federated=identity.provider,
                        context=context, faults=state.faults) \
            and not state.faults.on("sts-trust-unchecked"):
        raise access_denied()
    if identity.tags and not tag_session_allowed(role.arn, context, identity.tags,
                                                 identity.provider, state.faults):
        raise tag_session_denied()
    if state.faults.on("classic-scoped-down"):
        policies = [*policies, UNAUTH_SESSION_POLICY]
    session = state.issue_session(role.arn, session_name, seconds, session_policies=policies,
                                  context={**context, **tag_context(identity.tags)})
    return session, identity, str(role.id)


def _check_role_maximum(seconds: int, role: Any, faults: Faults) -> None:
    """C7: DurationSeconds may not exceed the role's MaxSessionDuration (CreateRole's
    default 3600 when never set): ValidationError "The requested DurationSeconds exceeds
    the MaxSessionDuration set for this role." (field: kreuzwerker/awsu #27,
    aws-azure-login #93). STS's own range (900..43200, C8) was checked on the wire first.
    """
    maximum = DEFAULT_DURATION if faults.on("sts-duration-default-max") \
        else int(getattr(role, "max_session_duration", None) or DEFAULT_DURATION)
    if seconds > maximum and not faults.on("sts-duration-role-max-unchecked"):
        raise validation_error(DURATION_TOO_LONG)


@dataclass(frozen=True)
class CallerIdentity:
    user_id: str
    account: str
    arn: str


def get_caller_identity(state: EmulatorState, session: Session) -> CallerIdentity:
    """E13: who an issued session is. The ARN is the assumed-role session ARN."""
    role = find_role(session.role_arn)
    role_id = str(role.id) if role is not None else session.role_name
    arn = session.role_arn if state.faults.on("caller-identity-wrong-arn") \
        else session.assumed_role_arn
    account = session.role_arn.split(":")[4] or ACCOUNT_ID
    return CallerIdentity(f"{role_id}:{session.session_name}", account, arn)

