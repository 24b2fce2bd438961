"""Identity pools: their configuration, their identities, and the rules that pick a role.

This is rolecall's own cognito-identity service (moto's is a stub that accepts
any token and hands out fixed credentials). It reads like a moto backend: one
`CognitoIdentityBackend` per region holds the pools and identities, and each
public method is one API operation. `responses.py` turns the wire into the
typed arguments these methods take.

The rules, by SPEC id:

- P1-P3  pool configuration and role-mapping validation (`set_identity_pool_roles`)
- E1-E4  GetId: one identity per (pool, login subject); checked login tokens
- E5-E13 GetCredentialsForIdentity: role choice, trust check, session
- C1-C4  GetOpenIdToken: the classic-flow gates and the OIDC token

Like moto's backends, the state is process-global (a faulty emulator started
next to the faithful one sees the same pools), and every fault is checked at
the exact line it bends.
"""

from __future__ import annotations

import hashlib
import re
import threading
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from moto.utilities.utils import load_resource

from rolecall.emulator.cognitoidp.patch import find_user_pool, is_revoked
from rolecall.emulator.errors import AwsError
from rolecall.emulator.faults import Faults
from rolecall.emulator.iam.policy import trust_allows
from rolecall.emulator.iam.roles import find_role, trust_policy
from rolecall.emulator.state import ACCOUNT_ID, EmulatorState

FEDERATED_PRINCIPAL = "cognito-identity.amazonaws.com"
OIDC_ISSUER = "https://cognito-identity.amazonaws.com"
OIDC_TOKEN_SECONDS = 600  # C4: GetOpenIdToken tokens are valid 10 minutes
CREDENTIALS_SECONDS = 3600  # E13
SESSION_NAME = "CognitoIdentityCredentials"  # E13: the session name in the assumed-role ARN
ASSUME_ACTION = "sts:AssumeRoleWithWebIdentity"
AUD_KEY = "cognito-identity.amazonaws.com:aud"
AMR_KEY = "cognito-identity.amazonaws.com:amr"
SUB_KEY = "cognito-identity.amazonaws.com:sub"
MAX_RULES = 25  # P3: the developer guide allows 25 rules per mapping (the API model says 400)

_USER_POOL_PROVIDER = re.compile(r"^cognito-idp\.([a-z0-9-]+)\.amazonaws\.com/([\w-]+)$")

# The AWS-managed scope-down policy for guests of the enhanced flow (SPEC E5), version v3
# (edited 2024-11-01; moto bundles a copy too: rolecall.emulator.iam.roles.aws_managed_policy),
# as published at
# https://docs.aws.amazon.com/aws-managed-policy/latest/reference/AmazonCognitoUnAuthedIdentitiesSessionPolicy.html
# The published list does NOT contain DynamoDB, so guests of the enhanced flow cannot call
# DynamoDB whatever their role allows. SPEC E5 had assumed the opposite; docs/semantics.md
# records the correction with this source.
UNAUTH_SESSION_POLICY: dict[str, Any] = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "CognitoUnAuthedIdentitiesSessionPolicy",
            "Effect": "Allow",
            "Action": [
                "rum:PutRumEvents",
                "sagemaker:InvokeEndpoint",
                "polly:*",
                "comprehend:*",
                "translate:*",
                "transcribe:*",
                "rekognition:*",
                "mobiletargeting:*",
                "firehose:*",
                "personalize:*",
                "geo:GetMap*",
                "geo:ListMaps",  # in moto 5.2.5's bundled copy (a later version), not in v3
                "geo:SearchPlaceIndex*",
                "geo:GetPlace",
                "geo:CalculateRoute*",
                "geo:*Geofence",
                "geo:*Geofences",
                "geo:*DevicePosition*",
                "kms:Encrypt",
                "kms:Decrypt",
                "kms:ReEncryptTo",
                "kms:ReEncryptFrom",
                "kms:GenerateDataKey",
                "kms:GenerateDataKeyPair",
                "kms:GenerateDataKeyPairWithoutPlaintext",
                "kms:GenerateDataKeyWithoutPlaintext",
            ],
            "Resource": "*",
        }
    ],
}

