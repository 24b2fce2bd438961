"""What a credential path gives, and how a failure is read (SPEC section 7).

Every flow (rolecall/account/flows.py) ends in an `Issued` (credentials, plus the role
they really belong to, asked of STS GetCallerIdentity), a `Refused` (AWS's error code
and text) or an `Errored` (something other than AWS's answer got in the way: never a
refusal). Secrets that arrive in an answer are registered for redaction by value the
moment they arrive (`keep`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from rolecall.account import retry
from rolecall.reporting.redact import register_secret


@dataclass
class Issued:
    role_arn: str  # the role of the session ARN GetCallerIdentity answered
    session_arn: str
    credentials: dict[str, str] = field(repr=False)  # secret: never logged or written
    identity_id: str | None
    request_ids: list[str]
    obtained_at: float = field(default_factory=time.time)  # E13: Expiration is 1 h after this
    # classic flow: the OIDC token's claims (decoded, not the token itself; SPEC C4)
    oidc_claims: dict[str, Any] | None = None


@dataclass
class Refused:
    code: str
    message: str
    request_ids: list[str]


@dataclass
class Errored:
    """Not an answer from AWS (network, local failure): never to be read as a refusal."""

    reason: str
    request_ids: list[str]


Result = Issued | Refused | Errored


class Trail:
    """Collects the AWS request ids of one flow, for the evidence."""

    def __init__(self) -> None:
        self.ids: list[str] = []

    def __call__(self, response: dict[str, Any]) -> dict[str, Any]:
        request_id = response.get("ResponseMetadata", {}).get("RequestId")
        if request_id:
            self.ids.append(request_id)
        return response


# What each secret-bearing answer holds, and the label its redaction shows.
SECRET_FIELDS = {"IdToken": "id-token", "AccessToken": "access-token",
                 "RefreshToken": "refresh-token", "Token": "oidc-token",
                 "AccessKeyId": "access-key-id", "SecretKey": "secret-key",
                 "SecretAccessKey": "secret-key", "SessionToken": "session-token"}


def keep(answer: dict[str, Any]) -> dict[str, Any]:
    """Register every secret of an answer (sign-in, credentials, OIDC token), then return it."""
    for name, label in SECRET_FIELDS.items():
        register_secret(answer.get(name), label)
    return answer


# Not a refusal: AWS did not judge the request (SPEC section 7). A credential path that
# meets one of these is ERROR, never REFUSED(code), and is not cached as its result.
THROTTLING_CODES = frozenset({
    "ThrottlingException", "Throttling", "TooManyRequestsException", "LimitExceededException",
    "RequestLimitExceeded", "ProvisionedThroughputExceededException"})


def failure(exc: Exception, trail: Trail) -> Refused | Errored:
    """AWS's refusal, or an ERROR when what stopped the flow was not AWS's answer to it:
    throttling or a 5xx that outlasted the retry budget is never a REFUSED."""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        request_id = exc.response.get("ResponseMetadata", {}).get("RequestId")
        if request_id:
            trail.ids.append(request_id)
        code = error.get("Code", "Unknown")
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 400)
        if retry.is_transient(exc) or code in THROTTLING_CODES or int(status) >= 500:
            return Errored(f"{code} (HTTP {status}) after retries: not a refusal", trail.ids)
        return Refused(code, error.get("Message", ""), trail.ids)
    return Errored(f"{type(exc).__name__}", trail.ids)


# What a role IAM has not propagated yet looks like (SPEC E11, C6): the same answers
# as a trust policy that refuses, so they are final only after the stack's window.
PROPAGATION_CODES = frozenset({"InvalidIdentityPoolConfigurationException", "AccessDenied"})


def maybe_propagating(result: Result) -> bool:
    return isinstance(result, Refused) and result.code in PROPAGATION_CODES


def until_settled(settled_by: float, attempt: Callable[[], Result]) -> Result:
    """Take a flow again while its refusal may be IAM propagating; the answer after the
    window is the settled one (bounded polling, no fixed sleep: retry.until_settled)."""
    return retry.until_settled(settled_by, attempt, maybe_propagating)
