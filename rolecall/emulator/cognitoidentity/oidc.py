"""The emulator's OpenID Connect issuer: the tokens GetOpenIdToken hands out (SPEC C4).

AWS signs these as https://cognito-identity.amazonaws.com; the emulator signs
them with one RSA key per process and publishes its public half as a JWKS
(`/_rolecall/cognito-identity/.well-known/jwks.json`). STS verifies them with
the same key when the classic flow ends in AssumeRoleWithWebIdentity (C5, C6).
"""

from __future__ import annotations

import hashlib
import threading
from functools import cache
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

OIDC_ISSUER = "https://cognito-identity.amazonaws.com"
# C4: "The OpenID token is valid for 10 minutes."
# (https://docs.aws.amazon.com/cognitoidentity/latest/APIReference/API_GetOpenIdToken.html)
OIDC_TOKEN_SECONDS = 600


_KEY_LOCK = threading.Lock()


@cache
def _generated_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def oidc_signing_key() -> rsa.RSAPrivateKey:
    """One RSA key per process: tokens from any emulator in the process verify anywhere in it.

    Made under a lock: `functools.cache` alone lets two request threads that arrive
    together each generate a key (RSA takes ~0.1 s), so a token signed with the first
    failed verification with the second (InvalidIdentityToken, seen as a flaky classic
    flow in `tox -e aws-realism` at -n 4).
    """
    with _KEY_LOCK:
        return _generated_key()


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


# The claim a web identity token passes session tags in, read by AssumeRoleWithWebIdentity
# (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_session-tags.html, "Passing session
# tags using AssumeRoleWithWebIdentity")
TAGS_CLAIM = "https://aws.amazon.com/tags"


def mint_open_id_token(pool_id: str, identity_id: str, amr: list[str], now: float,
                       tags: dict[str, str] | None = None,
                       lifetime: int = OIDC_TOKEN_SECONDS) -> str:
    """An OIDC token as GetOpenIdToken returns it (C4): valid `lifetime` seconds, ten minutes
    unless a fault says otherwise. Cognito's carries no session tags (A2, assumed); `tags`
    is for the fault tags-on-classic-flow only."""
    issued = int(now)
    payload: dict[str, Any] = {"iss": OIDC_ISSUER, "aud": pool_id, "sub": identity_id,
                               "amr": amr, "iat": issued, "exp": issued + lifetime}
    if tags:
        payload[TAGS_CLAIM] = {"principal_tags": {key: [value] for key, value in tags.items()}}
    return jwt.encode(payload, oidc_signing_key(), algorithm="RS256",
                      headers={"kid": oidc_key_id()})