# ---------------------------------------------------------------------------
# Errors. Texts marked "field" were seen in public issue threads; "assumed" ones
# were not found anywhere and only need to name the problem.
# ---------------------------------------------------------------------------

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
# field: amazon-cognito-identity-js#68
LOGINS_DONT_MATCH = (
    "Logins don't match. Please include at least one valid login for this identity or "
    "identity pool."
)
# field: aws-sdk-android#52
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


# ---------------------------------------------------------------------------
# Configuration
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CognitoProvider:
    """A user pool app client that may sign in to the pool (P1)."""

    provider_name: str
    client_id: str | None = None
    server_side_token_check: bool = False

    @property
    def mapping_key(self) -> str:
        """The RoleMappings key for this provider: `<ProviderName>:<ClientId>` (P2)."""
        return f"{self.provider_name}:{self.client_id}"

    def to_json(self) -> dict[str, Any]:
        result: dict[str, Any] = {"ProviderName": self.provider_name}
        if self.client_id is not None:
            result["ClientId"] = self.client_id
        result["ServerSideTokenCheck"] = self.server_side_token_check
        return result


@dataclass(frozen=True)
class PoolSettings:
    """Everything Create/UpdateIdentityPool set. None means "not given" and stays absent."""

    name: str
    allow_unauthenticated: bool
    allow_classic_flow: bool | None = None
    supported_login_providers: dict[str, str] | None = None
    developer_provider_name: str | None = None
    open_id_connect_provider_arns: list[str] | None = None
    cognito_identity_providers: list[CognitoProvider] | None = None
    saml_provider_arns: list[str] | None = None

    def to_json(self) -> dict[str, Any]:
        result: dict[str, Any] = {
            "IdentityPoolName": self.name,
            "AllowUnauthenticatedIdentities": self.allow_unauthenticated,
        }
        if self.allow_classic_flow is not None:  # C2: unset must stay unset
            result["AllowClassicFlow"] = self.allow_classic_flow
        if self.supported_login_providers is not None:
            result["SupportedLoginProviders"] = dict(self.supported_login_providers)
        if self.developer_provider_name is not None:
            result["DeveloperProviderName"] = self.developer_provider_name
        if self.open_id_connect_provider_arns is not None:
            result["OpenIdConnectProviderARNs"] = list(self.open_id_connect_provider_arns)
        if self.cognito_identity_providers is not None:
            result["CognitoIdentityProviders"] = [
                provider.to_json() for provider in self.cognito_identity_providers
            ]
        if self.saml_provider_arns is not None:
            result["SamlProviderARNs"] = list(self.saml_provider_arns)
        return result

    @property
    def providers(self) -> list[CognitoProvider]:
        return list(self.cognito_identity_providers or [])


@dataclass(frozen=True)
class MappingRule:
    """One rule of a Rules mapping (P3, E9)."""

    claim: str
    match_type: str
    value: str
    role_arn: str

    def to_json(self) -> dict[str, str]:
        return {"Claim": self.claim, "MatchType": self.match_type, "Value": self.value,
                "RoleARN": self.role_arn}


@dataclass(frozen=True)
class RoleMapping:
    """How one provider's users get a role (P3)."""

    type: str
    ambiguous_role_resolution: str | None = None
    rules: list[MappingRule] | None = None

    def to_json(self) -> dict[str, Any]:
        result: dict[str, Any] = {"Type": self.type}
        if self.ambiguous_role_resolution is not None:
            result["AmbiguousRoleResolution"] = self.ambiguous_role_resolution
        if self.rules is not None:
            result["RulesConfiguration"] = {"Rules": [rule.to_json() for rule in self.rules]}
        return result


