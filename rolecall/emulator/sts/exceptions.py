"""STS's errors: the codes AssumeRoleWithWebIdentity and GetCallerIdentity answer with (SPEC C6).

The codes are documented in the STS API reference; the texts cite where they
were seen, or say they are assumed.
"""

from __future__ import annotations

from rolecall.emulator.errors import AwsError
from rolecall.emulator.sigv4 import INVALID_TOKEN

# doc (SPEC C6): the AccessDenied text for a refused trust policy
NOT_AUTHORIZED = "Not authorized to perform sts:AssumeRoleWithWebIdentity"
# field: aws/aws-sdk-java-v2#5709, awslabs/aws-orbit-workbench#707 and #771
# ("Token expired: current date/time 1731098245 must be before the expiration
# date/time 1731095240")
TOKEN_EXPIRED = (
    "Token expired: current date/time {now} must be before the expiration date/time {exp}"
)
# assumed: wording for the other token refusals (the error codes are documented)
NOT_A_JWT = "The ID Token provided is not a valid JWT."
BAD_SIGNATURE = "The web identity token signature could not be verified."
UNKNOWN_ISSUER = "The web identity token was not issued by a trusted identity provider."
NO_EXPIRATION = "The web identity token has no expiration (exp)."
# C7, doc: AssumeRoleWithWebIdentity reference ("If you specify a value higher than this
# setting, the operation fails"); text field: kreuzwerker/awsu#27, aws-azure-login#93
DURATION_TOO_LONG = (
    "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
)


def access_denied() -> AwsError:
    return AwsError("AccessDenied", NOT_AUTHORIZED, 403)


def tag_session_denied() -> AwsError:
    """A token passing session tags to a role whose trust policy does not allow
    sts:TagSession (assumed text, by analogy with NOT_AUTHORIZED: pin it)."""
    return AwsError("AccessDenied", "Not authorized to perform sts:TagSession", 403)


def validation_error(message: str) -> AwsError:
    return AwsError("ValidationError", message)


def invalid_identity_token(message: str) -> AwsError:
    return AwsError("InvalidIdentityToken", message)


def expired_token(now: float, expires: float) -> AwsError:
    return AwsError("ExpiredTokenException", TOKEN_EXPIRED.format(now=int(now), exp=int(expires)))


def malformed_policy(message: str) -> AwsError:
    return AwsError("MalformedPolicyDocument", message)


def invalid_client_token_id() -> AwsError:
    """A temporary key this endpoint never issued (or no longer knows)."""
    return AwsError("InvalidClientTokenId", INVALID_TOKEN, 403)


def invalid_action(operation: str) -> AwsError:
    return AwsError("InvalidAction", f"Could not find operation {operation} for STS")
