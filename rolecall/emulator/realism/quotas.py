"""AWS's default request-rate quotas per operation, for the throttling model.

Every number is a per-account, per-Region default. Sources (read 2026-11-25):

- Cognito user pools and identity pools: "Quotas in Amazon Cognito",
  https://docs.aws.amazon.com/cognito/latest/developerguide/quotas.html
  (user pool operations are grouped in categories, each with one RPS quota;
  identity pool operations have their own, e.g. GetId 25 RPS).
- STS: "IAM and AWS STS quotas",
  https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html
  (600 requests per second per account per Region for STS).
- DynamoDB: "Best practices for managing the control plane in DynamoDB",
  https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/bp-control-plane.html
  (control-plane throttle of 2,500 requests per second); "Service quotas",
  https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html
  (50 concurrent CreateTable/UpdateTable/DeleteTable operations: LimitExceededException).
- IAM publishes no per-operation rate. The numbers below are ASSUMED from field
  reports of IAM control-plane throttling (writes throttle well before reads);
  they are marked `assumed` so nobody mistakes them for documentation.

A category's quota is shared by its operations (one bucket per category).
Operations not listed are not throttled: the emulator only models what the
suite's traffic can hit.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Quota:
    bucket: str  # operations in the same bucket share its rate
    rps: float
    source: str  # "doc" or "assumed"


def _category(bucket: str, rps: float, operations: str, source: str = "doc") -> dict[str, Quota]:
    return {operation: Quota(bucket, rps, source) for operation in operations.split()}


COGNITO_IDP: dict[str, Quota] = {
    **_category("UserAuthentication", 120, "InitiateAuth RespondToAuthChallenge AdminInitiateAuth "
                "AdminRespondToAuthChallenge"),
    **_category("UserCreation", 50, "AdminCreateUser SignUp ConfirmSignUp AdminConfirmSignUp"),
    **_category("UserRead", 120, "AdminGetUser GetUser ListUsers"),
    **_category("UserUpdate", 25, "AdminUpdateUserAttributes UpdateUserAttributes "
                "AdminDeleteUserAttributes DeleteUserAttributes AdminSetUserPassword "
                "AdminDisableUser AdminEnableUser AdminDeleteUser AdminUserGlobalSignOut "
                "GlobalSignOut AdminAddUserToGroup AdminRemoveUserFromGroup"),
    **_category("UserPoolRead", 15, "DescribeUserPool ListUserPools ListGroups GetGroup "
                "DescribeUserPoolClient ListUserPoolClients"),
    **_category("UserPoolCreate", 5, "CreateUserPool CreateUserPoolClient CreateGroup"),
    **_category("UserPoolUpdate", 5, "DeleteUserPool UpdateUserPool DeleteGroup UpdateGroup "
                "DeleteUserPoolClient UpdateUserPoolClient"),
}

COGNITO_IDENTITY: dict[str, Quota] = {
    **_category("GetId", 25, "GetId"),
    **_category("GetCredentialsForIdentity", 200, "GetCredentialsForIdentity"),
    **_category("GetOpenIdToken", 200, "GetOpenIdToken"),
    **_category("CreateIdentityPool", 5, "CreateIdentityPool"),
    **_category("DeleteIdentityPool", 5, "DeleteIdentityPool"),
    **_category("DescribeIdentityPool", 25, "DescribeIdentityPool ListIdentityPools"),
    **_category("SetIdentityPoolRoles", 25, "SetIdentityPoolRoles GetIdentityPoolRoles"),
}

STS: dict[str, Quota] = _category("STS", 600, "AssumeRoleWithWebIdentity AssumeRole "
                                  "GetCallerIdentity")

IAM: dict[str, Quota] = {
    **_category("IamWrite", 15, "CreateRole PutRolePolicy DeleteRole DeleteRolePolicy "
                "AttachRolePolicy DetachRolePolicy UpdateAssumeRolePolicy TagRole", "assumed"),
    **_category("IamRead", 50, "GetRole ListRoles ListRolePolicies ListAttachedRolePolicies "
                "ListRoleTags GetRolePolicy", "assumed"),
}

DYNAMODB: dict[str, Quota] = _category(
    "DynamoDBControlPlane", 2500, "CreateTable DeleteTable DescribeTable ListTables UpdateTable "
    "TagResource ListTagsOfResource")

QUOTAS: dict[str, dict[str, Quota]] = {
    "cognito-idp": COGNITO_IDP, "cognito-identity": COGNITO_IDENTITY, "sts": STS, "iam": IAM,
    "dynamodb": DYNAMODB,
}

# How each service says "slow down" (its own code, status and words).
THROTTLE_ERRORS: dict[str, tuple[str, int, str]] = {
    "cognito-idp": ("TooManyRequestsException", 400, "Too many requests"),
    "cognito-identity": ("TooManyRequestsException", 400, "Rate exceeded"),
    "iam": ("Throttling", 400, "Rate exceeded"),
    "sts": ("Throttling", 400, "Rate exceeded"),
    "dynamodb": ("ThrottlingException", 400, "Rate of requests exceeds the allowed throughput."),
}

# Concurrent table operations (CREATING + DELETING) per account: a quota, not a throttle.
MAX_TABLE_OPERATIONS = 50


def quota_for(service: str, operation: str) -> Quota | None:
    return QUOTAS.get(service, {}).get(operation)