@dataclass
class IdentityPool:
    identity_pool_id: str
    region: str
    settings: PoolSettings
    tags: dict[str, str] = field(default_factory=dict)
    roles: dict[str, str] = field(default_factory=dict)
    role_mappings: dict[str, RoleMapping] = field(default_factory=dict)

    @property
    def arn(self) -> str:
        return (f"arn:aws:cognito-identity:{self.region}:{ACCOUNT_ID}:identitypool/"
                f"{self.identity_pool_id}")

    def to_json(self) -> dict[str, Any]:
        result = {"IdentityPoolId": self.identity_pool_id, **self.settings.to_json()}
        if self.tags:
            result["IdentityPoolTags"] = dict(self.tags)
        return result

    def providers_named(self, provider_name: str) -> list[CognitoProvider]:
        return [p for p in self.settings.providers if p.provider_name == provider_name]

    def mapping_keys(self) -> set[str]:
        """The RoleMappings keys this pool accepts: its user pool clients and other providers."""
        keys = {provider.mapping_key for provider in self.settings.providers}
        keys.update(self.settings.supported_login_providers or {})
        for arn in self.settings.open_id_connect_provider_arns or []:
            keys.add(arn.rsplit("oidc-provider/", 1)[-1])
        return keys


@dataclass
class Identity:
    identity_id: str
    identity_pool_id: str
    created: float
    last_modified: float
    # Logins key (provider name) -> the login's subject, e.g. the user pool `sub`
    logins: dict[str, str] = field(default_factory=dict)

    @property
    def authenticated(self) -> bool:
        return bool(self.logins)

    def to_json(self) -> dict[str, Any]:
        return {
            "IdentityId": self.identity_id,
            "Logins": list(self.logins),
            "CreationDate": self.created,
            "LastModifiedDate": self.last_modified,
        }


@dataclass(frozen=True)
class VerifiedLogin:
    """A Logins entry whose token passed every check (E2, E3, G8)."""

    provider_name: str
    client_id: str
    subject: str
    claims: Mapping[str, Any]

    @property
    def amr(self) -> list[str]:
        """The `amr` Cognito reports for this login (C4, T2)."""
        return [
            "authenticated",
            self.provider_name,
            f"{self.provider_name}:CognitoSignIn:{self.subject}",
        ]


# ---------------------------------------------------------------------------
# Login tokens (E2, E3, G8)
# ---------------------------------------------------------------------------


@cache
def _user_pool_public_key() -> Any:
    """The key moto signs every user pool token with (it publishes it as each pool's JWKS)."""
    jwks = load_resource("cognitoidp/resources/jwks-public.json")
    return jwt.PyJWK(jwks["keys"][0], algorithm="RS256").key


def verify_login(pool: IdentityPool, provider_name: str, token: str,
                 state: EmulatorState) -> VerifiedLogin:
    """Check one Logins entry the way Cognito does; NotAuthorizedException when it fails."""
    faults = state.faults
    claims = _unverified_claims(token)
    if not faults.on("token-signature-unchecked"):
        _check_signature(token)
    issuer_pool = str(claims.get("iss", "")).rsplit("/", 1)[-1]
    _check_expiry(claims, state.clock.now(scope=issuer_pool), faults)
    candidates = _providers_for(pool, provider_name, claims, faults)
    audience = _audience(claims, faults)
    provider = _provider_for_audience(candidates, audience, faults)
    if provider is not None and provider.server_side_token_check \
            and not faults.on("token-signout-accepted"):
        _check_server_side(provider.provider_name, claims)
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        raise not_authorized(MISSING_CLAIM.format(claim="sub"))
    client_id = provider.client_id if provider is not None and provider.client_id else audience
    return VerifiedLogin(provider_name, client_id, subject, claims)


def _unverified_claims(token: str) -> dict[str, Any]:
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise not_authorized(NOT_AN_ID_TOKEN) from None
    return claims


def _check_signature(token: str) -> None:
    try:
        jwt.decode(token, _user_pool_public_key(), algorithms=["RS256"],
                   options={"verify_exp": False, "verify_aud": False, "verify_iss": False,
                            "verify_iat": False, "verify_nbf": False})
    except jwt.PyJWTError:
        raise not_authorized(BAD_SIGNATURE) from None


