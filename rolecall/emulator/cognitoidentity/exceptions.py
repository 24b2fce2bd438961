"""cognito-identity's errors: the codes it answers with and the texts AWS uses.

Every refusal of the identity-pool service (SPEC E2-E4, E7, E11, E12, E14, P2,
C1, C3) is built here, so the wording AWS returns can be checked in one place.
Texts marked "field" were seen in public issue threads; "assumed" ones were not
found anywhere and only need to name the problem.
"""

from __future__ import annotations

from rolecall.emulator.errors import AwsError

# field: aws-sdk-android#52, amplify-js#8644
UNAUTH_NOT_SUPPORTED = "Unauthenticated access is not supported for this identity pool."
# field: amplify-js#2067, amazon-cognito-identity-js#153 (wrong user pool or app client)
NOT_A_SUPPORTED_PROVIDER = "Token is not from a supported provider of this identity pool."
# field: amazon-cognito-identity-js#40 and #407
ISSUER_MISMATCH = "Invalid login token. Issuer doesn't match providerName"
# field: amazon-cognito-identity-js#91
BAD_SIGNATURE = "Invalid login token. Couldn't verify signed token."
# field: amazon-cognito-identity-js#12 (an access token in Logins: it has no aud)
MISSING_CLAIM = "Invalid login token. Missing a required claim: {claim}"
# field: aws-sdk-ios#2570, qqaatw/JciHitachiHA#33 ("Token expired: <now> >= <exp>")
TOKEN_EXPIRED = "Invalid login token. Token expired: {now} >= {exp}"
# field: Stack Overflow 64947302 via jonsaw/amazon-cognito-identity-dart#85
NOT_AN_ID_TOKEN = "Invalid login token. Not a valid OpenId Connect identity token."
# field: amazon-cognito-identity-js#68 (no login on an authenticated identity);
# aws-amplify/amplify-js#4101 (E14: the previous user's identity id with the next user's token)
LOGINS_DONT_MATCH = (
    "Logins don't match. Please include at least one valid login for this identity or "
    "identity pool."
)
# field: aws-sdk-android#52, aws-sdk-ios#165 (a login already linked to another identity)
IDENTITY_FORBIDDEN = "Access to Identity '{identity_id}' is forbidden."
# field: amplify-js#3621 ("The ambiguous role mapping rules for: accounts.google.com denied ...")
AMBIGUOUS_DENIED = "The ambiguous role mapping rules for: {provider} denied this request."
# doc + seed 002
INVALID_POOL_CONFIGURATION = (
    "Invalid identity pool configuration. Check assigned IAM roles for this pool."
)
# field: aws-cdk#7670 and #22951 (P2)
NOT_A_CONFIGURED_PROVIDER = (
    "{key} is not a valid RoleMapping ProviderName or is not a configured provider."
)
# field: aws-cli#7652, amplify-js#9704 (C1); aws-rum-web#172 (C3)
CLASSIC_DISABLED = "Basic (classic) flow is not enabled, please use enhanced flow."
CLASSIC_WITH_MAPPINGS = (
    "Basic (classic) flow is not supported with RoleMappings, please use enhanced flow."
)
# assumed (ServerSideTokenCheck refusals, E3; no public report quotes them)
TOKEN_REVOKED = "Invalid login token. Token has been revoked."
USER_DISABLED = "Invalid login token. User is disabled."
USER_DELETED = "Invalid login token. User does not exist."
# assumed (E7a): AWS documents the refusal, not its text
CUSTOM_ROLE_DENIED = "The CustomRoleArn is not one of the roles in the token's cognito:roles claim."


def not_authorized(message: str) -> AwsError:
    return AwsError("NotAuthorizedException", message)


def invalid_parameter(message: str) -> AwsError:
    return AwsError("InvalidParameterException", message)


def not_found(message: str) -> AwsError:
    return AwsError("ResourceNotFoundException", message)


def invalid_configuration() -> AwsError:
    return AwsError("InvalidIdentityPoolConfigurationException", INVALID_POOL_CONFIGURATION)


def unknown_operation(operation: str) -> AwsError:
    return AwsError("UnknownOperationException",
                    f"Unknown operation {operation!r} for cognito-identity")
