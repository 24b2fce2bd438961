"""What a refusal or a credential must say, where a public source quotes it (issue 13).

A verdict that only compares error codes passes a target that refuses for the
wrong reason (the classic-flow refusal that names RoleMappings on a pool that
has none). These helpers hold the texts and shapes AWS is quoted with, so the
cells can check them:

- QUOTED: the refusal text per SPEC rule (only where a public source quotes it)
- duration_refusal: C7, C8, the whole text refusing a DurationSeconds
- lifetime_problem: E13, enhanced-flow credentials last one hour
- denial_problem: D4, AccessDenied names the session ARN and the resource ARN
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from rolecall.model.oracle import STS_DURATIONS

QUOTED: dict[str, str] = {
    # SPEC E4 (doc + field)
    "E4": "Unauthenticated access is not supported for this identity pool.",
    # SPEC C1 (field: aws-cli #7652, amplify-js #9704)
    "C1": "Basic (classic) flow is not enabled, please use enhanced flow.",
    # SPEC C3 (field: aws-rum-web #172)
    "C3": "Basic (classic) flow is not supported with RoleMappings, please use enhanced flow.",
    # SPEC E11 (seed 002)
    "E11": "Invalid identity pool configuration. Check assigned IAM roles for this pool.",
    # SPEC E14 (field: aws-amplify/amplify-js #4101, the previous user's identity id sent
    # with the next user's token)
    "E14": "Logins don't match. Please include at least one valid login for this identity or "
           "identity pool.",
    # SPEC C7 (field: kreuzwerker/awsu #27, aws-azure-login #93, ruimarinho/gsts #13)
    "C7": "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
}

CREDENTIAL_SECONDS = 3600  # SPEC E13
SESSION_NAME = "CognitoIdentityCredentials"  # SPEC E13
# Cached credentials may be checked a while after issue; a run never takes 30 minutes
# between issuing and checking, so 30 minutes' slack still tells 15 min or 12 h from 1 h.
_SLACK = 1800


def refusal_problem(rule: str, message: str) -> str | None:
    """None when the refusal's text is the quoted one (or none is quoted for `rule`)."""
    quoted = QUOTED.get(rule)
    if quoted is None or quoted in message:
        return None
    return f"refusal text {quoted!r}"


def duration_refusal(rule: str, seconds: int) -> str:
    """AWS's whole text refusing DurationSeconds `seconds` for `rule`: the role's maximum (C7),
    or STS's own range in AWS's model-validation wording (C8; field: goldstack #425 for the
    lower bound, ruimarinho/gsts credentials-manager.test.js for the upper)."""
    if rule != "C8":
        return QUOTED[rule]
    low, high = STS_DURATIONS
    bound = (f"greater than or equal to {low}" if seconds < low
             else f"less than or equal to {high}")
    return (f"1 validation error detected: Value '{seconds}' at 'durationSeconds' failed to "
            f"satisfy constraint: Member must have value {bound}")


def lifetime_problem(credentials: dict[str, Any], now: float | None = None) -> str | None:
    """E13: None when the credentials' Expiration is about one hour after issue."""
    expiration = credentials.get("Expiration")
    if expiration is None:
        return None  # the classic flow's credentials are checked by STS's own rules
    at = expiration.timestamp() if isinstance(expiration, datetime) else float(expiration)
    left = at - (time.time() if now is None else now)
    if CREDENTIAL_SECONDS - _SLACK < left <= CREDENTIAL_SECONDS + 120:
        return None
    return f"Expiration about {CREDENTIAL_SECONDS} s after issue (got {left:.0f} s left)"


def denial_problem(message: str, session_arn: str, tables: list[str],
                   actions: list[str]) -> str | None:
    """D4: "User: <session arn> is not authorized to perform: <action> on resource: <arn> ..."."""
    head = f"User: {session_arn} is not authorized to perform: "
    if not message.startswith(head):
        return f"AccessDeniedException starting {head!r}"
    if not any(f"perform: {action} on resource: arn:aws:dynamodb:" in message
               for action in actions):
        return f"AccessDeniedException naming one of {actions} on a DynamoDB ARN"
    if not any(f":table/{name}" in message for name in tables):
        return f"AccessDeniedException naming the table ARN of {' or '.join(tables)}"
    return None