def _check_expiry(claims: Mapping[str, Any], now: float, faults: Faults) -> None:
    expires = claims.get("exp")
    if not isinstance(expires, int | float) or isinstance(expires, bool):
        raise not_authorized(MISSING_CLAIM.format(claim="exp"))
    if now >= expires and not faults.on("token-expired-accepted"):
        raise not_authorized(TOKEN_EXPIRED.format(now=int(now), exp=int(expires)))


def _providers_for(pool: IdentityPool, provider_name: str, claims: Mapping[str, Any],
                   faults: Faults) -> list[CognitoProvider]:
    """The pool's app clients for this Logins key; the key must be the token's issuer."""
    wrong_issuer_ok = faults.on("token-wrong-issuer-accepted")
    candidates = pool.providers_named(provider_name)
    if not candidates and not wrong_issuer_ok:
        raise not_authorized(NOT_A_SUPPORTED_PROVIDER)
    if claims.get("iss") != f"https://{provider_name}" and not wrong_issuer_ok:
        raise not_authorized(ISSUER_MISMATCH)
    return candidates


def _audience(claims: Mapping[str, Any], faults: Faults) -> str:
    """The app client the token was issued to. Access tokens have no `aud` (G8)."""
    access_token_ok = faults.on("token-access-token-accepted")
    audience = claims.get("aud")
    if not audience and access_token_ok:
        audience = claims.get("client_id")  # where an access token names its app client
    if not isinstance(audience, str) or not audience:
        raise not_authorized(MISSING_CLAIM.format(claim="aud"))
    if claims.get("token_use", "id") != "id" and not access_token_ok:
        raise not_authorized(NOT_AN_ID_TOKEN)
    return audience


def _provider_for_audience(candidates: Sequence[CognitoProvider], audience: str,
                           faults: Faults) -> CognitoProvider | None:
    """The app client entry the token belongs to: `aud` must be its ClientId (E2)."""
    if not candidates:  # only reachable with token-wrong-issuer-accepted
        return None
    for provider in candidates:
        if provider.client_id in (None, audience):
            return provider
    if faults.on("token-wrong-aud-accepted"):
        return candidates[0]
    raise not_authorized(NOT_A_SUPPORTED_PROVIDER)


def _check_server_side(provider_name: str, claims: Mapping[str, Any]) -> None:
    """ServerSideTokenCheck (E3): ask the user pool whether the token is still good."""
    match = _USER_POOL_PROVIDER.match(provider_name)
    if match is None:
        return  # not a user pool: nothing to ask
    region, user_pool_id = match.groups()
    user_pool = find_user_pool(region, user_pool_id)
    user = None
    if user_pool is not None:
        user = next((u for u in user_pool.users.values() if u.id == claims.get("sub")), None)
    if user is None:
        raise not_authorized(USER_DELETED)
    if not user.enabled:
        raise not_authorized(USER_DISABLED)
    if is_revoked(user_pool_id, str(claims.get("jti", ""))):
        raise not_authorized(TOKEN_REVOKED)


# ---------------------------------------------------------------------------
# Role choice (E5-E10)
# ---------------------------------------------------------------------------


def _as_list(value: Any) -> list[str]:
    """A claim as a list of strings: arrays stay arrays, scalars become one element."""
    if value is None:
        return []
    if isinstance(value, list):
        return [_claim_text(item) for item in value]
    if isinstance(value, str) and "," in value:  # an old-style comma-separated cognito:roles
        return [part.strip() for part in value.split(",") if part.strip()]
    return [_claim_text(value)]


def _claim_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def rule_matches(rule: MappingRule, claims: Mapping[str, Any], faults: Faults) -> bool:
    """E9/E10: does one rule match the token's claims? Arrays match if any element does."""
    if rule.claim not in claims or claims[rule.claim] is None:
        # E9: a missing claim matches nothing, not even NotEqual
        return rule.match_type == "NotEqual" and faults.on("rules-notequal-matches-missing")
    raw = claims[rule.claim]
    values = [_claim_text(v) for v in raw] if isinstance(raw, list) else [_claim_text(raw)]
    match_type = rule.match_type
    if match_type == "Equals" and faults.on("rules-equals-as-contains"):
        match_type = "Contains"
    elif match_type == "Contains" and faults.on("rules-contains-as-equals"):
        match_type = "Equals"
    if match_type == "Equals":
        return rule.value in values
    if match_type == "Contains":
        return any(rule.value in value for value in values)
    if match_type == "StartsWith":
        if faults.on("rules-startswith-ignored"):
            return False
        return any(value.startswith(rule.value) for value in values)
    if match_type == "NotEqual":
        return rule.value not in values
    return False


