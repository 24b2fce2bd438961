"""Login tokens: is a `Logins` entry a valid ID token of a configured provider? (SPEC E2, E3, G8)

Cognito checks each token before GetId, GetCredentialsForIdentity or
GetOpenIdToken uses it: the signature (moto's user pool key), the expiry (on the
issuing user pool's clock), the issuer (a configured provider, named by the
Logins key), the audience (that provider's ClientId), that it is an ID token and
not an access token (G8), and, with ServerSideTokenCheck, that its user was not
signed out, disabled or deleted since (E3). Any failure is NotAuthorizedException.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import jwt
from moto.utilities.utils import load_resource

from rolecall.emulator.cognitoidentity.exceptions import (
    BAD_SIGNATURE,
    ISSUER_MISMATCH,
    MISSING_CLAIM,
    NOT_A_SUPPORTED_PROVIDER,
    NOT_AN_ID_TOKEN,
    TOKEN_EXPIRED,
    TOKEN_REVOKED,
    USER_DELETED,
    USER_DISABLED,
    not_authorized,
)
from rolecall.emulator.cognitoidentity.pools import CognitoProvider, IdentityPool
from rolecall.emulator.cognitoidp.patch import find_user_pool, is_revoked
from rolecall.emulator.faults import Faults
from rolecall.emulator.state import EmulatorState

_USER_POOL_PROVIDER = re.compile(r"^cognito-idp\.([a-z0-9-]+)\.amazonaws\.com/([\w-]+)$")


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



@cache
def _user_pool_public_key() -> Any:
    """The key moto signs every user pool token with (it publishes it as each pool's JWKS)."""
    jwks = load_resource("cognitoidp/resources/jwks-public.json")
    return jwt.PyJWK(jwks["keys"][0], algorithm="RS256").key


def verify_login(pool: IdentityPool, provider_name: str, token: str,
                 state: EmulatorState) -> VerifiedLogin:
    """Check one Logins entry the way Cognito does; NotAuthorizedException when it fails."""
    faults = state.faults
    claims = _unverified_claims(token, faults)
    if not faults.on("token-signature-unchecked") and not _lenient_signature(token, faults):
        _check_signature(token)
    issuer_pool = str(claims.get("iss", "")).rsplit("/", 1)[-1]
    _check_expiry(claims, state.clock.now(scope=issuer_pool), faults)
    candidates = _providers_for(pool, provider_name, claims, faults)
    audience = _audience(claims, faults)
    provider = _provider_for_audience(candidates, audience, faults)
    if provider is not None and provider.server_side_token_check \
            and not faults.on("token-signout-accepted"):
        _check_server_side(provider.provider_name, claims, faults)
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        raise not_authorized(MISSING_CLAIM.format(claim="sub"))
    client_id = provider.client_id if provider is not None and provider.client_id else audience
    return VerifiedLogin(provider_name, client_id, subject, claims)


def _unverified_claims(token: str, faults: Faults) -> dict[str, Any]:
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        if faults.on("token-not-a-jwt-unhandled"):
            raise  # fault: the decoder's error escapes as an internal error
        raise not_authorized(NOT_AN_ID_TOKEN) from None
    return claims


def _lenient_signature(token: str, faults: Faults) -> bool:
    """Near-miss faults: signatures a careless verifier accepts (alg none, HS256, header jwk)."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        return False
    alg = str(header.get("alg", ""))
    if alg.lower() == "none":
        return faults.on("token-alg-none-accepted")
    if alg == "HS256":
        return faults.on("token-hs256-accepted")
    return "jwk" in header and faults.on("token-embedded-jwk-accepted")


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
    leeway = 600 if faults.on("token-exp-leeway") else 0
    if now >= expires + leeway and not faults.on("token-expired-accepted"):
        raise not_authorized(TOKEN_EXPIRED.format(now=int(now), exp=int(expires)))


def _providers_for(pool: IdentityPool, provider_name: str, claims: Mapping[str, Any],
                   faults: Faults) -> list[CognitoProvider]:
    """The pool's app clients for this Logins key; the key must be the token's issuer (with
    several user pools as providers, another pool's key is refused too)."""
    if faults.on("token-logins-key-unchecked"):  # the provider read from the token instead
        provider_name = str(claims.get("iss", "")).removeprefix("https://")
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


def _check_server_side(provider_name: str, claims: Mapping[str, Any], faults: Faults) -> None:
    """ServerSideTokenCheck (E3): ask the user pool whether the token is still good."""
    match = _USER_POOL_PROVIDER.match(provider_name)
    if match is None:
        return  # not a user pool: nothing to ask
    region, user_pool_id = match.groups()
    user_pool = find_user_pool(region, user_pool_id)
    user = None
    if user_pool is not None:
        user = next((u for u in user_pool.users.values() if u.id == claims.get("sub")), None)
    if user is None and not faults.on("token-deleted-accepted"):
        raise not_authorized(USER_DELETED)
    if user is not None and not user.enabled and not faults.on("token-disabled-accepted"):
        raise not_authorized(USER_DISABLED)
    if is_revoked(user_pool_id, str(claims.get("jti", ""))):
        raise not_authorized(TOKEN_REVOKED)
