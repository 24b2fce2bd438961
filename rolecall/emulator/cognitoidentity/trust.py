"""Trust: may the chosen role be assumed by this identity, and tagged? (SPEC E11, T1, T2, A3)

Cognito presents a web-identity request context to the role's trust policy:
the pool id (`aud`), how the identity signed in (`amr`) and the identity id
(`sub`). The enhanced flow checks it here before issuing credentials; STS
checks the same keys for the classic flow (`sts.models`). Session tags (principal
tags, A3) need the trust policy to allow `sts:TagSession` as well, evaluated for the
same principal and context plus the tags requested (`aws:RequestTag/<key>`,
`aws:TagKeys`: https://docs.aws.amazon.com/IAM/latest/UserGuide/id_session-tags.html,
"Permissions required to add session tags").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from rolecall.emulator.cognitoidentity.exceptions import invalid_configuration
from rolecall.emulator.cognitoidentity.logins import VerifiedLogin
from rolecall.emulator.errors import AwsError
from rolecall.emulator.faults import Faults
from rolecall.emulator.iam.policy import trust_allows
from rolecall.emulator.iam.roles import find_role, trust_policy

FEDERATED_PRINCIPAL = "cognito-identity.amazonaws.com"
ASSUME_ACTION = "sts:AssumeRoleWithWebIdentity"
TAG_ACTION = "sts:TagSession"
AUD_KEY = "cognito-identity.amazonaws.com:aud"
AMR_KEY = "cognito-identity.amazonaws.com:amr"
SUB_KEY = "cognito-identity.amazonaws.com:sub"


def trust_context(pool_id: str, identity_id: str,
                  login: VerifiedLogin | None) -> dict[str, list[str]]:
    """The web-identity request context Cognito presents to the role's trust policy (T2)."""
    return {
        AUD_KEY: [pool_id],
        AMR_KEY: login.amr if login is not None else ["unauthenticated"],
        SUB_KEY: [identity_id],
    }


def check_trust(role_arn: str, context: Mapping[str, Sequence[str]], faults: Faults) -> None:
    """E11: the chosen role must exist and its trust policy must admit this identity."""
    role = find_role(role_arn)
    if role is None:
        raise invalid_configuration()
    if faults.on("trust-skipped-enhanced"):
        return
    if not trust_allows(trust_policy(role), action=ASSUME_ACTION, federated=FEDERATED_PRINCIPAL,
                        context=context, faults=faults):
        if faults.on("text-invalid-config-wrong"):
            raise AwsError("InvalidIdentityPoolConfigurationException",
                           "The role's trust policy does not allow this identity.")
        raise invalid_configuration()


def tag_request_context(context: Mapping[str, Sequence[str]],
                        tags: Mapping[str, str]) -> dict[str, list[str]]:
    """The trust policy's context for sts:TagSession: the web identity's keys plus the tags."""
    result = {key: list(values) for key, values in context.items()}
    result.update({f"aws:RequestTag/{key}": [value] for key, value in tags.items()})
    result["aws:TagKeys"] = list(tags)
    return result


def tag_session_allowed(role_arn: str, context: Mapping[str, Sequence[str]],
                        tags: Mapping[str, str], federated: str, faults: Faults) -> bool:
    """May this web identity pass `tags` as session tags to the role? (A3)"""
    role = find_role(role_arn)
    if role is None:
        return False
    return trust_allows(trust_policy(role), action=TAG_ACTION, federated=federated,
                        context=tag_request_context(context, tags), faults=faults)


def check_tag_session(role_arn: str, context: Mapping[str, Sequence[str]],
                      tags: Mapping[str, str], faults: Faults) -> None:
    """A3: tags need sts:TagSession; without it Cognito refuses the credentials with
    InvalidIdentityPoolConfigurationException (field: aws/aws-sdk-js#4112; the code and
    text are assumed to be E11's: pin it)."""
    if not tags or faults.on("tagsession-unchecked"):
        return
    if not tag_session_allowed(role_arn, context, tags, FEDERATED_PRINCIPAL, faults):
        raise invalid_configuration()