def _default_authenticated_role(pool: IdentityPool, faults: Faults) -> str:
    """`Roles.authenticated` (E6); a pool without it cannot hand out credentials."""
    kind = "unauthenticated" if faults.on("unauth-role-for-authenticated") else "authenticated"
    role = pool.roles.get(kind)
    if not role:
        raise invalid_configuration()
    return role


def _ambiguous(pool: IdentityPool, mapping: RoleMapping, provider_name: str,
               faults: Faults) -> str:
    """AmbiguousRoleResolution (E7c, E8, E9, E12)."""
    if mapping.ambiguous_role_resolution == "Deny" and not faults.on("token-deny-falls-back"):
        raise not_authorized(AMBIGUOUS_DENIED.format(provider=provider_name))
    return _default_authenticated_role(pool, faults)


def _token_role(pool: IdentityPool, mapping: RoleMapping, login: VerifiedLogin,
                custom_role_arn: str | None, faults: Faults) -> str:
    """Token mapping (E7, E8): CustomRoleArn, else preferred role, else ambiguous."""
    if custom_role_arn:
        allowed = _as_list(login.claims.get("cognito:roles"))
        if custom_role_arn in allowed or faults.on("token-custom-role-unchecked"):
            return custom_role_arn
        raise not_authorized(CUSTOM_ROLE_DENIED)
    preferred = login.claims.get("cognito:preferred_role")
    if isinstance(preferred, str) and preferred and not faults.on("token-preferred-ignored"):
        return preferred
    return _ambiguous(pool, mapping, login.provider_name, faults)


def _rules_role(pool: IdentityPool, mapping: RoleMapping, login: VerifiedLogin,
                faults: Faults) -> str:
    """Rules mapping (E9): the first matching rule wins; none -> ambiguous."""
    matching = [rule for rule in mapping.rules or [] if rule_matches(rule, login.claims, faults)]
    if matching:
        chosen = matching[-1] if faults.on("rules-last-match-wins") else matching[0]
        return chosen.role_arn
    return _ambiguous(pool, mapping, login.provider_name, faults)


def authenticated_role(pool: IdentityPool, login: VerifiedLogin, custom_role_arn: str | None,
                       faults: Faults) -> str:
    """The role an authenticated identity gets (E6-E10).

    CustomRoleArn only counts for Token mappings: the API reference describes it as
    "the role to be assumed when multiple roles were received in the token", so with
    a Rules mapping or no mapping it is ignored (assumed).
    """
    mapping = pool.role_mappings.get(f"{login.provider_name}:{login.client_id}") \
        or pool.role_mappings.get(login.provider_name)
    if mapping is None:
        return _default_authenticated_role(pool, faults)
    if mapping.type == "Token":
        return _token_role(pool, mapping, login, custom_role_arn, faults)
    return _rules_role(pool, mapping, login, faults)


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
        raise invalid_configuration()


# ---------------------------------------------------------------------------
# The emulator's OpenID Connect issuer (C4; verified by STS, C5)
# ---------------------------------------------------------------------------


@cache
def oidc_signing_key() -> rsa.RSAPrivateKey:
    """One RSA key per process: tokens from any emulator in the process verify anywhere in it."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@cache
def oidc_key_id() -> str:
    numbers = oidc_signing_key().public_key().public_numbers()
    return "rolecall-" + hashlib.sha256(str(numbers.n).encode()).hexdigest()[:16]


def oidc_public_key() -> rsa.RSAPublicKey:
    return oidc_signing_key().public_key()


def oidc_jwks() -> dict[str, Any]:
    """The issuer's public keys, as a JWKS document."""
    jwk: dict[str, Any] = jwt.algorithms.RSAAlgorithm.to_jwk(oidc_public_key(), as_dict=True)
    jwk.update({"kid": oidc_key_id(), "alg": "RS256", "use": "sig"})
    return {"keys": [jwk]}


