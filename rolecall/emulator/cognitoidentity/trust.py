"""Trust: may the chosen role be assumed by this identity? (SPEC E11, T1, T2)

Cognito presents a web-identity request context to the role's trust policy:
the pool id (`aud`), how the identity signed in (`amr`) and the identity id
(`sub`). The enhanced flow checks it here before issuing credentials; STS
checks the same keys for the classic flow (`sts.models`).
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