def mint_open_id_token(pool_id: str, identity_id: str, amr: list[str], now: float) -> str:
    """An OIDC token as GetOpenIdToken returns it (C4)."""
    issued = int(now)
    payload = {"iss": OIDC_ISSUER, "aud": pool_id, "sub": identity_id, "amr": amr,
               "iat": issued, "exp": issued + OIDC_TOKEN_SECONDS}
    return jwt.encode(payload, oidc_signing_key(), algorithm="RS256",
                      headers={"kid": oidc_key_id()})


# ---------------------------------------------------------------------------
# The backend: one per region, like moto's
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Grant:
    """What GetCredentialsForIdentity decided: the role, its narrowing, its context."""

    role_arn: str
    session_policies: list[dict[str, Any]]
    context: dict[str, list[str]]


class CognitoIdentityBackend:
    """Identity pools and identities of one region."""

    def __init__(self, region: str) -> None:
        self.region = region
        self.pools: dict[str, IdentityPool] = {}
        self.identities: dict[str, Identity] = {}
        # (pool id, provider name, subject) -> identity id: E1's stable ids
        self._by_login: dict[tuple[str, str, str], str] = {}
        self._lock = threading.RLock()

    # -- pools ---------------------------------------------------------------

    def create_identity_pool(self, settings: PoolSettings, tags: dict[str, str]) -> IdentityPool:
        pool_id = f"{self.region}:{uuid.uuid4()}"
        pool = IdentityPool(pool_id, self.region, settings, dict(tags))
        with self._lock:
            self.pools[pool_id] = pool
        return pool

    def describe_identity_pool(self, pool_id: str) -> IdentityPool:
        with self._lock:
            pool = self.pools.get(pool_id)
        if pool is None:
            raise not_found(f"IdentityPool '{pool_id}' not found.")
        return pool

    def update_identity_pool(self, pool_id: str, settings: PoolSettings,
                             tags: dict[str, str] | None) -> IdentityPool:
        """Replace the whole configuration, as AWS does: what is not given is cleared."""
        with self._lock:
            pool = self.describe_identity_pool(pool_id)
            pool.settings = settings
            if tags is not None:
                pool.tags = dict(tags)
        return pool

    def delete_identity_pool(self, pool_id: str) -> None:
        with self._lock:
            self.describe_identity_pool(pool_id)
            del self.pools[pool_id]
            for identity_id in [i for i, v in self.identities.items()
                                if v.identity_pool_id == pool_id]:
                del self.identities[identity_id]
            for key in [k for k in self._by_login if k[0] == pool_id]:
                del self._by_login[key]

    def list_identity_pools(self, max_results: int,
                            next_token: str | None) -> tuple[list[IdentityPool], str | None]:
        with self._lock:
            pools = list(self.pools.values())
        return _page(pools, [p.identity_pool_id for p in pools], max_results, next_token)

    # -- tags ----------------------------------------------------------------

    def _pool_by_arn(self, arn: str) -> IdentityPool:
        with self._lock:
            pool = next((p for p in self.pools.values() if p.arn == arn), None)
        if pool is None:
            raise not_found(f"Resource '{arn}' not found.")
        return pool

    def tag_resource(self, arn: str, tags: dict[str, str]) -> None:
        with self._lock:
            self._pool_by_arn(arn).tags.update(tags)

    def untag_resource(self, arn: str, keys: list[str]) -> None:
        with self._lock:
            pool = self._pool_by_arn(arn)
            for key in keys:
                pool.tags.pop(key, None)

    def list_tags_for_resource(self, arn: str) -> dict[str, str]:
        return dict(self._pool_by_arn(arn).tags)

    # -- roles (P2, P3) ------------------------------------------------------

    def set_identity_pool_roles(self, pool_id: str, roles: dict[str, str],
                                mappings: dict[str, RoleMapping]) -> None:
        """Validate everything first, then replace roles and mappings at once."""
        with self._lock:
            pool = self.describe_identity_pool(pool_id)
            accepted = pool.mapping_keys()
            for key, mapping in mappings.items():
                if key not in accepted:
                    raise invalid_parameter(NOT_A_CONFIGURED_PROVIDER.format(key=key))
                _validate_mapping(key, mapping)
            pool.roles = dict(roles)
            pool.role_mappings = dict(mappings)

    def get_identity_pool_roles(self, pool_id: str) -> IdentityPool:
        return self.describe_identity_pool(pool_id)

    # -- identities (E1-E4) --------------------------------------------------

    def get_id(self, state: EmulatorState, pool_id: str, logins: dict[str, str]) -> Identity:
        pool = self.describe_identity_pool(pool_id)
        verified = [verify_login(pool, name, token, state) for name, token in logins.items()]
        now = state.clock.now()
        with self._lock:
            if not verified:
                self._require_guests_allowed(pool, state.faults)
                return self._new_identity(pool_id, now)  # every guest GetId is a new identity
            existing = next((self._by_login[k] for k in self._login_keys(pool_id, verified)
                             if k in self._by_login), None)
            identity = self.identities[existing] if existing else self._new_identity(pool_id, now)
            self._link(identity, verified, now)
            return identity

    def describe_identity(self, identity_id: str) -> Identity:
        with self._lock:
            identity = self.identities.get(identity_id)
            if identity is None or identity.identity_pool_id not in self.pools:
                raise not_found(f"Identity '{identity_id}' not found.")
            return identity

    def list_identities(self, pool_id: str, max_results: int,
                        next_token: str | None) -> tuple[list[Identity], str | None]:
        self.describe_identity_pool(pool_id)
        with self._lock:
            identities = [i for i in self.identities.values() if i.identity_pool_id == pool_id]
        return _page(identities, [i.identity_id for i in identities], max_results, next_token)

    def _new_identity(self, pool_id: str, now: float) -> Identity:
        identity = Identity(f"{self.region}:{uuid.uuid4()}", pool_id, now, now)
        self.identities[identity.identity_id] = identity
        return identity

    @staticmethod
    def _login_keys(pool_id: str, logins: Sequence[VerifiedLogin]) -> list[tuple[str, str, str]]:
        return [(pool_id, login.provider_name, login.subject) for login in logins]

    def _link(self, identity: Identity, logins: Sequence[VerifiedLogin], now: float) -> None:
        for login in logins:
            key = (identity.identity_pool_id, login.provider_name, login.subject)
            if key not in self._by_login:
                self._by_login[key] = identity.identity_id
                identity.logins[login.provider_name] = login.subject
                identity.last_modified = now

    @staticmethod
    def _require_guests_allowed(pool: IdentityPool, faults: Faults) -> None:
        """E4: no Logins means a guest, and guests need AllowUnauthenticatedIdentities."""
        if not pool.settings.allow_unauthenticated \
                and not faults.on("guest-allowed-when-disabled"):
            raise not_authorized(UNAUTH_NOT_SUPPORTED)

    def _login_for(self, state: EmulatorState, identity: Identity,
                   logins: dict[str, str]) -> tuple[IdentityPool, VerifiedLogin | None]:
        """The pool and the checked login for a call on an identity (None for a guest)."""
        pool = self.describe_identity_pool(identity.identity_pool_id)
        verified = [verify_login(pool, name, token, state) for name, token in logins.items()]
        with self._lock:
            if not verified:
                if identity.authenticated:
                    raise not_authorized(LOGINS_DONT_MATCH)
                self._require_guests_allowed(pool, state.faults)
                return pool, None
            for key in self._login_keys(pool.identity_pool_id, verified):
                owner = self._by_login.get(key)
                if owner is not None and owner != identity.identity_id:
                    raise not_authorized(
                        IDENTITY_FORBIDDEN.format(identity_id=identity.identity_id))
            self._link(identity, verified, state.clock.now())
        return pool, verified[0]

    # -- credentials (E5-E13) and the classic flow (C1-C4) -------------------

    def get_credentials_for_identity(self, state: EmulatorState, identity_id: str,
                                     logins: dict[str, str],
                                     custom_role_arn: str | None) -> Grant:
        identity = self.describe_identity(identity_id)
        pool, login = self._login_for(state, identity, logins)
        faults = state.faults
        context = trust_context(pool.identity_pool_id, identity_id, login)
        if login is None:  # E5: a guest
            role_arn = pool.roles.get("unauthenticated")
            if not role_arn:
                raise invalid_configuration()
            policies = [] if faults.on("guest-scope-down-skipped") else [UNAUTH_SESSION_POLICY]
        else:
            role_arn = authenticated_role(pool, login, custom_role_arn, faults)
            policies = []
        check_trust(role_arn, context, faults)
        return Grant(role_arn, policies, context)

    def get_open_id_token(self, state: EmulatorState, identity_id: str,
                          logins: dict[str, str]) -> str:
        identity = self.describe_identity(identity_id)
        pool = self.describe_identity_pool(identity.identity_pool_id)
        faults = state.faults
        if pool.settings.allow_classic_flow is False and not faults.on("classic-gate-ignored"):
            raise invalid_parameter(CLASSIC_DISABLED)  # C1; unset is allowed (C2)
        if pool.role_mappings and not faults.on("classic-allowed-with-mappings"):
            raise invalid_parameter(CLASSIC_WITH_MAPPINGS)  # C3
        pool, login = self._login_for(state, identity, logins)
        amr = login.amr if login is not None else ["unauthenticated"]
        return mint_open_id_token(pool.identity_pool_id, identity_id, amr, state.clock.now())


def _validate_mapping(key: str, mapping: RoleMapping) -> None:
    """P3: the shape of one RoleMapping, beyond what the wire types already guarantee."""
    if mapping.type not in ("Token", "Rules"):
        raise invalid_parameter(f"RoleMapping {key}: Type must be Token or Rules.")
    if mapping.ambiguous_role_resolution is None:
        raise invalid_parameter(
            f"RoleMapping {key}: AmbiguousRoleResolution must be specified for type {mapping.type}."
        )
    if mapping.ambiguous_role_resolution not in ("AuthenticatedRole", "Deny"):
        raise invalid_parameter(
            f"RoleMapping {key}: AmbiguousRoleResolution must be AuthenticatedRole or Deny."
        )
    if mapping.type != "Rules":
        return
    if mapping.rules is None:
        raise invalid_parameter(
            f"RoleMapping {key}: RulesConfiguration must be specified for type Rules."
        )
    if not 1 <= len(mapping.rules) <= MAX_RULES:
        raise invalid_parameter(
            f"RoleMapping {key}: RulesConfiguration.Rules must have between 1 and "
            f"{MAX_RULES} rules."
        )
    for rule in mapping.rules:
        if rule.match_type not in ("Equals", "Contains", "StartsWith", "NotEqual"):
            raise invalid_parameter(
                f"RoleMapping {key}: MatchType must be one of Equals, Contains, StartsWith, "
                "NotEqual."
            )


def _page(items: list[Any], ids: list[str], max_results: int,
          next_token: str | None) -> tuple[list[Any], str | None]:
    """One page of `items`; the token is the id of the first item of the next page."""
    start = 0
    if next_token is not None:
        if next_token not in ids:
            raise invalid_parameter("The NextToken is not valid.")
        start = ids.index(next_token)
    end = start + max_results
    return items[start:end], (ids[end] if end < len(items) else None)


_backends: dict[str, CognitoIdentityBackend] = {}
_backends_lock = threading.Lock()


def backend_for(region: str) -> CognitoIdentityBackend:
    """The region's backend (created on first use), shared by every emulator in the process."""
    with _backends_lock:
        if region not in _backends:
            _backends[region] = CognitoIdentityBackend(region)
        return _backends[region]
